"""The `local` provider's pieces that need no model: its configuration options, the command
that starts its model server, and the engine's sampling and stop-string rules."""

from __future__ import annotations

import numpy as np
import pytest

from unigate.config import ConfigError, parse_config
from unigate.local.engine import Sampling, _sample, _stop_at, _stop_prefix
from unigate.local.fetch import VERSION, default_model_path
from unigate.local.process import server_command, server_env
from unigate.providers import build_provider


def _cfg(**options: object) -> dict[str, object]:
    return {"providers": [{"name": "l", "type": "local", **options}],
            "endpoints": [{"name": "e", "destinations": [{"provider": "l", "model": "m"}]}]}


def test_options_are_parsed_and_checked() -> None:
    c = parse_config(_cfg(threads=2, context_size=1024, base_url="http://127.0.0.1:9123/v1"))
    p = c.providers["l"]
    assert p.options == {"threads": 2, "context_size": 1024} and p.base_url.endswith(":9123/v1")
    assert parse_config(_cfg()).providers["l"].base_url == "http://127.0.0.1:8091/v1"
    for bad, said in (({"threads": 0}, "threads: must be an integer"),
                      ({"context_size": "big"}, "context_size: must be an integer"),
                      ({"model_path": "model.bin"}, "model_path: must be the path of a .gguf file")):
        with pytest.raises(ConfigError, match=said):
            parse_config(_cfg(**bad))
    with pytest.raises(ConfigError, match="unknown field 'threads'"):  # other types: not theirs
        parse_config({"providers": [{"name": "o", "type": "openai", "threads": 2}], "endpoints": []})


def test_a_missing_model_file_is_the_502s_reason() -> None:
    p = build_provider(parse_config(_cfg(model_path="/nope/m.gguf")).providers["l"])
    assert p.missing_key == "provider 'l': model_path /nope/m.gguf is not a file"
    p.missing_key = None  # what the snapshot sets for a type that needs no key
    assert p.missing_key is not None


def test_server_command_and_threads() -> None:
    cfg = parse_config(_cfg(threads=3, context_size=512, base_url="http://127.0.0.1:9124/v1")).providers["l"]
    cmd = server_command(cfg, 42)
    assert cmd[1:3] == ["-m", "unigate.local.server"]
    assert cmd[cmd.index("--port") + 1] == "9124" and cmd[cmd.index("--parent") + 1] == "42"
    assert cmd[cmd.index("--context-size") + 1] == "512" and "--model" not in cmd  # the default
    assert server_env(cfg)["OPENBLAS_NUM_THREADS"] == "3"
    assert server_env(parse_config(_cfg()).providers["l"])["OPENBLAS_NUM_THREADS"] == "1"
    assert VERSION in str(default_model_path())  # the cache is keyed by the weights' version


def test_stop_strings() -> None:
    assert _stop_at("Hello, Paris!", ["Paris", "!"]) == 7
    assert _stop_at("Hello", ["Paris"]) is None
    assert _stop_prefix("Hello, Pa", ["Paris"]) == 2  # "Pa" held back: it may begin "Paris"
    assert _stop_prefix("Hello, P", ["Paris", "Pz"]) == 1
    assert _stop_prefix("Hello", ["Paris"]) == 0


def test_sampling() -> None:
    rng = np.random.default_rng(0)
    logits = np.array([0.0, 5.0, 1.0, 4.9], dtype=np.float32)
    assert _sample(logits, Sampling(temperature=0), rng) == 1  # greedy
    # top_p keeps the smallest set whose mass reaches it: the two near-equal tokens here
    picks = {_sample(logits, Sampling(temperature=1.0, top_p=0.9), rng) for _ in range(200)}
    assert picks == {1, 3}
    seeded = [_sample(logits, Sampling(temperature=1.0), np.random.default_rng(7)) for _ in range(2)]
    assert seeded[0] == seeded[1]


def test_without_the_extra_the_reason_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from unigate.providers import local
    real = importlib.util.find_spec
    monkeypatch.setattr(local.importlib.util, "find_spec",
                        lambda name, *a: None if name == "gguf" else real(name, *a))
    p = build_provider(parse_config(_cfg()).providers["l"])
    assert p.missing_key == ("provider 'l' runs a local model, which needs the `local` extra "
                             "(module gguf is missing): pip install 'unigate[local]'")


class _DeadProc:
    """A server process that has exited."""
    pid = 4242

    def poll(self) -> int:
        return 1

    def wait(self, timeout: float) -> int:
        return 1


def test_a_dead_model_server_is_started_again_backing_off_while_it_keeps_dying(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from unigate.local import process
    launched: list[float] = []

    def launch(name: str, cfg: object) -> _DeadProc:
        launched.append(now)
        return _DeadProc()
    monkeypatch.setattr(process, "_launch", launch)
    cfg = parse_config(_cfg()).providers["l"]
    models = process.LocalModels()
    now = 0.0
    server = process._Server("l", cfg, _DeadProc(), started=0.0)  # type: ignore[arg-type]
    models.servers.append(server)
    # it dies again and again right after each start: 1 s, 2 s, 5 s ... apart, at most a minute
    # (plus the half second tick in which the watcher finds it dead)
    while now < 400:
        models._look_after(server, now)
        now += 0.5
    gaps = [b - a for a, b in zip(launched, launched[1:], strict=False)]
    assert launched[0] == 1.0 and gaps[:5] == [2.5, 5.5, 10.5, 30.5, 60.5] and set(gaps[5:]) == {60.5}
    # one that ran for over a minute before it died is started again at once
    server.started, server.retry_at = now - 120, None
    count = len(launched)
    models._look_after(server, now)
    assert len(launched) == count + 1 and server.crashes == 0
    models.stop()
    models._look_after(server, now + 100)  # after stop: the list is empty, nothing looked after
    assert models.servers == []


def test_erf_is_the_exact_one_to_float32_precision() -> None:
    import math

    from unigate.local.embedder import _erf
    xs = np.linspace(-6, 6, 2001)
    assert float(np.max(np.abs(_erf(xs) - np.array([math.erf(x) for x in xs])))) < 2e-7


def test_safetensors_are_read_by_their_header(tmp_path: object) -> None:
    import json
    import struct
    from pathlib import Path

    from unigate.local.embedder import read_safetensors
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([1.5, -2.0], dtype=np.float16)
    header = {"__metadata__": {"format": "pt"},
              "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
              "b": {"dtype": "F16", "shape": [2], "data_offsets": [24, 28]}}
    raw = json.dumps(header).encode()
    path = Path(str(tmp_path)) / "m.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + a.tobytes() + b.tobytes())
    t = read_safetensors(path)
    assert set(t) == {"a", "b"} and t["a"].tolist() == a.tolist() and t["b"].dtype == np.float32
    assert t["b"].tolist() == [1.5, -2.0]
