"""The staff inbox: the conversation hands a parent over to a person (asked for, or not
understood twice), once; the parent is told when a person will answer; the assistant stays
quiet meanwhile (STOP and HELP still work); staff answer from the page, on SMS through the
outbox and the fake Twilio, on the web chat through `GET /chat/messages`; closing hands the
parent back. School staff never reach another school's conversation (404); forms need CSRF;
every refused input has its test.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from broadcast_helpers import join_contact
from outbox_helpers import deliver_all, messages_for
from psycopg.types.json import Jsonb
from staff_helpers import csrf_of, make_account

from bot.actions import Opening
from bot.assistant import Inbound, Outcome
from bot.handover import when_a_person_answers
from bot.store import Conversations
from liaison.i18n import Catalogs
from staff import inbox
from staff.opening_hours import next_opening
from workshops.quiet_hours import QuietHours, is_rest_day

PARIS = "Europe/Paris"
WEEK = {day: [["08:30", "12:00"], ["13:30", "17:00"]] for day in ("mon", "tue", "thu", "fri")}
WEEK["wed"] = [["08:30", "12:00"]]
ARABIC = re.compile(r"[\u0600-\u06FF]")
SMS_WEBHOOK = "/webhooks/twilio/sms"


def _paris(text: str) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(PARIS))


# -- when a person will answer -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "hours", "zone", "expected"),
    [
        pytest.param("2026-03-10 10:00", WEEK, PARIS, "2026-03-10 10:00", id="open-now"),
        pytest.param("2026-03-10 12:30", WEEK, PARIS, "2026-03-10 13:30", id="later-today"),
        pytest.param("2026-03-10 07:00", WEEK, PARIS, "2026-03-10 08:30", id="this-morning"),
        pytest.param("2026-03-11 14:00", WEEK, PARIS, "2026-03-12 08:30", id="wed-afternoon"),
        pytest.param("2026-03-13 18:00", WEEK, PARIS, "2026-03-16 08:30", id="next-monday"),
        pytest.param("2026-05-01 09:00", WEEK, PARIS, "2026-05-04 08:30", id="labour-day"),
        pytest.param("2026-07-13 17:30", WEEK, PARIS, "2026-07-15 08:30", id="before-14-july"),
        pytest.param(
            "2026-05-26 17:30",
            WEEK,
            "America/Guadeloupe",
            "2026-05-28 08:30",
            id="guadeloupe-27-may",
        ),
        pytest.param("2026-03-10 10:00", {}, PARIS, None, id="no-hours"),
        pytest.param(
            "2026-03-10 10:00",
            {"tue": [["9h", "12:00"], ["14:00", "13:00"]], "xyz": [["08:00", "09:00"]]},
            PARIS,
            None,
            id="malformed-hours-ignored",
        ),
    ],
)
def test_next_opening(now: str, hours: dict[str, Any], zone: str, expected: str | None) -> None:
    from zoneinfo import ZoneInfo

    local = datetime.fromisoformat(now).replace(tzinfo=ZoneInfo(zone))
    found = next_opening(hours, zone, local)
    if expected is None:
        assert found is None
    else:
        assert found == datetime.fromisoformat(expected).replace(tzinfo=ZoneInfo(zone))


def _opening(now: str, at: str | None) -> Opening:
    return Opening(
        handover_id=1,
        created=True,
        opened_at=_paris(now),
        answers_at=_paris(at) if at else None,
        timezone=PARIS,
    )


@pytest.mark.parametrize(
    ("language", "now", "at", "expected"),
    [
        ("fr", "2026-03-10 10:00", "2026-03-10 10:00", "vous répondra bientôt"),
        ("fr", "2026-03-10 12:30", "2026-03-10 13:30", "aujourd'hui à partir de 13:30"),
        ("fr", "2026-03-11 14:00", "2026-03-12 08:30", "demain à partir de 08:30"),
        ("fr", "2026-03-13 18:00", "2026-03-16 08:30", "lundi à partir de 08:30"),
        ("fr", "2026-04-10 18:00", "2026-04-27 08:30", "le 27 avril à partir de 08:30"),
        ("fr", "2026-03-10 10:00", None, "dès que possible"),
        ("en", "2026-03-13 18:00", "2026-03-16 08:30", "Monday"),
        ("tr", "2026-03-13 18:00", "2026-03-16 08:30", "Pazartesi"),
        ("ar", "2026-03-13 18:00", "2026-03-16 08:30", "الاثنين"),
    ],
)
def test_when_a_person_answers_in_the_parents_language(
    language: str, now: str, at: str | None, expected: str
) -> None:
    catalogs = Catalogs.load(["fr", "en", "ar", "tr"])
    with catalogs.use(language):
        text = when_a_person_answers(_opening(now, at))
    assert expected in text
    if language == "ar":
        assert ARABIC.search(text.replace(expected, ""))


# -- the conversation --------------------------------------------------------------------------


async def say(conversations: Conversations, sender: str, text: str) -> Outcome:
    return await conversations.handle(Inbound(channel="web", address=sender, text=text))


def joined(outcome: Outcome) -> str:
    return "\n".join(reply.text for reply in outcome.replies)


async def _handovers(pool: Any, channel: str, address: str) -> list[dict[str, Any]]:
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT h.id, h.status, h.reason, h.school_id FROM handover h "
            "JOIN contact c ON c.id = h.contact_id WHERE c.channel = %s AND c.address = %s "
            "ORDER BY h.id",
            (channel, address),
        )
        names = [column.name for column in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in await cursor.fetchall()]


async def _turns(pool: Any, address: str) -> list[tuple[str, str]]:
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT t.direction, t.text FROM turn t JOIN contact c ON c.id = t.contact_id "
            "WHERE c.address = %s ORDER BY t.id",
            (address,),
        )
        return [(str(d), str(t)) for d, t in await cursor.fetchall()]


@pytest.mark.parametrize(
    ("language", "text", "marker"),
    [
        ("fr", "je veux parler à quelqu'un", "équipe"),
        ("ar", "أريد التحدث مع شخص", ARABIC),
        ("tr", "gerçek bir insanla konuşmak istiyorum", "okul"),
    ],
)
async def test_asking_for_a_person_opens_the_inbox_once(
    conversations: Conversations, pool: Any, sender: str, language: str, text: str, marker: Any
) -> None:
    outcome = await say(conversations, sender, text)
    assert outcome.intent == "human_handover" and "handover" in outcome.events
    said = outcome.replies[0].text  # what matters first (the welcome follows)
    assert "répondra" in said if language == "fr" else "répondra" not in said
    assert marker.search(said) if isinstance(marker, re.Pattern) else marker in said.lower()
    rows = await _handovers(pool, "web", sender)
    assert [(r["status"], r["reason"], r["school_id"]) for r in rows] == [
        ("open", "handover", None)
    ]
    again = await say(conversations, sender, text)
    assert again.replies == [] and again.events == ["handover:quiet"]
    assert len(await _handovers(pool, "web", sender)) == 1


async def test_two_fallbacks_in_a_row_open_the_inbox(
    conversations: Conversations, pool: Any, sender: str
) -> None:
    await say(conversations, sender, "bonjour")
    first = await say(conversations, sender, "zzkq wpx vvb")
    assert await _handovers(pool, "web", sender) == []
    assert first.replies, "the first misunderstanding gets the topics"
    second = await say(conversations, sender, "qqq xxjj")
    assert "handover:fallbacks" in second.events
    assert "transmets votre message" in joined(second)
    rows = await _handovers(pool, "web", sender)
    assert [(r["status"], r["reason"]) for r in rows] == [("open", "fallbacks")]
    third = await say(conversations, sender, "wwxq zzk")
    assert third.replies == [] and len(await _handovers(pool, "web", sender)) == 1


async def test_while_open_the_assistant_is_quiet_but_stop_and_help_work(
    conversations: Conversations, pool: Any, sender: str
) -> None:
    await say(conversations, sender, "je veux parler à quelqu'un")
    quiet = await say(conversations, sender, "comment voir les notes sur pronote ?")
    assert quiet.replies == []
    assert ("in", "comment voir les notes sur pronote ?") in await _turns(pool, sender)
    help_ = await say(conversations, sender, "AIDE")
    assert "STOP" in joined(help_)
    stop = await say(conversations, sender, "STOP")
    assert "START" in joined(stop)
    assert (await say(conversations, sender, "bonjour")).replies == []


async def _school(pool: Any, hours: dict[str, Any], zone: str = PARIS) -> int:
    code = uuid.uuid4().hex[:8].upper()
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "INSERT INTO school (uai, name, timezone, join_code, opening_hours, created_at) "
            "VALUES (%s, %s, %s, %s, %s, now()) RETURNING id",
            (code, f"Collège {code}", zone, code, Jsonb(hours)),
        )
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def _join(pool: Any, channel: str, address: str, school_id: int) -> None:
    """The contact (created if need be) in a family of `school_id`."""
    async with pool.connection() as connection:
        await join_contact(connection, channel, address, school_id)


def _noon_zone() -> str:
    """A fixed-offset zone where it is now about noon."""
    offset = 12 - datetime.now(UTC).hour
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"


def _today_is_a_holiday(zone: str) -> bool:
    from zoneinfo import ZoneInfo

    today = datetime.now(UTC).astimezone(ZoneInfo(zone)).date()
    return is_rest_day(today, zone, QuietHours(sundays=False))


EVERY_DAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        pytest.param([["00:00", "23:59"]], "vous répondra bientôt", id="open-now"),
        pytest.param([["23:00", "23:30"]], "aujourd'hui à partir de 23:00", id="later-today"),
    ],
)
async def test_the_parents_school_answers_with_its_own_hours(
    conversations: Conversations, pool: Any, sender: str, hours: list[list[str]], expected: str
) -> None:
    zone = _noon_zone()
    school = await _school(pool, dict.fromkeys(EVERY_DAY, hours), zone)
    await _join(pool, "web", sender, school)
    outcome = await say(conversations, sender, "je veux parler à quelqu'un")
    if _today_is_a_holiday(zone):
        assert "demain" in joined(outcome) or "à partir de" in joined(outcome)
    else:
        assert expected in joined(outcome)
    assert [r["school_id"] for r in await _handovers(pool, "web", sender)] == [school]


# -- staff pages ---------------------------------------------------------------------------------


async def _staff(url: str, pool: Any, clients: Any, **kwargs: Any) -> httpx.Client:
    account = await make_account(pool, roles=kwargs.pop("roles", ("school",)), **kwargs)
    client, answer = clients.sign_in(url, account.email)
    assert answer.status_code == 303, answer.text
    return client


async def _open_web(conversations: Conversations, pool: Any, sender: str) -> int:
    await say(conversations, sender, "je veux parler à quelqu'un")
    rows = await _handovers(pool, "web", sender)
    assert rows and rows[-1]["status"] == "open"
    return int(rows[-1]["id"])


async def _pending(url: str, sender: str, after: str | int) -> list[dict[str, Any]]:
    """What the web chat page of `sender` would fetch."""
    async with httpx.AsyncClient(base_url=url) as parent:
        answer = await parent.get("/chat/messages", params={"sender": sender, "after": after})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["messages"])


def _reply(client: httpx.Client, handover_id: int, text: str) -> httpx.Response:
    page = client.get(f"/staff/messages/{handover_id}")
    assert page.status_code == 200, page.text
    return client.post(
        f"/staff/messages/{handover_id}/repondre", data={"csrf": csrf_of(page.text), "text": text}
    )


def _close(client: httpx.Client, handover_id: int) -> httpx.Response:
    page = client.get(f"/staff/messages/{handover_id}")
    return client.post(f"/staff/messages/{handover_id}/fermer", data={"csrf": csrf_of(page.text)})


async def test_staff_answer_a_sms_parent_through_the_outbox_and_close(
    channel_server_url: str, fakes: Any, delivery: Any, pool: Any, staff_clients: Any, phone: str
) -> None:
    url = channel_server_url

    async def text(body: str) -> list[str]:
        before = len(fakes.twilio.messages_to(phone))
        answer = await fakes.twilio.send_inbound(url + SMS_WEBHOOK, from_=phone, body=body)
        assert answer.status_code == 200, answer.text
        await deliver_all(delivery, pool, "sms", phone)
        return [m.body for m in fakes.twilio.messages_to(phone)[before:]]

    await text("bonjour")
    told = await text("je veux parler à quelqu'un")
    assert any("répondra" in body for body in told)
    [row] = await _handovers(pool, "sms", phone)
    assert await text("Bonjour, mon fils a perdu sa tablette") == []  # quiet: a person answers

    client = await _staff(url, pool, staff_clients)
    listing = client.get("/staff/messages")
    assert listing.status_code == 200
    assert f'href="/staff/messages/{row["id"]}"' in listing.text
    assert "perdu sa tablette" in listing.text and "français" in listing.text

    words = "Bonjour, passez au secrétariat demain à 9h avec le bon de prêt."
    answer = _reply(client, row["id"], words)
    assert answer.status_code == 303
    queued = [m for m in await messages_for(pool, "sms", phone) if m["kind"] == "staff"]
    assert [(m["body"], m["priority"], m["status"]) for m in queued] == [(words, 100, "queued")]
    await deliver_all(delivery, pool, "sms", phone)
    assert fakes.twilio.messages_to(phone)[-1].body == words
    page = client.get(f"/staff/messages/{row['id']}")
    assert words in page.text and "Camille Test" in page.text

    assert _close(client, row["id"]).status_code == 303
    await deliver_all(delivery, pool, "sms", phone)
    assert "assistant" in fakes.twilio.messages_to(phone)[-1].body
    assert [r["status"] for r in await _handovers(pool, "sms", phone)] == ["closed"]
    back = await text("comment voir les notes sur pronote ?")
    assert back and "Pronote" in " ".join(back), "the assistant answers again"
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT action FROM audit_log WHERE target_type = 'handover' AND target_id = %s "
            "ORDER BY id",
            (str(row["id"]),),
        )
        assert [r[0] for r in await cursor.fetchall()] == ["inbox.replied", "inbox.closed"]


async def test_closing_waits_for_a_parents_turn_in_flight(
    conversations: Conversations, pool: Any, runtime: Any, sender: str
) -> None:
    handover_id = await _open_web(conversations, pool, sender)
    account = await make_account(pool, roles=("admin",))
    outbound = inbox.Outbound({}, runtime.catalogs, "fr")
    async with pool.connection() as turn, pool.connection() as staff:
        # A parent's turn between its read and its save holds the contact (`bot.store`).
        await turn.execute(
            "SELECT 1 FROM contact WHERE channel = 'web' AND address = %s FOR NO KEY UPDATE",
            (sender,),
        )
        handover = await inbox.load(staff, await inbox.scope_of(staff, account), handover_id)
        assert handover is not None
        closing = asyncio.create_task(
            inbox.close(staff, handover, account=account, outbound=outbound, now=datetime.now(UTC))
        )
        await asyncio.sleep(0.5)
        assert not closing.done()  # the turn's save comes first, then the reset
        await turn.commit()
        await asyncio.wait_for(closing, timeout=10)
    assert (await _handovers(pool, "web", sender))[-1]["status"] == "closed"


async def test_a_web_parent_gets_staff_messages_from_the_chat_endpoint(
    channel_server_url: str,
    conversations: Conversations,
    pool: Any,
    staff_clients: Any,
    sender: str,
) -> None:
    await say(conversations, sender, "أريد التحدث مع شخص")
    handover_id = (await _handovers(pool, "web", sender))[-1]["id"]
    client = await _staff(channel_server_url, pool, staff_clients)
    page = client.get(f"/staff/messages/{handover_id}")
    assert "arabe (العربية)" in page.text and 'dir="auto"' in page.text

    assert _reply(client, handover_id, "مرحبا، سنتصل بك غدا").status_code == 303
    found = await _pending(channel_server_url, sender, "0")
    assert [m["text"] for m in found] == ["مرحبا، سنتصل بك غدا"]
    last = found[-1]["id"]
    assert await _pending(channel_server_url, sender, last) == []
    async with httpx.AsyncClient(base_url=channel_server_url) as parent:
        other = await parent.get(
            "/chat/messages", params={"sender": f"test-{uuid.uuid4()}", "after": "0"}
        )
    assert other.status_code == 200 and other.json()["messages"] == []
    assert other.headers["cache-control"] == "no-store"

    assert _close(client, handover_id).status_code == 303
    closing = await _pending(channel_server_url, sender, last)
    assert len(closing) == 1 and ARABIC.search(closing[0]["text"])
    assert (await say(conversations, sender, "bonjour")).replies, "the assistant is back"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"sender": "", "after": "0"}, "invalid_sender"),
        ({"sender": "bad sender!", "after": "0"}, "invalid_sender"),
        ({"sender": "web-1", "after": "-1"}, "invalid_after"),
        ({"sender": "web-1", "after": "1e5"}, "invalid_after"),
        ({"sender": "web-1", "after": "9" * 19}, "invalid_after"),
    ],
)
def test_the_chat_endpoint_refuses_bad_queries(
    channel_server_url: str, params: dict[str, str], code: str
) -> None:
    answer = httpx.get(channel_server_url + "/chat/messages", params=params)
    assert answer.status_code == 422 and answer.json()["error"] == code


async def test_school_staff_never_reach_another_schools_conversation(
    channel_server_url: str,
    conversations: Conversations,
    pool: Any,
    staff_clients: Any,
    sender: str,
) -> None:
    ours, theirs = await _school(pool, WEEK), await _school(pool, WEEK)
    await _join(pool, "web", sender, theirs)
    handover_id = await _open_web(conversations, pool, sender)

    outsider = await _staff(channel_server_url, pool, staff_clients, schools=[ours])
    assert f'/staff/messages/{handover_id}"' not in outsider.get("/staff/messages").text
    assert outsider.get(f"/staff/messages/{handover_id}").status_code == 404
    csrf = csrf_of(outsider.get("/staff/messages").text)
    for action, data in (("repondre", {"text": "Bonjour"}), ("fermer", {})):
        answer = outsider.post(
            f"/staff/messages/{handover_id}/{action}", data={"csrf": csrf, **data}
        )
        assert answer.status_code == 404
    assert [r["status"] for r in await _handovers(pool, "web", sender)] == ["open"]
    assert ("out", "Bonjour") not in await _turns(pool, sender)

    for roles, schools in ((("school",), [theirs]), (("admin",), [])):
        insider = await _staff(
            channel_server_url, pool, staff_clients, roles=roles, schools=schools
        )
        assert insider.get(f"/staff/messages/{handover_id}").status_code == 200
    organiser = await _staff(channel_server_url, pool, staff_clients, roles=("organiser",))
    assert organiser.get(f"/staff/messages/{handover_id}").status_code == 403


async def test_unknown_ids_csrf_and_bad_replies_are_refused(
    channel_server_url: str,
    conversations: Conversations,
    pool: Any,
    staff_clients: Any,
    sender: str,
) -> None:
    handover_id = await _open_web(conversations, pool, sender)
    client = await _staff(channel_server_url, pool, staff_clients)
    for path in ("/staff/messages/999999999", "/staff/messages/abc", "/staff/messages/-1"):
        assert client.get(path).status_code == 404

    no_csrf = client.post(f"/staff/messages/{handover_id}/repondre", data={"text": "Bonjour"})
    assert no_csrf.status_code == 403
    wrong = client.post(f"/staff/messages/{handover_id}/fermer", data={"csrf": "not-the-token"})
    assert wrong.status_code == 403

    empty = _reply(client, handover_id, "   \n ")
    assert empty.status_code == 422 and "vide" in empty.text
    huge = _reply(client, handover_id, "a" * 10_240)
    assert huge.status_code == 422 and "1000 au plus" in huge.text
    assert "a" * 10_240 in huge.text, "the text comes back to be shortened"
    assert [d for d, _t in await _turns(pool, sender)].count("out") == 2, "nothing was sent"

    assert _close(client, handover_id).status_code == 303
    twice = _close(client, handover_id)
    assert twice.status_code == 409 and "déjà fermée" in twice.text
    late = _reply(client, handover_id, "Encore là ?")
    assert late.status_code == 409


async def test_a_parent_who_wrote_stop_gets_no_reply(
    channel_server_url: str,
    conversations: Conversations,
    pool: Any,
    staff_clients: Any,
    sender: str,
) -> None:
    handover_id = await _open_web(conversations, pool, sender)
    await say(conversations, sender, "STOP")
    client = await _staff(channel_server_url, pool, staff_clients)
    refused = _reply(client, handover_id, "Bonjour")
    assert refused.status_code == 409 and "STOP" in refused.text
    assert _close(client, handover_id).status_code == 303
    assert await _pending(channel_server_url, sender, "0") == []


async def test_the_list_shows_open_conversations_first_with_the_language(
    channel_server_url: str,
    conversations: Conversations,
    pool: Any,
    staff_clients: Any,
) -> None:
    school = await _school(pool, WEEK)
    senders = [f"test-{uuid.uuid4()}" for _ in range(2)]
    for sender in senders:
        await _join(pool, "web", sender, school)
    closed_id = await _open_web(conversations, pool, senders[0])
    await conversations.handle(
        Inbound(channel="web", address=senders[1], text="biriyle konuşmak istiyorum")
    )
    open_id = (await _handovers(pool, "web", senders[1]))[-1]["id"]
    client = await _staff(channel_server_url, pool, staff_clients, schools=[school])
    assert _close(client, closed_id).status_code == 303
    listing = client.get("/staff/messages").text
    assert listing.index(f'/staff/messages/{open_id}"') < listing.index(
        f'/staff/messages/{closed_id}"'
    )
    assert "turc (Türkçe)" in listing and "a demandé une personne" in listing
    assert "attend depuis" in listing
