"""The school staff's families page (`/staff/familles`): for each school of the account, its
families by language and by channel, its join code and how parents use it; the families CSV
import (multipart field `fichier`, 2 MB at most) with its result; the report of the rejected
rows of the account's last import (`/staff/familles/rapport.csv`).

Who sees which school is `staff.scopes.school_ids` (admins: every school; school staff: the
schools of `staff_school`). An import only writes into those schools: a row naming another
school is rejected like a typo, in the report. The report is the importing account's own, only.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from psycopg import AsyncConnection
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from schools import families_csv, hours, imports, store
from schools.csv_files import InvalidFile
from staff import audit, scopes
from staff.site import SECURITY_HEADERS, StaffRequest

if TYPE_CHECKING:
    from staff.site import StaffSite

SCHOOL_STAFF = frozenset({"school"})
LANGUAGE_LABELS = {
    "fr": "Français",
    "en": "Anglais",
    "ar": "Arabe",
    "tr": "Turc",
    "pt": "Portugais",
    "es": "Espagnol",
}
CHANNEL_LABELS = {"sms": "SMS", "telegram": "Telegram", "web": "Chat du site"}
SHOWN_REJECTED = 200

# One row per family and school: its language, channel, whether every one of its contacts
# wrote STOP, whether it joined by itself.
_COUNTS = """
WITH families AS (
    SELECT fs.school_id, f.id, coalesce(f.language, '') AS language,
           coalesce(f.preferred_channel, '') AS channel,
           bool_or(fs.source = 'join') AS joined,
           coalesce((SELECT bool_and(c.opted_out_at IS NOT NULL) FROM family_contact fc
                     JOIN contact c ON c.id = fc.contact_id WHERE fc.family_id = f.id), false)
               AS opted_out
    FROM family_school fs JOIN family f ON f.id = fs.family_id
    WHERE fs.school_id = ANY(%s)
    GROUP BY fs.school_id, f.id
)
SELECT school_id, language, channel, joined, opted_out, count(*)
FROM families GROUP BY 1, 2, 3, 4, 5
"""


@dataclass
class Figures:
    """A school's families, counted."""

    total: int = 0
    languages: Counter[str] = field(default_factory=Counter)
    channels: Counter[str] = field(default_factory=Counter)
    joined: int = 0  # joined by themselves with the code
    opted_out: int = 0  # every contact wrote STOP


@dataclass(frozen=True)
class Card:
    school: store.School
    figures: Figures
    hours: str
    web_link: str


def routes(site: StaffSite) -> list[BaseRoute]:
    pages = FamilyPages(site)
    page = site.page(SCHOOL_STAFF)
    return [
        Route("/familles", page(pages.index), methods=["GET"]),
        Route("/familles/import", page(pages.import_file), methods=["POST"]),
        Route("/familles/rapport.csv", page(pages.report), methods=["GET"]),
    ]


class FamilyPages:
    def __init__(self, site: StaffSite) -> None:
        self.site = site

    async def index(self, staff: StaffRequest) -> Response:
        async with self.site.pool.connection() as connection:
            schools = await _schools(connection, staff)
            figures = await _figures(connection, [school.id for school in schools])
            last = await imports.last(connection, staff.account.id)
        cards = [
            Card(
                school=school,
                figures=figures.get(school.id, Figures()),
                hours=hours.format_fr(school.opening_hours),
                web_link=f"{self.site.public_url}/?ecole={school.join_code}",
            )
            for school in schools
        ]
        return self.site.render(
            "families_list.html",
            staff=staff,
            cards=cards,
            last=last,
            last_at=_when(last.created_at, schools[0].timezone if schools else "Europe/Paris")
            if last
            else "",
            languages=LANGUAGE_LABELS,
            channels=CHANNEL_LABELS,
        )

    async def import_file(self, staff: StaffRequest) -> Response:
        data = staff.files.get("fichier")
        if not data:
            return self._result(staff, problems=["Choisissez un fichier CSV à importer."])
        now = datetime.now(UTC)
        try:
            async with self.site.pool.connection() as connection, connection.transaction():
                allowed = {school.uai: school.id for school in await _schools(connection, staff)}
                result = await imports.run(
                    connection,
                    data,
                    languages=self.site.config.languages,
                    now=now,
                    allowed=allowed,
                )
                await imports.remember(
                    connection,
                    account_id=staff.account.id,
                    result=result,
                    now=now,
                )
                await audit.record(
                    connection,
                    staff.account.id,
                    "families.imported",
                    "school",
                    ",".join(str(school_id) for school_id in result.school_ids),
                    {
                        "rows": result.rows,
                        "imported": result.imported,
                        "rejected": len(result.rejected),
                        "families_created": result.saved.families_created,
                    },
                    at=now,
                )
        except InvalidFile as error:
            return self._result(staff, problems=error.problems)
        return self._result(staff, result=result)

    def _result(
        self,
        staff: StaffRequest,
        *,
        result: imports.Result | None = None,
        problems: list[str] | None = None,
    ) -> Response:
        return self.site.render(
            "families_import.html",
            staff=staff,
            status=422 if problems else 200,
            problems=problems or [],
            result=result,
            rejected=result.rejected[:SHOWN_REJECTED] if result else [],
            required=families_csv.REQUIRED,
        )

    async def report(self, staff: StaffRequest) -> Response:
        async with self.site.pool.connection() as connection:
            text = await imports.last_report(connection, staff.account.id)
        if text is None:
            return self.site.error(staff, 404, "Pas encore d'import : pas de rapport.")
        headers = {
            **SECURITY_HEADERS,
            "Content-Disposition": 'attachment; filename="familles-lignes-rejetees.csv"',
        }
        return Response(text, media_type="text/csv; charset=utf-8", headers=headers)


async def _schools(connection: AsyncConnection[Any], staff: StaffRequest) -> list[store.School]:
    """The schools the account works for (admins: all)."""
    ids = await scopes.school_ids(connection, staff.account)
    return await store.load(connection, sorted(ids) if ids is not None else None)


async def _figures(connection: AsyncConnection[Any], school_ids: list[int]) -> dict[int, Figures]:
    cursor = await connection.execute(_COUNTS, (school_ids,))
    found: dict[int, Figures] = {}
    for school_id, language, channel, joined, opted_out, count in await cursor.fetchall():
        figures = found.setdefault(int(school_id), Figures())
        figures.total += count
        figures.languages[language] += count
        figures.channels[channel] += count
        figures.joined += count if joined else 0
        figures.opted_out += count if opted_out else 0
    return found


def _when(moment: datetime, timezone: str) -> str:
    """ "3 décembre 2026, 14:05" on the clock of the account's (first) school."""
    return format_datetime(moment, "d MMMM y, HH:mm", tzinfo=ZoneInfo(timezone), locale="fr")
