"""Workshop reminders: when they fall (quiet hours, Sundays, holidays, the clock change), sent
once however often the scheduler runs, again after a change of time, and "2" to cancel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from bot.assistant import Inbound
from channels.sms import outgoing_sms
from liaison.i18n import Catalogs
from workshops import enrolment, store
from workshops.quiet_hours import QuietHours
from workshops.records import build
from workshops.reminders import due, send_due

PARIS = ZoneInfo("Europe/Paris")


def _workshop(start: str, timezone: str = "Europe/Paris", ref: str = "r1"):  # type: ignore[no-untyped-def]
    begin = datetime.fromisoformat(start)
    return build(
        {
            "ref": ref,
            "title": "Pronote pas à pas",
            "starts_at": start,
            "ends_at": (begin + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M"),
            "timezone": timezone,
            "capacity": "10",
            "status": "published",
            "venue_name": "Collège",
            "venue_address": "1 rue de l'École",
        }
    )


def _local(
    moments: list[tuple[int, datetime]], zone: str = "Europe/Paris"
) -> list[tuple[int, str]]:
    return [(h, m.astimezone(ZoneInfo(zone)).strftime("%a %d %H:%M")) for h, m in moments]


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        pytest.param("2027-01-11 10:00", [(48, "Sat 09 10:00"), (3, "Mon 11 08:00")], id="monday"),
        pytest.param("2027-01-12 09:00", [(48, "Mon 11 08:00"), (3, "Tue 12 08:00")], id="sunday"),
        pytest.param("2027-01-11 08:00", [(48, "Sat 09 08:00")], id="too-early-for-3h"),
        pytest.param("2026-12-28 10:00", [(48, "Sat 26 10:00"), (3, "Mon 28 08:00")], id="xmas"),
        # 48 real hours before Monday 10:00 (winter time) is Saturday 11:00 (summer time).
        pytest.param("2026-10-26 10:00", [(48, "Sat 24 11:00"), (3, "Mon 26 08:00")], id="dst"),
    ],
)
def test_when_reminders_fall(start: str, expected: list[tuple[int, str]]) -> None:
    assert _local(due(_workshop(start), [48, 3], QuietHours())) == expected


def test_a_guadeloupe_workshop_is_reminded_on_guadeloupe_time() -> None:
    workshop = _workshop("2026-05-28 10:00", timezone="America/Guadeloupe")
    # 27 May (Abolition of Slavery) is a holiday there: the 3 h reminder waits for 08:00.
    moments = due(workshop, [24, 3], QuietHours())
    assert _local(moments, "America/Guadeloupe") == [(24, "Thu 28 08:00"), (3, "Thu 28 08:00")]


async def test_reminders_are_queued_once_and_again_after_a_change(
    database, conversations, phone
) -> None:
    ref = f"remind-{datetime.now(UTC).timestamp()}"
    workshop = _workshop("2031-01-15 14:00", ref=ref)
    now = datetime(2031, 1, 15, 11, 0, tzinfo=PARIS)  # 3 h before
    await conversations.handle(Inbound("sms", phone, "bonjour"))
    async with await psycopg.AsyncConnection.connect(database.url) as connection:
        await store.save(connection, [workshop], now)
        cursor = await connection.execute("SELECT id FROM workshop WHERE ref = %s", (ref,))
        (workshop_id,) = await cursor.fetchone()
        cursor = await connection.execute("SELECT id FROM contact WHERE address = %s", (phone,))
        (contact_id,) = await cursor.fetchone()
        await enrolment.enrol(
            connection, workshop_id=workshop_id, contact_id=contact_id, people=1, now=now
        )
        options = {
            "hours_before": [48, 3],
            "quiet": QuietHours(),
            "renderers": {"sms": lambda replies: outgoing_sms(replies, 3)},
            "catalogs": Catalogs.load(["fr"]),
            "default_language": "fr",
        }
        first = await send_due(connection, now=now, **options)
        twice = await send_due(connection, now=now + timedelta(minutes=1), **options)
        moved = _workshop("2031-01-15 15:00", ref=ref)
        await store.save(connection, [moved], now)
        after_change = await send_due(connection, now=now + timedelta(hours=1), **options)
        await connection.commit()
        cursor = await connection.execute(
            "SELECT body FROM outbound_message WHERE address = %s AND kind = 'reminder' "
            "ORDER BY id",
            (phone,),
        )
        bodies = [row[0] for row in await cursor.fetchall()]

    assert (first, twice, after_change) == (1, 0, 1)
    assert bodies[0].startswith("Rappel : atelier « Pronote pas à pas »")
    assert "2. Je ne peux pas venir" in "\n".join(bodies)
    # "2" answers the reminder: the parent is asked to confirm the cancellation.
    outcome = await conversations.handle(Inbound("sms", phone, "2"))
    assert "Annuler votre inscription" in outcome.replies[0].text
