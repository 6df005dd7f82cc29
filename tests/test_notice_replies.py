"""Parents answering a school notice: the notice goes out through the fake Twilio, the parent
answers by SMS. What the assistant cannot place (or a bare "oui") as the first message after the
notice opens the school's inbox with the notice attached, and the staff page shows the notice
as that parent read it; what the assistant can answer, it answers; a notice not received, or
received over a week ago, changes nothing; a conversation opened otherwise within the week still
carries the notice as context.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from broadcast_helpers import fetch, new_broadcast, new_family, new_school
from outbox_helpers import deliver_all
from staff_helpers import make_account

from bot import demo
from bot.assistant import Inbound
from broadcasts import sending
from liaison.jobs import renderers_for
from workshops import store
from workshops.quiet_hours import QuietHours
from workshops.records import build

SMS_WEBHOOK = "/webhooks/twilio/sms"
NOTICE = "Réunion parents-professeurs jeudi à 18h, salle 12. Merci de venir."


async def _family(pool: Any, school: int, phone: str) -> int:
    """A family of `school` whose one contact is the SMS number `phone`; the contact id."""
    _, [contact] = await new_family(pool, school)
    async with pool.connection() as connection:
        await connection.execute("UPDATE contact SET address = %s WHERE id = %s", (phone, contact))
    return contact


async def _notice(
    pool: Any, runtime: Any, school: int, *, at: datetime, quiet: QuietHours | None = None
) -> int:
    """A notice to `school`'s families, queued at `at` (urgent unless `quiet` is given)."""
    broadcast = await new_broadcast(pool, [school], texts={"fr": NOTICE})
    async with pool.connection() as connection:
        await sending.schedule(connection, broadcast, at=at, urgent=quiet is None)
        await sending.send_due(
            connection,
            now=at,
            quiet=quiet or QuietHours(),
            renderers=renderers_for(runtime.config),
            catalogs=runtime.catalogs,
            default_language="fr",
        )
    return broadcast


async def _notified(pool: Any, runtime: Any, delivery: Any, phone: str) -> tuple[int, int, int]:
    """A school, a family on the SMS number `phone`, and a notice delivered to it through the
    fake Twilio: (school, contact, notice) ids."""
    school = await new_school(pool)
    contact = await _family(pool, school, phone)
    broadcast = await _notice(pool, runtime, school, at=datetime.now(UTC))
    await deliver_all(delivery, pool, "sms", phone)
    return school, contact, broadcast


async def _text(url: str, fakes: Any, delivery: Any, pool: Any, phone: str, body: str) -> str:
    """The parent writes `body`; what they receive back, delivered through the fake Twilio."""
    before = len(fakes.twilio.messages_to(phone))
    answer = await fakes.twilio.send_inbound(url + SMS_WEBHOOK, from_=phone, body=body)
    assert answer.status_code == 200, answer.text
    await deliver_all(delivery, pool, "sms", phone)
    return "\n".join(m.body for m in fakes.twilio.messages_to(phone)[before:])


async def _handovers(pool: Any, contact: int) -> list[tuple[str, int | None]]:
    rows = await fetch(
        pool, "SELECT reason, broadcast_id FROM handover WHERE contact_id = %s ORDER BY id", contact
    )
    return [(str(reason), broadcast) for reason, broadcast in rows]


async def test_a_reply_the_assistant_cannot_place_reaches_the_school_with_the_notice(
    channel_server_url: str,
    channel_runtime: Any,
    fakes: Any,
    delivery: Any,
    pool: Any,
    staff_clients: Any,
    phone: str,
) -> None:
    school, contact, broadcast = await _notified(pool, channel_runtime, delivery, phone)
    assert fakes.twilio.messages_to(phone)[-1].body == NOTICE

    told = await _text(channel_server_url, fakes, delivery, pool, phone, "zzkq wpx vvb ?")
    # A first contact: what matters comes first, the assistant's welcome waits behind "1".
    assert told.startswith("Je transmets votre réponse") and "répondra" in told
    welcome = await _text(channel_server_url, fakes, delivery, pool, phone, "1")
    assert "assistant automatique" in welcome and "STOP" in welcome
    assert await _handovers(pool, contact) == [("notice_reply", broadcast)]
    [(school_of_handover,)] = await fetch(
        pool, "SELECT school_id FROM handover WHERE contact_id = %s", contact
    )
    assert school_of_handover == school

    account = await make_account(pool, roles=("school",), schools=(school,))
    client, answer = staff_clients.sign_in(channel_server_url, account.email)
    assert answer.status_code == 303
    [(handover_id,)] = await fetch(pool, "SELECT id FROM handover WHERE contact_id = %s", contact)
    page = client.get(f"/staff/messages/{handover_id}")
    assert page.status_code == 200
    assert "Annonce à laquelle le parent répond" in page.text
    assert NOTICE in page.text and f'href="/staff/annonces/{broadcast}"' in page.text
    assert "réponse à une annonce" in page.text and "zzkq wpx vvb" in page.text


@pytest.mark.parametrize(
    "answer",
    [
        "Oui",  # affirm, nothing offered to say yes to
        "Je ne pourrai pas venir à la réunion",  # workshop_cancel, and no workshop to cancel
        "no puedo ir",
    ],
)
async def test_a_bare_yes_or_i_cannot_come_after_a_notice_is_for_the_school(
    channel_server_url: str,
    channel_runtime: Any,
    fakes: Any,
    delivery: Any,
    pool: Any,
    phone: str,
    answer: str,
) -> None:
    _, contact, broadcast = await _notified(pool, channel_runtime, delivery, phone)
    told = await _text(channel_server_url, fakes, delivery, pool, phone, answer)
    assert "transmets votre réponse" in told or "Paso su respuesta" in told
    assert await _handovers(pool, contact) == [("notice_reply", broadcast)]


async def test_what_the_assistant_answers_stays_with_the_assistant(
    channel_server_url: str, channel_runtime: Any, fakes: Any, delivery: Any, pool: Any, phone: str
) -> None:
    _, contact, broadcast = await _notified(pool, channel_runtime, delivery, phone)
    answered = await _text(
        channel_server_url, fakes, delivery, pool, phone, "comment voir les notes sur pronote ?"
    )
    assert "Pronote" in answered
    # Not the first message after the notice any more: a misunderstanding gets the topics...
    first = await _text(channel_server_url, fakes, delivery, pool, phone, "zzkq wpx vvb")
    assert "transmets" not in first and await _handovers(pool, contact) == []
    # ...and the second one a person, who still sees the notice received this week.
    second = await _text(channel_server_url, fakes, delivery, pool, phone, "qqq xxjj")
    assert "transmets votre message" in second
    assert await _handovers(pool, contact) == [("fallbacks", broadcast)]


async def test_a_notice_not_received_or_too_old_changes_nothing(
    channel_server_url: str, channel_runtime: Any, fakes: Any, delivery: Any, pool: Any, phone: str
) -> None:
    school = await new_school(pool)
    contact = await _family(pool, school, phone)
    old = await _notice(pool, channel_runtime, school, at=datetime.now(UTC))
    await deliver_all(delivery, pool, "sms", phone)
    async with pool.connection() as connection:
        await connection.execute(
            "UPDATE outbound_message SET sent_at = sent_at - interval '8 days' "
            "WHERE id IN (SELECT outbound_message_id FROM broadcast_recipient "
            "WHERE broadcast_id = %s)",
            (old,),
        )
    # A notice still waiting for allowed hours (every hour is quiet here) has not reached them.
    waiting = await _notice(
        pool,
        channel_runtime,
        school,
        at=datetime.now(UTC),
        quiet=QuietHours(start=time(23, 59, 59), end=time(23, 59, 58)),
    )
    [(status,)] = await fetch(pool, "SELECT status FROM broadcast WHERE id = %s", waiting)
    told = await _text(channel_server_url, fakes, delivery, pool, phone, "zzkq wpx vvb")
    assert "transmets" not in told and await _handovers(pool, contact) == []
    assert status == "sending"  # its families wait for the morning
    asked = await _text(
        channel_server_url, fakes, delivery, pool, phone, "je veux parler à quelqu'un"
    )
    assert "transmets votre demande" in asked
    assert await _handovers(pool, contact) == [("handover", None)]
    async with pool.connection() as connection:
        await connection.execute(
            "UPDATE broadcast SET status = 'cancelled' WHERE id = %s", (waiting,)
        )


async def test_i_cannot_come_from_a_parent_with_a_workshop_is_for_the_assistant(
    conversations: Any, channel_runtime: Any, delivery: Any, pool: Any, phone: str
) -> None:
    school = await new_school(pool)
    contact = await _family(pool, school, phone)
    ref = f"notice-{uuid.uuid4().hex[:8]}"
    day = date.today() + timedelta(days=3)
    row = {"ref": ref, "title": "Pronote pas à pas", "capacity": "5", "status": "published"}
    row |= {"starts_at": f"{day} 09:00", "ends_at": f"{day} 10:00"}
    row |= {"venue_name": "Collège", "venue_address": "1 rue de l'École"}
    async with pool.connection() as connection:
        await store.save(connection, [build(row)], datetime.now(UTC))
    conversations.workshops.refresh()
    payload = f'/workshop_enrol{{"workshop": "{ref}", "people": "1", "confirm": "yes"}}'
    await conversations.handle(Inbound("sms", phone, payload))
    await _notice(pool, channel_runtime, school, at=datetime.now(UTC))
    await deliver_all(delivery, pool, "sms", phone)
    outcome = await conversations.handle(
        Inbound("sms", phone, "Je ne pourrai pas venir à la réunion")
    )
    assert outcome.intent == "workshop_cancel" and "Pronote pas à pas" in outcome.replies[0].text
    assert await _handovers(pool, contact) == []


async def test_the_demo_parent_answer_reaches_the_inbox(
    conversations: Any, channel_runtime: Any, delivery: Any, pool: Any, phone: str
) -> None:
    """`make run`'s answer to the demo notice (`bot.demo`), on a notice of this test's own."""
    _, contact, broadcast = await _notified(pool, channel_runtime, delivery, phone)
    inbound = Inbound("sms", phone, demo.REPLY.text)
    assert await demo.answer_notice(conversations, inbound)
    assert await _handovers(pool, contact) == [("notice_reply", broadcast)]
