"""The staff inbox in a real Chromium on a small phone: a parent asks the web chat for a person
and is told when one will answer; a member of the school's staff finds the conversation in
the inbox, sees the parent's language, answers; the answer is listed in the history and
reaches the parent's chat page."""

from __future__ import annotations

import asyncio
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import psycopg
import pytest
from broadcast_helpers import join_contact
from playwright.sync_api import Browser, Page, expect
from psycopg.types.json import Jsonb

from staff import accounts, scopes

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"
HOURS = {day: [["08:30", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


def _run(coroutine):  # type: ignore[no-untyped-def]
    """Run on a connection of its own in another thread (Playwright's sync API keeps an
    event loop running in this one)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=30)


def _school_and_staff(url: str) -> tuple[int, str]:
    """A school and a member of its staff; (school id, e-mail)."""
    email = f"inbox-{uuid.uuid4().hex[:10]}@example.org"
    code = uuid.uuid4().hex[:8].upper()

    async def create() -> tuple[int, str]:
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
            cursor = await connection.execute(
                "INSERT INTO school (uai, name, timezone, join_code, opening_hours, created_at) "
                "VALUES (%s, 'Collège Jean Moulin', 'Europe/Paris', %s, %s, %s) RETURNING id",
                (code, code, Jsonb(HOURS), now),
            )
            row = await cursor.fetchone()
            assert row is not None
            await scopes.grant_school(connection, account.id, int(row[0]))
            await connection.commit()
            return int(row[0]), email

    return _run(create())  # type: ignore[no-any-return]


def _join(url: str, sender: str, school_id: int) -> None:
    """The web parent `sender` (Arabic) in a family of the school (as joining it would do)."""

    async def create() -> None:
        async with await psycopg.AsyncConnection.connect(url) as connection:
            await join_contact(connection, "web", sender, school_id, language="ar")
            await connection.commit()

    _run(create())


def _ask(page: Page, text: str) -> None:
    before = page.get_by_test_id("msg-bot").count()
    page.get_by_test_id("chat-input").fill(text)
    page.get_by_test_id("chat-send").click()
    expect(page.get_by_test_id("msg-bot")).to_have_count(before + 1, timeout=20_000)


def test_staff_answer_a_parent_from_the_inbox(
    page: Page, browser: Browser, live_server_url: str, database, page_watch
) -> None:
    school_id, email = _school_and_staff(database.url)

    # The parent, on the web chat in Arabic, asks for a person.
    page.goto(f"{live_server_url}/?lang=ar")
    expect(page.get_by_test_id("msg-bot").first).to_be_visible(timeout=20_000)
    sender = page.evaluate("localStorage.getItem('liaison.sender')")
    _join(database.url, sender, school_id)
    page.get_by_test_id("chat-input").fill("أريد التحدث مع شخص")
    page.get_by_test_id("chat-send").click()
    told = page.get_by_test_id("msg-bot").last
    expect(told).to_contain_text("فريق المدرسة", timeout=20_000)
    question = f"ابني فقد اللوحة {uuid.uuid4().hex[:6]}"
    page.get_by_test_id("chat-input").fill(question)
    page.get_by_test_id("chat-send").click()
    expect(page.get_by_test_id("msg-user").last).to_have_text(question)

    # A member of the school's staff, on their own phone.
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="fr-FR")
    staff = context.new_page()
    try:
        staff.goto(f"{live_server_url}/staff/messages")
        staff.get_by_label("E-mail").fill(email)
        staff.get_by_label("Mot de passe").fill(PASSWORD)
        staff.get_by_role("button", name="Se connecter").click()
        expect(staff).to_have_url(re.compile(r"/staff/messages$"))
        card = staff.get_by_test_id("handover").filter(has_text=question)
        expect(card).to_have_count(1)
        expect(card.get_by_test_id("language")).to_have_text("arabe (العربية)")
        expect(card).to_contain_text("Collège Jean Moulin")
        expect(card).to_contain_text("attend depuis")
        assert staff.evaluate("document.documentElement.scrollWidth") <= 360

        card.get_by_role("link").click()
        expect(staff.get_by_test_id("language")).to_contain_text("arabe")
        expect(staff.get_by_test_id("turn-parent").last).to_contain_text(question)
        answer = "مرحبا، يمكنك المرور إلى الإدارة غدا صباحا."
        staff.get_by_test_id("reply-text").fill(answer)
        staff.get_by_role("button", name="Envoyer").click()
        expect(staff.get_by_role("status")).to_have_text("Message envoyé.")
        expect(staff.get_by_test_id("turn-staff").last).to_contain_text(answer)
        expect(staff.get_by_test_id("turn-staff").last).to_contain_text("Nadia Secrétariat")
        assert staff.evaluate("document.documentElement.scrollWidth") <= 360

        staff.goto(f"{live_server_url}/staff/messages")
        expect(card).to_contain_text("répondu")
    finally:
        context.close()

    # The parent's page fetches what staff wrote (when it comes back to the front).
    page.evaluate("window.dispatchEvent(new Event('focus'))")
    expect(page.get_by_test_id("msg-staff")).to_have_text(answer)
    assert page_watch.console_errors == [] and page_watch.outside_requests == []
