"""Seats and the waiting list under concurrency (real PostgreSQL): no seat lost or sold twice,
first come first served, offers that expire and move on."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from outbox_helpers import new_contact

from workshops import enrolment, store
from workshops.records import build

OFFER = timedelta(hours=4)


async def _workshop(database, capacity: int, *, status: str = "published", days: int = 7) -> int:
    now = datetime.now(UTC)
    start = (now + timedelta(days=days)).strftime("%Y-%m-%d %H:%M")
    end = (now + timedelta(days=days, hours=2)).strftime("%Y-%m-%d %H:%M")
    ref = f"enrol-{now.timestamp()}"
    workshop = build(
        {
            "ref": ref,
            "title": "Pronote",
            "starts_at": start,
            "ends_at": end,
            "timezone": "UTC",
            "capacity": str(capacity),
            "status": status,
            "online_url": "https://visio.example.fr/x",
        }
    )
    async with await psycopg.AsyncConnection.connect(database.url) as connection:
        await store.save(connection, [workshop], now)
        cursor = await connection.execute("SELECT id FROM workshop WHERE ref = %s", (ref,))
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def _parents(pool, count: int) -> list[int]:
    return [
        await new_contact(pool, "web", f"parent-{datetime.now(UTC).timestamp()}-{n}")
        for n in range(count)
    ]


async def _enrol(pool, workshop_id: int, contact_id: int, people: int = 1):  # type: ignore[no-untyped-def]
    async with pool.connection() as connection, connection.transaction():
        return await enrolment.enrol(
            connection,
            workshop_id=workshop_id,
            contact_id=contact_id,
            people=people,
            now=datetime.now(UTC),
        )


async def _statuses(pool, workshop_id: int) -> dict[int, str]:
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT contact_id, status FROM enrolment WHERE workshop_id = %s", (workshop_id,)
        )
        return dict(await cursor.fetchall())


async def test_fifty_parents_for_the_last_ten_seats(database, pool) -> None:
    workshop_id = await _workshop(database, capacity=12)
    early = await _parents(pool, 2)
    for contact in early:
        await _enrol(pool, workshop_id, contact)
    parents = await _parents(pool, 50)

    wide = database.pool(max_size=25, name="liaison-enrolment-tests")  # 25 at once
    await wide.open(wait=True, timeout=30)
    try:
        results = await asyncio.gather(*(_enrol(wide, workshop_id, c) for c in parents))
    finally:
        await wide.close()

    statuses = [r.status for r in results]
    assert statuses.count("confirmed") == 10
    assert statuses.count("waitlisted") == 40
    waitlist = sorted((r for r in results if r.status == "waitlisted"), key=lambda r: r.id)

    # Three cancellations: three offers, to the first three in line.
    now = datetime.now(UTC)
    cancelling = [r.contact_id for r in results if r.status == "confirmed"][:3]
    offers = []
    async with pool.connection() as connection, connection.transaction():
        for contact in cancelling:
            cancelled, made = await enrolment.cancel(
                connection, workshop_id=workshop_id, contact_id=contact, now=now, offer_for=OFFER
            )
            assert cancelled is not None and cancelled.status == "cancelled"
            offers += made
    assert [o.contact_id for o in offers] == [w.contact_id for w in waitlist[:3]]
    assert all(o.offer_expires_at == now + OFFER for o in offers)

    # Nobody answers in time: the offers expire and move to the next three.
    later = now + OFFER + timedelta(minutes=1)
    async with pool.connection() as connection, connection.transaction():
        expired, moved = await enrolment.expire_offers(connection, now=later, offer_for=OFFER)
    assert {e.contact_id for e in expired if e.workshop_id == workshop_id} == {
        o.contact_id for o in offers
    }
    moved_here = [m.contact_id for m in moved if m.workshop_id == workshop_id]
    assert moved_here == [w.contact_id for w in waitlist[3:6]]

    # One takes the seat; an expired offer cannot be taken any more.
    async with pool.connection() as connection, connection.transaction():
        taken = await enrolment.accept(
            connection, workshop_id=workshop_id, contact_id=moved_here[0], now=later
        )
        late = await enrolment.accept(
            connection, workshop_id=workshop_id, contact_id=offers[0].contact_id, now=later
        )
    assert taken is not None and taken.status == "confirmed"
    assert late is None

    final = await _statuses(pool, workshop_id)
    held = sum(1 for s in final.values() if s in ("confirmed", "offered"))
    assert held == 12  # every seat held, none twice


async def test_enrolling_twice_returns_the_same_enrolment(database, pool) -> None:
    workshop_id = await _workshop(database, capacity=5)
    [parent] = await _parents(pool, 1)
    first = await _enrol(pool, workshop_id, parent, people=2)
    second = await _enrol(pool, workshop_id, parent, people=3)
    assert second == first


async def test_first_come_first_served_even_for_small_parties(database, pool) -> None:
    workshop_id = await _workshop(database, capacity=4)
    big, family, single = await _parents(pool, 3)
    assert (await _enrol(pool, workshop_id, big, people=2)).status == "confirmed"
    assert (await _enrol(pool, workshop_id, family, people=3)).status == "waitlisted"
    assert (await _enrol(pool, workshop_id, single, people=1)).status == "waitlisted"


@pytest.mark.parametrize(("status", "days"), [("draft", 7), ("cancelled", 7), ("published", -1)])
async def test_closed_workshops_take_nobody(database, pool, status: str, days: int) -> None:
    workshop_id = await _workshop(database, capacity=5, status=status, days=days)
    [parent] = await _parents(pool, 1)
    with pytest.raises(enrolment.NotOpen):
        await _enrol(pool, workshop_id, parent)


async def test_party_size_is_checked(database, pool) -> None:
    workshop_id = await _workshop(database, capacity=5)
    [parent] = await _parents(pool, 1)
    with pytest.raises(ValueError, match="between 1 and 10"):
        await _enrol(pool, workshop_id, parent, people=0)
