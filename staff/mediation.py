"""The families a mediator helps, and what the mediator does for them.

A family is on a mediator's list while it has an unrevoked `mediation` with them (the family
agreed, `consent` says how); an admin's list holds every family with one. The list is also
bounded by the account's scope (`staff.scopes.families_sql`): a family outside it is not
found, the pages answer 404 as for a family that does not exist.

What a mediator needs to help: the family's phone, language, channel and schools, its contacts
(and whether they wrote STOP), their live enrolments in workshops still to come, an open inbox
conversation, and the consent with its date. What they may do for the family, each change
audited with the family as subject, in the change's own transaction:

    mediation.enrolled        a contact enrolled in a published workshop (`Bookings.enrol`)
    mediation.cancelled       one of their enrolments cancelled (`Bookings.cancel`: the seats
                              freed are offered to the waiting list, who are told)
    mediation.language_set    the preferred language of the family and of its contacts

Nothing is sent to the parent by these actions (the mediator is with them); reminders and
follow-ups of an enrolment go out as for any other. Refusals are `MediationError`s with a
French `message` for staff.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from liaison.errors import LiaisonError
from staff import audit, scopes
from staff.accounts import Account
from workshops.bookings import Announcer, Booking, Bookings
from workshops.enrolment import ACTIVE
from workshops.records import Workshop
from workshops.store import load, load_by_refs

Connection = AsyncConnection[Any]
MAX_PEOPLE = 10

_MEDIATIONS = """
SELECT m.family_id, m.id, m.account_id, a.email, m.consent, m.granted_at
FROM mediation m JOIN staff_account a ON a.id = m.account_id
WHERE m.revoked_at IS NULL
  AND (%(everyone)s OR m.account_id = %(me)s)
  AND (%(family)s::bigint IS NULL OR m.family_id = %(family)s::bigint)
  AND ({scope})
ORDER BY m.granted_at DESC, m.id
"""
_FAMILIES = """
SELECT f.id, f.phone, f.language, f.preferred_channel,
       coalesce((SELECT array_agg(DISTINCT s.name) FROM family_school fs
                 JOIN school s ON s.id = fs.school_id WHERE fs.family_id = f.id), '{}')
FROM family f WHERE f.id = ANY(%s)
"""
_CONTACTS = """
SELECT fc.family_id, c.id, c.channel, c.address, c.language, c.opted_out_at IS NOT NULL
FROM family_contact fc JOIN contact c ON c.id = fc.contact_id
WHERE fc.family_id = ANY(%s) ORDER BY c.channel <> 'sms', c.id
"""
_ENROLMENTS = """
SELECT fc.family_id, e.contact_id, w.ref, e.status, e.people, e.id, e.workshop_id
FROM enrolment e JOIN family_contact fc ON fc.contact_id = e.contact_id
JOIN workshop w ON w.id = e.workshop_id
WHERE fc.family_id = ANY(%s) AND e.status = ANY(%s) AND w.starts_at > %s
ORDER BY w.starts_at, e.id
"""
_HANDOVERS = """
SELECT fc.family_id, h.id FROM handover h JOIN family_contact fc ON fc.contact_id = h.contact_id
WHERE fc.family_id = ANY(%s) AND h.status = 'open'
"""


class MediationError(LiaisonError):
    """An action for a family that cannot be done; `message` says why, in French."""

    status = 422

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Contact:
    id: int
    channel: str
    address: str
    language: str | None
    opted_out: bool


@dataclass(frozen=True)
class Consent:
    """One unrevoked mediation: who helps, how the family agreed, since when."""

    id: int
    account_id: int
    account_email: str
    text: str
    since: datetime


@dataclass(frozen=True)
class Enrolled:
    contact_id: int
    booking: Booking


@dataclass
class Family:
    id: int
    phone: str | None  # E.164
    language: str | None
    channel: str | None  # preferred
    schools: tuple[str, ...]
    consents: list[Consent]
    contacts: list[Contact] = field(default_factory=list)
    enrolments: list[Enrolled] = field(default_factory=list)  # live, workshops to come
    handover_id: int | None = None  # an open inbox conversation

    @property
    def opted_out(self) -> bool:
        """Every contact of the family wrote STOP."""
        return bool(self.contacts) and all(contact.opted_out for contact in self.contacts)


async def families(
    connection: Connection, account: Account, now: datetime, *, family_id: int | None = None
) -> list[Family]:
    """The families with a mediation `account` may see (all of them, or `family_id` only),
    the latest agreement first."""
    scope = scopes.families_sql(account)
    cursor = await connection.execute(
        _MEDIATIONS.format(scope=f"m.family_id IN ({scope.text})" if scope else "true"),
        {
            **(scope.params if scope else {}),
            "everyone": scopes.is_admin(account),
            "me": account.id,
            "family": family_id,
        },
    )
    found: dict[int, Family] = {}
    consents: dict[int, list[Consent]] = {}
    for row in await cursor.fetchall():
        consents.setdefault(int(row[0]), []).append(Consent(*row[1:]))
    if not consents:
        return []
    ids = list(consents)
    cursor = await connection.execute(_FAMILIES, (ids,))
    for fid, phone, language, channel, schools in await cursor.fetchall():
        found[fid] = Family(fid, phone, language, channel, tuple(sorted(schools)), consents[fid])
    cursor = await connection.execute(_CONTACTS, (ids,))
    for fid, *contact in await cursor.fetchall():
        found[fid].contacts.append(Contact(*contact))
    await _add_enrolments(connection, found, now)
    cursor = await connection.execute(_HANDOVERS, (ids,))
    for fid, handover_id in await cursor.fetchall():
        found[fid].handover_id = int(handover_id)
    return [found[fid] for fid in ids if fid in found]


async def family(connection: Connection, account: Account, family_id: int, now: datetime) -> Family:
    """One family `account` helps; `MediationError` 404 when there is none (not theirs,
    revoked, or no such family: the same answer)."""
    found = await families(connection, account, now, family_id=family_id)
    if not found:
        raise MediationError("Cette famille n'est pas dans vos familles accompagnées.", 404)
    return found[0]


async def open_workshops(connection: Connection, now: datetime) -> list[Workshop]:
    """Published workshops still to start, the soonest first: what a family can enrol in."""
    return await load(connection, status="published", after=now)


async def _add_enrolments(connection: Connection, found: dict[int, Family], now: datetime) -> None:
    cursor = await connection.execute(_ENROLMENTS, (list(found), list(ACTIVE), now))
    rows = await cursor.fetchall()
    workshops = await load_by_refs(connection, [row[2] for row in rows])
    for fid, contact_id, ref, *rest in rows:
        booking = Booking(workshops[ref], *rest)
        found[fid].enrolments.append(Enrolled(contact_id, booking))


# -- what a mediator does for the family ----------------------------------------------------------


async def enrol(
    connection: Connection,
    account: Account,
    family: Family,
    *,
    contact_id: int,
    ref: str,
    people: int,
    now: datetime,
) -> str:
    """Enrol the family's contact `contact_id` in workshop `ref` for `people`; the status
    (confirmed or waitlisted)."""
    contact = _contact(family, contact_id)
    if not 1 <= people <= MAX_PEOPLE:
        raise MediationError(f"Le nombre de personnes va de 1 à {MAX_PEOPLE}.")
    if ref not in {w.ref for w in await open_workshops(connection, now)}:
        raise MediationError(
            "Cet atelier n'est pas ouvert aux inscriptions (passé, annulé ou pas encore publié)."
        )
    if any(e.contact_id == contact.id and e.booking.workshop.ref == ref for e in family.enrolments):
        raise MediationError("Cette famille est déjà inscrite à cet atelier.", 409)
    status = await Bookings(connection, contact.id, now).enrol(ref, people)
    if status is None:  # started or closed between the check and the seat
        raise MediationError("Cet atelier n'est plus ouvert aux inscriptions.", 409)
    cursor = await connection.execute(
        "SELECT id, workshop_id FROM enrolment WHERE contact_id = %s AND status = ANY(%s) "
        "AND workshop_id = (SELECT id FROM workshop WHERE ref = %s)",
        (contact.id, list(ACTIVE), ref),
    )
    enrolment_id, workshop_id = await cursor.fetchone() or (None, None)
    detail = {"contact_id": contact.id, "workshop_id": workshop_id, "enrolment_id": enrolment_id}
    await _record(connection, account, "mediation.enrolled", family, {**detail, "status": status})
    return status


async def cancel(
    connection: Connection,
    account: Account,
    family: Family,
    *,
    enrolment_id: int,
    now: datetime,
    announce: Announcer | None,
) -> Booking:
    """Cancel one of the family's live enrolments; the seats freed are offered to the waiting
    list (and those parents told, through `announce`). The booking cancelled."""
    enrolled = next((e for e in family.enrolments if e.booking.id == enrolment_id), None)
    if enrolled is None:
        raise MediationError("Cette inscription n'est pas (ou plus) celle de la famille.")
    bookings = Bookings(connection, enrolled.contact_id, now, announce=announce)
    if not await bookings.cancel(enrolled.booking.workshop.ref):
        raise MediationError("Cette inscription était déjà annulée.", 409)
    detail = {"enrolment_id": enrolment_id, "workshop_id": enrolled.booking.workshop_id}
    await _record(connection, account, "mediation.cancelled", family, detail)
    return enrolled.booking


async def set_language(
    connection: Connection,
    account: Account,
    family: Family,
    language: str,
    *,
    languages: list[str],
    now: datetime,
) -> None:
    """The family's preferred language, and its contacts' (what the assistant, notices and
    reminders write in)."""
    if language not in languages:
        raise MediationError("Choisissez une des langues proposées.")
    await connection.execute(
        "UPDATE family SET language = %s, updated_at = %s WHERE id = %s",
        (language, now, family.id),
    )
    await connection.execute(
        "UPDATE contact SET language = %s WHERE id IN "
        "(SELECT contact_id FROM family_contact WHERE family_id = %s)",
        (language, family.id),
    )
    detail = {"from": family.language or "", "to": language}
    await _record(connection, account, "mediation.language_set", family, detail)


def _contact(family: Family, contact_id: int) -> Contact:
    if not family.contacts:
        raise MediationError("Cette famille n'a aucun contact (SMS, Telegram, chat) à inscrire.")
    for contact in family.contacts:
        if contact.id == contact_id:
            return contact
    raise MediationError("Choisissez qui inscrire : un contact de la famille.")


async def _record(
    connection: Connection, account: Account, action: str, family: Family, detail: dict[str, Any]
) -> None:
    await audit.record(connection, account.id, action, "family", family.id, detail)
