"""The figures pages: what `workshops.figures` computes, for organisers and funders, as big
numbers, SVG charts (inline, drawn by `workshops.charts`) and a CSV download.

    GET /staff/chiffres?du=AAAA-MM-JJ&au=AAAA-MM-JJ&territoire=…   a period, both days included
    GET /staff/chiffres.csv?…                                      the same period as CSV
    GET /staff/ateliers/{ref}/chiffres                             one workshop
    GET /staff/ateliers/{ref}/chiffres.csv                         that workshop as CSV

Days are read on the clock of `liaison.timezone`; without `du` and `au` the period is the
current school year (1 September to 31 August). A query that cannot be answered (a day that is
not a date, `au` before `du`, more than five years, a territory no workshop could have) gets a
400 page that says why; an unknown workshop a 404 page. Organisers and admins only; an
organiser sees the workshops they manage (`staff.scopes`), another's workshop is a 404.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent
from markupsafe import Markup
from psycopg import AsyncConnection
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from liaison.errors import BadRequest
from staff import scopes
from staff.site import ORGANISERS, SECURITY_HEADERS, StaffRequest
from workshops import charts, figures, figures_csv
from workshops.figures import Figures, PeriodFigures, WorkshopFigures

if TYPE_CHECKING:
    from staff.site import StaffSite

LOCALE = "fr"
MAX_YEARS = 5
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2199, 12, 31)
TERRITORY_LIMIT = 200  # as long as a workshop's territory may be (workshops.records)
TERRITORY_CHOICES = 200  # more territories than this: a text field instead of a list
REF_LIMIT = 64
# One bar per workshop is 52 units high: past this many, the table says it better.
PERIOD_CHART_LIMIT = 40
STATUS = {"published": "publié", "draft": "brouillon", "cancelled": "annulé"}
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CONTROL = re.compile("[\x00-\x1f\x7f]")
_FILE_SAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Period:
    """The days asked for (`last` included), of one territory or of all (`None`)."""

    first: date
    last: date
    territory: str | None = None

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """`[start, end)` as aware datetimes, midnight to midnight on `zone`'s clock."""
        start = datetime.combine(self.first, time(), tzinfo=zone)
        return start, datetime.combine(self.last + timedelta(days=1), time(), tzinfo=zone)

    def query(self, territory: str | None = None) -> str:
        """The query string of this period (of `territory` when given)."""
        params = {"du": self.first.isoformat(), "au": self.last.isoformat()}
        chosen = territory or self.territory
        if chosen:
            params["territoire"] = chosen
        return urlencode(params)


def school_year(today: date) -> tuple[date, date]:
    """The school year `today` is in: 1 September to 31 August."""
    year = today.year if today.month >= 9 else today.year - 1
    return date(year, 9, 1), date(year + 1, 8, 31)


def read_period(params: Mapping[str, str], today: date) -> Period:
    """The period a query asks for; `BadRequest` with a message for the organiser otherwise."""
    territory = _territory(params.get("territoire", ""))
    du, au = params.get("du", "").strip(), params.get("au", "").strip()
    if not du and not au:
        return Period(*school_year(today), territory)
    first, last = _day(du, "de début"), _day(au, "de fin")
    if last < first:
        raise BadRequest(
            f"La date de fin ({_long(last)}) est avant la date de début ({_long(first)}).",
            code="invalid_period",
        )
    if last >= _years_after(first, MAX_YEARS):
        raise BadRequest(
            f"La période dépasse {MAX_YEARS} ans : choisissez-en une plus courte.",
            code="invalid_period",
        )
    return Period(first, last, territory)


def routes(site: StaffSite) -> list[BaseRoute]:
    pages = FigurePages(site)
    page = site.page(ORGANISERS)
    return [
        Route("/chiffres", page(pages.period), methods=["GET"]),
        Route("/chiffres.csv", page(pages.period_csv), methods=["GET"]),
        Route("/ateliers/{ref}/chiffres", page(pages.workshop), methods=["GET"]),
        Route("/ateliers/{ref}/chiffres.csv", page(pages.workshop_csv), methods=["GET"]),
    ]


class FigurePages:
    """The handlers, sharing the site's pool, templates and time zone."""

    def __init__(self, site: StaffSite) -> None:
        self.site = site
        self.zone = ZoneInfo(site.config.timezone)

    async def period(self, staff: StaffRequest) -> Response:
        params = staff.request.query_params
        today = datetime.now(self.zone).date()
        async with self.site.pool.connection() as connection:
            mine = await scopes.workshop_ids(connection, staff.account)
            territories = await _territories(connection, mine)
            try:
                period = read_period(params, today)
            except BadRequest as exc:
                return self._period_page(
                    staff, today, territories, error=str(exc), asked=params, status=400
                )
            result = await figures.for_period(
                connection,
                *period.bounds(self.zone),
                territory=period.territory,
                workshop_ids=mine,
            )
        return self._period_page(staff, today, territories, period=period, result=result)

    async def period_csv(self, staff: StaffRequest) -> Response:
        try:
            period = read_period(staff.request.query_params, datetime.now(self.zone).date())
        except BadRequest as exc:
            return self.site.error(staff, 400, str(exc))
        async with self.site.pool.connection() as connection:
            result = await figures.for_period(
                connection,
                *period.bounds(self.zone),
                territory=period.territory,
                workshop_ids=await scopes.workshop_ids(connection, staff.account),
            )
        return _csv(figures_csv.for_period(result), figures_csv.filename(result))

    async def workshop(self, staff: StaffRequest) -> Response:
        row = await self._workshop(staff, staff.request.path_params["ref"])
        if row is None:
            return self._unknown(staff)
        f = row.figures
        return self.site.render(
            "figures_workshop.html",
            staff=staff,
            workshop=row,
            when=_when(row),
            status_label=STATUS.get(row.status, row.status),
            numbers=_numbers(f),
            charts=[
                _svg(chart(f))
                for chart in (
                    charts.attendance_chart,
                    charts.people_chart,
                    charts.fill_chart,
                    charts.languages_chart,
                    charts.autonomy_chart,
                )
            ],
            csv_url=f"{_workshop_url(row.ref)}.csv",
        )

    async def workshop_csv(self, staff: StaffRequest) -> Response:
        row = await self._workshop(staff, staff.request.path_params["ref"])
        if row is None:
            return self._unknown(staff)
        name = _FILE_SAFE.sub("_", row.ref).strip("_") or str(row.id)
        return _csv(figures_csv.write([row]), f"atelier-{name}-chiffres.csv")

    # -- helpers ---------------------------------------------------------------------------

    async def _workshop(self, staff: StaffRequest, ref: str) -> WorkshopFigures | None:
        """The figures of workshop `ref` when the account manages it (else None: a 404)."""
        if len(ref) > REF_LIMIT or _CONTROL.search(ref):
            return None  # no workshop has such a ref: not worth a query
        async with self.site.pool.connection() as connection:
            found = await scopes.managed_workshop_id(connection, staff.account, ref)
            if found is None:
                return None
            try:
                return await figures.for_workshop(connection, found)
            except figures.UnknownWorkshop:  # deleted in between
                return None

    def _unknown(self, staff: StaffRequest) -> Response:
        return self.site.error(
            staff, 404, "Aucun atelier ne porte cette référence : il a peut-être été supprimé."
        )

    def _period_page(
        self,
        staff: StaffRequest,
        today: date,
        territories: list[str] | None,
        *,
        period: Period | None = None,
        result: PeriodFigures | None = None,
        error: str = "",
        asked: Mapping[str, str] | None = None,
        status: int = 200,
    ) -> Response:
        asked = asked or {}
        territory = period.territory if period else _echo(asked, "territoire", TERRITORY_LIMIT)
        context: dict[str, Any] = {
            "error": error,
            "du": period.first.isoformat() if period else _echo(asked, "du", 10),
            "au": period.last.isoformat() if period else _echo(asked, "au", 10),
            "territory": territory or "",
            "territories": _choices(territories, territory),
            "quick": _quick_links(today, territory if period else None),
            "period": None,
        }
        if period is not None and result is not None:
            totals = result.totals
            context.update(
                period=period,
                label=f"du {_long(period.first)} au {_long(period.last)}",
                numbers=_numbers(totals),
                charts=[
                    _svg(chart(totals))
                    for chart in (
                        charts.attendance_chart,
                        charts.fill_chart,
                        charts.people_chart,
                        charts.languages_chart,
                        charts.autonomy_chart,
                    )
                ],
                period_chart=(
                    _svg(charts.period_chart(result))
                    if len(result.workshops) <= PERIOD_CHART_LIMIT
                    else None
                ),
                rows=[_row(row) for row in result.workshops],
                cancelled=[_row(row) for row in result.cancelled],
                csv_url=f"/staff/chiffres.csv?{period.query()}",
            )
        return self.site.render("figures_period.html", staff=staff, status=status, **context)


@dataclass(frozen=True)
class Number:
    """One big number of a page: what it is, its value as written, a line to read it by."""

    key: str  # for tests and styles
    label: str
    value: str
    detail: str


def _numbers(f: Figures) -> list[Number]:
    marked = f.attended_parents - f.walk_ins + f.no_shows
    basis = {
        "present": "d'après les présents",
        "booked": "d'après les inscrits (pas encore de pointage)",
        "mixed": "présents des ateliers tenus, inscrits des autres",
    }[f.fill_basis]
    return [
        Number("enrolled", "Inscrits", _n(f.enrolled_parents), f"{_n(f.enrolled_people)} pers."),
        Number(
            "waitlisted",
            "Liste d'attente",
            _n(f.waitlisted_parents),
            f"{_n(f.waitlisted_people)} pers.",
        ),
        Number(
            "attended",
            "Venus",
            _n(f.attended_parents),
            f"{_n(f.attended_people)} pers., dont {_n(f.walk_ins)} sans inscription",
        ),
        Number(
            "no_show_rate",
            "Taux d'absence",
            _rate(f.no_show_rate),
            f"{_n(f.no_shows)} absent(s) sur {_n(marked)} pointé(s)"
            if f.no_show_rate is not None
            else "Personne n'est encore pointé",
        ),
        Number(
            "fill_rate",
            "Remplissage",
            _rate(f.fill_rate),
            f"{_n(f.filled_people)} / {_n(f.capacity)} places, {basis}"
            if f.fill_rate is not None
            else "Aucune place proposée",
        ),
        Number(
            "autonomy_yes",
            "Autonomes à 7 jours",
            _n(f.autonomy.yes),
            f"sur {_n(f.autonomy.total)} parent(s) venu(s) inscrit(s), "
            f"{_n(f.autonomy.not_yet)} pas encore",
        ),
    ]


def _row(row: WorkshopFigures) -> dict[str, str]:
    f = row.figures
    return {
        "ref": row.ref,
        "url": _workshop_url(row.ref),
        "title": row.title,
        "when": format_datetime(
            row.starts_at, "d MMM y HH:mm", tzinfo=ZoneInfo(row.timezone), locale=LOCALE
        ),
        "territory": row.territory,
        "enrolled": _n(f.enrolled_parents),
        "attended": _n(f.attended_parents),
        "no_show_rate": _rate(f.no_show_rate),
        "fill_rate": _rate(f.fill_rate),
    }


def _quick_links(today: date, territory: str | None) -> list[tuple[str, str]]:
    month_end = (today.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    this_year = school_year(today)
    last_year = school_year(this_year[0] - timedelta(days=1))
    links = [
        ("Ce mois-ci", Period(today.replace(day=1), month_end)),
        (f"Cette année scolaire ({this_year[0].year}-{this_year[1].year})", Period(*this_year)),
        (f"L'an dernier ({last_year[0].year}-{last_year[1].year})", Period(*last_year)),
    ]
    return [(label, f"/staff/chiffres?{period.query(territory)}") for label, period in links]


def _choices(territories: list[str] | None, chosen: str | None) -> list[str] | None:
    """The territories to pick from (the one asked for included), or None for a text field."""
    if territories is None:
        return None
    if chosen and chosen not in territories:
        return sorted([*territories, chosen])
    return territories


async def _territories(
    connection: AsyncConnection[Any], workshop_ids: set[int] | None = None
) -> list[str] | None:
    """The territories of the workshops that are not drafts (among `workshop_ids` when given);
    None when there are too many."""
    ids = None if workshop_ids is None else sorted(workshop_ids)
    cursor = await connection.execute(
        "SELECT DISTINCT territory FROM workshop WHERE status <> 'draft' AND territory <> '' "
        "AND (%s::bigint[] IS NULL OR id = ANY(%s::bigint[])) ORDER BY territory LIMIT %s",
        (ids, ids, TERRITORY_CHOICES + 1),
    )
    found = [str(row[0]) for row in await cursor.fetchall()]
    return found if len(found) <= TERRITORY_CHOICES else None


def _territory(raw: str) -> str | None:
    territory = raw.strip()
    if len(territory) > TERRITORY_LIMIT:
        raise BadRequest(
            f"Le territoire fait plus de {TERRITORY_LIMIT} caractères : aucun atelier n'en a "
            "un aussi long.",
            code="invalid_territory",
        )
    if _CONTROL.search(territory):
        raise BadRequest(
            "Le territoire contient des caractères invisibles.", code="invalid_territory"
        )
    return territory or None


def _day(raw: str, which: str) -> date:
    if not raw:
        raise BadRequest(f"Indiquez la date {which}.", code="invalid_period")
    shown = raw if len(raw) <= 20 else raw[:20] + "…"
    try:
        if not _DAY.fullmatch(raw):
            raise ValueError(raw)
        day = date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(
            f"La date {which} « {shown} » n'est pas une date (attendu : AAAA-MM-JJ).",
            code="invalid_period",
        ) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise BadRequest(
            f"La date {which} doit être entre {FIRST_DAY.year} et {LAST_DAY.year}.",
            code="invalid_period",
        )
    return day


def _echo(params: Mapping[str, str], name: str, limit: int) -> str:
    """What was asked, shown back in the form to be corrected: visible and short."""
    return _CONTROL.sub("", params.get(name, ""))[:limit]


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _svg(chart: str) -> Markup:
    """A chart to put in the page as it is: `workshops.charts` escapes every text it draws."""
    return Markup(chart)  # noqa: S704


def _csv(data: bytes, name: str) -> Response:
    return Response(
        data,
        media_type=figures_csv.MEDIA_TYPE,
        headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
    )


def _workshop_url(ref: str) -> str:
    return f"/staff/ateliers/{quote(ref, safe='')}/chiffres"


def _when(row: WorkshopFigures) -> str:
    zone = ZoneInfo(row.timezone)
    start = format_datetime(row.starts_at, "EEEE d MMMM y, HH:mm", tzinfo=zone, locale=LOCALE)
    return f"{start} – {format_datetime(row.ends_at, 'HH:mm', tzinfo=zone, locale=LOCALE)}"


def _long(day: date) -> str:
    return format_date(day, "d MMMM y", locale=LOCALE)


def _n(number: int) -> str:
    return format_decimal(number, locale=LOCALE)


def _rate(rate: float | None) -> str:
    return "—" if rate is None else format_percent(rate, locale=LOCALE)
