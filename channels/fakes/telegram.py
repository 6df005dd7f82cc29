"""A fake Telegram Bot API server: `/bot{token}/{method}`, answered the way Telegram answers.

aiogram works against it unchanged:

    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    bot = Bot(fake.token, session=AiohttpSession(api=TelegramAPIServer.from_base(fakes.url)))
    try:
        await bot.send_message(chat_id, "Bonjour")
    finally:
        await bot.session.close()

How aiogram calls the API (aiogram 3.x `AiohttpSession`): every method is a POST of an aiohttp
`FormData`, so `application/x-www-form-urlencoded` (multipart only when a file is attached).
Strings go as they are, numbers and booleans as JSON text ("42", "true"), objects and lists
(reply_markup, allowed_updates, link_preview_options) as JSON strings, and *falsy values are
left out*: `offset=0` or `timeout=0` never reach the server. The fake also takes JSON bodies and
query strings, as Telegram does.

Implemented: getMe, sendMessage, editMessageText, editMessageReplyMarkup, deleteMessage,
sendChatAction, answerCallbackQuery, setWebhook, deleteWebhook, getWebhookInfo, getUpdates,
setMyCommands, getMyCommands, deleteMyCommands. Method names are case-insensitive. sendMessage
checks what Telegram checks and apps get wrong: the 4096-character limit, inline buttons'
callback_data of 1-64 bytes, balanced and supported tags with parse_mode HTML, and the reserved
characters `#+-={}.!` escaped with parse_mode MarkdownV2. The text is echoed as sent (Telegram
would strip the markup and return entities).

Simulated users: `message_update()` / `callback_update()` build real Update JSON;
`push_update()` queues one for getUpdates (waking long polls), `post_update()` POSTs one to a
webhook the way Telegram does. State is under one lock: read it and script faults from any
thread while the server runs in its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from channels.fakes.twilio import Delay

__all__ = [
    "CallbackAnswer",
    "Delay",
    "Edit",
    "FakeTelegram",
    "SentMessage",
    "TelegramAttempt",
    "TelegramError",
    "TelegramFault",
]

logger = logging.getLogger("channels.fakes.telegram")

ChatId = int | str
_INT = re.compile(r"^-?[0-9]+$")
_MAX_TEXT = 4096  # UTF-16 code units after entity parsing; we count the text as sent
_HTML_TAGS = frozenset(
    {
        "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
        "a", "code", "pre", "blockquote", "tg-emoji",
    }
)  # fmt: skip
_HTML_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s[^<>]*)?)>")
_MARKDOWN_V2_CODE = re.compile(r"```.*?```|`[^`]*`", re.DOTALL)
_MARKDOWN_V2_RESERVED = re.compile(r"(?<!\\)((?:\\\\)*)([#+\-={}.!])")
_BUTTON_ACTIONS = (
    "callback_data", "url", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
    "callback_game", "pay",
)  # fmt: skip
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


# -- faults ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TelegramError:
    """An error answer: `{"ok": false, "error_code", "description", "parameters"?}`."""

    status: int
    description: str
    retry_after: int | None = None

    @classmethod
    def too_many_requests(cls, retry_after: int = 5) -> TelegramError:
        return cls(429, f"Too Many Requests: retry after {retry_after}", retry_after)

    @classmethod
    def blocked(cls) -> TelegramError:
        return cls(403, "Forbidden: bot was blocked by the user")

    @classmethod
    def deactivated(cls) -> TelegramError:
        return cls(403, "Forbidden: user is deactivated")

    @classmethod
    def chat_not_found(cls) -> TelegramError:
        return cls(400, "Bad Request: chat not found")

    @classmethod
    def server_error(cls) -> TelegramError:
        return cls(500, "Internal Server Error")

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


TelegramFault = TelegramError | Delay


class _ApiError(Exception):
    def __init__(self, error: TelegramError) -> None:
        super().__init__(error.description)
        self.error = error


def _bad_request(description: str) -> _ApiError:
    return _ApiError(TelegramError(400, f"Bad Request: {description}"))


# -- records --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message the bot sent (sendMessage accepted), as recorded on arrival."""

    chat_id: ChatId
    message_id: int
    text: str
    reply_markup: Mapping[str, Any] | None  # parsed JSON
    parse_mode: str | None
    params: Mapping[str, Any]  # every parameter, JSON fields parsed
    time: float  # time.time() on arrival
    monotonic: float  # time.monotonic() on arrival


@dataclass(frozen=True, slots=True)
class TelegramAttempt:
    """Any sendMessage request, accepted or refused."""

    chat_id: ChatId | None
    text: str | None
    status: int
    description: str | None
    message_id: int | None
    time: float
    monotonic: float


@dataclass(frozen=True, slots=True)
class CallbackAnswer:
    """An answerCallbackQuery call."""

    callback_query_id: str
    text: str | None
    show_alert: bool
    params: Mapping[str, Any]
    time: float


@dataclass(frozen=True, slots=True)
class Edit:
    """An editMessageText / editMessageReplyMarkup / deleteMessage call that succeeded."""

    method: str
    chat_id: ChatId | None
    message_id: int | None
    text: str | None
    reply_markup: Mapping[str, Any] | None
    time: float


@dataclass(frozen=True, slots=True)
class Webhook:
    url: str
    secret_token: str | None
    allowed_updates: list[str] | None
    max_connections: int


# -- parameter parsing ----------------------------------------------------------------------


def _json_value(value: Any, what: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise _bad_request(f"can't parse {what} JSON object") from None
    return value


def _int_value(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _bad_request(f"invalid {name} specified")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT.match(value):
        return int(value)
    raise _bad_request(f"invalid {name} specified")


def _bool_value(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("true", "1")
    return bool(value)


def _chat_id(params: Mapping[str, Any], *, required: bool = True) -> ChatId | None:
    value = params.get("chat_id")
    if value is None or value == "":
        if required:
            raise _bad_request("chat_id is empty")
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INT.match(value):
        return int(value)
    if isinstance(value, str) and value.startswith("@"):
        return value
    raise _bad_request("chat not found")


def _text_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _check_html(text: str) -> None:
    stack: list[str] = []
    position = 0
    while (start := text.find("<", position)) >= 0:
        offset = len(text[:start].encode("utf-8"))
        match = _HTML_TAG.match(text, start)
        if match is None:
            name = re.match(r"</?([^\s<>]*)", text[start:])
            tag = name.group(1) if name else ""
            raise _bad_request(
                f'can\'t parse entities: Unsupported start tag "{tag}" at byte offset {offset}'
            )
        closing, tag = match.group(1), match.group(2).lower()
        if tag not in _HTML_TAGS:
            raise _bad_request(
                f'can\'t parse entities: Unsupported start tag "{tag}" at byte offset {offset}'
            )
        if closing:
            if not stack:
                raise _bad_request(
                    f"can't parse entities: Unexpected end tag at byte offset {offset}"
                )
            if stack[-1] != tag:
                raise _bad_request(
                    "can't parse entities: Can't find end tag corresponding to start tag "
                    f'"{stack[-1]}"'
                )
            stack.pop()
        else:
            stack.append(tag)
        position = match.end()
    if stack:
        raise _bad_request(
            f"can't parse entities: Can't find end tag corresponding to start tag \"{stack[-1]}\""
        )


def _check_markdown_v2(text: str) -> None:
    outside_code = _MARKDOWN_V2_CODE.sub("", text)
    match = _MARKDOWN_V2_RESERVED.search(outside_code)
    if match is not None:
        raise _bad_request(
            f"can't parse entities: Character '{match.group(2)}' is reserved and must be "
            "escaped with the preceding '\\'"
        )


def _check_reply_markup(markup: Any) -> dict[str, Any] | None:
    """Validate a parsed reply_markup; return it."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise _bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad_request("field \"inline_keyboard\" of the InlineKeyboardMarkup must be "
                               "an Array of Arrays")  # fmt: skip
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise _bad_request("can't parse inline keyboard button: Text is empty")
                actions = [key for key in _BUTTON_ACTIONS if key in button]
                if not actions:
                    raise _bad_request(
                        "can't parse inline keyboard button: Text buttons are unallowed in the "
                        "inline keyboard"
                    )
                if "callback_data" in button:
                    data = button["callback_data"]
                    if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
                        raise _bad_request("BUTTON_DATA_INVALID")
        return markup
    if "keyboard" in markup or "remove_keyboard" in markup or "force_reply" in markup:
        return markup
    raise _bad_request("can't parse reply keyboard markup JSON object")


def _ok(result: Any, description: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"ok": True, "result": result}
    if description:
        body["description"] = description
    return JSONResponse(body)


def _fail(error: TelegramError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status)


# -- the fake -------------------------------------------------------------------------------


class FakeTelegram:
    """The Telegram Bot API for one bot, scriptable.

    Faults are per chat and apply to sendMessage (after validation): `fail(chat_id, *faults)`
    queues faults consumed one per request, `fail_always(chat_id, fault)` refuses every one
    (a user who blocked the bot).
    """

    #: getUpdates never holds a request longer than this, whatever `timeout` asks.
    max_poll_timeout = 10.0

    def __init__(
        self,
        token: str | None = None,
        *,
        bot_username: str = "liaison_test_bot",
        bot_first_name: str = "Liaison",
    ) -> None:
        self.token = token or f"123456789:{secrets.token_urlsafe(26)}"
        bot_id, sep, secret = self.token.partition(":")
        if not sep or not _INT.match(bot_id) or not secret:
            raise ValueError("a bot token looks like 123456:ABC-DEF...")
        self.bot_id = int(bot_id)
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self._lock = threading.Lock()
        self._messages: list[SentMessage] = []
        self._attempts: list[TelegramAttempt] = []
        self._answers: list[CallbackAnswer] = []
        self._edits: list[Edit] = []
        self._faults: dict[ChatId, deque[TelegramFault]] = {}
        self._always: dict[ChatId, TelegramFault] = {}
        self._updates: list[dict[str, Any]] = []  # pending, by update_id
        self._next_update_id = 10_000
        self._next_callback_id = 4_000_000_000_000_000_000
        self._next_message_id: dict[ChatId, int] = {}
        self._stored: dict[tuple[ChatId, int], dict[str, Any]] = {}  # messages sent, by chat
        self._last_bot_message: dict[ChatId, int] = {}
        self._users: dict[int, dict[str, Any]] = {}
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._interrupted = False
        self._webhook: Webhook | None = None
        self._allowed_updates: list[str] | None = None
        self._commands: list[Any] = []
        self._app: Starlette | None = None
        self._methods = {
            "getme": self._get_me,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "deletemessage": self._delete_message,
            "sendchataction": self._send_chat_action,
            "answercallbackquery": self._answer_callback_query,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "getupdates": self._get_updates,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
        }

    # -- scripting ------------------------------------------------------------------------

    def fail(self, chat_id: ChatId, *faults: TelegramFault) -> None:
        """Queue faults for sendMessage to `chat_id`, consumed one per request, in order."""
        with self._lock:
            self._faults.setdefault(chat_id, deque()).extend(faults)

    def fail_always(self, chat_id: ChatId, fault: TelegramFault) -> None:
        """Answer every sendMessage to `chat_id` with `fault` (after queued ones)."""
        with self._lock:
            self._always[chat_id] = fault

    def clear_faults(self, chat_id: ChatId | None = None) -> None:
        with self._lock:
            if chat_id is None:
                self._faults.clear()
                self._always.clear()
            else:
                self._faults.pop(chat_id, None)
                self._always.pop(chat_id, None)

    def reset(self) -> None:
        """Forget records, faults, pending updates, the webhook and the commands."""
        with self._lock:
            self._messages.clear()
            self._attempts.clear()
            self._answers.clear()
            self._edits.clear()
            self._faults.clear()
            self._always.clear()
            self._updates.clear()
            self._next_message_id.clear()
            self._stored.clear()
            self._last_bot_message.clear()
            self._users.clear()
            self._webhook = None
            self._allowed_updates = None
            self._commands = []

    # -- records --------------------------------------------------------------------------

    @property
    def messages(self) -> list[SentMessage]:
        with self._lock:
            return list(self._messages)

    def messages_to(self, chat_id: ChatId) -> list[SentMessage]:
        with self._lock:
            return [message for message in self._messages if message.chat_id == chat_id]

    @property
    def attempts(self) -> list[TelegramAttempt]:
        with self._lock:
            return list(self._attempts)

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        with self._lock:
            return list(self._answers)

    @property
    def edits(self) -> list[Edit]:
        with self._lock:
            return list(self._edits)

    @property
    def webhook(self) -> Webhook | None:
        with self._lock:
            return self._webhook

    @property
    def commands(self) -> list[Any]:
        with self._lock:
            return list(self._commands)

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._updates)

    async def wait_for_messages(
        self,
        chat_id: ChatId | None = None,
        *,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - a default bound, so that a test never hangs
    ) -> list[SentMessage]:
        """Wait (from any event loop) until `count` messages were sent (to `chat_id`, if given);
        returns them. Raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.messages if chat_id is None else self.messages_to(chat_id)
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{len(found)} of {count} Telegram messages after {timeout}s")
            await asyncio.sleep(0.01)

    # -- simulated users ------------------------------------------------------------------

    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def message_update(
        self,
        chat_id: int,
        text: str,
        *,
        language_code: str | None = "fr",
        first_name: str = "Parent",
        last_name: str | None = None,
        username: str | None = None,
        update_id: int | None = None,
    ) -> dict[str, Any]:
        """An Update with a private-chat text message from user `chat_id`."""
        user = self._user(chat_id, first_name, last_name, username, language_code)
        with self._lock:
            update_id = self._take_update_id(update_id)
            message_id = self._take_message_id(chat_id)
        message: dict[str, Any] = {
            "message_id": message_id,
            "from": user,
            "chat": self._chat(chat_id),
            "date": int(time.time()),
            "text": text,
        }
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [
                {"offset": 0, "length": _text_length(command), "type": "bot_command"}
            ]
        return {"update_id": update_id, "message": message}

    def callback_update(
        self,
        chat_id: int,
        data: str,
        *,
        message_id: int | None = None,
        language_code: str | None = "fr",
        first_name: str = "Parent",
        update_id: int | None = None,
    ) -> dict[str, Any]:
        """An Update with a callback_query: user `chat_id` pressed an inline button carrying
        `data` on bot message `message_id` (by default the last one sent to that chat)."""
        user = self._user(chat_id, first_name, None, None, language_code)
        with self._lock:
            update_id = self._take_update_id(update_id)
            self._next_callback_id += 1
            query_id = str(self._next_callback_id)
            if message_id is None:
                message_id = self._last_bot_message.get(chat_id)
            stored = self._stored.get((chat_id, message_id)) if message_id is not None else None
            if message_id is None:
                message_id = self._take_message_id(chat_id)
        message = dict(stored) if stored is not None else {
            "message_id": message_id,
            "from": self.bot_user(),
            "chat": self._chat(chat_id),
            "date": int(time.time()),
            "text": "",
        }  # fmt: skip
        return {
            "update_id": update_id,
            "callback_query": {
                "id": query_id,
                "from": user,
                "message": message,
                "chat_instance": str((self.bot_id * 1_000_003 + chat_id) % (1 << 62)),
                "data": data,
            },
        }

    def push_update(self, update: Mapping[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates and wake long polls. Returns it, with its
        update_id (assigned if missing)."""
        queued = dict(update)
        with self._lock:
            given = queued.get("update_id")
            queued["update_id"] = self._take_update_id(given if isinstance(given, int) else None)
            self._updates.append(queued)
            self._updates.sort(key=lambda item: int(item["update_id"]))
            waiters = list(self._waiters)
        self._wake(waiters)
        return queued

    async def post_update(
        self,
        url: str,
        update: Mapping[str, Any],
        *,
        secret_token: str | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> httpx.Response:
        """POST an update to a webhook like Telegram: JSON body, and the secret in
        X-Telegram-Bot-Api-Secret-Token when given."""
        headers = {"Content-Type": "application/json"}
        if secret_token is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret_token
        content = json.dumps(update, ensure_ascii=False).encode("utf-8")
        if client is not None:
            return await client.post(url, content=content, headers=headers)
        async with httpx.AsyncClient(timeout=10.0) as own:
            return await own.post(url, content=content, headers=headers)

    async def deliver(
        self, update: Mapping[str, Any], *, client: httpx.AsyncClient | None = None
    ) -> httpx.Response:
        """POST an update to the webhook registered with setWebhook, with its secret."""
        webhook = self.webhook
        if webhook is None:
            raise RuntimeError("no webhook is set: call setWebhook first")
        return await self.post_update(
            webhook.url, update, secret_token=webhook.secret_token, client=client
        )

    def _user(
        self,
        user_id: int,
        first_name: str,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
    ) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        with self._lock:
            self._users[user_id] = user
        return user

    def _chat(self, chat_id: ChatId) -> dict[str, Any]:
        if isinstance(chat_id, str):
            return {"id": -1001000000000, "title": chat_id, "type": "channel"}
        if chat_id < 0:
            kind = "supergroup" if str(chat_id).startswith("-100") else "group"
            return {"id": chat_id, "title": "Group", "type": kind}
        chat: dict[str, Any] = {"id": chat_id, "type": "private"}
        user = self._users.get(chat_id)
        if user is not None:
            for key in ("first_name", "last_name", "username"):
                if key in user:
                    chat[key] = user[key]
        else:
            chat["first_name"] = "Parent"
        return chat

    def _take_update_id(self, update_id: int | None) -> int:
        """Under the lock."""
        if update_id is None:
            update_id = self._next_update_id
        self._next_update_id = max(self._next_update_id, update_id + 1)
        return update_id

    def _take_message_id(self, chat_id: ChatId) -> int:
        """Under the lock: private chats share one message_id sequence for both sides."""
        message_id = self._next_message_id.get(chat_id, 0) + 1
        self._next_message_id[chat_id] = message_id
        return message_id

    @staticmethod
    def _wake(waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]]) -> None:
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop is closed: nobody is waiting any more
                continue

    # -- the app --------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        return [Route("/bot{token}/{method}", self._handle, methods=["GET", "POST"])]

    @property
    def app(self) -> Starlette:
        """A standalone Starlette app serving only this fake."""
        if self._app is None:

            @asynccontextmanager
            async def lifespan(app: Starlette) -> AsyncIterator[None]:
                await self.startup()
                try:
                    yield
                finally:
                    self.interrupt()
                    await self.shutdown()

            self._app = Starlette(routes=self.routes(), lifespan=lifespan)
        return self._app

    async def startup(self) -> None:
        with self._lock:
            self._interrupted = False

    def interrupt(self) -> None:
        """End pending long polls now (they answer no updates), and every later one at once:
        call before stopping the server so that it need not wait for them."""
        with self._lock:
            self._interrupted = True
            waiters = list(self._waiters)
        self._wake(waiters)

    async def shutdown(self) -> None:
        self.interrupt()

    async def _handle(self, request: Request) -> Response:
        wall, mono = time.time(), time.monotonic()
        if request.path_params["token"] != self.token:
            return _fail(TelegramError(401, "Unauthorized"))
        handler = self._methods.get(request.path_params["method"].lower())
        if handler is None:
            return _fail(TelegramError(404, "Not Found: method not found"))
        try:
            params = await self._read_params(request)
            return await handler(params, wall, mono)
        except _ApiError as exc:
            return _fail(exc.error)

    @staticmethod
    async def _read_params(request: Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query_params)
        if request.method != "POST":
            return params
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/json"):
            try:
                body = json.loads(await request.body() or b"{}")
            except ValueError:
                raise _bad_request("can't parse JSON object") from None
            if not isinstance(body, dict):
                raise _bad_request("can't parse JSON object")
            params.update(body)
        elif content_type.startswith(("application/x-www-form-urlencoded", "multipart/")):
            async with request.form() as form:
                for key, value in form.multi_items():
                    if isinstance(value, UploadFile):
                        params[key] = value.filename
                    else:
                        params[key] = value
        return params

    def _next_fault(self, chat_id: ChatId) -> TelegramFault | None:
        with self._lock:
            queue = self._faults.get(chat_id)
            if queue:
                fault = queue.popleft()
                if not queue:
                    del self._faults[chat_id]
                return fault
            return self._always.get(chat_id)

    def _record_attempt(self, attempt: TelegramAttempt) -> None:
        with self._lock:
            self._attempts.append(attempt)

    # -- methods --------------------------------------------------------------------------

    async def _get_me(self, params: dict[str, Any], wall: float, mono: float) -> Response:
        me = self.bot_user() | {
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        return _ok(me)

    def _parse_text(self, params: dict[str, Any]) -> tuple[str, str | None, dict[str, Any] | None]:
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _bad_request("message text is empty")
        if _text_length(text) > _MAX_TEXT:
            raise _bad_request("message is too long")
        parse_mode = params.get("parse_mode") or None
        if parse_mode is not None:
            mode = str(parse_mode).lower()
            if mode == "html":
                _check_html(text)
            elif mode == "markdownv2":
                _check_markdown_v2(text)
            elif mode != "markdown":
                raise _bad_request(f"unsupported parse_mode {parse_mode}")
        markup = _check_reply_markup(
            _json_value(params.get("reply_markup"), "reply keyboard markup")
        )
        return text, parse_mode, markup

    def _parsed(self, params: dict[str, Any]) -> dict[str, Any]:
        parsed = dict(params)
        for key in ("reply_markup", "link_preview_options", "entities", "reply_parameters"):
            if key in parsed:
                parsed[key] = _json_value(parsed[key], key.replace("_", " "))
        return parsed

    async def _send_message(self, params: dict[str, Any], wall: float, mono: float) -> Response:
        raw_chat = params.get("chat_id")
        try:
            chat_id = _chat_id(params)
            assert chat_id is not None
            text, parse_mode, markup = self._parse_text(params)
            parsed = self._parsed(params)
            if isinstance(chat_id, str):
                raise _ApiError(TelegramError.chat_not_found())
        except _ApiError as exc:
            self._record_attempt(
                TelegramAttempt(
                    raw_chat if isinstance(raw_chat, int | str) else None,
                    params.get("text"),
                    exc.error.status,
                    exc.error.description,
                    None,
                    wall,
                    mono,
                )
            )
            raise
        fault = self._next_fault(chat_id)
        if isinstance(fault, Delay):
            await asyncio.sleep(fault.seconds)
        elif fault is not None:
            self._record_attempt(
                TelegramAttempt(chat_id, text, fault.status, fault.description, None, wall, mono)
            )
            return _fail(fault)

        with self._lock:
            message_id = self._take_message_id(chat_id)
            message: dict[str, Any] = {
                "message_id": message_id,
                "from": self.bot_user(),
                "chat": self._chat(chat_id),
                "date": int(wall),
                "text": text,
            }
            # Message.reply_markup is an InlineKeyboardMarkup: other keyboards are not echoed.
            if markup is not None and "inline_keyboard" in markup:
                message["reply_markup"] = markup
            self._stored[(chat_id, message_id)] = message
            self._last_bot_message[chat_id] = message_id
            self._messages.append(
                SentMessage(chat_id, message_id, text, markup, parse_mode, parsed, wall, mono)
            )
            self._attempts.append(TelegramAttempt(chat_id, text, 200, None, message_id, wall, mono))
        logger.info("Telegram %s to %s: %s", message_id, chat_id, text)
        return _ok(message)

    def _edit(
        self,
        method: str,
        params: dict[str, Any],
        wall: float,
        *,
        text: str | None,
        markup: dict[str, Any] | None,
    ) -> Response:
        """Edit a message the bot sent; unknown messages are edited blindly (lenient)."""
        if params.get("inline_message_id"):
            with self._lock:
                self._edits.append(Edit(method, None, None, text, markup, wall))
            return _ok(True)
        chat_id = _chat_id(params)
        assert chat_id is not None
        message_id = _int_value(params.get("message_id"), "message_id")
        if message_id is None:
            raise _bad_request("message identifier is not specified")
        with self._lock:
            stored = self._stored.get((chat_id, message_id))
            message = dict(stored) if stored is not None else {
                "message_id": message_id,
                "from": self.bot_user(),
                "chat": self._chat(chat_id),
                "date": int(wall),
            }  # fmt: skip
            if text is not None:
                message["text"] = text
            message.pop("reply_markup", None)
            if markup is not None and "inline_keyboard" in markup:
                message["reply_markup"] = markup
            if stored is not None and message == stored:
                raise _bad_request(_NOT_MODIFIED.removeprefix("Bad Request: "))
            message["edit_date"] = int(wall)
            self._stored[(chat_id, message_id)] = message
            self._edits.append(Edit(method, chat_id, message_id, text, markup, wall))
        return _ok(message)

    async def _edit_message_text(
        self, params: dict[str, Any], wall: float, mono: float
    ) -> Response:
        text, _, markup = self._parse_text(params)
        return self._edit("editMessageText", params, wall, text=text, markup=markup)

    async def _edit_message_reply_markup(
        self, params: dict[str, Any], wall: float, mono: float
    ) -> Response:
        markup = _check_reply_markup(
            _json_value(params.get("reply_markup"), "reply keyboard markup")
        )
        return self._edit("editMessageReplyMarkup", params, wall, text=None, markup=markup)

    async def _delete_message(self, params: dict[str, Any], wall: float, mono: float) -> Response:
        chat_id = _chat_id(params)
        message_id = _int_value(params.get("message_id"), "message_id")
        if message_id is None:
            raise _bad_request("message identifier is not specified")
        with self._lock:
            if chat_id is not None:
                self._stored.pop((chat_id, message_id), None)
            self._edits.append(Edit("deleteMessage", chat_id, message_id, None, None, wall))
        return _ok(True)

    async def _send_chat_action(self, params: dict[str, Any], wall: float, mono: float) -> Response:
        _chat_id(params)
        if not params.get("action"):
            raise _bad_request("action is empty")
        return _ok(True)

    async def _answer_callback_query(
        self, params: dict[str, Any], wall: float, mono: float
    ) -> Response:
        query_id = params.get("callback_query_id")
        if not query_id:
            raise _bad_request("query is too old and response timeout expired or query ID is "
                               "invalid")  # fmt: skip
        text = params.get("text")
        answer = CallbackAnswer(
            callback_query_id=str(query_id),
            text=str(text) if text is not None else None,
            show_alert=_bool_value(params.get("show_alert", False)),
            params=dict(params),
            time=wall,
        )
        with self._lock:
            self._answers.append(answer)
        return _ok(True)

    async def _set_webhook(self, params: dict[str, Any], wall: float, mono: float) -> Response:
        url = params.get("url") or ""
        allowed = _json_value(params.get("allowed_updates"), "allowed updates")
        if allowed is not None and not isinstance(allowed, list):
            raise _bad_request("can't parse allowed updates JSON object")
        max_connections = _int_value(params.get("max_connections"), "max_connections") or 40
        secret = params.get("secret_token") or None
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise _bad_request("secret token contains unallowed characters")
        with self._lock:
            if _bool_value(params.get("drop_pending_updates", False)):
                self._updates.clear()
            if not url:
                self._webhook = None
                return _ok(True, "Webhook was deleted")
            self._webhook = Webhook(str(url), secret, allowed, max_connections)
        return _ok(True, "Webhook was set")

    async def _delete_webhook(self, params: dict[str, Any], wall: float, mono: float) -> Response:
        with self._lock:
            if _bool_value(params.get("drop_pending_updates", False)):
                self._updates.clear()
            existed = self._webhook is not None
            self._webhook = None
        return _ok(True, "Webhook was deleted" if existed else "Webhook is already deleted")

    async def _get_webhook_info(self, params: dict[str, Any], wall: float, mono: float) -> Response:
        with self._lock:
            webhook = self._webhook
            info: dict[str, Any] = {
                "url": webhook.url if webhook else "",
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
        if webhook is not None:
            info["ip_address"] = "127.0.0.1"
            info["max_connections"] = webhook.max_connections
            if webhook.allowed_updates:
                info["allowed_updates"] = webhook.allowed_updates
        return _ok(info)

    def _take_updates(self, offset: int | None, limit: int) -> list[dict[str, Any]]:
        """Under the lock: confirm updates below `offset`, return up to `limit` pending."""
        if offset is not None:
            if offset < 0:
                del self._updates[: max(0, len(self._updates) + offset)]
            else:
                self._updates = [u for u in self._updates if int(u["update_id"]) >= offset]
        if self._allowed_updates:
            allowed = set(self._allowed_updates)
            self._updates = [u for u in self._updates if allowed.intersection(u)]
        return self._updates[:limit]

    async def _get_updates(self, params: dict[str, Any], wall: float, mono: float) -> Response:
        offset = _int_value(params.get("offset"), "offset")
        limit = _int_value(params.get("limit"), "limit") or 100
        limit = max(1, min(limit, 100))
        timeout = _int_value(params.get("timeout"), "timeout") or 0
        allowed = _json_value(params.get("allowed_updates"), "allowed updates")
        wait = min(max(timeout, 0), self.max_poll_timeout)
        deadline = time.monotonic() + wait
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._webhook is not None:
                raise _ApiError(
                    TelegramError(
                        409,
                        "Conflict: can't use getUpdates method while webhook is active; use "
                        "deleteWebhook to delete the webhook first",
                    )
                )
            if isinstance(allowed, list):
                self._allowed_updates = [str(kind) for kind in allowed] or None
        while True:
            event = asyncio.Event()
            waiter = (loop, event)
            with self._lock:
                found = self._take_updates(offset, limit)
                if found or self._interrupted or time.monotonic() >= deadline:
                    return _ok(found)
                self._waiters.add(waiter)
            try:
                await asyncio.wait_for(event.wait(), deadline - time.monotonic())
            except TimeoutError:
                pass
            finally:
                with self._lock:
                    self._waiters.discard(waiter)

    async def _set_my_commands(self, params: dict[str, Any], wall: float, mono: float) -> Response:
        commands = _json_value(params.get("commands"), "commands")
        if not isinstance(commands, list):
            raise _bad_request("can't parse commands JSON object")
        with self._lock:
            self._commands = commands
        return _ok(True)

    async def _get_my_commands(self, params: dict[str, Any], wall: float, mono: float) -> Response:
        return _ok(self.commands)

    async def _delete_my_commands(
        self, params: dict[str, Any], wall: float, mono: float
    ) -> Response:
        with self._lock:
            self._commands = []
        return _ok(True)
