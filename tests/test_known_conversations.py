"""The short way of a web chat turn (`bot.known_conversations`, `bot.save_batches`): a message
is run on the state its parent's last save left (a new contact's for a parent not met yet) and
saved in one statement, only if that is the stored state; otherwise, or when the turn needs its
transaction, it is run again the long way. Whichever way a turn goes, the conversation must
read the same."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import bot.save_batches
import bot.store
from bot.assistant import Inbound, Outcome
from bot.known_conversations import KnownConversations, NeedsTransaction, Offline, new_contact
from bot.save_batches import UnreadableResult
from bot.store import Conversations
from liaison.app import Runtime
from liaison.database import Database


async def say(conversations: Conversations, sender: str, message: str) -> Outcome:
    return await conversations.handle(Inbound("web", sender, message))


@pytest.fixture
def long_ways(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The addresses of the turns that went the long way (read the state first), in order."""
    seen: list[str] = []
    real = bot.store._open

    async def counted(connection: Any, inbound: Inbound, now: Any) -> Any:
        seen.append(inbound.address)
        return await real(connection, inbound, now)

    monkeypatch.setattr(bot.store, "_open", counted)
    return seen


async def _stored(engine: AsyncEngine, sender: str) -> list[tuple[str, str | None, str]]:
    """The parent's turns: (direction, intent, text), in order."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT t.direction, t.intent, t.text FROM turn t "
                "JOIN contact c ON c.id = t.contact_id WHERE c.address = :a ORDER BY t.id"
            ),
            {"a": sender},
        )
        return [(row.direction, row.intent, row.text) for row in rows]


async def test_web_chat_turns_take_the_short_way_the_first_one_too(
    conversations: Conversations, sender: str, engine: AsyncEngine, long_ways: list[str]
) -> None:
    first = await say(conversations, sender, "bonjour")
    second = await say(conversations, sender, "comment voir les devoirs")
    third = await say(conversations, sender, "et les notes sur pronote")
    assert long_ways == []  # none read the state: a new parent is expected to be new
    assert "STOP" in first.replies[0].text  # welcomed
    assert second.intent == "faq_homework"
    assert third.replies
    stored = await _stored(engine, sender)
    expected = [
        (outcome.text, outcome.intent, len(outcome.replies)) for outcome in (first, second, third)
    ]
    assert [(t, i) for d, i, t in stored if d == "in"] == [(t, i) for t, i, _ in expected]
    assert len(stored) == sum(1 + n for _, _, n in expected)
    # The state the short way saves is the one the long way would have read.
    async with conversations.pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT liaison_turn_state(id) FROM contact WHERE address = %s", (sender,)
        )
        row = await cursor.fetchone()
    assert row is not None
    known = conversations.known.get("web", sender)
    assert known is not None and known[1] == row[0]


async def test_the_short_way_gives_the_answers_of_the_long_way(
    conversations: Conversations,
    database: Database,
    runtime: Runtime,
    long_ways: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    messages = [
        "bonjour",
        "pronote",
        "je veux m'inscrire à un atelier",  # a form: the next answers fill it
        "mot de passe oublié",
        "english please",
        "how do I see the homework",
        "STOP",
        "devoirs",  # not answered: STOP is honoured whichever way
        "START",
        "gracias",
    ]
    pool = database.pool(max_size=2, name="liaison-long-way-tests")
    await pool.open(wait=True, timeout=30)
    try:
        long_only = Conversations(pool, runtime.assistant)

        async def never(inbound: Inbound, now: Any) -> None:
            return None

        monkeypatch.setattr(long_only, "_known_turn", never)  # always the long way
        short, long = f"known-short-{uuid.uuid4()}", f"known-long-{uuid.uuid4()}"
        for message in messages:
            a = await say(conversations, short, message)
            b = await say(long_only, long, message)
            assert (a.intent, a.language, [r.text for r in a.replies]) == (
                b.intent,
                b.language,
                [r.text for r in b.replies],
            ), message
            assert [r.buttons for r in a.replies] == [r.buttons for r in b.replies], message
    finally:
        await pool.close()
    assert long_ways.count(long) == len(messages)
    assert long_ways.count(short) < len(messages) / 2


async def _known_contact(
    conversations: Conversations, sender: str, language: str | None = None
) -> None:
    """A web chat contact stored before its first message (as a school's list creates one)."""
    async with conversations.pool.connection() as connection:
        await connection.execute(
            "INSERT INTO contact (channel, address, language, created_at, last_seen_at) "
            "VALUES ('web', %s, %s, now(), now())",
            (sender, language),
        )


async def test_a_new_contact_is_what_the_database_reads_for_one(
    conversations: Conversations, sender: str
) -> None:
    await _known_contact(conversations, sender)
    async with conversations.pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT liaison_turn_state(id) FROM contact WHERE channel = 'web' AND address = %s",
            (sender,),
        )
        row = await cursor.fetchone()
    assert row is not None and row[0] == new_contact()


async def test_a_parent_known_to_the_database_but_not_here_goes_the_long_way(
    conversations: Conversations, sender: str, long_ways: list[str]
) -> None:
    # A parent whose contact a school's family list created, in Arabic, before they wrote.
    await _known_contact(conversations, sender, language="ar")
    outcome = await say(conversations, sender, "ok")
    assert long_ways == [sender]  # expected new, found known: run again on what is stored
    assert outcome.language == "ar"


async def test_a_change_made_meanwhile_sends_the_turn_the_long_way(
    conversations: Conversations, sender: str, engine: AsyncEngine, long_ways: list[str]
) -> None:
    await say(conversations, sender, "bonjour")
    handed = await say(conversations, sender, "je veux parler à une personne")
    assert any(event.startswith("handover") for event in handed.events)
    quiet = await say(conversations, sender, "allo ?")
    assert quiet.replies == [] and "handover:quiet" in quiet.events
    # A person of the school closes the conversation (as `staff.inbox.close` does).
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "UPDATE handover SET status = 'closed', closed_at = now() WHERE contact_id = "
                "(SELECT id FROM contact WHERE address = :a)"
            ),
            {"a": sender},
        )
        await connection.execute(
            text(
                "UPDATE conversation SET handover_requested_at = NULL, fallback_count = 0 "
                "WHERE contact_id = (SELECT id FROM contact WHERE address = :a)"
            ),
            {"a": sender},
        )
    long_ways.clear()
    answered = await say(conversations, sender, "comment voir les devoirs")
    # The web process still remembered a person having the conversation: its short turn
    # (quiet) was refused and nothing of it written; the long way answers.
    assert long_ways == [sender]
    assert answered.intent == "faq_homework" and answered.replies
    ins = [t for d, _, t in await _stored(engine, sender) if d == "in"]
    assert ins == ["bonjour", "je veux parler à une personne", "allo ?", answered.text]


async def test_two_web_processes_take_turns_with_one_parent(
    conversations: Conversations,
    database: Database,
    runtime: Runtime,
    sender: str,
    engine: AsyncEngine,
) -> None:
    pool = database.pool(max_size=2, name="liaison-second-process-tests")
    await pool.open(wait=True, timeout=30)
    try:
        other = Conversations(pool, runtime.assistant)
        outcomes = []
        for i, message in enumerate(["bonjour", "xqzw", "vbnm", "devoirs", "ok", "merci"]):
            outcomes.append(await say(conversations if i % 2 == 0 else other, sender, message))
    finally:
        await pool.close()
    # Each process saw what the other had done: one welcome, and the two misunderstandings in
    # a row (one in each process) offered a person.
    stored = await _stored(engine, sender)
    assert sum("STOP" in t for d, _, t in stored if d == "out") == 1
    assert any(event.startswith("handover") for event in outcomes[2].events)
    assert [t for d, _, t in stored if d == "in"] == [o.text for o in outcomes]


async def test_concurrent_messages_of_a_known_parent_are_all_kept(
    conversations: Conversations, sender: str, engine: AsyncEngine
) -> None:
    await say(conversations, sender, "bonjour")
    messages = ["devoirs", "notes", "absence", "cantine", "merci"]
    outcomes = await asyncio.gather(*(say(conversations, sender, m) for m in messages))
    stored = await _stored(engine, sender)
    assert sorted(t for d, _, t in stored if d == "in") == sorted(["bonjour", *messages])
    assert len(stored) == 1 + 1 + sum(1 + len(o.replies) for o in outcomes)  # welcome included
    assert sum("STOP" in t for d, _, t in stored if d == "out") == 1


async def test_a_turn_that_needs_its_transaction_goes_the_long_way(
    conversations: Conversations, sender: str, long_ways: list[str]
) -> None:
    await say(conversations, sender, "bonjour")
    joining = await say(conversations, sender, "REJOINDRE ZZZZ9")  # reads the schools
    assert long_ways == [sender]
    assert joining.replies


@pytest.fixture
async def one_connection(database: Database, runtime: Runtime) -> AsyncIterator[Conversations]:
    pool = database.pool(max_size=1, name="liaison-known-one-connection-tests")
    await pool.open(wait=True, timeout=30)
    yield Conversations(pool, runtime.assistant)
    await pool.close()


async def test_a_batch_that_fails_writes_nothing_and_its_turns_go_the_long_way(
    one_connection: Conversations,
    sender: str,
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
    long_ways: list[str],
) -> None:
    await say(one_connection, sender, "bonjour")
    before = await _stored(engine, sender)
    # The turn is saved, then the statement fails: its transaction is rolled back.
    monkeypatch.setattr(
        bot.save_batches,
        "_SAVE",
        "SELECT 1 / (saved IS NULL)::int FROM liaison_save_known_turns(%s::jsonb) AS saved",
    )
    outcome = await say(one_connection, sender, "merci")
    assert outcome.intent == "thanks"
    assert long_ways == [sender]
    stored = await _stored(engine, sender)
    assert stored[: len(before)] == before
    assert stored[len(before) :] == [("in", "thanks", "merci")] + [
        ("out", None, reply.text) for reply in outcome.replies
    ]  # once: the failed batch left nothing
    async with one_connection.pool.connection() as connection:
        assert connection.autocommit is False
    monkeypatch.undo()
    long_ways.clear()
    assert (await say(one_connection, sender, "devoirs")).replies
    assert long_ways == []  # the short way works again


async def test_a_batch_saved_but_unreadable_fails_its_turns_rather_than_save_twice(
    one_connection: Conversations,
    sender: str,
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await say(one_connection, sender, "bonjour")
    monkeypatch.setattr(
        bot.save_batches,
        "_SAVE",
        "SELECT '[]'::jsonb FROM liaison_save_known_turns(%s::jsonb) AS saved",
    )
    with pytest.raises(UnreadableResult):
        await say(one_connection, sender, "merci")
    assert [t for d, _, t in await _stored(engine, sender) if d == "in"] == ["bonjour", "merci"]


async def test_parents_writing_at_once_are_saved_together(
    database: Database, runtime: Runtime, engine: AsyncEngine
) -> None:
    pool = database.pool(max_size=4, name="liaison-batch-tests")
    await pool.open(wait=True, timeout=30)
    try:
        conversations = Conversations(pool, runtime.assistant)
        parents = [f"batch-{uuid.uuid4()}" for _ in range(12)]
        await asyncio.gather(*(say(conversations, p, "bonjour") for p in parents))
        # Twice the same parent in one batch: the second finds the state changed.
        messages = [(p, "comment voir les devoirs") for p in parents] + [(parents[0], "merci")]
        outcomes = await asyncio.gather(*(say(conversations, p, m) for p, m in messages))
    finally:
        await pool.close()
    assert conversations.batches.statements < conversations.batches.turns
    assert all(o.intent == "faq_homework" and o.replies for o in outcomes[:-1])
    assert outcomes[-1].intent == "thanks"
    for parent in parents:
        ins = [t for d, _, t in await _stored(engine, parent) if d == "in"]
        expected = ["bonjour", "comment voir les devoirs"]
        assert sorted(ins) == sorted(expected + (["merci"] if parent == parents[0] else []))


def test_known_conversations_forget_the_least_recent_beyond_their_size() -> None:
    known = KnownConversations(size=2)
    known.remember("web", "a", 1, {"n": 1})
    known.remember("web", "b", 2, {"n": 2})
    assert known.get("web", "a") == (1, {"n": 1})  # now the most recent
    known.remember("web", "c", 3, {"n": 3})
    assert known.get("web", "b") is None
    assert known.get("web", "a") is not None and known.get("web", "c") is not None
    known.forget("web", "a")
    assert len(known) == 1


async def test_offline_stops_a_turn_even_through_a_broad_except() -> None:
    async def action(connection: Any) -> str:
        try:
            await connection.execute("SELECT 1")
        except Exception:  # an action that logs and goes on must not hide it
            return "swallowed"
        return "ran"

    with pytest.raises(NeedsTransaction):
        await action(Offline())
