"""The journal: the audit log (`staff.audit`) for admins, to read only.

    GET /staff/journal?compte=…&action=…&jour=AAAA-MM-JJ   the latest entries (newest first)
    GET /staff/journal.csv?…                                 the same filters, every entry, CSV

`compte` is an account's number or e-mail, `action` one of the stable action names, `jour` a
day on the clock of `liaison.timezone`. There is nothing to change or delete: no form posts
here, and the database refuses UPDATE and DELETE on `audit_log` anyway.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from psycopg import AsyncConnection
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from liaison.spreadsheet import safe_cell
from staff import accounts
from staff.site import SECURITY_HEADERS, StaffRequest

if TYPE_CHECKING:
    from staff.site import StaffSite

ADMINS = frozenset({"admin"})
PAGE_LIMIT = 200
CSV_LIMIT = 100_000
ACTIONS = {
    "sign_in.succeeded": "Connexion",
    "sign_in.failed": "Connexion refusée",
    "sign_out": "Déconnexion",
    "workshop.created": "Atelier créé",
    "workshop.edited": "Atelier modifié",
    "workshop.published": "Atelier publié",
    "workshop.cancelled": "Atelier annulé",
    "workshop.imported": "Atelier importé (CSV)",
    "attendance.marked": "Présence notée",
    "attendance.undone": "Présence effacée",
    "walk_in.added": "Venue sans inscription ajoutée",
    "walk_in.removed": "Venue sans inscription retirée",
    "checkin_code.used": "QR code d'accueil utilisé",
    "staff.created": "Compte créé",
    "grant.workshop": "Atelier confié",
    "grant.school": "École confiée",
    "mediation.granted": "Médiation accordée",
    "mediation.revoked": "Médiation retirée",
    "mediation.enrolled": "Inscription par un médiateur",
    "mediation.cancelled": "Désinscription par un médiateur",
    "mediation.language_set": "Langue changée par un médiateur",
    "staff.disabled": "Compte désactivé",
    "grant.workshop_removed": "Atelier retiré",
    "grant.school_removed": "École retirée",
    "families.imported": "Familles importées (CSV)",
    "broadcast.scheduled": "Annonce programmée",
    "broadcast.cancelled": "Annonce annulée",
    "broadcast.urgent": "Annonce urgente (heures calmes ignorées)",
    "inbox.replied": "Réponse à un parent",
    "inbox.closed": "Conversation fermée",
}
COLUMNS = ("at", "account_id", "account_email", "action", "target_type", "target_id", "detail")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ACTION = re.compile(r"[a-z_.]{1,64}")


class BadFilter(ValueError):
    """A filter the journal cannot apply, with a message for the admin."""


@dataclass(frozen=True)
class Filters:
    account: str = ""  # as typed: a number or an e-mail
    action: str = ""
    day: date | None = None

    def params(self, zone: ZoneInfo) -> dict[str, Any]:
        """The parameters of `_ENTRIES` (None: that filter is off)."""
        start = datetime.combine(self.day, time(), tzinfo=zone) if self.day else None
        return {
            "account_id": int(self.account) if self.account.isdigit() else None,
            "email": self.account if self.account and not self.account.isdigit() else None,
            "action": self.action or None,
            "start": start,
            "end": start + timedelta(days=1) if start else None,
        }


_ENTRIES = """
SELECT l.id, l.at, l.account_id, coalesce(a.email, ''), l.action, l.target_type, l.target_id,
       l.detail
FROM audit_log l LEFT JOIN staff_account a ON a.id = l.account_id
WHERE (%(account_id)s::bigint IS NULL OR l.account_id = %(account_id)s::bigint)
  AND (%(email)s::text IS NULL OR lower(a.email) = lower(%(email)s::text))
  AND (%(action)s::text IS NULL OR l.action = %(action)s::text)
  AND (%(start)s::timestamptz IS NULL
       OR (l.at >= %(start)s::timestamptz AND l.at < %(end)s::timestamptz))
ORDER BY l.at DESC, l.id DESC
LIMIT %(limit)s
"""


@dataclass(frozen=True)
class Entry:
    id: int
    at: datetime
    account_id: int | None
    account_email: str
    action: str
    target_type: str
    target_id: str
    detail: dict[str, Any]


def read_filters(params: Any) -> Filters:
    account = params.get("compte", "").strip()[:320]
    action = params.get("action", "").strip()
    day_text = params.get("jour", "").strip()
    if action and not _ACTION.fullmatch(action):
        raise BadFilter("Cette action n'existe pas.")
    day = None
    if day_text:
        try:
            if not _DAY.fullmatch(day_text):
                raise ValueError(day_text)
            day = date.fromisoformat(day_text)
        except ValueError:
            raise BadFilter("Le jour doit être une date (AAAA-MM-JJ).") from None
    return Filters(account, action, day)


async def entries(
    connection: AsyncConnection[Any], filters: Filters, zone: ZoneInfo, limit: int
) -> list[Entry]:
    """The entries matching `filters`, newest first, at most `limit`."""
    cursor = await connection.execute(_ENTRIES, {**filters.params(zone), "limit": limit})
    return [Entry(*row) for row in await cursor.fetchall()]


def routes(site: StaffSite) -> list[BaseRoute]:
    pages = JournalPages(site)
    page = site.page(ADMINS)
    return [
        Route("/journal", page(pages.index), methods=["GET"]),
        Route("/journal.csv", page(pages.export), methods=["GET"]),
    ]


class JournalPages:
    def __init__(self, site: StaffSite) -> None:
        self.site = site
        self.zone = ZoneInfo(site.config.timezone)

    async def index(self, staff: StaffRequest) -> Response:
        params = staff.request.query_params
        async with self.site.pool.connection() as connection:
            listed = await accounts.listing(connection)
            try:
                filters = read_filters(params)
            except BadFilter as error:
                return self._page(staff, listed, Filters(), [], error=str(error), status=400)
            found = await entries(connection, filters, self.zone, PAGE_LIMIT)
        return self._page(staff, listed, filters, found)

    async def export(self, staff: StaffRequest) -> Response:
        try:
            filters = read_filters(staff.request.query_params)
        except BadFilter as error:
            return self.site.error(staff, 400, str(error))
        async with self.site.pool.connection() as connection:
            found = await entries(connection, filters, self.zone, CSV_LIMIT)
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for entry in found:
            writer.writerow(
                _cell(value)
                for value in (
                    entry.at.isoformat(),
                    entry.account_id or "",
                    entry.account_email,
                    entry.action,
                    entry.target_type,
                    entry.target_id,
                    json.dumps(entry.detail, ensure_ascii=False, sort_keys=True),
                )
            )
        name = f"journal-{datetime.now(self.zone).date().isoformat()}.csv"
        headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
        return Response(
            ("\ufeff" + out.getvalue()).encode(),
            media_type="text/csv; charset=utf-8",
            headers=headers,
        )

    def _page(
        self,
        staff: StaffRequest,
        listed: list[tuple[accounts.Account, bool]],
        filters: Filters,
        found: list[Entry],
        *,
        error: str = "",
        status: int = 200,
    ) -> Response:
        query = {
            "compte": filters.account,
            "action": filters.action,
            "jour": filters.day.isoformat() if filters.day else "",
        }
        return self.site.render(
            "journal_list.html",
            staff=staff,
            status=status,
            error=error,
            filters=query,
            accounts=[account for account, _enabled in listed],
            actions=ACTIONS,
            entries=found,
            limit=PAGE_LIMIT,
            csv_query=urlencode({k: v for k, v in query.items() if v}),
            when=lambda moment: format_datetime(
                moment, "d MMM y HH:mm:ss", tzinfo=self.zone, locale="fr"
            ),
            facts=_facts,
        )


def _facts(detail: dict[str, Any]) -> str:
    return ", ".join(f"{key} : {value}" for key, value in sorted(detail.items()))


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = str(value)
    return safe_cell(text)
