"""The admins' accounts page (`/staff/comptes`): every staff account with its roles and what
it reaches, and the forms that give or take scope, all through `staff.grants` (which audits
each change, with the admin as the one who acted).

    GET  /staff/comptes                      the accounts, their schools, workshops, mediations
    POST /staff/comptes/ecole                (account, uai)          link a school
    POST /staff/comptes/ecole/retirer        (account, school)       unlink it
    POST /staff/comptes/atelier              (account, ref)          link a workshop
    POST /staff/comptes/atelier/retirer      (account, workshop)     unlink it
    POST /staff/comptes/mediation            (account, phone, consent)  record a family's consent
    POST /staff/comptes/mediation/retirer    (account, family)       revoke it
    POST /staff/comptes/desactiver           (account, confirm)      disable an account

A change answers 303 back to the account's card; a refusal shows the page again (422) with the
reason, in French, next to the form, and what was typed kept. Creating accounts and passwords
stay on the command line (`liaison staff create | password`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple
from zoneinfo import ZoneInfo

from babel.dates import format_date
from psycopg import AsyncConnection
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from channels.phone import mask
from schools import store as schools
from staff import accounts, grants
from staff.accounts import ROLES, Account
from staff.grants import GrantError
from staff.site import StaffRequest
from workshops.store import load as load_workshops

if TYPE_CHECKING:
    from staff.site import StaffSite

ADMINS = frozenset({"admin"})
SHOWN_WORKSHOPS = 20
MAX_CONSENT = 500  # characters: how the family agreed, in a sentence or two
DONE = {
    "ecole": "École reliée au compte.",
    "ecole-retiree": "École retirée du compte.",
    "atelier": "Atelier confié au compte.",
    "atelier-retire": "Atelier retiré du compte.",
    "mediation": "Médiation enregistrée : le médiateur voit cette famille.",
    "mediation-retiree": "Médiation retirée : le médiateur ne voit plus cette famille.",
    "desactive": "Compte désactivé : ses sessions sont fermées.",
    "deja": "C'était déjà fait : rien n'a changé.",
}
# The role whose section of an account's card holds each form (None: every card).
FORM_ROLES = {
    "ecole": "school",
    "atelier": "organiser",
    "mediation": "mediator",
    "desactiver": None,
}
_SCHOOLS = """
SELECT ss.account_id, s.id, s.uai, s.name FROM staff_school ss
JOIN school s ON s.id = ss.school_id ORDER BY s.name, s.uai
"""
_WORKSHOPS = """
SELECT sw.account_id, w.id, w.ref, w.title, w.starts_at, w.timezone FROM staff_workshop sw
JOIN workshop w ON w.id = sw.workshop_id ORDER BY w.starts_at DESC, w.ref
"""
_MEDIATIONS = """
SELECT m.account_id, m.family_id, coalesce(f.phone, ''), m.consent, m.granted_at
FROM mediation m JOIN family f ON f.id = m.family_id
WHERE m.revoked_at IS NULL ORDER BY m.granted_at DESC, m.id
"""

# A change for `account` in the page's transaction; the key of its `DONE` notice.
Change = Callable[[AsyncConnection[Any], Account, datetime], Awaitable[str]]


class LinkedSchool(NamedTuple):
    id: int
    uai: str
    name: str


class LinkedWorkshop(NamedTuple):
    id: int
    ref: str
    title: str
    day: str  # its first day, on the venue's clock


class Mediated(NamedTuple):
    family_id: int
    phone: str  # masked
    consent: str
    since: str


@dataclass
class Card:
    """An account as the page shows it, with what it reaches."""

    account: Account
    enabled: bool
    schools: list[LinkedSchool] = field(default_factory=list)
    workshops: list[LinkedWorkshop] = field(default_factory=list)  # the latest first
    mediations: list[Mediated] = field(default_factory=list)  # unrevoked, the latest first


def routes(site: StaffSite) -> list[BaseRoute]:
    pages = GrantPages(site)
    page = site.page(ADMINS)
    return [
        Route("/comptes", page(pages.index), methods=["GET"]),
        Route("/comptes/ecole", page(pages.link_school), methods=["POST"]),
        Route("/comptes/ecole/retirer", page(pages.unlink_school), methods=["POST"]),
        Route("/comptes/atelier", page(pages.link_workshop), methods=["POST"]),
        Route("/comptes/atelier/retirer", page(pages.unlink_workshop), methods=["POST"]),
        Route("/comptes/mediation", page(pages.mediate), methods=["POST"]),
        Route("/comptes/mediation/retirer", page(pages.revoke), methods=["POST"]),
        Route("/comptes/desactiver", page(pages.disable), methods=["POST"]),
    ]


class GrantPages:
    def __init__(self, site: StaffSite) -> None:
        self.site = site
        self.zone = ZoneInfo(site.config.timezone)

    async def index(
        self, staff: StaffRequest, *, status: int = 200, error: str = "", form: str = ""
    ) -> Response:
        async with self.site.pool.connection() as connection:
            cards = await self._cards(connection)
            every_school = await schools.load(connection)
            upcoming = await load_workshops(connection, after=_now())
        account_id = _int(staff.form.get("account", ""))
        return self.site.render(
            "grants_list.html",
            staff=staff,
            status=status,
            cards=cards,
            schools=every_school,
            upcoming=[w for w in upcoming if w.status != "cancelled"],
            roles=ROLES,
            error=error,
            error_form=form,
            error_account=account_id,
            error_inline=_has_form(cards, account_id, form),
            typed=staff.form,
            notice=DONE.get(staff.request.query_params.get("fait", ""), ""),
            shown_workshops=SHOWN_WORKSHOPS,
            max_consent=MAX_CONSENT,
        )

    async def _cards(self, connection: AsyncConnection[Any]) -> list[Card]:
        cards = {a.id: Card(a, enabled) for a, enabled in await accounts.listing(connection)}
        cursor = await connection.execute(_SCHOOLS)
        for account_id, *school in await cursor.fetchall():
            cards[account_id].schools.append(LinkedSchool(*school))
        cursor = await connection.execute(_WORKSHOPS)
        for account_id, workshop_id, ref, title, starts_at, timezone in await cursor.fetchall():
            day = format_date(starts_at.astimezone(ZoneInfo(timezone)), "d MMM y", "fr")
            cards[account_id].workshops.append(LinkedWorkshop(workshop_id, ref, title, day))
        cursor = await connection.execute(_MEDIATIONS)
        for account_id, family_id, phone, consent, granted_at in await cursor.fetchall():
            since = format_date(granted_at.astimezone(self.zone), "d MMM y", "fr")
            shown = mask(phone) if phone else "sans téléphone"
            cards[account_id].mediations.append(Mediated(family_id, shown, consent, since))
        return list(cards.values())

    # -- the forms -------------------------------------------------------------------------

    async def link_school(self, staff: StaffRequest) -> Response:
        async def change(connection: AsyncConnection[Any], account: Account, now: datetime) -> str:
            uai = _required(staff, "uai", "Choisissez une école.")
            done = await grants.grant_school(connection, account, uai, actor=staff.account.id)
            return "ecole" if done else "deja"

        return await self._change(staff, "ecole", change)

    async def unlink_school(self, staff: StaffRequest) -> Response:
        async def change(connection: AsyncConnection[Any], account: Account, now: datetime) -> str:
            school = _int(staff.form.get("school", ""))
            done = await grants.unlink_school(connection, account, school, actor=staff.account.id)
            return "ecole-retiree" if done else "deja"

        return await self._change(staff, "ecole", change)

    async def link_workshop(self, staff: StaffRequest) -> Response:
        async def change(connection: AsyncConnection[Any], account: Account, now: datetime) -> str:
            ref = _required(staff, "ref", "Donnez la référence de l'atelier.")
            done = await grants.grant_workshop(connection, account, ref, actor=staff.account.id)
            return "atelier" if done else "deja"

        return await self._change(staff, "atelier", change)

    async def unlink_workshop(self, staff: StaffRequest) -> Response:
        async def change(connection: AsyncConnection[Any], account: Account, now: datetime) -> str:
            workshop = _int(staff.form.get("workshop", ""))
            actor = staff.account.id
            done = await grants.unlink_workshop(connection, account, workshop, actor=actor)
            return "atelier-retire" if done else "deja"

        return await self._change(staff, "atelier", change)

    async def mediate(self, staff: StaffRequest) -> Response:
        async def change(connection: AsyncConnection[Any], account: Account, now: datetime) -> str:
            phone = _required(staff, "phone", "Donnez le numéro de téléphone de la famille.")
            consent = _required(
                staff, "consent", "Dites comment la famille a donné son accord (obligatoire)."
            )
            if len(consent) > MAX_CONSENT:
                raise GrantError(f"L'accord tient en {MAX_CONSENT} caractères au plus.")
            actor = staff.account.id
            await grants.mediate(connection, account, phone, consent, now, actor=actor)
            return "mediation"

        return await self._change(staff, "mediation", change)

    async def revoke(self, staff: StaffRequest) -> Response:
        async def change(connection: AsyncConnection[Any], account: Account, now: datetime) -> str:
            family = _int(staff.form.get("family", ""))
            actor = staff.account.id
            done = await grants.revoke_family(connection, account, family, now, actor=actor)
            return "mediation-retiree" if done else "deja"

        return await self._change(staff, "mediation", change)

    async def disable(self, staff: StaffRequest) -> Response:
        async def change(connection: AsyncConnection[Any], account: Account, now: datetime) -> str:
            if staff.form.get("confirm") != "oui":
                raise GrantError("Cochez la case pour confirmer.")
            await grants.disable(connection, account, now, actor=staff.account.id)
            return "desactive"

        return await self._change(staff, "desactiver", change)

    async def _change(self, staff: StaffRequest, form: str, change: Change) -> Response:
        """Run `change` for the account of the form, with its audit entry, in one
        transaction; 303 to its card, or the page with the reason next to `form`."""
        account_id = _int(staff.form.get("account", ""))
        try:
            async with self.site.pool.connection() as connection, connection.transaction():
                account = await grants.account_by_id(connection, account_id)
                done = await change(connection, account, _now())
        except GrantError as refused:
            return await self.index(staff, status=422, error=_sentence(str(refused)), form=form)
        return self.site.redirect(f"/staff/comptes?fait={done}#compte-{account_id}")


def _has_form(cards: list[Card], account_id: int, form: str) -> bool:
    """Whether the card of `account_id` shows `form` (its role's section), so that an error
    goes next to it; else it goes at the top of the page."""
    role = FORM_ROLES.get(form)
    return any(
        c.account.id == account_id and (role is None or role in c.account.roles) for c in cards
    )


def _required(staff: StaffRequest, name: str, missing: str) -> str:
    value = staff.form.get(name, "").strip()
    if not value:
        raise GrantError(missing)
    return value


def _int(text: str) -> int:
    """An id chosen in a form; 0 (nothing has that id) when it is none."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else 0


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:]


def _now() -> datetime:
    return datetime.now(UTC)
