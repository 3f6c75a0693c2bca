"""`data:` URLs, the one way every format writes inline media into a URL field (OpenAI image_url
and file_data, Responses input_image): read and written here, for every codec."""

from __future__ import annotations


def split_data_url(url: str) -> tuple[str | None, str] | None:
    """`data:<type>[;params];base64,<data>` → (the media type without parameters, or None when
    the URL names none; the base64 data). None for anything else (not a data: URL, not base64)."""
    if not url.startswith("data:"):
        return None
    head, sep, data = url.partition(",")
    if not sep or not head.endswith(";base64"):
        return None
    return head[5:-7].split(";", 1)[0] or None, data


def data_url(media_type: str | None, data: str) -> str:
    return f"data:{media_type or 'application/octet-stream'};base64,{data}"
