"""The organisers' workshop pages in a real Chromium on a small phone: sign in, create a
workshop through the form, publish it, find it in the list."""

from __future__ import annotations

import asyncio
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import psycopg
import pytest
from playwright.sync_api import Page, expect

from staff import accounts

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"


def _account(url: str) -> str:
    """A new organiser account, made on its own connection in another thread (Playwright's
    sync API keeps an event loop running in this one)."""
    email = f"browser-{uuid.uuid4().hex[:10]}@example.org"

    async def create() -> None:
        async with await psycopg.AsyncConnection.connect(url) as connection:
            await accounts.create(
                connection,
                email=email,
                name="Camille Navigateur",
                password=PASSWORD,
                now=datetime.now(UTC),
            )

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, create()).result(timeout=30)
    return email


def _fits_the_screen(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the page is {width}px wide on a 360px screen"


def test_create_publish_and_list_a_workshop(
    page: Page, page_watch, live_server_url: str, database
) -> None:
    email = _account(database.url)
    title = f"Pronote au téléphone {uuid.uuid4().hex[:6]}"

    page.goto(f"{live_server_url}/staff/ateliers")
    expect(page).to_have_url(re.compile(r"/staff/connexion\?suite="))
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(re.compile(r"/staff/ateliers$"))
    _fits_the_screen(page)

    page.get_by_role("link", name="Nouvel atelier").click()
    expect(page.get_by_role("heading", name="Nouvel atelier")).to_be_visible()
    _fits_the_screen(page)
    page.get_by_label("Titre").fill(title)
    page.get_by_label("Pronote").check()
    page.get_by_label("Fuseau horaire du lieu").select_option("Indian/Reunion")
    page.get_by_label("Début (heure du lieu)").fill("2033-02-09T14:00")
    page.get_by_label("Fin (heure du lieu)").fill("2033-02-09T15:30")
    page.get_by_label("Lieu (nom)").fill("Médiathèque François-Mitterrand")
    page.get_by_label("Adresse").fill("1 rue de la Mairie, Saint-Denis")
    page.get_by_label("Places").fill("15")
    page.get_by_label("العربية").check()
    page.get_by_role("button", name="Créer le brouillon").click()

    expect(page.get_by_role("status")).to_contain_text("Atelier créé en brouillon")
    ref = re.search(r"atelier=([\w-]+)", page.url)
    assert ref is not None, page.url
    card = page.locator(f'[data-ref="{ref.group(1)}"]')
    expect(card).to_contain_text(title)
    expect(card.locator(".badge")).to_have_text("Brouillon")
    card.get_by_role("button", name="Publier").click()

    expect(page.get_by_role("status")).to_contain_text("Atelier publié")
    card = page.locator(f'[data-ref="{ref.group(1)}"]')
    expect(card.locator(".badge").first).to_have_text("Publié")
    expect(card).to_contain_text("mercredi 9 février 2033, 14:00–15:30, heure de La Réunion")
    expect(card).to_contain_text("0 / 15")
    expect(card.locator("a.invite")).to_have_attribute(
        "href", re.compile(rf"/\?atelier={ref.group(1)}$")
    )
    expect(card.get_by_role("button", name="Publier")).to_have_count(0)
    _fits_the_screen(page)
    assert page_watch.console_errors == []
    assert page_watch.outside_requests == []
