"""A fake Twilio that speaks the real Programmable Messaging REST API (2010-04-01).

Only what an SMS sender needs: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, the
status callbacks that follow it, and inbound-SMS webhooks signed like Twilio signs them.
The official SDK works against it unchanged (read the twilio 9.x source to see why):

    from twilio.http.async_http_client import AsyncTwilioHttpClient
    from twilio.rest import Client

    client = Client(sid, token, http_client=AsyncTwilioHttpClient())
    client.api.base_url = fakes.url   # `Client.api` is cached, so this sticks
    message = await client.messages.create_async(
        to="+33612345678", from_="+33639980000", body="Bonjour", status_callback=url
    )
    await client.http_client.close()

`base_url` is the right knob: `Domain.absolute_url` joins it with the version path, and the
request goes out as is unless a region or an edge is configured (`region=`, `edge=`,
TWILIO_REGION or TWILIO_EDGE), in which case `ClientBase.get_hostname` rewrites the host name
and breaks a loopback URL: leave both unset against the fake. `client.messages` is
`client.api.account.messages`, so it goes through the same `Api` domain.

State is kept under one lock, so tests may read it and script faults from any thread while the
server runs in its own. Handlers are cheap (a dict, a regex, a lock): no I/O but the optional
scripted delay and the status callbacks, which run as background tasks.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import math
import re
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from twilio.request_validator import (  # type: ignore[import-untyped, unused-ignore]
    RequestValidator,
)

__all__ = [
    "Delay",
    "FakeTwilio",
    "StatusCallbackResult",
    "TwilioAttempt",
    "TwilioError",
    "TwilioFault",
    "TwilioMessage",
    "compute_signature",
]

logger = logging.getLogger("channels.fakes.twilio")

API_VERSION = "2010-04-01"
_E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
_MAX_BODY = 1600  # characters, Twilio's limit for a concatenated message (error 21617)
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# GSM 03.38 default alphabet and extension table, for num_segments. Kept here on purpose rather
# than imported from channels.sms_text: a fake must not share the code it is meant to check.
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = frozenset("\f^{}\\[~]|€")


# -- faults ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TwilioError:
    """An error answer: HTTP status, Twilio error code and message, in Twilio's JSON shape."""

    status: int
    code: int
    message: str

    @classmethod
    def too_many_requests(cls) -> TwilioError:
        return cls(429, 20429, "Too Many Requests")

    @classmethod
    def server_error(cls) -> TwilioError:
        return cls(500, 20500, "Internal Server Error")

    @classmethod
    def invalid_number(cls) -> TwilioError:
        return cls(400, 21211, "Invalid 'To' Phone Number")

    @classmethod
    def unsubscribed(cls) -> TwilioError:
        """The recipient answered STOP: Twilio refuses to send until they answer START."""
        return cls(400, 21610, "Attempt to send to unsubscribed recipient")

    def body(self) -> dict[str, Any]:
        return _error_body(self.status, self.code, self.message)


@dataclass(frozen=True, slots=True)
class Delay:
    """Wait `seconds` (without blocking the server) before answering normally.

    With `accept_if_abandoned=False`, a client that gave up meanwhile (a timeout) finds the
    message not taken, as when the provider fails before accepting; by default it is taken
    anyway, as when the provider accepted it but answered too late."""

    seconds: float
    accept_if_abandoned: bool = True


TwilioFault = TwilioError | Delay


# -- records --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TwilioMessage:
    """An accepted message, as the fake recorded it on arrival."""

    sid: str
    account_sid: str
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str
    status_callback: str | None
    num_segments: int
    params: Mapping[str, str]
    time: float  # time.time() on arrival
    monotonic: float  # time.monotonic() on arrival


@dataclass(frozen=True, slots=True)
class TwilioAttempt:
    """Any request to the Messages endpoint, accepted or refused."""

    to: str | None
    from_: str | None
    body: str | None
    status: int  # HTTP status answered
    error_code: int | None
    sid: str | None  # the message SID when accepted
    time: float
    monotonic: float


@dataclass(frozen=True, slots=True)
class StatusCallbackResult:
    """One status callback POSTed to the application: what was sent and what came back."""

    sid: str
    url: str
    message_status: str
    error_code: int | None
    params: Mapping[str, str]
    response_status: int | None  # None when the request itself failed
    error: str | None  # the transport error, if any
    time: float


# -- helpers --------------------------------------------------------------------------------


def compute_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """X-Twilio-Signature for a POST of form `params` to the exact `url` (HMAC-SHA1)."""
    validator = RequestValidator(auth_token)
    return str(validator.compute_signature(url, dict(params)))


def num_segments(body: str) -> int:
    """How many SMS a body costs: 160/153 septets in GSM-7, 70/67 UTF-16 units in UCS-2."""
    if all(char in _GSM_BASIC or char in _GSM_EXTENSION for char in body):
        units = sum(2 if char in _GSM_EXTENSION else 1 for char in body)
        single, part = 160, 153
    else:
        units = len(body.encode("utf-16-le")) // 2
        single, part = 70, 67
    if units <= single:
        return 1
    return math.ceil(units / part)


def rfc2822(timestamp: float) -> str:
    """Twilio's date format: `Thu, 24 Aug 2023 05:01:45 +0000` (locale independent)."""
    t = time.gmtime(timestamp)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )


def _error_body(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _error(status: int, code: int, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if status == 401 else None
    return JSONResponse(_error_body(status, code, message), status_code=status, headers=headers)


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def _new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


# -- the fake -------------------------------------------------------------------------------


class FakeTwilio:
    """Twilio's Messages API, scriptable.

    `app` is a standalone Starlette app; `routes()` plus `startup()`/`shutdown()` let
    `FakeProviders` serve it next to the Telegram fake. Every accepted message is in `messages`,
    every request (refused ones too) in `attempts`, every status callback in `callbacks`.

    Faults are per recipient: `fail(to, *faults)` queues faults consumed one per request to that
    number (after authentication and validation), then requests succeed again;
    `fail_always(to, fault)` refuses every request; `undeliverable(to, error_code=30003)`
    accepts messages but reports them undelivered in the status callbacks.
    """

    #: Status callbacks are sent by one shared client with this timeout (seconds).
    callback_timeout = 5.0

    def __init__(
        self,
        account_sid: str | None = None,
        auth_token: str | None = None,
        *,
        phone_number: str = "+33639980000",
        status_callbacks: bool = True,
        callback_delay: float = 0.0,
    ) -> None:
        """`phone_number` is the fake's own number: the default `To` of `send_inbound`.
        `callback_delay` is waited before each status callback ("sent", then "delivered")."""
        self.account_sid = account_sid or _new_sid("AC")
        self.auth_token = auth_token or secrets.token_hex(16)
        self.phone_number = phone_number
        self.status_callbacks = status_callbacks
        self.callback_delay = callback_delay
        self._lock = threading.Lock()
        self._messages: list[TwilioMessage] = []
        self._attempts: list[TwilioAttempt] = []
        self._callbacks: list[StatusCallbackResult] = []
        self._faults: dict[str, deque[TwilioFault]] = {}
        self._always: dict[str, TwilioFault] = {}
        self._undeliverable: dict[str, tuple[str, int]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None
        self._app: Starlette | None = None

    # -- scripting ------------------------------------------------------------------------

    def fail(self, to: str, *faults: TwilioFault) -> None:
        """Queue faults for requests to `to`, consumed one per request, in order."""
        with self._lock:
            self._faults.setdefault(to, deque()).extend(faults)

    def fail_always(self, to: str, fault: TwilioFault) -> None:
        """Answer every request to `to` with `fault` (after any queued ones) until cleared."""
        with self._lock:
            self._always[to] = fault

    def undeliverable(
        self, to: str, *, error_code: int = 30003, status: str = "undelivered"
    ) -> None:
        """Accept messages to `to`, then call back with `status` ("undelivered" or "failed")
        and `error_code` (30003 unreachable handset, 30005 unknown, 30006 landline...)."""
        if status not in ("undelivered", "failed"):
            raise ValueError(f"status must be 'undelivered' or 'failed', not {status!r}")
        with self._lock:
            self._undeliverable[to] = (status, error_code)

    def clear_faults(self, to: str | None = None) -> None:
        """Forget scripted faults (and undeliverable numbers) for `to`, or for everyone."""
        with self._lock:
            if to is None:
                self._faults.clear()
                self._always.clear()
                self._undeliverable.clear()
            else:
                self._faults.pop(to, None)
                self._always.pop(to, None)
                self._undeliverable.pop(to, None)

    def reset(self) -> None:
        """Forget every record and every scripted fault."""
        with self._lock:
            self._messages.clear()
            self._attempts.clear()
            self._callbacks.clear()
        self.clear_faults()

    # -- records --------------------------------------------------------------------------

    @property
    def messages(self) -> list[TwilioMessage]:
        with self._lock:
            return list(self._messages)

    def messages_to(self, number: str) -> list[TwilioMessage]:
        with self._lock:
            return [message for message in self._messages if message.to == number]

    @property
    def attempts(self) -> list[TwilioAttempt]:
        with self._lock:
            return list(self._attempts)

    @property
    def callbacks(self) -> list[StatusCallbackResult]:
        with self._lock:
            return list(self._callbacks)

    async def wait_for_messages(
        self,
        to: str | None = None,
        *,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - a default bound, so that a test never hangs
    ) -> list[TwilioMessage]:
        """Wait (from any event loop) until `count` messages were accepted (to `to`, if given);
        returns them. Raises TimeoutError with what arrived."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.messages if to is None else self.messages_to(to)
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{len(found)} of {count} Twilio messages after {timeout}s")
            await asyncio.sleep(0.01)

    async def wait_for_callbacks(
        self,
        count: int = 1,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - a default bound, so that a test never hangs
    ) -> list[StatusCallbackResult]:
        """Wait (from any event loop) until `count` status callbacks were sent."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.callbacks
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{len(found)} of {count} status callbacks after {timeout}s")
            await asyncio.sleep(0.01)

    # -- signing and inbound --------------------------------------------------------------

    def sign(self, url: str, params: Mapping[str, str]) -> str:
        """X-Twilio-Signature of form `params` POSTed to `url`, with this account's token."""
        return compute_signature(self.auth_token, url, params)

    def inbound_params(
        self,
        *,
        from_: str,
        body: str,
        to: str | None = None,
        message_sid: str | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """The form Twilio POSTs to a Messaging webhook for an incoming SMS."""
        sid = message_sid or _new_sid("SM")
        params = {
            "ToCountry": "",
            "ToState": "",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "ToCity": "",
            "FromZip": "",
            "SmsSid": sid,
            "FromState": "",
            "SmsStatus": "received",
            "FromCity": "",
            "Body": body,
            "FromCountry": "",
            "To": to or self.phone_number,
            "ToZip": "",
            "NumSegments": str(num_segments(body)),
            "MessageSid": sid,
            "AccountSid": self.account_sid,
            "From": from_,
            "ApiVersion": API_VERSION,
        }
        if extra:
            params.update(extra)
        return params

    async def send_inbound(
        self,
        url: str,
        *,
        from_: str,
        body: str,
        to: str | None = None,
        message_sid: str | None = None,
        extra: Mapping[str, str] | None = None,
        sign: bool = True,
        client: httpx.AsyncClient | None = None,
    ) -> httpx.Response:
        """Act as Twilio delivering an SMS from `from_` to the webhook at `url` (the exact URL
        the signature covers). `sign=False` leaves X-Twilio-Signature out."""
        params = self.inbound_params(
            from_=from_, body=body, to=to, message_sid=message_sid, extra=extra
        )
        headers = {
            "User-Agent": "TwilioProxy/1.1",
            "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
        }
        if sign:
            headers["X-Twilio-Signature"] = self.sign(url, params)
        if client is not None:
            return await client.post(url, data=params, headers=headers)
        async with httpx.AsyncClient(timeout=10.0) as own:
            return await own.post(url, data=params, headers=headers)

    # -- the app --------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        return [
            Route(
                "/2010-04-01/Accounts/{account_sid}/Messages.json",
                self._create_message,
                methods=["POST"],
            ),
            Route(
                "/2010-04-01/{path:path}",
                self._not_found,
                methods=["GET", "POST", "PUT", "DELETE"],
            ),
        ]

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
                    await self.shutdown()

            self._app = Starlette(routes=self.routes(), lifespan=lifespan)
        return self._app

    async def startup(self) -> None:
        """Call in the serving event loop before requests (the lifespans do)."""
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.callback_timeout)

    async def shutdown(self) -> None:
        """Let running status callbacks finish (1 s at most), then cancel them; close the client."""
        tasks = set(self._tasks)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=1.0)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _not_found(self, request: Request) -> Response:
        return _error(404, 20404, f"The requested resource {request.url.path} was not found")

    async def _create_message(self, request: Request) -> Response:
        wall, mono = time.time(), time.monotonic()
        path_sid = request.path_params["account_sid"]
        form = await request.form()
        params = {key: value for key, value in form.items() if isinstance(value, str)}
        await form.close()
        to = params.get("To")
        from_ = params.get("From") or None
        service = params.get("MessagingServiceSid") or None
        body = params.get("Body")

        def refuse(status: int, code: int, message: str) -> JSONResponse:
            self._record_attempt(TwilioAttempt(to, from_, body, status, code, None, wall, mono))
            return _error(status, code, message)

        credentials = _basic_credentials(request.headers.get("authorization"))
        if credentials != (self.account_sid, self.auth_token) or path_sid != self.account_sid:
            return refuse(401, 20003, "Authenticate")
        if not to:
            return refuse(400, 21604, "A 'To' phone number is required.")
        if body is None and "MediaUrl" not in params and "ContentSid" not in params:
            return refuse(400, 21602, "Message body is required.")
        if from_ is None and service is None:
            return refuse(400, 21603, "A 'From' phone number is required.")
        if not _E164.match(to):
            return refuse(400, 21211, "Invalid 'To' Phone Number")
        body = body or ""
        if len(body) > _MAX_BODY:
            return refuse(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )

        fault = self._next_fault(to)
        if isinstance(fault, Delay):
            await asyncio.sleep(fault.seconds)
            if not fault.accept_if_abandoned and await request.is_disconnected():
                return refuse(503, 20503, "Service Unavailable (the client had gone)")
        elif fault is not None:
            return refuse(fault.status, fault.code, fault.message)

        sid = _new_sid("SM")
        segments = num_segments(body)
        callback = params.get("StatusCallback") or None
        message = TwilioMessage(
            sid=sid,
            account_sid=self.account_sid,
            to=to,
            from_=from_,
            messaging_service_sid=service,
            body=body,
            status_callback=callback,
            num_segments=segments,
            params=params,
            time=wall,
            monotonic=mono,
        )
        with self._lock:
            self._messages.append(message)
            self._attempts.append(TwilioAttempt(to, from_, body, 201, None, sid, wall, mono))
            outcome = self._undeliverable.get(to)
        logger.info("SMS %s to %s: %s", sid, to, body)

        if callback and self.status_callbacks:
            task = asyncio.get_running_loop().create_task(
                self._send_callbacks(message, callback, outcome)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        created = rfc2822(wall)
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json"
        # A message sent through a Messaging Service (no From) starts "accepted", as on Twilio.
        status = "queued" if from_ else "accepted"
        resource = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": created,
            "date_sent": None,
            "date_updated": created,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": from_,
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": str(segments),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": status,
            "subresource_uris": {
                "media": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}/Media.json"
            },
            "to": to,
            "uri": uri,
        }
        return JSONResponse(resource, status_code=201)

    def _record_attempt(self, attempt: TwilioAttempt) -> None:
        with self._lock:
            self._attempts.append(attempt)

    def _next_fault(self, to: str) -> TwilioFault | None:
        with self._lock:
            queue = self._faults.get(to)
            if queue:
                fault = queue.popleft()
                if not queue:
                    del self._faults[to]
                return fault
            return self._always.get(to)

    async def _send_callbacks(
        self, message: TwilioMessage, url: str, outcome: tuple[str, int] | None
    ) -> None:
        steps: Sequence[tuple[str, int | None]]
        if outcome is None:
            steps = (("sent", None), ("delivered", None))
        elif outcome[0] == "failed":
            steps = (("failed", outcome[1]),)
        else:
            steps = (("sent", None), (outcome[0], outcome[1]))
        for status, error_code in steps:
            if self.callback_delay:
                await asyncio.sleep(self.callback_delay)
            await self._send_callback(message, url, status, error_code)

    async def _send_callback(
        self, message: TwilioMessage, url: str, status: str, error_code: int | None
    ) -> None:
        params = {
            "SmsSid": message.sid,
            "SmsStatus": status,
            "MessageStatus": status,
            "To": message.to,
            "MessageSid": message.sid,
            "AccountSid": self.account_sid,
            "From": message.from_ or self.phone_number,
            "ApiVersion": API_VERSION,
        }
        if message.messaging_service_sid:
            params["MessagingServiceSid"] = message.messaging_service_sid
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        headers = {
            "X-Twilio-Signature": self.sign(url, params),
            "User-Agent": "TwilioProxy/1.1",
            "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
        }
        response_status: int | None = None
        error: str | None = None
        try:
            if self._client is None:
                async with httpx.AsyncClient(timeout=self.callback_timeout) as client:
                    response = await client.post(url, data=params, headers=headers)
            else:
                response = await self._client.post(url, data=params, headers=headers)
            response_status = response.status_code
        except Exception as exc:  # any failure is a result to record, never a crash
            error = f"{type(exc).__name__}: {exc}"
        result = StatusCallbackResult(
            sid=message.sid,
            url=url,
            message_status=status,
            error_code=error_code,
            params=params,
            response_status=response_status,
            error=error,
            time=time.time(),
        )
        with self._lock:
            self._callbacks.append(result)
