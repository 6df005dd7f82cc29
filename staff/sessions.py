"""Signed-in browsers. The cookie carries 32 random bytes; the database keeps their SHA-256,
the account and the session's CSRF token, so any web process knows the session and a stolen
database does not give working cookies. A session ends after `IDLE` without use, after
`LIFETIME` in any case, at sign-out, or when its account is disabled or its password changed.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection

from staff.accounts import Account

LIFETIME = timedelta(hours=12)
IDLE = timedelta(hours=4)
# last_seen_at is written at most this often (not on every page).
_TOUCH = timedelta(minutes=1)


@dataclass(frozen=True)
class Session:
    account: Account
    csrf_token: str


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def open_session(
    connection: AsyncConnection[Any], account: Account, now: datetime
) -> tuple[str, Session]:
    """A new session for `account`: (the cookie value, the session)."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    await connection.execute(
        "INSERT INTO staff_session (token_hash, account_id, csrf_token, created_at, "
        "last_seen_at, expires_at) VALUES (%s, %s, %s, %s, %s, %s)",
        (_digest(token), account.id, csrf, now, now, now + LIFETIME),
    )
    # Sign-in is a good moment to forget the sessions that ended.
    await connection.execute(
        "DELETE FROM staff_session WHERE expires_at < %s OR last_seen_at < %s",
        (now, now - IDLE),
    )
    return token, Session(account, csrf)


async def load_session(
    connection: AsyncConnection[Any], token: str, now: datetime
) -> Session | None:
    """The live session of this cookie value, or None."""
    if not token or len(token) > 128:
        return None
    cursor = await connection.execute(
        "SELECT a.id, a.email, a.name, a.roles, s.csrf_token, s.last_seen_at "
        "FROM staff_session s JOIN staff_account a ON a.id = s.account_id "
        "WHERE s.token_hash = %s AND s.expires_at > %s AND s.last_seen_at > %s "
        "AND a.disabled_at IS NULL",
        (_digest(token), now, now - IDLE),
    )
    row = await cursor.fetchone()
    if row is None:
        return None
    if now - row[5] > _TOUCH:
        await connection.execute(
            "UPDATE staff_session SET last_seen_at = %s WHERE token_hash = %s",
            (now, _digest(token)),
        )
    return Session(Account(int(row[0]), row[1], row[2], tuple(row[3])), row[4])


async def close_session(connection: AsyncConnection[Any], token: str) -> None:
    await connection.execute("DELETE FROM staff_session WHERE token_hash = %s", (_digest(token),))
