"""Throttling of failed sign-ins, in PostgreSQL so that every web process counts the same.

After `PER_EMAIL` failures for one e-mail, or `PER_ADDRESS` from one client address, within
`WINDOW`, the sign-in form refuses that e-mail (or address) without even checking the password,
until the oldest failure leaves the window. `login_failure` keeps the SHA-256 of the
lower-cased e-mail and of the client address, never the e-mail or the address. A successful
sign-in forgets the e-mail's failures (not the address's); failures older than the window are
deleted whenever a new one is written.

The client address is what the ASGI server gives: behind a reverse proxy, run uvicorn with
`--proxy-headers --forwarded-allow-ips=<the proxy>` so that it is the browser's, not the
proxy's (else every member of staff shares one address and its 20 failures).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection

WINDOW = timedelta(minutes=15)
PER_EMAIL = 5
PER_ADDRESS = 20


@dataclass(frozen=True)
class Keys:
    email: bytes
    address: bytes


def keys(email: str, address: str) -> Keys:
    return Keys(
        hashlib.sha256(email.strip().lower().encode()).digest(),
        hashlib.sha256(address.encode()).digest(),
    )


async def hold(connection: AsyncConnection[Any], found: Keys) -> None:
    """Make attempts for one e-mail wait for each other until the transaction ends, so that
    parallel guesses cannot all pass the count before any failure is written."""
    await connection.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('login:' || encode(%s, 'hex'), 0))",
        (found.email,),
    )


async def refused(connection: AsyncConnection[Any], found: Keys, now: datetime) -> bool:
    """Whether the e-mail or the address has failed too often within the window."""
    cursor = await connection.execute(
        "SELECT count(*) FILTER (WHERE key = %(email)s), count(*) FILTER (WHERE key = %(address)s) "
        "FROM login_failure WHERE key IN (%(email)s, %(address)s) AND at > %(since)s",
        {"email": found.email, "address": found.address, "since": now - WINDOW},
    )
    row = await cursor.fetchone()
    assert row is not None
    return int(row[0]) >= PER_EMAIL or int(row[1]) >= PER_ADDRESS


async def failed(connection: AsyncConnection[Any], found: Keys, now: datetime) -> None:
    """Count one failure for the e-mail and one for the address; forget old ones."""
    await connection.execute(
        "INSERT INTO login_failure (key, at) VALUES (%s, %s), (%s, %s)",
        (found.email, now, found.address, now),
    )
    await connection.execute("DELETE FROM login_failure WHERE at <= %s", (now - WINDOW,))


async def succeeded(connection: AsyncConnection[Any], found: Keys) -> None:
    """Forget the e-mail's failures."""
    await connection.execute("DELETE FROM login_failure WHERE key = %s", (found.email,))
