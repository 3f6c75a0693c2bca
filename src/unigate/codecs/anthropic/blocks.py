"""Anthropic content blocks ↔ IR parts, shared by requests and responses.

Keys a block carries beyond what the IR models (cache_control, citations, document title,
tool_use caller, ...) travel in `meta["anthropic"]` and are written back unchanged."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from unigate.codecs.anthropic.fields import JSON, compact_json, own_meta, rest
from unigate.codecs.data_url import split_data_url
from unigate.codecs.fields import array, obj, opt_bool, string
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

TARGET = "Anthropic"
FORMAT = "anthropic"

# Blocks of Anthropic-run tools and retrieval features: no other format has them, so they
# are kept whole as UnknownPart (sent back to Anthropic as they came, refused or dropped
# by other encoders).
_OPAQUE_TYPES = frozenset({
    "server_tool_use", "search_result", "container_upload", "tool_reference", "compaction",
    "mcp_tool_use", "mcp_tool_result",
})

_TEXT_KEYS = frozenset({"type", "text"})
_IMAGE_KEYS = frozenset({"type", "source"})
_TOOL_USE_KEYS = frozenset({"type", "id", "name", "input"})
_TOOL_RESULT_KEYS = frozenset({"type", "tool_use_id", "content", "is_error"})


def is_opaque_type(kind: str) -> bool:
    return kind in _OPAQUE_TYPES or kind.endswith(("_tool_result", "_tool_use"))


def block_to_part(block: Any, path: str) -> Part:
    """One content block → one IR part. Raises InvalidRequest naming `path`."""
    b = obj(block, path)
    kind = string(b.get("type"), f"{path}.type")
    if kind == "text":
        return TextPart(string(b.get("text"), f"{path}.text"), rest(b, _TEXT_KEYS))
    if kind == "image":
        return _image_to_part(b, path)
    if kind == "document":
        return _document_to_part(b, path)
    if kind == "tool_use":
        name = string(b.get("name"), f"{path}.name")
        args = b.get("input", {})
        obj(args, f"{path}.input")
        return ToolCallPart(string(b.get("id"), f"{path}.id"), name, compact_json(args),
                            rest(b, _TOOL_USE_KEYS))
    if kind == "tool_result":
        return _tool_result_to_part(b, path)
    if kind == "thinking":
        signature = b.get("signature") or None
        return ReasoningPart(
            text=string(b.get("thinking"), f"{path}.thinking"),
            signature=string(signature, f"{path}.signature") if signature else None,
            # Without a signature Anthropic will not take the block back; leave it unowned.
            signature_format=FORMAT if signature else None,
        )
    if kind == "redacted_thinking":
        return ReasoningPart(redacted=string(b.get("data"), f"{path}.data"),
                             signature_format=FORMAT)
    if is_opaque_type(kind):
        return UnknownPart(FORMAT, b)
    raise InvalidRequest(f"{path}.type: unknown content type '{kind}'", param=f"{path}.type")


def _image_to_part(b: JSON, path: str) -> Part:
    src = obj(b.get("source"), f"{path}.source")
    kind = src.get("type")
    meta = rest(b, _IMAGE_KEYS)
    if kind == "base64":
        return ImagePart(data=string(src.get("data"), f"{path}.source.data"),
                         media_type=string(src.get("media_type"), f"{path}.source.media_type"),
                         meta=meta)
    if kind == "url":
        return ImagePart(url=string(src.get("url"), f"{path}.source.url"), meta=meta)
    if kind == "file":
        # An Anthropic Files API id means nothing to another provider.
        return UnknownPart(FORMAT, b)
    raise InvalidRequest(f"{path}.source.type: unknown image source type {kind!r}",
                         param=f"{path}.source.type")


def _document_to_part(b: JSON, path: str) -> Part:
    src = obj(b.get("source"), f"{path}.source")
    kind = src.get("type")
    meta = rest(b, _IMAGE_KEYS)
    if kind == "base64":
        return DocumentPart(data=string(src.get("data"), f"{path}.source.data"),
                            media_type=string(src.get("media_type"), f"{path}.source.media_type"),
                            meta=meta)
    if kind == "text":
        # The IR holds inline documents as base64 whatever their type.
        text = string(src.get("data"), f"{path}.source.data")
        return DocumentPart(data=base64.b64encode(text.encode()).decode(),
                            media_type=src.get("media_type") or "text/plain", meta=meta)
    if kind == "url":
        return DocumentPart(url=string(src.get("url"), f"{path}.source.url"),
                            media_type="application/pdf", meta=meta)
    if kind == "file":
        return DocumentPart(file_id=string(src.get("file_id"), f"{path}.source.file_id"),
                            meta=meta)
    if kind == "content":
        return UnknownPart(FORMAT, b)  # a document made of content blocks (citations)
    raise InvalidRequest(f"{path}.source.type: unknown document source type {kind!r}",
                         param=f"{path}.source.type")


def _tool_result_to_part(b: JSON, path: str) -> ToolResultPart:
    content = b.get("content")
    parts: list[Part]
    if content is None:
        parts = []
    elif isinstance(content, str):
        parts = [TextPart(content)] if content else []
    else:
        items = array(content, f"{path}.content")
        parts = [block_to_part(item, f"{path}.content[{j}]") for j, item in enumerate(items)]
    return ToolResultPart(
        tool_call_id=string(b.get("tool_use_id"), f"{path}.tool_use_id"),
        content=parts,
        is_error=bool(opt_bool(b.get("is_error"), f"{path}.is_error")),
        meta=rest(b, _TOOL_RESULT_KEYS),
    )


# ---- IR → blocks ---------------------------------------------------------------------------


def part_to_block(part: Part, path: str) -> JSON | None:
    """One IR part → one block for an Anthropic request; None when the part is dropped."""
    if isinstance(part, TextPart):
        if not part.text:
            return None  # Anthropic refuses empty text blocks; an empty one says nothing
        return _with_meta({"type": "text", "text": part.text}, part.meta)
    if isinstance(part, ImagePart):
        # `detail` (OpenAI's resolution hint) has no Anthropic equivalent; the image is the same.
        return _with_meta({"type": "image", "source": image_source(part, path)}, part.meta)
    if isinstance(part, DocumentPart):
        return _with_meta({"type": "document", "source": _document_source(part, path)},
                          part.meta)
    if isinstance(part, ToolCallPart):
        block = {"type": "tool_use", "id": part.id, "name": part.name,
                 "input": tool_input(part.arguments, path)}
        return _with_meta(block, part.meta)
    if isinstance(part, ToolResultPart):
        return _tool_result_block(part, path)
    if isinstance(part, ReasoningPart):
        return reasoning_block(part)
    if part.format == FORMAT:
        return part.raw  # type: ignore[no-any-return]
    # Another provider's opaque item (a hosted tool call, say) has no Anthropic meaning.
    return None


def reasoning_block(part: ReasoningPart) -> JSON | None:
    """Thinking goes back to Anthropic only with Anthropic's own signature: the API checks
    it, and another provider's reasoning (or unsigned text) cannot pass that check."""
    if part.signature_format != FORMAT:
        return None
    if part.redacted is not None:
        return {"type": "redacted_thinking", "data": part.redacted}
    if not part.signature:
        return None
    return {"type": "thinking", "thinking": part.text, "signature": part.signature}


def tool_input(arguments: str, path: str) -> JSON:
    """Tool-call arguments (JSON text) → the `input` object Anthropic wants."""
    if not arguments.strip():
        return {}
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        raise InvalidRequest(f"{path}: tool call arguments are not valid JSON",
                             param=path) from None
    if not isinstance(value, dict):
        raise InvalidRequest(f"{path}: tool call arguments must be a JSON object", param=path)
    return value


def image_source(part: ImagePart, path: str) -> JSON:
    if part.data is not None:
        if not part.media_type:
            raise InvalidRequest(f"{path}: inline image needs a media type", param=path)
        return {"type": "base64", "media_type": part.media_type, "data": part.data}
    url = part.url or ""
    if url.startswith(("https://", "http://")):
        return {"type": "url", "url": url}
    if url.startswith("data:"):
        media_type, data = _split_data_url(url, path)
        return {"type": "base64", "media_type": media_type, "data": data}
    raise UnsupportedParameter(path, TARGET, "images must be inline data or an http(s) URL")


def _document_source(part: DocumentPart, path: str) -> JSON:
    if part.file_id is not None:
        return {"type": "file", "file_id": part.file_id}
    if part.url is not None and part.url.startswith("data:"):
        media_type, data = _split_data_url(part.url, path)
        part = DocumentPart(data=data, media_type=media_type)
    elif part.url is not None:
        return {"type": "url", "url": part.url}
    media_type = part.media_type or "application/pdf"
    if part.data is None:
        raise InvalidRequest(f"{path}: document has no data, url or file id", param=path)
    if media_type == "application/pdf":
        return {"type": "base64", "media_type": media_type, "data": part.data}
    if media_type.startswith("text/"):
        try:
            text = base64.b64decode(part.data, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidRequest(f"{path}: text document is not base64 UTF-8",
                                 param=path) from None
        return {"type": "text", "media_type": "text/plain", "data": text}
    raise UnsupportedParameter(path, TARGET, f"documents of type {media_type} (PDF and text only)")


def _split_data_url(url: str, path: str) -> tuple[str | None, str]:
    inline = split_data_url(url)
    if inline is None:
        raise InvalidRequest(f"{path}: data URL must be base64-encoded", param=path)
    return inline


def _tool_result_block(part: ToolResultPart, path: str) -> JSON:
    block: JSON = {"type": "tool_result", "tool_use_id": part.tool_call_id}
    content = part.content
    if len(content) == 1 and isinstance(content[0], TextPart) and not own_meta(content[0].meta):
        if content[0].text:
            block["content"] = content[0].text
    elif content:
        blocks = []
        for j, p in enumerate(content):
            b = part_to_block(p, f"{path}.content[{j}]")
            if b is not None:
                blocks.append(b)
        block["content"] = blocks
    if part.is_error:
        block["is_error"] = True
    return _with_meta(block, part.meta)


def _with_meta(block: JSON, meta: JSON | None) -> JSON:
    mine = own_meta(meta)
    if mine:
        for key, value in mine.items():
            block.setdefault(key, value)
    return block
