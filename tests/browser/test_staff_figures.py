"""The figures pages in a real Chromium on a 360x740 phone: signed in through the form, the
charts are drawn, fit the screen, and the page never scrolls sideways (the table scrolls on its
own); no console error (a CSP violation would be one), nothing fetched from outside.
"""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import psycopg
import pytest
from playwright.sync_api import Page, expect
from staff_helpers import PASSWORD
from test_figures import _enrolment, _held_workshop, _workshop

from liaison.database import Database
from staff import accounts, scopes

pytestmark = pytest.mark.browser

MARCH = datetime(2019, 3, 4, 14, 0, tzinfo=UTC)
LONG_TITLE = (  # 120 characters, the most a title may have: cut in charts, wrapped in tables
    "Pronote, l'ENT et ÉduConnect pas à pas : créer son compte, lire les notes, écrire aux "
    "professeurs, justifier une absence"
)
PHONE_WIDTH = 360


def _setup(database: Database) -> tuple[str, str]:
    """An organiser's e-mail and a query for one territory's workshops of March 2019, both
    committed (the app reads them on its own connections)."""
    email = f"browser-{uuid.uuid4().hex[:10]}@example.org"
    territory = f"browser-figures-{uuid.uuid4()}"

    async def seed() -> None:
        async with await psycopg.AsyncConnection.connect(database.url) as connection:
            account = await accounts.create(
                connection,
                email=email,
                name="Camille Navigateur",
                password=PASSWORD,
                roles=("organiser",),
                now=datetime.now(UTC),
            )
            held = await _held_workshop(connection, territory, starts_at=MARCH, title=LONG_TITLE)
            booked = await _workshop(connection, territory, starts_at=MARCH + timedelta(days=2))
            await _enrolment(connection, booked, people=3, language="tr")
            cancelled = await _workshop(connection, territory, starts_at=MARCH, status="cancelled")
            for workshop_id in (held, booked, cancelled):  # the organiser's own workshops
                await scopes.link_workshop(connection, account.id, workshop_id)

    # Playwright's sync API runs an event loop in this thread: seed from another one.
    with ThreadPoolExecutor(max_workers=1) as executor:
        executor.submit(asyncio.run, seed()).result(timeout=60)
    query = urlencode({"du": "2019-03-01", "au": "2019-03-31", "territoire": territory})
    return email, query


def _sign_in(page: Page, url: str, email: str) -> None:
    """Open `url`, which sends to the sign-in form, and sign in: back on `url`."""
    page.goto(url)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(url)


def _assert_fits_the_phone(page: Page, charts: int) -> None:
    svgs = page.locator("figure.chart svg")
    expect(svgs).to_have_count(charts)
    for svg in svgs.all():
        svg.scroll_into_view_if_needed()
        expect(svg).to_be_visible()
        box = svg.bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE_WIDTH
        assert box["height"] > 60  # drawn, not collapsed
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]"
    )
    assert max(widths[:2]) <= widths[2] == PHONE_WIDTH, widths


def test_the_figures_fit_a_phone(page: Page, page_watch, live_server_url, database) -> None:
    email, query = _setup(database)
    url = f"{live_server_url}/staff/chiffres?{query}"

    _sign_in(page, url, email)

    expect(page.get_by_role("heading", name="Chiffres des ateliers")).to_be_visible()
    expect(page.locator('[data-figure="enrolled"]')).to_have_text("8")
    expect(page.locator('[data-figure="attended"]')).to_have_text("6")
    expect(page.get_by_role("img", name="Remplissage par atelier")).to_be_visible()
    _assert_fits_the_phone(page, charts=6)
    table = page.locator(".scroll").first
    expect(table).to_be_visible()
    assert table.evaluate("e => e.clientWidth") <= PHONE_WIDTH
    download = page.get_by_role("link", name="Télécharger (CSV)")
    expect(download).to_have_attribute("href", f"/staff/chiffres.csv?{query}")

    page.get_by_role("link", name=LONG_TITLE).click()
    page.wait_for_url("**/chiffres")
    expect(page.locator('[data-figure="enrolled"]')).to_have_text("7")
    _assert_fits_the_phone(page, charts=5)

    assert page_watch.console_errors == []
    assert page_watch.outside_requests == []
