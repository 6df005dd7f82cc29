"""Check-in at the door, on an organiser's phone.

* `GET /staff/ateliers/{ref}/accueil[?q=]` — the list (`workshops.attendance`): counts, a
  search (a plain GET form; `static/checkin.js` refreshes the list as one types), one line per
  enrolment or walk-in with big buttons, a walk-in form.
* `POST …/accueil/presence` (`enrolment`, `attendance` = attended | no_show | excused | empty
  to undo, `q`), `POST …/accueil/sans-inscription` (`people`, `language`, `label`) and
  `POST …/accueil/sans-inscription/retirer` (`walk_in`): 303 back to the list, on the line.
  A refusal shows the list again with the reason (409 too early, 422 bad walk-in fields,
  404 an enrolment or walk-in of another workshop).
* `GET /staff/accueil/{token}` — what a parent's QR code opens: the person's card and a big
  "Confirmer l'arrivée" button. A GET never uses the code (link previews, prefetching).
* `POST /staff/accueil/{token}` — uses the code (`workshops.checkin_codes.use`) and goes to
  the list on that line; or the refusal: 400 forged or not a check-in code, 404 enrolment
  gone, 409 already used ("Ce code a déjà servi à 10:02") or not the workshop's day (the
  organiser may still tick the person on the list, e.g. when entering attendance later), 410
  enrolment cancelled or expired, or workshop cancelled.

Staff pages are in French (organisers' words, no catalog).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from babel import Locale
from babel.dates import format_date, format_time
from psycopg import AsyncConnection
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from liaison.settings import SUPPORTED_LANGUAGES
from liaison.signing import BadToken
from staff import audit, scopes
from staff.site import ORGANISERS, StaffRequest
from workshops import attendance, checkin_codes, wording
from workshops.attendance import ATTENDANCES, AttendanceError
from workshops.checkin_codes import (
    AlreadyUsed,
    CodeRefused,
    EnrolmentClosed,
    Holder,
    UnknownCode,
    WrongDay,
)
from workshops.records import Workshop

if TYPE_CHECKING:
    from staff.site import StaffSite

_FRENCH = Locale.parse("fr")
LANGUAGES = {code: _FRENCH.languages.get(code, code) for code in SUPPORTED_LANGUAGES}
CHANNELS = {"sms": "SMS", "telegram": "Telegram", "web": "Web"}
STATUSES = {
    "confirmed": "",
    "offered": "place proposée",
    "waitlisted": "liste d'attente",
    "cancelled": "annulée",
    "expired": "expirée",
    "walk_in": "",
}
MARKS = {"attended": "Présent", "no_show": "Absent", "excused": "Excusé"}
_NOT_A_CODE = "Code non valable : ce QR code n'a pas été fait par Liaison pour l'accueil."
# Another organiser's workshop looks like a workshop that is gone.
_NOT_YOURS = (
    "Code non valable pour vos ateliers : l'inscription n'existe plus "
    "ou l'atelier est géré par quelqu'un d'autre."
)


def routes(site: StaffSite) -> list[BaseRoute]:
    pages = CheckinPages(site)
    page = site.page(ORGANISERS)
    return [
        Route("/ateliers/{ref}/accueil", page(pages.checkin), methods=["GET"]),
        Route("/ateliers/{ref}/accueil/presence", page(pages.mark), methods=["POST"]),
        Route("/ateliers/{ref}/accueil/sans-inscription", page(pages.walk_in), methods=["POST"]),
        Route(
            "/ateliers/{ref}/accueil/sans-inscription/retirer",
            page(pages.remove_walk_in),
            methods=["POST"],
        ),
        Route("/accueil/{token}", page(pages.code), methods=["GET"]),
        Route("/accueil/{token}", page(pages.use_code), methods=["POST"]),
    ]


def _now() -> datetime:
    return datetime.now(UTC)


def list_url(ref: str, *, query: str = "", anchor: str = "", **params: str) -> str:
    """The check-in list of workshop `ref`, searched for `query`, scrolled to `anchor`."""
    values = {**({"q": query} if query else {}), **params}
    return (
        f"/staff/ateliers/{quote(ref, safe='')}/accueil"
        + (f"?{urlencode(values)}" if values else "")
        + (f"#{anchor}" if anchor else "")
    )


async def _door(
    connection: AsyncConnection[Any], staff: StaffRequest, ref: str
) -> attendance.Door | None:
    """The workshop `ref` when the account manages it (else None: a 404 either way)."""
    door = await attendance.find_workshop(connection, ref=ref)
    if door is None or not await scopes.can_manage_workshop(connection, staff.account, door.id):
        return None
    return door


def _number(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


@dataclass
class WalkInForm:
    """What the organiser typed, shown again with the problems when refused."""

    people: str = "1"
    language: str = ""
    label: str = ""
    problems: tuple[str, ...] = ()


class CheckinPages:
    def __init__(self, site: StaffSite) -> None:
        self.site = site

    # -- the list --------------------------------------------------------------------------

    async def checkin(self, staff: StaffRequest) -> Response:
        arrived = _number(staff.request.query_params.get("arrivee", ""))
        notice = f"N° {arrived} : arrivée notée." if arrived is not None else ""
        return await self._list(
            staff,
            staff.request.path_params["ref"],
            staff.request.query_params.get("q", ""),
            notice=notice,
        )

    async def _list(
        self,
        staff: StaffRequest,
        ref: str,
        query: str,
        *,
        status: int = 200,
        notice: str = "",
        error: str = "",
        walk_in: WalkInForm | None = None,
    ) -> Response:
        query = query.strip()[:64]
        now = _now()
        async with self.site.pool.connection() as connection:
            door = await _door(connection, staff, ref)
            if door is None:
                return self.site.error(staff, 404, "Cet atelier n'existe pas.")
            people = await attendance.checkin_list(connection, door.id, query)
            counts = await attendance.counts(connection, door.id)
        workshop = door.workshop
        return self.site.render(
            "checkin_list.html",
            staff=staff,
            status=status,
            workshop=workshop,
            when=self._when(workshop),
            counts=counts,
            people=people,
            query=query,
            notice=notice,
            error=error,
            walk_in=walk_in or WalkInForm(),
            door_open=attendance.door_open(workshop, now) and workshop.status != "cancelled",
            started=attendance.has_started(workshop, now),
            base=list_url(ref),
            list_url=list_url,
            languages=LANGUAGES,
            channels=CHANNELS,
            statuses=STATUSES,
            marks=MARKS,
            time_of=lambda moment: self._time(workshop, moment),
        )

    async def mark(self, staff: StaffRequest) -> Response:
        ref = staff.request.path_params["ref"]
        if not await self._manages(staff, ref):
            return self.site.error(staff, 404, "Cet atelier n'existe pas.")
        query = staff.form.get("q", "")
        enrolment = _number(staff.form.get("enrolment", ""))
        value = staff.form.get("attendance", "")
        if enrolment is None or value not in ("", *ATTENDANCES):
            return self.site.error(staff, 400, "Le formulaire envoyé est incomplet.")
        try:
            async with self.site.pool.connection() as connection:
                door = await _door(connection, staff, ref)
                if door is None:
                    return self.site.error(staff, 404, "Cet atelier n'existe pas.")
                await attendance.mark(
                    connection, enrolment, door.id, value or None, staff.account.id, _now()
                )
                await audit.record(
                    connection,
                    staff.account.id,
                    "attendance.marked" if value else "attendance.undone",
                    "enrolment",
                    enrolment,
                    {"workshop_id": door.id, **({"attendance": value} if value else {})},
                )
        except attendance.UnknownEnrolment as exc:
            return await self._list(staff, ref, query, status=404, error=str(exc))
        except AttendanceError as exc:
            return await self._list(staff, ref, query, status=409, error=str(exc))
        return self.site.redirect(list_url(ref, query=query, anchor=f"e-{enrolment}"))

    async def walk_in(self, staff: StaffRequest) -> Response:
        ref = staff.request.path_params["ref"]
        if not await self._manages(staff, ref):
            return self.site.error(staff, 404, "Cet atelier n'existe pas.")
        typed = WalkInForm(
            people=staff.form.get("people", "")[:8],
            language=staff.form.get("language", "")[:8],
            label=staff.form.get("label", "")[:200],
        )
        try:
            new = attendance.read_walk_in(staff.form)
            async with self.site.pool.connection() as connection:
                door = await _door(connection, staff, ref)
                if door is None:
                    return self.site.error(staff, 404, "Cet atelier n'existe pas.")
                walk_in_id = await attendance.add_walk_in(
                    connection, door.id, new, staff.account.id, _now()
                )
                await audit.record(
                    connection,
                    staff.account.id,
                    "walk_in.added",
                    "walk_in",
                    walk_in_id,
                    {"workshop_id": door.id, "people": new.people},
                )
        except attendance.InvalidWalkIn as exc:
            refused = WalkInForm(typed.people, typed.language, typed.label, tuple(exc.problems))
            return await self._list(staff, ref, "", status=422, walk_in=refused)
        except AttendanceError as exc:
            return await self._list(staff, ref, "", status=409, error=str(exc), walk_in=typed)
        return self.site.redirect(list_url(ref, anchor=f"w-{walk_in_id}"))

    async def remove_walk_in(self, staff: StaffRequest) -> Response:
        ref = staff.request.path_params["ref"]
        if not await self._manages(staff, ref):
            return self.site.error(staff, 404, "Cet atelier n'existe pas.")
        walk_in_id = _number(staff.form.get("walk_in", ""))
        if walk_in_id is None:
            return self.site.error(staff, 400, "Le formulaire envoyé est incomplet.")
        async with self.site.pool.connection() as connection:
            door = await _door(connection, staff, ref)
            if door is None:
                return self.site.error(staff, 404, "Cet atelier n'existe pas.")
            removed = await attendance.remove_walk_in(connection, walk_in_id, door.id)
            if removed:
                await audit.record(
                    connection,
                    staff.account.id,
                    "walk_in.removed",
                    "walk_in",
                    walk_in_id,
                    {"workshop_id": door.id},
                )
        if not removed:
            return await self._list(
                staff, ref, "", status=404, error="Cette venue sans inscription n'existe plus."
            )
        return self.site.redirect(list_url(ref, anchor="sans-inscription"))

    async def _manages(self, staff: StaffRequest, ref: str) -> bool:
        """Whether the account manages workshop `ref`: asked before reading the form, so that
        another organiser's workshop answers 404 whatever is posted."""
        async with self.site.pool.connection() as connection:
            return await _door(connection, staff, ref) is not None

    # -- the QR code -----------------------------------------------------------------------

    async def code(self, staff: StaffRequest) -> Response:
        """The card of the code's holder; reading only, whatever the method's callers do."""
        text = staff.request.path_params["token"]
        try:
            async with self.site.pool.connection() as connection:
                holder = await checkin_codes.look(connection, self.site.signer, text)
                if not await scopes.can_manage_workshop(connection, staff.account, holder.door.id):
                    return self._refused(staff, 404, _NOT_YOURS)
        except BadToken:
            return self._refused(staff, 400, _NOT_A_CODE)
        except UnknownCode:
            return self._refused(staff, 404, "Code non valable : cette inscription n'existe plus.")
        refused = checkin_codes.refusal(holder, _now())
        if refused is not None:
            return self._refusal(staff, refused)
        return self._card(staff, holder, token=text)

    async def use_code(self, staff: StaffRequest) -> Response:
        text = staff.request.path_params["token"]
        try:
            code = checkin_codes.read(self.site.signer, text)
            async with self.site.pool.connection() as connection, connection.transaction():
                if not await scopes.can_manage_workshop(
                    connection, staff.account, code.workshop_id
                ):
                    return self._refused(staff, 404, _NOT_YOURS)
                holder = await checkin_codes.use(
                    connection, self.site.signer, text, _now(), by=staff.account.id
                )
                await audit.record(
                    connection,
                    staff.account.id,
                    "checkin_code.used",
                    "enrolment",
                    holder.enrolment_id,
                    {"workshop_id": holder.door.id},
                )
        except BadToken:
            return self._refused(staff, 400, _NOT_A_CODE)
        except UnknownCode:
            return self._refused(staff, 404, "Code non valable : cette inscription n'existe plus.")
        except CodeRefused as refused:
            return self._refusal(staff, refused)
        except AttendanceError as exc:
            return self._refused(staff, 409, str(exc))
        number = holder.enrolment_id
        return self.site.redirect(
            list_url(holder.door.workshop.ref, anchor=f"e-{number}", arrivee=str(number))
        )

    def _refusal(self, staff: StaffRequest, refused: CodeRefused) -> Response:
        holder = refused.holder
        assert holder is not None
        workshop = holder.door.workshop
        if isinstance(refused, AlreadyUsed):
            used = workshop.local(refused.used_at)
            if used.date() == workshop.local(_now()).date():
                when = f"à {self._time(workshop, refused.used_at)}"
            else:
                day = format_date(used, "d MMMM", locale="fr")
                when = f"le {day} à {self._time(workshop, refused.used_at)}"
            return self._card(staff, holder, status=409, refusal=f"Ce code a déjà servi {when}.")
        if isinstance(refused, EnrolmentClosed):
            message = {
                "cancelled": "Inscription annulée : ce code ne vaut plus.",
                "expired": "Inscription expirée (place proposée non prise) : ce code ne vaut plus.",
            }.get(holder.status, "Atelier annulé : ce code ne vaut plus.")
            return self._card(staff, holder, status=410, refusal=message)
        if isinstance(refused, WrongDay):
            message = (
                f"Ce code est pour l'atelier du {self._when(workshop)}, pas pour aujourd'hui. "
                "Vous pouvez cocher la personne sur la liste de l'atelier si besoin."
            )
            return self._card(staff, holder, status=409, refusal=message)
        return self._refused(staff, 409, str(refused))

    def _card(
        self,
        staff: StaffRequest,
        holder: Holder,
        *,
        token: str = "",
        status: int = 200,
        refusal: str = "",
    ) -> Response:
        workshop = holder.door.workshop
        return self.site.render(
            "checkin_code.html",
            staff=staff,
            status=status,
            holder=holder,
            workshop=workshop,
            when=self._when(workshop),
            token=token,
            refusal=refusal,
            back=list_url(workshop.ref, anchor=f"e-{holder.enrolment_id}"),
            languages=LANGUAGES,
            channels=CHANNELS,
            statuses=STATUSES,
            marks=MARKS,
            time_of=lambda moment: self._time(workshop, moment),
        )

    def _refused(self, staff: StaffRequest, status: int, message: str) -> Response:
        return self.site.render("checkin_refused.html", staff=staff, status=status, message=message)

    # -- words -----------------------------------------------------------------------------

    def _when(self, workshop: Workshop) -> str:
        with self.site.catalogs.use("fr"):
            return wording.when(workshop)

    @staticmethod
    def _time(workshop: Workshop, moment: datetime | None) -> str:
        if moment is None:
            return ""
        return format_time(workshop.local(moment), "short", locale="fr")
