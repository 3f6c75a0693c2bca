"""The web console at /console: static files shipped in the package (`unigate/console`), with no
build step and nothing fetched from elsewhere at run time. Everything the console does goes
through the public admin API with the token the user signs in with; this module only serves files.

Files are read once, when the routes are added, and answered from memory with an ETag, so a
path can only name a shipped file (there is no file-system lookup to escape from)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from unigate.server.http import Request, Response, Router

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"
MOUNT = "/console"
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png",
          ".ico": "image/x-icon", ".json": "application/json"}
# The console runs only its own scripts and styles and talks only to this origin; it is never framed.
_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
                                "frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",  # revalidated by ETag: a new release is seen at once
}


class _File:
    __slots__ = ("body", "etag", "headers")

    def __init__(self, body: bytes, content_type: str) -> None:
        self.body = body
        self.etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        self.headers = {**_HEADERS, "Content-Type": content_type, "ETag": self.etag}


def _load(root: Path) -> dict[str, _File]:
    files: dict[str, _File] = {}
    for path in sorted(root.rglob("*")):
        content_type = _TYPES.get(path.suffix)
        if path.is_file() and content_type:
            files[path.relative_to(root).as_posix()] = _File(path.read_bytes(), content_type)
    return files


def add_routes(router: Router, root: Path = CONSOLE_DIR) -> None:
    files = _load(root)

    async def serve(request: Request) -> Response:
        name = request.match_info.get("path") or "index.html"
        f = files.get(name)
        if f is None:
            return Response(text=f"no such console file: {name}\n", status=404, headers=_HEADERS)
        if request.headers.get("If-None-Match") == f.etag:
            return Response(status=304, headers={"ETag": f.etag, "Cache-Control": "no-cache"})
        return Response(body=f.body, headers=f.headers)

    async def to_index(request: Request) -> Response:
        return Response(status=308, headers={"Location": f"{MOUNT}/"})

    router.add_get(MOUNT, to_index)
    router.add_get(f"{MOUNT}/", serve)
    router.add_get(f"{MOUNT}/{{path:.+}}", serve)
