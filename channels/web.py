"""The web channel: the chat page and the Rasa-compatible HTTP API.

* `GET /` — the chat page (mobile first, no build step, right-to-left for Arabic);
  `/?atelier=<ref>` opens it on enrolling in a workshop, `/?ecole=<code>` joins a school.
* `POST /webhooks/rest/webhook` — Rasa REST channel: `{"sender", "message", "metadata"}` in,
  a list of `{"recipient_id", "text", "buttons"}` out. Rasa web widgets work with it.
* `POST /model/parse` — Rasa's parse endpoint: `{"text"}` in, intent, ranking, entities and
  language out.
* `GET /chat/messages?sender=&after=` — what the school's staff wrote to this parent (the staff
  inbox) after turn `after`: `{"messages": [{"id", "text"}]}`. No HTTP answer carried them; the
  page asks now and then. The sender id, which only the parent's page knows, is the key.

Bad input gets a JSON error, never a crash: 400 for a body that is not a JSON object, 422 for
wrong types or an unusable sender, 413 for a message over the configured size.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.assistant import Inbound
from bot.nlu.result import NLUEngine
from bot.replies import Reply
from bot.store import Conversations
from bot.text import scalar_values
from channels.base import Channel
from channels.http import accepted_language, error_response, read_json_object
from liaison.errors import InboundError, InvalidField, MessageTooLarge
from liaison.i18n import LANGUAGE_NAMES, RTL_LANGUAGES, Catalogs
from schools.codes import normalise_code
from staff.inbox import messages_since
from workshops.records import REF

HERE = Path(__file__).resolve().parent
_WORKSHOP_REF = REF
_SENDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@+\-]{0,127}$")
# Whole request bodies above this are refused before parsing (the message limit is checked
# after decoding, so that the answer can say which limit was hit).
_BODY_SLACK = 16 * 1024


class WebChannel(Channel):
    name = "web"

    def __init__(
        self,
        *,
        conversations: Conversations,
        nlu: NLUEngine,
        catalogs: Catalogs,
        languages: list[str],
        default_language: str,
        max_message_bytes: int,
    ) -> None:
        self.conversations = conversations
        self.nlu = nlu
        self.catalogs = catalogs
        self.languages = languages
        self.default_language = default_language
        self.max_message_bytes = max_message_bytes
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            extensions=["jinja2.ext.i18n"],
        )

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.page, methods=["GET"]),
            Route("/webhooks/rest/webhook", self.webhook, methods=["POST"]),
            Route("/model/parse", self.parse, methods=["POST"]),
            Route("/chat/messages", self.staff_messages, methods=["GET"]),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ]

    def render(self, recipient: str, replies: list[Reply]) -> list[dict[str, Any]]:
        return [
            {
                "recipient_id": recipient,
                "text": reply.text,
                **(
                    {"buttons": [{"title": b.title, "payload": b.payload} for b in reply.buttons]}
                    if reply.buttons
                    else {}
                ),
            }
            for reply in replies
        ]

    # -- endpoints -------------------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        lang = request.query_params.get("lang", "")
        if lang not in self.languages:
            accepted = accepted_language(request.headers.get("accept-language", ""), self.languages)
            lang = accepted or self.default_language
        # An invitation link (/?atelier=<ref>) opens the chat on that workshop.
        workshop = request.query_params.get("atelier", "")
        if not _WORKSHOP_REF.match(workshop):
            workshop = ""
        # A school's join link (/?ecole=<code>) joins that school (`schools`).
        school = normalise_code(request.query_params.get("ecole", "")) or ""
        translations = self.catalogs.get(lang)
        template = self.templates.get_template("chat.html")
        html = template.render(
            lang=lang,
            dir="rtl" if lang in RTL_LANGUAGES else "ltr",
            languages=[(code, LANGUAGE_NAMES[code]) for code in self.languages],
            static_url="/static",
            workshop=workshop,
            school=school,
            _=translations.gettext,
            gettext=translations.gettext,
            ngettext=translations.ngettext,
        )
        return HTMLResponse(html, headers=_PAGE_HEADERS)

    async def webhook(self, request: Request) -> Response:
        try:
            body = await read_json_object(request, self.max_message_bytes + _BODY_SLACK)
            sender = body.get("sender")
            message = body.get("message")
            metadata = body.get("metadata") or {}
            if not isinstance(sender, str) or not _SENDER.match(sender):
                raise InvalidField(
                    "`sender` must be a string of 1-128 letters, digits or ._:@+-",
                    code="invalid_sender",
                )
            if not isinstance(message, str):
                raise InvalidField("`message` must be a string", code="invalid_message")
            if not isinstance(metadata, dict):
                raise InvalidField("`metadata` must be an object", code="invalid_metadata")
            if len(scalar_values(message).encode("utf-8")) > self.max_message_bytes:
                raise MessageTooLarge(
                    f"`message` is over {self.max_message_bytes} bytes", code="message_too_large"
                )
        except InboundError as error:
            return error_response(error)
        hint = metadata.get("language")
        outcome = await self.conversations.handle(
            Inbound(
                channel=self.name,
                address=sender,
                text=message,
                language_hint=hint if isinstance(hint, str) else None,
            )
        )
        return JSONResponse(self.render(sender, outcome.replies))

    async def staff_messages(self, request: Request) -> Response:
        sender = request.query_params.get("sender", "")
        after = request.query_params.get("after", "0")
        try:
            if not _SENDER.match(sender):
                raise InvalidField(
                    "`sender` must be 1-128 letters, digits or ._:@+-", code="invalid_sender"
                )
            if not (after.isascii() and after.isdigit() and len(after) <= 18):
                raise InvalidField("`after` must be a message id (0 or more)", code="invalid_after")
        except InboundError as error:
            return error_response(error)
        async with self.conversations.pool.connection() as connection:
            found = await messages_since(connection, self.name, sender, int(after))
        return JSONResponse(
            {"messages": [{"id": id_, "text": text} for id_, text in found]},
            headers={"Cache-Control": "no-store"},
        )

    async def parse(self, request: Request) -> Response:
        try:
            body = await read_json_object(request, self.max_message_bytes + _BODY_SLACK)
            text = body.get("text")
            if not isinstance(text, str):
                raise InvalidField("`text` must be a string", code="invalid_text")
            text = scalar_values(text)
            if len(text.encode("utf-8")) > self.max_message_bytes:
                raise MessageTooLarge(f"`text` is over {self.max_message_bytes} bytes")
        except InboundError as error:
            return error_response(error)
        result = await self.nlu.parse(text)
        return JSONResponse(result.to_rasa())


_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
