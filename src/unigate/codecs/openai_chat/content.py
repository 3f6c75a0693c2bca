"""Content parts of a chat message: client JSON → IR parts, and IR parts → upstream JSON."""

from __future__ import annotations

import mimetypes
from typing import Any

from unigate.codecs.data_url import data_url, split_data_url
from unigate.codecs.fields import bad, opt_str, req_dict, req_str
from unigate.errors import UnsupportedParameter
from unigate.ir.parts import DocumentPart, ImagePart, Part, TextPart, UnknownPart

FORMAT = "openai_chat"
# Kept on parts so an OpenAI → OpenAI translation keeps prompt-cache breakpoints; they only
# affect caching, never the answer, so encoders for other formats may ignore them.
_CACHE_KEY = "prompt_cache_breakpoint"


def _part_meta(part: dict[str, Any]) -> dict[str, Any] | None:
    bp = part.get(_CACHE_KEY)
    return {FORMAT: {_CACHE_KEY: bp}} if bp is not None else None


def text_parts_to_ir(content: Any, path: str, *, allow_refusal: bool = False) -> list[Part]:
    """Content that may only hold text (system, developer, tool, assistant messages)."""
    if isinstance(content, str):
        return [TextPart(content)]
    if not isinstance(content, list):
        raise bad(path, "must be a string or an array of content parts")
    parts: list[Part] = []
    for i, part in enumerate(content):
        where = f"{path}[{i}]"
        if not isinstance(part, dict):
            raise bad(where, "must be an object")
        kind = part.get("type")
        if kind == "text":
            parts.append(TextPart(req_str(part, "text", where + "."), _part_meta(part)))
        elif kind == "refusal" and allow_refusal:
            parts.append(TextPart(req_str(part, "refusal", where + "."), {FORMAT: {"refusal": True}}))
        else:
            raise bad(where + ".type", f"content type {kind!r} is not allowed here")
    return parts


def user_parts_to_ir(content: Any, path: str) -> list[Part]:
    if isinstance(content, str):
        return [TextPart(content)]
    if not isinstance(content, list):
        raise bad(path, "must be a string or an array of content parts")
    return [_user_part_to_ir(part, f"{path}[{i}]") for i, part in enumerate(content)]


def _user_part_to_ir(part: Any, where: str) -> Part:
    if not isinstance(part, dict):
        raise bad(where, "must be an object")
    kind = part.get("type")
    dot = where + "."
    if kind == "text":
        return TextPart(req_str(part, "text", dot), _part_meta(part))
    if kind == "image_url":
        image = req_dict(part, "image_url", dot)
        url = req_str(image, "url", dot + "image_url.")
        detail = opt_str(image, "detail", dot + "image_url.")
        inline = split_data_url(url)
        if inline is not None:
            return ImagePart(data=inline[1], media_type=inline[0], detail=detail, meta=_part_meta(part))
        return ImagePart(url=url, detail=detail, meta=_part_meta(part))
    if kind == "file":
        return _file_to_ir(part, dot)
    if kind == "input_audio":
        # The IR has no audio part: keep it whole so an OpenAI upstream still gets it and
        # every other encoder refuses it (UnknownPart of another format).
        return UnknownPart(FORMAT, part)
    raise bad(dot + "type", f"unknown content type {kind!r}")


def _file_to_ir(part: dict[str, Any], dot: str) -> DocumentPart:
    file = req_dict(part, "file", dot)
    fdot = dot + "file."
    file_data = opt_str(file, "file_data", fdot)
    file_id = opt_str(file, "file_id", fdot)
    filename = opt_str(file, "filename", fdot)
    if file_data is None and file_id is None:
        raise bad(dot + "file", "needs file_data or file_id")
    doc = DocumentPart(file_id=file_id, filename=filename, meta=_part_meta(part))
    if file_data is not None:
        inline = split_data_url(file_data)
        if inline is not None:
            doc.media_type, doc.data = inline
        else:  # bare base64: the media type can only come from the file name
            doc.data = file_data
            doc.media_type = mimetypes.guess_type(filename)[0] if filename else None
    return doc


# --- IR → upstream -----------------------------------------------------------------------

def part_to_openai(part: Part, where: str, target: str, compat: bool) -> dict[str, Any]:
    """One user-side part as a chat content part; refuses what chat cannot carry."""
    out: dict[str, Any]
    if isinstance(part, TextPart):
        out = {"type": "text", "text": part.text}
    elif isinstance(part, ImagePart):
        out = {"type": "image_url", "image_url": {"url": _image_url(part, where, target)}}
        if part.detail is not None:
            out["image_url"]["detail"] = part.detail
    elif isinstance(part, DocumentPart):
        out = {"type": "file", "file": _file_to_openai(part, where, target)}
    elif isinstance(part, UnknownPart) and part.format == FORMAT and isinstance(part.raw, dict):
        return part.raw  # e.g. input_audio, sent back exactly as the client wrote it
    else:
        raise UnsupportedParameter("messages", target, f"{where}: {_describe(part)} cannot be sent")
    if not compat and part.meta and FORMAT in part.meta and _CACHE_KEY in part.meta[FORMAT]:
        out[_CACHE_KEY] = part.meta[FORMAT][_CACHE_KEY]
    return out


def _image_url(part: ImagePart, where: str, target: str) -> str:
    if part.url is not None:
        return part.url
    if part.data is not None:
        # IR says media_type comes with data; PNG is the safe guess if a codec left it out
        return data_url(part.media_type or "image/png", part.data)
    raise UnsupportedParameter("messages", target, f"{where}: image without url or data")


def _file_to_openai(part: DocumentPart, where: str, target: str) -> dict[str, Any]:
    file: dict[str, Any] = {}
    if part.data is not None:
        # Chat's file input is documented for PDFs: that is the default media type
        media_type = part.media_type or "application/pdf"
        file["file_data"] = data_url(media_type, part.data)
        # OpenAI requires a file name with inline data
        file["filename"] = part.filename or "document" + (mimetypes.guess_extension(media_type) or "")
    elif part.file_id is not None:
        file["file_id"] = part.file_id
        if part.filename is not None:
            file["filename"] = part.filename
    else:
        raise UnsupportedParameter(
            "messages", target, f"{where}: documents by URL are not accepted by chat completions")
    return file


def only_text(parts: list[Part]) -> bool:
    return all(isinstance(p, TextPart) for p in parts)


def has_cache_meta(parts: list[Part]) -> bool:
    return any(p.meta and FORMAT in p.meta and _CACHE_KEY in p.meta[FORMAT] for p in parts)


def _describe(part: Part) -> str:
    if isinstance(part, UnknownPart):
        return f"a content part from {part.format}"
    return f"a {type(part).__name__}"
