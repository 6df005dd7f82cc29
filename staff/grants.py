"""Giving staff their scope, from the command line (`liaison staff grant | mediate`, and
`liaison staff create --school UAI`) and from the admins' page (`staff.grant_pages`): names in,
links out, each change audited in the same transaction (`staff.audit`). `actor` is the admin
who acted on the page; None is the operator at the console.

Workshops are named by ref, schools by UAI, families by phone number (E.164 or French national
format); the audit entry names the family by its id, never by its number. Every refusal is a
`GrantError` whose message, in French, says what was not found or not allowed.

Audit actions: `grant.school`, `grant.workshop` (and `grant.school_removed`,
`grant.workshop_removed`), `mediation.granted`, `mediation.revoked`, `staff.disabled`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from channels.phone import InvalidPhoneNumber, to_e164
from liaison.errors import LiaisonError
from staff import accounts, audit, scopes
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


async def account_by_id(connection: Connection, account_id: int) -> Account:
    cursor = await connection.execute(
        "SELECT id, email, name, roles FROM staff_account WHERE id = %s", (account_id,)
    )
    row = await cursor.fetchone()
    if row is None:
        raise GrantError("ce compte n'existe pas")
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
        raise GrantError(
            "ce numéro de téléphone n'est pas valide (par exemple 06 12 34 56 78 "
            "ou +33 6 12 34 56 78)"
        ) from error
    cursor = await connection.execute("SELECT id FROM family WHERE phone = %s", (number,))
    row = await cursor.fetchone()
    if row is None:
        raise GrantError("aucune famille n'a ce numéro de téléphone")
    return int(row[0])


async def grant_school(
    connection: Connection, account: Account, uai: str, *, actor: int | None = None
) -> bool:
    """Let school staff `account` act for the school `uai`; False if it already could."""
    if "school" not in account.roles:
        raise GrantError(f"{account.email} n'a pas le rôle school (équipe d'une école)")
    school = await school_id(connection, uai)
    added = await scopes.grant_school(connection, account.id, school)
    if added:
        await audit.record(
            connection, actor, "grant.school", "account", account.id, {"school_id": school}
        )
    return added


async def unlink_school(
    connection: Connection, account: Account, school: int, *, actor: int | None = None
) -> bool:
    """`account` no longer acts for school `school` (an id); False if it did not."""
    cursor = await connection.execute(
        "DELETE FROM staff_school WHERE account_id = %s AND school_id = %s RETURNING 1",
        (account.id, school),
    )
    removed = await cursor.fetchone() is not None
    if removed:
        detail = {"school_id": school}
        await audit.record(connection, actor, "grant.school_removed", "account", account.id, detail)
    return removed


async def grant_workshop(
    connection: Connection, account: Account, ref: str, *, actor: int | None = None
) -> bool:
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
        await audit.record(connection, actor, "grant.workshop", "account", account.id, detail)
    return added


async def unlink_workshop(
    connection: Connection, account: Account, workshop: int, *, actor: int | None = None
) -> bool:
    """Organiser `account` no longer manages workshop `workshop` (an id); False if it did not."""
    cursor = await connection.execute(
        "DELETE FROM staff_workshop WHERE account_id = %s AND workshop_id = %s RETURNING 1",
        (account.id, workshop),
    )
    removed = await cursor.fetchone() is not None
    if removed:
        detail = {"workshop_id": workshop}
        await audit.record(
            connection, actor, "grant.workshop_removed", "account", account.id, detail
        )
    return removed


async def mediate(
    connection: Connection,
    account: Account,
    phone: str,
    consent: str,
    now: datetime,
    *,
    actor: int | None = None,
) -> int:
    """Record the family's consent that mediator `account` acts for it; the mediation id."""
    if "mediator" not in account.roles:
        raise GrantError(f"{account.email} n'a pas le rôle mediator")
    if not consent.strip():
        raise GrantError("dites comment la famille a donné son accord (obligatoire)")
    family = await family_id(connection, phone)
    mediation = await scopes.mediate(connection, account.id, family, consent, now)
    await audit.record(
        connection,
        actor,
        "mediation.granted",
        "family",
        family,
        {"account_id": account.id, "mediation_id": mediation},
        at=now,
    )
    return mediation


async def revoke(connection: Connection, account: Account, phone: str, now: datetime) -> int:
    """End the mediations of `account` for the family of `phone`; how many there were."""
    return await revoke_family(connection, account, await family_id(connection, phone), now)


async def revoke_family(
    connection: Connection,
    account: Account,
    family: int,
    now: datetime,
    *,
    actor: int | None = None,
) -> int:
    """End the mediations of `account` for family `family` (an id); how many there were."""
    ended = await scopes.revoke_mediation(connection, account.id, family, now)
    if ended:
        await audit.record(
            connection,
            actor,
            "mediation.revoked",
            "family",
            family,
            {"account_id": account.id},
            at=now,
        )
    return ended


async def disable(
    connection: Connection, account: Account, now: datetime, *, actor: int | None = None
) -> None:
    """Disable `account` and end its sessions; an admin cannot disable their own account."""
    if actor == account.id:
        raise GrantError("vous ne pouvez pas désactiver votre propre compte")
    if not await accounts.disable(connection, email=account.email, now=now):
        raise GrantError("ce compte n'existe pas")
    await audit.record(connection, actor, "staff.disabled", "account", account.id, at=now)
