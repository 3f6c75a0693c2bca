"""The model's tokenizer and chat template, rebuilt from the GGUF file's own metadata: GPT-2
style byte-level BPE (the `tokenizers` library) and the Jinja chat template it carries."""

from __future__ import annotations

from typing import Any

from jinja2.sandbox import ImmutableSandboxedEnvironment
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers

# Pre-tokenizer regexes by `tokenizer.ggml.pre`, as llama.cpp splits them.
_GPT2_WORDS = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
# The pre-tokenizers rebuilt here; others split text differently and are refused, not guessed.
_SPLIT_DIGITS = {"smollm"}
_PRE_TYPES = {"smollm", "gpt-2", "default"}
_CONTROL, _USER_DEFINED = 3, 4


class ChatTokenizer:
    def __init__(self, meta: dict[str, Any]) -> None:
        model = meta.get("tokenizer.ggml.model")
        if model != "gpt2":
            raise ValueError(f"tokenizer {model!r} is not supported (only gpt2-style BPE)")
        pre = meta.get("tokenizer.ggml.pre", "default")
        if pre not in _PRE_TYPES:
            raise ValueError(f"pre-tokenizer {pre!r} is not supported (only {', '.join(sorted(_PRE_TYPES))})")
        tokens: list[str] = list(meta["tokenizer.ggml.tokens"])
        types: list[int] = list(meta.get("tokenizer.ggml.token_type") or [1] * len(tokens))
        merges = [tuple(m.split(" ", 1)) for m in meta["tokenizer.ggml.merges"]]
        vocab = {t: i for i, t in enumerate(tokens)}
        tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False))
        steps: list[Any] = []
        if pre in _SPLIT_DIGITS:
            steps.append(pre_tokenizers.Split(Regex(r"\p{N}"), behavior="isolated"))
        steps.append(pre_tokenizers.Split(Regex(_GPT2_WORDS), behavior="isolated"))
        steps.append(pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False))
        tok.pre_tokenizer = pre_tokenizers.Sequence(steps)
        tok.decoder = decoders.ByteLevel()
        special = [t for t, ty in zip(tokens, types, strict=True) if ty in (_CONTROL, _USER_DEFINED)]
        tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in special])
        self._tok = tok
        self._control_ids = {i for i, ty in enumerate(types) if ty == _CONTROL}
        self.eos_id = int(meta.get("tokenizer.ggml.eos_token_id", -1))
        self.bos_id = int(meta.get("tokenizer.ggml.bos_token_id", -1))
        self.add_bos = bool(meta.get("tokenizer.ggml.add_bos_token", False))
        # End-of-generation: EOS, EOT and the control tokens that close a chat turn.
        self.eog_ids = {self.eos_id}
        for key in ("tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"):
            if key in meta:
                self.eog_ids.add(int(meta[key]))
        for name in ("<|im_end|>", "<|eot_id|>", "<|endoftext|>", "<|end|>"):
            if name in vocab:
                self.eog_ids.add(vocab[name])
        self.bos_token = tokens[self.bos_id] if 0 <= self.bos_id < len(tokens) else ""
        self.eos_token = tokens[self.eos_id] if 0 <= self.eos_id < len(tokens) else ""
        template = meta.get("tokenizer.chat_template")
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        self._template = env.from_string(template) if template else None

    def encode(self, text: str) -> list[int]:
        ids = self._tok.encode(text, add_special_tokens=False).ids
        return [self.bos_id, *ids] if self.add_bos and self.bos_id >= 0 else ids

    def token_bytes(self, token: int) -> bytes:
        """One token's bytes (a token may hold part of a UTF-8 character)."""
        if token in self._control_ids:
            return b""  # control tokens (turn markers) are not text
        return bytes(_BYTE_DECODER[c] for c in self._tok.id_to_token(token) or "" if c in _BYTE_DECODER)

    def render(self, messages: list[dict[str, str]]) -> str:
        if self._template is None:  # no template: plain role lines
            return "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"
        return self._template.render(messages=messages, add_generation_prompt=True,
                                     bos_token=self.bos_token, eos_token=self.eos_token)


def _bytes_to_unicode() -> dict[str, int]:
    """GPT-2's map from the printable stand-ins back to the bytes they encode."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) \
        + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs, strict=True)}


_BYTE_DECODER = _bytes_to_unicode()
