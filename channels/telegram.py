"""Telegram over aiogram 3: the webhook, long polling for development, and the sender.

Inbound, both modes hand each `Update` to `TelegramChannel.handle_update()`:

* webhook (`POST /webhooks/telegram`): the `X-Telegram-Bot-Api-Secret-Token` header must equal
  `LIAISON_TELEGRAM_WEBHOOK_SECRET` (constant-time comparison, 403 otherwise); the body is
  parsed into aiogram's `Update`; `liaison telegram set-webhook` registers the URL and secret;
* long polling (`liaison telegram poll`), for a laptop with no public URL.

The `update_id` goes to the conversation store as the message id, so an update Telegram
delivers twice is handled once. Text messages and button presses (callback queries, answered at
once so the button stops spinning) become turns; `/start` opens the conversation, with its
deep-link payload when there is one (`t.me/<bot>?start=faq_homework` opens on that topic,
`?start=join_7FQ2` joins that school); a first contact speaks the user's `language_code`
when it is one of ours. A user who blocks the bot is opted out, from the `my_chat_member`
update or from the 403 of the next send.

Replies go through the outbox; buttons become an inline keyboard whose `callback_data` is the
button's payload (or its number when the payload is over Telegram's 64 bytes).
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Update
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.assistant import Inbound
from bot.keywords import JOIN_PAYLOAD
from bot.replies import Reply
from bot.replies import payload as as_payload
from bot.store import Conversations
from channels.base import Channel, Outgoing, PermanentSendError, RetryableSendError, SendResult
from channels.http import check_secret, error_response, read_json_object
from liaison.errors import BadRequest, InboundError

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/telegram"
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
_MAX_BODY = 1024 * 1024
_MAX_TEXT = 4096  # Telegram's limit for one message
_CALLBACK_DATA_BYTES = 64
_DEEP_LINK = re.compile(r"^/start(?:@\w+)?(?:\s+(?P<payload>[A-Za-z0-9_-]{1,64}))?\s*$")
_OPT_OUT = """
UPDATE contact SET opted_out_at = coalesce(opted_out_at, %(now)s)
WHERE channel = 'telegram' AND address = %(address)s
"""


def make_bot(token: str, api_url: str | None = None) -> Bot:
    """An aiogram Bot, talking to `api_url` (a local Bot API server or a fake) when given."""
    if api_url:
        session = AiohttpSession(api=TelegramAPIServer.from_base(api_url.rstrip("/")))
        return Bot(token, session=session)
    return Bot(token)


class TelegramChannel(Channel):
    name = "telegram"

    def __init__(
        self,
        *,
        conversations: Conversations,
        bot: Bot,
        webhook_secret: str | None,
        languages: list[str],
    ) -> None:
        self.conversations = conversations
        self.bot = bot
        self.webhook_secret = webhook_secret
        self.languages = languages

    def routes(self) -> list[BaseRoute]:
        if not self.webhook_secret:
            return []  # polling only: no webhook without its secret
        return [Route(WEBHOOK_PATH, self.webhook, methods=["POST"])]

    async def close(self) -> None:
        await self.bot.session.close()

    # -- rendering ---------------------------------------------------------------------------

    def render(self, recipient: str, replies: list[Reply]) -> list[Outgoing]:
        return self.outgoing(replies)

    def outgoing(self, replies: list[Reply]) -> list[Outgoing]:
        return render_telegram(replies)

    # -- inbound -----------------------------------------------------------------------------

    async def webhook(self, request: Request) -> Response:
        try:
            check_secret(
                request.headers.get("x-telegram-bot-api-secret-token"), self.webhook_secret or ""
            )
            document = await read_json_object(request, _MAX_BODY)
            try:
                update = Update.model_validate(document, context={"bot": self.bot})
            except ValidationError as exc:
                raise BadRequest(
                    "the body is not a Telegram Update", code="invalid_update"
                ) from exc
        except InboundError as error:
            return error_response(error)
        await self.handle_update(update)
        return Response(status_code=200)

    async def handle_update(self, update: Update) -> None:
        """One update from either mode."""
        message_id = str(update.update_id)
        if update.message is not None and update.message.chat.type == "private":
            message = update.message
            user = message.from_user
            await self.conversations.handle(
                Inbound(
                    channel=self.name,
                    address=str(message.chat.id),
                    text=_start_payload(message.text) if message.text else "",
                    message_id=message_id,
                    language_guess=self._language(user.language_code if user else None),
                )
            )
        elif update.callback_query is not None:
            query = update.callback_query
            await self._answer(query.id)
            chat = query.message.chat.id if query.message is not None else query.from_user.id
            await self.conversations.handle(
                Inbound(
                    channel=self.name,
                    address=str(chat),
                    text=query.data or "",
                    message_id=message_id,
                    language_guess=self._language(query.from_user.language_code),
                )
            )
        elif update.my_chat_member is not None:
            member = update.my_chat_member
            if member.new_chat_member.status == "kicked":  # the user blocked the bot
                async with self.conversations.pool.connection() as connection:
                    await connection.execute(
                        _OPT_OUT, {"address": str(member.chat.id), "now": datetime.now(UTC)}
                    )

    async def _answer(self, query_id: str) -> None:
        try:
            await self.bot.answer_callback_query(query_id)
        except TelegramAPIError as exc:  # the turn matters more than the spinner
            log.warning("could not answer a callback query: %s", type(exc).__name__)

    def _language(self, code: str | None) -> str | None:
        short = (code or "")[:2].lower()
        return short if short in self.languages else None

    async def poll(self, *, wait: int = 25, stop: asyncio.Event | None = None) -> None:
        """Long polling until `stop` is set (development without a public URL)."""
        await self.bot.delete_webhook(drop_pending_updates=False)
        offset: int | None = None
        while stop is None or not stop.is_set():
            try:
                updates = await self.bot.get_updates(
                    offset=offset, timeout=wait, allowed_updates=ALLOWED_UPDATES
                )
            except (TelegramNetworkError, TelegramServerError, TelegramRetryAfter) as exc:
                wait = exc.retry_after if isinstance(exc, TelegramRetryAfter) else 2
                log.warning("polling: %s, trying again in %ss", type(exc).__name__, wait)
                await asyncio.sleep(wait)
                continue
            for update in updates:
                await self.handle_update(update)
                offset = update.update_id + 1


def render_telegram(replies: list[Reply]) -> list[Outgoing]:
    """One Telegram message per reply (split past 4,096 characters), buttons as callback data."""
    messages = []
    for reply in replies:
        text = reply.text.strip() or "…"
        while len(text) > _MAX_TEXT:
            cut = text.rfind("\n", 0, _MAX_TEXT)
            cut = cut if cut > 0 else _MAX_TEXT
            messages.append(Outgoing(body=text[:cut]))
            text = text[cut:].strip()
        buttons = [
            {
                "title": button.title,
                "data": button.payload
                if len(button.payload.encode("utf-8")) <= _CALLBACK_DATA_BYTES
                else str(number),
            }
            for number, button in enumerate(reply.buttons, start=1)
        ]
        messages.append(Outgoing(body=text, buttons=buttons))
    return messages


def _start_payload(text: str) -> str:
    """`/start` becomes a greeting; `/start faq_homework` opens that topic."""
    match = _DEEP_LINK.match(text)
    if match is None:
        return text
    payload = match.group("payload")
    if payload is not None and payload.startswith("lang_") and len(payload) == 7:
        return '/change_language{"language": "' + payload[5:] + '"}'
    if payload is not None and payload.startswith("workshop_"):
        # An invitation to one workshop: straight to enrolling in it.
        return as_payload("workshop_enrol", workshop=payload[len("workshop_") :])
    if payload is not None and payload.startswith("workshop"):
        return "/workshop_info"
    if payload is not None and payload.startswith("join_"):
        # A school's join link (`schools`): join it, as "REJOINDRE <code>" does.
        return as_payload(JOIN_PAYLOAD[1:], code=payload[len("join_") :])
    if payload is not None and payload.startswith("faq_"):
        return "/" + payload  # an unknown topic falls back to the menu like any message
    return "/greet"


class TelegramSender:
    """Sends outbox messages with aiogram's Bot."""

    channel = "telegram"

    def __init__(
        self,
        *,
        token: str,
        messages_per_second: float,
        per_chat_per_second: float,
        api_url: str | None = None,
    ) -> None:
        self.token = token
        self.api_url = api_url
        self.interval = 1.0 / messages_per_second
        self.chat_interval = 1.0 / per_chat_per_second
        self._bot: Bot | None = None

    def rate_keys(self, address: str, units: int) -> list[tuple[str, float]]:
        return [("telegram", self.interval), (f"telegram:{address}", self.chat_interval)]

    def _client(self) -> Bot:
        if self._bot is None:
            self._bot = make_bot(self.token, self.api_url)
        return self._bot

    async def start(self) -> None:
        """Open the HTTP session and check the token once (getMe)."""
        try:
            me = await self._client().get_me()
        except TelegramUnauthorizedError:
            log.error("Telegram refused the bot token: check LIAISON_TELEGRAM_TOKEN")
        except TelegramAPIError as exc:
            log.warning("Telegram unreachable at start (%s); sends will retry", type(exc).__name__)
        else:
            log.info("Telegram bot @%s ready", me.username)

    async def send(self, address: str, message: Outgoing, *, message_id: int) -> SendResult:
        bot = self._client()
        markup = None
        if message.buttons:
            markup = InlineKeyboardMarkup(
                inline_keyboard=[
                    [InlineKeyboardButton(text=button["title"], callback_data=button["data"])]
                    for button in message.buttons
                ]
            )
        try:
            sent = await bot.send_message(
                chat_id=int(address), text=message.body, reply_markup=markup
            )
        except TelegramRetryAfter as exc:
            raise RetryableSendError(
                "Telegram: too many requests", code="429", retry_after=float(exc.retry_after)
            ) from exc
        except TelegramForbiddenError as exc:
            raise PermanentSendError(
                "Telegram: the user blocked the bot", code="403", opted_out=True
            ) from exc
        except TelegramUnauthorizedError as exc:
            log.error("Telegram refused the bot token: check LIAISON_TELEGRAM_TOKEN")
            raise RetryableSendError("Telegram: unauthorized", code="401") from exc
        except TelegramBadRequest as exc:
            raise PermanentSendError(f"Telegram: {exc.message}", code="400") from exc
        except (TelegramServerError, TelegramNetworkError) as exc:
            raise RetryableSendError(f"Telegram: {type(exc).__name__}", code="5xx") from exc
        return SendResult(provider_id=f"{address}:{sent.message_id}")

    async def close(self) -> None:
        if self._bot is not None:
            await self._bot.session.close()
            self._bot = None


def webhook_options(public_url: str, secret: str) -> dict[str, Any]:
    """What `setWebhook` needs for this deployment."""
    return {
        "url": public_url.rstrip("/") + WEBHOOK_PATH,
        "secret_token": secret,
        "allowed_updates": ALLOWED_UPDATES,
    }
