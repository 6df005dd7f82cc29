"""What a staff account may see and touch: its scope.

| role      | workshops                       | families (and their contacts)                     |
|-----------|---------------------------------|---------------------------------------------------|
| admin     | all                             | all                                               |
| organiser | those linked in `staff_workshop`| none                                              |
| school    | none                            | those of its schools (`staff_school`)             |
| mediator  | none                            | those with an unrevoked `mediation` (consent)     |

A role and its links go together: a `staff_school` row does nothing for an account that is not
"school" staff (any more). Pages ask here before showing or changing anything that belongs to
a workshop or a family, and answer 404 when the answer is no: a member of staff must not learn
that another organiser's workshop exists by crafting a URL.

`None` from the `*_ids` functions means "all" (admins); an empty set means "none".

Grants (`link_workshop`, `grant_school`, `mediate`, `revoke_mediation`) write the link only;
their callers record them in the audit log (`staff.audit`) in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from staff.accounts import Account

Connection = AsyncConnection[Any]


def is_admin(account: Account) -> bool:
    return "admin" in account.roles


# -- workshops -----------------------------------------------------------------------------


async def workshop_ids(connection: Connection, account: Account) -> set[int] | None:
    """The workshops `account` manages; None for all (admins)."""
    if is_admin(account):
        return None
    if "organiser" not in account.roles:
        return set()
    cursor = await connection.execute(
        "SELECT workshop_id FROM staff_workshop WHERE account_id = %s", (account.id,)
    )
    return {int(row[0]) for row in await cursor.fetchall()}


async def workshop_refs(connection: Connection, account: Account) -> set[str] | None:
    """The refs of the workshops `account` manages; None for all (admins)."""
    if is_admin(account):
        return None
    if "organiser" not in account.roles:
        return set()
    cursor = await connection.execute(
        "SELECT w.ref FROM staff_workshop s JOIN workshop w ON w.id = s.workshop_id "
        "WHERE s.account_id = %s",
        (account.id,),
    )
    return {str(row[0]) for row in await cursor.fetchall()}


async def can_manage_workshop(connection: Connection, account: Account, workshop_id: int) -> bool:
    """Whether `account` may see and change workshop `workshop_id` (its check-in, figures)."""
    if is_admin(account):
        return True
    if "organiser" not in account.roles:
        return False
    cursor = await connection.execute(
        "SELECT 1 FROM staff_workshop WHERE account_id = %s AND workshop_id = %s",
        (account.id, workshop_id),
    )
    return await cursor.fetchone() is not None


async def managed_workshop_id(connection: Connection, account: Account, ref: str) -> int | None:
    """The id of the workshop `ref` when `account` may manage it; None when there is no such
    workshop or it is not theirs (the same answer, on purpose)."""
    cursor = await connection.execute("SELECT id FROM workshop WHERE ref = %s", (ref,))
    row = await cursor.fetchone()
    if row is None or not await can_manage_workshop(connection, account, int(row[0])):
        return None
    return int(row[0])


async def link_workshop(connection: Connection, account_id: int, workshop_id: int) -> bool:
    """Let organiser `account_id` manage `workshop_id`; False when it already could."""
    cursor = await connection.execute(
        "INSERT INTO staff_workshop (account_id, workshop_id) VALUES (%s, %s) "
        "ON CONFLICT DO NOTHING RETURNING 1",
        (account_id, workshop_id),
    )
    return await cursor.fetchone() is not None


# -- schools and families ------------------------------------------------------------------


async def school_ids(connection: Connection, account: Account) -> set[int] | None:
    """The schools `account` works for; None for all (admins)."""
    if is_admin(account):
        return None
    if "school" not in account.roles:
        return set()
    cursor = await connection.execute(
        "SELECT school_id FROM staff_school WHERE account_id = %s", (account.id,)
    )
    return {int(row[0]) for row in await cursor.fetchall()}


async def grant_school(connection: Connection, account_id: int, school_id: int) -> bool:
    """Let school staff `account_id` act for `school_id`; False when it already could."""
    cursor = await connection.execute(
        "INSERT INTO staff_school (account_id, school_id) VALUES (%s, %s) "
        "ON CONFLICT DO NOTHING RETURNING 1",
        (account_id, school_id),
    )
    return await cursor.fetchone() is not None


@dataclass(frozen=True)
class Sql:
    """A fragment of SQL with its named parameters."""

    text: str
    params: dict[str, Any]


def families_sql(account: Account) -> Sql | None:
    """A subquery of the ids of the families `account` may act for, to use as
    `family_id IN (<text>)` with `params`; None for all (admins)."""
    if is_admin(account):
        return None
    parts = []
    if "school" in account.roles:
        parts.append(
            "SELECT fs.family_id FROM family_school fs "
            "JOIN staff_school ss ON ss.school_id = fs.school_id "
            "WHERE ss.account_id = %(scope_account)s"
        )
    if "mediator" in account.roles:
        parts.append(
            "SELECT m.family_id FROM mediation m "
            "WHERE m.account_id = %(scope_account)s AND m.revoked_at IS NULL"
        )
    if not parts:
        return Sql("SELECT NULL::bigint WHERE false", {})
    return Sql(" UNION ".join(parts), {"scope_account": account.id})


async def can_act_for_family(connection: Connection, account: Account, family_id: int) -> bool:
    """Whether `account` may see and message family `family_id`: school staff of one of the
    family's schools, a mediator the family agreed to (not revoked), or an admin."""
    scope = families_sql(account)
    if scope is None:
        return True
    cursor = await connection.execute(
        f"SELECT 1 WHERE %(family)s IN ({scope.text})",
        {**scope.params, "family": family_id},
    )
    return await cursor.fetchone() is not None


async def can_see_contact(connection: Connection, account: Account, contact_id: int) -> bool:
    """Whether `account` may see contact `contact_id` (a parent's SMS number or chat) and its
    conversation: through the family the contact belongs to. A contact of no family is for
    admins only."""
    if is_admin(account):
        return True
    scope = families_sql(account)
    assert scope is not None
    query = "SELECT 1 FROM family_contact WHERE contact_id = %(contact)s AND family_id IN "
    cursor = await connection.execute(
        f"{query}({scope.text})",
        {**scope.params, "contact": contact_id},
    )
    return await cursor.fetchone() is not None


async def mediate(
    connection: Connection, account_id: int, family_id: int, consent: str, now: datetime
) -> int:
    """Record that family `family_id` agreed (`consent`: how, in words) that mediator
    `account_id` acts for it; the mediation's id (an unrevoked one is kept, not doubled)."""
    consent = consent.strip()
    if not consent:
        raise ValueError("consent: say how the family agreed")
    cursor = await connection.execute(
        "SELECT id FROM mediation WHERE account_id = %s AND family_id = %s AND revoked_at IS NULL",
        (account_id, family_id),
    )
    row = await cursor.fetchone()
    if row is not None:
        return int(row[0])
    cursor = await connection.execute(
        "INSERT INTO mediation (account_id, family_id, consent, granted_at) "
        "VALUES (%s, %s, %s, %s) RETURNING id",
        (account_id, family_id, consent, now),
    )
    row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def revoke_mediation(
    connection: Connection, account_id: int, family_id: int, now: datetime
) -> int:
    """End the mediations of `account_id` for `family_id`; how many there were."""
    cursor = await connection.execute(
        "UPDATE mediation SET revoked_at = %s WHERE account_id = %s AND family_id = %s "
        "AND revoked_at IS NULL",
        (now, account_id, family_id),
    )
    return cursor.rowcount
