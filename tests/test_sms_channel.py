"""The SMS channel end to end: Twilio's signed webhooks on the real app (uvicorn on 127.0.0.1),
the conversation, the outbox, and sends through the twilio SDK to the fake Twilio."""

from __future__ import annotations

import asyncio
import secrets
from urllib.parse import urlencode

import httpx
import pytest
from outbox_helpers import deliver_all, messages_for, new_contact, queue

from bot.assistant import Inbound
from bot.replies import Button, Reply
from bot.state import ConversationState
from channels.sms import SmsChannel
from channels.sms_text import segments

WEBHOOK = "/webhooks/twilio/sms"
STATUS = "/webhooks/twilio/status"


def _sid() -> str:
    return "SM" + secrets.token_hex(16)


async def _turns(pool, phone: str) -> list[tuple[str, str]]:
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT t.direction, t.text FROM turn t JOIN contact c ON c.id = t.contact_id "
            "WHERE c.channel = 'sms' AND c.address = %s ORDER BY t.id",
            (phone,),
        )
        return [(d, t) for d, t in await cursor.fetchall()]


async def _say(fakes, url: str, phone: str, text: str, delivery, pool) -> list[str]:
    """The parent texts `text`; returns the SMS bodies they receive back."""
    before = len(fakes.twilio.messages_to(phone))
    response = await fakes.twilio.send_inbound(url + WEBHOOK, from_=phone, body=text)
    assert response.status_code == 200, response.text
    await deliver_all(delivery, pool, "sms", phone)
    return [m.body for m in fakes.twilio.messages_to(phone)[before:]]


def _signed(fakes, url: str, params: dict[str, str]) -> dict[str, str]:
    return {"X-Twilio-Signature": fakes.twilio.sign(url, params)}


@pytest.mark.parametrize(
    ("case", "status"),
    [
        pytest.param("valid", 200, id="valid"),
        pytest.param("forged", 403, id="forged-signature"),
        pytest.param("missing", 403, id="missing-signature"),
        pytest.param("wrong-url", 403, id="signed-for-another-url"),
        pytest.param("no-sid", 400, id="malformed-no-messagesid"),
        pytest.param("unknown-fields", 200, id="unknown-fields"),
        pytest.param("huge", 413, id="huge-body"),
        pytest.param("latin-1", 400, id="non-utf8"),
    ],
)
async def test_inbound_webhook_cases(channel_server_url, fakes, pool, phone, case, status) -> None:
    url = channel_server_url + WEBHOOK
    params = fakes.twilio.inbound_params(from_=phone, body="Bonjour", message_sid=_sid())
    headers = _signed(fakes, url, params)
    content: bytes | None = None
    if case == "forged":
        headers["X-Twilio-Signature"] = fakes.twilio.sign(url, {**params, "Body": "Autre"})
    elif case == "missing":
        headers = {}
    elif case == "wrong-url":
        headers = _signed(fakes, "https://evil.example/webhooks/twilio/sms", params)
    elif case == "no-sid":
        for key in ("MessageSid", "SmsSid", "SmsMessageSid"):
            params.pop(key)
        headers = _signed(fakes, url, params)
    elif case == "unknown-fields":
        params["SomethingNew"] = "42"
        headers = _signed(fakes, url, params)
    elif case == "huge":
        params["Body"] = "x" * 100_000
        headers = _signed(fakes, url, params)
    elif case == "latin-1":
        params["Body"] = "Arrêt"
        headers = _signed(fakes, url, params)
        content = urlencode(params, encoding="latin-1").encode()
    async with httpx.AsyncClient(timeout=10) as client:
        if content is not None:
            kind = {"content-type": "application/x-www-form-urlencoded"}
            response = await client.post(url, content=content, headers={**headers, **kind})
        else:
            response = await client.post(url, data=params, headers=headers)

    assert response.status_code == status, response.text
    turns = await _turns(pool, phone)
    if status == 200:
        assert response.headers["content-type"].startswith("text/xml")
        assert "<Response></Response>" in response.text
        assert turns[0] == ("in", "Bonjour")
        assert await messages_for(pool, "sms", phone)  # the welcome waits in the outbox
    else:
        assert turns == []  # refused before anything was stored


async def test_same_message_sid_ten_times_at_once_is_handled_once(
    channel_server_url, fakes, pool, phone
) -> None:
    params = fakes.twilio.inbound_params(from_=phone, body="Bonjour", message_sid=_sid())
    url = channel_server_url + WEBHOOK
    headers = _signed(fakes, url, params)
    async with httpx.AsyncClient(timeout=20) as client:
        responses = await asyncio.gather(
            *(client.post(url, data=params, headers=headers) for _ in range(10))
        )

    assert [r.status_code for r in responses] == [200] * 10
    assert [d for d, _ in await _turns(pool, phone)].count("in") == 1
    bodies = [m["body"] for m in await messages_for(pool, "sms", phone)]
    assert len(bodies) == len(set(bodies)) >= 1  # one welcome, queued once


async def test_numbered_choices_and_a_reply_by_number(
    channel_server_url, fakes, pool, delivery, phone
) -> None:
    welcome = await _say(fakes, channel_server_url, phone, "Bonjour", delivery, pool)
    if welcome[-1].endswith("1. La suite\nRépondez 1."):  # the topics did not fit with it
        welcome = await _say(fakes, channel_server_url, phone, "1", delivery, pool)

    last = welcome[-1]
    assert "1. " in last and "Répondez 1, 2" in last
    choices = dict(
        line.split(". ", 1) for line in last.splitlines() if line[:1].isdigit() and ". " in line
    )
    homework = next(number for number, title in choices.items() if "devoirs" in title.lower())

    answer = await _say(fakes, channel_server_url, phone, f" {homework}. ", delivery, pool)
    assert "Cahier de textes" in answer[0]


async def test_long_answers_stay_within_max_segments_with_more_on_request(
    channel_server_url, fakes, pool, delivery, channel_runtime, phone
) -> None:
    limit = channel_runtime.config.sms.max_segments
    await _say(fakes, channel_server_url, phone, "Bonjour", delivery, pool)

    answer = await _say(
        fakes, channel_server_url, phone, "comment voir les devoirs sur pronote", delivery, pool
    )
    assert sum(segments(body).count for body in answer) <= limit
    assert answer[-1].endswith("1. La suite\nRépondez 1.")

    rest = await _say(fakes, channel_server_url, phone, "1", delivery, pool)
    assert any("Cahier de textes" in body for body in rest)
    assert sum(segments(body).count for body in rest) <= limit


async def test_stop_cancels_what_is_queued_and_start_resumes(
    channel_server_url, fakes, pool, delivery, phone
) -> None:
    await _say(fakes, channel_server_url, phone, "Bonjour", delivery, pool)
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT id FROM contact WHERE channel = 'sms' AND address = %s", (phone,)
        )
        (contact,) = await cursor.fetchone()
    [reminder] = await queue(pool, contact, "sms", phone, ["Rappel : atelier demain"], kind="bulk")
    before = len(fakes.twilio.messages_to(phone))

    stopped = await _say(fakes, channel_server_url, phone, "  Arrêt ", delivery, pool)
    assert len(stopped) == 1  # the one confirmation, and not the reminder
    assert await _say(fakes, channel_server_url, phone, "STOP", delivery, pool) == []
    assert await _say(fakes, channel_server_url, phone, "bonjour ?", delivery, pool) == []
    statuses = {m["id"]: m["status"] for m in await messages_for(pool, "sms", phone)}
    assert statuses[reminder] == "cancelled"

    resumed = await _say(fakes, channel_server_url, phone, "START", delivery, pool)
    assert len(resumed) >= 1
    later = await _say(fakes, channel_server_url, phone, "mot de passe oublié", delivery, pool)
    assert later
    assert len(fakes.twilio.messages_to(phone)) == before + 1 + len(resumed) + len(later)


@pytest.mark.parametrize("word", ["AIDE", "help", "Info"])
async def test_help_keywords_say_who_we_are(
    channel_server_url, fakes, pool, delivery, phone, word
) -> None:
    [reply] = await _say(fakes, channel_server_url, phone, word, delivery, pool)
    assert "STOP" in reply


async def test_status_callbacks_are_signed_and_recorded(
    channel_server_url, fakes, pool, delivery, phone
) -> None:
    contact = await new_contact(pool, "sms", phone)
    [message_id] = await queue(pool, contact, "sms", phone, ["Bonjour"])
    assert await delivery.deliver(message_id, attempt=1) == "sent"
    [sent] = fakes.twilio.messages_to(phone)
    callback = f"{channel_server_url}{STATUS}?m={message_id}"
    assert sent.status_callback == callback

    for _ in range(50):  # the fake calls back "sent" then "delivered"
        [row] = await messages_for(pool, "sms", phone)
        if row["status"] == "delivered":
            break
        await asyncio.sleep(0.05)
    assert row["status"] == "delivered"

    forged = {"MessageSid": sent.sid, "MessageStatus": "failed", "ErrorCode": "30003"}
    async with httpx.AsyncClient() as client:
        response = await client.post(
            callback, data=forged, headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}
        )
    assert response.status_code == 403
    [row] = await messages_for(pool, "sms", phone)
    assert row["status"] == "delivered"


async def test_undelivered_callback_marks_the_message_failed(
    channel_server_url, fakes, pool, delivery, phone
) -> None:
    fakes.twilio.undeliverable(phone, error_code=30003)
    contact = await new_contact(pool, "sms", phone)
    [message_id] = await queue(pool, contact, "sms", phone, ["Bonjour"])
    await delivery.deliver(message_id, attempt=1)

    for _ in range(50):
        [row] = await messages_for(pool, "sms", phone)
        if row["status"] == "failed":
            break
        await asyncio.sleep(0.05)
    assert (row["status"], row["error_code"]) == ("failed", "30003")


async def test_sender_that_is_not_a_phone_number_is_ignored(
    channel_server_url, fakes, pool
) -> None:
    response = await fakes.twilio.send_inbound(
        channel_server_url + WEBHOOK, from_="MAIRIE", body="Bonjour"
    )
    assert response.status_code == 200
    assert await messages_for(pool, "sms", "MAIRIE") == []


def _channel(channel_runtime) -> SmsChannel:
    return SmsChannel(
        conversations=None,  # type: ignore[arg-type]  # rendering only
        auth_token="x",
        public_url="http://127.0.0.1",
        max_segments=channel_runtime.config.sms.max_segments,
    )


@pytest.mark.parametrize("language", ["fr", "ar", "tr"])
def test_a_menu_too_big_for_the_limit_is_still_sent(channel_runtime, language) -> None:
    channel = _channel(channel_runtime)
    buttons = tuple(Button(f"Choix numéro {n} — un titre assez long", f"/x{n}") for n in range(9))
    with channel_runtime.catalogs.use(language):
        messages = channel.outgoing([Reply("Menu", buttons)])
        split = channel.split([Reply("Menu", buttons)])

    assert split is None  # nothing to hold back: the choices must stay together
    assert len(messages) == 1 and messages[0].units > channel.max_segments
    assert "9. Choix numéro 8" in messages[0].body


@pytest.mark.parametrize("language", ["fr", "en", "ar", "tr", "pt", "es"])
def test_every_faq_answer_fits_or_says_more(channel_runtime, language) -> None:
    """In every language, each part of every FAQ answer stays within the limit."""
    channel = _channel(channel_runtime)
    limit = channel.max_segments
    assistant = channel_runtime.assistant
    for intent in assistant.faq:
        state = ConversationState(language=language, welcomed=True)
        held = None
        for _ in range(10):
            inbound = Inbound("sms", "+33612345678", held or f"/{intent}", split=channel.split)
            outcome = asyncio.run(assistant.respond(state, inbound))
            with channel_runtime.catalogs.use(language):
                cost = sum(m.units for m in channel.outgoing(outcome.replies))
            assert cost <= limit, (intent, language, outcome.replies)
            if "held_replies" not in state.slots:
                break
            held = "1"
        else:
            pytest.fail(f"{intent} in {language} never ends")
