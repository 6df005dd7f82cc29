"""What a parent is given to find their place at the door: their booking number on every
channel; on the web chat and Telegram, also the links to their check-in code and to the
calendar event (a basic phone reading an SMS often cannot open links)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from bot.assistant import Inbound
from workshops import store
from workshops.records import build


@pytest.fixture
async def workshop_ref(pool, conversations) -> str:  # type: ignore[no-untyped-def]
    ref = f"links-{uuid.uuid4().hex[:8]}"
    day = date.today() + timedelta(days=3)
    async with pool.connection() as connection:
        await store.save(
            connection,
            [
                build(
                    {
                        "ref": ref,
                        "title": "Pronote pas à pas",
                        "starts_at": f"{day} 09:00",
                        "ends_at": f"{day} 10:00",
                        "capacity": "5",
                        "status": "published",
                        "venue_name": "Collège",
                        "venue_address": "1 rue de l'École",
                    }
                )
            ],
            datetime.now(UTC),
        )
    conversations.workshops.refresh()
    return ref


async def _enrol(conversations, channel: str, sender: str, ref: str, language: str) -> str:  # type: ignore[no-untyped-def]
    payload = f'/workshop_enrol{{"workshop": "{ref}", "people": "2", "confirm": "yes"}}'
    outcome = await conversations.handle(Inbound(channel, sender, payload, language_hint=language))
    return "\n".join(reply.text for reply in outcome.replies)


async def _number(pool, ref: str) -> int:  # type: ignore[no-untyped-def]
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT e.id FROM enrolment e JOIN workshop w ON w.id = e.workshop_id "
            "WHERE w.ref = %s ORDER BY e.id DESC LIMIT 1",
            (ref,),
        )
        return int((await cursor.fetchone())[0])


@pytest.mark.parametrize(
    ("language", "number_label", "code_label"),
    [
        ("fr", "Votre numéro d'inscription", "Votre code à montrer à l'accueil"),
        ("ar", "رقم تسجيلك", "رمزك لتُظهره عند الاستقبال"),
        ("tr", "Kayıt numaranız", "Girişte göstereceğiniz kod"),
    ],
)
async def test_web_confirmation_gives_the_number_the_code_and_the_calendar(
    conversations, pool, workshop_ref, live_server_url, language, number_label, code_label
) -> None:
    sender = f"web-{uuid.uuid4().hex}"
    text = await _enrol(conversations, "web", sender, workshop_ref, language)
    number = await _number(pool, workshop_ref)
    assert f"{number_label}: {number}" in text.replace(" :", ":")
    code = re.search(rf"{code_label} ?: (\S+)", text)
    assert code is not None, text
    assert f"/ateliers/{workshop_ref}.ics" in text
    # The links work on this deployment (the test server shares the secret key).
    path = code.group(1).split("127.0.0.1:8000", 1)[1]
    async with httpx.AsyncClient(base_url=live_server_url) as client:
        page = await client.get(path)
        assert page.status_code == 200 and "<svg" in page.text
        calendar = await client.get(f"/ateliers/{workshop_ref}.ics")
        assert calendar.status_code == 200

    mine = await conversations.handle(
        Inbound("web", sender, "/my_enrolments", language_hint=language)
    )
    listed = "\n".join(reply.text for reply in mine.replies)
    assert str(number) in listed and "/code/" in listed


async def test_sms_confirmation_gives_the_number_without_links(
    conversations, pool, workshop_ref, phone
) -> None:
    text = await _enrol(conversations, "sms", phone, workshop_ref, "fr")
    number = await _number(pool, workshop_ref)
    assert f"Votre numéro d'inscription : {number}" in text
    assert "http" not in text
