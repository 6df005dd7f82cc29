"""Giving staff their scope, from the command line (`liaison staff grant | mediate`, and
`liaison staff create --school UAI`): names in, links out, each grant audited in the same
transaction (`staff.audit`, with no acting account: the operator at the console).

Workshops are named by ref, schools by UAI, families by phone number (E.164 or French national
format); the audit entry names the family by its id, never by its number. Every refusal is a
`GrantError` whose message says what was not found.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from channels.phone import InvalidPhoneNumber, to_e164
from liaison.errors import LiaisonError
from staff import audit, scopes
from staff.accounts import Account

Connection = AsyncConnection[Any]


class GrantError(LiaisonError):
    """A grant that cannot be made as asked (unknown account, school, workshop, family...)."""


async def account_by_email(connection: Connection, email: str) -> Account:
    cursor = await connection.execute(
        "SELECT id, email, name, roles FROM staff_account WHERE lower(email) = lower(%s)",
        (email.strip(),),
    )
    row = await cursor.fetchone()
    if row is None:
        raise GrantError(f"pas de compte pour {email}")
    return Account(int(row[0]), row[1], row[2], tuple(row[3]))


async def school_id(connection: Connection, uai: str) -> int:
    cursor = await connection.execute(
        "SELECT id FROM school WHERE upper(uai) = upper(%s)", (uai.strip(),)
    )
    row = await cursor.fetchone()
    if row is None:
        raise GrantError(f"pas d'école avec l'UAI {uai}")
    return int(row[0])


async def family_id(connection: Connection, phone: str) -> int:
    try:
        number = to_e164(phone)
    except InvalidPhoneNumber as error:
        raise GrantError(f"numéro de téléphone invalide : {error}") from error
    cursor = await connection.execute("SELECT id FROM family WHERE phone = %s", (number,))
    row = await cursor.fetchone()
    if row is None:
        raise GrantError("aucune famille n'a ce numéro de téléphone")
    return int(row[0])


async def grant_school(connection: Connection, account: Account, uai: str) -> bool:
    """Let school staff `account` act for the school `uai`; False if it already could."""
    if "school" not in account.roles:
        raise GrantError(f"{account.email} n'a pas le rôle school (équipe d'une école)")
    school = await school_id(connection, uai)
    added = await scopes.grant_school(connection, account.id, school)
    if added:
        await audit.record(
            connection, None, "grant.school", "account", account.id, {"school_id": school}
        )
    return added


async def grant_workshop(connection: Connection, account: Account, ref: str) -> bool:
    """Let organiser `account` manage workshop `ref`; False if it already could."""
    if "organiser" not in account.roles:
        raise GrantError(f"{account.email} n'a pas le rôle organiser")
    cursor = await connection.execute("SELECT id FROM workshop WHERE ref = %s", (ref.strip(),))
    row = await cursor.fetchone()
    if row is None:
        raise GrantError(f"pas d'atelier {ref}")
    workshop = int(row[0])
    added = await scopes.link_workshop(connection, account.id, workshop)
    if added:
        detail = {"workshop_id": workshop}
        await audit.record(connection, None, "grant.workshop", "account", account.id, detail)
    return added


async def mediate(
    connection: Connection, account: Account, phone: str, consent: str, now: datetime
) -> int:
    """Record the family's consent that mediator `account` acts for it; the mediation id."""
    if "mediator" not in account.roles:
        raise GrantError(f"{account.email} n'a pas le rôle mediator")
    if not consent.strip():
        raise GrantError("--consent : dites comment la famille a donné son accord")
    family = await family_id(connection, phone)
    mediation = await scopes.mediate(connection, account.id, family, consent, now)
    await audit.record(
        connection,
        None,
        "mediation.granted",
        "family",
        family,
        {"account_id": account.id, "mediation_id": mediation},
        at=now,
    )
    return mediation


async def revoke(connection: Connection, account: Account, phone: str, now: datetime) -> int:
    """End the mediations of `account` for the family of `phone`; how many there were."""
    family = await family_id(connection, phone)
    ended = await scopes.revoke_mediation(connection, account.id, family, now)
    if ended:
        await audit.record(
            connection,
            None,
            "mediation.revoked",
            "family",
            family,
            {"account_id": account.id},
            at=now,
        )
    return ended
