"""Conversation state and turns in PostgreSQL, one transaction per inbound message.

`Conversations.handle()` locks the contact's row (the upsert takes the row lock), reads the
conversation *after* the lock is held (a fresh statement, so it sees what a concurrent turn
just committed), runs the assistant, and writes the state and every turn in one statement:
a turn is never half-written, and two messages from one parent handled by two processes queue
up instead of overwriting each other.

For SMS and Telegram the replies are not returned to the provider but rendered by the channel
and put in the outbox (`liaison.outbox`) in the same transaction, with their delivery jobs; a
provider's message id (`Inbound.message_id`) is recorded in the same transaction too, so a
message the provider delivers twice is handled once, and a turn that fails is not marked seen.
On STOP, whatever is still queued for the parent is cancelled, also in that transaction.

This is the hot path of every channel, so it speaks SQL to psycopg directly (three round trips
per web message); the tables themselves are declared in `liaison.models` and migrated by Alembic.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from bot.assistant import Assistant, Inbound, Outcome
from bot.state import ConversationState
from channels.base import Renderer
from liaison.outbox import cancel_queued, enqueue
from schools.memberships import Memberships
from staff.inbox import ParentInbox
from workshops.bookings import Bookings
from workshops.enrolment import Enrolment
from workshops.offers import announce
from workshops.records import Workshop
from workshops.store import load as load_workshops

log = logging.getLogger(__name__)

_LOCK_CONTACT = """
INSERT INTO contact (channel, address, created_at, last_seen_at) VALUES (%s, %s, %s, %s)
ON CONFLICT ON CONSTRAINT uq_contact_channel_address
DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at
RETURNING id, language, opted_out_at
"""

_RECEIPT = """
INSERT INTO inbound_receipt (channel, message_id, received_at) VALUES (%s, %s, %s)
ON CONFLICT DO NOTHING
RETURNING 1
"""

_READ_CONVERSATION = """
SELECT welcomed, active_form, requested_slot, slots, last_intents, offered_buttons,
       fallback_count,
       EXISTS (SELECT 1 FROM handover h
               WHERE h.contact_id = conversation.contact_id AND h.status = 'open') AS handover_open
FROM conversation WHERE contact_id = %s
"""

_SAVE = """
WITH contact_update AS (
    UPDATE contact
    SET language = %(language)s,
        opted_out_at = CASE WHEN %(opted_out)s THEN coalesce(opted_out_at, %(now)s) END
    WHERE id = %(contact_id)s
), conversation_upsert AS (
    INSERT INTO conversation (contact_id, welcomed, active_form, requested_slot, slots,
                              last_intents, offered_buttons, fallback_count,
                              handover_requested_at, updated_at)
    VALUES (%(contact_id)s, %(welcomed)s, %(active_form)s, %(requested_slot)s, %(slots)s,
            %(last_intents)s, %(offered_buttons)s, %(fallback_count)s,
            CASE WHEN %(handover)s THEN %(now)s::timestamptz END, %(now)s)
    ON CONFLICT (contact_id) DO UPDATE SET
        welcomed = EXCLUDED.welcomed,
        active_form = EXCLUDED.active_form,
        requested_slot = EXCLUDED.requested_slot,
        slots = EXCLUDED.slots,
        last_intents = EXCLUDED.last_intents,
        offered_buttons = EXCLUDED.offered_buttons,
        fallback_count = EXCLUDED.fallback_count,
        handover_requested_at = CASE WHEN %(handover)s
            THEN coalesce(conversation.handover_requested_at, EXCLUDED.updated_at) END,
        updated_at = EXCLUDED.updated_at
)
INSERT INTO turn (contact_id, direction, channel, text, language, intent, confidence, created_at)
SELECT %(contact_id)s, t.direction, %(channel)s, t.text, %(language_out)s, t.intent,
       t.confidence, %(now)s
FROM unnest(%(directions)s::text[], %(texts)s::text[], %(intents)s::text[],
            %(confidences)s::float8[]) AS t(direction, text, intent, confidence)
"""


class UpcomingWorkshops:
    """Published workshops still to come, read at most every `ttl` seconds (every turn that
    may list them would otherwise query them)."""

    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._workshops: list[Workshop] = []
        self._read_at = -float("inf")

    def refresh(self) -> None:
        """Read them again on the next turn (after an import, in tests)."""
        self._read_at = -float("inf")

    async def get(self, connection: AsyncConnection[Any], now: datetime) -> list[Workshop]:
        if time.monotonic() - self._read_at > self.ttl:
            self._workshops = await load_workshops(connection, status="published", after=now)
            self._read_at = time.monotonic()
        return [w for w in self._workshops if w.starts_at > now]


class Conversations:
    """Handles inbound messages against the stored conversations."""

    def __init__(
        self,
        pool: AsyncConnectionPool[AsyncConnection[Any]],
        assistant: Assistant,
        *,
        outbox: dict[str, Renderer] | None = None,
    ) -> None:
        self.pool = pool
        self.assistant = assistant
        # Channels whose replies go through the outbox, with how each renders them.
        self.outbox = outbox or {}
        self.workshops = UpcomingWorkshops()

    async def _announce(
        self, connection: AsyncConnection[Any], offers: list[Enrolment], now: datetime
    ) -> int:
        return await announce(
            connection,
            offers,
            now=now,
            renderers=self.outbox,
            catalogs=self.assistant.catalogs,
            default_language=self.assistant.config.default_language,
        )

    async def handle(self, inbound: Inbound) -> Outcome:
        """Handle one inbound message; the turn and its replies are stored before returning."""
        try:
            return await self._handle_once(inbound)
        except psycopg.OperationalError:
            # The pool does not ping connections before lending them (a round trip per
            # message); a connection that died while idle (server restart) fails here, before
            # anything was committed, so one retry on a fresh connection is safe.
            log.warning("database connection lost; checking the pool and retrying once")
            await self.pool.check()  # drops every idle connection that died with it
            return await self._handle_once(inbound)

    async def _handle_once(self, inbound: Inbound) -> Outcome:
        now = datetime.now(UTC)
        async with self.pool.connection() as connection, connection.transaction():
            if inbound.message_id is not None:
                # A concurrent copy of the same message waits here on the unique key until
                # the first one commits, then finds it done.
                cursor = await connection.execute(
                    _RECEIPT, (inbound.channel, inbound.message_id, now)
                )
                if await cursor.fetchone() is None:
                    return Outcome([], inbound.text, "", None, None, events=["duplicate"])
            contact_id, state = await _load(connection, inbound, now)
            was_opted_out = state.opted_out
            workshops = await self.workshops.get(connection, now)
            bookings = Bookings(connection, contact_id, now, announce=self._announce)
            inbox = ParentInbox(
                connection,
                contact_id,
                now,
                self.assistant.config.inbox,
                default_timezone=self.assistant.config.timezone,
            )
            memberships = Memberships(
                connection, contact_id, channel=inbound.channel, address=inbound.address, now=now
            )
            outcome = await self.assistant.respond(
                state,
                inbound,
                workshops=workshops,
                bookings=bookings,
                inbox=inbox,
                memberships=memberships,
            )
            await _save(connection, contact_id, inbound, state, outcome, now)
            renderer = self.outbox.get(inbound.channel)
            if renderer is not None:
                if state.opted_out and not was_opted_out:
                    await cancel_queued(connection, contact_id, now)
                with self.assistant.catalogs.use(outcome.language):
                    messages = renderer(outcome.replies)
                keyword = any(event.startswith("keyword:") for event in outcome.events)
                await enqueue(
                    connection,
                    contact_id=contact_id,
                    channel=inbound.channel,
                    address=inbound.address,
                    messages=messages,
                    kind="keyword" if keyword else "reply",
                    now=now,
                )
        return outcome


async def _load(
    connection: AsyncConnection[Any], inbound: Inbound, now: datetime
) -> tuple[int, ConversationState]:
    cursor = await connection.execute(_LOCK_CONTACT, (inbound.channel, inbound.address, now, now))
    contact_id, language, opted_out_at = await cursor.fetchone() or (None, None, None)
    if contact_id is None:  # pragma: no cover - RETURNING always yields the row
        raise RuntimeError("contact upsert returned nothing")
    state = ConversationState(language=language, opted_out=opted_out_at is not None)
    async with connection.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(_READ_CONVERSATION, (contact_id,))
        row = await cursor.fetchone()
    if row is not None:
        state.welcomed = row["welcomed"]
        state.active_form = row["active_form"]
        state.requested_slot = row["requested_slot"]
        state.slots = dict(row["slots"])
        state.last_intents = list(row["last_intents"])
        state.offered_buttons = list(row["offered_buttons"])
        state.fallback_count = row["fallback_count"]
        # A person has the conversation while its handover is open (`staff.inbox`).
        state.handover_requested = row["handover_open"]
    return int(contact_id), state


async def _save(
    connection: AsyncConnection[Any],
    contact_id: int,
    inbound: Inbound,
    state: ConversationState,
    outcome: Outcome,
    now: datetime,
) -> None:
    directions = ["in"] + ["out"] * len(outcome.replies)
    await connection.execute(
        _SAVE,
        {
            "contact_id": contact_id,
            "now": now,
            "language": state.language,
            "opted_out": state.opted_out,
            "welcomed": state.welcomed,
            "active_form": state.active_form,
            "requested_slot": state.requested_slot,
            "slots": Jsonb(state.slots),
            "last_intents": Jsonb(state.last_intents),
            "offered_buttons": Jsonb(state.offered_buttons),
            "fallback_count": state.fallback_count,
            "handover": state.handover_requested,
            "channel": inbound.channel,
            "language_out": outcome.language,
            "directions": directions,
            "texts": [outcome.text] + [reply.text for reply in outcome.replies],
            "intents": [outcome.intent] + [None] * len(outcome.replies),
            "confidences": [outcome.confidence] + [None] * len(outcome.replies),
        },
    )
