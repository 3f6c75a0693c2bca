"""IR parts → Gemini `Part`s, for an upstream request and for a client response."""

from __future__ import annotations

import mimetypes
from typing import Any
from urllib.parse import urlsplit

import orjson

from unigate.codecs.data_url import split_data_url
from unigate.codecs.gemini._util import (
    FORMAT,
    ReasoningBlock,
    gemini_meta,
    pack_reasoning,
    pack_signature,
    split_id_signature,
)
from unigate.errors import InvalidRequest, UnsupportedParameter
from unigate.ir.parts import (
    DocumentPart,
    ImagePart,
    Part,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    UnknownPart,
)

# Gemini's documented stand-in for calls it did not produce itself (another provider's
# turns, a fallback mid-conversation): without a signature Gemini 3 rejects the history.
FOREIGN_CALL_SIGNATURE = "skip_thought_signature_validator"


def encode_request_parts(parts: list[Part], path: str, with_ids: set[str]) -> list[dict[str, Any]]:
    """One message's parts for an upstream request. `with_ids` collects the calls sent
    with their id, so that their results carry it too."""
    out: list[dict[str, Any]] = []
    held_sig: str | None = None  # a signature-only Gemini reasoning part: goes on the next part
    for i, part in enumerate(parts):
        ppath = f"{path}.content[{i}]"
        if isinstance(part, ReasoningPart):
            if part.signature_format != FORMAT:
                continue  # another provider's thoughts: Gemini can neither use nor verify them
            if not part.text and part.signature:
                held_sig = part.signature
                continue
            out.append(_with_sig({"text": part.text, "thought": True}, part.signature))
        elif isinstance(part, ToolCallPart):
            _base, id_sig = split_id_signature(part.id)
            g = gemini_meta(part.meta)
            sig = g.get("thoughtSignature") or id_sig or held_sig
            fc: dict[str, Any] = {"name": part.name, "args": _args(part, ppath)}
            if "id" in g:  # only ids the client gave (see request_decode._remember_id)
                fc["id"] = split_id_signature(g["id"])[0]
                with_ids.add(part.id)
            out.append(_with_sig({"functionCall": fc}, sig))
            held_sig = None
        elif isinstance(part, ToolResultPart):
            out.extend(_function_response(part, ppath, with_ids))
        elif isinstance(part, TextPart):
            sig = gemini_meta(part.meta).get("thoughtSignature") or held_sig
            out.append(_with_sig({"text": part.text}, sig))
            held_sig = None
        else:
            out.append(_media_or_unknown(part, ppath))
    if held_sig:
        out.append({"text": "", "thoughtSignature": held_sig})
    return out


def add_foreign_signatures(contents: list[dict[str, Any]]) -> None:
    """In each model turn with function calls but no signature on any of them, give the
    first call Gemini's documented stand-in signature."""
    for content in contents:
        if content["role"] != "model":
            continue
        calls = [p for p in content["parts"] if "functionCall" in p]
        if calls and not any("thoughtSignature" in p for p in calls):
            calls[0]["thoughtSignature"] = FOREIGN_CALL_SIGNATURE


def encode_response_parts(parts: list[Part]) -> list[dict[str, Any]]:
    """A response's parts for a Gemini client. Other providers' reasoning signatures are
    wrapped into thoughtSignature (see `_util.pack_signature`) so they come back."""
    out: list[dict[str, Any]] = []
    held: list[ReasoningBlock] = []  # foreign signed reasoning not yet carried by a call
    for part in parts:
        if isinstance(part, TextPart):
            sig = gemini_meta(part.meta).get("thoughtSignature")
            out.append(_with_sig({"text": part.text}, sig))
        elif isinstance(part, ReasoningPart):
            out.append(reasoning_to_part(part.text, part.signature, part.signature_format,
                                         part.redacted))
            if part.signature_format not in (None, FORMAT) and (part.signature or part.redacted):
                held.append((part.signature_format, part.text, part.signature, part.redacted))
        elif isinstance(part, ToolCallPart):
            out.append(carry_reasoning(call_to_part(part.id, part.name, part.arguments, part.meta), held))
            held = []
        elif isinstance(part, (ImagePart, DocumentPart)) and part.data is not None:
            out.append({"inlineData": {"mimeType": part.media_type or "application/octet-stream",
                                       "data": part.data}})
        elif isinstance(part, UnknownPart) and part.format == FORMAT:
            out.append(part.raw)
        # other providers' unknown parts (server tool blocks, ...) mean nothing to a Gemini client
    return out


def reasoning_to_part(text: str, sig: str | None, fmt: str | None,
                      redacted: str | None) -> dict[str, Any]:
    p: dict[str, Any] = {"text": text, "thought": True}
    if fmt == FORMAT and sig:
        p["thoughtSignature"] = sig
    elif (sig or redacted) and fmt:
        p["thoughtSignature"] = pack_signature(fmt, sig, redacted)
    return p


def carry_reasoning(call: dict[str, Any], held: list[ReasoningBlock]) -> dict[str, Any]:
    """A call that follows another provider's signed reasoning carries it in its signature
    (see `_util.pack_reasoning`), unless the call has a Gemini signature of its own."""
    if held and "thoughtSignature" not in call:
        call["thoughtSignature"] = pack_reasoning(held)
    return call


def call_to_part(call_id: str, name: str, arguments: str,
                 meta: dict[str, Any] | None) -> dict[str, Any]:
    base, id_sig = split_id_signature(call_id)
    try:
        args = orjson.loads(arguments) if arguments else {}
    except orjson.JSONDecodeError:
        args = {}  # a model's broken JSON; Gemini has no way to pass text arguments
    if not isinstance(args, dict):
        args = {"value": args}
    fc: dict[str, Any] = {"name": name, "args": args}
    if base:
        fc["id"] = base
    return _with_sig({"functionCall": fc}, gemini_meta(meta).get("thoughtSignature") or id_sig)


def _with_sig(part: dict[str, Any], sig: str | None) -> dict[str, Any]:
    if sig:
        part["thoughtSignature"] = sig
    return part


def _args(part: ToolCallPart, path: str) -> dict[str, Any]:
    if not part.arguments.strip():
        return {}
    try:
        args = orjson.loads(part.arguments)
    except orjson.JSONDecodeError:
        raise InvalidRequest(f"{path}.arguments: not valid JSON", param=f"{path}.arguments") from None
    if not isinstance(args, dict):
        raise InvalidRequest(f"{path}.arguments: Gemini needs a JSON object",
                             param=f"{path}.arguments")
    return args


def _function_response(part: ToolResultPart, path: str,
                       with_ids: set[str]) -> list[dict[str, Any]]:
    if part.name is None:
        raise InvalidRequest(f"{path}: no earlier tool call has id '{part.tool_call_id}', and "
                             "Gemini needs the function's name", param=path)
    text = "".join(p.text for p in part.content if isinstance(p, TextPart))
    response: Any = None
    if text.startswith("{"):
        try:
            response = orjson.loads(text)
        except orjson.JSONDecodeError:
            response = None
    if not isinstance(response, dict):
        # Gemini's documented keys: "output" for a result, "error" for a failure
        response = {"error" if part.is_error else "output": text}
    fr: dict[str, Any] = {"name": part.name, "response": response}
    if part.tool_call_id in with_ids:
        fr["id"] = split_id_signature(part.tool_call_id)[0]
    out = [{"functionResponse": fr}]
    # images and files a tool returned follow as parts of the same turn (every model reads them)
    out.extend(_media_or_unknown(p, f"{path}.content[{i}]")
               for i, p in enumerate(part.content) if not isinstance(p, TextPart))
    return out


def _media_or_unknown(part: Part, path: str) -> dict[str, Any]:
    if isinstance(part, ImagePart):
        return _extra(part.meta, _media(part.data, part.url, part.media_type, path, "image/jpeg"))
    if isinstance(part, DocumentPart):
        if part.data is None and part.url is None and part.file_id is not None:
            if not part.file_id.startswith(("files/", "https://generativelanguage.")):
                raise UnsupportedParameter(f"{path}.file_id", "gemini",
                                           "another provider's file id")
            return {"fileData": {"fileUri": part.file_id, "mimeType": part.media_type}
                    if part.media_type else {"fileUri": part.file_id}}
        return _extra(part.meta, _media(part.data, part.url, part.media_type, path,
                                        "application/pdf"))
    if isinstance(part, UnknownPart) and part.format == FORMAT:
        return dict(part.raw)
    raise UnsupportedParameter(path, "gemini", f"a {type(part).__name__} from {_origin(part)}")


def _origin(part: Part) -> str:
    return part.format if isinstance(part, UnknownPart) else "this message"


def _media(data: str | None, url: str | None, mime: str | None, path: str,
           default_mime: str) -> dict[str, Any]:
    """Inline data stays inline (a data: URL too); any other URL becomes fileData, which
    Gemini fetches itself: Files API URIs, YouTube and public http(s) URLs on the models
    that support them (older models refuse plain web URLs)."""
    if data is not None:
        return {"inlineData": {"mimeType": mime or default_mime, "data": data}}
    if url is None:
        raise InvalidRequest(f"{path}: neither data nor url", param=path)
    if url.startswith("data:"):
        inline = split_data_url(url)
        if inline is None:
            raise InvalidRequest(f"{path}.url: only base64 data: URLs are supported", param=path)
        return {"inlineData": {"mimeType": inline[0] or mime or default_mime, "data": inline[1]}}
    mime = mime or mimetypes.guess_type(urlsplit(url).path)[0]
    return {"fileData": {"mimeType": mime, "fileUri": url} if mime else {"fileUri": url}}


def _extra(meta: dict[str, Any] | None, part: dict[str, Any]) -> dict[str, Any]:
    """Put back the annotations a Gemini client set on the part (videoMetadata, ...)."""
    g = gemini_meta(meta)
    if g.get("part"):
        part.update(g["part"])
    if g.get("thoughtSignature"):
        part["thoughtSignature"] = g["thoughtSignature"]
    return part
