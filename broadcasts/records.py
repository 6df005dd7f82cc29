"""A notice as stored: the `broadcast` row, created and edited as a draft, then listed.

The audience is a small JSON object (`Audience`): levels, classes, languages, channels and
engagement segments, each an empty list meaning "all". A draft can be edited; once scheduled
it can only be cancelled (until it starts sending).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

Connection = AsyncConnection[Any]
STATUSES = ("draft", "scheduled", "sending", "sent", "cancelled")
# The channels a notice can reach a parent on between conversations.
CHANNELS = ("sms", "telegram")
SEGMENTS = {
    "never_answered": "n'ont jamais écrit",
    "never_enrolled": "jamais inscrits à un atelier",
    "no_show": "inscrits à un atelier mais pas venus",
}


@dataclass(frozen=True)
class Audience:
    """Who among the families of the chosen schools (every list empty: everyone)."""

    levels: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()

    def as_json(self) -> dict[str, list[str]]:
        return {
            "levels": list(self.levels),
            "classes": list(self.classes),
            "languages": list(self.languages),
            "channels": list(self.channels),
            "segments": list(self.segments),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Audience:
        def items(key: str) -> tuple[str, ...]:
            return tuple(str(item) for item in data.get(key) or ())

        levels, classes, languages = items("levels"), items("classes"), items("languages")
        return cls(levels, classes, languages, items("channels"), items("segments"))


@dataclass(frozen=True)
class Broadcast:
    id: int
    title: str
    school_ids: tuple[int, ...]
    audience: Audience
    template: str | None
    placeholders: dict[str, str]
    texts: dict[str, str]
    urgent: bool
    status: str
    scheduled_at: datetime | None
    created_by: int | None
    created_at: datetime
    sent_at: datetime | None = None


@dataclass(frozen=True)
class Draft:
    """What the compose form gives."""

    title: str
    school_ids: tuple[int, ...]
    audience: Audience
    template: str | None
    placeholders: dict[str, str]
    texts: dict[str, str]


_COLUMNS = (
    "id, title, school_ids, audience, template, placeholders, texts, urgent, status, "
    "scheduled_at, created_by, created_at, sent_at"
)


def _from_row(row: dict[str, Any]) -> Broadcast:
    return Broadcast(
        id=int(row["id"]),
        title=row["title"],
        school_ids=tuple(int(s) for s in row["school_ids"]),
        audience=Audience.from_json(row["audience"] or {}),
        template=row["template"],
        placeholders={str(k): str(v) for k, v in (row["placeholders"] or {}).items()},
        texts={str(k): str(v) for k, v in (row["texts"] or {}).items()},
        urgent=bool(row["urgent"]),
        status=row["status"],
        scheduled_at=row["scheduled_at"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        sent_at=row["sent_at"],
    )


def _columns(draft: Draft) -> tuple[Any, ...]:
    """title, school_ids, audience, template, placeholders, texts: as the table holds them."""
    return (
        draft.title,
        list(draft.school_ids),
        Jsonb(draft.audience.as_json()),
        draft.template,
        Jsonb(draft.placeholders),
        Jsonb(draft.texts),
    )


async def create(
    connection: Connection, draft: Draft, *, account_id: int | None, now: datetime
) -> int:
    cursor = await connection.execute(
        "INSERT INTO broadcast (title, school_ids, audience, template, placeholders, texts, "
        "created_by, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (*_columns(draft), account_id, now),
    )
    row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def update(connection: Connection, broadcast_id: int, draft: Draft) -> bool:
    """Change a draft; False when it is not a draft any more."""
    cursor = await connection.execute(
        "UPDATE broadcast SET title = %s, school_ids = %s, audience = %s, template = %s, "
        "placeholders = %s, texts = %s WHERE id = %s AND status = 'draft'",
        (*_columns(draft), broadcast_id),
    )
    return cursor.rowcount == 1


async def load(connection: Connection, broadcast_id: int) -> Broadcast | None:
    cursor = connection.cursor(row_factory=dict_row)
    await cursor.execute(
        f"SELECT {_COLUMNS} FROM broadcast WHERE id = %s",  # noqa: S608 - constant names
        (broadcast_id,),
    )
    row = await cursor.fetchone()
    return _from_row(row) if row is not None else None


async def listing(
    connection: Connection, school_ids: Collection[int] | None, *, limit: int = 200
) -> list[Broadcast]:
    """The latest notices, those of `school_ids` only (every one of their schools in it);
    None: all."""
    cursor = connection.cursor(row_factory=dict_row)
    await cursor.execute(
        f"SELECT {_COLUMNS} FROM broadcast "  # noqa: S608 - constant names
        "WHERE %(all)s OR school_ids <@ %(schools)s::bigint[] "
        "ORDER BY created_at DESC, id DESC LIMIT %(limit)s",
        {"all": school_ids is None, "schools": sorted(school_ids or ()), "limit": limit},
    )
    return [_from_row(row) for row in await cursor.fetchall()]
