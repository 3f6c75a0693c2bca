"""Gemini `Part`s → IR parts (shared by the request, response and stream decoders)."""

from __future__ import annotations

from typing import Any

from unigate.codecs.fields import obj, string
from unigate.codecs.gemini._util import (
    FORMAT,
    compact_json,
    get,
    id_with_signature,
    known_keys,
    standard_base64,
    unpack_reasoning,
    unpack_signature,
)
from unigate.errors import GatewayError
from unigate.ir.parts import (
    DocumentPart,
    ImagePart,
    Meta,
    Part,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    UnknownPart,
)

# Part fields that only annotate the data field (kept in meta so a Gemini upstream gets them)
_MAIN_KEYS = known_keys("text", "thought", "thoughtSignature", "inlineData", "fileData",
                        "functionCall", "functionResponse")


def sig_meta(sig: str | None, extra: dict[str, Any] | None = None) -> Meta | None:
    g: dict[str, Any] = {}
    if sig:
        g["thoughtSignature"] = sig
    if extra:
        g["part"] = extra
    return {FORMAT: g} if g else None


def reasoning_part(text: str, sig: str | None) -> ReasoningPart:
    if not sig:
        return ReasoningPart(text)
    foreign = unpack_signature(sig)
    if foreign is not None:  # another provider's proof the gateway handed to a Gemini client
        fmt, signature, redacted = foreign
        return ReasoningPart(text, signature=signature, signature_format=fmt, redacted=redacted)
    return ReasoningPart(text, signature=sig, signature_format=FORMAT)


def decode_part(raw: Any, path: str, exc: type[GatewayError]) -> Part:
    """One part. A functionCall's or functionResponse's missing id stays "" for the caller
    to fill (ids are assigned differently for client history and upstream answers)."""
    p = obj(raw, path, exc)
    sig = get(p, "thoughtSignature")
    if sig is not None:
        sig = string(sig, f"{path}.thoughtSignature", exc)
    text = p.get("text")
    if text is not None:
        text = string(text, f"{path}.text", exc)
        if p.get("thought") is True:
            return reasoning_part(text, sig)
        return TextPart(text, sig_meta(sig))
    if (fc := get(p, "functionCall")) is not None:
        fpath = f"{path}.functionCall"
        return _function_call(obj(fc, fpath, exc), fpath, sig, exc)
    if (fr := get(p, "functionResponse")) is not None:
        return _function_response(obj(fr, f"{path}.functionResponse", exc),
                                  f"{path}.functionResponse", exc)
    extra = {k: v for k, v in p.items() if k not in _MAIN_KEYS} or None
    if (blob := get(p, "inlineData")) is not None:
        blob = obj(blob, f"{path}.inlineData", exc)
        mime = string(get(blob, "mimeType"), f"{path}.inlineData.mimeType", exc)
        data = standard_base64(string(blob.get("data"), f"{path}.inlineData.data", exc))
        if mime.startswith("image/"):
            return ImagePart(data=data, media_type=mime, meta=sig_meta(sig, extra))
        return DocumentPart(data=data, media_type=mime, meta=sig_meta(sig, extra))
    if (fd := get(p, "fileData")) is not None:
        fd = obj(fd, f"{path}.fileData", exc)
        uri = string(get(fd, "fileUri"), f"{path}.fileData.fileUri", exc)
        mime = get(fd, "mimeType")
        if mime is not None:
            mime = string(mime, f"{path}.fileData.mimeType", exc)
        if mime and mime.startswith("image/"):
            return ImagePart(url=uri, media_type=mime, meta=sig_meta(sig, extra))
        return DocumentPart(url=uri, media_type=mime, meta=sig_meta(sig, extra))
    if p.get("thought") is True:
        return reasoning_part("", sig)
    if sig is not None and len(p) == 1:  # a signature on its own (streams end with these)
        return TextPart("", sig_meta(sig))
    # executableCode, codeExecutionResult, toolCall, ...: kept verbatim
    return UnknownPart(FORMAT, p)


def _function_call(fc: dict[str, Any], path: str, sig: str | None,
                   exc: type[GatewayError]) -> ToolCallPart:
    name = string(fc.get("name"), f"{path}.name", exc)
    args = fc.get("args")
    if args is None:
        args = {}
    obj(args, f"{path}.args", exc)
    call_id = fc.get("id")
    if call_id is not None:
        string(call_id, f"{path}.id", exc)
    return ToolCallPart(call_id or "", name, compact_json(args), sig_meta(sig))


def _function_response(fr: dict[str, Any], path: str, exc: type[GatewayError]) -> ToolResultPart:
    name = string(fr.get("name"), f"{path}.name", exc)
    response = fr.get("response")
    if response is None:
        response = {}
    obj(response, f"{path}.response", exc)
    content: list[Part] = [TextPart(_result_text(response, name))]
    nested = fr.get("parts")
    if isinstance(nested, list):  # multimodal function responses (images the tool produced)
        content.extend(decode_part(q, f"{path}.parts[{i}]", exc) for i, q in enumerate(nested))
    call_id = fr.get("id")
    if call_id is not None:
        string(call_id, f"{path}.id", exc)
    # Gemini's convention: an "error" key (without "output") reports a failed call
    is_error = "error" in response and "output" not in response
    return ToolResultPart(call_id or "", content, is_error=is_error, name=name)


def _result_text(response: dict[str, Any], name: str) -> str:
    """The result as other formats carry it: the text of Gemini's documented `{"output": text}`
    (or `{"error": text}`) on its own, and of `{"name": <the function>, "content": text}` (the
    Vercel AI SDK's shape, whose name only repeats the call's); any other object as JSON (the
    encoder wraps text back)."""
    if len(response) == 1:
        ((key, value),) = response.items()
        if key in ("output", "error") and isinstance(value, str):
            return value
    if response.keys() == {"name", "content"} and response["name"] == name and isinstance(response["content"], str):
        return str(response["content"])
    return compact_json(response)


def reasoning_carried_by(call: ToolCallPart) -> list[ReasoningPart]:
    """Another provider's reasoning that rode in the call's signature (`_util.pack_reasoning`),
    taken off the call: it goes back as reasoning parts, never to Gemini as a signature."""
    g = call.meta.get(FORMAT) if call.meta else None
    sig = g.get("thoughtSignature") if isinstance(g, dict) else None
    blocks = unpack_reasoning(sig) if isinstance(sig, str) else None
    if blocks is None:
        return []
    del g["thoughtSignature"]  # type: ignore[union-attr]
    if not g and call.meta is not None:
        del call.meta[FORMAT]
    return [ReasoningPart(text, signature=s, signature_format=fmt, redacted=r) for fmt, text, s, r in blocks]


def upstream_call_id(call: ToolCallPart, response_id: str, n: int) -> None:
    """Give a call from an upstream answer a conversation-unique id that carries its
    thoughtSignature (see `_util.id_with_signature`)."""
    base = call.id or f"call_{''.join(c for c in response_id if c.isalnum())[:24]}_{n}"
    sig = call.meta[FORMAT].get("thoughtSignature") if call.meta else None
    call.id = id_with_signature(base, sig)


def merge_reasoning(parts: list[Part], part: Part) -> bool:
    """Join a thought part to the unsigned reasoning part before it (thoughts arrive in
    pieces, the signature on the last). True when merged."""
    if not isinstance(part, ReasoningPart) or not parts:
        return False
    prev = parts[-1]
    if not isinstance(prev, ReasoningPart) or prev.signature or prev.redacted:
        return False
    prev.text += part.text
    prev.signature, prev.signature_format = part.signature, part.signature_format
    prev.redacted = part.redacted
    return True
