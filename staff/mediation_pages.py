"""The mediators' pages: the families that agreed to their help (`staff.mediation`).

* `GET /staff/mediation` — one card per family: masked phone, language, channel, schools,
  STOP, live enrolments, an open conversation, the consent and since when.
* `GET /staff/mediation/{family}` — the same in full (the whole phone number) and the forms.
* `POST /staff/mediation/{family}/inscrire` (`contact`, `workshop`, `people`) — enrol the
  family in a published workshop still to come: confirmed, or on the waiting list when full.
* `POST /staff/mediation/{family}/annuler` (`enrolment`) — cancel one of its enrolments.
* `POST /staff/mediation/{family}/langue` (`language`) — its preferred language.

Each action is audited with the family as subject and answers 303 back to the family; a
refusal shows the family's page again with the reason next to its form (422, or 409 when the
state changed). A family that is not the mediator's (another mediator's, a revoked mediation,
none) answers 404. Admins see every family with a mediation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from psycopg import AsyncConnection
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from channels.phone import mask
from staff import mediation
from staff.inbox_pages import CHANNELS, language_name
from staff.mediation import Family, MediationError
from staff.site import StaffRequest
from workshops import offers
from workshops.enrolment import Enrolment
from workshops.records import Workshop

if TYPE_CHECKING:
    from staff.site import StaffSite

MEDIATORS = frozenset({"mediator"})
# What a form does for the family, in the page's transaction; the key of its `DONE` notice.
Action = Callable[[AsyncConnection[Any], Family, datetime], Awaitable[str]]
STATUSES = {"confirmed": "inscrite", "waitlisted": "liste d'attente", "offered": "place proposée"}
DONE = {
    "confirmed": "C'est fait : la famille est inscrite. Donnez-lui son numéro d'inscription "
    "(ci-dessous) ; elle recevra les rappels habituels.",
    "waitlisted": "L'atelier est complet : la famille est sur la liste d'attente. Si une place "
    "se libère, elle sera prévenue.",
    "cancelled": "Inscription annulée. Les places libérées sont proposées à la liste d'attente.",
    "language": "Langue enregistrée.",
}


def routes(site: StaffSite) -> list[BaseRoute]:
    pages = MediationPages(site)
    page = site.page(MEDIATORS)
    return [
        Route("/mediation", page(pages.index), methods=["GET"]),
        Route("/mediation/{family:int}", page(pages.detail), methods=["GET"]),
        Route("/mediation/{family:int}/inscrire", page(pages.enrol), methods=["POST"]),
        Route("/mediation/{family:int}/annuler", page(pages.cancel), methods=["POST"]),
        Route("/mediation/{family:int}/langue", page(pages.set_language), methods=["POST"]),
    ]


class MediationPages:
    def __init__(self, site: StaffSite) -> None:
        self.site = site
        self.zone = ZoneInfo(site.config.timezone)

    async def index(self, staff: StaffRequest) -> Response:
        async with self.site.pool.connection() as connection:
            found = await mediation.families(connection, staff.account, _now())
        return self.site.render("mediation_list.html", staff=staff, families=found, **self._words())

    async def detail(
        self, staff: StaffRequest, *, status: int = 200, error: str = "", form: str = ""
    ) -> Response:
        now = _now()
        async with self.site.pool.connection() as connection:
            try:
                family = await mediation.family(connection, staff.account, _family_id(staff), now)
            except MediationError as refused:
                return self.site.error(staff, refused.status, refused.message)
            workshops = await mediation.open_workshops(connection, now)
        return self.site.render(
            "mediation_family.html",
            staff=staff,
            status=status,
            family=family,
            workshops=workshops,
            languages={code: language_name(code) for code in self.site.config.languages},
            error=error,
            error_form=form,
            chosen=staff.form,
            notice=DONE.get(staff.request.query_params.get("fait", ""), ""),
            **self._words(),
        )

    async def enrol(self, staff: StaffRequest) -> Response:
        async def act(connection: AsyncConnection[Any], family: Family, now: datetime) -> str:
            return await mediation.enrol(
                connection,
                staff.account,
                family,
                contact_id=_int(staff.form.get("contact", "")),
                ref=staff.form.get("workshop", "").strip(),
                people=_int(staff.form.get("people", "")),
                now=now,
            )

        return await self._act(staff, "inscrire", act)

    async def cancel(self, staff: StaffRequest) -> Response:
        async def act(connection: AsyncConnection[Any], family: Family, now: datetime) -> str:
            await mediation.cancel(
                connection,
                staff.account,
                family,
                enrolment_id=_int(staff.form.get("enrolment", "")),
                now=now,
                announce=self._announce,
            )
            return "cancelled"

        return await self._act(staff, "annuler", act)

    async def set_language(self, staff: StaffRequest) -> Response:
        async def act(connection: AsyncConnection[Any], family: Family, now: datetime) -> str:
            await mediation.set_language(
                connection,
                staff.account,
                family,
                staff.form.get("language", ""),
                languages=self.site.config.languages,
                now=now,
            )
            return "language"

        return await self._act(staff, "langue", act)

    async def _act(self, staff: StaffRequest, form: str, act: Action) -> Response:
        """Run `act` on the family of the URL in one transaction (the change and its audit
        entry); 303 back to the family, or its page with the reason next to `form`."""
        family_id, now = _family_id(staff), _now()
        try:
            async with self.site.pool.connection() as connection, connection.transaction():
                family = await mediation.family(connection, staff.account, family_id, now)
                done = await act(connection, family, now)
        except MediationError as refused:
            if refused.status == 404:
                return self.site.error(staff, 404, refused.message)
            return await self.detail(staff, status=refused.status, error=refused.message, form=form)
        return self.site.redirect(f"/staff/mediation/{family_id}?fait={done}")

    async def _announce(
        self, connection: AsyncConnection[Any], made: list[Enrolment], now: datetime
    ) -> int:
        """Tell the waiting-list parents offered the seats a cancellation freed."""
        return await offers.announce(
            connection,
            made,
            now=now,
            renderers=self.site.renderers,
            catalogs=self.site.catalogs,
            default_language=self.site.config.default_language,
        )

    def _words(self) -> dict[str, Any]:
        return {
            "mask": lambda phone: mask(phone) if phone else "",
            "language_name": language_name,
            "channels": CHANNELS,
            "statuses": STATUSES,
            "when": _when,
            "since": lambda moment: format_date(moment.astimezone(self.zone), "d MMMM y", "fr"),
        }


def _when(workshop: Workshop) -> str:
    """ "sam. 5 déc. 2026, 14:00" on the venue's clock."""
    return format_datetime(
        workshop.starts_at, "EEE d MMM y, HH:mm", tzinfo=ZoneInfo(workshop.timezone), locale="fr"
    )


def _family_id(staff: StaffRequest) -> int:
    """The family of the URL; 0 (no family) past PostgreSQL's bigint."""
    family_id = int(staff.request.path_params["family"])
    return family_id if family_id < 2**63 else 0


def _int(text: str) -> int:
    """A number typed or chosen in a form; 0 when it is none (no id or count is 0)."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else 0


def _now() -> datetime:
    return datetime.now(UTC)
