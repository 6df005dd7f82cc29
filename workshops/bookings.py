"""What the conversation may do with a parent's enrolments, bound to the turn's transaction.

The assistant stays free of SQL: the conversation store hands it a `Bookings` for the parent
being answered, on the same connection and in the same transaction as the turn, so an
enrolment and the reply that announces it commit together. The parent's answers to follow-ups
(`workshops.followups`) are recorded the same way, as `outcome` rows of their own enrolments.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection

from workshops import enrolment
from workshops.records import Workshop
from workshops.store import load_by_refs

# How long a freed seat is held for the next parent on the waiting list.
OFFER_FOR = timedelta(hours=24)

_MINE = """
SELECT w.ref, e.status, e.people, e.id, e.workshop_id
FROM enrolment e JOIN workshop w ON w.id = e.workshop_id
WHERE e.contact_id = %s AND e.status IN ('confirmed', 'waitlisted', 'offered')
  AND w.starts_at > %s
ORDER BY w.starts_at
"""

# The parent's own enrolment only: a forged id (another parent's) finds nothing.
_OUTCOME = """
WITH mine AS (
    SELECT e.id, w.ref FROM enrolment e JOIN workshop w ON w.id = e.workshop_id
    WHERE e.id = %(enrolment_id)s AND e.contact_id = %(contact_id)s
), recorded AS (
    INSERT INTO outcome (enrolment_id, kind, answer, recorded_at)
    SELECT id, %(kind)s, %(answer)s, %(now)s FROM mine
)
SELECT ref FROM mine
"""


@dataclass(frozen=True)
class Booking:
    workshop: Workshop
    status: str  # confirmed, waitlisted, offered
    people: int
    id: int  # the enrolment's number, what the parent gives at the door
    workshop_id: int


# Tells the parents offered freed seats (`workshops.offers.announce`, bound by the store).
Announcer = Callable[[AsyncConnection[Any], list[enrolment.Enrolment], datetime], Awaitable[int]]


class Bookings:
    def __init__(
        self,
        connection: AsyncConnection[Any],
        contact_id: int,
        now: datetime,
        *,
        announce: Announcer | None = None,
    ) -> None:
        self.connection = connection
        self.contact_id = contact_id
        self.now = now
        self.announce = announce

    async def _workshop_id(self, ref: str) -> int | None:
        cursor = await self.connection.execute("SELECT id FROM workshop WHERE ref = %s", (ref,))
        row = await cursor.fetchone()
        return int(row[0]) if row else None

    async def enrol(self, ref: str, people: int) -> str | None:
        """The enrolment's status (confirmed, waitlisted, or what it already was; a seat
        offered to the parent is taken); None if the workshop is unknown, not published or
        started."""
        workshop_id = await self._workshop_id(ref)
        if workshop_id is None:
            return None
        try:
            async with self.connection.transaction():  # a savepoint: a refusal keeps the turn
                made = await enrolment.enrol(
                    self.connection,
                    workshop_id=workshop_id,
                    contact_id=self.contact_id,
                    people=people,
                    now=self.now,
                )
            if made.status == "offered":
                taken = await enrolment.accept(
                    self.connection,
                    workshop_id=workshop_id,
                    contact_id=self.contact_id,
                    now=self.now,
                )
                return "confirmed" if taken is not None else made.status
        except (enrolment.NotOpen, ValueError):
            return None
        return made.status

    async def cancel(self, ref: str) -> bool:
        """Cancel the parent's enrolment (the freed seats are offered to the waiting list)."""
        workshop_id = await self._workshop_id(ref)
        if workshop_id is None:
            return False
        cancelled, offers = await enrolment.cancel(
            self.connection,
            workshop_id=workshop_id,
            contact_id=self.contact_id,
            now=self.now,
            offer_for=OFFER_FOR,
        )
        if offers and self.announce is not None:
            await self.announce(self.connection, offers, self.now)
        return cancelled is not None

    async def record_outcome(self, enrolment_id: int, kind: str, answer: str) -> Workshop | None:
        """Record the parent's answer to a follow-up (one row per answer: the latest counts);
        the workshop it is about, or None (and nothing recorded) if the enrolment is not this
        parent's."""
        cursor = await self.connection.execute(
            _OUTCOME,
            {
                "enrolment_id": enrolment_id,
                "contact_id": self.contact_id,
                "kind": kind,
                "answer": answer,
                "now": self.now,
            },
        )
        row = await cursor.fetchone()
        if row is None:
            return None
        return (await load_by_refs(self.connection, [row[0]]))[row[0]]

    async def mine(self) -> list[Booking]:
        """The parent's live enrolments in workshops still to come, soonest first."""
        cursor = await self.connection.execute(_MINE, (self.contact_id, self.now))
        rows = await cursor.fetchall()
        workshops = await load_by_refs(self.connection, [row[0] for row in rows])
        return [Booking(workshops[row[0]], *row[1:]) for row in rows]
