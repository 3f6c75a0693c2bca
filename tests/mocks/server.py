"""One aiohttp app serving every mock provider, told apart by path.

In tests:   base_url, stop = start_mock_server()       # background thread, own event loop
As a process: python -m tests.mocks.server --port 8901  # prints "listening on http://…"
"""

from __future__ import annotations

import argparse
import asyncio
import threading
from collections.abc import Callable

from aiohttp import web

from . import anthropic_mock, gemini_mock, openai_mock
from .control import add_control_routes, record_requests
from .openai_responses import add_responses_routes
from .state import STATE, MockKeys, MockState


async def shared_models(request: web.Request) -> web.StreamResponse:
    """GET /v1/models[/{model}] exists at OpenAI, Anthropic and Gemini: the auth header decides."""
    headers = request.headers
    if "x-api-key" in headers or "anthropic-version" in headers:
        return await anthropic_mock.list_models(request)
    if "x-goog-api-key" in headers or "key" in request.query:
        return await gemini_mock.list_models(request)
    return await openai_mock.models_handler("openai")(request)


def create_app(keys: MockKeys | None = None) -> web.Application:
    app = web.Application(middlewares=[record_requests], client_max_size=64 * 1024 * 1024)
    app[STATE] = MockState(keys=keys or MockKeys())
    add_control_routes(app)
    openai_mock.add_openai_routes(app)
    add_responses_routes(app)
    anthropic_mock.add_anthropic_routes(app)
    gemini_mock.add_gemini_routes(app)
    app.router.add_get("/v1/models", shared_models)
    app.router.add_get("/v1/models/{model}", shared_models)
    return app


async def _start(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    # A short shutdown timeout: hang faults must not keep a test waiting at teardown.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1]
    return runner, bound


def start_mock_server(
    host: str = "127.0.0.1", port: int = 0, keys: MockKeys | None = None
) -> tuple[str, Callable[[], None]]:
    """Run the mock in a daemon thread with its own loop; returns (base_url, stop)."""
    loop = asyncio.new_event_loop()
    app = create_app(keys)
    ready = threading.Event()
    bound: list[int] = []
    errors: list[OSError] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            runner, port_ = loop.run_until_complete(_start(app, host, port))
        except OSError as exc:  # surface bind errors to the caller
            errors.append(exc)
            ready.set()
            return
        bound.append(port_)
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=run, name="mock-providers", daemon=True)
    thread.start()
    ready.wait()
    if errors:
        raise errors[0]

    def stop() -> None:
        if loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)

    return f"http://{host}:{bound[0]}", stop



def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Faithful mock LLM providers on one port.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    defaults = MockKeys()
    for name in ("openai", "azure", "anthropic", "gemini"):
        parser.add_argument(f"--{name}-key", default=getattr(defaults, name))
    args = parser.parse_args(argv)
    keys = MockKeys(args.openai_key, args.azure_key, args.anthropic_key, args.gemini_key)

    async def serve() -> None:
        runner, bound = await _start(create_app(keys), args.host, args.port)
        print(f"listening on http://{args.host}:{bound}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
