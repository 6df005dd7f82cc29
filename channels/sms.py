"""SMS over Twilio: the signed webhooks in, the outbox renderer, and the sender.

Inbound (`POST /webhooks/twilio/sms`, form-encoded, as Twilio posts it):

1. the body is read up to a fixed size (413 beyond), then `X-Twilio-Signature` is checked with
   twilio's `RequestValidator` against the *public* URL (`LIAISON_PUBLIC_URL` + path + query),
   which is what Twilio signed even when a reverse proxy sits in front: 403 if it is missing or
   wrong, before anything else is looked at;
2. the sender is normalised to E.164; the message goes to the conversation store with its
   `MessageSid`, so a delivery Twilio retries is handled once (a unique key);
3. the answer to Twilio is an empty TwiML document: replies leave through the outbox, where
   they are rate limited, retried and tracked.

Status callbacks (`POST /webhooks/twilio/status?m=<outbox id>`) are signed the same way and move
the outbox message to sent, delivered or failed; error 21610 (the number replied STOP to the
carrier) opts the contact out.

Replies are rendered for a basic phone: buttons become numbered choices ("Répondez 1, 2 ou
3"), each answer stays within `sms.max_segments` segments, and a longer one is cut into a
first part ending with "1. La suite" (see `split`).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from babel.lists import format_list
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot.assistant import MORE_PAYLOAD, Inbound
from bot.replies import Button, Reply
from bot.store import Conversations
from channels.base import (
    Channel,
    Outgoing,
    PermanentSendError,
    RetryableSendError,
    SendResult,
)
from channels.http import error_response, read_body
from channels.phone import InvalidPhoneNumber, mask, timezone_of, to_e164
from channels.sms_text import boundaries, render_sms, segments
from liaison.errors import BadRequest, Forbidden, InboundError
from liaison.i18n import _, current_language
from liaison.outbox import record_status

log = logging.getLogger(__name__)

# Twilio's own requests are small; anything bigger is not Twilio.
_MAX_BODY = 64 * 1024
_SID = re.compile(r"^(SM|MM|SMS)[0-9a-fA-F]{32}$|^(SM|MM)[0-9A-Za-z]{10,64}$")
# Twilio's ceiling for one message (1,600 characters): 10 segments.
_MOST = 10
_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'

# Twilio error codes that say the number opted out at the carrier (STOP sent to Twilio itself).
# Any other 4xx refusal (invalid number, unreachable country...) fails the message for good.
_OPTED_OUT_CODES = frozenset({21610})
# Provider statuses as the outbox knows them.
_STATUSES = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "failed",
    "failed": "failed",
}


class SmsChannel(Channel):
    name = "sms"

    def __init__(
        self,
        *,
        conversations: Conversations,
        auth_token: str,
        public_url: str,
        max_segments: int,
    ) -> None:
        self.conversations = conversations
        self.validator = RequestValidator(auth_token)
        self.public_url = public_url.rstrip("/")
        self.max_segments = max_segments

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/webhooks/twilio/sms", self.inbound, methods=["POST"]),
            Route("/webhooks/twilio/status", self.status, methods=["POST"]),
        ]

    # -- rendering ---------------------------------------------------------------------------

    def render(self, recipient: str, replies: list[Reply]) -> list[Outgoing]:
        return self.outgoing(replies)

    def outgoing(self, replies: list[Reply]) -> list[Outgoing]:
        return outgoing_sms(replies, self.max_segments)

    def split(self, replies: list[Reply]) -> tuple[list[Reply], list[Reply]] | None:
        """Cut an answer that needs more than `max_segments` segments: what fits now, followed
        by a "1. La suite" choice, and what is held until the parent answers 1."""
        if self._cost(replies) <= self.max_segments:
            return None
        more = (Button(_("La suite"), MORE_PAYLOAD),)
        taken = 0
        while taken < len(replies):
            candidate = [*replies[:taken], Reply(replies[taken].text, more)]
            if self._cost(candidate) > self.max_segments:
                break
            taken += 1
        if taken == len(replies):  # all the texts fit, not with the last reply's buttons
            taken -= 1
        if taken > 0:
            return list(replies[:taken]), list(replies[taken:])
        # The first reply alone is too long: send its first lines or sentences now.
        first, rest = replies[0], replies[1:]

        def fits(text: str, buttons: tuple[Button, ...]) -> bool:
            return self._cost([Reply(text, buttons)]) <= self.max_segments

        text = first.text.strip()
        cuts = [(text[:at].strip(), text[at:].strip()) for at in reversed(boundaries(text))]
        now = [(head, tail) for head, tail in cuts if fits(head, more)]
        # The most text that fits now; better still if the rest then fits with the reply's own
        # choices, so that the question stays next to its answers. A rest still too long is
        # cut again when the parent asks for it.
        for head, tail in now:
            if fits(tail, first.buttons):
                return [Reply(head)], [Reply(tail, first.buttons), *rest]
        if now:
            head, tail = now[0]
            return [Reply(head)], [Reply(tail, first.buttons), *rest]
        if first.buttons and fits(text, more) and fits("", first.buttons):
            return [Reply(text)], [Reply("", first.buttons), *rest]
        return None  # one sentence too long for any cut: render_sms splits the body itself

    def _cost(self, replies: list[Reply]) -> int:
        try:
            bodies = render_sms(
                replies, choose_prompt=_choose_prompt, max_segments=self.max_segments
            )
        except ValueError:  # the choices alone do not fit
            return self.max_segments + 1
        return sum(segments(body).count for body in bodies)

    # -- webhooks ----------------------------------------------------------------------------

    async def inbound(self, request: Request) -> Response:
        try:
            params = await self._verified_form(request)
            sid = params.get("MessageSid") or params.get("SmsSid") or ""
            if not _SID.match(sid):
                raise BadRequest("MessageSid is missing or malformed", code="invalid_sid")
        except InboundError as error:
            return error_response(error)
        try:
            address = to_e164(params.get("From", ""))
        except InvalidPhoneNumber:
            # A short code or an alphanumeric sender: nobody to answer. Twilio must not retry.
            log.warning("SMS %s from a sender that is not a phone number, ignored", sid)
            return _twiml()
        await self.conversations.handle(
            Inbound(
                channel=self.name,
                address=address,
                text=params.get("Body", ""),
                message_id=sid,
                split=self.split,
                timezone=timezone_of(address),
            )
        )
        return _twiml()

    async def status(self, request: Request) -> Response:
        try:
            params = await self._verified_form(request)
            message_id = request.query_params.get("m", "")
            sid = params.get("MessageSid") or params.get("SmsSid") or ""
            if not message_id.isdigit() or not _SID.match(sid):
                raise BadRequest("status callback without ?m=<id> or MessageSid", code="invalid")
        except InboundError as error:
            return error_response(error)
        provider_status = params.get("MessageStatus") or params.get("SmsStatus") or ""
        status = _STATUSES.get(provider_status)
        if status is None:  # queued, sending, accepted...: nothing new for the outbox
            return Response(status_code=204)
        code = params.get("ErrorCode") or None
        async with self.conversations.pool.connection() as connection:
            await record_status(
                connection,
                message_id=int(message_id),
                channel=self.name,
                provider_id=sid,
                status=status,
                now=datetime.now(UTC),
                code=code,
                error=f"Twilio status {provider_status}" if status == "failed" else None,
                opt_out=code is not None and code.isdigit() and int(code) in _OPTED_OUT_CODES,
            )
        return Response(status_code=204)

    async def _verified_form(self, request: Request) -> dict[str, str]:
        """The form parameters, once the signature is proven; else Forbidden/BadRequest."""
        body = await read_body(request, _MAX_BODY)
        signature = request.headers.get("x-twilio-signature")
        if not signature:
            raise Forbidden("X-Twilio-Signature is missing", code="missing_signature")
        try:
            # Twilio always sends UTF-8: a body that is not cannot carry a valid signature
            # (the validator works on text), so it is refused as malformed.
            params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict"))
        except UnicodeDecodeError as exc:
            raise BadRequest("the body is not UTF-8", code="invalid_encoding") from exc
        url = self.public_url + request.url.path
        if request.url.query:
            url += "?" + request.url.query
        if not self.validator.validate(url, params, signature):
            raise Forbidden("X-Twilio-Signature does not match", code="invalid_signature")
        return params


def outgoing_sms(replies: list[Reply], max_segments: int) -> list[Outgoing]:
    """The SMS bodies of one turn, in the current locale, with their segment counts."""
    try:
        bodies = render_sms(replies, choose_prompt=_choose_prompt, max_segments=max_segments)
    except ValueError:
        # A menu whose choices alone need more segments than allowed: sending it whole
        # (within Twilio's 10-segment ceiling) beats sending nothing.
        log.warning("an SMS menu needs more than %d segments; sent whole", max_segments)
        bodies = render_sms(replies, choose_prompt=_choose_prompt, max_segments=_MOST)
    return [Outgoing(body=body, units=segments(body).count) for body in bodies]


def _choose_prompt(numbers: list[str]) -> str:
    choices = format_list(numbers, style="or", locale=current_language())
    return _("Répondez {choices}.").format(choices=choices)


def _twiml() -> Response:
    return Response(_TWIML, media_type="text/xml")


class TwilioSender:
    """Sends outbox messages with the twilio SDK (async client, one HTTP session)."""

    channel = "sms"

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        sender: str,
        status_callback_url: str | None,
        segments_per_second: float,
        api_url: str | None = None,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.sender = sender
        self.status_callback_url = status_callback_url
        self.segment_interval = 1.0 / segments_per_second
        self.api_url = api_url
        self._client: Client | None = None
        # The SDK logs each request's parameters (numbers, texts) at INFO.
        logging.getLogger("twilio.http_client").setLevel(logging.WARNING)

    def _sdk(self) -> Client:
        # Made on first use: its aiohttp session must belong to the running event loop.
        if self._client is None:
            # No timeout here: twilio 9's async client ignores its own; the delivery pipeline
            # bounds every send with `delivery.send_timeout_seconds`.
            client = Client(self.account_sid, self.auth_token, http_client=AsyncTwilioHttpClient())
            if self.api_url:
                client.api.base_url = self.api_url.rstrip("/")
            self._client = client
        return self._client

    def rate_keys(self, address: str, units: int) -> list[tuple[str, float]]:
        return [(f"sms:{self.sender}", units * self.segment_interval)]

    async def start(self) -> None:
        # The SDK imports its Messages resource on first use (about 0.4 s).
        self._sdk().messages  # noqa: B018 - the attribute access is the point

    async def send(self, address: str, message: Outgoing, *, message_id: int) -> SendResult:
        options: dict[str, Any] = {"to": address, "body": message.body}
        if self.sender.startswith("MG"):
            options["messaging_service_sid"] = self.sender
        else:
            options["from_"] = self.sender
        if self.status_callback_url:
            options["status_callback"] = f"{self.status_callback_url}?m={message_id}"
        try:
            sent = await self._sdk().messages.create_async(**options)
        except TwilioRestException as exc:
            raise _classify(exc, address) from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise RetryableSendError(
                f"Twilio unreachable: {type(exc).__name__}", code="network"
            ) from exc
        return SendResult(provider_id=str(sent.sid))

    async def close(self) -> None:
        if self._client is not None:
            http = self._client.http_client
            if isinstance(http, AsyncTwilioHttpClient):
                await http.close()
            self._client = None


def _classify(exc: TwilioRestException, address: str) -> RetryableSendError | PermanentSendError:
    code = str(exc.code) if exc.code is not None else str(exc.status)
    if exc.status == 429 or exc.status >= 500:
        return RetryableSendError(f"Twilio HTTP {exc.status}", code=code)
    if exc.code in _OPTED_OUT_CODES:
        return PermanentSendError(
            f"{mask(address)} unsubscribed at the carrier", code=code, opted_out=True
        )
    if exc.status in (401, 403):
        # Our credentials: nothing wrong with the message, so keep it until they are fixed.
        log.error("Twilio refused our credentials (HTTP %s): check LIAISON_TWILIO_*", exc.status)
        return RetryableSendError(f"Twilio HTTP {exc.status}", code=code)
    return PermanentSendError(f"Twilio refused the message (code {code})", code=code)
