"""Telling a parent something about a workshop outside a conversation (a seat offered, a
reminder): the rendered messages go to the outbox once (an idempotency key), and the message's
buttons become the conversation's offered buttons, so a typed "OUI" or "2" answers it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from bot.replies import Button
from channels.base import Outgoing
from liaison.outbox import enqueue


async def tell(
    connection: AsyncConnection[Any],
    *,
    contact_id: int,
    channel: str,
    address: str,
    messages: Sequence[Outgoing],
    buttons: Sequence[Button],
    key: str,
    now: datetime,
) -> bool:
    """Queue `messages` unless `key` was told already; True if they were queued now."""
    stored = await enqueue(
        connection,
        contact_id=contact_id,
        channel=channel,
        address=address,
        messages=messages,
        kind="reminder",
        now=now,
        idempotency_keys=[f"{key}:{n}" for n in range(len(messages))],
    )
    if stored:
        offered = [{"title": b.title, "payload": b.payload} for b in buttons]
        await connection.execute(
            "UPDATE conversation SET offered_buttons = %s WHERE contact_id = %s",
            (Jsonb(offered), contact_id),
        )
    return stored > 0
