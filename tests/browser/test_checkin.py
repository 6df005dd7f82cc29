"""Check-in at the door in a real Chromium on a small phone: sign in, search, tick a person
present, add a walk-in, watch the counts; scan a QR code (its URL), confirm, scan it again and
see it refused; the parent's code page in Arabic, right to left, with its QR code."""

from __future__ import annotations

import asyncio
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from phones import new_mobile
from playwright.sync_api import Page, expect

from liaison.signing import Signer, secret_key
from staff import accounts, scopes
from workshops import checkin_codes, store
from workshops.records import build

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"


@dataclass
class Door:
    email: str
    ref: str
    workshop_id: int
    enrolments: dict[str, int]
    phone: str


def _noon_zone() -> str:
    """A fixed-offset zone where it is now about noon: "today" holds either side."""
    offset = 12 - datetime.now(UTC).hour
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"


def _door(url: str) -> Door:
    """An organiser account and a workshop starting in half an hour, with three enrolments,
    made on their own connection in another thread (Playwright's sync API keeps an event loop
    running in this one)."""
    email = f"door-{uuid.uuid4().hex[:10]}@example.org"
    ref = f"door-{uuid.uuid4().hex[:10]}"
    phone = new_mobile()
    zone = _noon_zone()
    start = (datetime.now(UTC) + timedelta(minutes=30)).astimezone(ZoneInfo(zone))
    workshop = build(
        {
            "ref": ref,
            "title": "ENT et Pronote à la porte",
            "starts_at": start.strftime("%Y-%m-%d %H:%M"),
            "ends_at": (start + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M"),
            "timezone": zone,
            "capacity": "12",
            "status": "published",
            "languages": "fr;ar",
            "venue_name": "Médiathèque",
            "venue_address": "2 place de la Mairie",
        }
    )
    parents = {
        "sms": ("sms", phone, "fr", 2),
        "telegram": ("telegram", str(uuid.uuid4().int)[:10], "ar", 1),
        "web": ("web", f"web-{uuid.uuid4()}", "ar", 3),
    }

    async def create() -> Door:
        now = datetime.now(UTC)
        async with await psycopg.AsyncConnection.connect(url) as connection:
            account = await accounts.create(
                connection, email=email, name="Camille Accueil", password=PASSWORD, now=now
            )
            await store.save(connection, [workshop], now)
            cursor = await connection.execute("SELECT id FROM workshop WHERE ref = %s", (ref,))
            workshop_id = int((await cursor.fetchone())[0])
            await scopes.link_workshop(connection, account.id, workshop_id)  # the organiser's
            enrolments = {}
            for name, (channel, address, language, people) in parents.items():
                cursor = await connection.execute(
                    "INSERT INTO contact (channel, address, language, created_at, last_seen_at) "
                    "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                    (channel, address, language, now, now),
                )
                contact_id = (await cursor.fetchone())[0]
                cursor = await connection.execute(
                    "INSERT INTO enrolment (workshop_id, contact_id, people, status, "
                    "created_at, updated_at) VALUES (%s, %s, %s, 'confirmed', %s, %s) "
                    "RETURNING id",
                    (workshop_id, contact_id, people, now, now),
                )
                enrolments[name] = int((await cursor.fetchone())[0])
            await connection.commit()
        return Door(email, ref, workshop_id, enrolments, phone)

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, create()).result(timeout=30)


def _sign_in(page: Page, email: str) -> None:
    expect(page).to_have_url(re.compile(r"/staff/connexion\?suite="))
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()


def _fits_the_screen(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the page is {width}px wide on a 360px screen"


def _count(page: Page, name: str) -> str:
    return page.get_by_test_id(f"count-{name}").inner_text()


def test_check_in_at_the_door(
    page: Page, page_watch, live_server_url: str, database, settings
) -> None:
    door = _door(database.url)
    signer = Signer(secret_key(settings))
    ids = door.enrolments

    page.goto(f"{live_server_url}/staff/ateliers/{door.ref}/accueil")
    _sign_in(page, door.email)
    expect(page).to_have_url(re.compile(rf"/staff/ateliers/{door.ref}/accueil$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("ENT et Pronote à la porte")
    _fits_the_screen(page)
    assert (_count(page, "expected"), _count(page, "present"), _count(page, "walk-ins")) == (
        "6",
        "0",
        "0",
    )
    expect(page.get_by_test_id("person")).to_have_count(3)

    # Typing filters the list (checkin.js asks the server; no full number in the page).
    page.get_by_test_id("search").fill(door.phone[-4:])
    expect(page.get_by_test_id("person")).to_have_count(1)
    row = page.get_by_test_id("person")
    expect(row).to_contain_text(f"n° {ids['sms']}")
    expect(row).to_contain_text(door.phone[-2:])
    assert door.phone not in page.content()
    expect(page).to_have_url(re.compile(r"\?q=\d{4}$"))

    row.get_by_role("button", name="Présent").click()
    expect(page.locator(f"#e-{ids['sms']}")).to_contain_text("Présent")
    expect(page.get_by_test_id("count-present")).to_have_text("2")
    expect(page.locator(f"#e-{ids['sms']} [data-testid=attendance]")).to_be_visible()

    # Without the search, every line again; then a walk-in of three people in Arabic.
    page.get_by_test_id("search").fill("")
    expect(page.get_by_test_id("person")).to_have_count(3)
    form = page.get_by_test_id("walk-in-form")
    form.get_by_label("Nombre de personnes").fill("3")
    form.get_by_label("Langue").select_option("ar")
    form.get_by_label("Repère (facultatif)").fill("poussette bleue")
    form.get_by_role("button", name="Ajouter").click()
    expect(page.get_by_test_id("count-walk-ins")).to_have_text("3")
    expect(page.get_by_test_id("count-present")).to_have_text("5")
    expect(page.get_by_test_id("person").filter(has_text="poussette bleue")).to_contain_text(
        "arabe"
    )

    # The QR code of the Telegram parent, scanned: the card, confirm, the list on their line.
    token = checkin_codes.token(signer, ids["telegram"], door.workshop_id)
    page.goto(f"{live_server_url}/staff/accueil/{token}")
    expect(page.get_by_test_id("holder")).to_contain_text(f"n° {ids['telegram']}")
    _fits_the_screen(page)
    page.get_by_role("button", name="Confirmer l'arrivée").click()
    expect(page.get_by_role("status")).to_contain_text(f"N° {ids['telegram']} : arrivée notée.")
    expect(page.get_by_test_id("count-present")).to_have_text("6")
    expect(page.locator(f"#e-{ids['telegram']}")).to_contain_text("Présent")

    assert page_watch.console_errors == []
    assert page_watch.outside_requests == []

    # The same code again: refused, with the time it served.
    answer = page.goto(f"{live_server_url}/staff/accueil/{token}")
    assert answer is not None and answer.status == 409
    expect(page.get_by_test_id("refusal")).to_contain_text(
        re.compile(r"Ce code a déjà servi à \d\d:\d\d")
    )
    expect(page.get_by_role("button", name="Confirmer l'arrivée")).to_have_count(0)

    # A forged code: refused.
    answer = page.goto(f"{live_server_url}/staff/accueil/{token[:-2]}xx")
    assert answer is not None and answer.status == 400
    expect(page.get_by_test_id("refusal")).to_contain_text("Code non valable")

    # Chromium reports the refusals' own statuses, and nothing else.
    assert page_watch.console_errors == [
        f"Failed to load resource: the server responded with a status of {status}"
        for status in ("409 (Conflict)", "400 (Bad Request)")
    ]
    assert page_watch.outside_requests == []


def test_the_parents_code_page_in_arabic(
    page: Page, page_watch, live_server_url: str, database, settings
) -> None:
    door = _door(database.url)
    signer = Signer(secret_key(settings))
    token = checkin_codes.token(signer, door.enrolments["web"], door.workshop_id)

    page.goto(f"{live_server_url}/code/{token}?lang=ar")
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "ar")
    expect(html).to_have_attribute("dir", "rtl")
    expect(page.get_by_role("heading", level=1)).to_have_text("رمزك الخاص بالورشة")
    expect(page.get_by_text("أظهر هذا الرمز عند الاستقبال.")).to_be_visible()
    expect(page.get_by_test_id("number")).to_have_text(str(door.enrolments["web"]))
    qr = page.get_by_test_id("qr").locator("svg")
    expect(qr).to_be_visible()
    box = qr.bounding_box()
    assert box is not None and box["width"] >= 250 and box["width"] == box["height"], box
    _fits_the_screen(page)

    # In French by choice, and the page did not use the code.
    page.get_by_role("link", name="Français").click()
    expect(page.get_by_text("Montrez ce code à l'accueil.")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("dir", "ltr")

    assert page_watch.console_errors == []
    assert page_watch.outside_requests == []
