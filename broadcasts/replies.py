"""The notice a parent is most likely answering: the latest one sent to that contact within a
few days. The inbox (`handover.broadcast_id`) attaches it as context when a reply the assistant
cannot place opens a conversation.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection

# A reply a week after the notice is about something else.
REPLY_WINDOW = timedelta(days=7)


async def last_notice(
    connection: AsyncConnection[Any],
    contact_id: int,
    now: datetime,
    *,
    within: timedelta = REPLY_WINDOW,
) -> int | None:
    """The id of the latest notice queued for `contact_id` since `now - within`, or None."""
    cursor = await connection.execute(
        "SELECT r.broadcast_id FROM broadcast_recipient r "
        "JOIN outbound_message m ON m.id = r.outbound_message_id "
        "WHERE r.contact_id = %s AND m.created_at >= %s AND m.created_at <= %s "
        "AND m.status <> 'cancelled' ORDER BY m.created_at DESC, m.id DESC LIMIT 1",
        (contact_id, now - within, now),
    )
    row = await cursor.fetchone()
    return int(row[0]) if row is not None else None
