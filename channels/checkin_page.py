"""The parent's check-in code page: `GET /code/{token}`.

What a parent opens from the link the assistant gives them (web chat, Telegram; any phone
with a browser): the workshop, its day and hours on the venue's clock in the parent's words,
the place, the number of people, the enrolment number, and the QR code to show at the door
(`workshops.checkin_codes`). The language is `?lang=` when it is one of ours, else the
contact's, else the default; Arabic is right to left.

The page only reads: it never uses the code. A link that is not ours (forged, truncated,
another purpose) or whose enrolment is gone gets a short polite page, 404, in French and in
the language asked for. A cancelled enrolment, a workshop over or cancelled, or an arrival
already noted show a sentence instead of the QR code.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from liaison.i18n import LANGUAGE_NAMES, N_, RTL_LANGUAGES, SOURCE_LANGUAGE, Catalogs
from liaison.signing import BadToken, Signer
from workshops import checkin_codes, wording
from workshops.checkin_codes import UnknownCode

HERE = Path(__file__).resolve().parent
Pool = AsyncConnectionPool[AsyncConnection[Any]]
# The page about a link that does not work, shown in French and in the language asked for.
_BAD_LINK = (
    N_("Ce lien ne marche pas."),
    N_("Demandez de l'aide à l'assistant ou à l'accueil de l'atelier."),
)
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Cache-Control": "private, no-cache",
    "X-Content-Type-Options": "nosniff",
    # The URL carries the code: never tell another site where the parent came from.
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}


def code_link(public_url: str, signer: Signer, enrolment_id: int, workshop_id: int) -> str:
    """The link to give a parent for their enrolment's check-in code."""
    token = checkin_codes.token(signer, enrolment_id, workshop_id)
    return f"{public_url.rstrip('/')}/code/{token}"


class CheckinCodePage:
    def __init__(
        self,
        *,
        pool: Pool,
        signer: Signer,
        catalogs: Catalogs,
        languages: list[str],
        default_language: str,
        public_url: str,
    ) -> None:
        self.pool = pool
        self.signer = signer
        self.catalogs = catalogs
        self.languages = languages
        self.default_language = default_language
        self.public_url = public_url
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            extensions=["jinja2.ext.i18n"],
        )

    def routes(self) -> list[BaseRoute]:
        return [Route("/code/{token}", self.page, methods=["GET"])]

    async def page(self, request: Request) -> Response:
        text = request.path_params["token"]
        asked = request.query_params.get("lang", "")
        asked = asked if asked in self.languages else ""
        try:
            async with self.pool.connection() as connection:
                holder = await checkin_codes.look(connection, self.signer, text)
        except (BadToken, UnknownCode):
            return self._bad_link(asked)
        lang = asked or (holder.language if holder.language in self.languages else "")
        lang = lang or self.default_language
        workshop = holder.door.workshop
        now = datetime.now(UTC)
        with self.catalogs.use(lang):
            when, place = wording.when(workshop), wording.place(workshop)
        if holder.status in checkin_codes.CLOSED:
            state = "cancelled"
        elif workshop.status == "cancelled":
            state = "workshop_cancelled"
        elif holder.attendance == "attended" or holder.used_at is not None:
            state = "arrived"
        elif now > workshop.ends_at:
            state = "over"
        else:
            state = "waitlisted" if holder.status == "waitlisted" else "ready"
        translations = self.catalogs.get(lang)
        qr = ""
        if state in ("ready", "waitlisted"):
            url = checkin_codes.staff_url(self.public_url, text)
            qr = checkin_codes.qr_svg(url, translations.gettext("QR code à montrer à l'accueil"))
        return self._render(
            lang,
            state=state,
            workshop=workshop,
            when=when,
            place=place,
            number=holder.enrolment_id,
            people=holder.people,
            qr=qr,
            bad_link=[],
            token=text,
        )

    def _bad_link(self, asked: str) -> Response:
        shown = [SOURCE_LANGUAGE] + ([asked] if asked and asked != SOURCE_LANGUAGE else [])
        versions = [
            (
                code,
                "rtl" if code in RTL_LANGUAGES else "ltr",
                [self.catalogs.get(code).gettext(line) for line in _BAD_LINK],
            )
            for code in shown
        ]
        return self._render(
            asked or SOURCE_LANGUAGE,
            status=404,
            state="bad_link",
            workshop=None,
            when="",
            place="",
            number=0,
            people=0,
            qr="",
            bad_link=versions,
            token="",
        )

    def _render(self, lang: str, *, status: int = 200, **context: Any) -> Response:
        translations = self.catalogs.get(lang)
        html = self.templates.get_template("code.html").render(
            lang=lang,
            dir="rtl" if lang in RTL_LANGUAGES else "ltr",
            languages=[(code, LANGUAGE_NAMES[code]) for code in self.languages],
            static_url="/static",
            _=translations.gettext,
            gettext=translations.gettext,
            ngettext=translations.ngettext,
            **context,
        )
        return HTMLResponse(html, status_code=status, headers=_HEADERS)
