"""Parents answering a notice.

A reply goes through the conversation like any message. What the assistant cannot place (not
understood, or a bare "oui" / "non" with nothing to answer) in the parent's first message after
a notice reached them is an answer to the notice: it opens a conversation in the staff inbox
with the notice attached (`handover.broadcast_id`, reason `notice_reply`). Any conversation a
parent opens within a week of a notice carries it too, as the likeliest context. The inbox page
shows the notice as this parent received it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection

# A reply a week after the notice is about something else.
REPLY_WINDOW = timedelta(days=7)

# The notices that reached the contact (the provider accepted them) within the window, newest
# first; their time is the sending's, not the queueing's (a notice can wait for allowed hours).
_REACHED = """
SELECT r.broadcast_id, m.sent_at FROM broadcast_recipient r
JOIN outbound_message m ON m.id = r.outbound_message_id
WHERE r.contact_id = %(contact_id)s AND m.sent_at >= %(since)s AND m.sent_at <= %(now)s
  AND m.status IN ('sent', 'delivered')
"""


async def last_notice(
    connection: AsyncConnection[Any],
    contact_id: int,
    now: datetime,
    *,
    within: timedelta = REPLY_WINDOW,
) -> int | None:
    """The id of the latest notice that reached `contact_id` since `now - within`, or None."""
    cursor = await connection.execute(
        _REACHED + "ORDER BY m.sent_at DESC, m.id DESC LIMIT 1",
        {"contact_id": contact_id, "since": now - within, "now": now},
    )
    row = await cursor.fetchone()
    return int(row[0]) if row is not None else None


async def answered_notice(
    connection: AsyncConnection[Any],
    contact_id: int,
    now: datetime,
    *,
    within: timedelta = REPLY_WINDOW,
) -> int | None:
    """The notice the message being handled answers: the latest one that reached the contact
    within `within`, when nothing was said in the conversation since (this is the parent's
    first message after it); None otherwise."""
    cursor = await connection.execute(
        f"SELECT * FROM ({_REACHED} ORDER BY m.sent_at DESC, m.id DESC LIMIT 1) n "  # noqa: S608
        "WHERE NOT EXISTS (SELECT 1 FROM turn t WHERE t.contact_id = %(contact_id)s "
        "AND t.created_at > n.sent_at)",
        {"contact_id": contact_id, "since": now - within, "now": now},
    )
    row = await cursor.fetchone()
    return int(row[0]) if row is not None else None


@dataclass(frozen=True)
class NoticeContext:
    """A notice as one parent received it, for the inbox page."""

    broadcast_id: int
    title: str  # the team's title, never sent
    text: str  # what this parent read, in their language
    sent_at: datetime | None
    urgent: bool


async def notice_context(
    connection: AsyncConnection[Any], broadcast_id: int, contact_id: int
) -> NoticeContext | None:
    """The notice `broadcast_id` as `contact_id` received it; None when it was not sent to them
    (or no longer exists)."""
    cursor = await connection.execute(
        "SELECT b.title, m.body, m.sent_at, b.urgent FROM broadcast b "
        "JOIN broadcast_recipient r ON r.broadcast_id = b.id AND r.contact_id = %s "
        "JOIN outbound_message m ON m.id = r.outbound_message_id "
        "WHERE b.id = %s",
        (contact_id, broadcast_id),
    )
    row = await cursor.fetchone()
    if row is None:
        return None
    title, body, sent_at, urgent = row
    return NoticeContext(broadcast_id, str(title), str(body), sent_at, bool(urgent))
