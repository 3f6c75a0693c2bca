"""One loaded chat model and what the server asks of it: a chat turn token by token (sampling,
stop strings, finish reason, true token counts). One request at a time: the
model's KV cache is a single sequence, so callers hold `lock`."""

from __future__ import annotations

import codecs
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from unigate.local import weights
from unigate.local.model import Model
from unigate.local.tokenizer import ChatTokenizer


class ContextTooLong(ValueError):
    pass


@dataclass(slots=True)
class Sampling:
    max_tokens: int | None = None  # None: until the end of the context
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Turn:
    """A generation's outcome, filled in as it runs."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"


class Engine:
    def __init__(self, path: str, n_ctx: int) -> None:
        started = time.perf_counter()
        w = weights.load(path)
        self.tokenizer = ChatTokenizer(w.metadata)
        self.model = Model(w, n_ctx)
        self.model_id = Path(path).name.removesuffix(".gguf")
        self.created = int(time.time())
        self.load_seconds = time.perf_counter() - started
        self.lock = threading.Lock()

    def prompt_ids(self, messages: list[dict[str, str]]) -> list[int]:
        ids = self.tokenizer.encode(self.tokenizer.render(messages))
        if len(ids) >= self.model.n_ctx:
            raise ContextTooLong(f"the prompt is {len(ids)} tokens; this model's context is "
                                 f"{self.model.n_ctx} tokens")
        return ids

    def generate(self, ids: list[int], s: Sampling, turn: Turn) -> Iterator[str]:
        """Yields the completion's text as it is decided; `turn` gets the counts. Text that
        might begin a stop string is held back until it is known not to."""
        turn.prompt_tokens = len(ids)
        room = self.model.n_ctx - len(ids)
        limit = room if s.max_tokens is None else min(s.max_tokens, room)
        rng = np.random.default_rng(s.seed)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = ""
        self.model.reset()
        logits = self.model.forward(ids)
        turn.finish_reason = "length"
        while turn.completion_tokens < limit:
            token = _sample(logits, s, rng)
            if token in self.tokenizer.eog_ids:
                turn.finish_reason = "stop"
                break
            turn.completion_tokens += 1
            pending += decoder.decode(self.tokenizer.token_bytes(token))
            cut = _stop_at(pending, s.stop)
            if cut is not None:
                if cut:
                    yield pending[:cut]
                turn.finish_reason = "stop"
                return
            hold = _stop_prefix(pending, s.stop)
            if len(pending) > hold:
                yield pending[: len(pending) - hold]
                pending = pending[len(pending) - hold:]
            if turn.completion_tokens < limit:
                logits = self.model.forward([token])
        pending += decoder.decode(b"", final=True)
        if pending:
            yield pending


def _sample(logits: np.ndarray, s: Sampling, rng: np.random.Generator) -> int:
    if s.temperature <= 0:
        return int(np.argmax(logits))
    z = logits.astype(np.float64) / s.temperature
    z -= z.max()
    p = np.exp(z)
    p /= p.sum()
    if s.top_p < 1.0:
        order = np.argsort(-p)
        keep = order[: int(np.searchsorted(np.cumsum(p[order]), s.top_p)) + 1]
        q = np.zeros_like(p)
        q[keep] = p[keep]
        p = q / q.sum()
    return int(rng.choice(len(p), p=p))


def _stop_at(text: str, stops: list[str]) -> int | None:
    hits = [i for i in (text.find(x) for x in stops) if i >= 0]
    return min(hits) if hits else None


def _stop_prefix(text: str, stops: list[str]) -> int:
    """How many trailing characters of `text` could be the start of a stop string."""
    best = 0
    for x in stops:
        for n in range(min(len(x) - 1, len(text)), best, -1):
            if text.endswith(x[:n]):
                best = n
                break
    return best
