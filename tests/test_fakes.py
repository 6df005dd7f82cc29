"""The fake providers against the real SDKs: if twilio and aiogram accept their answers (and
raise the right exceptions for their errors), the fakes speak the real APIs."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Update
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from channels.fakes import (
    Delay,
    FakeProviders,
    FakeTelegram,
    FakeTwilio,
    TelegramError,
    ThreadedServer,
    TwilioError,
)

SID = "AC" + "1234567890abcdef" * 2
TOKEN = "0123456789abcdef0123456789abcdef"
BOT_TOKEN = "4242:fake-TOKEN_for-tests"
FROM = "+33639980000"
PARENT = "+33612345678"
CHAT = 777001
WEBHOOK_SECRET = "s3cret-token"

# twilio's AsyncTwilioHttpClient passes credentials as aiohttp.BasicAuth, deprecated since
# aiohttp 3.14: every SDK call warns, and this suite turns warnings into errors.
pytestmark = [
    pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated:DeprecationWarning"),
]


class Receiver:
    """A stand-in for Liaison's webhooks: checks Twilio signatures and Telegram secrets."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.validator = RequestValidator(TOKEN)
        self.app = Starlette(
            routes=[
                Route("/twilio", self.twilio, methods=["POST"]),
                Route("/telegram", self.telegram, methods=["POST"]),
            ]
        )

    async def twilio(self, request: Request) -> Response:
        form = await request.form()
        params = {key: str(value) for key, value in form.items()}
        signature = request.headers.get("X-Twilio-Signature", "")
        valid = self.validator.validate(str(request.url), params, signature)
        self.requests.append({"kind": "twilio", "params": params, "valid": valid})
        if not valid:
            return Response(status_code=403)
        return Response("<Response/>", media_type="text/xml")

    async def telegram(self, request: Request) -> Response:
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        update = await request.json()
        self.requests.append({"kind": "telegram", "update": update, "secret": secret})
        return Response(status_code=200 if secret == WEBHOOK_SECRET else 401)


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, str]]:
    app = Receiver()
    with ThreadedServer(app.app) as server:
        yield app, server.url


@pytest.fixture(scope="module")
def fakes() -> Iterator[FakeProviders]:
    with FakeProviders(FakeTwilio(SID, TOKEN), FakeTelegram(BOT_TOKEN)) as providers:
        yield providers


@pytest.fixture(autouse=True)
def _clean(fakes: FakeProviders, receiver: tuple[Receiver, str]) -> None:
    fakes.reset()
    receiver[0].requests.clear()


@pytest.fixture(scope="module")
async def twilio_http() -> AsyncIterator[AsyncTwilioHttpClient]:
    http_client = AsyncTwilioHttpClient()
    yield http_client
    await http_client.close()


def twilio_client(fakes: FakeProviders, http: AsyncTwilioHttpClient, token: str = TOKEN) -> Client:
    client = Client(SID, token, http_client=http)
    client.api.base_url = fakes.url
    return client


@pytest.fixture(scope="module")
async def bot(fakes: FakeProviders) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(fakes.url))
    bot = Bot(BOT_TOKEN, session=session)
    yield bot
    await session.close()


# -- Twilio ---------------------------------------------------------------------------------


async def test_twilio_create_is_answered_and_recorded(
    fakes: FakeProviders, twilio_http: AsyncTwilioHttpClient
) -> None:
    client = twilio_client(fakes, twilio_http)
    message = await client.messages.create_async(to=PARENT, from_=FROM, body="Bonjour !")

    assert message.sid.startswith("SM") and len(message.sid) == 34
    assert message.status == "queued"
    assert message.account_sid == SID
    assert (message.to, message.from_, message.body) == (PARENT, FROM, "Bonjour !")
    assert message.num_segments == "1"
    assert message.direction == "outbound-api"
    assert message.date_created is not None and message.date_created.year >= 2024
    assert message.uri == f"/2010-04-01/Accounts/{SID}/Messages/{message.sid}.json"
    [recorded] = fakes.twilio.messages_to(PARENT)
    assert (recorded.sid, recorded.body, recorded.from_) == (message.sid, "Bonjour !", FROM)
    assert recorded.status_callback is None
    assert abs(recorded.time - time.time()) < 5


async def test_twilio_messaging_service_and_segments(
    fakes: FakeProviders, twilio_http: AsyncTwilioHttpClient
) -> None:
    client = twilio_client(fakes, twilio_http)
    service = "MG" + "0" * 32
    message = await client.messages.create_async(
        to=PARENT, messaging_service_sid=service, body="é" * 70 + "🙂"
    )
    assert message.status == "accepted"  # as Twilio answers for a Messaging Service
    assert message.messaging_service_sid == service and message.from_ is None
    assert message.num_segments == "2"  # UCS-2: 72 units > 70


async def test_twilio_bad_credentials(
    fakes: FakeProviders, twilio_http: AsyncTwilioHttpClient
) -> None:
    client = twilio_client(fakes, twilio_http, token="wrong")
    with pytest.raises(TwilioRestException) as caught:
        await client.messages.create_async(to=PARENT, from_=FROM, body="x")
    assert (caught.value.status, caught.value.code) == (401, 20003)
    assert fakes.twilio.messages == []
    assert [attempt.status for attempt in fakes.twilio.attempts] == [401]


async def test_twilio_validation_errors(
    fakes: FakeProviders, twilio_http: AsyncTwilioHttpClient
) -> None:
    client = twilio_client(fakes, twilio_http)
    with pytest.raises(TwilioRestException) as caught:
        await client.messages.create_async(to="0612345678", from_=FROM, body="x")
    assert (caught.value.status, caught.value.code) == (400, 21211)
    assert "Invalid 'To' Phone Number" in caught.value.msg
    with pytest.raises(TwilioRestException) as caught:
        await client.messages.create_async(to=PARENT, from_=FROM)
    assert caught.value.code == 21602
    with pytest.raises(TwilioRestException) as caught:
        await client.messages.create_async(to=PARENT, body="x")
    assert caught.value.code == 21603


async def test_twilio_error_json_shape(fakes: FakeProviders) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{fakes.url}/2010-04-01/Accounts/{SID}/Messages.json",
            data={"To": PARENT, "From": FROM, "Body": "x"},
        )
    assert response.status_code == 401
    assert response.json() == {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }


async def test_twilio_scripted_faults(
    fakes: FakeProviders, twilio_http: AsyncTwilioHttpClient
) -> None:
    client = twilio_client(fakes, twilio_http)
    fakes.twilio.fail(PARENT, TwilioError.too_many_requests(), TwilioError.server_error())
    for status, code in ((429, 20429), (500, 20500)):
        with pytest.raises(TwilioRestException) as caught:
            await client.messages.create_async(to=PARENT, from_=FROM, body="x")
        assert (caught.value.status, caught.value.code) == (status, code)
    message = await client.messages.create_async(to=PARENT, from_=FROM, body="x")
    assert [a.status for a in fakes.twilio.attempts] == [429, 500, 201]
    assert fakes.twilio.attempts[-1].sid == message.sid

    other = "+33698765432"
    fakes.twilio.fail_always(other, TwilioError.unsubscribed())
    for _ in range(2):
        with pytest.raises(TwilioRestException) as caught:
            await client.messages.create_async(to=other, from_=FROM, body="x")
        assert caught.value.code == 21610

    fakes.twilio.fail(PARENT, Delay(0.2))
    started = time.monotonic()
    await client.messages.create_async(to=PARENT, from_=FROM, body="late")
    assert time.monotonic() - started >= 0.2


async def test_twilio_client_timeout_is_not_a_refusal(
    fakes: FakeProviders, twilio_http: AsyncTwilioHttpClient
) -> None:
    # AsyncTwilioHttpClient(timeout=...) is ignored by twilio 9.13 (only a per-request timeout
    # reaches aiohttp, and create_async passes none): bound the call from outside instead.
    fakes.twilio.fail(PARENT, Delay(0.4))
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await twilio_client(fakes, twilio_http).messages.create_async(
                to=PARENT, from_=FROM, body="slow"
            )
    # The client gave up, but Twilio had the message: it is sent all the same.
    [message] = await fakes.twilio.wait_for_messages(PARENT, timeout=2)
    assert message.body == "slow"


async def test_twilio_status_callbacks_are_signed(
    fakes: FakeProviders, twilio_http: AsyncTwilioHttpClient, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    client = twilio_client(fakes, twilio_http)
    message = await client.messages.create_async(
        to=PARENT, from_=FROM, body="x", status_callback=f"{url}/twilio"
    )
    callbacks = await fakes.twilio.wait_for_callbacks(2)
    assert [c.message_status for c in callbacks] == ["sent", "delivered"]
    assert all(c.response_status == 200 and c.sid == message.sid for c in callbacks)
    assert [r["valid"] for r in app.requests] == [True, True]
    params = app.requests[-1]["params"]
    assert params["MessageSid"] == params["SmsSid"] == message.sid
    assert (params["AccountSid"], params["From"], params["To"]) == (SID, FROM, PARENT)
    assert params["MessageStatus"] == "delivered" and params["ApiVersion"] == "2010-04-01"


async def test_twilio_undeliverable(
    fakes: FakeProviders, twilio_http: AsyncTwilioHttpClient, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    fakes.twilio.undeliverable(PARENT, error_code=30006)
    client = twilio_client(fakes, twilio_http)
    await client.messages.create_async(
        to=PARENT, from_=FROM, body="x", status_callback=f"{url}/twilio"
    )
    callbacks = await fakes.twilio.wait_for_callbacks(2)
    assert [(c.message_status, c.error_code) for c in callbacks] == [
        ("sent", None),
        ("undelivered", 30006),
    ]
    assert app.requests[-1]["params"]["ErrorCode"] == "30006"
    assert all(r["valid"] for r in app.requests)


async def test_twilio_send_inbound_is_signed(
    fakes: FakeProviders, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    response = await fakes.twilio.send_inbound(f"{url}/twilio", from_=PARENT, body="Absent demain")
    assert response.status_code == 200
    [request] = app.requests
    assert request["valid"]
    params = request["params"]
    assert (params["From"], params["To"], params["Body"]) == (PARENT, FROM, "Absent demain")
    assert params["MessageSid"] == params["SmsMessageSid"] and params["NumMedia"] == "0"

    unsigned = await fakes.twilio.send_inbound(f"{url}/twilio", from_=PARENT, body="x", sign=False)
    assert unsigned.status_code == 403
    signature = fakes.twilio.sign("https://example.org/sms", {"Body": "x", "From": PARENT})
    assert RequestValidator(TOKEN).validate(
        "https://example.org/sms", {"Body": "x", "From": PARENT}, signature
    )


async def test_twilio_concurrent_sends_are_all_recorded(fakes: FakeProviders) -> None:
    auth = httpx.BasicAuth(SID, TOKEN)
    endpoint = f"{fakes.url}/2010-04-01/Accounts/{SID}/Messages.json"
    async with httpx.AsyncClient(auth=auth) as http:
        responses = await asyncio.gather(
            *(
                http.post(endpoint, data={"To": f"+336000{i:05d}", "From": FROM, "Body": "x"})
                for i in range(60)
            )
        )
    assert {response.status_code for response in responses} == {201}
    assert len({message.sid for message in fakes.twilio.messages}) == 60


# -- Telegram -------------------------------------------------------------------------------


async def test_telegram_get_me(bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == 4242 and me.is_bot


async def test_telegram_send_message_with_keyboard(fakes: FakeProviders, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text="Oui", callback_data="yes")],
            [InlineKeyboardButton(text="Non", callback_data="no")],
        ]
    )
    first = await bot.send_message(CHAT, "Votre enfant sera-t-il absent ?", reply_markup=keyboard)
    second = await bot.send_message(CHAT, "Merci")

    assert second.message_id == first.message_id + 1
    assert first.chat.id == CHAT and first.chat.type == "private"
    assert first.from_user is not None and first.from_user.id == 4242
    assert first.reply_markup is not None
    assert first.reply_markup.model_dump() == keyboard.model_dump()
    recorded = fakes.telegram.messages_to(CHAT)
    assert [m.text for m in recorded] == ["Votre enfant sera-t-il absent ?", "Merci"]
    assert recorded[0].reply_markup == {
        "inline_keyboard": [
            [{"text": "Oui", "callback_data": "yes"}],
            [{"text": "Non", "callback_data": "no"}],
        ]
    }
    assert recorded[1].reply_markup is None


@pytest.mark.parametrize(
    ("fault", "exception"),
    [
        (TelegramError.too_many_requests(7), TelegramRetryAfter),
        (TelegramError.blocked(), TelegramForbiddenError),
        (TelegramError.chat_not_found(), TelegramBadRequest),
        (TelegramError.server_error(), TelegramServerError),
    ],
)
async def test_telegram_scripted_faults(
    fakes: FakeProviders, bot: Bot, fault: TelegramError, exception: type[Exception]
) -> None:
    fakes.telegram.fail(CHAT, fault)
    with pytest.raises(exception) as caught:
        await bot.send_message(CHAT, "x")
    if isinstance(caught.value, TelegramRetryAfter):
        assert caught.value.retry_after == 7
    await bot.send_message(CHAT, "x")  # the fault was consumed
    assert [a.status for a in fakes.telegram.attempts] == [fault.status, 200]


async def test_telegram_fail_always_and_validation(fakes: FakeProviders, bot: Bot) -> None:
    fakes.telegram.fail_always(CHAT, TelegramError.blocked())
    for _ in range(2):
        with pytest.raises(TelegramForbiddenError, match="blocked"):
            await bot.send_message(CHAT, "x")
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(CHAT + 1, "<b>unclosed", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(
            CHAT + 1,
            "x",
            reply_markup=InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text="a", callback_data="d" * 65)]]
            ),
        )
    await bot.send_message(CHAT + 1, "<b>fine</b> &amp; <i>dandy</i>", parse_mode="HTML")
    assert len(fakes.telegram.messages) == 1


async def test_telegram_long_poll_and_offset(fakes: FakeProviders, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    assert not poll.done()
    update = fakes.telegram.message_update(CHAT, "Bonjour", language_code="ar")
    # From another thread, as a test driving the app synchronously would.
    await asyncio.to_thread(fakes.telegram.push_update, update)
    started = time.monotonic()
    [received] = await asyncio.wait_for(poll, 2)
    assert time.monotonic() - started < 1
    assert received.update_id == update["update_id"]
    assert received.message is not None and received.message.text == "Bonjour"
    assert received.message.from_user is not None
    assert received.message.from_user.language_code == "ar"

    later = fakes.telegram.push_update(fakes.telegram.message_update(CHAT, "/start"))
    assert [u.update_id for u in await bot.get_updates()] == [
        update["update_id"],
        later["update_id"],
    ]
    # Acknowledging by offset drops the older ones for good.
    assert [u.update_id for u in await bot.get_updates(offset=later["update_id"])] == [
        later["update_id"]
    ]
    assert [u.update_id for u in await bot.get_updates()] == [later["update_id"]]
    assert await bot.get_updates(offset=later["update_id"] + 1) == []
    # An empty long poll answers [] when its time is up (here the fake's cap, shortened).
    fakes.telegram.max_poll_timeout = 0.3
    try:
        started = time.monotonic()
        assert await bot.get_updates(offset=later["update_id"] + 1, timeout=30) == []
        assert 0.25 < time.monotonic() - started < 2
    finally:
        del fakes.telegram.max_poll_timeout


async def test_telegram_callback_query(fakes: FakeProviders, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Oui", callback_data="yes")]]
    )
    sent = await bot.send_message(CHAT, "Absent ?", reply_markup=keyboard)
    raw = fakes.telegram.callback_update(CHAT, "yes")
    update = Update.model_validate(raw, context={"bot": bot})
    query = update.callback_query
    assert query is not None and query.data == "yes" and query.message is not None
    assert query.message.message_id == sent.message_id
    assert await bot.answer_callback_query(query.id, text="Noté")
    [answer] = fakes.telegram.callback_answers
    assert (answer.callback_query_id, answer.text) == (query.id, "Noté")
    edited = await bot.edit_message_reply_markup(chat_id=CHAT, message_id=sent.message_id)
    assert not isinstance(edited, bool) and edited.reply_markup is None
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(chat_id=CHAT, message_id=sent.message_id)


async def test_telegram_webhook(
    fakes: FakeProviders, bot: Bot, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    assert await bot.set_webhook(
        f"{url}/telegram", secret_token=WEBHOOK_SECRET, allowed_updates=["message"]
    )
    info = await bot.get_webhook_info()
    assert info.url == f"{url}/telegram" and info.allowed_updates == ["message"]
    with pytest.raises(TelegramConflictError):
        await bot.get_updates()
    update = fakes.telegram.message_update(CHAT, "Bonjour")
    response = await fakes.telegram.deliver(update)
    assert response.status_code == 200
    assert app.requests[-1]["update"] == update
    refused = await fakes.telegram.post_update(f"{url}/telegram", update, secret_token="nope")
    assert refused.status_code == 401
    assert await bot.delete_webhook()
    assert (await bot.get_webhook_info()).url == ""


async def test_telegram_wrong_token_and_unknown_method(fakes: FakeProviders, bot: Bot) -> None:
    intruder = Bot("4242:wrong", session=bot.session)
    with pytest.raises(TelegramUnauthorizedError):
        await intruder.get_me()
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{fakes.url}/bot{BOT_TOKEN}/sendPidgeon", json={})
        unauthorized = await http.get(f"{fakes.url}/bot1:nope/getMe")
        json_call = await http.post(
            f"{fakes.url}/bot{BOT_TOKEN}/sendMessage",
            json={"chat_id": CHAT, "text": "via JSON", "reply_markup": {"remove_keyboard": True}},
        )
    assert response.status_code == 404
    assert response.json() == {
        "ok": False,
        "error_code": 404,
        "description": "Not Found: method not found",
    }
    assert unauthorized.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert json_call.json()["ok"] and "reply_markup" not in json_call.json()["result"]
    assert fakes.telegram.messages[-1].reply_markup == {"remove_keyboard": True}


async def test_set_my_commands(fakes: FakeProviders, bot: Bot) -> None:
    from aiogram.types import BotCommand

    assert await bot.set_my_commands([BotCommand(command="start", description="Commencer")])
    assert fakes.telegram.commands == [{"command": "start", "description": "Commencer"}]


# -- the server -----------------------------------------------------------------------------


def test_providers_start_and_stop_cleanly_from_sync_code() -> None:
    before = set(threading.enumerate())
    with FakeProviders() as providers:
        assert providers.url.startswith("http://127.0.0.1:")
        response = httpx.get(f"{providers.url}/bot{providers.telegram.token}/getMe")
        assert response.json()["result"]["is_bot"] is True
        # A long poll in flight does not hold the shutdown up.
        poller = threading.Thread(
            target=httpx.get,
            args=(f"{providers.url}/bot{providers.telegram.token}/getUpdates?timeout=30",),
            kwargs={"timeout": 60},
        )
        poller.start()
        time.sleep(0.1)
        started = time.monotonic()
    assert time.monotonic() - started < 2
    poller.join(timeout=5)
    assert not poller.is_alive()
    assert set(threading.enumerate()) <= before
