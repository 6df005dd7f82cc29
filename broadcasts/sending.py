"""Sending a notice: send now or schedule it, and the periodic job that queues its messages.

A notice goes draft -> scheduled (`schedule()`: now or later, urgent or not) -> sending -> sent.
The job `liaison.send_broadcasts` runs `send_due()` every minute. For each notice that fell
due, in one transaction holding the notice's row (`FOR UPDATE SKIP LOCKED`: a second worker
skips it rather than waiting):

1. the first time, the audience is resolved into `broadcast_recipient` rows (one per family,
   its contact, channel, language and school; opted-out contacts kept with `skipped`), with
   one `INSERT ... SELECT` (`broadcasts.audience.AUDIENCE_SQL`);
2. recipients whose contact opted out since are marked so;
3. the messages of the recipients whose school is in allowed hours (`workshops.quiet_hours`,
   the school's time zone; an urgent notice does not wait) are queued in the outbox with kind
   `bulk` — the lowest delivery priority, so replies to parents who are chatting pass ahead —
   and their `deliver` jobs deferred, all in one statement; each message has the idempotency
   key `broadcast:<notice>:<family>:<part>`, so a job run twice, or two racing, queue each
   family's message once;
4. when no recipient is left waiting, the notice is `sent`.

A school in another time zone (Guadeloupe, La Réunion) therefore gets the notice at its own
morning, while the others already have it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from broadcasts import audience, records
from broadcasts.preview import render
from broadcasts.templates import text_for
from channels.base import Renderer
from liaison.i18n import Catalogs
from liaison.outbox import DELIVER_TASK, DELIVERY_QUEUE, Priority
from workshops.quiet_hours import QuietHours, next_allowed

Connection = AsyncConnection[Any]
DEFAULT_TIMEZONE = "Europe/Paris"


class ScheduleError(ValueError):
    """A notice that cannot be scheduled or cancelled in its current state."""


async def schedule(
    connection: Connection, broadcast_id: int, *, at: datetime, urgent: bool
) -> None:
    """A draft is to be sent at `at` (now: at the job's next run, within a minute)."""
    cursor = await connection.execute(
        "UPDATE broadcast SET status = 'scheduled', scheduled_at = %s, urgent = %s "
        "WHERE id = %s AND status = 'draft'",
        (at, urgent, broadcast_id),
    )
    if cursor.rowcount != 1:
        raise ScheduleError("Cette annonce n'est plus un brouillon.")


async def cancel(connection: Connection, broadcast_id: int) -> None:
    """A scheduled notice will not be sent (too late once it started sending)."""
    cursor = await connection.execute(
        "UPDATE broadcast SET status = 'cancelled' WHERE id = %s AND status = 'scheduled'",
        (broadcast_id,),
    )
    if cursor.rowcount != 1:
        raise ScheduleError("Trop tard : cette annonce est déjà partie ou annulée.")


_RECIPIENTS = f"""
INSERT INTO broadcast_recipient (broadcast_id, family_id, contact_id, school_id, channel,
                                 language, skipped)
SELECT %(broadcast)s, family_id, contact_id, school_id, channel, language, skipped
FROM ({audience.AUDIENCE_SQL}) a
ON CONFLICT DO NOTHING
"""  # noqa: S608 - a constant of broadcasts.audience, the values are parameters

_OPTED_OUT = """
UPDATE broadcast_recipient r SET skipped = 'opted_out'
FROM contact c
WHERE r.broadcast_id = %s AND r.skipped IS NULL AND r.outbound_message_id IS NULL
  AND c.id = r.contact_id AND c.opted_out_at IS NOT NULL
"""

_PENDING = """
SELECT DISTINCT coalesce(r.school_id, 0), coalesce(s.timezone, %s), r.language, r.channel
FROM broadcast_recipient r LEFT JOIN school s ON s.id = r.school_id
WHERE r.broadcast_id = %s AND r.skipped IS NULL AND r.outbound_message_id IS NULL
"""

_ENQUEUE = """
WITH rendered AS (
    SELECT * FROM unnest(%(languages)s::text[], %(channels)s::text[], %(parts)s::int[],
                         %(bodies)s::text[], %(buttons)s::jsonb[], %(units)s::int[])
         AS x(language, channel, part, body, buttons, units)
),
pending AS (
    SELECT r.family_id, r.contact_id, r.channel, r.language, c.address
    FROM broadcast_recipient r JOIN contact c ON c.id = r.contact_id
    WHERE r.broadcast_id = %(broadcast)s AND r.skipped IS NULL
      AND r.outbound_message_id IS NULL AND coalesce(r.school_id, 0) = ANY(%(schools)s::bigint[])
),
message AS (
    INSERT INTO outbound_message (contact_id, channel, address, kind, priority, body, buttons,
                                  segments, idempotency_key, created_at, updated_at)
    SELECT p.contact_id, p.channel, p.address, 'bulk', %(priority)s, x.body, x.buttons, x.units,
           'broadcast:' || %(broadcast)s::text || ':' || p.family_id::text || ':'
               || x.part::text,
           %(now)s, %(now)s
    FROM pending p JOIN rendered x ON x.language = p.language AND x.channel = p.channel
    ORDER BY p.family_id, x.part
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id, contact_id, idempotency_key
),
jobs AS (
    SELECT procrastinate_defer_jobs_v1(array_agg(
        ROW(%(queue)s, %(task)s, %(priority)s, 'contact:' || contact_id::text, NULL,
            jsonb_build_object('message_id', id), NULL)::procrastinate_job_to_defer_v1
        ORDER BY id)) AS ids
    FROM message
    HAVING count(*) > 0
),
linked AS (
    UPDATE broadcast_recipient r SET outbound_message_id = m.id
    FROM message m
    WHERE r.broadcast_id = %(broadcast)s
      AND m.idempotency_key = 'broadcast:' || %(broadcast)s::text || ':' || r.family_id::text
                              || ':0'
    RETURNING 1
)
SELECT (SELECT count(*) FROM message), (SELECT count(*) FROM jobs), (SELECT count(*) FROM linked)
"""

_LEFT = """
SELECT count(*) FROM broadcast_recipient
WHERE broadcast_id = %s AND skipped IS NULL AND outbound_message_id IS NULL
"""


async def send_due(
    connection: Connection,
    *,
    now: datetime,
    quiet: QuietHours,
    renderers: Mapping[str, Renderer],
    catalogs: Catalogs,
    default_language: str,
) -> int:
    """Queue the messages of every notice due by `now` whose schools are in allowed hours;
    returns how many messages were queued."""
    async with connection.transaction():
        cursor = await connection.execute(
            "SELECT id FROM broadcast WHERE status IN ('scheduled', 'sending') "
            "AND scheduled_at <= %s ORDER BY scheduled_at, id",
            (now,),
        )
        due = [int(row[0]) for row in await cursor.fetchall()]
    queued = 0
    for broadcast_id in due:
        async with connection.transaction():
            queued += await _send_one(
                connection,
                broadcast_id,
                now=now,
                quiet=quiet,
                renderers=renderers,
                catalogs=catalogs,
                default_language=default_language,
            )
    return queued


async def _send_one(
    connection: Connection,
    broadcast_id: int,
    *,
    now: datetime,
    quiet: QuietHours,
    renderers: Mapping[str, Renderer],
    catalogs: Catalogs,
    default_language: str,
) -> int:
    cursor = await connection.execute(
        "SELECT status FROM broadcast WHERE id = %s AND status IN ('scheduled', 'sending') "
        "FOR UPDATE SKIP LOCKED",
        (broadcast_id,),
    )
    if await cursor.fetchone() is None:  # another worker has it, or it is done
        return 0
    broadcast = await records.load(connection, broadcast_id)
    assert broadcast is not None
    if broadcast.status == "scheduled":
        params = audience.parameters(
            broadcast.school_ids, broadcast.audience, default_language=default_language
        )
        await connection.execute(_RECIPIENTS, {**params, "broadcast": broadcast_id})
        await connection.execute(
            "UPDATE broadcast SET status = 'sending' WHERE id = %s", (broadcast_id,)
        )
    await connection.execute(_OPTED_OUT, (broadcast_id,))
    cursor = await connection.execute(_PENDING, (DEFAULT_TIMEZONE, broadcast_id))
    pending = await cursor.fetchall()
    allowed = {
        int(school)
        for school, timezone, _language, _channel in pending
        if broadcast.urgent or next_allowed(now, timezone, quiet) <= now
    }
    columns: dict[str, list[Any]] = {
        key: [] for key in ("languages", "channels", "parts", "bodies", "buttons", "units")
    }
    empty = set()
    for language, channel in sorted({(row[2], row[3]) for row in pending if row[0] in allowed}):
        text = text_for(
            language,
            texts=broadcast.texts,
            template=broadcast.template,
            placeholders=broadcast.placeholders,
            catalogs=catalogs,
        )
        messages = render(text, channel, renderers, catalogs) if channel in renderers else ()
        if not messages:
            empty.add((language, channel))
        for part, message in enumerate(messages):
            columns["languages"].append(language)
            columns["channels"].append(channel)
            columns["parts"].append(part)
            columns["bodies"].append(message.body)
            columns["buttons"].append(Jsonb(message.buttons))
            columns["units"].append(message.units)
    for language, channel in empty:  # nothing to say in it: never waited for
        await connection.execute(
            "UPDATE broadcast_recipient SET skipped = 'no_text' WHERE broadcast_id = %s "
            "AND language = %s AND channel = %s AND skipped IS NULL "
            "AND outbound_message_id IS NULL",
            (broadcast_id, language, channel),
        )
    queued = 0
    if columns["bodies"]:
        cursor = await connection.execute(
            _ENQUEUE,
            {
                **columns,
                "broadcast": broadcast_id,
                "schools": sorted(allowed),
                "priority": int(Priority.bulk),
                "now": now,
                "queue": DELIVERY_QUEUE,
                "task": DELIVER_TASK,
            },
        )
        row = await cursor.fetchone()
        queued = int(row[0]) if row is not None else 0
    cursor = await connection.execute(_LEFT, (broadcast_id,))
    left = await cursor.fetchone()
    if left is not None and int(left[0]) == 0:
        await connection.execute(
            "UPDATE broadcast SET status = 'sent', sent_at = %s WHERE id = %s",
            (now, broadcast_id),
        )
    return queued
