"""Routes: a method and a path template to a handler.

Templates follow the `{name}` / `{name:regex}` form (`{name}` is one path segment). Static
paths are one dict lookup; templates are tried in the order they were added. Method "*"
matches any method. Templates match the path with `%2F` and `%25` still encoded (so an
encoded slash stays inside a segment), and the values they capture are decoded."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Union
from urllib.parse import unquote

if TYPE_CHECKING:
    from unigate.server.http.request import Request
    from unigate.server.http.response import Response, StreamResponse

Handler = Callable[["Request"], Awaitable[Union["Response", "StreamResponse"]]]
_ENCODED_STRUCTURE = re.compile("(%2[Ff5])")


def _template_regex(template: str) -> re.Pattern[str] | None:
    """The regex of a template with placeholders; None for a static path."""
    out, i, dynamic = [], 0, False
    while i < len(template):
        if template[i] != "{":
            j = template.find("{", i)
            j = len(template) if j < 0 else j
            out.append(re.escape(template[i:j]))
            i = j
            continue
        depth, j = 0, i
        while True:  # the matching brace (a regex may hold braces of its own)
            depth += {"{": 1, "}": -1}.get(template[j], 0)
            if depth == 0:
                break
            j += 1
        name, _, pattern = template[i + 1:j].partition(":")
        out.append(f"(?P<{name}>{pattern or '[^{}/]+'})")
        dynamic = True
        i = j + 1
    return re.compile("".join(out)) if dynamic else None


def _safe_unquote(raw_path: str) -> str:
    """Decoded, except %2F and %25, which would change where segments begin and end."""
    parts = _ENCODED_STRUCTURE.split(raw_path)
    return "".join(p if i % 2 else unquote(p) for i, p in enumerate(parts))


class Router:
    def __init__(self) -> None:
        self._static: dict[str, dict[str, Handler]] = {}
        self._patterns: list[tuple[re.Pattern[str], dict[str, Handler]]] = []
        self._by_template: dict[str, dict[str, Handler]] = {}
        self._routes: list[tuple[str, str]] = []

    def add_route(self, method: str, template: str, handler: Handler) -> None:
        methods = self._by_template.get(template)
        if methods is None:
            methods = self._by_template[template] = {}
            regex = _template_regex(template)
            if regex is None:
                self._static[template] = methods
            else:
                self._patterns.append((regex, methods))
        methods[method] = handler
        self._routes.append((method, template))

    def add_get(self, template: str, handler: Handler) -> None:
        self.add_route("GET", template, handler)
        self.add_route("HEAD", template, handler)

    def add_post(self, template: str, handler: Handler) -> None:
        self.add_route("POST", template, handler)

    def add_put(self, template: str, handler: Handler) -> None:
        self.add_route("PUT", template, handler)

    def add_patch(self, template: str, handler: Handler) -> None:
        self.add_route("PATCH", template, handler)

    def add_delete(self, template: str, handler: Handler) -> None:
        self.add_route("DELETE", template, handler)

    def routes(self) -> list[tuple[str, str]]:
        """(method, template) for every route, in the order added."""
        return list(self._routes)

    def resolve(self, method: str, path: str, raw_path: str) -> tuple[Handler | None, dict[str, str]]:
        methods = self._static.get(path)
        if methods is not None:
            handler = methods.get(method) or methods.get("*")
            if handler is not None:
                return handler, {}
        safe = _safe_unquote(raw_path) if "%" in raw_path else raw_path
        for regex, methods in self._patterns:
            m = regex.fullmatch(safe)
            if m is not None:
                handler = methods.get(method) or methods.get("*")
                if handler is not None:
                    return handler, {k: unquote(v) for k, v in m.groupdict().items()}
        return None, {}
