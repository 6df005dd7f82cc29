"""School notices in a real Chromium on a small phone: a member of a school's staff writes a
notice to the families of one level in Arabic and Turkish with a translated template, checks
the preview (each language and channel as it will leave, the SMS it costs, the families it
reaches and those it cannot), writes it again in French and Arabic only and is warned that the
Turkish families will get the French text, schedules it for later, finds it in the list, and
cancels it."""

from __future__ import annotations

import asyncio
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from babel.dates import format_date, format_time
from playwright.sync_api import Page, expect

from channels.sms_text import segments
from staff import accounts, scopes

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"
MEETING = date(2033, 3, 10)
# (language, preferred channel, contacts as (channel, opted out), classes); the notice is for
# level 6e in Arabic and Turkish.
FAMILIES: list[tuple[str, str | None, tuple[tuple[str, bool], ...], tuple[str, ...]]] = [
    ("ar", None, (("sms", False),), ("6eA",)),
    ("ar", None, (("sms", False),), ("6eA", "6eB")),  # two children: one message
    ("tr", None, (("sms", False),), ("6eB",)),
    ("tr", "telegram", (("sms", False), ("telegram", False)), ("6eA",)),
    ("fr", None, (("sms", False),), ("6eA",)),  # not in the chosen languages
    ("ar", None, (("sms", True),), ("6eB",)),  # wrote STOP
    ("ar", None, (), ("6eA",)),  # no number, no Telegram
    ("ar", None, (("sms", False),), ("5eA",)),  # another level
]


def _run(coroutine):  # type: ignore[no-untyped-def]
    """Run on a connection of its own in another thread (Playwright's sync API keeps an
    event loop running in this one)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=30)


def _seed(url: str) -> tuple[str, str]:
    """A school with the families above, another school, and a member of the first one's
    staff; (school name, e-mail)."""
    email = f"notices-{uuid.uuid4().hex[:10]}@example.org"
    tag = uuid.uuid4().hex[:6].upper()
    name = f"Collège Louise Michel {tag}"

    async def create() -> None:
        now = datetime.now(UTC)
        async with await psycopg.AsyncConnection.connect(url) as connection:
            account = await accounts.create(
                connection,
                email=email,
                name="Nadia Secrétariat",
                password=PASSWORD,
                roles=("school",),
                now=now,
            )
            school_ids = []
            for school in (name, f"Lycée Voisin {tag}"):
                code = uuid.uuid4().hex[:8].upper()
                cursor = await connection.execute(
                    "INSERT INTO school (uai, name, timezone, join_code, created_at) "
                    "VALUES (%s, %s, 'Europe/Paris', %s, %s) RETURNING id",
                    (code, school, code, now),
                )
                school_ids.append(int((await cursor.fetchone() or (0,))[0]))
            await scopes.grant_school(connection, account.id, school_ids[0])
            for language, preferred, contacts, classes in FAMILIES:
                await _family(connection, school_ids[0], language, preferred, contacts, classes)
            await connection.commit()

    _run(create())
    return name, email


async def _family(
    connection: psycopg.AsyncConnection[Any],
    school_id: int,
    language: str,
    preferred: str | None,
    contacts: tuple[tuple[str, bool], ...],
    classes: tuple[str, ...],
) -> None:
    now = datetime.now(UTC)
    cursor = await connection.execute(
        "INSERT INTO family (language, preferred_channel, created_at, updated_at) "
        "VALUES (%s, %s, %s, %s) RETURNING id",
        (language, preferred, now, now),
    )
    family_id = (await cursor.fetchone() or (0,))[0]
    for class_name in classes:
        await connection.execute(
            "INSERT INTO family_school (family_id, school_id, level, class_name, source, "
            "joined_at) VALUES (%s, %s, %s, %s, 'import', %s)",
            (family_id, school_id, class_name[:2], class_name, now),
        )
    for channel, opted_out in contacts:
        number = str(uuid.uuid4().int)
        address = f"+3375{number[:7]}" if channel == "sms" else number[:10]
        cursor = await connection.execute(
            "INSERT INTO contact (channel, address, language, created_at, last_seen_at, "
            "opted_out_at) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            (channel, address, language, now, now, now if opted_out else None),
        )
        contact_id = (await cursor.fetchone() or (0,))[0]
        await connection.execute(
            "INSERT INTO family_contact (family_id, contact_id) VALUES (%s, %s)",
            (family_id, contact_id),
        )


def _notice(url: str, title: str) -> tuple[str, int, int]:
    """The notice's status, its recipients and its outbox messages."""

    async def read() -> tuple[str, int, int]:
        async with await psycopg.AsyncConnection.connect(url) as connection:
            cursor = await connection.execute(
                "SELECT b.status, (SELECT count(*) FROM broadcast_recipient r "
                "WHERE r.broadcast_id = b.id), (SELECT count(*) FROM outbound_message m "
                "WHERE m.idempotency_key LIKE 'broadcast:' || b.id || ':%%') "
                "FROM broadcast b WHERE b.title = %s",
                (title,),
            )
            row = await cursor.fetchone()
            assert row is not None, title
            return str(row[0]), int(row[1]), int(row[2])

    return _run(read())  # type: ignore[no-any-return]


def _cancel_if_left(url: str, title: str) -> None:
    """Whatever happened, no notice of this test stays due for a worker."""

    async def cancel() -> None:
        async with await psycopg.AsyncConnection.connect(url) as connection:
            await connection.execute(
                "UPDATE broadcast SET status = 'cancelled' "
                "WHERE title = %s AND status IN ('scheduled', 'sending')",
                (title,),
            )
            await connection.commit()

    _run(cancel())


def _fits_the_screen(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the page is {width}px wide on a 360px screen: {_too_wide(page)}"


def _too_wide(page: Page) -> list[str]:
    """The elements that stick out of the screen, to say what to fix."""
    return page.evaluate(  # type: ignore[no-any-return]
        "[...document.querySelectorAll('body *')]"
        ".filter(e => e.getBoundingClientRect().right > 361)"
        ".slice(0, 5).map(e => e.outerHTML.slice(0, 100))"
    )


def _card(page: Page, language: str, channel: str):  # type: ignore[no-untyped-def]
    return page.locator(
        f'[data-testid="preview"][data-language="{language}"][data-channel="{channel}"]'
    )


def _shown_segments(page: Page, language: str) -> tuple[str, int]:
    """The SMS body shown for `language` and the segments the page says it costs, checked
    against the body's own count."""
    card = _card(page, language, "sms")
    expect(card.locator("pre.message")).to_have_count(1)
    body = card.locator("pre.message").text_content() or ""
    shown = int(card.get_by_test_id("segments").inner_text())
    assert shown == segments(body).count, (language, body)
    return body, shown


def test_compose_preview_schedule_and_cancel_a_notice(
    page: Page, page_watch, live_server_url: str, database
) -> None:
    school, email = _seed(database.url)
    title = f"Réunion des 6e {uuid.uuid4().hex[:6]}"
    try:
        _compose_preview_schedule_and_cancel(page, live_server_url, school, email, title)
    finally:
        _cancel_if_left(database.url, title)
    # Cancelled before it left: nobody was written to.
    assert _notice(database.url, title) == ("cancelled", 0, 0)
    assert page_watch.console_errors == [] and page_watch.outside_requests == []


def _compose_preview_schedule_and_cancel(
    page: Page, url: str, school: str, email: str, title: str
) -> None:
    page.goto(f"{url}/staff/annonces/nouvelle")
    expect(page).to_have_url(re.compile(r"/staff/connexion\?suite="))
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Nouvelle annonce")).to_be_visible()
    _fits_the_screen(page)

    # Only the account's school is offered.
    schools = page.get_by_role("group", name="Écoles")
    expect(schools.get_by_role("checkbox")).to_have_count(1)
    expect(schools).not_to_contain_text("Lycée Voisin")

    # Level 6e, Arabic and Turkish families, the parent-teacher meeting template.
    page.get_by_label("Titre").fill(title)
    schools.get_by_label(school).check()
    page.get_by_label("Niveaux").fill("6e")
    page.locator('input[name="langue-ar"]').check()
    page.locator('input[name="langue-tr"]').check()
    page.locator('select[name="modele"]').select_option("parent_meeting")
    page.locator('input[name="champ-date"]').fill(MEETING.isoformat())
    page.locator('input[name="champ-heure"]').fill("17:30")
    page.locator('input[name="champ-lieu"]').fill("Salle polyvalente")
    page.locator('input[name="champ-classe"]').fill("6e")
    page.get_by_role("button", name="Enregistrer et voir l'aperçu").click()

    expect(page.get_by_role("status")).to_have_text(
        "Brouillon enregistré. Vérifiez l'aperçu avant d'envoyer."
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text("Brouillon")
    _fits_the_screen(page)
    # Four families: two Arabic and one Turkish by SMS, one Turkish on Telegram (its
    # preferred channel); one opted out and one without a number are counted apart.
    expect(page.get_by_test_id("recipients")).to_have_text(
        re.compile(r"^\s*4 famille\(s\) · SMS : 3 · Telegram : 1\s*$")
    )
    destinataires = page.get_by_role("region", name="Destinataires")
    expect(destinataires).to_contain_text("1 famille(s) désinscrite(s) (STOP)")
    expect(destinataires).to_contain_text("1 famille(s) sans numéro ni Telegram")
    expect(page.get_by_test_id("fallback")).to_have_count(0)  # the template is in every language

    # Each language as it will leave, with the date and time written for its reader.
    expect(page.get_by_test_id("preview")).to_have_count(5)  # + French on both channels
    expect(_card(page, "ar", "sms")).to_contain_text("2 famille(s)")
    expect(_card(page, "tr", "sms")).to_contain_text("1 famille(s)")
    expect(_card(page, "tr", "telegram")).to_contain_text("1 famille(s)")
    expect(_card(page, "fr", "sms")).to_contain_text("0 famille(s)")
    for language, channel in (("ar", "sms"), ("tr", "sms"), ("tr", "telegram")):
        message = _card(page, language, channel).locator("pre.message")
        expect(message).to_contain_text(format_date(MEETING, "EEEE d MMMM", locale=language))
        expect(message).to_contain_text(format_time(time(17, 30), "short", locale=language))
        expect(message).to_contain_text("Salle polyvalente")
        expect(message).to_have_attribute("lang", language)
    expect(_card(page, "ar", "sms").locator("pre.message")).to_have_attribute("dir", "rtl")
    expect(_card(page, "tr", "telegram").get_by_test_id("segments")).to_have_count(0)
    french, french_segments = _shown_segments(page, "fr")
    assert french.startswith("Bonjour. Réunion des parents avec les professeurs de la classe 6e.")
    arabic, arabic_segments = _shown_segments(page, "ar")
    # Arabic goes as UCS-2, 70 characters a segment: the same notice costs more.
    assert segments(arabic).encoding == "UCS-2" and arabic_segments > french_segments
    _shown_segments(page, "tr")

    # Written by the team in French and Arabic instead: the Turkish families get the French.
    page.get_by_role("link", name="Modifier").click()
    expect(page.get_by_role("heading", name="Modifier l'annonce")).to_be_visible()
    expect(page.get_by_label("Niveaux")).to_have_value("6e")
    expect(page.locator('input[name="langue-tr"]')).to_be_checked()
    page.locator('select[name="modele"]').select_option("")
    page.locator('textarea[name="texte-fr"]').fill(
        "Bonjour. Réunion des parents de 6e le jeudi 10 mars à 17h30, salle polyvalente."
    )
    page.locator('textarea[name="texte-ar"]').fill(
        "مرحبا. اجتماع أولياء أمور السنة السادسة يوم الخميس 10 مارس على الساعة 17:30."
    )
    page.get_by_role("button", name="Enregistrer et voir l'aperçu").click()
    expect(page.get_by_test_id("fallback")).to_have_text(
        "Pas de texte en Türkçe : ces familles recevront le texte en français."
    )
    for channel in ("sms", "telegram"):
        message = _card(page, "tr", channel).locator("pre.message")
        expect(message).to_contain_text("Bonjour. Réunion des parents de 6e")
        expect(message).to_have_attribute("lang", "fr")
    expect(_card(page, "ar", "sms").locator("pre.message")).to_contain_text("اجتماع أولياء")
    expect(page.get_by_test_id("recipients")).to_contain_text("4 famille(s)")
    _fits_the_screen(page)

    # Later: next week, 10:00 on the school's clock.
    day = datetime.now(ZoneInfo("Europe/Paris")).date() + timedelta(days=7)
    page.locator('input[name="mode"][value="plus-tard"]').check()
    page.get_by_label("Date et heure d'envoi").fill(f"{day.isoformat()}T10:00")
    page.get_by_role("button", name="Envoyer à 4 famille(s)").click()
    expect(page.get_by_role("status")).to_have_text("Annonce programmée.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Programmée")
    expect(page.locator("p.meta").first).to_contain_text(
        f"envoi prévu le {day.strftime('%d/%m/%Y')} 10:00 (Europe/Paris)"
    )

    page.get_by_role("link", name="← Toutes les annonces").click()
    card = page.get_by_test_id("broadcast-card").filter(has_text=title)
    expect(card).to_have_count(1)
    expect(card.locator(".badge")).to_have_text("Programmée")
    _fits_the_screen(page)

    card.get_by_role("link", name=title).click()
    page.get_by_role("button", name="Annuler l'envoi").click()
    expect(page.get_by_role("status")).to_have_text("Annonce annulée.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Annulée")
    expect(page.get_by_role("button", name="Annuler l'envoi")).to_have_count(0)
    page.get_by_role("link", name="← Toutes les annonces").click()
    expect(card.locator(".badge")).to_have_text("Annulée")
