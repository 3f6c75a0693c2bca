"""The local embedding model: a BERT sentence encoder (all-MiniLM-L6-v2 by default) in numpy,
read from a sentence-transformers directory (model.safetensors, tokenizer.json, config.json,
and where present 1_Pooling/config.json and sentence_bert_config.json).

The forward pass is the BERT encoder (post-LayerNorm, exact-erf GELU), then the pooling the
directory names (mean over the tokens, or the [CLS] token) and L2 normalisation, as
sentence-transformers computes it. Each input is encoded alone, so no padding or mask."""

from __future__ import annotations

import json
import mmap
import struct
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


class InputTooLong(ValueError):
    pass


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """A safetensors file's tensors as float32 arrays (its layout: an 8-byte little-endian
    header length, a JSON header of name -> dtype, shape, byte offsets, then the data)."""
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        (n,) = struct.unpack("<Q", m[:8])
        header = json.loads(m[8:8 + n])
        out: dict[str, np.ndarray] = {}
        for name, t in header.items():
            if name == "__metadata__" or t["dtype"] not in _DTYPES:
                continue
            start, end = t["data_offsets"]
            raw = np.frombuffer(m[8 + n + start:8 + n + end], dtype=_DTYPES[t["dtype"]])
            out[name] = raw.reshape(t["shape"]).astype(np.float32) if t["dtype"] != "I64" else raw
        return out


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to 1.5e-7 (Abramowitz and Stegun 7.1.26): numpy has none, and BERT's GELU is the
    exact one, not the tanh approximation."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / np.float32(np.sqrt(2.0))))


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def _read_json(path: Path, default: dict[str, Any]) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else default


class Embedder:
    def __init__(self, directory: str | Path) -> None:
        started = time.perf_counter()
        d = Path(directory)
        cfg = _read_json(d / "config.json", {})
        if cfg.get("model_type") != "bert":
            raise ValueError(f"{d}: not a BERT model (config.json model_type is {cfg.get('model_type')!r})")
        from tokenizers import Tokenizer
        self.tokenizer = Tokenizer.from_file(str(d / "tokenizer.json"))
        self.tokenizer.no_truncation()  # an input longer than the model takes is refused, not cut
        self.tokenizer.no_padding()
        cls, sep = self.tokenizer.token_to_id("[CLS]"), self.tokenizer.token_to_id("[SEP]")
        if cls is None or sep is None:
            raise ValueError(f"{d}: the tokenizer has no [CLS] and [SEP] tokens")
        self.cls_id, self.sep_id = cls, sep
        self.heads, self.eps = int(cfg["num_attention_heads"]), float(cfg.get("layer_norm_eps", 1e-12))
        self.max_tokens = min(int(_read_json(d / "sentence_bert_config.json", {}).get("max_seq_length", 512)),
                              int(cfg.get("max_position_embeddings", 512)))
        pooling = _read_json(d / "1_Pooling" / "config.json", {"pooling_mode_mean_tokens": True})
        self.cls_pooling = bool(pooling.get("pooling_mode_cls_token"))
        self.w = read_safetensors(d / "model.safetensors")
        self.w = {k.removeprefix("bert."): v for k, v in self.w.items()}  # some files prefix every name
        self.layers = int(cfg["num_hidden_layers"])
        self.dimensions = int(cfg["hidden_size"])
        self.model_id = d.name if d.name != "model" else d.parent.name
        self.created = int(time.time())
        self.load_seconds = time.perf_counter() - started
        self.lock = threading.Lock()

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text).ids)

    def embed(self, text_or_ids: str | list[int]) -> tuple[list[float], int]:
        """One input's embedding and its token count ([CLS] and [SEP] included)."""
        if isinstance(text_or_ids, str):
            if not text_or_ids:
                raise ValueError("input must not be empty")
            ids = self.encode(text_or_ids)
        else:  # token ids of this model's vocabulary, framed as the tokenizer would
            if not text_or_ids:
                raise ValueError("input must not be empty")
            ids = [self.cls_id, *text_or_ids, self.sep_id]
            vocab = self.w["embeddings.word_embeddings.weight"].shape[0]
            if any(not 0 <= t < vocab for t in ids):
                raise ValueError(f"token ids must be from 0 to {vocab - 1}")
        if len(ids) > self.max_tokens:
            raise InputTooLong(f"an input is {len(ids)} tokens; this model takes at most {self.max_tokens}")
        h = self._forward(ids)
        v = h[0] if self.cls_pooling else h.mean(axis=0)
        norm = float(np.linalg.norm(v)) or 1.0
        return (v / norm).astype(np.float32).tolist(), len(ids)

    def _forward(self, ids: list[int]) -> np.ndarray:
        w, n = self.w, len(ids)
        e = "embeddings."
        x = (w[e + "word_embeddings.weight"][ids] + w[e + "position_embeddings.weight"][:n]
             + w[e + "token_type_embeddings.weight"][0])
        x = _layer_norm(x, w[e + "LayerNorm.weight"], w[e + "LayerNorm.bias"], self.eps)
        hd = self.dimensions // self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def dense(name: str, h: np.ndarray, p: str = p) -> np.ndarray:
                return h @ w[p + name + ".weight"].T + w[p + name + ".bias"]
            q, k, v = (dense(f"attention.self.{m}", x).reshape(n, self.heads, hd).transpose(1, 0, 2)
                       for m in ("query", "key", "value"))
            scores = q @ k.transpose(0, 2, 1) / np.float32(np.sqrt(hd))
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            attn = (scores / scores.sum(axis=-1, keepdims=True)) @ v
            a = dense("attention.output.dense", attn.transpose(1, 0, 2).reshape(n, self.dimensions))
            x = _layer_norm(a + x, w[p + "attention.output.LayerNorm.weight"],
                            w[p + "attention.output.LayerNorm.bias"], self.eps)
            f = dense("output.dense", _gelu(dense("intermediate.dense", x)))
            x = _layer_norm(f + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self.eps)
        return x
