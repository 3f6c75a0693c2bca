"""Reading a llama-architecture GGUF file into float32 numpy arrays (dequantized once at load)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize


@dataclass(slots=True)
class Hyper:
    """The shape of the network, from the file's `llama.*` metadata."""

    n_layer: int
    n_embd: int
    n_head: int
    n_head_kv: int
    n_ctx_train: int
    rope_base: float
    rms_eps: float

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head


@dataclass(slots=True)
class Layer:
    attn_norm: np.ndarray
    wqkv: np.ndarray  # (n_embd, q + k + v): one matmul for the three projections
    wo: np.ndarray
    ffn_norm: np.ndarray
    w_gate_up: np.ndarray  # (n_embd, 2 * n_ff)
    w_down: np.ndarray


@dataclass(slots=True)
class Weights:
    hyper: Hyper
    token_embd: np.ndarray  # (n_vocab, n_embd)
    layers: list[Layer]
    output_norm: np.ndarray
    output: np.ndarray  # (n_vocab, n_embd): the output head (tied: token_embd itself, no copy)
    metadata: dict[str, Any]


def _field(reader: GGUFReader, key: str, default: Any = None) -> Any:
    f = reader.fields.get(key)
    return default if f is None else f.contents()


def read_metadata(reader: GGUFReader) -> dict[str, Any]:
    """The scalar and list fields the tokenizer and the server need, by key."""
    keys = [k for k in reader.fields if not k.startswith("GGUF.")]
    return {k: _field(reader, k) for k in keys}


def load(path: str) -> Weights:
    reader = GGUFReader(path)
    arch = _field(reader, "general.architecture")
    if arch != "llama":
        raise ValueError(f"{path}: architecture {arch!r} is not supported (only llama)")
    p = "llama."
    hyper = Hyper(
        n_layer=int(_field(reader, p + "block_count")),
        n_embd=int(_field(reader, p + "embedding_length")),
        n_head=int(_field(reader, p + "attention.head_count")),
        n_head_kv=int(_field(reader, p + "attention.head_count_kv")),
        n_ctx_train=int(_field(reader, p + "context_length", 2048)),
        rope_base=float(_field(reader, p + "rope.freq_base", 10000.0)),
        rms_eps=float(_field(reader, p + "attention.layer_norm_rms_epsilon", 1e-5)),
    )
    tensors = {t.name: t for t in reader.tensors}

    def get(name: str) -> np.ndarray:
        t = tensors[name]
        # GGUF lists dimensions innermost first; the array comes back as (out, in).
        return np.ascontiguousarray(dequantize(t.data, t.tensor_type), dtype=np.float32)

    def t_(name: str) -> np.ndarray:
        return np.ascontiguousarray(get(name).T)

    layers = []
    for i in range(hyper.n_layer):
        b = f"blk.{i}."
        layers.append(Layer(
            attn_norm=get(b + "attn_norm.weight"),
            wqkv=np.ascontiguousarray(np.concatenate(
                [t_(b + "attn_q.weight"), t_(b + "attn_k.weight"), t_(b + "attn_v.weight")], axis=1)),
            wo=t_(b + "attn_output.weight"),
            ffn_norm=get(b + "ffn_norm.weight"),
            w_gate_up=np.ascontiguousarray(np.concatenate(
                [t_(b + "ffn_gate.weight"), t_(b + "ffn_up.weight")], axis=1)),
            w_down=t_(b + "ffn_down.weight"),
        ))
    token_embd = get("token_embd.weight")
    # Tied embeddings (SmolLM2): the output head is the token embedding matrix.
    output = get("output.weight") if "output.weight" in tensors else token_embd
    return Weights(hyper=hyper, token_embd=token_embd, layers=layers,
                   output_norm=get("output_norm.weight"),
                   output=output, metadata=read_metadata(reader))
