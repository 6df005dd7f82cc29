"""Changing a workshop that parents may already be enrolled in (the staff form, a CSV import).

`update()` runs in the caller's transaction, under the workshop's row lock, and keeps the
promises made to parents:

* the capacity may not fall below the seats taken (confirmed and offered): `Refused`;
* a published workshop with live enrolments may not go back to draft (cancel it instead);
* raising the capacity of a published workshop offers the new seats to the waiting list
  (`enrolment.offer_free_seats`, told by `offers.announce`);
* a new time or place for a published workshop is told to every parent enrolled (confirmed,
  waitlisted, offered), in their language, on their channel, once per change (the key holds
  the new start and a digest of the end and the place); an open offer never runs past the new
  start. Reminders follow by themselves: they are keyed on the start time;
* becoming `cancelled` is `cancellation.cancel()` (parents told, enrolments ended).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypedDict

from psycopg import AsyncConnection

from bot.replies import Button, Reply, payload
from channels.base import Renderer
from liaison.i18n import Catalogs, _
from workshops import cancellation, enrolment, offers, store
from workshops.notify import tell
from workshops.records import Workshop
from workshops.wording import place, when


class Refused(ValueError):
    """The change would break a promise made to parents; the message says which (French, for
    the organiser), `field` which field is at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class _Words(TypedDict):
    """How a parent is written to: their channel's renderer, their language."""

    renderers: Mapping[str, Renderer]
    catalogs: Catalogs
    default_language: str


@dataclass(frozen=True)
class Updated:
    created: bool = False
    told: int = 0  # parents told of a new time or place
    offered: int = 0  # waiting-list parents offered a seat
    cancelled: cancellation.Cancelled | None = None


async def update(
    connection: AsyncConnection[Any],
    workshop: Workshop,
    *,
    now: datetime,
    offer_for: timedelta,
    renderers: Mapping[str, Renderer],
    catalogs: Catalogs,
    default_language: str,
    keep_status: bool = False,
) -> Updated:
    """Save `workshop` (a new one, or a change of the one with its `ref`) and tell whoever
    must be told; `Refused` (nothing saved) when the change breaks a promise. With
    `keep_status`, the status stays what it is in the database (a form that edits the rest:
    an organiser cancelling meanwhile is not undone)."""
    cursor = await connection.execute(
        "SELECT id FROM workshop WHERE ref = %s FOR UPDATE", (workshop.ref,)
    )
    row = await cursor.fetchone()
    if row is None:
        await store.save(connection, [workshop], now)
        return Updated(created=True)
    workshop_id = int(row[0])
    before = (await store.load_by_refs(connection, [workshop.ref]))[workshop.ref]
    if keep_status:
        workshop = replace(workshop, status=before.status)
    taken = await enrolment.seats_taken(connection, workshop_id)
    if workshop.capacity < taken:
        raise Refused(
            "capacity",
            f"la capacité ({workshop.capacity}) est inférieure aux places déjà prises "
            f"({taken}) : annulez d'abord des inscriptions",
        )
    parents = await cancellation.enrolled(connection, workshop_id)
    if workshop.status == "draft" and before.status != "draft" and parents:
        raise Refused(
            "status",
            f"{len(parents)} parent(s) inscrit(s) : un atelier publié ne redevient pas "
            "brouillon (annulez-le pour prévenir les parents)",
        )
    cancelling = workshop.status == "cancelled" and before.status != "cancelled"
    saved = replace(workshop, status=before.status) if cancelling else workshop
    await store.save(connection, [saved], now)
    words = _Words(renderers=renderers, catalogs=catalogs, default_language=default_language)
    if cancelling:
        done = await cancellation.cancel(connection, workshop.ref, now=now, **words)
        return Updated(cancelled=done)
    if workshop.status != "published" or before.status != "published":
        return Updated()
    told = 0
    if _where_and_when(before) != _where_and_when(workshop):
        await connection.execute(
            "UPDATE enrolment SET offer_expires_at = least(offer_expires_at, %s) "
            "WHERE workshop_id = %s AND status = 'offered'",
            (workshop.starts_at, workshop_id),
        )
        told = await _tell_change(connection, workshop, parents, now=now, **words)
    offered = 0
    if workshop.capacity > before.capacity:
        made = await enrolment.offer_free_seats(
            connection, workshop_id=workshop_id, now=now, offer_for=offer_for
        )
        offered = await offers.announce(connection, made, now=now, **words)
    return Updated(told=told, offered=offered)


def _where_and_when(workshop: Workshop) -> tuple[object, ...]:
    return (
        workshop.starts_at,
        workshop.ends_at,
        workshop.venue_name,
        workshop.venue_address,
        workshop.online_url,
    )


async def _tell_change(
    connection: AsyncConnection[Any],
    workshop: Workshop,
    parents: list[cancellation.Enrolled],
    *,
    now: datetime,
    renderers: Mapping[str, Renderer],
    catalogs: Catalogs,
    default_language: str,
) -> int:
    digest = hashlib.sha256(repr(_where_and_when(workshop)).encode()).hexdigest()[:16]
    told = 0
    for parent in parents:
        render = renderers.get(parent.channel)
        if parent.opted_out or render is None:
            continue
        with catalogs.use(parent.language or default_language):
            where = place(workshop)
            if workshop.online_url:
                where = f"{where}\n{workshop.online_url}"
            text = _(
                "Attention : l'atelier « {title} » a changé.\nQuand : {when}\nOù : {place}\n"
                "Vous ne pouvez pas venir ? Dites-le-nous."
            ).format(title=workshop.title, when=when(workshop), place=where)
            buttons = (
                Button(_("Je viendrai"), "/thanks"),
                Button(
                    _("Je ne peux pas venir"), payload("workshop_cancel", workshop=workshop.ref)
                ),
            )
            messages = render([Reply(text, buttons)])
        told += await tell(
            connection,
            contact_id=parent.contact_id,
            channel=parent.channel,
            address=parent.address,
            messages=messages,
            buttons=buttons,
            key=f"workshop-changed:{parent.enrolment_id}:{workshop.starts_at.isoformat()}:{digest}",
            now=now,
        )
    return told


async def publish(connection: AsyncConnection[Any], ref: str, *, now: datetime) -> str | None:
    """Publish the draft `ref` (enrolment opens); why not, in French, when it cannot be."""
    cursor = await connection.execute(
        "SELECT status, starts_at FROM workshop WHERE ref = %s FOR UPDATE", (ref,)
    )
    row = await cursor.fetchone()
    if row is None:
        return "Cet atelier n'existe pas."
    status, starts_at = row
    if status == "published":
        return None
    if status != "draft":
        return "Un atelier annulé ne peut plus être publié : créez-en un nouveau."
    if starts_at <= now:
        return "Cet atelier a déjà commencé : il ne peut plus être publié."
    await connection.execute(
        "UPDATE workshop SET status = 'published', updated_at = %s WHERE ref = %s", (now, ref)
    )
    return None
