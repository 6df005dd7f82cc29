"""The demo data `make run` adds: upcoming and past workshops with parents, a waiting list,
attendance, walk-ins and day-7 answers; a school notice already sent, with its delivery
figures; each added once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot import demo as parent_demo
from broadcasts import demo as notice_demo
from broadcasts import figures as notice_figures
from broadcasts import records
from liaison.jobs import renderers_for
from liaison.outbox import DELIVER_TASK
from schools import demo as schools_demo
from workshops import figures
from workshops.demo import DEMO_ENROLMENTS, add_demo, past_demo_workshops
from workshops.quiet_hours import QuietHours


async def test_demo_data_is_added_once_with_a_full_workshop_and_a_history(pool) -> None:
    today, now = date.today(), datetime.now(UTC)
    async with pool.connection() as connection:
        await connection.execute("DELETE FROM workshop WHERE ref LIKE 'demo-%%'")
        assert await add_demo(connection, today, now) == 7
        assert await add_demo(connection, today, now) == 7  # refreshed, parents not doubled
        cursor = await connection.execute(
            "SELECT w.ref, e.status, sum(e.people), count(*) FROM enrolment e "
            "JOIN workshop w ON w.id = e.workshop_id WHERE w.ref LIKE 'demo-%%' "
            "GROUP BY w.ref, e.status"
        )
        rows = {
            (ref, status): (int(people), count)
            for ref, status, people, count in await cursor.fetchall()
        }
        assert sum(count for _, count in rows.values()) == len(DEMO_ENROLMENTS)
        assert rows[("demo-educonnect", "confirmed")][0] == 10  # every seat taken
        assert rows[("demo-educonnect", "waitlisted")][1] == 2
        cursor = await connection.execute("SELECT id FROM workshop WHERE ref = 'demo-past-pronote'")
        past = await figures.for_workshop(connection, (await cursor.fetchone())[0])
        # Other tests enrol in the demo workshops: leave them without the demo parents.
        await connection.execute(
            "DELETE FROM enrolment WHERE workshop_id IN "
            "(SELECT id FROM workshop WHERE ref LIKE 'demo-%%')"
        )
    assert past.figures.attended_parents == 6  # five enrolled and one walk-in
    assert past.figures.no_shows == 2 and past.figures.excused == 1
    assert (past.figures.autonomy.yes, past.figures.autonomy.not_yet) == (3, 1)
    for workshop in past_demo_workshops(today):
        assert workshop.local(workshop.ends_at).date() < today


async def test_demo_notice_is_sent_with_its_delivery_figures(pool, runtime) -> None:
    now = datetime.now(UTC)
    tools = {
        "quiet": QuietHours(),
        "renderers": renderers_for(runtime.config),
        "catalogs": runtime.catalogs,
        "default_language": "fr",
    }
    # The demo's fixed schools and codes must not stay for other tests.
    async with pool.connection() as connection, connection.transaction(force_rollback=True):
        await connection.execute(
            "DELETE FROM school WHERE uai = ANY(%s)",
            ([schools_demo.JEAN_MOULIN.uai, schools_demo.COURBARIL.uai],),
        )
        await connection.execute("DELETE FROM broadcast")  # as on a new database
        assert not await notice_demo.wanted(connection)  # not without the demo schools
        await schools_demo.add_demo(connection, now)
        assert await notice_demo.wanted(connection)
        broadcast_id = await notice_demo.add_demo(connection, now, **tools)
        assert not await notice_demo.wanted(connection)  # once
        notice = await records.load(connection, broadcast_id)
        result = await notice_figures.figures(connection, broadcast_id)
        cursor = await connection.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = %s "
            "AND (args->>'message_id')::bigint IN (SELECT id FROM outbound_message "
            "WHERE idempotency_key LIKE %s)",
            (DELIVER_TASK, f"broadcast:{broadcast_id}:%"),
        )
        jobs = (await cursor.fetchone())[0]
        cursor = await connection.execute(
            "SELECT m.channel, m.address, m.status, m.error_code, m.sent_at, m.delivered_at "
            "FROM outbound_message m WHERE m.idempotency_key LIKE %s",
            (f"broadcast:{broadcast_id}:%",),
        )
        messages = await cursor.fetchall()

    assert notice is not None and notice.status == "sent" and notice.template == "ent_activation"
    assert len(notice.school_ids) == 2 and not notice.urgent
    # Sent on a day before today, the Guadeloupe school at its own morning (09:00 there).
    assert notice.sent_at is not None and notice.scheduled_at is not None
    paris, guadeloupe = ZoneInfo("Europe/Paris"), ZoneInfo("America/Guadeloupe")
    assert notice.sent_at.astimezone(paris).date() < now.astimezone(paris).date()
    assert notice.scheduled_at.astimezone(paris).hour == 10
    assert notice.sent_at.astimezone(guadeloupe).hour == 9
    assert notice.created_at < notice.scheduled_at < notice.sent_at
    assert jobs == 0  # nothing left for `make run`'s worker to send again

    # The 30 families: 27 messages, the 3 who wrote STOP counted apart.
    total = result.total
    assert (total.total, total.waiting, total.queued, total.other) == (30, 0, 0, 0)
    assert (total.delivered, total.sent, total.failed, total.opted_out) == (17, 8, 2, 3)
    assert result.done
    lines = {(line.language, line.channel): line for line in result.lines}
    assert {language for language, _ in lines} == {"fr", "ar", "tr", "pt", "es", "en"}
    assert (lines["fr", "sms"].delivered, lines["fr", "sms"].failed) == (7, 1)
    assert lines["fr", "sms"].opted_out == 2 and lines["tr", "sms"].opted_out == 1
    assert (lines["pt", "sms"].delivered, lines["pt", "sms"].sent) == (1, 1)
    assert lines["pt", "sms"].failed == 1
    assert lines["ar", "sms"].delivered == 4 and lines["ar", "telegram"].sent == 2
    # Telegram reports no delivery: its messages stay "sent".
    assert sum(line.sent for (_, channel), line in lines.items() if channel == "telegram") == 7
    assert [(r.code, r.count) for r in result.reasons] == [("30003", 1), ("30005", 1)]
    assert len(messages) == 27  # one per family reached, each in a single part
    by_address = {address: (status, code) for _, address, status, code, *_ in messages}
    assert by_address["+33639980212"] == ("failed", "30003")
    assert by_address["+33639980224"] == ("failed", "30005")
    assert by_address[parent_demo.REPLY.address] == ("delivered", None)  # who answers it
    assert all(sent is not None and sent >= notice.scheduled_at for *_, sent, _ in messages)
    assert all(
        (status == "delivered") == (delivered is not None)
        for _, _, status, _, _, delivered in messages
    )
    assert all(sent < now - timedelta(hours=1) for *_, sent, _ in messages)


def test_demo_notice_waits_for_a_day_allowed_in_both_schools() -> None:
    quiet = QuietHours()
    assert notice_demo.sending_day(date(2026, 11, 30), quiet) == date(2026, 11, 28)  # not Sunday
    # 27 May is a public holiday in Guadeloupe (abolition of slavery), not in Saint-Denis.
    assert notice_demo.sending_day(date(2026, 5, 28), quiet) == date(2026, 5, 26)
    # 1 May everywhere: the Thursday before.
    assert notice_demo.sending_day(date(2026, 5, 2), quiet) == date(2026, 4, 30)
