"""Every wire format, looked up by name. Each codec package describes its own format in its
`format.py` (see `codecs.wire_format.WireFormat`); this module only collects them."""

from __future__ import annotations

from unigate.codecs.anthropic.format import FORMAT as ANTHROPIC
from unigate.codecs.gemini.format import BATCH_EMBED_DIALECT as GEMINI_BATCH_EMBED
from unigate.codecs.gemini.format import EMBED_CONTENT_DIALECT as GEMINI_EMBED_CONTENT
from unigate.codecs.gemini.format import EMBED_FORMAT as GEMINI_EMBED
from unigate.codecs.gemini.format import FORMAT as GEMINI
from unigate.codecs.openai_chat.format import EMBED_DIALECT as OPENAI_EMBEDDINGS_DIALECT
from unigate.codecs.openai_chat.format import EMBED_FORMAT as OPENAI_EMBEDDINGS
from unigate.codecs.openai_chat.format import FORMAT as OPENAI_CHAT
from unigate.codecs.openai_responses.format import FORMAT as OPENAI_RESPONSES
from unigate.codecs.wire_format import ClientOptions, EmbedDialect, EmbedFormat, WireFormat

FORMATS: dict[str, WireFormat] = {f.name: f for f in (OPENAI_CHAT, OPENAI_RESPONSES, ANTHROPIC, GEMINI)}
EMBED_FORMATS: dict[str, EmbedFormat] = {f.name: f for f in (OPENAI_EMBEDDINGS, GEMINI_EMBED)}
EMBED_DIALECTS: dict[str, EmbedDialect] = {
    d.name: d for d in (OPENAI_EMBEDDINGS_DIALECT, GEMINI_EMBED_CONTENT, GEMINI_BATCH_EMBED)}

__all__ = ["EMBED_DIALECTS", "EMBED_FORMATS", "FORMATS", "ClientOptions", "EmbedDialect", "EmbedFormat",
           "WireFormat"]
