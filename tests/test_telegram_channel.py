"""The Telegram channel end to end: webhook updates on the real app, long polling, the
conversation, the outbox, and sends through aiogram to the fake Bot API."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from outbox_helpers import deliver_all, messages_for

from bot.store import Conversations
from channels.telegram import TelegramChannel, make_bot

WEBHOOK = "/webhooks/telegram"


async def _turns(pool, chat_id: int) -> list[tuple[str, str]]:
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT t.direction, t.text FROM turn t JOIN contact c ON c.id = t.contact_id "
            "WHERE c.channel = 'telegram' AND c.address = %s ORDER BY t.id",
            (str(chat_id),),
        )
        return [(d, t) for d, t in await cursor.fetchall()]


async def _contact(pool, chat_id: int) -> tuple[str | None, bool]:
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT language, opted_out_at IS NOT NULL FROM contact "
            "WHERE channel = 'telegram' AND address = %s",
            (str(chat_id),),
        )
        row = await cursor.fetchone()
    assert row is not None
    return row[0], row[1]


# The secret the app under test expects (the `telegram_secret` fixture).
SECRET = "test-webhook-secret-0123456789"


async def _post(fakes, url: str, update: dict) -> httpx.Response:
    return await fakes.telegram.post_update(url + WEBHOOK, update, secret_token=SECRET)


async def _say(fakes, url, chat_id, text, delivery, pool, **user) -> list:
    before = len(fakes.telegram.messages_to(chat_id))
    response = await _post(fakes, url, fakes.telegram.message_update(chat_id, text, **user))
    assert response.status_code == 200, response.text
    await deliver_all(delivery, pool, "telegram", str(chat_id))
    return fakes.telegram.messages_to(chat_id)[before:]


@pytest.mark.parametrize(
    ("case", "status"),
    [
        pytest.param("valid", 200, id="valid"),
        pytest.param("wrong-secret", 403, id="wrong-secret-token"),
        pytest.param("no-secret", 403, id="missing-secret-token"),
        pytest.param("not-json", 400, id="malformed-json"),
        pytest.param("not-an-update", 400, id="malformed-update"),
        pytest.param("unknown-fields", 200, id="unknown-fields"),
        pytest.param("huge", 413, id="huge-body"),
        pytest.param("latin-1", 400, id="non-utf8"),
        pytest.param("lone-surrogate", 200, id="lone-surrogate-escape"),
    ],
)
async def test_webhook_cases(
    channel_server_url, fakes, pool, chat_id, telegram_secret, case, status
) -> None:
    assert telegram_secret == SECRET
    update = fakes.telegram.message_update(chat_id, "Bonjour")
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    body = json.dumps(update).encode()
    if case == "wrong-secret":
        headers["X-Telegram-Bot-Api-Secret-Token"] = SECRET + "x"
    elif case == "no-secret":
        headers = {}
    elif case == "not-json":
        body = b"{not json"
    elif case == "not-an-update":
        body = json.dumps({"update_id": "soon", "message": 12}).encode()
    elif case == "unknown-fields":
        body = json.dumps({**update, "future_field": {"x": 1}}).encode()
    elif case == "huge":
        body = json.dumps({**update, "padding": "x" * 2_000_000}).encode()
    elif case == "latin-1":
        body = json.dumps(update, ensure_ascii=False).replace("Bonjour", "Arrêt").encode("latin-1")
    elif case == "lone-surrogate":  # valid JSON, but "\ud800" is half a character
        body = json.dumps(update).replace("Bonjour", "Bonjour\\ud800").encode()
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(
            channel_server_url + WEBHOOK,
            content=body,
            headers={**headers, "content-type": "application/json"},
        )

    assert response.status_code == status, response.text
    turns = await _turns(pool, chat_id)
    if case == "lone-surrogate":  # kept, the half character shown as "�"
        assert turns[:1] == [("in", "Bonjour\ufffd")]
    else:
        assert (turns[:1] == [("in", "Bonjour")]) if status == 200 else (turns == [])


async def test_same_update_ten_times_at_once_is_handled_once(
    channel_server_url, fakes, pool, chat_id
) -> None:
    update = fakes.telegram.message_update(chat_id, "Bonjour")
    responses = await asyncio.gather(*(_post(fakes, channel_server_url, update) for _ in range(10)))

    assert [r.status_code for r in responses] == [200] * 10
    assert [d for d, _ in await _turns(pool, chat_id)].count("in") == 1
    bodies = [m["body"] for m in await messages_for(pool, "telegram", str(chat_id))]
    assert len(bodies) == len(set(bodies)) >= 1


async def test_buttons_are_an_inline_keyboard_and_presses_are_answered(
    channel_server_url, fakes, pool, delivery, chat_id
) -> None:
    welcome = await _say(fakes, channel_server_url, chat_id, "Bonjour", delivery, pool)
    keyboard = welcome[-1].reply_markup["inline_keyboard"]
    payloads = [row[0]["callback_data"] for row in keyboard]
    assert "/faq_homework" in payloads

    press = fakes.telegram.callback_update(chat_id, "/faq_homework")
    assert (await _post(fakes, channel_server_url, press)).status_code == 200
    await deliver_all(delivery, pool, "telegram", str(chat_id))

    assert press["callback_query"]["id"] in [
        a.callback_query_id for a in fakes.telegram.callback_answers
    ]
    answer = fakes.telegram.messages_to(chat_id)[len(welcome) :]
    assert "Cahier de textes" in answer[0].text


@pytest.mark.parametrize(
    ("code", "language"),
    [("ar", "ar"), ("tr-TR", "tr"), ("pt-br", "pt"), ("de", None), (None, None)],
)
async def test_first_contact_speaks_the_users_language_code(
    channel_server_url, fakes, pool, delivery, chat_id, code, language
) -> None:
    await _say(fakes, channel_server_url, chat_id, "/start", delivery, pool, language_code=code)

    assert (await _contact(pool, chat_id))[0] == language


async def test_start_deep_link_opens_the_topic(
    channel_server_url, fakes, pool, delivery, chat_id
) -> None:
    sent = await _say(fakes, channel_server_url, chat_id, "/start faq_homework", delivery, pool)
    assert any("Cahier de textes" in m.text for m in sent)


async def test_blocking_the_bot_opts_out(
    channel_server_url, fakes, pool, delivery, chat_id
) -> None:
    await _say(fakes, channel_server_url, chat_id, "Bonjour", delivery, pool)
    update = {
        "update_id": 900_000 + chat_id % 100_000,
        "my_chat_member": {
            "chat": {"id": chat_id, "type": "private", "first_name": "Parent"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "Parent"},
            "date": 1_764_000_000,
            "old_chat_member": {"status": "member", "user": fakes.telegram.bot_user()},
            "new_chat_member": {
                "status": "kicked",
                "user": fakes.telegram.bot_user(),
                "until_date": 0,
            },
        },
    }
    assert (await _post(fakes, channel_server_url, update)).status_code == 200
    assert (await _contact(pool, chat_id))[1] is True


async def test_long_polling_handles_updates_once(
    fakes, pool, channel_runtime, delivery, chat_id
) -> None:
    conversations = Conversations(pool, channel_runtime.assistant)
    channel = TelegramChannel(
        conversations=conversations,
        bot=make_bot(fakes.telegram.token, fakes.url),
        webhook_secret=None,
        languages=channel_runtime.config.languages,
    )
    conversations.outbox["telegram"] = channel.outgoing
    stop = asyncio.Event()
    fakes.telegram.push_update(fakes.telegram.message_update(chat_id, "Bonjour"))
    polling = asyncio.create_task(channel.poll(wait=1, stop=stop))
    try:
        for _ in range(100):
            if await _turns(pool, chat_id):
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await polling
        await channel.close()

    assert [d for d, _ in await _turns(pool, chat_id)].count("in") == 1
    assert channel.routes() == []  # no webhook without its secret
    await deliver_all(delivery, pool, "telegram", str(chat_id))
    assert fakes.telegram.messages_to(chat_id)
