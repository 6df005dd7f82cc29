"""Conversation state and turns in PostgreSQL, one transaction per inbound message.

`Conversations.handle()` locks the contact's row (an upsert takes the row lock), runs the
assistant, and writes the inbound turn, the replies and the new state together: a turn is
never half-written, and two messages from one parent handled by two processes queue up
instead of overwriting each other.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.assistant import Assistant, Inbound, Outcome
from bot.state import ConversationState
from liaison.models import Contact, Conversation, Turn

contact_table = Contact.__table__  # type: ignore[attr-defined]
conversation_table = Conversation.__table__  # type: ignore[attr-defined]
turn_table = Turn.__table__  # type: ignore[attr-defined]


class Conversations:
    def __init__(self, engine: AsyncEngine, assistant: Assistant) -> None:
        self.engine = engine
        self.assistant = assistant

    async def handle(self, inbound: Inbound) -> Outcome:
        now = datetime.now(UTC)
        async with self.engine.begin() as connection:
            contact_id, state = await _load(connection, inbound, now)
            outcome = await self.assistant.respond(state, inbound)
            await _save(connection, contact_id, inbound, state, outcome, now)
        return outcome


async def _load(
    connection: AsyncConnection, inbound: Inbound, now: datetime
) -> tuple[int, ConversationState]:
    upsert = (
        pg_insert(contact_table)
        .values(channel=inbound.channel, address=inbound.address, created_at=now, last_seen_at=now)
        .on_conflict_do_update(constraint="uq_contact_channel_address", set_={"last_seen_at": now})
        .returning(contact_table.c.id, contact_table.c.language, contact_table.c.opted_out_at)
    )
    contact = (await connection.execute(upsert)).one()
    row = (
        await connection.execute(
            select(conversation_table).where(conversation_table.c.contact_id == contact.id)
        )
    ).one_or_none()
    state = ConversationState(language=contact.language, opted_out=contact.opted_out_at is not None)
    if row is None:
        await connection.execute(
            insert(conversation_table).values(contact_id=contact.id, updated_at=now)
        )
    else:
        state.welcomed = row.welcomed
        state.active_form = row.active_form
        state.requested_slot = row.requested_slot
        state.slots = dict(row.slots)
        state.last_intents = list(row.last_intents)
        state.offered_buttons = list(row.offered_buttons)
        state.fallback_count = row.fallback_count
        state.handover_requested = row.handover_requested_at is not None
    return int(contact.id), state


async def _save(
    connection: AsyncConnection,
    contact_id: int,
    inbound: Inbound,
    state: ConversationState,
    outcome: Outcome,
    now: datetime,
) -> None:
    await connection.execute(
        update(contact_table)
        .where(contact_table.c.id == contact_id)
        .values(language=state.language, opted_out_at=_opted_out_at(connection, state, now))
    )
    await connection.execute(
        update(conversation_table)
        .where(conversation_table.c.contact_id == contact_id)
        .values(
            welcomed=state.welcomed,
            active_form=state.active_form,
            requested_slot=state.requested_slot,
            slots=state.slots,
            last_intents=state.last_intents,
            offered_buttons=state.offered_buttons,
            fallback_count=state.fallback_count,
            handover_requested_at=(
                conversation_table.c.handover_requested_at
                if not state.handover_requested
                else _coalesce_now(now)
            ),
            updated_at=now,
        )
    )
    turns = [
        {
            "contact_id": contact_id,
            "direction": "in",
            "channel": inbound.channel,
            "text": outcome.text,
            "language": outcome.language,
            "intent": outcome.intent,
            "confidence": outcome.confidence,
            "created_at": now,
        }
    ]
    turns += [
        {
            "contact_id": contact_id,
            "direction": "out",
            "channel": inbound.channel,
            "text": reply.text,
            "language": outcome.language,
            "intent": None,
            "confidence": None,
            "created_at": now,
        }
        for reply in outcome.replies
    ]
    await connection.execute(insert(turn_table), turns)


def _opted_out_at(connection: AsyncConnection, state: ConversationState, now: datetime) -> object:
    from sqlalchemy import func

    if not state.opted_out:
        return None
    return func.coalesce(contact_table.c.opted_out_at, now)


def _coalesce_now(now: datetime) -> object:
    from sqlalchemy import func

    return func.coalesce(conversation_table.c.handover_requested_at, now)
