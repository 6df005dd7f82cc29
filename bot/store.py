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

This is the hot path of every channel. The long way costs two round trips to PostgreSQL:
`BEGIN` with the lock and the read (`liaison_open_turn_state`), then the save
(`liaison_save_turn`) with `COMMIT` (migrations 0009 and 0010). Each round trip costs the web
process more CPU than PostgreSQL spends on it (psycopg's waiting and adaptation in Python),
which is why the turn sends its own BEGIN and COMMIT (`bot.connections`). A web chat message
usually takes the short way, one round trip (`bot.known_conversations`): the turn runs on the
state its parent's last save returned (a new contact's for a parent not met yet), and is saved
only if that is the stored state; otherwise it is run again the long way. Short-way turns of
parents writing at the same time are saved together, one statement and one commit
(`bot.save_batches`).
The tables themselves are declared in `liaison.models` and migrated by Alembic.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any, cast

import psycopg
from psycopg import AsyncClientCursor, AsyncConnection
from psycopg_pool import AsyncConnectionPool

from bot.assistant import Assistant, Inbound, Outcome
from bot.connections import own_transaction
from bot.known_conversations import KnownConversations, NeedsTransaction, Offline, new_contact
from bot.save_batches import SaveBatches
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

# The turn opens with its transaction (one round trip) and is saved with its COMMIT (one more):
# several statements per query, which the simple query protocol of a client-side-binding
# cursor carries. The functions are migrations 0009's and 0010's.
_OPEN = "BEGIN; SELECT * FROM liaison_open_turn_state(%s, %s, %s)"
# A provider's message id is recorded first: a concurrent copy of the same message waits on
# the unique key until the first one commits, then finds it done (no row).
_OPEN_WITH_RECEIPT = (
    "BEGIN; "
    "INSERT INTO inbound_receipt (channel, message_id, received_at) VALUES (%s, %s, %s) "
    "ON CONFLICT DO NOTHING RETURNING 1; "
    "SELECT * FROM liaison_open_turn_state(%s, %s, %s)"
)
# The save returns the state it leaves (what the next turn would read), for the short way.
_SAVE_AND_COMMIT = "SELECT liaison_save_turn(%s::jsonb); SELECT liaison_turn_state(%s); COMMIT"


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

    def due(self) -> bool:
        """Whether they are to be read again."""
        return time.monotonic() - self._read_at > self.ttl

    def upcoming(self, now: datetime) -> list[Workshop]:
        """Those last read, still to come at `now`."""
        return [w for w in self._workshops if w.starts_at > now]

    async def get(self, connection: AsyncConnection[Any], now: datetime) -> list[Workshop]:
        if self.due():
            self._workshops = await load_workshops(connection, status="published", after=now)
            self._read_at = time.monotonic()
        return self.upcoming(now)


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
        # The web chat's recent conversations, for the short way of a turn.
        self.known = KnownConversations()
        self.batches = SaveBatches(pool)

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
        short_way = inbound.message_id is None and inbound.channel not in self.outbox
        if short_way:
            outcome = await self._known_turn(inbound, now)
            if outcome is not None:
                return outcome
        async with self.pool.connection() as connection, own_transaction(connection):
            contact_id, outcome, state = await self._turn(connection, inbound, now)
        if short_way and state is not None:
            self.known.remember(inbound.channel, inbound.address, contact_id, state)
        return outcome

    async def _known_turn(self, inbound: Inbound, now: datetime) -> Outcome | None:
        """The short way: the turn run on the state its last save left (or, for a parent not
        met here, on a new contact's), and saved in one statement if that is the stored state.
        None when the turn must go the long way: it needs its transaction, or the stored state
        is not the one expected."""
        if self.workshops.due():  # read again every `ttl` seconds
            async with self.pool.connection() as connection:
                await self.workshops.get(connection, now)
        workshops = self.workshops.upcoming(now)
        known = self.known.get(inbound.channel, inbound.address)
        contact_id, expected = known if known is not None else (None, new_contact())
        state = _state_from(expected)
        offline = cast(AsyncConnection[Any], Offline())
        try:
            outcome = await self.assistant.respond(
                state,
                inbound,
                workshops=workshops,
                **self._helpers(offline, contact_id or 0, inbound, now),
            )
        except NeedsTransaction:
            return None
        document = _turn_document(contact_id, inbound, state, outcome, now)
        document["expected"] = expected
        saved = await self.batches.save(document)  # with what other parents said meanwhile
        if saved is None:  # not as expected: nothing of this turn was written
            self.known.forget(inbound.channel, inbound.address)
            return None
        self.known.remember(inbound.channel, inbound.address, saved["contact_id"], saved["state"])
        return outcome

    def _helpers(
        self, connection: AsyncConnection[Any], contact_id: int, inbound: Inbound, now: datetime
    ) -> dict[str, Any]:
        """What the assistant's actions use to reach the database, in the turn's transaction."""
        return {
            "bookings": Bookings(connection, contact_id, now, announce=self._announce),
            "inbox": ParentInbox(
                connection,
                contact_id,
                now,
                self.assistant.config.inbox,
                default_timezone=self.assistant.config.timezone,
            ),
            "memberships": Memberships(
                connection, contact_id, channel=inbound.channel, address=inbound.address, now=now
            ),
        }

    async def _turn(
        self, connection: AsyncConnection[Any], inbound: Inbound, now: datetime
    ) -> tuple[int, Outcome, dict[str, Any] | None]:
        """The long way; returns the contact, the outcome and the state the turn left (None
        for a duplicate)."""
        opened = await _open(connection, inbound, now)
        if opened is None:  # a provider's second delivery of a message already handled
            await connection.execute("ROLLBACK")  # leaves no trace
            return 0, Outcome([], inbound.text, "", None, None, events=["duplicate"]), None
        contact_id, state = opened
        was_opted_out = state.opted_out
        workshops = await self.workshops.get(connection, now)
        outcome = await self.assistant.respond(
            state,
            inbound,
            workshops=workshops,
            **self._helpers(connection, contact_id, inbound, now),
        )
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
        document = _turn_document(contact_id, inbound, state, outcome, now)
        saved = await _save_and_commit(connection, document)
        return contact_id, outcome, saved


async def _open(
    connection: AsyncConnection[Any], inbound: Inbound, now: datetime
) -> tuple[int, ConversationState] | None:
    """Begin the turn's transaction, lock the contact (created if new) and read its
    conversation; None for a provider message id already recorded."""
    cursor = AsyncClientCursor(connection)
    if inbound.message_id is None:
        await cursor.execute(_OPEN, (inbound.channel, inbound.address, now))
    else:
        await cursor.execute(
            _OPEN_WITH_RECEIPT,
            (inbound.channel, inbound.message_id, now, inbound.channel, inbound.address, now),
        )
        cursor.nextset()
        if await cursor.fetchone() is None:
            return None
    cursor.nextset()
    row = await cursor.fetchone()
    if row is None:  # pragma: no cover - the function always returns the contact's row
        raise RuntimeError("liaison_open_turn_state returned nothing")
    contact_id, state = row
    return int(contact_id), _state_from(state)


def _state_from(stored: dict[str, Any]) -> ConversationState:
    """The state a turn starts from, from `liaison_turn_state`'s document (migration 0010)."""
    state = ConversationState(language=stored["language"], opted_out=stored["opted_out"])
    if stored["conversation"]:
        state.welcomed = stored["welcomed"]
        state.active_form = stored["active_form"]
        state.requested_slot = stored["requested_slot"]
        state.slots = dict(stored["slots"])
        state.last_intents = list(stored["last_intents"])
        state.offered_buttons = list(stored["offered_buttons"])
        state.fallback_count = stored["fallback_count"]
        # A person has the conversation while its handover is open (`staff.inbox`).
        state.handover_requested = stored["handover"]
    return state


def _turn_document(
    contact_id: int | None,
    inbound: Inbound,
    state: ConversationState,
    outcome: Outcome,
    now: datetime,
) -> dict[str, Any]:
    """The turn as `liaison_save_turn` takes it: the state, and every turn of this message
    (`contact_id` None: a parent the web process has not met, found by channel and address)."""
    turns = [
        {
            "direction": "in",
            "text": outcome.text,
            "intent": outcome.intent,
            "confidence": outcome.confidence,
        }
    ] + [{"direction": "out", "text": reply.text} for reply in outcome.replies]
    return {
        "contact_id": contact_id,
        "now": now.isoformat(),
        "language": state.language,
        "opted_out": state.opted_out,
        "welcomed": state.welcomed,
        "active_form": state.active_form,
        "requested_slot": state.requested_slot,
        "slots": state.slots,
        "last_intents": state.last_intents,
        "offered_buttons": state.offered_buttons,
        "fallback_count": state.fallback_count,
        "handover": state.handover_requested,
        "channel": inbound.channel,
        "address": inbound.address,
        "language_out": outcome.language,
        "turns": turns,
    }


async def _save_and_commit(
    connection: AsyncConnection[Any], document: dict[str, Any]
) -> dict[str, Any]:
    """Write the turn (`liaison_save_turn`) and commit; the state it leaves."""
    cursor = AsyncClientCursor(connection)
    await cursor.execute(
        _SAVE_AND_COMMIT, (json.dumps(document, ensure_ascii=False), document["contact_id"])
    )
    cursor.nextset()
    row = await cursor.fetchone()
    if row is None:  # pragma: no cover - the contact was just locked and written
        raise RuntimeError("liaison_turn_state returned nothing")
    saved: dict[str, Any] = row[0]
    return saved
