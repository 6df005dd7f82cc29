"""The school notices ("Annonces"): the list, compose (create, edit a draft), the preview with
its send-now / schedule form, progress and figures, and the figures as CSV.

School staff see and send notices to their schools only (`staff.scopes.school_ids`); admins to
every school. A notice naming a school outside the account's scope answers 404. Scheduling is
recorded in the audit log (`broadcast.scheduled`, and `broadcast.urgent` when it bypasses quiet
hours), in the transaction of the change.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from broadcasts import audience, figures, preview, records, sending
from broadcasts.records import CHANNELS, SEGMENTS, Audience, Broadcast, Draft
from broadcasts.templates import LIBRARY, PLACEHOLDERS, TemplateError, check_values
from liaison.i18n import LANGUAGE_NAMES
from staff import audit, scopes
from staff.site import SECURITY_HEADERS, StaffRequest

if TYPE_CHECKING:
    from staff.site import StaffSite

SCHOOL_STAFF = frozenset({"school"})
STATUS_LABELS = {
    "draft": "Brouillon",
    "scheduled": "Programmée",
    "sending": "En cours d'envoi",
    "sent": "Envoyée",
    "cancelled": "Annulée",
}
CHANNEL_LABELS = {"sms": "SMS", "telegram": "Telegram"}
DONE = {
    "enregistree": "Brouillon enregistré. Vérifiez l'aperçu avant d'envoyer.",
    "programmee": "Annonce programmée.",
    "annulee": "Annonce annulée.",
}


def routes(site: StaffSite) -> list[BaseRoute]:
    pages = BroadcastPages(site)
    page = site.page(SCHOOL_STAFF)
    return [
        Route("/annonces", page(pages.index), methods=["GET"]),
        Route("/annonces/nouvelle", page(pages.new_form), methods=["GET"]),
        Route("/annonces/nouvelle", page(pages.create), methods=["POST"]),
        Route("/annonces/{id:int}", page(pages.show), methods=["GET"]),
        Route("/annonces/{id:int}/modifier", page(pages.edit_form), methods=["GET"]),
        Route("/annonces/{id:int}/modifier", page(pages.edit), methods=["POST"]),
        Route("/annonces/{id:int}/envoyer", page(pages.send), methods=["POST"]),
        Route("/annonces/{id:int}/annuler", page(pages.cancel), methods=["POST"]),
        Route("/annonces/{id:int}/chiffres.csv", page(pages.export), methods=["GET"]),
    ]


class BroadcastPages:
    def __init__(self, site: StaffSite) -> None:
        self.site = site

    # -- scope ---------------------------------------------------------------------------

    async def _schools(self, staff: StaffRequest) -> list[tuple[int, str, str]]:
        """(id, name, time zone) of the schools the account may send notices to."""
        async with self.site.pool.connection() as connection:
            allowed = await scopes.school_ids(connection, staff.account)
            cursor = await connection.execute(
                "SELECT id, name, timezone FROM school WHERE %s OR id = ANY(%s) ORDER BY name",
                (allowed is None, sorted(allowed or ())),
            )
            return [(int(r[0]), str(r[1]), str(r[2])) for r in await cursor.fetchall()]

    async def _mine(self, staff: StaffRequest) -> Broadcast | None:
        """The notice of the URL when every one of its schools is the account's."""
        broadcast_id = int(staff.request.path_params["id"])
        async with self.site.pool.connection() as connection:
            broadcast = await records.load(connection, broadcast_id)
            allowed = await scopes.school_ids(connection, staff.account)
        if broadcast is None or (allowed is not None and not set(broadcast.school_ids) <= allowed):
            return None
        return broadcast

    def _missing(self, staff: StaffRequest) -> Response:
        return self.site.error(staff, 404, "Cette annonce n'existe pas.")

    # -- list ----------------------------------------------------------------------------

    async def index(self, staff: StaffRequest) -> Response:
        async with self.site.pool.connection() as connection:
            allowed = await scopes.school_ids(connection, staff.account)
            notices = await records.listing(connection, allowed)
        return self.site.render(
            "broadcasts_list.html",
            staff=staff,
            notices=notices,
            statuses=STATUS_LABELS,
            notice=DONE.get(staff.request.query_params.get("fait", ""), ""),
        )

    # -- compose -------------------------------------------------------------------------

    async def new_form(self, staff: StaffRequest) -> Response:
        return await self._form(staff, {}, None)

    async def edit_form(self, staff: StaffRequest) -> Response:
        broadcast = await self._mine(staff)
        if broadcast is None:
            return self._missing(staff)
        if broadcast.status != "draft":
            return self.site.redirect(f"/staff/annonces/{broadcast.id}")
        return await self._form(staff, _values_of(broadcast), broadcast.id)

    async def create(self, staff: StaffRequest) -> Response:
        return await self._save(staff, None)

    async def edit(self, staff: StaffRequest) -> Response:
        broadcast = await self._mine(staff)
        if broadcast is None:
            return self._missing(staff)
        return await self._save(staff, broadcast.id)

    async def _save(self, staff: StaffRequest, broadcast_id: int | None) -> Response:
        schools = await self._schools(staff)
        draft, problems = _draft_from(staff.form, {s[0] for s in schools})
        if draft is None:
            return await self._form(staff, dict(staff.form), broadcast_id, problems, status=422)
        async with self.site.pool.connection() as connection, connection.transaction():
            if broadcast_id is None:
                broadcast_id = await records.create(
                    connection, draft, account_id=staff.account.id, now=_now()
                )
            elif not await records.update(connection, broadcast_id, draft):
                return self.site.error(staff, 409, "Cette annonce n'est plus un brouillon.")
        return self.site.redirect(f"/staff/annonces/{broadcast_id}?fait=enregistree")

    async def _form(
        self,
        staff: StaffRequest,
        values: dict[str, Any],
        broadcast_id: int | None,
        problems: list[str] | None = None,
        *,
        status: int = 200,
    ) -> Response:
        return self.site.render(
            "broadcasts_form.html",
            staff=staff,
            status=status,
            values=values,
            broadcast_id=broadcast_id,
            problems=problems or [],
            schools=await self._schools(staff),
            templates=LIBRARY,
            placeholders=PLACEHOLDERS,
            languages=LANGUAGE_NAMES,
            channels=CHANNEL_LABELS,
            segments=SEGMENTS,
        )

    # -- preview, progress, figures ------------------------------------------------------

    async def show(self, staff: StaffRequest) -> Response:
        broadcast = await self._mine(staff)
        if broadcast is None:
            return self._missing(staff)
        default = self.site.config.default_language
        async with self.site.pool.connection() as connection:
            counts = await audience.count(
                connection, broadcast.school_ids, broadcast.audience, default_language=default
            )
            result = await figures.figures(connection, broadcast.id)
        renderings = preview.preview(
            broadcast, counts, renderers=self.site.renderers, catalogs=self.site.catalogs
        )
        schools = {s[0]: s for s in await self._schools(staff)}
        return self.site.render(
            "broadcasts_detail.html",
            staff=staff,
            b=broadcast,
            state=STATUS_LABELS.get(broadcast.status, broadcast.status),
            schools=[schools[i][1] for i in broadcast.school_ids if i in schools],
            timezone=_timezone(broadcast, schools),
            counts=counts,
            renderings=renderings,
            fallbacks=[LANGUAGE_NAMES.get(code, code) for code in preview.fallbacks(renderings)],
            problems=preview.problems(renderings),
            result=result,
            languages=LANGUAGE_NAMES,
            channels=CHANNEL_LABELS,
            when=_local(broadcast.scheduled_at, _timezone(broadcast, schools)),
            notice=DONE.get(staff.request.query_params.get("fait", ""), ""),
        )

    async def export(self, staff: StaffRequest) -> Response:
        broadcast = await self._mine(staff)
        if broadcast is None:
            return self._missing(staff)
        async with self.site.pool.connection() as connection:
            result = await figures.figures(connection, broadcast.id)
        return Response(
            figures.to_csv(result),
            media_type="text/csv; charset=utf-8",
            headers={
                **SECURITY_HEADERS,
                "Content-Disposition": f'attachment; filename="annonce-{broadcast.id}.csv"',
            },
        )

    # -- send ----------------------------------------------------------------------------

    async def send(self, staff: StaffRequest) -> Response:
        broadcast = await self._mine(staff)
        if broadcast is None:
            return self._missing(staff)
        form, now = staff.form, _now()
        urgent = form.get("urgent") == "oui"
        at = now
        if form.get("mode") == "plus-tard":
            schools = {s[0]: s for s in await self._schools(staff)}
            try:
                at = datetime.fromisoformat(form.get("quand", "")).replace(
                    tzinfo=ZoneInfo(_timezone(broadcast, schools))
                )
            except ValueError:
                return self.site.error(staff, 422, "Date et heure d'envoi invalides.")
            if at < now:
                return self.site.error(staff, 422, "La date d'envoi est déjà passée.")
        async with self.site.pool.connection() as connection, connection.transaction():
            try:
                await sending.schedule(connection, broadcast.id, at=at, urgent=urgent)
            except sending.ScheduleError as error:
                return self.site.error(staff, 409, str(error))
            detail = {"at": at.isoformat(), "urgent": urgent, "schools": list(broadcast.school_ids)}
            account_id = staff.account.id
            await audit.record(
                connection, account_id, "broadcast.scheduled", "broadcast", broadcast.id, detail
            )
            if urgent:  # sent even at night, on Sundays and public holidays
                await audit.record(
                    connection, account_id, "broadcast.urgent", "broadcast", broadcast.id, detail
                )
        return self.site.redirect(f"/staff/annonces/{broadcast.id}?fait=programmee")

    async def cancel(self, staff: StaffRequest) -> Response:
        broadcast = await self._mine(staff)
        if broadcast is None:
            return self._missing(staff)
        async with self.site.pool.connection() as connection, connection.transaction():
            try:
                await sending.cancel(connection, broadcast.id)
            except sending.ScheduleError as error:
                return self.site.error(staff, 409, str(error))
            await audit.record(
                connection, staff.account.id, "broadcast.cancelled", "broadcast", broadcast.id
            )
        return self.site.redirect(f"/staff/annonces/{broadcast.id}?fait=annulee")


def _draft_from(form: Any, allowed: set[int]) -> tuple[Draft | None, list[str]]:
    """The draft the form describes, or the problems to show (in French)."""
    problems = []
    title = form.get("titre", "").strip()
    if not title:
        problems.append("Donnez un titre à l'annonce (il n'est pas envoyé).")
    school_ids = tuple(sorted(i for i in allowed if form.get(f"ecole-{i}") == "oui"))
    if not school_ids:
        problems.append("Choisissez au moins une école.")
    template_key = form.get("modele", "") or None
    placeholders: dict[str, str] = {}
    template = LIBRARY.get(template_key or "")
    if template_key and template is None:
        problems.append("Modèle inconnu.")
    if template is not None:
        try:
            placeholders = check_values(
                template, {name: form.get(f"champ-{name}", "") for name in PLACEHOLDERS}
            )
        except TemplateError as error:
            problems.append(str(error))
    texts = {
        code: form.get(f"texte-{code}", "").strip()
        for code in LANGUAGE_NAMES
        if form.get(f"texte-{code}", "").strip()
    }
    if template is None and "fr" not in texts:
        problems.append("Écrivez le texte en français, ou choisissez un modèle.")

    def split(name: str) -> tuple[str, ...]:
        return tuple(part.strip() for part in form.get(name, "").split(",") if part.strip())

    chosen = Audience(
        levels=split("niveaux"),
        classes=split("classes"),
        languages=tuple(code for code in LANGUAGE_NAMES if form.get(f"langue-{code}") == "oui"),
        channels=tuple(code for code in CHANNELS if form.get(f"canal-{code}") == "oui"),
        segments=tuple(code for code in SEGMENTS if form.get(f"segment-{code}") == "oui"),
    )
    if problems:
        return None, problems
    return Draft(title, school_ids, chosen, template_key, placeholders, texts), []


def _values_of(broadcast: Broadcast) -> dict[str, Any]:
    """The form's fields for a stored draft."""
    values: dict[str, Any] = {"titre": broadcast.title, "modele": broadcast.template or ""}
    values.update({f"ecole-{i}": "oui" for i in broadcast.school_ids})
    values.update({f"champ-{k}": v for k, v in broadcast.placeholders.items()})
    values.update({f"texte-{k}": v for k, v in broadcast.texts.items()})
    chosen = broadcast.audience
    values["niveaux"] = ", ".join(chosen.levels)
    values["classes"] = ", ".join(chosen.classes)
    values.update({f"langue-{c}": "oui" for c in chosen.languages})
    values.update({f"canal-{c}": "oui" for c in chosen.channels})
    values.update({f"segment-{c}": "oui" for c in chosen.segments})
    return values


def _timezone(broadcast: Broadcast, schools: dict[int, tuple[int, str, str]]) -> str:
    """The time zone a "send at" time is typed in: the first school's."""
    for school_id in broadcast.school_ids:
        if school_id in schools:
            return schools[school_id][2]
    return "Europe/Paris"


def _local(moment: datetime | None, timezone: str) -> str:
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%d/%m/%Y %H:%M")


def _now() -> datetime:
    return datetime.now(UTC)
