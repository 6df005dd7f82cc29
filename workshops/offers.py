"""Telling a parent on the waiting list that a seat is theirs if they want it.

`announce()` writes, in the caller's transaction, one outbox message per offer, in the
parent's language and on their channel: the workshop, and the deadline on the venue's clock,
with "yes" and "no thanks" buttons (numbers over SMS). The conversation's offered buttons are
set to them too, so a typed "OUI" or "1" takes the seat. Each offer is announced once (an
idempotency key per offer and deadline). Parents on the web chat cannot be reached between
visits: they see the offer under "mes inscriptions".
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from bot.replies import Button, Reply, payload
from channels.base import Renderer
from liaison.i18n import Catalogs, _
from workshops.enrolment import Enrolment
from workshops.notify import tell
from workshops.store import load_by_refs
from workshops.wording import moment

_WHO = """
SELECT c.channel, c.address, c.language, c.opted_out_at IS NOT NULL, w.ref
FROM contact c, workshop w WHERE c.id = %s AND w.id = %s
"""


async def announce(
    connection: AsyncConnection[Any],
    offers: list[Enrolment],
    *,
    now: datetime,
    renderers: Mapping[str, Renderer],
    catalogs: Catalogs,
    default_language: str,
) -> int:
    """Queue the message of each offer; returns how many were queued."""
    queued = 0
    for offer in offers:
        cursor = await connection.execute(_WHO, (offer.contact_id, offer.workshop_id))
        row = await cursor.fetchone()
        if row is None or offer.offer_expires_at is None:
            continue
        channel, address, language, opted_out, ref = row
        renderer = renderers.get(channel)
        if opted_out or renderer is None:
            continue
        workshop = (await load_by_refs(connection, [ref]))[ref]
        language = language or default_language
        yes = payload("workshop_enrol", workshop=ref, people=str(offer.people), confirm="yes")
        no = payload("workshop_cancel", workshop=ref, confirm="yes")
        with catalogs.use(language):
            text = _(
                "Bonne nouvelle : une place s'est libérée à « {title} », {when}. "
                "Vous la voulez ? Répondez avant {deadline}."
            ).format(
                title=workshop.title,
                when=moment(workshop, workshop.starts_at),
                deadline=moment(workshop, offer.offer_expires_at),
            )
            buttons = (Button(_("Oui, je prends la place"), yes), Button(_("Non merci"), no))
            messages = renderer([Reply(text, buttons)])
        queued += await tell(
            connection,
            contact_id=offer.contact_id,
            channel=channel,
            address=address,
            messages=messages,
            buttons=buttons,
            key=f"offer:{offer.id}:{offer.offer_expires_at.isoformat()}",
            now=now,
        )
    return queued
