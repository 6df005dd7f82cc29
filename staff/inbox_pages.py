"""The staff inbox pages: parents the assistant handed over to a person (`staff.inbox`).

* `GET /staff/messages` — open conversations first (the longest waiting at the top): channel,
  the parent's language in big letters, since when they wait, why; then the last closed ones.
* `GET /staff/messages/{id}` — the notice the parent answers (or received lately), as they read
  it; the history (the newest last), a reply form, a close button.
* `POST /staff/messages/{id}/repondre` (`text`) — sent as written on the parent's channel;
  303 back to the conversation. Refused with the page again: 422 empty or over
  `inbox.MAX_REPLY` characters, 409 closed or the parent wrote STOP.
* `POST /staff/messages/{id}/fermer` — the parent is told the assistant answers again; 303 to
  the list. 409 when it is closed already.

School staff see their schools' conversations and the default team's, mediators those of the
families that agreed to their help, admins all (`inbox.scope_of`). A conversation outside
one's scope answers 404, exactly like one that does not exist. Replies and closings are in the
audit log. Staff pages are in French (no catalog).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime, format_time
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from broadcasts import replies as notice_replies
from liaison.i18n import LANGUAGE_NAMES, RTL_LANGUAGES
from staff import inbox
from staff.inbox import Handover, InboxError, Outbound
from staff.site import StaffRequest

if TYPE_CHECKING:
    from staff.site import StaffSite

ROLES = frozenset({"school", "mediator"})
_FRENCH = Locale.parse("fr")
CHANNELS = {"sms": "SMS", "telegram": "Telegram", "web": "Chat du site"}
REASONS = {
    "handover": "a demandé une personne",
    "fallbacks": "l'assistant n'a pas compris",
    "notice_reply": "réponse à une annonce",
}
_NOT_FOUND = "Cette conversation n'existe pas."


def routes(site: StaffSite) -> list[BaseRoute]:
    pages = InboxPages(site)
    page = site.page(ROLES)
    return [
        Route("/messages", page(pages.index), methods=["GET"]),
        Route("/messages/{id}", page(pages.conversation), methods=["GET"]),
        Route("/messages/{id}/repondre", page(pages.reply), methods=["POST"]),
        Route("/messages/{id}/fermer", page(pages.close), methods=["POST"]),
    ]


def language_name(code: str | None) -> str:
    """ "arabe (العربية)": the language's French name, and its own."""
    if not code:
        return "langue inconnue"
    french = _FRENCH.languages.get(code, code)
    own = LANGUAGE_NAMES.get(code)
    return f"{french} ({own})" if own and own.lower() != french.lower() else french


def _id(staff: StaffRequest) -> int | None:
    raw = staff.request.path_params["id"]
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


class InboxPages:
    def __init__(self, site: StaffSite) -> None:
        self.site = site
        self.zone = ZoneInfo(site.config.inbox.timezone or site.config.timezone)
        self.outbound = Outbound(
            renderers=site.renderers,
            catalogs=site.catalogs,
            default_language=site.config.default_language,
        )

    def _when(self, moment: datetime | None) -> str:
        """ "12 mars 14:05", or "14:05" today, on the team's clock."""
        if moment is None:
            return ""
        local = moment.astimezone(self.zone)
        if local.date() == datetime.now(UTC).astimezone(self.zone).date():
            return format_time(local, "HH:mm", locale="fr")
        return format_datetime(local, "d MMM HH:mm", locale="fr")

    def _context(self, handover: Handover) -> dict[str, object]:
        return {
            "handover": handover,
            "team": handover.school_name or self.site.config.inbox.default_team,
            "channel": CHANNELS.get(handover.channel, handover.channel),
            "language": language_name(handover.language),
            "rtl": handover.language in RTL_LANGUAGES,
            "reason": REASONS.get(handover.reason, handover.reason),
        }

    async def index(self, staff: StaffRequest) -> Response:
        async with self.site.pool.connection() as connection:
            scope = await inbox.scope_of(connection, staff.account)
            opened = await inbox.list_handovers(connection, scope, status="open")
            closed = await inbox.list_handovers(connection, scope, status="closed", limit=20)
        return self.site.render(
            "inbox_list.html",
            staff=staff,
            opened=[self._context(h) for h in opened],
            closed=[self._context(h) for h in closed],
            when=self._when,
            notice="Conversation fermée." if staff.request.query_params.get("fermee") else "",
        )

    async def conversation(
        self,
        staff: StaffRequest,
        *,
        status: int = 200,
        error: str = "",
        draft: str = "",
    ) -> Response:
        handover_id = _id(staff)
        if handover_id is None:
            return self.site.error(staff, 404, _NOT_FOUND)
        async with self.site.pool.connection() as connection:
            scope = await inbox.scope_of(connection, staff.account)
            handover = await inbox.load(connection, scope, handover_id)
            if handover is None:
                return self.site.error(staff, 404, _NOT_FOUND)
            messages = await inbox.history(connection, handover.contact_id)
            answered = None
            if handover.broadcast_id is not None:
                answered = await notice_replies.notice_context(
                    connection, handover.broadcast_id, handover.contact_id
                )
        return self.site.render(
            "inbox_conversation.html",
            staff=staff,
            status=status,
            messages=messages,
            when=self._when,
            error=error,
            draft=draft,
            max_reply=inbox.MAX_REPLY,
            answered=answered,
            notice_link=staff.account.can_see("broadcasts"),
            notice="Message envoyé." if staff.request.query_params.get("envoye") else "",
            **self._context(handover),
        )

    async def reply(self, staff: StaffRequest) -> Response:
        return await self._act(staff, "reply")

    async def close(self, staff: StaffRequest) -> Response:
        return await self._act(staff, "close")

    async def _act(self, staff: StaffRequest, action: str) -> Response:
        handover_id = _id(staff)
        if handover_id is None:
            return self.site.error(staff, 404, _NOT_FOUND)
        text = staff.form.get("text", "")
        try:
            async with self.site.pool.connection() as connection:
                scope = await inbox.scope_of(connection, staff.account)
                handover = await inbox.load(connection, scope, handover_id)
                if handover is None:
                    return self.site.error(staff, 404, _NOT_FOUND)
                now = datetime.now(UTC)
                if action == "reply":
                    await inbox.reply(
                        connection,
                        handover,
                        account=staff.account,
                        text=text,
                        outbound=self.outbound,
                        now=now,
                    )
                else:
                    await inbox.close(
                        connection, handover, account=staff.account, outbound=self.outbound, now=now
                    )
        except InboxError as exc:
            draft = text if action == "reply" else ""  # to shorten, not to type again
            return await self.conversation(staff, status=exc.status, error=exc.message, draft=draft)
        if action == "reply":
            return self.site.redirect(f"/staff/messages/{handover_id}?envoye=1#fin")
        return self.site.redirect(f"/staff/messages?fermee={handover_id}")
