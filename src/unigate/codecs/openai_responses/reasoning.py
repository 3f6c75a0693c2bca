"""Reasoning items ↔ `ReasoningPart`.

A Responses reasoning item carries a readable summary (or, from open-weight servers, raw
`content`) and an opaque `encrypted_content` that lets a stateless client send the reasoning
back. Reasoning that came from another provider (an Anthropic thinking signature, a Gemini
thought signature, an Anthropic redacted block) must survive a round trip through a Responses
client too, or the next turn to that provider fails; it is wrapped into `encrypted_content`
with a prefix that names its format, and unwrapped when the client sends it back.
"""

from __future__ import annotations

from typing import Any

from unigate.codecs.fields import array, fail, opt_string, string
from unigate.codecs.openai_responses._util import FORMAT, ns
from unigate.ir.parts import ReasoningPart

# encrypted_content = "unigate.v1:<format>:<signature>" or "unigate.v1:<format>+redacted:<data>"
_FOREIGN = "unigate.v1:"
_REDACTED = "+redacted"


def _texts(entries: Any, path: str, kind: str) -> list[str]:
    if entries is None:
        return []
    out: list[str] = []
    for i, entry in enumerate(array(entries, path)):
        if not isinstance(entry, dict) or entry.get("type", kind) != kind:
            fail(f"{path}[{i}]", f"expected an object of type '{kind}'")
        out.append(string(entry.get("text"), f"{path}[{i}].text"))
    return out


def reasoning_item_to_part(item: dict[str, Any], path: str) -> ReasoningPart:
    """A reasoning item (client input or upstream output) → `ReasoningPart`."""
    summary = _texts(item.get("summary"), f"{path}.summary", "summary_text")
    content = _texts(item.get("content"), f"{path}.content", "reasoning_text")
    encrypted = opt_string(item.get("encrypted_content"), f"{path}.encrypted_content")
    keep: dict[str, Any] = {}
    if item.get("id") is not None:
        keep["id"] = string(item["id"], f"{path}.id")
    if item.get("summary"):
        keep["summary"] = item["summary"]
    if item.get("content"):
        keep["content"] = item["content"]
    # Summaries are separate paragraphs; open-weight servers send raw text in `content` instead.
    part = ReasoningPart(text="\n\n".join(summary or content), meta={FORMAT: keep} if keep else None)
    if encrypted is not None:
        apply_encrypted_content(part, encrypted)
    else:
        part.signature_format = FORMAT
    return part


def apply_encrypted_content(part: ReasoningPart, encrypted: str) -> None:
    """Set the signature (or redacted data) that `encrypted_content` carries, unwrapping the
    signatures of other formats that `encrypted_content_for_client` wrapped."""
    if encrypted.startswith(_FOREIGN):
        fmt, _, value = encrypted[len(_FOREIGN):].partition(":")
        if fmt.endswith(_REDACTED):
            part.redacted, part.signature_format = value, fmt[: -len(_REDACTED)]
        else:
            part.signature, part.signature_format = value, fmt
        return
    part.signature, part.signature_format = encrypted, FORMAT


def encrypted_content_for_client(part: ReasoningPart) -> str | None:
    """What goes into `encrypted_content` of a reasoning item returned to a client."""
    if part.redacted is not None:
        return f"{_FOREIGN}{part.signature_format or 'anthropic'}{_REDACTED}:{part.redacted}"
    if part.signature is None:
        return None
    if part.signature_format in (None, FORMAT):
        return part.signature
    return f"{_FOREIGN}{part.signature_format}:{part.signature}"


def summary_for(part: ReasoningPart) -> list[dict[str, Any]]:
    """The summary list: the original one when we have it, else the text as one entry."""
    kept = ns(part.meta).get("summary")
    if isinstance(kept, list):
        return kept
    return [{"type": "summary_text", "text": part.text}] if part.text else []


def reasoning_part_to_client_item(part: ReasoningPart, item_id: str) -> dict[str, Any]:
    """A `ReasoningPart` from any provider → the reasoning output item a client receives."""
    item: dict[str, Any] = {"id": item_id, "type": "reasoning", "summary": summary_for(part)}
    content = ns(part.meta).get("content")
    if content:
        item["content"] = content
    encrypted = encrypted_content_for_client(part)
    if encrypted is not None:
        item["encrypted_content"] = encrypted
    return item


def reasoning_part_to_upstream_item(part: ReasoningPart) -> dict[str, Any] | None:
    """A `ReasoningPart` → the reasoning input item sent to a Responses upstream, or None.

    Only OpenAI's own `encrypted_content` is sent: the gateway always calls upstream with
    `store: false`, so an item without it would be looked up by id on the server and 404, and
    another provider's signature (or plain thinking text) cannot be verified by OpenAI and
    cannot stand in for its hidden reasoning. Dropping it costs the model nothing it could use.
    """
    if part.signature_format != FORMAT or not part.signature:
        return None
    item: dict[str, Any] = {"type": "reasoning"}
    item_id = ns(part.meta).get("id")
    if item_id:
        item["id"] = item_id
    item["summary"] = summary_for(part)
    item["encrypted_content"] = part.signature
    return item
