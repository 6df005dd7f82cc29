"""The figures pages of the staff site, against the real app and PostgreSQL: the numbers,
the charts, the CSV downloads, one workshop's page, and every kind of bad query.

The data is committed once for the module (the app reads it on its own connections; the tests
only read it) under a territory of its own, in March 2019: past, so no reminder, follow-up or
"next workshops" list ever picks it up. The seeding helpers are those of tests/test_figures.py,
which checks each number in detail.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import httpx
import pytest
from staff_helpers import make_account
from test_figures import _enrolment, _held_workshop, _workshop

from staff.figure_pages import _choices, school_year
from workshops import figures_csv

NBSP = "\xa0"
MARCH = datetime(2019, 3, 4, 14, 0, tzinfo=UTC)
PERIOD = "du=2019-03-01&au=2019-03-31"
HOSTILE = "<script>alert(1)</script> Pronote & ENT"


@dataclass(frozen=True)
class Seeded:
    territory: str
    held: str  # refs
    booked: str
    cancelled: str
    draft: str
    later: str

    @property
    def query(self) -> str:
        return f"{PERIOD}&{httpx.QueryParams({'territoire': self.territory})}"


@pytest.fixture(scope="module")
async def seeded(pool) -> Seeded:
    """A held workshop (every kind of enrolment, walk-ins, answers), one booked but not held
    yet, a cancelled one, a draft and one in April, all in one new territory."""
    territory = f"staff-figures-{uuid.uuid4()}"
    async with pool.connection() as connection:
        held = await _held_workshop(connection, territory, starts_at=MARCH, title=HOSTILE)
        booked = await _workshop(
            connection, territory, starts_at=MARCH + timedelta(days=1), title="ENT en famille"
        )
        await _enrolment(connection, booked, people=3)
        await _enrolment(connection, booked, people=2, status="waitlisted", language="ar")
        cancelled = await _workshop(
            connection, territory, starts_at=MARCH, status="cancelled", title="Atelier annulé"
        )
        await _enrolment(connection, cancelled, people=5)
        draft = await _workshop(connection, territory, status="draft", title="Brouillon caché")
        later = await _workshop(
            connection, territory, starts_at=datetime(2019, 4, 1, 8, tzinfo=UTC), title="Avril"
        )
        ids = [held, booked, cancelled, draft, later]
        cursor = await connection.execute("SELECT id, ref FROM workshop WHERE id = ANY(%s)", (ids,))
        refs = dict(await cursor.fetchall())
    return Seeded(territory, *(refs[i] for i in ids))


@pytest.fixture
async def organiser(live_server_url, pool, staff_clients, seeded) -> httpx.Client:
    """Signed in as the organiser of the seeded workshops (organisers see their own only)."""
    refs = [seeded.held, seeded.booked, seeded.cancelled, seeded.draft, seeded.later]
    async with pool.connection() as connection:
        cursor = await connection.execute("SELECT id FROM workshop WHERE ref = ANY(%s)", (refs,))
        ids = [int(row[0]) for row in await cursor.fetchall()]
    account = await make_account(pool, workshops=ids)
    client, _ = staff_clients.sign_in(live_server_url, account.email)
    return client


def figure(html: str, key: str) -> str:
    found = re.search(rf'data-figure="{key}">([^<]*)<', html)
    assert found is not None, f"no {key} on the page"
    return found.group(1)


def csv_rows(data: bytes) -> tuple[list[str], list[dict[str, str]]]:
    assert data.startswith(b"\xef\xbb\xbf")
    reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig")), delimiter=";")
    rows = list(reader)
    return list(reader.fieldnames or ()), rows


# -- the period page -------------------------------------------------------------------------


async def test_the_period_page_shows_the_totals_charts_and_workshops(organiser, seeded) -> None:
    answer = organiser.get(f"/staff/chiffres?{seeded.query}")

    assert answer.status_code == 200
    html = answer.text
    assert "du 1 mars 2019 au 31 mars 2019" in html
    # Totals: the held workshop and the booked one; not the cancelled, draft, nor April one.
    assert figure(html, "enrolled") == "8"
    assert figure(html, "waitlisted") == "2"
    assert figure(html, "attended") == "6"
    assert figure(html, "no_show_rate") == f"20{NBSP}%"
    assert figure(html, "fill_rate") == f"81{NBSP}%"  # 13 of 16 seats
    assert figure(html, "autonomy_yes") == "1"
    assert "14 pers." in html and "10 pers., dont 2 sans inscription" in html
    # The charts, inline: totals (5) and one bar per workshop.
    assert html.count("<svg ") == 6
    assert "Remplissage par atelier" in html and "Autonomie à 7 jours" in html
    assert "<script" not in html and "style=" not in html  # shown under the CSP
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Pronote &amp; ENT" in html
    table = html[html.index('data-testid="figures-workshops"') :]
    table, cancelled = table.split('data-testid="figures-cancelled"')
    assert f'href="/staff/ateliers/{seeded.held}/chiffres"' in table
    assert f'href="/staff/ateliers/{seeded.booked}/chiffres"' in table
    assert "4 mars 2019 14:00" in table and "ENT en famille" in table
    assert f"125{NBSP}%" in table and f"38{NBSP}%" in table  # 10 / 8 and 3 / 8 seats
    assert "Atelier annulé" in cancelled and "Atelier annulé" not in table
    assert "Brouillon caché" not in html and "Avril" not in html
    assert f"/staff/chiffres.csv?{seeded.query.replace('&', '&amp;')}" in html
    assert answer.headers["content-security-policy"].startswith("default-src 'self'")


async def test_the_territories_are_offered_in_a_list(organiser, seeded) -> None:
    html = organiser.get(f"/staff/chiffres?{seeded.query}").text

    assert f'<option value="{seeded.territory}" selected>' in html
    assert '<option value="">Tous les territoires</option>' in html


def test_too_many_territories_make_a_text_field_and_the_one_asked_is_kept() -> None:
    assert _choices(None, "Est") is None
    assert _choices(["Nord", "Sud"], "Est") == ["Est", "Nord", "Sud"]
    assert _choices(["Nord", "Sud"], None) == ["Nord", "Sud"]


async def test_an_empty_period_says_so(organiser, seeded) -> None:
    territory = httpx.QueryParams({"territoire": seeded.territory})
    html = organiser.get(f"/staff/chiffres?du=2019-05-01&au=2019-05-31&{territory}").text

    assert "Aucun atelier publié sur cette période." in html
    assert figure(html, "enrolled") == "0"
    assert figure(html, "no_show_rate") == "—" and figure(html, "fill_rate") == "—"
    assert "Pas encore de données" in html


async def test_without_dates_the_period_is_the_current_school_year(organiser) -> None:
    today = datetime.now(ZoneInfo("Europe/Paris")).date()
    first, last = school_year(today)

    html = organiser.get("/staff/chiffres").text

    assert f'name="du" value="{first.isoformat()}"' in html
    assert f'name="au" value="{last.isoformat()}"' in html
    assert (first.month, first.day, last.month, last.day) == (9, 1, 8, 31)
    assert first <= today <= last
    assert f'href="/staff/chiffres?du={today.replace(day=1).isoformat()}&amp;au=' in html
    previous = f"du={first.replace(year=first.year - 1).isoformat()}"
    assert f"{previous}&amp;au={last.replace(year=last.year - 1).isoformat()}" in html


@pytest.mark.parametrize(
    ("today", "year"),
    [
        (date(2024, 9, 1), (date(2024, 9, 1), date(2025, 8, 31))),
        (date(2025, 8, 31), (date(2024, 9, 1), date(2025, 8, 31))),
        (date(2025, 1, 15), (date(2024, 9, 1), date(2025, 8, 31))),
    ],
)
def test_the_school_year_runs_from_september_to_august(today, year) -> None:
    assert school_year(today) == year


# -- CSV -------------------------------------------------------------------------------------


async def test_the_period_csv_has_a_row_per_workshop(organiser, seeded) -> None:
    answer = organiser.get(f"/staff/chiffres.csv?{seeded.query}")

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == (
        'attachment; filename="ateliers-chiffres-2019-03-01-2019-03-31.csv"'
    )
    header, rows = csv_rows(answer.content)
    assert tuple(header) == figures_csv.COLUMNS
    assert [(row["ref"], row["status"]) for row in rows] == [
        (seeded.held, "published"),
        (seeded.booked, "published"),
        (seeded.cancelled, "cancelled"),
    ]
    held, booked = rows[0], rows[1]
    assert (held["enrolled_parents"], held["attended_parents"], held["walk_ins"]) == ("7", "6", "2")
    assert (held["no_show_rate_pct"], held["fill_rate_pct"]) == ("20,0", "125,0")
    assert (held["autonomy_yes"], held["lang_ar"], held["territory"]) == (
        "1",
        "2",
        seeded.territory,
    )
    assert (booked["enrolled_people"], booked["waitlisted_people"]) == ("3", "2")
    assert (booked["no_show_rate_pct"], booked["fill_rate_pct"]) == ("", "37,5")


def test_without_a_session_the_pages_send_to_the_sign_in_page(live_server_url) -> None:
    for path in (
        f"/staff/chiffres?{PERIOD}",
        f"/staff/chiffres.csv?{PERIOD}",
        "/staff/ateliers/x/chiffres",
        "/staff/ateliers/x/chiffres.csv",
    ):
        answer = httpx.get(f"{live_server_url}{path}")
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/staff/connexion?suite=/staff/"), path


# -- one workshop ------------------------------------------------------------------------------


async def test_a_workshop_page_shows_its_numbers_and_charts(organiser, seeded) -> None:
    answer = organiser.get(f"/staff/ateliers/{seeded.held}/chiffres")

    assert answer.status_code == 200
    html = answer.text
    assert "<h1>&lt;script&gt;alert(1)&lt;/script&gt; Pronote &amp; ENT</h1>" in html
    assert "lundi 4 mars 2019, 14:00 – 16:00" in html and seeded.territory in html
    assert figure(html, "enrolled") == "7"
    assert figure(html, "waitlisted") == "1"
    assert figure(html, "attended") == "6"
    assert figure(html, "no_show_rate") == f"20{NBSP}%"
    assert figure(html, "fill_rate") == f"125{NBSP}%"
    assert figure(html, "autonomy_yes") == "1"
    assert html.count("<svg ") == 5
    assert "Langues des parents" in html and "arabe" in html
    assert f'href="/staff/ateliers/{seeded.held}/chiffres.csv"' in html


async def test_a_cancelled_or_draft_workshop_has_its_page_too(organiser, seeded) -> None:
    cancelled = organiser.get(f"/staff/ateliers/{seeded.cancelled}/chiffres")
    draft = organiser.get(f"/staff/ateliers/{seeded.draft}/chiffres")

    assert cancelled.status_code == 200 and "annulé" in cancelled.text
    assert figure(cancelled.text, "enrolled") == "1"
    assert draft.status_code == 200 and "brouillon" in draft.text


async def test_a_workshop_csv_is_its_one_row(organiser, seeded) -> None:
    answer = organiser.get(f"/staff/ateliers/{seeded.held}/chiffres.csv")

    assert answer.status_code == 200
    assert answer.headers["content-disposition"] == (
        f'attachment; filename="atelier-{seeded.held}-chiffres.csv"'
    )
    header, rows = csv_rows(answer.content)
    assert tuple(header) == figures_csv.COLUMNS
    assert len(rows) == 1 and rows[0]["ref"] == seeded.held
    assert rows[0]["title"] == HOSTILE and rows[0]["attended_people"] == "10"


@pytest.mark.parametrize(
    "ref",
    [
        pytest.param("no-such-workshop", id="unknown"),
        pytest.param("x" * 300, id="too long"),
        pytest.param("a%00b", id="nul"),
        pytest.param("%C3%A9t%C3%A9%20%3Cb%3E", id="accents and markup"),
    ],
)
async def test_an_unknown_workshop_is_a_404_page(organiser, ref) -> None:
    for suffix in ("", ".csv"):
        answer = organiser.get(f"/staff/ateliers/{ref}/chiffres{suffix}")
        assert answer.status_code == 404
        assert "Aucun atelier ne porte cette référence" in answer.text
        assert "<b>" not in answer.text


# -- bad queries -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        pytest.param("du=hier&au=2019-03-31", "« hier » n'est pas une date", id="not a date"),
        pytest.param("du=2019-02-30&au=2019-03-31", "« 2019-02-30 » n'est pas", id="30 feb"),
        pytest.param("du=20190301&au=20190331", "n'est pas une date", id="compact iso"),
        pytest.param("du=2019-03-01", "Indiquez la date de fin", id="no end"),
        pytest.param("au=2019-03-01", "Indiquez la date de début", id="no start"),
        pytest.param(
            "du=2019-03-31&au=2019-03-01",
            "La date de fin (1 mars 2019) est avant la date de début (31 mars 2019)",
            id="end before start",
        ),
        pytest.param("du=2014-01-01&au=2019-01-01", "La période dépasse 5 ans", id="over 5 years"),
        pytest.param("du=1999-12-31&au=2000-01-31", "entre 2000 et 2199", id="too early"),
        pytest.param("du=2019-01-01&au=9999-12-31", "entre 2000 et 2199", id="too late"),
        pytest.param(f"du={'9' * 5000}&au=2019-01-01", "n'est pas une date", id="huge date"),
        pytest.param(
            f"du=2019-03-01&au=2019-03-31&territoire={'x' * 5000}",
            "Le territoire fait plus de 200 caractères",
            id="huge territory",
        ),
        pytest.param(
            "du=2019-03-01&au=2019-03-31&territoire=a%00b",
            "caractères invisibles",
            id="nul in territory",
        ),
    ],
)
async def test_a_bad_query_gets_a_clear_message(organiser, query, message) -> None:
    page = organiser.get(f"/staff/chiffres?{query}")
    download = organiser.get(f"/staff/chiffres.csv?{query}")

    assert page.status_code == 400
    assert message in unescape(page.text)
    assert '<form method="get" action="/staff/chiffres"' in page.text  # to try again
    assert "data-figure" not in page.text
    assert len(page.text) < 20_000  # the huge input is not echoed back
    assert download.status_code == 400 and message in unescape(download.text)
    assert download.headers["content-type"].startswith("text/html")


async def test_five_years_to_the_day_is_the_longest_period(organiser) -> None:
    longest = organiser.get("/staff/chiffres?du=2016-03-01&au=2021-02-28")
    longer = organiser.get("/staff/chiffres?du=2016-03-01&au=2021-03-01")

    assert longest.status_code == 200 and longer.status_code == 400


async def test_a_territory_no_workshop_has_shows_nothing_and_keeps_it(organiser) -> None:
    answer = organiser.get(f"/staff/chiffres?{PERIOD}&territoire=Nulle+part+%3Cb%3E")

    assert answer.status_code == 200
    assert figure(answer.text, "enrolled") == "0"
    assert '<option value="Nulle part &lt;b&gt;" selected>' in answer.text


# -- who may read them -----------------------------------------------------------------------


async def test_an_account_without_a_role_may_not_read_the_figures(
    live_server_url, pool, staff_clients, seeded
) -> None:
    account = await make_account(pool)
    async with pool.connection() as connection:
        await connection.execute(
            "UPDATE staff_account SET roles = '{}' WHERE id = %s", (account.id,)
        )
    client, _ = staff_clients.sign_in(live_server_url, account.email)

    for path in (
        f"/staff/chiffres?{seeded.query}",
        f"/staff/chiffres.csv?{seeded.query}",
        f"/staff/ateliers/{seeded.held}/chiffres",
        f"/staff/ateliers/{seeded.held}/chiffres.csv",
    ):
        answer = client.get(path)
        assert answer.status_code == 403, path
        assert "Votre compte n'a pas accès à cette page." in unescape(answer.text)
        assert "data-figure" not in answer.text and "ref;title" not in answer.text


async def test_an_admin_may_read_the_figures(live_server_url, pool, staff_clients, seeded) -> None:
    account = await make_account(pool, roles=("admin",))
    client, _ = staff_clients.sign_in(live_server_url, account.email)

    answer = client.get(f"/staff/chiffres?{seeded.query}")

    assert answer.status_code == 200 and figure(answer.text, "enrolled") == "8"
