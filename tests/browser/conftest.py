"""Browser fixtures: Debian's Chromium driven by Playwright's sync API.

The server under test comes from the `live_server_url` fixture of tests/conftest.py.
Without /usr/bin/chromium the browser tests are skipped, unless REQUIRE_BROWSER=1 (CI),
where a missing browser is a failure.

Every page runs in a fresh context (empty localStorage, so a new sender id), 360x740 like a
small phone, French locale. Requests to any host other than the loopback server are aborted
and recorded: the page must not fetch anything from outside.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Route

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
WEBHOOK_PATH = "/webhooks/rest/webhook"


@dataclass
class PageWatch:
    """What a page did that a test may want to check: errors, outside requests, messages sent."""

    console_errors: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)
    webhook_bodies: list[str] = field(default_factory=list)  # raw JSON bodies, in order


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} not found: install it with `apt-get install -y chromium`"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    # Imported here so that a machine without Playwright skips instead of failing collection.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page_watch() -> PageWatch:
    return PageWatch()


@pytest.fixture
def page(browser: Browser, page_watch: PageWatch) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="fr-FR")
    context.set_default_timeout(20_000)  # the first answer may wait for the NLU to warm up

    def route(route: Route) -> None:  # the page may only talk to the server under test
        url = route.request.url
        if url.startswith(("data:", "blob:")) or (urlsplit(url).hostname or "") in LOOPBACK_HOSTS:
            route.continue_()
        else:
            page_watch.outside_requests.append(url)
            route.abort()

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            page_watch.console_errors.append(message.text)

    def request(request: Request) -> None:
        if urlsplit(request.url).path == WEBHOOK_PATH:
            page_watch.webhook_bodies.append(request.post_data or "")

    context.route("**/*", route)
    tab = context.new_page()
    tab.on("console", console)
    tab.on("pageerror", lambda error: page_watch.console_errors.append(str(error)))
    tab.on("request", request)
    yield tab
    context.close()
