"""Numbers for organisers and funders: per workshop and over a period, computed in PostgreSQL.

A *parent* is one enrolment (one contact) or one walk-in row; *people* are the persons the
parent said would come (`enrolment.people`, `walk_in.people`: the parent and whoever comes
with them). The definitions, shared by the staff pages, the charts and the CSV export:

* **enrolled** — enrolments holding a seat (`confirmed`, or `offered` a freed seat and not yet
  answered) plus any enrolment whose attendance was recorded, whatever its status now (a
  parent who cancelled and came anyway). Walk-ins are not enrolled. Every enrolled parent is
  exactly one of attended, no-show, excused or not recorded yet.
* **waitlisted** — enrolments still on the waiting list (and not checked in): after the
  session, the demand the workshop could not meet.
* **attended** — enrolments marked `attended` plus walk-ins (parents: one per enrolment or
  walk-in row; people: their `people`). `walk_ins` / `walk_in_people` say how many came
  without enrolling.
* **no-shows**, **excused**, **not recorded** — enrolled parents whose attendance is
  `no_show`, `excused`, or not set yet.
* **no-show rate** — no-shows / (attended enrolments + no-shows), in parents; excused parents
  and walk-ins do not count. `None` while no attendance of either kind is recorded.
* **fill rate** — people filling the seats / capacity. Once the door is open (any attendance
  or walk-in recorded, `fill_basis == "present"`) the people present; before that
  (`"booked"`) the people enrolled. It may exceed 1 (walk-ins). For a period, the seats
  filled over the seats offered by all its workshops (`fill_basis` is then `"mixed"` when
  some workshops have been held and others not).
* **languages** — parents per language: the contact's preferred language (as it is now) for
  enrolled parents, the language noted for walk-ins, `"unknown"` when there is none. Codes
  are lower-cased and cut at the region (`pt-BR` counts as `pt`).
* **autonomy at day 7** — among the attended enrolments, the latest `autonomy` answer of each
  (by `recorded_at`): `yes`, `not_yet`, or no answer (nor any other answer). Walk-ins are
  never asked.

Over a period (workshops *starting* in `[start, end)`): drafts are left out; published
workshops make the rows and the totals; cancelled workshops are listed apart
(`PeriodFigures.cancelled`, same figures) and never counted in the totals.

Each call is one SQL statement, whatever the number of workshops and enrolments.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from liaison.errors import LiaisonError

FillBasis = Literal["present", "booked", "mixed"]
UNKNOWN_LANGUAGE = "unknown"


class UnknownWorkshop(LiaisonError, LookupError):
    """No workshop has this id."""


@dataclass(frozen=True)
class Autonomy:
    """The day-7 autonomy check of the attended enrolments: latest answer of each."""

    yes: int = 0
    not_yet: int = 0
    no_answer: int = 0

    @property
    def total(self) -> int:
        return self.yes + self.not_yet + self.no_answer

    def __add__(self, other: Autonomy) -> Autonomy:
        return Autonomy(
            self.yes + other.yes, self.not_yet + other.not_yet, self.no_answer + other.no_answer
        )


@dataclass(frozen=True)
class Figures:
    """The figures of one workshop or of the published workshops of a period (module docs)."""

    enrolled_parents: int = 0
    enrolled_people: int = 0
    waitlisted_parents: int = 0
    waitlisted_people: int = 0
    attended_parents: int = 0  # enrolments attended + walk-in rows
    attended_people: int = 0
    walk_ins: int = 0
    walk_in_people: int = 0
    no_shows: int = 0  # parents
    excused: int = 0
    not_recorded: int = 0
    capacity: int = 0
    filled_people: int = 0  # present once the door is open, else enrolled (fill_basis)
    fill_basis: FillBasis = "booked"
    languages: Mapping[str, int] = field(default_factory=dict)  # most frequent first
    autonomy: Autonomy = field(default_factory=Autonomy)

    @property
    def no_show_rate(self) -> float | None:
        """No-shows over enrolments marked attended or no-show; None before any is marked."""
        recorded = self.attended_parents - self.walk_ins + self.no_shows
        return self.no_shows / recorded if recorded > 0 else None

    @property
    def fill_rate(self) -> float | None:
        """People filling the seats over the capacity (may exceed 1); None without seats."""
        return self.filled_people / self.capacity if self.capacity > 0 else None


@dataclass(frozen=True)
class WorkshopFigures:
    """One workshop (what a row or a chart needs to name it) and its figures."""

    id: int
    ref: str
    title: str
    status: str
    starts_at: datetime  # aware, UTC
    ends_at: datetime
    timezone: str  # the venue's, to show times on its clock
    territory: str
    figures: Figures


@dataclass(frozen=True)
class PeriodFigures:
    """The workshops starting in `[start, end)` (optionally of one territory)."""

    start: datetime
    end: datetime
    territory: str | None
    totals: Figures  # published workshops only
    workshops: tuple[WorkshopFigures, ...]  # published, by start time then ref
    cancelled: tuple[WorkshopFigures, ...]  # cancelled, apart, not in `totals`


_FIGURES = """
WITH w AS (
    SELECT id, ref, title, status, starts_at, ends_at, timezone, capacity, territory
    FROM workshop WHERE {where}
),
e AS (
    SELECT e.id, e.workshop_id, e.people, e.status, e.attendance, c.language,
           (e.status IN ('confirmed', 'offered') OR e.attendance IS NOT NULL) AS enrolled
    FROM enrolment e JOIN w ON w.id = e.workshop_id JOIN contact c ON c.id = e.contact_id
),
latest AS (
    SELECT DISTINCT ON (o.enrolment_id) o.enrolment_id, o.answer
    FROM outcome o JOIN e ON e.id = o.enrolment_id AND e.attendance = 'attended'
    WHERE o.kind = 'autonomy'
    ORDER BY o.enrolment_id, o.recorded_at DESC, o.id DESC
),
booked AS (
    SELECT e.workshop_id,
        count(*) FILTER (WHERE e.enrolled) AS enrolled_parents,
        coalesce(sum(e.people) FILTER (WHERE e.enrolled), 0) AS enrolled_people,
        count(*) FILTER (WHERE e.status = 'waitlisted' AND e.attendance IS NULL)
            AS waitlisted_parents,
        coalesce(sum(e.people) FILTER (WHERE e.status = 'waitlisted' AND e.attendance IS NULL),
            0) AS waitlisted_people,
        count(*) FILTER (WHERE e.attendance = 'attended') AS attended_enrolments,
        coalesce(sum(e.people) FILTER (WHERE e.attendance = 'attended'), 0)
            AS attended_enrolment_people,
        count(*) FILTER (WHERE e.attendance = 'no_show') AS no_shows,
        count(*) FILTER (WHERE e.attendance = 'excused') AS excused,
        count(*) FILTER (WHERE e.enrolled AND e.attendance IS NULL) AS not_recorded,
        count(*) FILTER (WHERE e.attendance = 'attended' AND l.answer = 'yes') AS autonomy_yes,
        count(*) FILTER (WHERE e.attendance = 'attended' AND l.answer = 'not_yet')
            AS autonomy_not_yet
    FROM e LEFT JOIN latest l ON l.enrolment_id = e.id
    GROUP BY e.workshop_id
),
walk AS (
    SELECT wi.workshop_id, count(*) AS walk_ins, sum(wi.people) AS walk_in_people
    FROM walk_in wi JOIN w ON w.id = wi.workshop_id
    GROUP BY wi.workshop_id
),
spoken AS (
    SELECT workshop_id, jsonb_object_agg(language, parents) AS languages
    FROM (
        SELECT workshop_id,
               coalesce(nullif(split_part(lower(btrim(language)), '-', 1), ''), 'unknown')
                   AS language,
               count(*) AS parents
        FROM (
            SELECT workshop_id, language FROM e WHERE enrolled
            UNION ALL
            SELECT wi.workshop_id, wi.language FROM walk_in wi JOIN w ON w.id = wi.workshop_id
        ) AS parent
        GROUP BY 1, 2
    ) AS per_language
    GROUP BY workshop_id
)
SELECT w.id, w.ref, w.title, w.status, w.starts_at, w.ends_at, w.timezone, w.capacity,
       w.territory,
       coalesce(b.enrolled_parents, 0) AS enrolled_parents,
       coalesce(b.enrolled_people, 0) AS enrolled_people,
       coalesce(b.waitlisted_parents, 0) AS waitlisted_parents,
       coalesce(b.waitlisted_people, 0) AS waitlisted_people,
       coalesce(b.attended_enrolments, 0) AS attended_enrolments,
       coalesce(b.attended_enrolment_people, 0) AS attended_enrolment_people,
       coalesce(b.no_shows, 0) AS no_shows,
       coalesce(b.excused, 0) AS excused,
       coalesce(b.not_recorded, 0) AS not_recorded,
       coalesce(b.autonomy_yes, 0) AS autonomy_yes,
       coalesce(b.autonomy_not_yet, 0) AS autonomy_not_yet,
       coalesce(k.walk_ins, 0) AS walk_ins,
       coalesce(k.walk_in_people, 0) AS walk_in_people,
       coalesce(s.languages, '{{}}'::jsonb) AS languages
FROM w
LEFT JOIN booked b ON b.workshop_id = w.id
LEFT JOIN walk k ON k.workshop_id = w.id
LEFT JOIN spoken s ON s.workshop_id = w.id
ORDER BY w.starts_at, w.ref
"""
_ONE = _FIGURES.format(where="id = %(id)s")
_PERIOD = _FIGURES.format(
    where="status <> 'draft' AND starts_at >= %(start)s AND starts_at < %(end)s "
    "AND (%(territory)s::text IS NULL OR territory = %(territory)s) "
    "AND (%(ids)s::bigint[] IS NULL OR id = ANY(%(ids)s::bigint[]))"
)


async def for_workshop(connection: AsyncConnection[Any], workshop_id: int) -> WorkshopFigures:
    """The figures of one workshop, whatever its status (one query); UnknownWorkshop if none."""
    rows = await _rows(connection, _ONE, {"id": workshop_id})
    if not rows:
        raise UnknownWorkshop(f"no workshop with id {workshop_id}")
    return rows[0]


async def for_period(
    connection: AsyncConnection[Any],
    start: datetime,
    end: datetime,
    *,
    territory: str | None = None,
    workshop_ids: Collection[int] | None = None,
) -> PeriodFigures:
    """The workshops starting in `[start, end)` (aware datetimes), drafts left out, of
    `territory` only when given, among `workshop_ids` only when given (an organiser's own):
    totals and one row per published workshop, cancelled ones apart. One query (CTEs
    aggregating enrolments, walk-ins, outcomes and languages)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    ids = None if workshop_ids is None else sorted(workshop_ids)
    rows = await _rows(
        connection,
        _PERIOD,
        {"start": start, "end": end, "territory": territory, "ids": ids},
    )
    published = tuple(row for row in rows if row.status == "published")
    return PeriodFigures(
        start=start,
        end=end,
        territory=territory,
        totals=total(row.figures for row in published),
        workshops=published,
        cancelled=tuple(row for row in rows if row.status == "cancelled"),
    )


def total(figures: Iterable[Figures]) -> Figures:
    """The sum of several workshops' figures; rates follow from the sums (module docs)."""
    items = list(figures)
    languages: Counter[str] = Counter()
    for item in items:
        languages.update(item.languages)
    bases = {item.fill_basis for item in items}
    return Figures(
        **{name: sum(getattr(item, name) for item in items) for name in _COUNTS},
        fill_basis=bases.pop() if len(bases) == 1 else ("mixed" if bases else "booked"),
        languages=_ordered(languages),
        autonomy=sum((item.autonomy for item in items), Autonomy()),
    )


_COUNTS = (
    "enrolled_parents",
    "enrolled_people",
    "waitlisted_parents",
    "waitlisted_people",
    "attended_parents",
    "attended_people",
    "walk_ins",
    "walk_in_people",
    "no_shows",
    "excused",
    "not_recorded",
    "capacity",
    "filled_people",
)


async def _rows(
    connection: AsyncConnection[Any], query: str, params: dict[str, Any]
) -> list[WorkshopFigures]:
    async with connection.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(query, params)
        rows = await cursor.fetchall()
    return [_workshop(row) for row in rows]


def _workshop(row: dict[str, Any]) -> WorkshopFigures:
    walk_ins, walk_in_people = int(row["walk_ins"]), int(row["walk_in_people"])
    attended_parents = int(row["attended_enrolments"]) + walk_ins
    attended_people = int(row["attended_enrolment_people"]) + walk_in_people
    door_open = attended_parents + int(row["no_shows"]) + int(row["excused"]) > 0
    attended = int(row["attended_enrolments"])
    yes, not_yet = int(row["autonomy_yes"]), int(row["autonomy_not_yet"])
    figures = Figures(
        enrolled_parents=int(row["enrolled_parents"]),
        enrolled_people=int(row["enrolled_people"]),
        waitlisted_parents=int(row["waitlisted_parents"]),
        waitlisted_people=int(row["waitlisted_people"]),
        attended_parents=attended_parents,
        attended_people=attended_people,
        walk_ins=walk_ins,
        walk_in_people=walk_in_people,
        no_shows=int(row["no_shows"]),
        excused=int(row["excused"]),
        not_recorded=int(row["not_recorded"]),
        capacity=int(row["capacity"]),
        filled_people=attended_people if door_open else int(row["enrolled_people"]),
        fill_basis="present" if door_open else "booked",
        languages=_ordered(Counter({str(k): int(v) for k, v in row["languages"].items()})),
        autonomy=Autonomy(yes=yes, not_yet=not_yet, no_answer=attended - yes - not_yet),
    )
    return WorkshopFigures(
        id=int(row["id"]),
        ref=row["ref"],
        title=row["title"],
        status=row["status"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        timezone=row["timezone"],
        territory=row["territory"],
        figures=figures,
    )


def _ordered(counts: Counter[str]) -> dict[str, int]:
    """Most frequent first, then by code, "unknown" last; zero counts dropped."""
    items = [(code, n) for code, n in counts.items() if n > 0]
    items.sort(key=lambda item: (item[0] == UNKNOWN_LANGUAGE, -item[1], item[0]))
    return dict(items)
