"""A loopback capture server: records every request a coding agent makes and answers plausibly.

It answers Anthropic Messages (+ count_tokens), OpenAI Responses and chat completions, and
Gemini generateContent/streamGenerateContent/countTokens, streaming where asked, always with a
short text, so an agent proceeds and finishes. Every request is appended as one JSON line to the
log file: method, path, query, headers, body.

    python -m tests.agents.capture --port 0 --log /tmp/capture.jsonl   # prints the port
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

from aiohttp import web

REPLY = "CAPTURE_OK"


def _sse(event: str | None, data: Any) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


async def _stream(request: web.Request, chunks: list[bytes]) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await resp.prepare(request)
    for c in chunks:
        await resp.write(c)
    await resp.write_eof()
    return resp


def _fill(schema: Any) -> Any:
    """A value that fits a JSON schema (for agents' structured-output side calls)."""
    if not isinstance(schema, dict):
        return "x"
    if "enum" in schema:
        return schema["enum"][0]
    t = schema.get("type")
    if isinstance(t, list):
        t = t[0]
    t = (t or "").lower()
    if t == "object" or "properties" in schema:
        props = schema.get("properties", {})
        out = {k: _fill(v) for k, v in props.items()}
        if "next_speaker" in out:
            out["next_speaker"] = "user"
        return out
    if t == "array":
        return []
    if t in ("integer", "number"):
        return 0
    if t == "boolean":
        return False
    return "x"


# --- Anthropic ---------------------------------------------------------------------------------

async def anthropic_messages(request: web.Request, body: dict) -> web.StreamResponse:
    model = body.get("model", "claude")
    msg_id = "msg_capture"
    usage = {"input_tokens": 10, "output_tokens": 2}
    if not body.get("stream"):
        return web.json_response({
            "id": msg_id, "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": REPLY}], "stop_reason": "end_turn",
            "stop_sequence": None, "usage": usage,
        })
    start = {"id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [],
             "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 0}}
    return await _stream(request, [
        _sse("message_start", {"type": "message_start", "message": start}),
        _sse("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}),
        _sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "text_delta", "text": REPLY}}),
        _sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
        _sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn",
                                                                  "stop_sequence": None},
                               "usage": {"output_tokens": 2}}),
        _sse("message_stop", {"type": "message_stop"}),
    ])


# --- OpenAI Responses / chat ---------------------------------------------------------------------

async def responses(request: web.Request, body: dict) -> web.StreamResponse:
    model = body.get("model", "gpt")
    item = {"id": "msg_capture", "type": "message", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": REPLY, "annotations": []}]}
    usage = {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 2,
             "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 12}
    base = {"id": "resp_capture", "object": "response", "created_at": int(time.time()), "model": model}
    done = {**base, "status": "completed", "output": [item], "usage": usage}
    if not body.get("stream"):
        return web.json_response(done)
    pending = {**base, "status": "in_progress", "output": [], "usage": None}
    empty_item = {**item, "status": "in_progress", "content": []}
    part = {"type": "output_text", "text": "", "annotations": []}
    ev = [
        ("response.created", {"response": pending}),
        ("response.in_progress", {"response": pending}),
        ("response.output_item.added", {"output_index": 0, "item": empty_item}),
        ("response.content_part.added", {"item_id": item["id"], "output_index": 0,
                                         "content_index": 0, "part": part}),
        ("response.output_text.delta", {"item_id": item["id"], "output_index": 0,
                                        "content_index": 0, "delta": REPLY}),
        ("response.output_text.done", {"item_id": item["id"], "output_index": 0,
                                       "content_index": 0, "text": REPLY}),
        ("response.content_part.done", {"item_id": item["id"], "output_index": 0,
                                        "content_index": 0, "part": item["content"][0]}),
        ("response.output_item.done", {"output_index": 0, "item": item}),
        ("response.completed", {"response": done}),
    ]
    return await _stream(request, [_sse(name, {"type": name, "sequence_number": i, **data})
                                   for i, (name, data) in enumerate(ev)])


async def chat(request: web.Request, body: dict) -> web.StreamResponse:
    model = body.get("model", "gpt")
    base = {"id": "chatcmpl-capture", "created": int(time.time()), "model": model}
    if not body.get("stream"):
        return web.json_response({**base, "object": "chat.completion", "choices": [{
            "index": 0, "message": {"role": "assistant", "content": REPLY}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}})
    c = {**base, "object": "chat.completion.chunk"}
    return await _stream(request, [
        _sse(None, {**c, "choices": [{"index": 0, "delta": {"role": "assistant", "content": REPLY},
                                      "finish_reason": None}]}),
        _sse(None, {**c, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
        b"data: [DONE]\n\n",
    ])


# --- Gemini ------------------------------------------------------------------------------------

def _gemini_reply(body: dict) -> dict:
    cfg = body.get("generationConfig") or {}
    text = REPLY
    schema = cfg.get("responseJsonSchema") or cfg.get("responseSchema")
    if cfg.get("responseMimeType") == "application/json":
        text = json.dumps(_fill(schema) if schema else {})
    return {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]},
                            "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 2, "totalTokenCount": 12},
            "modelVersion": "capture"}


async def gemini(request: web.Request, body: dict, method: str) -> web.StreamResponse:
    if method == "countTokens":
        return web.json_response({"totalTokens": 10})
    if method == "streamGenerateContent":
        return await _stream(request, [_sse(None, _gemini_reply(body))])
    return web.json_response(_gemini_reply(body))


# --- dispatch ----------------------------------------------------------------------------------

async def handle(request: web.Request) -> web.StreamResponse:
    raw = await request.read()
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = raw.decode(errors="replace")
    log: Path = request.app["log"]
    with log.open("a") as f:
        f.write(json.dumps({"t": time.time(), "method": request.method, "path": request.path,
                            "query": request.query_string, "headers": dict(request.headers),
                            "body": body}) + "\n")
    path = request.path
    b = body if isinstance(body, dict) else {}
    if path.endswith("/messages/count_tokens"):
        return web.json_response({"input_tokens": 10})
    if path.endswith("/messages"):
        return await anthropic_messages(request, b)
    if path.endswith("/responses"):
        return await responses(request, b)
    if path.endswith("/chat/completions"):
        return await chat(request, b)
    if ":" in path.rsplit("/", 1)[-1]:
        return await gemini(request, b, path.rsplit(":", 1)[-1])
    if path.endswith("/models"):
        return web.json_response({"object": "list", "data": [], "models": []})
    return web.json_response({"error": {"message": f"capture: no route {path}"}}, status=404)


def make_app(log: Path) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app["log"] = log
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


async def _main(port: int, log: Path) -> None:
    runner = web.AppRunner(make_app(log))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)  # type: ignore[union-attr]
    await asyncio.Event().wait()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log", type=Path, required=True)
    a = ap.parse_args()
    asyncio.run(_main(a.port, a.log))
