"""Staff accounts: created with `liaison staff create`, signed in with e-mail and password.

Roles (`ROLES`); a page names the roles it admits. "organiser" runs workshops (create,
publish, check in, figures), "school" works for schools, "mediator" acts for families that agreed
to it; "admin" may do everything. Which workshops, schools and families an account reaches is
its scope, in `staff.scopes`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.errors import UniqueViolation

from staff import passwords

ROLES = {
    "organiser": "organise les ateliers : les crée, les publie, accueille les participants",
    "school": "équipe d'une école : ses familles, ses messages, ses annonces",
    "mediator": "médiateur ou conseiller numérique : agit pour une famille qui l'a accepté",
    "admin": "tout faire, y compris gérer les comptes",
}
# Which roles each part of the staff site is for (admins see everything).
AREAS = {
    "workshops": frozenset({"organiser"}),
    "inbox": frozenset({"school", "mediator"}),
    "families": frozenset({"school"}),
    "journal": frozenset({"admin"}),
    "broadcasts": frozenset({"school"}),
    "mediation": frozenset({"mediator"}),
    "accounts": frozenset({"admin"}),
}
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,63}$")


class AccountError(ValueError):
    """An account that cannot be created as asked (bad e-mail, taken, unknown role)."""


@dataclass(frozen=True)
class Account:
    id: int
    email: str
    name: str
    roles: tuple[str, ...]

    def can(self, roles: frozenset[str]) -> bool:
        """True when the account has one of `roles` (admins have them all)."""
        return "admin" in self.roles or bool(roles.intersection(self.roles))

    def can_see(self, area: str) -> bool:
        """Whether the menu shows `area` to this account (the pages check their own roles)."""
        return self.can(AREAS.get(area, frozenset()))


def normalise_email(email: str) -> str:
    email = email.strip()
    if not _EMAIL.match(email):
        raise AccountError(f"adresse e-mail invalide : {email!r}")
    return email


async def create(
    connection: AsyncConnection[Any],
    *,
    email: str,
    name: str,
    password: str,
    roles: tuple[str, ...] = ("organiser",),
    now: datetime,
) -> Account:
    email = normalise_email(email)
    unknown = sorted(set(roles) - set(ROLES))
    if unknown or not roles:
        raise AccountError(f"rôle inconnu : {', '.join(unknown) or '(aucun)'} ({', '.join(ROLES)})")
    passwords.check_strength(password, email=email)
    try:
        cursor = await connection.execute(
            "INSERT INTO staff_account (email, name, password_hash, roles, created_at) "
            "VALUES (%s, %s, %s, %s, %s) RETURNING id",
            (email, name.strip(), passwords.hash_password(password), list(roles), now),
        )
    except UniqueViolation as exc:
        raise AccountError(f"un compte existe déjà pour {email}") from exc
    row = await cursor.fetchone()
    assert row is not None
    return Account(int(row[0]), email, name.strip(), tuple(roles))


async def set_password(connection: AsyncConnection[Any], *, email: str, password: str) -> bool:
    """Replace the password (and sign every session of the account out); False if no account."""
    passwords.check_strength(password, email=email)
    cursor = await connection.execute(
        "UPDATE staff_account SET password_hash = %s WHERE lower(email) = lower(%s) RETURNING id",
        (passwords.hash_password(password), email.strip()),
    )
    row = await cursor.fetchone()
    if row is None:
        return False
    await connection.execute("DELETE FROM staff_session WHERE account_id = %s", (row[0],))
    return True


async def disable(connection: AsyncConnection[Any], *, email: str, now: datetime) -> bool:
    """Disable the account and end its sessions; False if there is no such account."""
    cursor = await connection.execute(
        "UPDATE staff_account SET disabled_at = coalesce(disabled_at, %s) "
        "WHERE lower(email) = lower(%s) RETURNING id",
        (now, email.strip()),
    )
    row = await cursor.fetchone()
    if row is None:
        return False
    await connection.execute("DELETE FROM staff_session WHERE account_id = %s", (row[0],))
    return True


async def authenticate(
    connection: AsyncConnection[Any], *, email: str, password: str, now: datetime
) -> Account | None:
    """The account when the e-mail and password match an enabled account, else None (the same
    work either way)."""
    cursor = await connection.execute(
        "SELECT id, email, name, roles, password_hash, disabled_at FROM staff_account "
        "WHERE lower(email) = lower(%s)",
        (email.strip(),),
    )
    row = await cursor.fetchone()
    stored = row[4] if row is not None else None
    if not passwords.verify(stored, password) or row is None or row[5] is not None:
        return None
    account_id, stored = int(row[0]), str(stored)
    if passwords.needs_rehash(stored):
        await connection.execute(
            "UPDATE staff_account SET password_hash = %s WHERE id = %s",
            (passwords.hash_password(password), account_id),
        )
    await connection.execute(
        "UPDATE staff_account SET last_login_at = %s WHERE id = %s", (now, account_id)
    )
    return Account(account_id, row[1], row[2], tuple(row[3]))


async def listing(connection: AsyncConnection[Any]) -> list[tuple[Account, bool]]:
    """Every account with whether it is enabled, by e-mail."""
    cursor = await connection.execute(
        "SELECT id, email, name, roles, disabled_at IS NULL FROM staff_account ORDER BY email"
    )
    return [
        (Account(int(r[0]), r[1], r[2], tuple(r[3])), bool(r[4])) for r in await cursor.fetchall()
    ]
