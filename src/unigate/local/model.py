"""The llama forward pass in numpy, with a KV cache: prefill a prompt, then decode a token at
a time. Rotary embeddings pair adjacent dimensions, as GGUF's converted q/k weights expect."""

from __future__ import annotations

import numpy as np

from unigate.local.weights import Weights


def _rms_norm(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    return (x * (1.0 / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps))) * w


class Model:
    def __init__(self, weights: Weights, n_ctx: int) -> None:
        self.w = weights
        h = weights.hyper
        self.n_ctx = min(n_ctx, h.n_ctx_train)
        self.n_vocab = weights.token_embd.shape[0]
        hd = h.head_dim
        inv = 1.0 / (h.rope_base ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
        ang = np.outer(np.arange(self.n_ctx, dtype=np.float64), inv)  # (n_ctx, hd/2)
        self._cos = np.cos(ang).astype(np.float32)
        self._sin = np.sin(ang).astype(np.float32)
        shape = (h.n_layer, h.n_head_kv, self.n_ctx, hd)
        self._k = np.zeros(shape, dtype=np.float32)
        self._v = np.zeros(shape, dtype=np.float32)
        self.n_past = 0

    def reset(self) -> None:
        self.n_past = 0

    def _rope(self, x: np.ndarray, pos: slice) -> np.ndarray:
        # x: (heads, T, hd); rotate each (even, odd) pair by its position's angle.
        cos, sin = self._cos[pos], self._sin[pos]
        x0, x1 = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = x0 * cos - x1 * sin
        out[..., 1::2] = x0 * sin + x1 * cos
        return out

    def forward(self, tokens: list[int]) -> np.ndarray:
        """Runs `tokens` after the cached ones. Returns the last token's logits."""
        h = self.w.hyper
        n = len(tokens)
        start = self.n_past
        if start + n > self.n_ctx:
            raise ValueError(f"context full: {start + n} tokens > n_ctx {self.n_ctx}")
        hd, nh, nkv = h.head_dim, h.n_head, h.n_head_kv
        group = nh // nkv
        pos = slice(start, start + n)
        x = self.w.token_embd[np.asarray(tokens)]
        scale = np.float32(1.0 / np.sqrt(hd))
        # Causal mask within the new tokens; everything cached before them is visible.
        mask = np.triu(np.full((n, n), -np.inf, dtype=np.float32), k=1)
        for li, layer in enumerate(self.w.layers):
            a = _rms_norm(x, layer.attn_norm, h.rms_eps) @ layer.wqkv
            q = a[:, : nh * hd].reshape(n, nh, hd).transpose(1, 0, 2)
            k = a[:, nh * hd: (nh + nkv) * hd].reshape(n, nkv, hd).transpose(1, 0, 2)
            v = a[:, (nh + nkv) * hd:].reshape(n, nkv, hd).transpose(1, 0, 2)
            self._k[li, :, pos] = self._rope(k, pos)
            self._v[li, :, pos] = v
            q = self._rope(q, pos).reshape(nkv, group * n, hd)  # q heads grouped by kv head
            keys = self._k[li, :, : start + n]  # (nkv, S, hd)
            vals = self._v[li, :, : start + n]
            s = (q @ keys.transpose(0, 2, 1)) * scale  # (nkv, group*n, S)
            s = s.reshape(nkv, group, n, start + n)
            s[..., start:] += mask
            s -= s.max(axis=-1, keepdims=True)
            np.exp(s, out=s)
            s /= s.sum(axis=-1, keepdims=True)
            o = s.reshape(nkv, group * n, start + n) @ vals  # (nkv, group*n, hd)
            o = o.reshape(nh, n, hd).transpose(1, 0, 2).reshape(n, nh * hd)
            x = x + o @ layer.wo
            f = _rms_norm(x, layer.ffn_norm, h.rms_eps) @ layer.w_gate_up
            n_ff = f.shape[1] // 2
            g, u = f[:, :n_ff], f[:, n_ff:]
            x = x + ((g / (1.0 + np.exp(-g))) * u) @ layer.w_down
        self.n_past = start + n
        return self.w.output @ _rms_norm(x[-1:], self.w.output_norm, h.rms_eps)[0]
