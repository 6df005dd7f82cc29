"""A notice already sent, for `make run`: the ENT activation reminder (a translated template)
to every family of the two demo schools (`schools.demo`), sent on the last day both schools
were in allowed hours, with its delivery figures.

It goes the way a notice goes: `records.create`, `sending.schedule`, then `sending.send_due`
twice, as the periodic job would have run it that day — at 10:00 in Saint-Denis, when the
Guadeloupe school is still in its night (its families wait), and at 09:00 in Pointe-à-Pitre.
The providers' answers are then recorded as their status callbacks record them
(`liaison.outbox.record_status`): most SMS delivered, two undelivered with Twilio's codes
(30003 unreachable handset, 30005 unknown handset), one with no report yet, Telegram messages
sent (Telegram reports no delivery). The three families who wrote STOP are counted as opted
out and get nothing.

Nothing reaches a worker: the `deliver` jobs `send_due` deferred are cancelled with
procrastinate's own function in the same transaction, so no message is sent again (and the
numbers are in the range kept for fiction anyway).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from psycopg import AsyncConnection

from broadcasts import records, sending
from broadcasts.records import Audience, Draft
from channels.base import Renderer
from liaison.i18n import Catalogs
from liaison.outbox import DELIVER_TASK, record_status
from schools.demo import COURBARIL, JEAN_MOULIN
from workshops.quiet_hours import QuietHours, next_allowed

Connection = AsyncConnection[Any]
TITLE = "Rappel : activer son compte ENT"
TEMPLATE = "ent_activation"
# When the job ran that day, on each school's clock (the Guadeloupe families wait for theirs).
RUNS = ((JEAN_MOULIN, time(10, 0)), (COURBARIL, time(9, 0)))
# What Twilio reported for some demo phones (`schools.demo`'s family numbers …02xx), as its
# status callback records it; every other SMS was delivered.
UNDELIVERED = {"+33639980212": "30003", "+33639980224": "30005"}
NO_REPORT_YET = frozenset({"+33639980221"})


def sending_day(today: date, quiet: QuietHours) -> date:
    """The last day before `today` when both demo schools were in allowed hours at their run."""
    for back in range(1, 15):
        day = today - timedelta(days=back)
        runs = [(_at(day, school.timezone, clock), school.timezone) for school, clock in RUNS]
        if all(next_allowed(moment, zone, quiet) == moment for moment, zone in runs):
            return day
    raise ValueError(f"no day in the two weeks before {today} was allowed in both schools")


def _at(day: date, timezone: str, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=ZoneInfo(timezone))


async def add_demo(
    connection: Connection,
    now: datetime,
    *,
    quiet: QuietHours,
    renderers: Mapping[str, Renderer],
    catalogs: Catalogs,
    default_language: str,
) -> int:
    """The demo notice, sent and reported, in the caller's transaction; returns its id.
    The demo schools must be there."""
    cursor = await connection.execute(
        "SELECT uai, id FROM school WHERE uai = ANY(%s)", ([JEAN_MOULIN.uai, COURBARIL.uai],)
    )
    schools = {str(uai): int(school_id) for uai, school_id in await cursor.fetchall()}
    if len(schools) != 2:
        raise ValueError("the demo schools are missing (schools.demo.add_demo adds them)")
    day = sending_day(now.astimezone(ZoneInfo(JEAN_MOULIN.timezone)).date(), quiet)
    runs = [_at(day, school.timezone, clock) for school, clock in RUNS]
    draft = Draft(
        title=TITLE,
        school_ids=tuple(sorted(schools.values())),
        audience=Audience(),
        template=TEMPLATE,
        placeholders={},
        texts={},
    )
    broadcast_id = await records.create(
        connection, draft, account_id=None, now=runs[0] - timedelta(minutes=40)
    )
    await sending.schedule(connection, broadcast_id, at=runs[0], urgent=False)
    for moment in runs:
        await sending.send_due(
            connection,
            now=moment,
            quiet=quiet,
            renderers=renderers,
            catalogs=catalogs,
            default_language=default_language,
        )
    await _cancel_jobs(connection, broadcast_id)
    await _report(connection, broadcast_id)
    return broadcast_id


async def _cancel_jobs(connection: Connection, broadcast_id: int) -> None:
    """The `deliver` jobs of the notice's messages leave the queue (procrastinate's cancel)."""
    await connection.execute(
        "SELECT procrastinate_cancel_job_v1(j.id, false, true) FROM procrastinate_jobs j "
        "WHERE j.task_name = %s AND j.status = 'todo' AND (j.args->>'message_id')::bigint IN "
        "(SELECT m.id FROM outbound_message m WHERE m.idempotency_key LIKE %s)",
        (DELIVER_TASK, f"broadcast:{broadcast_id}:%"),
    )


async def _report(connection: Connection, broadcast_id: int) -> None:
    """What the providers said, a few seconds after each message was queued."""
    cursor = await connection.execute(
        "SELECT id, channel, address, created_at FROM outbound_message "
        "WHERE idempotency_key LIKE %s ORDER BY id",
        (f"broadcast:{broadcast_id}:%",),
    )
    for number, (message_id, channel, address, queued_at) in enumerate(await cursor.fetchall()):
        sent_at = queued_at + timedelta(seconds=2 + number // 4)
        digest = hashlib.sha256(f"liaison-demo-{message_id}".encode()).hexdigest()[:32]
        provider_id = f"SM{digest}" if channel == "sms" else f"{address}:{4000 + message_id}"
        report = {"message_id": message_id, "channel": channel, "provider_id": provider_id}
        await record_status(connection, **report, status="sent", now=sent_at)
        if channel != "sms" or address in NO_REPORT_YET:
            continue
        reported_at = sent_at + timedelta(seconds=5)
        if address in UNDELIVERED:
            await record_status(
                connection,
                **report,
                status="failed",
                now=reported_at,
                code=UNDELIVERED[address],
                error="Twilio status undelivered",
            )
        else:
            await record_status(connection, **report, status="delivered", now=reported_at)


async def wanted(connection: Connection) -> bool:
    """For `make run`: no notice yet, and the demo schools are there."""
    cursor = await connection.execute(
        "SELECT NOT EXISTS (SELECT 1 FROM broadcast) "
        "AND (SELECT count(*) FROM school WHERE uai = ANY(%s)) = 2",
        ([JEAN_MOULIN.uai, COURBARIL.uai],),
    )
    row = await cursor.fetchone()
    return bool(row is not None and row[0])


async def add_demo_if_empty(
    url: str,
    now: datetime,
    *,
    quiet: QuietHours,
    renderers: Mapping[str, Renderer],
    catalogs: Catalogs,
    default_language: str,
) -> int | None:
    """For `make run`: the demo notice when `wanted()`; its id, or None."""
    async with await AsyncConnection.connect(url) as connection, connection.transaction():
        if not await wanted(connection):
            return None
        return await add_demo(
            connection,
            now,
            quiet=quiet,
            renderers=renderers,
            catalogs=catalogs,
            default_language=default_language,
        )
