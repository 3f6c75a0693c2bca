"""The web console, driven in headless Chromium (Debian's, which ./dev installs) through
Playwright, against a real `unigate serve` and the mock providers on loopback.

Fixtures: `gw` (one gateway for the module's tests, its admin token in gw.token), `browser`
(one Chromium per test module), `page` (a fresh browser context per test: nothing signed in,
and any uncaught script error on the page fails the test), `signed_in` (a page signed in as the
administrator). `shot(page, name)` writes docs/console/NAME.png when UNIGATE_CONSOLE_SCREENSHOTS=1
(how the screenshots in docs/console.md are made); otherwise it does nothing."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.gateway import Gateway, start_gateway
from tests.mocks.server import start_mock_server

pw_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps calling Google's hosts, which this
# closed network refuses; a test never needs them.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "console"
TIMEOUT_MS = 15_000


def console_config(mock: str) -> str:
    return f"""
providers:
  - {{name: openai-main, type: openai, base_url: "{mock}/v1", api_key: sk-mock-openai}}
  - {{name: claude, type: anthropic, base_url: "{mock}", api_key: sk-ant-mock}}
endpoints:
  - {{name: chat-openai, destinations: [{{provider: openai-main, model: gpt-4o-mini}}]}}
  - {{name: chat-anthropic, destinations: [{{provider: claude, model: claude-haiku-4-5}}]}}
  - {{name: emb-openai, destinations: [{{provider: openai-main, model: text-embedding-3-small}}]}}
settings:
  max_body_bytes: 1048576
"""


@pytest.fixture(scope="session")
def mock_url() -> Iterator[str]:
    url, stop = start_mock_server()
    yield url
    stop()


@pytest.fixture(scope="module")
def gw(mock_url: str) -> Iterator[Gateway]:
    gateway = start_gateway(console_config(mock_url), workers=1)
    yield gateway
    gateway.stop()


# One Chromium per test module, not per session: Playwright's sync API keeps an event loop
# running while it is started, which would break the asyncio tests that run after these.
@pytest.fixture(scope="module")
def browser() -> Iterator[pw_api.Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.fail("Chromium is missing: ./dev test installs Debian's chromium package")
    with pw_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: pw_api.Browser, gw: Gateway) -> Iterator[pw_api.Page]:
    context = browser.new_context(base_url=gw.url, viewport={"width": 1360, "height": 860})
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, f"uncaught script errors on the page: {errors}"


def sign_in(pg: pw_api.Page, token: str) -> None:
    pg.goto("/console/")
    pg.get_by_label("Token").fill(token)
    pg.get_by_role("button", name="Sign in").click()
    pw_api.expect(pg.get_by_role("button", name="Sign out")).to_be_visible()


@pytest.fixture
def signed_in(page: pw_api.Page, gw: Gateway) -> pw_api.Page:
    sign_in(page, gw.token)
    return page


def shot(pg: pw_api.Page, name: str) -> None:
    """docs/console/NAME.png, when asked for (UNIGATE_CONSOLE_SCREENSHOTS=1)."""
    if os.environ.get("UNIGATE_CONSOLE_SCREENSHOTS") != "1":
        return
    DOCS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(DOCS / f"{name}.png"), full_page=False)
