"""Seats, the waiting list and seat offers, decided in PostgreSQL so that any number of
processes enrolling parents at once never sell a seat twice nor lose one.

Every change to a workshop's enrolments first locks the workshop's row (`FOR UPDATE`): the
enrolments of one workshop are decided one at a time, those of different workshops in
parallel. A seat is *taken* by a confirmed enrolment or by an offer still open.

* `enrol()` — confirmed when the seats are free and nobody waits; else on the waiting list.
  A parent already enrolled gets their enrolment back, unchanged.
* `cancel()` — frees the seats and offers them to the waiting list, in order.
* An offer holds the seats until `offer_expires_at`; `accept()` confirms it, `expire_offers()`
  (a periodic job) ends the late ones and offers the seats to the next in line.
* `offer_free_seats()` — seats freed otherwise (an organiser raised the capacity) go to the
  waiting list the same way. `seats_taken()` and `occupancy()` say how full workshops are.

Each function runs in the caller's transaction and returns what changed, so that the caller
can tell the parents concerned (through the outbox, in the same transaction).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection

ACTIVE = ("confirmed", "waitlisted", "offered")


_FIND = """
SELECT id, workshop_id, contact_id, people, status, offer_expires_at FROM enrolment
WHERE workshop_id = %s AND contact_id = %s AND status = ANY(%s)
"""
_INSERT = """
INSERT INTO enrolment (workshop_id, contact_id, people, status, created_at, updated_at)
VALUES (%s, %s, %s, %s, %s, %s)
RETURNING id, workshop_id, contact_id, people, status, offer_expires_at
"""
_CANCEL = """
UPDATE enrolment SET status = 'cancelled', offer_expires_at = NULL, updated_at = %s
WHERE workshop_id = %s AND contact_id = %s AND status = ANY(%s)
RETURNING id, workshop_id, contact_id, people, status, offer_expires_at
"""
_ACCEPT = """
UPDATE enrolment SET status = 'confirmed', offer_expires_at = NULL, updated_at = %s
WHERE workshop_id = %s AND contact_id = %s AND status = 'offered' AND offer_expires_at > %s
RETURNING id, workshop_id, contact_id, people, status, offer_expires_at
"""
_EXPIRE = """
UPDATE enrolment SET status = 'expired', updated_at = %s
WHERE workshop_id = %s AND status = 'offered' AND offer_expires_at <= %s
RETURNING id, workshop_id, contact_id, people, status, offer_expires_at
"""
_WAITING = """
SELECT id, workshop_id, contact_id, people, status, offer_expires_at FROM enrolment
WHERE workshop_id = %s AND status = 'waitlisted' ORDER BY id
"""
_OFFER = """
UPDATE enrolment SET status = 'offered', offer_expires_at = %s, updated_at = %s WHERE id = %s
RETURNING id, workshop_id, contact_id, people, status, offer_expires_at
"""


class NotOpen(Exception):
    """The workshop does not exist, is not published, or has started."""


@dataclass(frozen=True)
class Enrolment:
    id: int
    workshop_id: int
    contact_id: int
    people: int
    status: str
    offer_expires_at: datetime | None


async def _lock_workshop(
    connection: AsyncConnection[Any], workshop_id: int
) -> tuple[int, datetime]:
    cursor = await connection.execute(
        "SELECT capacity, starts_at, status FROM workshop WHERE id = %s FOR UPDATE",
        (workshop_id,),
    )
    row = await cursor.fetchone()
    if row is None:
        raise NotOpen(f"no workshop {workshop_id}")
    capacity, starts_at, status = row
    if status != "published":
        raise NotOpen(f"workshop {workshop_id} is {status}")
    return int(capacity), starts_at


async def _taken(connection: AsyncConnection[Any], workshop_id: int) -> int:
    cursor = await connection.execute(
        "SELECT coalesce(sum(people), 0) FROM enrolment "
        "WHERE workshop_id = %s AND status IN ('confirmed', 'offered')",
        (workshop_id,),
    )
    row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def _one(connection: AsyncConnection[Any], query: str, params: Any) -> Enrolment | None:
    cursor = await connection.execute(query, params)
    row = await cursor.fetchone()
    return Enrolment(*row) if row is not None else None


async def enrol(
    connection: AsyncConnection[Any],
    *,
    workshop_id: int,
    contact_id: int,
    people: int,
    now: datetime,
) -> Enrolment:
    """Confirm `people` seats for the parent, or put them on the waiting list."""
    if not 1 <= people <= 10:
        raise ValueError("people must be between 1 and 10")
    capacity, starts_at = await _lock_workshop(connection, workshop_id)
    if starts_at <= now:
        raise NotOpen(f"workshop {workshop_id} has started")
    existing = await _one(
        connection,
        _FIND,
        (workshop_id, contact_id, list(ACTIVE)),
    )
    if existing is not None:
        return existing
    cursor = await connection.execute(
        "SELECT count(*) FROM enrolment WHERE workshop_id = %s AND status = 'waitlisted'",
        (workshop_id,),
    )
    waiting = (await cursor.fetchone() or (0,))[0]
    free = capacity - await _taken(connection, workshop_id)
    status = "confirmed" if people <= free and waiting == 0 else "waitlisted"
    enrolment = await _one(
        connection,
        _INSERT,
        (workshop_id, contact_id, people, status, now, now),
    )
    assert enrolment is not None
    return enrolment


async def cancel(
    connection: AsyncConnection[Any],
    *,
    workshop_id: int,
    contact_id: int,
    now: datetime,
    offer_for: timedelta,
) -> tuple[Enrolment | None, list[Enrolment]]:
    """Cancel the parent's live enrolment (or decline their offer); returns it and the offers
    made to the waiting list with the seats it freed."""
    await _lock_workshop_any(connection, workshop_id)
    cancelled = await _one(
        connection,
        _CANCEL,
        (now, workshop_id, contact_id, list(ACTIVE)),
    )
    offers = await _offer_free_seats(connection, workshop_id, now, offer_for)
    return cancelled, offers


async def accept(
    connection: AsyncConnection[Any], *, workshop_id: int, contact_id: int, now: datetime
) -> Enrolment | None:
    """The parent takes the seats offered to them, if the offer is still open."""
    await _lock_workshop_any(connection, workshop_id)
    return await _one(
        connection,
        _ACCEPT,
        (now, workshop_id, contact_id, now),
    )


async def expire_offers(
    connection: AsyncConnection[Any], *, now: datetime, offer_for: timedelta
) -> tuple[list[Enrolment], list[Enrolment]]:
    """End the offers past their deadline and offer those seats to the next in line; returns
    (expired, new offers)."""
    cursor = await connection.execute(
        "SELECT DISTINCT workshop_id FROM enrolment "
        "WHERE status = 'offered' AND offer_expires_at <= %s ORDER BY workshop_id",
        (now,),
    )
    expired: list[Enrolment] = []
    offers: list[Enrolment] = []
    for (workshop_id,) in await cursor.fetchall():
        await _lock_workshop_any(connection, workshop_id)
        rows = await connection.execute(
            _EXPIRE,
            (now, workshop_id, now),
        )
        expired += [Enrolment(*row) for row in await rows.fetchall()]
        offers += await _offer_free_seats(connection, workshop_id, now, offer_for)
    return expired, offers


async def offer_free_seats(
    connection: AsyncConnection[Any], *, workshop_id: int, now: datetime, offer_for: timedelta
) -> list[Enrolment]:
    """Offer the seats free now (capacity raised by an organiser) to the waiting list, in
    order, under the workshop's row lock; returns the offers made."""
    await _lock_workshop_any(connection, workshop_id)
    return await _offer_free_seats(connection, workshop_id, now, offer_for)


async def seats_taken(connection: AsyncConnection[Any], workshop_id: int) -> int:
    """The seats held now (confirmed enrolments and open offers)."""
    return await _taken(connection, workshop_id)


async def occupancy(connection: AsyncConnection[Any]) -> dict[str, tuple[int, int]]:
    """(seats taken, parents waiting) of every workshop that has any, by ref."""
    cursor = await connection.execute(
        "SELECT w.ref, coalesce(sum(e.people) FILTER (WHERE e.status IN "
        "('confirmed', 'offered')), 0), count(*) FILTER (WHERE e.status = 'waitlisted') "
        "FROM enrolment e JOIN workshop w ON w.id = e.workshop_id "
        "WHERE e.status = ANY(%s) GROUP BY w.ref",
        (list(ACTIVE),),
    )
    return {ref: (int(taken), int(waiting)) for ref, taken, waiting in await cursor.fetchall()}


async def _lock_workshop_any(connection: AsyncConnection[Any], workshop_id: int) -> None:
    await connection.execute("SELECT 1 FROM workshop WHERE id = %s FOR UPDATE", (workshop_id,))


async def _offer_free_seats(
    connection: AsyncConnection[Any], workshop_id: int, now: datetime, offer_for: timedelta
) -> list[Enrolment]:
    """Offer free seats to the waiting list in order; a party too big for the seats left keeps
    its place and the offer goes to nobody behind it (first come, first served)."""
    cursor = await connection.execute(
        "SELECT capacity, starts_at, status FROM workshop WHERE id = %s", (workshop_id,)
    )
    row = await cursor.fetchone()
    if row is None or row[2] != "published" or row[1] <= now:
        return []
    free = int(row[0]) - await _taken(connection, workshop_id)
    offers: list[Enrolment] = []
    waiting = await connection.execute(
        _WAITING,
        (workshop_id,),
    )
    # Never past the start of the workshop.
    deadline = min(now + offer_for, row[1])
    for candidate in [Enrolment(*r) for r in await waiting.fetchall()]:
        if candidate.people > free:
            break
        offer = await _one(
            connection,
            _OFFER,
            (deadline, now, candidate.id),
        )
        assert offer is not None
        offers.append(offer)
        free -= candidate.people
    return offers
