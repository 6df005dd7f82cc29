"""Conversations through the whole core and a real PostgreSQL, read as tables:
(the parent says, the assistant answers)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import bot.store
from bot.assistant import Inbound, Outcome
from bot.store import Conversations
from liaison.app import Runtime
from liaison.database import Database


async def say(
    conversations: Conversations, sender: str, message: str, language: str | None = None
) -> Outcome:
    return await conversations.handle(Inbound("web", sender, message, language_hint=language))


def joined(outcome: Outcome) -> str:
    return "\n".join(reply.text for reply in outcome.replies).lower()


# (the parent says, intent understood, words the answer must contain, language of the answer)
FIRST_MESSAGES = [
    ("bonjour", "greet", ["assistant automatique", "stop"], "fr"),
    (
        "j'arrive pas à activer mon compte educonnect",
        "faq_educonnect",
        ["educonnect.education.gouv.fr"],
        "fr",
    ),
    ("كيف أفعل حساب إديكونيكت", "faq_educonnect", ["educonnect.education.gouv.fr"], "ar"),
    ("g oublié mon mdp pronote", "faq_password_reset", ["oublié"], "fr"),
    ("ENT'ye nasıl giriş yaparım", "faq_ent_login", ["ent"], "tr"),
    ("no puedo ver las notas de mi hijo en pronote", "faq_pronote_grades", ["pronote"], "es"),
]


@pytest.mark.parametrize(("message", "intent", "expected", "language"), FIRST_MESSAGES)
async def test_first_message_is_welcomed_and_answered(
    conversations: Conversations,
    sender: str,
    message: str,
    intent: str,
    expected: list[str],
    language: str,
) -> None:
    outcome = await say(conversations, sender, message)
    assert outcome.intent == intent
    assert outcome.language == language
    answer = joined(outcome)
    for word in expected:
        assert word in answer
    # The first reply is the welcome: an automatic assistant, a person can take over, STOP.
    assert "STOP" in outcome.replies[0].text


async def test_welcome_only_once(conversations: Conversations, sender: str) -> None:
    first = await say(conversations, sender, "bonjour")
    second = await say(conversations, sender, "bonjour")
    assert "STOP" in first.replies[0].text
    assert all("STOP" not in reply.text for reply in second.replies)
    assert second.replies[-1].buttons, "greeting offers the topics"


async def test_arabic_answer_is_in_arabic(conversations: Conversations, sender: str) -> None:
    outcome = await say(conversations, sender, "نسيت كلمة السر ديال pronote")
    assert outcome.language == "ar"
    assert any("\u0600" <= ch <= "\u06ff" for ch in outcome.replies[-1].text)


async def test_language_is_sticky_for_short_messages(
    conversations: Conversations, sender: str
) -> None:
    await say(conversations, sender, "Merhaba, çocuğumun notlarını nasıl görebilirim?")
    for short in ("ok", "1", "evet", "bjr"):
        outcome = await say(conversations, sender, short)
        assert outcome.language == "tr", short


async def test_confident_other_language_switches(conversations: Conversations, sender: str) -> None:
    await say(conversations, sender, "bonjour, je voudrais voir les devoirs de ma fille")
    outcome = await say(
        conversations, sender, "Hello, how can I see my son's homework online please?"
    )
    assert outcome.language == "en"


async def test_change_language_with_and_without_a_name(
    conversations: Conversations, sender: str
) -> None:
    await say(conversations, sender, "bonjour")
    named = await say(conversations, sender, "parlez en arabe svp")
    assert named.language == "ar"
    asked = await say(conversations, sender, "/change_language")
    assert len(asked.replies[-1].buttons) == 6, "the six languages are offered"
    chosen = await say(conversations, sender, "4")  # Türkçe is the fourth
    assert chosen.language == "tr"


async def test_language_picker_hint_is_an_explicit_choice(
    conversations: Conversations, sender: str
) -> None:
    outcome = await say(conversations, sender, "/greet", language="pt")
    assert outcome.language == "pt"


# (payload or number, expected intent) after a greeting that shows the topic buttons
async def test_button_payloads_and_numbered_choices(
    conversations: Conversations, sender: str
) -> None:
    greeting = await say(conversations, sender, "bonjour")
    buttons = greeting.replies[-1].buttons
    by_payload = await say(conversations, sender, "/faq_homework")
    assert by_payload.intent == "faq_homework" and by_payload.confidence == 1.0
    again = await say(conversations, sender, "bonjour")
    assert again.replies[-1].buttons == buttons
    by_number = await say(conversations, sender, " 2. ")
    assert by_number.intent == buttons[1].payload.lstrip("/")


async def test_two_fallbacks_hand_the_conversation_to_a_person(
    conversations: Conversations, sender: str, engine: AsyncEngine
) -> None:
    await say(conversations, sender, "bonjour")
    first = await say(conversations, sender, "zzkq wpx vvb")
    assert first.confidence is not None and first.confidence < 0.4
    assert len(first.replies[-1].buttons) >= 5, "fallback shows the main topics"
    second = await say(conversations, sender, "qqq xxjj")
    assert "transmets votre message" in joined(second)  # the staff inbox (tests/test_inbox.py)
    async with engine.connect() as connection:
        handover = await connection.scalar(
            text(
                "SELECT handover_requested_at IS NOT NULL FROM conversation JOIN contact c "
                "ON c.id = contact_id WHERE c.address = :a"
            ),
            {"a": sender},
        )
    assert handover is True


async def test_stop_is_honoured_until_start(conversations: Conversations, sender: str) -> None:
    await say(conversations, sender, "bonjour")
    stop = await say(conversations, sender, "Arrêt")
    assert "START" in joined(stop).upper()
    assert (await say(conversations, sender, "comment voir les notes ?")).replies == []
    assert (await say(conversations, sender, "STOP")).replies == [], "one confirmation only"
    start = await say(conversations, sender, "start")
    assert start.replies
    assert (await say(conversations, sender, "devoirs")).replies


async def test_opt_out_intent_stops_messages(conversations: Conversations, sender: str) -> None:
    await say(conversations, sender, "bonjour")
    await say(conversations, sender, "je ne veux plus recevoir vos messages")
    assert (await say(conversations, sender, "bonjour")).replies == []


async def test_help_keyword_says_who_we_are(conversations: Conversations, sender: str) -> None:
    outcome = await say(conversations, sender, "AIDE")
    assert "STOP" in outcome.replies[0].text and "assistant" in joined(outcome)


# Bad input: a polite reply, never a crash.
@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("", "pas reçu de texte"),
        ("   \n\t  ", "pas reçu de texte"),
        ("\x00\x07\x1b", "pas reçu de texte"),
        ("x" * 5000, "trop long"),
        ("🙂🙂🙂", "sujet"),
    ],
)
async def test_bad_input_gets_a_polite_reply(
    conversations: Conversations, sender: str, message: str, expected: str
) -> None:
    await say(conversations, sender, "bonjour")
    outcome = await say(conversations, sender, message)
    assert expected in joined(outcome)


async def test_every_turn_is_stored_with_its_understanding(
    conversations: Conversations, sender: str, engine: AsyncEngine
) -> None:
    await say(conversations, sender, "mot de passe oublié")
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT t.direction, t.channel, t.language, t.intent, t.confidence FROM turn t "
                    "JOIN contact c ON c.id = t.contact_id WHERE c.address = :a ORDER BY t.id"
                ),
                {"a": sender},
            )
        ).all()
    assert rows[0].direction == "in" and rows[0].intent == "faq_password_reset"
    assert rows[0].confidence > 0.4 and rows[0].language == "fr" and rows[0].channel == "web"
    assert len(rows) >= 3 and all(row.direction == "out" for row in rows[1:])


async def _stored(engine: AsyncEngine, sender: str, *turns: str) -> tuple[int, ...]:
    """The contacts stored for `sender`, then the count of their turns matching each of the
    `turns` conditions (SQL on `turn`; all turns by default)."""
    async with engine.connect() as connection:
        counts = [
            await connection.scalar(
                text("SELECT count(*) FROM contact WHERE address = :a"), {"a": sender}
            )
        ]
        for condition in turns or ("TRUE",):
            counts.append(
                await connection.scalar(
                    text(
                        "SELECT count(*) FROM turn t JOIN contact c ON c.id = t.contact_id "
                        f"WHERE c.address = :a AND ({condition})"
                    ),
                    {"a": sender},
                )
            )
    return tuple(int(count or 0) for count in counts)


async def test_concurrent_messages_from_one_parent_are_serialised(
    conversations: Conversations, sender: str, engine: AsyncEngine
) -> None:
    messages = ["bonjour", "devoirs", "notes", "absence", "merci"]
    await asyncio.gather(*(say(conversations, sender, m) for m in messages))
    inbound, welcomes = "direction = 'in'", "direction = 'out' AND text LIKE '%STOP%'"
    assert await _stored(engine, sender, inbound, welcomes) == (1, 5, 1)


async def test_html_is_stored_and_returned_as_text(
    conversations: Conversations, sender: str
) -> None:
    outcome = await say(conversations, sender, "<script>alert(1)</script> notes pronote")
    assert outcome.text.startswith("<script>")  # the page escapes it; the core keeps it as text
    assert outcome.replies


async def test_a_dead_pooled_connection_is_retried_once(
    conversations: Conversations, sender: str, engine: AsyncEngine
) -> None:
    await say(conversations, sender, "bonjour")
    # Kill every idle backend of the pool, as a server restart would.
    async with engine.connect() as connection:
        await connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'liaison-conversations-tests' AND state = 'idle'"
            )
        )
    outcome = await say(conversations, sender, "merci")
    assert outcome.intent == "thanks"
    assert outcome.replies


@pytest.fixture
async def one_connection(database: Database, runtime: Runtime) -> AsyncIterator[Conversations]:
    """Conversations on a pool of one connection: the next turn gets the one a failed turn
    gave back."""
    pool = database.pool(max_size=1, name="liaison-one-connection-tests")
    await pool.open(wait=True, timeout=30)
    yield Conversations(pool, runtime.assistant)
    await pool.close()


async def _connection_is_as_lent(conversations: Conversations) -> None:
    async with conversations.pool.connection() as connection:
        assert connection.autocommit is False
        assert connection.info.transaction_status == TransactionStatus.IDLE


async def test_a_turn_that_fails_leaves_nothing_half_written(
    one_connection: Conversations,
    sender: str,
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(*args: object, **kwargs: object) -> Outcome:
        raise RuntimeError("the assistant failed")

    monkeypatch.setattr(one_connection.assistant, "respond", broken)
    with pytest.raises(RuntimeError, match="the assistant failed"):
        await say(one_connection, sender, "bonjour")
    # The contact's upsert was part of the rolled-back turn.
    assert await _stored(engine, sender) == (0, 0)
    await _connection_is_as_lent(one_connection)
    monkeypatch.undo()
    outcome = await say(one_connection, sender, "bonjour")
    assert "STOP" in outcome.replies[0].text  # still a first contact: welcomed
    assert await _stored(engine, sender) == (1, 1 + len(outcome.replies))


async def test_a_save_that_fails_is_rolled_back_whole(
    one_connection: Conversations,
    sender: str,
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await say(one_connection, sender, "bonjour")
    before = await _stored(engine, sender)
    one_connection.known.forget("web", sender)  # the long way (`test_known_conversations`)
    # The state and the turns are written, then a statement fails before COMMIT.
    monkeypatch.setattr(
        bot.store,
        "_SAVE_AND_COMMIT",
        "SELECT liaison_save_turn(%s::jsonb); SELECT 1/0, %s; COMMIT",
    )
    with pytest.raises(psycopg.errors.DivisionByZero):
        await say(one_connection, sender, "merci")
    assert await _stored(engine, sender) == before
    await _connection_is_as_lent(one_connection)
    monkeypatch.undo()
    assert (await say(one_connection, sender, "merci")).intent == "thanks"


async def test_quotes_backslashes_and_sql_are_stored_as_written(
    conversations: Conversations, sender: str, engine: AsyncEngine
) -> None:
    # The turn's statements bind their parameters client-side (`bot.store`): every character
    # must come back as written, and nothing in a message may run as SQL.
    message = "l'ENT \\ \"oui\" 100% {x} $1 %s ; DROP TABLE turn; -- 'é' \\n"
    outcome = await say(conversations, sender, message)
    async with engine.connect() as connection:
        stored = (
            await connection.execute(
                text(
                    "SELECT t.text, c.address FROM turn t JOIN contact c ON c.id = t.contact_id "
                    "WHERE c.address = :a AND t.direction = 'in'"
                ),
                {"a": sender},
            )
        ).one()
    assert stored.text == outcome.text == message
    assert stored.address == sender
