"""Workshops in PostgreSQL: import (insert or update by `ref`), listing, export."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from workshops.records import FIELDS, LIST_FIELDS, Workshop

_UPSERT = f"""
INSERT INTO workshop ({", ".join(FIELDS)}, created_at, updated_at)
VALUES ({", ".join(f"%({name})s" for name in FIELDS)}, %(now)s, %(now)s)
ON CONFLICT (ref) DO UPDATE SET
    {", ".join(f"{name} = EXCLUDED.{name}" for name in FIELDS if name != "ref")},
    updated_at = EXCLUDED.updated_at
RETURNING (xmax = 0) AS created
"""  # noqa: S608 - the names are this module's constants, the values are parameters


async def save(
    connection: AsyncConnection[Any], workshops: Sequence[Workshop], now: datetime
) -> tuple[int, int]:
    """Insert new workshops and update those whose `ref` exists, in the caller's transaction;
    returns (created, updated)."""
    created = updated = 0
    for workshop in workshops:
        values = {name: getattr(workshop, name) for name in FIELDS}
        values.update({key: list(values[key]) for key in LIST_FIELDS})
        cursor = await connection.execute(_UPSERT, {**values, "now": now})
        row = await cursor.fetchone()
        if row is not None and row[0]:
            created += 1
        else:
            updated += 1
    return created, updated


async def load(
    connection: AsyncConnection[Any], *, status: str | None = None, after: datetime | None = None
) -> list[Workshop]:
    """Workshops by start time, optionally only those with `status` starting after `after`."""
    async with connection.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(
            f"SELECT {', '.join(FIELDS)} FROM workshop "  # noqa: S608 - constant names
            "WHERE (%(status)s::text IS NULL OR status = %(status)s) "
            "AND (%(after)s::timestamptz IS NULL OR starts_at > %(after)s) "
            "ORDER BY starts_at, ref",
            {"status": status, "after": after},
        )
        rows = await cursor.fetchall()
    return [_workshop(row) for row in rows]


async def count(connection: AsyncConnection[Any]) -> int:
    cursor = await connection.execute("SELECT count(*) FROM workshop")
    row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def load_by_refs(
    connection: AsyncConnection[Any], refs: Sequence[str]
) -> dict[str, Workshop]:
    """The workshops with these refs, by ref."""
    if not refs:
        return {}
    async with connection.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(
            f"SELECT {', '.join(FIELDS)} FROM workshop WHERE ref = ANY(%s)",  # noqa: S608
            (list(refs),),
        )
        rows = await cursor.fetchall()
    return {row["ref"]: _workshop(row) for row in rows}


def _workshop(row: dict[str, Any]) -> Workshop:
    return Workshop(**{**row, **{key: tuple(row[key]) for key in LIST_FIELDS}})
