"""The organisers' workshop pages: the list, the form (create, edit), publish, cancel, and the
CSV export and import.

Pages only read forms and show results: validation is `workshops.records.build`, what a
change means for enrolled parents is `workshops.changes` and `workshops.cancellation`, each
run in one transaction with the change itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from babel.dates import format_date, format_time
from psycopg import AsyncConnection
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from staff import audit, scopes, workshop_form
from staff.site import ORGANISERS, SECURITY_HEADERS, StaffRequest
from staff.workshop_form import STATUS_LABELS, Problem
from workshops import cancellation, changes, csv_io, enrolment, store
from workshops.bookings import OFFER_FOR
from workshops.records import InvalidWorkshop, Workshop, build

if TYPE_CHECKING:
    from staff.site import StaffSite

# Stands for the ref while the form is checked; the real one comes from the title and the day.
_PENDING_REF = "ref-pending"
PERIODS = {"": "Tous", "a-venir": "À venir", "passes": "Passés"}
DONE = {
    "cree": "Atelier créé en brouillon. Publiez-le pour ouvrir les inscriptions.",
    "modifie": "Atelier modifié.",
    "publie": "Atelier publié : les parents peuvent s'inscrire.",
    "annule": "Atelier annulé.",
    "deja-annule": "Cet atelier était déjà annulé : personne n'a été prévenu une deuxième fois.",
    "importe": "Fichier importé.",
}


@dataclass(frozen=True)
class Card:
    """A workshop as the list shows it."""

    workshop: Workshop
    status: str
    when: str
    place: str
    taken: int
    waiting: int
    invitation: str
    past: bool


def routes(site: StaffSite) -> list[BaseRoute]:
    pages = WorkshopPages(site)
    page = site.page(ORGANISERS)
    return [
        Route("/ateliers", page(pages.index), methods=["GET"]),
        Route("/ateliers.csv", page(pages.export), methods=["GET"]),
        Route("/ateliers/import", page(pages.import_form), methods=["GET"]),
        Route("/ateliers/import", page(pages.import_file), methods=["POST"]),
        Route("/ateliers/nouveau", page(pages.new_form), methods=["GET"]),
        Route("/ateliers/nouveau", page(pages.create), methods=["POST"]),
        Route("/ateliers/{ref}/modifier", page(pages.edit_form), methods=["GET"]),
        Route("/ateliers/{ref}/modifier", page(pages.edit), methods=["POST"]),
        Route("/ateliers/{ref}/publier", page(pages.publish), methods=["POST"]),
        Route("/ateliers/{ref}/annuler", page(pages.cancel_form), methods=["GET"]),
        Route("/ateliers/{ref}/annuler", page(pages.cancel), methods=["POST"]),
    ]


class WorkshopPages:
    def __init__(self, site: StaffSite) -> None:
        self.site = site

    # -- the list ------------------------------------------------------------------------

    async def index(self, staff: StaffRequest) -> Response:
        query = staff.request.query_params
        status = query.get("statut", "")
        status = status if status in STATUS_LABELS else ""
        period = query.get("periode", "")
        period = period if period in PERIODS else ""
        now = _now()
        async with self.site.pool.connection() as connection:
            workshops = await store.load(connection, status=status or None)
            mine = await scopes.workshop_refs(connection, staff.account)
            seats = await enrolment.occupancy(connection)
        workshops = [w for w in workshops if mine is None or w.ref in mine]
        cards = [self._card(w, seats.get(w.ref, (0, 0)), now) for w in workshops]
        upcoming = [card for card in cards if not card.past]
        past = sorted((card for card in cards if card.past), key=_start, reverse=True)
        return self.site.render(
            "workshops_list.html",
            staff=staff,
            upcoming=upcoming if period != "passes" else [],
            past=past if period != "a-venir" else [],
            chosen=status,
            period=period,
            statuses=STATUS_LABELS,
            periods=PERIODS,
            notice=_notice(query),
        )

    def _card(self, workshop: Workshop, seats: tuple[int, int], now: datetime) -> Card:
        return Card(
            workshop=workshop,
            status=STATUS_LABELS.get(workshop.status, workshop.status),
            when=_when(workshop),
            place=f"{workshop.venue_name}, {workshop.venue_address}"
            if workshop.venue_name
            else "En ligne",
            taken=seats[0],
            waiting=seats[1],
            invitation=f"{self.site.public_url}/?atelier={quote(workshop.ref)}",
            past=workshop.ends_at <= now,
        )

    # -- create and edit -----------------------------------------------------------------

    async def new_form(self, staff: StaffRequest) -> Response:
        return self._form(staff, workshop_form.blank(staff.account.name), ref=None)

    async def create(self, staff: StaffRequest) -> Response:
        values = workshop_form.values_from(staff.form)
        try:
            workshop = build(workshop_form.raw(values, ref=_PENDING_REF, status="draft"))
        except InvalidWorkshop as error:
            return self._form(
                staff, values, ref=None, problems=workshop_form.problems(error.problems)
            )
        async with self.site.pool.connection() as connection, connection.transaction():
            workshop = replace(workshop, ref=await workshop_form.new_ref(connection, workshop))
            await self._update(connection, workshop)
            # Its creator manages it (an organiser sees only the workshops linked to them).
            workshop_id = await _id_of(connection, workshop.ref)
            await scopes.link_workshop(connection, staff.account.id, workshop_id)
            await audit.record(
                connection, staff.account.id, "workshop.created", "workshop", workshop_id
            )
        return self.site.redirect(_done("cree", workshop.ref))

    async def edit_form(self, staff: StaffRequest) -> Response:
        workshop = await self._load(staff)
        if workshop is None:
            return _missing(self.site, staff)
        return self._form(
            staff, workshop_form.values_of(workshop), ref=workshop.ref, current=workshop
        )

    async def edit(self, staff: StaffRequest) -> Response:
        current = await self._load(staff)
        if current is None:
            return _missing(self.site, staff)
        values = workshop_form.values_from(staff.form)
        try:
            workshop = build(workshop_form.raw(values, ref=current.ref, status=current.status))
        except InvalidWorkshop as error:
            found = workshop_form.problems(error.problems)
            return self._form(staff, values, ref=current.ref, current=current, problems=found)
        try:
            async with self.site.pool.connection() as connection, connection.transaction():
                result = await self._update(connection, workshop, keep_status=True)
                await audit.record(
                    connection,
                    staff.account.id,
                    "workshop.edited",
                    "workshop",
                    await _id_of(connection, workshop.ref),
                    {"told": result.told, "offered": result.offered},
                )
        except changes.Refused as refused:
            found = [Problem(refused.field, str(refused))]
            return self._form(staff, values, ref=current.ref, current=current, problems=found)
        return self.site.redirect(
            _done("modifie", workshop.ref, prevenus=result.told, places=result.offered)
        )

    def _form(
        self,
        staff: StaffRequest,
        values: dict[str, Any],
        *,
        ref: str | None,
        current: Workshop | None = None,
        problems: list[Problem] | None = None,
    ) -> Response:
        problems = problems or []
        by_field: dict[str, list[str]] = {}
        for problem in problems:
            by_field.setdefault(problem.field, []).append(problem.message)
        return self.site.render(
            "workshops_form.html",
            staff=staff,
            status=422 if problems else 200,
            ref=ref,
            current=current,
            values=values,
            problems=problems,
            by_field=by_field,
            labels=workshop_form.LABELS,
            timezones=workshop_form.timezones_for(str(values.get("timezone", ""))),
            topics=workshop_form.TOPICS,
            languages=workshop_form.LANGUAGES,
            enrolled=current is not None and current.status == "published",
        )

    # -- publish and cancel --------------------------------------------------------------

    async def publish(self, staff: StaffRequest) -> Response:
        workshop = await self._load(staff)
        if workshop is None:
            return _missing(self.site, staff)
        async with self.site.pool.connection() as connection, connection.transaction():
            refused = await changes.publish(connection, workshop.ref, now=_now())
            if refused is None:
                workshop_id = await _id_of(connection, workshop.ref)
                await audit.record(
                    connection, staff.account.id, "workshop.published", "workshop", workshop_id
                )
        if refused is not None:
            return self.site.error(staff, 409, refused)
        return self.site.redirect(_done("publie", workshop.ref))

    async def cancel_form(self, staff: StaffRequest) -> Response:
        workshop = await self._load(staff)
        if workshop is None:
            return _missing(self.site, staff)
        async with self.site.pool.connection() as connection:
            audience = await cancellation.audience(connection, workshop.ref, self.site.renderers)
        return self.site.render(
            "workshops_cancel.html",
            staff=staff,
            workshop=workshop,
            when=_when(workshop),
            audience=audience,
        )

    async def cancel(self, staff: StaffRequest) -> Response:
        ref = staff.request.path_params["ref"]
        async with self.site.pool.connection() as connection, connection.transaction():
            workshop_id = await scopes.managed_workshop_id(connection, staff.account, ref)
            if workshop_id is None:
                return _missing(self.site, staff)
            done = await cancellation.cancel(
                connection,
                ref,
                now=_now(),
                renderers=self.site.renderers,
                catalogs=self.site.catalogs,
                default_language=self.site.config.default_language,
            )
            if done is not None and not done.already:
                await audit.record(
                    connection,
                    staff.account.id,
                    "workshop.cancelled",
                    "workshop",
                    workshop_id,
                    {"told": done.told},
                )
        if done is None:
            return _missing(self.site, staff)
        return self.site.redirect(
            _done("deja-annule" if done.already else "annule", ref, prevenus=done.told)
        )

    # -- CSV -----------------------------------------------------------------------------

    async def export(self, staff: StaffRequest) -> Response:
        async with self.site.pool.connection() as connection:
            mine = await scopes.workshop_refs(connection, staff.account)
            workshops = await store.load(connection)
        text = csv_io.write([w for w in workshops if mine is None or w.ref in mine])
        day = _now().strftime("%Y-%m-%d")
        headers = {
            **SECURITY_HEADERS,
            "Content-Disposition": f'attachment; filename="ateliers-{day}.csv"',
        }
        return Response(text, media_type="text/csv; charset=utf-8", headers=headers)

    async def import_form(self, staff: StaffRequest) -> Response:
        return self._import_page(staff)

    async def import_file(self, staff: StaffRequest) -> Response:
        data = staff.files.get("fichier")
        if not data:
            return self._import_page(staff, ["Choisissez un fichier CSV à importer."])
        try:
            workshops = csv_io.read(data)
        except csv_io.InvalidFile as error:
            return self._import_page(staff, workshop_form.file_problems(error.problems))
        created = updated = told = offered = 0
        try:
            async with self.site.pool.connection() as connection, connection.transaction():
                refused: list[str] = []
                for line, workshop in enumerate(workshops, start=2):
                    if not await _may_import(connection, staff, workshop.ref):
                        refused.append(f"ligne {line} : {workshop.ref} : {_TAKEN}")
                        continue
                    try:
                        result = await self._update(connection, workshop)
                    except changes.Refused as error:
                        refused.append(f"ligne {line} : {workshop.ref} : {error}")
                        continue
                    workshop_id = await _id_of(connection, workshop.ref)
                    if result.created:
                        await scopes.link_workshop(connection, staff.account.id, workshop_id)
                    await audit.record(
                        connection,
                        staff.account.id,
                        "workshop.imported",
                        "workshop",
                        workshop_id,
                        {"created": result.created},
                    )
                    created += result.created
                    updated += not result.created
                    told += result.told + (result.cancelled.told if result.cancelled else 0)
                    offered += result.offered
                if refused:
                    raise _NothingImported(refused)
        except _NothingImported as nothing:
            return self._import_page(staff, nothing.problems)
        return self.site.redirect(
            _done("importe", "", ajoutes=created, modifies=updated, prevenus=told, places=offered)
        )

    def _import_page(self, staff: StaffRequest, problems: list[str] | None = None) -> Response:
        return self.site.render(
            "workshops_import.html",
            staff=staff,
            status=422 if problems else 200,
            problems=problems or [],
            columns=csv_io.COLUMNS,
            required=csv_io.REQUIRED,
        )

    # -- shared --------------------------------------------------------------------------

    async def _load(self, staff: StaffRequest) -> Workshop | None:
        """The workshop of the URL, when the account manages it (else None: a 404, so that
        another organiser's workshop looks like no workshop)."""
        ref = staff.request.path_params["ref"]
        async with self.site.pool.connection() as connection:
            if await scopes.managed_workshop_id(connection, staff.account, ref) is None:
                return None
            return (await store.load_by_refs(connection, [ref])).get(ref)

    async def _update(
        self, connection: AsyncConnection[Any], workshop: Workshop, *, keep_status: bool = False
    ) -> changes.Updated:
        return await changes.update(
            connection,
            workshop,
            now=_now(),
            offer_for=OFFER_FOR,
            renderers=self.site.renderers,
            catalogs=self.site.catalogs,
            default_language=self.site.config.default_language,
            keep_status=keep_status,
        )


class _NothingImported(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


_TAKEN = "cette référence est déjà celle d'un atelier que vous ne gérez pas"


async def _id_of(connection: AsyncConnection[Any], ref: str) -> int:
    cursor = await connection.execute("SELECT id FROM workshop WHERE ref = %s", (ref,))
    row = await cursor.fetchone()
    assert row is not None, ref
    return int(row[0])


async def _may_import(connection: AsyncConnection[Any], staff: StaffRequest, ref: str) -> bool:
    """A new ref, or the ref of a workshop the account manages."""
    cursor = await connection.execute("SELECT id FROM workshop WHERE ref = %s", (ref,))
    row = await cursor.fetchone()
    return row is None or await scopes.can_manage_workshop(connection, staff.account, int(row[0]))


def _now() -> datetime:
    return datetime.now(UTC)


def _start(card: Card) -> datetime:
    return card.workshop.starts_at


def _when(workshop: Workshop) -> str:
    """ "samedi 5 décembre 2026, 14:00–15:30" on the venue's clock, and which clock when it
    is not mainland France's."""
    start, end = workshop.local(workshop.starts_at), workshop.local(workshop.ends_at)
    hours = "–".join(format_time(moment, "short", locale="fr") for moment in (start, end))
    text = f"{format_date(start, 'full', locale='fr')}, {hours}"
    if start.date() != end.date():
        text = f"{text} ({format_date(end, 'full', locale='fr')})"
    if workshop.timezone != "Europe/Paris":
        zone = workshop_form.TIMEZONES.get(workshop.timezone, workshop.timezone)
        text = f"{text}, heure de {zone}"
    return text


def _done(what: str, ref: str, **counts: int) -> str:
    query = {"fait": what, **({"atelier": ref} if ref else {})}
    query.update({name: str(n) for name, n in counts.items() if n})
    return f"/staff/ateliers?{urlencode(query)}"


def _notice(query: Any) -> str:
    """The sentence saying what the last action did (from the redirect's query)."""
    what = DONE.get(query.get("fait", ""), "")
    if not what:
        return ""
    parts = [what]
    for name, sentence in (
        ("ajoutes", "{n} atelier(s) ajouté(s)."),
        ("modifies", "{n} atelier(s) mis à jour."),
        ("prevenus", "{n} parent(s) prévenu(s) par SMS ou Telegram."),
        ("places", "{n} place(s) proposée(s) à la liste d'attente."),
    ):
        count = query.get(name, "")
        if count.isdigit() and len(count) < 7:
            parts.append(sentence.format(n=int(count)))
    return " ".join(parts)


def _missing(site: StaffSite, staff: StaffRequest) -> Response:
    return site.error(staff, 404, "Cet atelier n'existe pas (ou plus).")
