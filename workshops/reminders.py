"""Reminders before a workshop, in each parent's language, on the channel they enrolled from.

`due()` says when each reminder of a workshop is to be sent: `hours_before` the start, moved
out of quiet hours (night, Sunday, public holiday on the venue's calendar) to the next allowed
moment, and dropped if that moment is not before the start. `send_due()` (the periodic job
`liaison.send_reminders`) queues every reminder due and not sent yet for the confirmed
enrolments of published workshops. Each reminder has an idempotency key made of the
enrolment, the reminder and the workshop's start: a scheduler that runs twice, or two workers
racing, queue it once; a workshop moved to another time gets its reminders again, for the new
time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection

from bot.replies import Button, Reply, payload
from channels.base import Renderer
from liaison.i18n import Catalogs, _
from workshops.notify import tell
from workshops.quiet_hours import QuietHours, next_allowed
from workshops.records import Workshop
from workshops.store import load_by_refs
from workshops.wording import place, when

# How far back a missed reminder is still worth sending (a worker down for an hour).
LOOKBACK = timedelta(hours=6)

_CANDIDATES = """
SELECT e.id, e.contact_id, c.channel, c.address, c.language, w.ref
FROM enrolment e
JOIN workshop w ON w.id = e.workshop_id
JOIN contact c ON c.id = e.contact_id
WHERE e.status = 'confirmed' AND w.status = 'published' AND c.opted_out_at IS NULL
  AND w.starts_at > %(now)s AND w.starts_at <= %(horizon)s
  AND c.channel = ANY(%(channels)s)
ORDER BY w.starts_at, e.id
"""


def due(
    workshop: Workshop, hours_before: Sequence[float], quiet: QuietHours
) -> list[tuple[int, datetime]]:
    """(hours before, when to send) for each reminder that can go out before the start."""
    moments = []
    for hours in hours_before:
        wanted = workshop.starts_at - timedelta(hours=hours)
        when = next_allowed(wanted, workshop.timezone, quiet)
        if when < workshop.starts_at:
            moments.append((round(hours), when))
    return moments


async def send_due(
    connection: AsyncConnection[Any],
    *,
    now: datetime,
    hours_before: Sequence[float],
    quiet: QuietHours,
    renderers: Mapping[str, Renderer],
    catalogs: Catalogs,
    default_language: str,
) -> int:
    """Queue the reminders due by `now`; returns how many were queued (not counting those
    already sent)."""
    horizon = now + timedelta(hours=max(hours_before, default=0) + 1)
    cursor = await connection.execute(
        _CANDIDATES, {"now": now, "horizon": horizon, "channels": list(renderers)}
    )
    rows = await cursor.fetchall()
    workshops = await load_by_refs(connection, sorted({row[5] for row in rows}))
    queued = 0
    for enrolment_id, contact_id, channel, address, language, ref in rows:
        workshop = workshops[ref]
        for hours, send_at in due(workshop, hours_before, quiet):
            if not now - LOOKBACK <= send_at <= now:
                continue
            language = language or default_language
            with catalogs.use(language):
                text = _(
                    "Rappel : atelier « {title} », {when}.\n{place}\n"
                    "Vous ne pouvez pas venir ? Dites-le-nous."
                ).format(title=workshop.title, when=when(workshop), place=place(workshop))
                buttons = (
                    Button(_("Je viendrai"), "/thanks"),
                    Button(_("Je ne peux pas venir"), payload("workshop_cancel", workshop=ref)),
                )
                messages = renderers[channel]([Reply(text, buttons)])
            # "2" then means "I cannot come".
            queued += await tell(
                connection,
                contact_id=contact_id,
                channel=channel,
                address=address,
                messages=messages,
                buttons=buttons,
                key=f"reminder:{enrolment_id}:{hours}h:{workshop.starts_at.isoformat()}",
                now=now,
            )
    return queued
