"""`GET /ateliers/{ref}.ics` — a workshop as a calendar event, the link parents get with their
confirmation on the web chat and Telegram. Published and cancelled workshops only (a cancelled
one updates the event in the parent's calendar); drafts and unknown refs are 404."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from channels.http import accepted_language
from liaison.i18n import Catalogs, _
from workshops.calendar import event
from workshops.records import REF
from workshops.store import load_by_refs


def calendar_link(public_url: str, ref: str) -> str:
    return f"{public_url.rstrip('/')}/ateliers/{ref}.ics"


class CalendarPage:
    def __init__(
        self,
        pool: AsyncConnectionPool[AsyncConnection[Any]],
        public_url: str,
        catalogs: Catalogs,
        default_language: str,
    ) -> None:
        self.pool = pool
        self.host = urlsplit(public_url).hostname or "liaison"
        self.catalogs = catalogs
        self.default_language = default_language

    def _unknown(self, request: Request) -> Response:
        """404 in the reader's language (their browser's), the workshop never named."""
        languages = list(self.catalogs.translations)
        header = request.headers.get("accept-language", "")
        language = accepted_language(header, languages) or self.default_language
        with self.catalogs.use(language):
            text = _("Cet atelier n'existe pas ou n'est plus proposé.")
        return PlainTextResponse(text, status_code=404)

    def routes(self) -> list[BaseRoute]:
        return [Route("/ateliers/{ref}.ics", self.calendar, methods=["GET"])]

    async def calendar(self, request: Request) -> Response:
        ref = request.path_params["ref"]
        if not REF.match(ref):
            return self._unknown(request)
        async with self.pool.connection() as connection:
            found = await load_by_refs(connection, [ref])
        workshop = found.get(ref)
        if workshop is None or workshop.status == "draft":
            return self._unknown(request)
        return Response(
            event(workshop, host=self.host, stamp=datetime.now(UTC)),
            media_type="text/calendar; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{ref}.ics"',
                "Cache-Control": "no-cache",
            },
        )
