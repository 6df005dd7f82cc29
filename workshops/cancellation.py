"""Cancelling a workshop: its status, its enrolments, and every parent enrolled told.

`cancel()` runs in the caller's transaction, under the workshop's row lock: the workshop
becomes `cancelled`, each live enrolment (confirmed, waitlisted, offered) ends (`cancelled`,
so that "mes inscriptions" no longer lists it and no reminder or offer follows), and each of
those parents is told in their language on their channel, with the next published sessions on
the same tools to enrol in (or a person to talk to). One idempotency key per enrolment
(`workshop-cancelled:<id>`): cancelling twice, or two organisers at once, tells nobody twice.

Parents on the web chat cannot be reached between visits, and parents who opted out are not
written to; `audience()` counts them apart so that the staff page can say so before cancelling.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from channels.base import Renderer
from liaison.i18n import Catalogs, _
from workshops.enrolment import ACTIVE
from workshops.followups import another_session, later_sessions
from workshops.notify import tell
from workshops.store import load, load_by_refs
from workshops.wording import when

_ENROLLED = """
SELECT e.id, e.contact_id, c.channel, c.address, c.language, c.opted_out_at IS NOT NULL
FROM enrolment e JOIN contact c ON c.id = e.contact_id
WHERE e.workshop_id = %s AND e.status = ANY(%s)
ORDER BY e.id
"""
_END = """
UPDATE enrolment SET status = 'cancelled', offer_expires_at = NULL, updated_at = %s
WHERE workshop_id = %s AND status = ANY(%s)
"""


@dataclass(frozen=True)
class Enrolled:
    """A parent with a live enrolment, and how to reach them."""

    enrolment_id: int
    contact_id: int
    channel: str
    address: str
    language: str | None
    opted_out: bool


@dataclass(frozen=True)
class Audience:
    """Who a message about a workshop reaches: `reachable` parents (SMS, Telegram), and
    those it cannot reach (`web`: the web chat; `opted_out`: they asked for no messages)."""

    reachable: int
    web: int
    opted_out: int

    @property
    def total(self) -> int:
        return self.reachable + self.web + self.opted_out


@dataclass(frozen=True)
class Cancelled:
    already: bool  # the workshop was cancelled before this call
    enrolments: int  # live enrolments ended now
    told: int  # parents whose message was queued now


async def enrolled(connection: AsyncConnection[Any], workshop_id: int) -> list[Enrolled]:
    """The live enrolments of a workshop with their contacts, oldest first."""
    cursor = await connection.execute(_ENROLLED, (workshop_id, list(ACTIVE)))
    return [Enrolled(*row) for row in await cursor.fetchall()]


async def audience(
    connection: AsyncConnection[Any], ref: str, renderers: Mapping[str, Renderer]
) -> Audience:
    """Who a message to the parents enrolled in `ref` would reach (none if no such workshop)."""
    cursor = await connection.execute("SELECT id FROM workshop WHERE ref = %s", (ref,))
    row = await cursor.fetchone()
    parents = await enrolled(connection, int(row[0])) if row else []
    opted_out = sum(1 for p in parents if p.opted_out)
    reachable = sum(1 for p in parents if not p.opted_out and p.channel in renderers)
    return Audience(reachable, len(parents) - opted_out - reachable, opted_out)


async def cancel(
    connection: AsyncConnection[Any],
    ref: str,
    *,
    now: datetime,
    renderers: Mapping[str, Renderer],
    catalogs: Catalogs,
    default_language: str,
) -> Cancelled | None:
    """Cancel the workshop `ref` and tell its parents; None when there is no such workshop."""
    cursor = await connection.execute(
        "SELECT id, status FROM workshop WHERE ref = %s FOR UPDATE", (ref,)
    )
    row = await cursor.fetchone()
    if row is None:
        return None
    workshop_id, status = int(row[0]), row[1]
    await connection.execute(
        "UPDATE workshop SET status = 'cancelled', updated_at = %s WHERE id = %s",
        (now, workshop_id),
    )
    parents = await enrolled(connection, workshop_id)
    await connection.execute(_END, (now, workshop_id, list(ACTIVE)))
    workshop = (await load_by_refs(connection, [ref]))[ref]
    upcoming = await load(connection, status="published", after=now) if parents else []
    told = 0
    for parent in parents:
        render = renderers.get(parent.channel)
        if parent.opted_out or render is None:
            continue
        with catalogs.use(parent.language or default_language):
            opening = _("Nous sommes désolés : l'atelier « {title} » ({when}) est annulé.").format(
                title=workshop.title, when=when(workshop)
            )
            reply = another_session(opening, later_sessions(workshop, upcoming))
            messages = render([reply])
        told += await tell(
            connection,
            contact_id=parent.contact_id,
            channel=parent.channel,
            address=parent.address,
            messages=messages,
            buttons=reply.buttons,
            key=f"workshop-cancelled:{parent.enrolment_id}",
            now=now,
        )
    return Cancelled(already=status == "cancelled", enrolments=len(parents), told=told)
