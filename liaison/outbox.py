"""The outbox: every message to a parent over SMS or Telegram is a row here plus a job.

`enqueue()` inserts the rows and defers their `deliver` jobs in the caller's transaction, with
one statement: the reply, the turn that caused it and the job that will send it commit
together or not at all. A crash can therefore never lose a reply nor leave a job with no
message. The jobs are deferred through procrastinate's own SQL function
(`procrastinate_defer_jobs_v1`, the one its connector calls), which is what lets them join our
transaction.

Jobs of one contact share a procrastinate lock, so a parent's messages leave in order even with
many workers; priority puts replies to a parent who is chatting ahead of bulk traffic.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import IntEnum
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from channels.base import Outgoing

DELIVERY_QUEUE = "delivery"
DELIVER_TASK = "liaison.deliver"


class Priority(IntEnum):
    """Job priority by kind of message (procrastinate runs higher first)."""

    reply = 100
    keyword = 100
    staff = 100  # a person of the school answering a parent, or handing back to the assistant
    reminder = 50
    bulk = 0


_ENQUEUE = """
WITH message AS (
    INSERT INTO outbound_message (contact_id, channel, address, kind, priority, body, buttons,
                                  segments, idempotency_key, created_at, updated_at)
    SELECT %(contact_id)s, %(channel)s, %(address)s, %(kind)s, %(priority)s, m.body, m.buttons,
           m.units, m.key, %(now)s, %(now)s
    FROM unnest(%(bodies)s::text[], %(buttons)s::jsonb[], %(units)s::int[], %(keys)s::text[])
         WITH ORDINALITY AS m(body, buttons, units, key, position)
    ORDER BY m.position
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id
)
SELECT procrastinate_defer_jobs_v1(array_agg(
    ROW(%(queue)s, %(task)s, %(priority)s, 'contact:' || %(contact_id)s::text, NULL,
        jsonb_build_object('message_id', id), NULL)::procrastinate_job_to_defer_v1
    ORDER BY id))
FROM message
HAVING count(*) > 0
"""

_CANCEL_QUEUED = """
UPDATE outbound_message SET status = 'cancelled', updated_at = %(now)s,
       error_code = 'opted_out', error_message = 'the parent opted out before it was sent'
WHERE contact_id = %(contact_id)s AND status = 'queued' AND kind <> 'keyword'
"""


async def enqueue(
    connection: AsyncConnection[Any],
    *,
    contact_id: int,
    channel: str,
    address: str,
    messages: Sequence[Outgoing],
    kind: str,
    now: datetime,
    idempotency_keys: Sequence[str | None] | None = None,
) -> int:
    """Store `messages` for `address` and defer their jobs, inside the caller's transaction;
    returns how many were stored.

    With `idempotency_keys`, a message whose key already exists is skipped (a reminder
    scheduled twice is sent once)."""
    if not messages:
        return 0
    keys = list(idempotency_keys) if idempotency_keys is not None else [None] * len(messages)
    if len(keys) != len(messages):
        raise ValueError("one idempotency key per message, or none")
    cursor = await connection.execute(
        _ENQUEUE,
        {
            "contact_id": contact_id,
            "channel": channel,
            "address": address,
            "kind": kind,
            "priority": int(Priority[kind]),
            "bodies": [m.body for m in messages],
            "buttons": [Jsonb(m.buttons) for m in messages],
            "units": [m.units for m in messages],
            "keys": keys,
            "now": now,
            "queue": DELIVERY_QUEUE,
            "task": DELIVER_TASK,
        },
    )
    row = await cursor.fetchone()
    return len(row[0]) if row is not None and row[0] is not None else 0


async def cancel_queued(connection: AsyncConnection[Any], contact_id: int, now: datetime) -> None:
    """The parent said STOP: what is still queued for them is never sent."""
    await connection.execute(_CANCEL_QUEUED, {"contact_id": contact_id, "now": now})


async def opt_out_contact(connection: AsyncConnection[Any], contact_id: int, now: datetime) -> None:
    """The provider says the parent refused our messages: opted out, the queue cancelled."""
    await connection.execute(
        "UPDATE contact SET opted_out_at = coalesce(opted_out_at, %s) WHERE id = %s",
        (now, contact_id),
    )
    await cancel_queued(connection, contact_id, now)


# How far along a message is; a provider's report never moves it back (a late "sent" after
# "delivered" changes nothing). failed and cancelled are final.
_RANK = {"queued": 0, "sending": 1, "sent": 2, "delivered": 3, "failed": 3, "cancelled": 3}

_STATUS = """
UPDATE outbound_message
SET status = %(status)s::text,
    provider_id = coalesce(provider_id, %(provider_id)s),
    sent_at = coalesce(sent_at, %(now)s),
    delivered_at = CASE WHEN %(status)s::text = 'delivered' THEN %(now)s ELSE delivered_at END,
    error_code = coalesce(%(code)s, error_code),
    error_message = coalesce(%(error)s, error_message),
    updated_at = %(now)s
WHERE id = %(id)s AND channel = %(channel)s
  AND (provider_id IS NULL OR provider_id = %(provider_id)s)
  AND (CASE status WHEN 'queued' THEN 0 WHEN 'sending' THEN 1 WHEN 'sent' THEN 2 ELSE 3 END)
      < %(rank)s
RETURNING contact_id
"""


async def record_status(
    connection: AsyncConnection[Any],
    *,
    message_id: int,
    channel: str,
    provider_id: str,
    status: str,
    now: datetime,
    code: str | None = None,
    error: str | None = None,
    opt_out: bool = False,
) -> bool:
    """Record a provider's report on a message (a Twilio status callback); True if it changed
    the message. `opt_out` marks the contact opted out (the provider says they refused us)."""
    if status not in _RANK:
        raise ValueError(f"unknown message status {status!r}")
    cursor = await connection.execute(
        _STATUS,
        {
            "id": message_id,
            "channel": channel,
            "provider_id": provider_id,
            "status": status,
            "rank": _RANK[status],
            "code": code,
            "error": error,
            "now": now,
        },
    )
    row = await cursor.fetchone()
    if row is not None and opt_out:
        await opt_out_contact(connection, row[0], now)
    return row is not None
