"""Figures for organisers and funders (real PostgreSQL): each definition on a seeded workshop,
period boundaries, drafts and cancelled workshops, the charts as well-formed SVG that write
their values, and the CSV export.

Every test seeds its data on its own connection and rolls it back at the end, under a
territory of its own: nothing it adds is seen by other tests, nor theirs by its figures.
"""

from __future__ import annotations

import csv
import io
import re
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from workshops import charts, figures, figures_csv, store
from workshops.records import build

SVG = "{http://www.w3.org/2000/svg}"
NBSP = "\xa0"  # Babel's French "45 %"
MONDAY = datetime(2041, 3, 4, 14, 0, tzinfo=UTC)


@pytest.fixture
async def connection(database) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A connection whose whole test is one transaction, rolled back at the end."""
    async with await psycopg.AsyncConnection.connect(database.url) as connection:
        yield connection
        await connection.rollback()


@pytest.fixture
def territory() -> str:
    return f"figures-{uuid.uuid4()}"


async def _workshop(
    connection,
    territory: str,
    *,
    starts_at: datetime = MONDAY,
    capacity: int = 8,
    status: str = "published",
    title: str = "Pronote pas à pas",
) -> int:
    ref = f"fig-{uuid.uuid4().hex[:12]}"
    workshop = build(
        {
            "ref": ref,
            "title": title,
            "starts_at": starts_at.strftime("%Y-%m-%d %H:%M"),
            "ends_at": (starts_at + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M"),
            "timezone": "UTC",
            "capacity": str(capacity),
            "status": status,
            "venue_name": "Médiathèque",
            "venue_address": "2 place de la Mairie",
            "territory": territory,
        }
    )
    await store.save(connection, [workshop], datetime.now(UTC))
    cursor = await connection.execute("SELECT id FROM workshop WHERE ref = %s", (ref,))
    row = await cursor.fetchone()
    return int(row[0])


async def _enrolment(
    connection,
    workshop_id: int,
    *,
    people: int = 1,
    status: str = "confirmed",
    attendance: str | None = None,
    language: str | None = "fr",
    answers: tuple[tuple[str, str, int], ...] = (),  # (kind, answer, days after the start)
) -> int:
    now = datetime.now(UTC)
    cursor = await connection.execute(
        "INSERT INTO contact (channel, address, language, created_at, last_seen_at) "
        "VALUES ('web', %s, %s, %s, %s) RETURNING id",
        (f"fig-{uuid.uuid4()}", language, now, now),
    )
    (contact_id,) = await cursor.fetchone()
    cursor = await connection.execute(
        "INSERT INTO enrolment (workshop_id, contact_id, people, status, attendance, "
        "created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (workshop_id, contact_id, people, status, attendance, now, now),
    )
    (enrolment_id,) = await cursor.fetchone()
    for kind, answer, days in answers:
        await connection.execute(
            "INSERT INTO outcome (enrolment_id, kind, answer, recorded_at) VALUES (%s, %s, %s, %s)",
            (enrolment_id, kind, answer, MONDAY + timedelta(days=days)),
        )
    return int(enrolment_id)


async def _walk_in(connection, workshop_id: int, people: int, language: str | None) -> None:
    await connection.execute(
        "INSERT INTO walk_in (workshop_id, people, language, created_at) VALUES (%s, %s, %s, %s)",
        (workshop_id, people, language, datetime.now(UTC)),
    )


async def _held_workshop(connection, territory: str, **options: Any) -> int:
    """A session that took place: every kind of enrolment, walk-ins, day-7 answers."""
    workshop_id = await _workshop(connection, territory, **options)
    add = _enrolment
    # Latest answer counts: "not yet" on day 7, "yes" on day 9.
    await add(
        connection,
        workshop_id,
        people=2,
        attendance="attended",
        language="ar",
        answers=(("autonomy", "not_yet", 7), ("autonomy", "yes", 9)),
    )
    # Two answers at the same moment: the one recorded last counts.
    await add(
        connection,
        workshop_id,
        attendance="attended",
        language="fr",
        answers=(("autonomy", "yes", 7), ("autonomy", "not_yet", 7)),
    )
    # Came, never answered (another kind of follow-up does not count).
    await add(
        connection,
        workshop_id,
        people=3,
        attendance="attended",
        language="tr",
        answers=(("day_after", "yes", 1),),
    )
    # A no-show's answer is not an outcome of the workshop.
    await add(
        connection,
        workshop_id,
        attendance="no_show",
        language="fr",
        answers=(("autonomy", "yes", 7),),
    )
    await add(connection, workshop_id, people=2, attendance="excused", language=None)
    await add(connection, workshop_id, status="offered", language="pt-BR")  # not marked yet
    await add(connection, workshop_id, people=2, status="waitlisted", language="en")
    await add(connection, workshop_id, people=4, status="cancelled", language="es")
    await add(connection, workshop_id, status="expired", language="es")
    # Cancelled, then came anyway: enrolled and attended.
    await add(connection, workshop_id, status="cancelled", attendance="attended", language="EN")
    await _walk_in(connection, workshop_id, 2, "ar")
    await _walk_in(connection, workshop_id, 1, None)
    return workshop_id


async def test_every_figure_of_a_held_workshop(connection, territory) -> None:
    workshop_id = await _held_workshop(connection, territory, capacity=8)

    row = await figures.for_workshop(connection, workshop_id)
    f = row.figures

    assert (row.id, row.status, row.territory) == (workshop_id, "published", territory)
    # Enrolled: confirmed or offered, plus a cancelled parent who came; not waiting, not gone.
    assert (f.enrolled_parents, f.enrolled_people) == (7, 2 + 1 + 3 + 1 + 2 + 1 + 1)
    assert (f.waitlisted_parents, f.waitlisted_people) == (1, 2)
    # Attended: 4 enrolments and 2 walk-ins; people 2 + 1 + 3 + 1, plus 2 + 1 walking in.
    assert (f.attended_parents, f.attended_people) == (6, 10)
    assert (f.walk_ins, f.walk_in_people) == (2, 3)
    assert (f.no_shows, f.excused, f.not_recorded) == (1, 1, 1)
    # Every enrolled parent is exactly one of attended, no-show, excused, not recorded.
    assert f.attended_parents - f.walk_ins + f.no_shows + f.excused + f.not_recorded == 7
    assert f.no_show_rate == pytest.approx(1 / 5)  # 1 no-show, 4 enrolments attended
    # The door is open: fill counts the people present, walk-ins beyond the capacity too.
    assert (f.fill_basis, f.filled_people, f.capacity) == ("present", 10, 8)
    assert f.fill_rate == pytest.approx(1.25)
    # Enrolled parents and walk-ins; no language is "unknown", pt-BR is pt, EN is en.
    assert list(f.languages.items()) == [
        ("ar", 2),
        ("fr", 2),
        ("en", 1),
        ("pt", 1),
        ("tr", 1),
        ("unknown", 2),
    ]
    assert f.autonomy == figures.Autonomy(yes=1, not_yet=1, no_answer=2)


async def test_before_the_session_the_fill_rate_counts_the_enrolled(connection, territory) -> None:
    workshop_id = await _workshop(connection, territory, capacity=10)
    await _enrolment(connection, workshop_id, people=3)
    await _enrolment(connection, workshop_id, people=2, status="offered")
    await _enrolment(connection, workshop_id, people=4, status="waitlisted")

    f = (await figures.for_workshop(connection, workshop_id)).figures

    assert (f.enrolled_parents, f.enrolled_people, f.not_recorded) == (2, 5, 2)
    assert (f.fill_basis, f.filled_people, f.fill_rate) == ("booked", 5, 0.5)
    assert f.no_show_rate is None  # nobody marked yet: no rate, no division by zero
    assert (f.attended_parents, f.autonomy.total) == (0, 0)


async def test_a_workshop_without_enrolments(connection, territory) -> None:
    workshop_id = await _workshop(connection, territory, capacity=12)

    f = (await figures.for_workshop(connection, workshop_id)).figures

    assert f == figures.Figures(capacity=12)
    assert f.no_show_rate is None
    assert f.fill_rate == 0.0  # 0 of 12 seats is a fact, not a missing figure
    for chart in (
        charts.attendance_chart(f),
        charts.people_chart(f),
        charts.languages_chart(f),
        charts.autonomy_chart(f),
    ):
        assert charts.NO_DATA in _texts(_parse(chart))
    assert "Places libres : 12 (100" in _texts(_parse(charts.fill_chart(f)))


async def test_an_unknown_workshop_is_an_error(connection) -> None:
    with pytest.raises(figures.UnknownWorkshop):
        await figures.for_workshop(connection, -1)


async def test_a_period_takes_the_workshops_starting_in_it(connection, territory) -> None:
    start, end = MONDAY, MONDAY + timedelta(days=7)
    first = await _held_workshop(connection, territory, starts_at=start, capacity=8)
    last = await _workshop(connection, territory, starts_at=end - timedelta(minutes=1))
    await _enrolment(connection, last, people=3)
    await _enrolment(connection, last, people=2, status="waitlisted", language="ar")
    cancelled = await _workshop(connection, territory, starts_at=start, status="cancelled")
    await _enrolment(connection, cancelled, people=5)
    await _workshop(connection, territory, starts_at=start, status="draft")
    await _workshop(connection, territory, starts_at=end)  # the end is excluded
    await _workshop(connection, territory, starts_at=start - timedelta(minutes=1))
    elsewhere = await _workshop(connection, f"{territory}-other", starts_at=start)

    period = await figures.for_period(connection, start, end, territory=territory)

    assert [row.id for row in period.workshops] == [first, last]
    assert [row.id for row in period.cancelled] == [cancelled]
    assert period.cancelled[0].figures.enrolled_people == 5  # shown apart, not in the totals
    totals = period.totals
    assert (totals.enrolled_parents, totals.enrolled_people) == (8, 11 + 3)
    assert (totals.waitlisted_parents, totals.waitlisted_people) == (2, 4)
    assert (totals.attended_parents, totals.attended_people, totals.no_shows) == (6, 10, 1)
    assert totals.no_show_rate == pytest.approx(1 / 5)
    # Seats filled: 10 present at the first, 3 enrolled in the second, over 8 + 8 seats.
    assert (totals.fill_basis, totals.filled_people, totals.capacity) == ("mixed", 13, 16)
    assert totals.fill_rate == pytest.approx(13 / 16)
    assert totals.languages["fr"] == 3 and totals.languages["ar"] == 2  # waiting: not counted
    assert totals.autonomy == figures.Autonomy(yes=1, not_yet=1, no_answer=2)
    # Without a territory, every territory's workshops (and other tests' ones) are in.
    everywhere = await figures.for_period(connection, start, end)
    assert {first, last, elsewhere} <= {row.id for row in everywhere.workshops}


async def test_an_empty_period(connection, territory) -> None:
    period = await figures.for_period(connection, MONDAY, MONDAY, territory=territory)

    assert (period.workshops, period.cancelled) == ((), ())
    assert period.totals == figures.Figures()
    assert (period.totals.no_show_rate, period.totals.fill_rate) == (None, None)
    for chart in (charts.period_chart(period), charts.fill_chart(period.totals)):
        assert charts.NO_DATA in _texts(_parse(chart))


async def test_a_period_needs_aware_datetimes(connection) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await figures.for_period(connection, datetime(2041, 1, 1), datetime(2041, 2, 1))


async def test_two_hundred_workshops_and_five_thousand_enrolments(connection, territory) -> None:
    """One statement; the bound on time only catches a query per workshop or enrolment."""
    now = datetime.now(UTC)
    await connection.execute(
        "INSERT INTO workshop (ref, title, status, starts_at, ends_at, timezone, capacity, "
        "territory, created_at, updated_at) "
        "SELECT %(t)s || '-' || n, 'Atelier ' || n, 'published', %(start)s + n * interval '1h', "
        "%(start)s + n * interval '1h' + interval '30 min', 'UTC', 30, %(t)s, %(now)s, %(now)s "
        "FROM generate_series(1, 200) AS n",
        {"t": territory, "start": MONDAY, "now": now},
    )
    await connection.execute(
        "INSERT INTO contact (channel, address, language, created_at, last_seen_at) "
        "SELECT 'web', %(t)s || '-' || n, (ARRAY['fr','ar','tr','en'])[1 + n %% 4], "
        "%(now)s, %(now)s FROM generate_series(1, 25) AS n",
        {"t": territory, "now": now},
    )
    await connection.execute(
        "INSERT INTO enrolment (workshop_id, contact_id, people, status, attendance, "
        "created_at, updated_at) "
        "SELECT w.id, c.id, 2, 'confirmed', "
        "CASE WHEN c.id %% 5 = 0 THEN 'no_show' ELSE 'attended' END, %(now)s, %(now)s "
        "FROM workshop w, contact c WHERE w.territory = %(t)s AND c.address LIKE %(t)s || '-%%'",
        {"t": territory, "now": now},
    )

    counted = _Counting(connection)
    begun = time.perf_counter()
    period = await figures.for_period(
        counted, MONDAY, MONDAY + timedelta(days=30), territory=territory
    )
    elapsed = time.perf_counter() - begun

    totals = period.totals
    assert len(period.workshops) == 200
    assert (totals.enrolled_parents, totals.enrolled_people) == (5000, 10000)
    assert totals.attended_parents + totals.no_shows == 5000
    assert sum(totals.languages.values()) == 5000
    assert counted.statements == 1
    assert elapsed < 5


class _Counting:
    """The connection, counting the statements sent through it."""

    def __init__(self, connection) -> None:
        self._connection = connection
        self.statements = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        self.statements += 1
        return await self._connection.execute(*args, **kwargs)

    def cursor(self, *args: Any, **kwargs: Any) -> _CountingCursor:
        return _CountingCursor(self, self._connection.cursor(*args, **kwargs))


class _CountingCursor:
    def __init__(self, counter: _Counting, cursor: Any) -> None:
        self._counter, self._cursor = counter, cursor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)

    async def __aenter__(self) -> _CountingCursor:
        await self._cursor.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._cursor.__aexit__(*exc)

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        self._counter.statements += 1
        return await self._cursor.execute(*args, **kwargs)


# -- charts ------------------------------------------------------------------------------------


async def test_the_charts_write_their_values(connection, territory) -> None:
    f = (
        await figures.for_workshop(connection, await _held_workshop(connection, territory))
    ).figures

    attendance = _texts(_parse(charts.attendance_chart(f)))
    # 4 + 2 + 1 + 1 + 1 parents: shares rounded to add up to 100.
    for line in (
        f"Venus (inscrits) : 4 (45{NBSP}%)",
        f"Venus sans inscription : 2 (22{NBSP}%)",
        f"Absents : 1 (11{NBSP}%)",
        f"Excusés : 1 (11{NBSP}%)",
        f"Non pointés : 1 (11{NBSP}%)",
    ):
        assert line in attendance
    assert "Inscrits 11" in _texts(_parse(charts.people_chart(f)))
    languages = _texts(_parse(charts.languages_chart(f)))
    assert "arabe 2" in languages and "turc 1" in languages and "Langue inconnue 2" in languages
    assert f"Remplissage : 125{NBSP}%" in _texts(_parse(charts.fill_chart(f)))
    fill = _texts(_parse(charts.fill_chart(f)))  # shares of the 8 seats
    assert f"Places occupées : 8 (100{NBSP}%)" in fill
    assert f"Au-delà de la capacité : 2 (25{NBSP}%)" in fill
    autonomy = _texts(_parse(charts.autonomy_chart(f)))
    assert "Oui, seuls : 1" in autonomy and "Sans réponse : 2" in autonomy


def test_a_chart_is_accessible_and_fits_a_phone() -> None:
    root = _parse(charts.bar_chart("Inscrits", [("Pronote", 12), ("ENT", 3)]))

    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img" and root.get("width") == "100%"
    assert root.get("viewBox", "").startswith("0 0 360 ")
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and title.text == "Inscrits"
    assert desc is not None and desc.text == "Pronote : 12; ENT : 3."
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    sizes = [int(e.get("font-size", "14")) for e in root.iter() if e.get("font-size")]
    assert sizes and min(sizes) >= 14
    assert not [e for e in root.iter() if e.get("style")]  # shown under style-src 'self'


@pytest.mark.parametrize(
    "bars",
    [
        pytest.param([], id="no bars"),
        pytest.param([("a", 0), ("b", 0)], id="zeros"),
        pytest.param([("a", float("nan")), ("b", -3)], id="nan and negative"),
    ],
)
def test_a_chart_without_data_says_so(bars) -> None:
    chart = charts.bar_chart("Langues", bars)

    assert _texts(_parse(chart)).startswith("Langues Pas encore de données")
    assert "nan" not in chart.lower()


def test_nan_next_to_real_values_is_drawn_as_zero() -> None:
    chart = charts.bar_chart("Langues", [("a", float("nan")), ("b", 2)])

    assert "a 0" in _texts(_parse(chart)) and "nan" not in chart.lower()
    assert charts.NO_DATA in _texts(_parse(charts.stacked_bar("Présence", [("a", 0)])))


def test_hostile_text_is_escaped() -> None:
    hostile = "<script>alert(\"x\")</script> & 'Atelier' ]]> \x01\x00</svg>"
    chart = charts.bar_chart(hostile, [(hostile, 1)], description=hostile)

    root = _parse(chart)
    assert not [e for e in root.iter() if "script" in e.tag]
    clean = hostile.replace("\x01", "").replace("\x00", "")
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == clean
    assert clean in _texts(root)


async def test_a_period_chart_names_each_workshop(connection, territory) -> None:
    hostile = 'Pronote & <ENT> "parents" l\'après-midi'
    held = await _held_workshop(connection, territory, capacity=8)
    other = await _workshop(connection, territory, title=hostile, capacity=4)
    await _enrolment(connection, other)
    period = await figures.for_period(
        connection, MONDAY, MONDAY + timedelta(days=1), territory=territory
    )
    assert {row.id for row in period.workshops} == {held, other}

    texts = _texts(_parse(charts.period_chart(period)))

    assert f"1 / 4 (25{NBSP}%)" in texts and f"10 / 8 (125{NBSP}%)" in texts
    assert f"4 mars · {hostile}" in texts


# -- CSV ---------------------------------------------------------------------------------------


async def test_the_csv_has_a_row_per_workshop_with_every_figure(connection, territory) -> None:
    formula = '=HYPERLINK("http://x") ; "quoted"'
    held = await _held_workshop(connection, territory, title=formula, capacity=8)
    booked = await _workshop(connection, territory, starts_at=MONDAY + timedelta(days=1))
    await _enrolment(connection, booked, people=3, language="de")
    await _workshop(connection, territory, status="cancelled")
    period = await figures.for_period(
        connection, MONDAY, MONDAY + timedelta(days=7), territory=territory
    )

    data = figures_csv.for_period(period)

    assert data.startswith(b"\xef\xbb\xbf")  # the BOM French Excel needs
    reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig")), delimiter=";")
    rows = list(reader)
    assert tuple(reader.fieldnames or ()) == figures_csv.COLUMNS
    assert [row["status"] for row in rows] == ["published", "published", "cancelled"]
    first, second = rows[0], rows[1]
    assert first["title"] == "'" + formula  # shown as text, never run as a formula
    assert first["starts_at"] == "2041-03-04 14:00" and first["territory"] == territory
    expected = {
        "capacity": "8",
        "enrolled_parents": "7",
        "enrolled_people": "11",
        "waitlisted_parents": "1",
        "waitlisted_people": "2",
        "attended_parents": "6",
        "attended_people": "10",
        "walk_ins": "2",
        "walk_in_people": "3",
        "no_shows": "1",
        "excused": "1",
        "not_recorded": "1",
        "no_show_rate_pct": "20,0",
        "filled_people": "10",
        "fill_basis": "present",
        "fill_rate_pct": "125,0",
        "lang_fr": "2",
        "lang_en": "1",
        "lang_ar": "2",
        "lang_tr": "1",
        "lang_pt": "1",
        "lang_es": "0",
        "lang_other": "0",
        "lang_unknown": "2",
        "autonomy_yes": "1",
        "autonomy_not_yet": "1",
        "autonomy_no_answer": "2",
    }
    assert {key: first[key] for key in expected} == expected
    assert period.workshops[0].id == held and first["ref"] == period.workshops[0].ref
    assert (second["no_show_rate_pct"], second["fill_rate_pct"]) == ("", "37,5")
    assert (second["lang_other"], second["fill_basis"]) == ("1", "booked")
    without = figures_csv.for_period(period, cancelled=False).decode("utf-8-sig")
    assert len(list(csv.DictReader(io.StringIO(without), delimiter=";"))) == 2


async def test_the_csv_file_name_says_the_days(connection, territory) -> None:
    end = datetime(2041, 4, 1, tzinfo=UTC)
    period = await figures.for_period(connection, MONDAY, end, territory=territory)

    assert figures_csv.filename(period) == "ateliers-chiffres-2041-03-04-2041-03-31.csv"
    assert figures_csv.for_period(period).decode("utf-8-sig").count("\n") == 1  # header


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # raises on anything not well-formed


def _texts(root: ET.Element) -> str:
    """The chart's words as a reader sees them: title, desc and drawn text, space-joined."""
    drawn = [
        "".join(element.itertext())
        for element in root.iter()
        if element.tag in (f"{SVG}text", f"{SVG}title", f"{SVG}desc")
    ]
    return re.sub("[ \t\r\n]+", " ", " ".join(drawn)).strip()  # keeps Babel's no-break spaces
