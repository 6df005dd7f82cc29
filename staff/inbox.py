"""The staff inbox: parents the assistant hands over to a person of their school.

A conversation (a `handover` row) opens when a parent asks for a person (`human_handover`), is
not understood twice in a row, or answers a notice in a way the assistant cannot place. It
opens in the turn's own transaction through `ParentInbox` (the conversation's `Inbox` port), in
the inbox of the parent's school (`family_contact` -> `family_school`: the school of the notice
answered, else the one joined last) or of the default team (`liaison.inbox`). A parent has at
most one open conversation (a partial unique index): asking again keeps it. The parent is told
when a person will answer: `staff.opening_hours.next_opening()`, on the team's clock, closed on
public holidays.

While it is open the assistant stays quiet for that parent (keywords apart); their messages
are turns like any other, shown here. Staff read the history, reply and close
(`staff.inbox_pages`). A reply is a turn signed by its author (`turn.staff_account_id`), sent as
written (nothing is translated): on SMS and Telegram through the outbox at the `staff`
priority, on the web chat fetched by the chat page (`messages_since`, keyed by the sender id
the page keeps to itself). Closing tells the parent, in their language, that the assistant
answers again, the same way.

Errors are `InboxError`s, each with a French `message` for staff.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from bot.actions import Opening
from bot.handover import handed_back
from bot.replies import Reply
from broadcasts import replies as notice_replies
from channels.base import Renderer
from liaison.errors import LiaisonError
from liaison.i18n import Catalogs
from liaison.outbox import enqueue
from liaison.settings import InboxConfig
from staff import audit, scopes
from staff.accounts import Account
from staff.opening_hours import next_opening, valid_zone

log = logging.getLogger(__name__)
Connection = AsyncConnection[Any]

REASONS = ("handover", "fallbacks", "notice_reply")
MAX_REPLY = 1000  # characters: a few SMS, what a person writes to one parent
HISTORY = 60  # turns shown, the newest last
# Intents of the turns staff send (the parent's own turns carry the NLU's).
STAFF_REPLY = "staff_reply"
HANDED_BACK = "handover_closed"


class InboxError(LiaisonError):
    """A staff action on the inbox that cannot be done; `message` says why, in French."""

    status = 409

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EmptyReply(InboxError):
    status = 422


class ReplyTooLong(InboxError):
    status = 422


class AlreadyClosed(InboxError):
    pass


class ParentOptedOut(InboxError):
    pass


# -- opening a conversation, from the turn -----------------------------------------------------

_OPEN = """
WITH home AS (
    SELECT fs.school_id FROM family_contact fc
    JOIN family_school fs ON fs.family_id = fc.family_id
    WHERE fc.contact_id = %(contact_id)s
    ORDER BY fs.school_id = ANY(coalesce(
                 (SELECT b.school_ids FROM broadcast b WHERE b.id = %(broadcast_id)s),
                 '{}'::bigint[])) DESC,
             fs.joined_at DESC, fs.school_id
    LIMIT 1
), new AS (
    INSERT INTO handover (contact_id, school_id, status, reason, broadcast_id, opened_at)
    VALUES (%(contact_id)s, (SELECT school_id FROM home), 'open', %(reason)s,
            %(broadcast_id)s, %(now)s)
    ON CONFLICT (contact_id) WHERE status = 'open' DO NOTHING
    RETURNING id, school_id
), found AS (
    SELECT id, school_id, true AS created FROM new
    UNION ALL
    SELECT id, school_id, false FROM handover
    WHERE contact_id = %(contact_id)s AND status = 'open'
)
SELECT f.id, f.created, s.timezone, s.opening_hours
FROM found f LEFT JOIN school s ON s.id = f.school_id
LIMIT 1
"""


class ParentInbox:
    """The inbox as the conversation sees it: one parent, the turn's connection and time."""

    def __init__(
        self,
        connection: Connection,
        contact_id: int,
        now: datetime,
        config: InboxConfig,
        *,
        default_timezone: str,
    ) -> None:
        self.connection = connection
        self.contact_id = contact_id
        self.now = now
        self.config = config
        self.default_timezone = config.timezone or default_timezone

    async def answered_notice(self) -> int | None:
        return await notice_replies.answered_notice(self.connection, self.contact_id, self.now)

    async def open(self, reason: str, *, broadcast_id: int | None = None) -> Opening:
        """Open the parent's conversation in their school's inbox (or keep the open one), with
        the notice it answers, else the one the parent received lately, as context."""
        if reason not in REASONS:
            raise ValueError(f"unknown handover reason {reason!r}")
        if broadcast_id is None:
            broadcast_id = await notice_replies.last_notice(
                self.connection, self.contact_id, self.now
            )
        cursor = await self.connection.execute(
            _OPEN,
            {
                "contact_id": self.contact_id,
                "reason": reason,
                "broadcast_id": broadcast_id,
                "now": self.now,
            },
        )
        row = await cursor.fetchone()
        if row is None:  # pragma: no cover - either inserted or found, in one statement
            raise RuntimeError("handover neither opened nor found")
        handover_id, created, school_zone, school_hours = row
        hours = school_hours or self.config.opening_hours  # a school without hours: the default
        zone = valid_zone(school_zone, self.default_timezone)
        if created:
            log.info("handover %d opened (%s)", handover_id, reason)
        return Opening(
            handover_id=int(handover_id),
            created=bool(created),
            opened_at=self.now,
            answers_at=next_opening(hours, zone, self.now),
            timezone=zone,
        )


# -- what staff see ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Handover:
    id: int
    contact_id: int
    school_id: int | None
    school_name: str | None  # None: the default team
    status: str
    reason: str
    broadcast_id: int | None
    opened_at: datetime
    closed_at: datetime | None
    channel: str
    address: str
    language: str | None
    opted_out: bool
    assigned_name: str | None
    last_text: str | None  # the parent's last message
    # Since when the parent waits for a person: the first message after staff last wrote
    # (the opening if staff have not written yet); None when staff answered last.
    waiting_since: datetime | None


@dataclass(frozen=True)
class Message:
    """A turn of the conversation, as staff read it."""

    id: int
    direction: str
    text: str
    created_at: datetime
    intent: str | None
    staff_name: str | None

    @property
    def author(self) -> str:
        """ "parent", "assistant", "staff" or "handback" (the automatic closing message)."""
        if self.direction == "in":
            return "parent"
        if self.intent == HANDED_BACK:
            return "handback"
        return "staff" if self.intent == STAFF_REPLY else "assistant"


@dataclass(frozen=True)
class Scope:
    """Which conversations a member of staff sees (`staff.scopes`)."""

    sql: str
    params: dict[str, Any]


async def scope_of(connection: Connection, account: Account) -> Scope:
    """Admins: all. School staff: their schools' inboxes and the default team's. Mediators:
    the conversations of the families that agreed to their help."""
    schools = await scopes.school_ids(connection, account)
    if schools is None:
        return Scope("true", {})
    parts = ["h.school_id = ANY(%(scope_schools)s)"]
    if "school" in account.roles:
        parts.append("h.school_id IS NULL")
    params: dict[str, Any] = {"scope_schools": sorted(schools)}
    if "mediator" in account.roles:
        families = scopes.families_sql(account)
        assert families is not None  # admins returned above
        # `families.text` is SQL of `staff.scopes`; every value in it is a parameter.
        mediated = "SELECT fc.contact_id FROM family_contact fc WHERE fc.family_id IN "
        mediated += f"({families.text})"
        parts.append(f"h.contact_id IN ({mediated})")
        params.update(families.params)
    return Scope("(" + " OR ".join(parts) + ")", params)


_SELECT = """
SELECT h.id, h.contact_id, h.school_id, s.name AS school_name, h.status, h.reason,
       h.broadcast_id, h.opened_at, h.closed_at, c.channel, c.address, c.language,
       c.opted_out_at IS NOT NULL AS opted_out, a.name AS assigned_name,
       last_in.text AS last_text,
       CASE WHEN staff.at IS NULL THEN h.opened_at ELSE waiting.at END AS waiting_since
FROM handover h
JOIN contact c ON c.id = h.contact_id
LEFT JOIN school s ON s.id = h.school_id
LEFT JOIN staff_account a ON a.id = h.assigned_to
LEFT JOIN LATERAL (
    SELECT t.text FROM turn t WHERE t.contact_id = h.contact_id AND t.direction = 'in'
    ORDER BY t.id DESC LIMIT 1
) last_in ON true
LEFT JOIN LATERAL (
    SELECT max(t.created_at) AS at FROM turn t
    WHERE t.contact_id = h.contact_id AND t.intent = 'staff_reply' AND t.direction = 'out'
      AND t.created_at >= h.opened_at
) staff ON true
LEFT JOIN LATERAL (
    SELECT min(t.created_at) AS at FROM turn t
    WHERE t.contact_id = h.contact_id AND t.direction = 'in' AND t.created_at > staff.at
) waiting ON true
"""


async def list_handovers(
    connection: Connection, scope: Scope, *, status: str, limit: int = 100
) -> list[Handover]:
    """Open conversations, the longest waiting first (answered ones after); or the last closed."""
    order = (
        "h.waiting_since IS NULL, h.waiting_since, h.opened_at"
        if status == "open"
        else "h.closed_at DESC"
    )
    # This module's SQL and the scope's (`scope_of`); every value is a parameter.
    query = f"SELECT * FROM ({_SELECT} WHERE h.status = %(status)s AND {scope.sql}) h "  # noqa: S608
    query += f"ORDER BY {order} LIMIT %(lim)s"
    async with connection.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(query, {**scope.params, "status": status, "lim": limit})
        return [Handover(**row) for row in await cursor.fetchall()]


async def load(connection: Connection, scope: Scope, handover_id: int) -> Handover | None:
    """The conversation when it exists and is within `scope` (None either way, on purpose)."""
    async with connection.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(
            f"{_SELECT} WHERE h.id = %(id)s AND {scope.sql}", {**scope.params, "id": handover_id}
        )
        row = await cursor.fetchone()
    return Handover(**row) if row else None


async def history(connection: Connection, contact_id: int, limit: int = HISTORY) -> list[Message]:
    """The parent's last `limit` turns, the newest last."""
    async with connection.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(
            "SELECT t.id, t.direction, t.text, t.created_at, t.intent, a.name AS staff_name "
            "FROM turn t LEFT JOIN staff_account a ON a.id = t.staff_account_id "
            "WHERE t.contact_id = %s ORDER BY t.id DESC LIMIT %s",
            (contact_id, limit),
        )
        rows = await cursor.fetchall()
    return [Message(**row) for row in reversed(rows)]


# -- what staff do -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outbound:
    """How staff messages reach parents: the channels' renderers, the catalogs for the words
    of the closing message, the language used when the parent's is unknown."""

    renderers: Mapping[str, Renderer]
    catalogs: Catalogs
    default_language: str


def clean_reply(text: str) -> str:
    """The reply as staff wrote it, line ends made plain; `EmptyReply`, `ReplyTooLong`."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise EmptyReply("Le message est vide : écrivez votre réponse.")
    if len(text) > MAX_REPLY:
        raise ReplyTooLong(
            f"Le message fait {len(text)} caractères : {MAX_REPLY} au plus. Raccourcissez-le."
        )
    return text


async def reply(
    connection: Connection,
    handover: Handover,
    *,
    account: Account,
    text: str,
    outbound: Outbound,
    now: datetime,
) -> None:
    """Send `text` to the parent as written, on their channel, in its own transaction."""
    text = clean_reply(text)
    async with connection.transaction():
        await _lock_open(connection, handover.id)
        if handover.opted_out:
            raise ParentOptedOut(
                "Ce parent a écrit STOP : il ne reçoit plus aucun message. Fermez la conversation."
            )
        await _send(connection, handover, text, STAFF_REPLY, account.id, outbound, now)
        await connection.execute(
            "UPDATE handover SET assigned_to = coalesce(assigned_to, %s) WHERE id = %s",
            (account.id, handover.id),
        )
        await audit.record(
            connection,
            account.id,
            "inbox.replied",
            "handover",
            handover.id,
            {"channel": handover.channel, "characters": len(text)},
            at=now,
        )


async def close(
    connection: Connection,
    handover: Handover,
    *,
    account: Account,
    outbound: Outbound,
    now: datetime,
) -> None:
    """Close the conversation and tell the parent the assistant answers again."""
    async with connection.transaction():
        # A parent's turn holds the contact from its read to its save (`bot.store`): waiting
        # for it means its save cannot write back the menu and count reset below.
        await connection.execute(
            "SELECT 1 FROM contact WHERE id = %s FOR NO KEY UPDATE", (handover.contact_id,)
        )
        await _lock_open(connection, handover.id)
        await connection.execute(
            "UPDATE handover SET status = 'closed', closed_at = %s WHERE id = %s",
            (now, handover.id),
        )
        # Back to the assistant from a clean start: no old menu to answer "2" to, no
        # misunderstanding counted.
        await connection.execute(
            "UPDATE conversation SET fallback_count = 0, offered_buttons = '[]', "
            "handover_requested_at = NULL, updated_at = %s WHERE contact_id = %s",
            (now, handover.contact_id),
        )
        if not handover.opted_out:
            with outbound.catalogs.use(handover.language or outbound.default_language):
                words = handed_back()
            await _send(connection, handover, words, HANDED_BACK, account.id, outbound, now)
        await audit.record(connection, account.id, "inbox.closed", "handover", handover.id, at=now)


async def _lock_open(connection: Connection, handover_id: int) -> None:
    cursor = await connection.execute(
        "SELECT status FROM handover WHERE id = %s FOR UPDATE", (handover_id,)
    )
    row = await cursor.fetchone()
    if row is None or row[0] != "open":
        raise AlreadyClosed("Cette conversation est déjà fermée.")


async def _send(
    connection: Connection,
    handover: Handover,
    text: str,
    intent: str,
    account_id: int,
    outbound: Outbound,
    now: datetime,
) -> None:
    """A turn signed by `account_id`; on SMS and Telegram, the messages in the outbox too (the
    web chat page fetches the turn: `messages_since`)."""
    await connection.execute(
        "INSERT INTO turn (contact_id, direction, channel, text, language, intent, created_at, "
        "staff_account_id) VALUES (%s, 'out', %s, %s, %s, %s, %s, %s)",
        (
            handover.contact_id,
            handover.channel,
            text,
            handover.language,
            intent,
            now,
            account_id,
        ),
    )
    renderer = outbound.renderers.get(handover.channel)
    if renderer is None:
        return
    with outbound.catalogs.use(handover.language or outbound.default_language):
        messages = renderer([Reply(text)])
    await enqueue(
        connection,
        contact_id=handover.contact_id,
        channel=handover.channel,
        address=handover.address,
        messages=messages,
        kind="staff",
        now=now,
    )


# -- the web chat page's pending messages ----------------------------------------------------

_SINCE = """
SELECT t.id, t.text FROM turn t JOIN contact c ON c.id = t.contact_id
WHERE c.channel = %(channel)s AND c.address = %(address)s AND t.id > %(after)s
  AND t.direction = 'out' AND t.intent = ANY(%(intents)s)
ORDER BY t.id
LIMIT %(limit)s
"""


async def messages_since(
    connection: Connection, channel: str, address: str, after: int, limit: int = 20
) -> Sequence[tuple[int, str]]:
    """What staff sent the parent at `address` after turn `after` (ids and texts, oldest first):
    messages that no HTTP answer carried."""
    cursor = await connection.execute(
        _SINCE,
        {
            "channel": channel,
            "address": address,
            "after": after,
            "intents": [STAFF_REPLY, HANDED_BACK],
            "limit": limit,
        },
    )
    return [(int(row[0]), str(row[1])) for row in await cursor.fetchall()]
