"""One HTTP request as the handlers see it: method, path, query, headers, the route's match,
and the body as it arrives."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from multidict import CIMultiDictProxy, MultiDict, MultiDictProxy

from unigate.errors import PayloadTooLarge
from unigate.server.http.body import BodyStream

if TYPE_CHECKING:
    from unigate.server.http.protocol import HttpProtocol


class Request:
    __slots__ = ("_query", "app", "content", "headers", "keep_alive", "match_info", "method",
                 "path", "protocol", "query_string", "raw_path", "version")

    def __init__(self, protocol: HttpProtocol, method: str, raw_path: str, query_string: str,
                 path: str, headers: CIMultiDictProxy[str], version: str, keep_alive: bool) -> None:
        self.protocol = protocol
        self.app = protocol.app
        self.method = method
        self.raw_path = raw_path  # as sent, percent-encoded
        self.path = path  # decoded
        self.query_string = query_string
        self._query: MultiDictProxy[str] | None = None
        self.headers = headers
        self.version = version  # "1.1" or "1.0"
        self.keep_alive = keep_alive
        self.match_info: dict[str, str] = {}
        self.content = BodyStream(protocol)

    @property
    def query(self) -> MultiDictProxy[str]:
        if self._query is None:
            pairs = parse_qsl(self.query_string, keep_blank_values=True) if self.query_string else []
            self._query = MultiDictProxy(MultiDict(pairs))
        return self._query

    @property
    def content_length(self) -> int | None:
        value = self.headers.get("Content-Length")
        return int(value) if value is not None and value.isdigit() else None

    @property
    def remote(self) -> str | None:
        peer: Any = self.protocol.peer
        return peer[0] if isinstance(peer, tuple) else peer

    async def read(self) -> bytes:
        """The whole body; 413 beyond the application's limit."""
        limit = self.app.max_body_bytes
        length = self.content_length
        if length is not None and length > limit:
            raise PayloadTooLarge(f"request body of {length} bytes exceeds the limit of {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        while chunk := await self.content.readany():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
            chunks.append(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
