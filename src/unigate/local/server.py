"""The model server: an OpenAI-compatible HTTP surface over a chat Engine and an Embedder
(stdlib http.server, one thread per connection, one generation at a time). It binds its port
at once and loads the models in the background; requests that arrive meanwhile wait for them.

    python -m unigate.local.server [--model FILE] [--embedding-model DIR] [--host 127.0.0.1]
                                   [--port 8091] [--context-size 2048]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger("unigate.local")

LOAD_WAIT = 300.0  # seconds a request waits for the model to finish loading


class BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None, code: str | None = None,
                 status: int = 400) -> None:
        super().__init__(message)
        self.param, self.code, self.status = param, code, status


class Slot:
    """One model of the server: loaded in the background, waited for by the requests that need it."""

    def __init__(self, what: str, path: str | None) -> None:
        self.what, self.path = what, path
        self.model: Any = None
        self.error: str | None = None
        self.ready = threading.Event()

    def load(self, build: Any, default: Any) -> None:
        try:
            if self.path is None:  # the default model: its weights fetched into the cache once
                self.path = str(default())
            self.model = build(self.path)
            log.info("local %s %s loaded in %.1fs", self.what, self.model.model_id, self.model.load_seconds)
        except Exception as e:  # said on /health and to every request, never a traceback
            self.error = f"the local {self.what} could not be loaded from {self.path}: {e}"
            log.error("%s", self.error)
        finally:
            self.ready.set()

    def get(self) -> Any:
        if not self.ready.wait(LOAD_WAIT):
            raise BadRequest(f"the local {self.what} is still loading", status=503)
        if self.model is None:
            raise BadRequest(self.error or f"the local {self.what} is not loaded", status=503)
        return self.model


class State:
    def __init__(self, path: str | None, n_ctx: int, embedding_path: str | None = None) -> None:
        self.n_ctx = n_ctx
        self.chat = Slot("model", path)
        self.embeddings = Slot("embedding model", embedding_path)

    def load(self) -> None:
        """The chat model first (what a first request most likely wants), then the embedder."""
        from unigate.local import fetch
        from unigate.local.embedder import Embedder
        from unigate.local.engine import Engine
        self.chat.load(lambda p: Engine(p, self.n_ctx), fetch.fetch)
        self.embeddings.load(Embedder, lambda: fetch.fetch(fetch.EMBEDDINGS))


def _text(content: Any, where: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for i, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise BadRequest(f"{where}[{i}]: this model reads text only (parts of type 'text')",
                                 param=where)
            parts.append(part["text"])
        return "".join(parts)
    raise BadRequest(f"{where}: must be a string or a list of text parts", param=where)


def _messages(body: dict[str, Any]) -> list[dict[str, str]]:
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise BadRequest("messages: must be a non-empty list", param="messages")
    out = []
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise BadRequest(f"messages[{i}]: must be an object with a role", param="messages")
        role = "system" if m["role"] == "developer" else m["role"]
        if role not in ("system", "user", "assistant"):
            raise BadRequest(f"messages[{i}].role: '{m['role']}' is not supported by this model "
                             "(it has no tools)", param="messages")
        out.append({"role": role, "content": _text(m.get("content"), f"messages[{i}].content")})
    return out


def _number(body: dict[str, Any], key: str, default: float, lo: float, hi: float) -> float:
    v = body.get(key)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
        raise BadRequest(f"{key}: must be a number from {lo:g} to {hi:g}", param=key)
    return float(v)


def _sampling(body: dict[str, Any]) -> Any:
    from unigate.local.engine import Sampling
    if body.get("tools") or body.get("functions"):
        raise BadRequest("tools: this local model does not support tool calls", param="tools")
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") not in (None, "text"):
        raise BadRequest("response_format: this local model supports only text output",
                         param="response_format")
    n = body.get("n", 1)
    if n != 1:
        raise BadRequest("n: this local model returns one choice", param="n")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
                                   or max_tokens < 1):
        raise BadRequest("max_tokens: must be a positive integer", param="max_tokens")
    stop = body.get("stop") or []
    if isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list) or not all(isinstance(x, str) and x for x in stop) or len(stop) > 4:
        raise BadRequest("stop: must be a string or a list of up to 4 non-empty strings", param="stop")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise BadRequest("seed: must be an integer", param="seed")
    return Sampling(max_tokens=max_tokens, temperature=_number(body, "temperature", 1.0, 0, 2),
                    top_p=_number(body, "top_p", 1.0, 0, 1), seed=seed, stop=stop)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "unigate-local"
    state: State  # set on the class by serve()

    def log_message(self, format: str, *args: Any) -> None:  # the gateway logs requests
        return

    # --- plumbing ---------------------------------------------------------------------------
    def _send(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, e: BadRequest) -> None:
        kind = "invalid_request_error" if e.status < 500 else "server_error"
        self._send(e.status, {"error": {"message": str(e), "type": kind, "param": e.param,
                                        "code": e.code}})

    def _body(self) -> dict[str, Any]:
        n = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(n) or b"null")
        except ValueError:
            raise BadRequest("the body is not valid JSON") from None
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object")
        return body

    def _chunk(self, event: dict[str, Any] | str) -> None:
        line = f"data: {event if isinstance(event, str) else json.dumps(event)}\n\n".encode()
        self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
        self.wfile.flush()

    # --- routes -----------------------------------------------------------------------------
    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        st = self.state
        if path == "/health":  # ok once the chat model answers; the embedder's state beside it
            slots = {"model": st.chat, "embedding_model": st.embeddings}
            report: dict[str, Any] = {"status": "ok" if st.chat.model is not None else
                                      "error" if st.chat.error else "loading"}
            for key, slot in slots.items():
                report[key] = slot.model.model_id if slot.model is not None else None
                if slot.error:
                    report[f"{key}_error"] = slot.error
            self._send(200 if st.chat.model is not None else 503, report)
        elif path == "/v1/models":
            try:
                models = [st.chat.get(), st.embeddings.get()]
            except BadRequest as err:
                return self._error(err)
            self._send(200, {"object": "list", "data": [
                {"id": m.model_id, "object": "model", "created": m.created, "owned_by": "local"} for m in models]})
        else:
            self._error(BadRequest(f"no route GET {path}", status=404))

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        try:
            body = self._body()
            if path == "/v1/chat/completions":
                return self._chat(body)
            if path == "/v1/embeddings":
                return self._embeddings(body)
            raise BadRequest(f"no route POST {path}", status=404)
        except BadRequest as e:
            self._error(e)

    def _chat(self, body: dict[str, Any]) -> None:
        from unigate.local.engine import ContextTooLong, Turn
        messages, sampling = _messages(body), _sampling(body)
        stream = body.get("stream") is True
        opts = body.get("stream_options") or {}
        include_usage = isinstance(opts, dict) and opts.get("include_usage") is True
        engine = self.state.chat.get()
        turn = Turn()
        cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        base = {"id": cid, "created": created, "model": engine.model_id}
        with engine.lock:
            try:
                ids = engine.prompt_ids(messages)
            except ContextTooLong as e:
                raise BadRequest(str(e), param="messages", code="context_length_exceeded") from None
            pieces = engine.generate(ids, sampling, turn)
            if not stream:
                text = "".join(pieces)
                return self._send(200, {**base, "object": "chat.completion", "choices": [{
                    "index": 0, "message": {"role": "assistant", "content": text},
                    "finish_reason": turn.finish_reason, "logprobs": None}],
                    "usage": _usage(turn)})
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = {**base, "object": "chat.completion.chunk"}
            self._chunk({**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                               "finish_reason": None}]})
            for piece in pieces:
                self._chunk({**chunk, "choices": [{"index": 0, "delta": {"content": piece},
                                                   "finish_reason": None}]})
            self._chunk({**chunk, "choices": [{"index": 0, "delta": {},
                                               "finish_reason": turn.finish_reason}]})
            if include_usage:
                self._chunk({**chunk, "choices": [], "usage": _usage(turn)})
            self._chunk("[DONE]")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    def _embeddings(self, body: dict[str, Any]) -> None:
        from unigate.local.embedder import InputTooLong
        raw = body.get("input")
        if isinstance(raw, str) or (isinstance(raw, list) and raw and all(isinstance(t, int) for t in raw)):
            inputs: list[Any] = [raw]
        elif isinstance(raw, list) and raw and all(
                isinstance(x, str) or (isinstance(x, list) and all(isinstance(t, int) for t in x)) for x in raw):
            inputs = raw
        else:
            raise BadRequest("input: must be a string, a list of strings or token arrays", param="input")
        if body.get("dimensions") is not None:
            raise BadRequest("dimensions: this local model has a fixed embedding size", param="dimensions")
        fmt = body.get("encoding_format") or "float"
        if fmt not in ("float", "base64"):
            raise BadRequest("encoding_format: must be float or base64", param="encoding_format")
        embedder = self.state.embeddings.get()
        data, total = [], 0
        with embedder.lock:
            for i, item in enumerate(inputs):
                try:
                    vec, n = embedder.embed(item)
                except InputTooLong as e:
                    raise BadRequest(f"input[{i}]: {e}", param="input", code="context_length_exceeded") from None
                except ValueError as e:
                    raise BadRequest(f"input[{i}]: {e}", param="input") from None
                total += n
                data.append({"object": "embedding", "index": i, "embedding": _encode(vec, fmt)})
        self._send(200, {"object": "list", "data": data, "model": embedder.model_id,
                         "usage": {"prompt_tokens": total, "total_tokens": total}})


def _usage(turn: Any) -> dict[str, int]:
    return {"prompt_tokens": turn.prompt_tokens, "completion_tokens": turn.completion_tokens,
            "total_tokens": turn.prompt_tokens + turn.completion_tokens}


def _encode(vec: list[float], fmt: str) -> Any:
    if fmt == "float":
        return vec
    import base64

    import numpy as np
    return base64.b64encode(np.asarray(vec, dtype="<f4").tobytes()).decode()


def _watch_parent(parent: int) -> None:
    """A managed server ends with the gateway that started it, however that one ended."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def serve(path: str | None, host: str, port: int, n_ctx: int, parent: int | None = None,
          embedding_path: str | None = None) -> None:
    state = State(path, n_ctx, embedding_path)
    Handler.state = state
    httpd = ThreadingHTTPServer((host, port), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=state.load, daemon=True).start()
    if parent is not None:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    log.info("local model server on http://%s:%d/v1", host, port)
    try:
        httpd.serve_forever()
    finally:
        httpd.server_close()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m unigate.local.server")
    ap.add_argument("--model", default=None,
                    help="a llama-architecture GGUF file (default: SmolLM2-135M-Instruct, fetched once)")
    ap.add_argument("--embedding-model", default=None,
                    help="a BERT sentence-transformers folder (default: all-MiniLM-L6-v2, fetched once)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8091)
    ap.add_argument("--context-size", type=int, default=2048)
    ap.add_argument("--parent", type=int, default=None, help="exit when this process is gone")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    try:
        serve(args.model, args.host, args.port, args.context_size, args.parent, args.embedding_model)
    except OSError as e:
        log.error("local model server: cannot listen on %s:%d: %s", args.host, args.port, e)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
