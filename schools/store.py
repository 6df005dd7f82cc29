"""Schools in PostgreSQL: add or update by UAI (a new school gets a fresh join code, an
existing one keeps its own), list, find by join code."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.errors import UniqueViolation
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from schools.codes import CODE_LENGTHS, new_join_code
from schools.hours import Hours

_COLUMNS = "id, uai, name, timezone, join_code, opening_hours"
# A few draws of each length before a longer code: 4 characters give 900,000 codes.
_DRAWS = 8


@dataclass(frozen=True)
class School:
    id: int
    uai: str
    name: str
    timezone: str
    join_code: str
    opening_hours: Hours = field(default_factory=dict)


@dataclass(frozen=True)
class NewSchool:
    """A school as a CSV row or the demo describes it (no id, no code yet)."""

    uai: str
    name: str
    timezone: str = "Europe/Paris"
    opening_hours: Hours = field(default_factory=dict)


async def load(connection: AsyncConnection[Any], ids: list[int] | None = None) -> list[School]:
    """Every school (or those of `ids`), by name."""
    where, params = ("WHERE id = ANY(%s)", (ids,)) if ids is not None else ("", ())
    async with connection.cursor(row_factory=class_row(School)) as cursor:
        await cursor.execute(f"SELECT {_COLUMNS} FROM school {where} ORDER BY name, uai", params)  # noqa: S608
        return await cursor.fetchall()


async def by_code(connection: AsyncConnection[Any], code: str) -> School | None:
    async with connection.cursor(row_factory=class_row(School)) as cursor:
        await cursor.execute(f"SELECT {_COLUMNS} FROM school WHERE join_code = %s", (code,))  # noqa: S608
        return await cursor.fetchone()


async def uais(connection: AsyncConnection[Any]) -> dict[str, int]:
    """Every school's id by UAI."""
    cursor = await connection.execute("SELECT uai, id FROM school")
    return {uai: int(id_) for uai, id_ in await cursor.fetchall()}


async def save(
    connection: AsyncConnection[Any], schools: list[NewSchool], now: datetime
) -> tuple[int, int]:
    """Add or update each school by UAI, in the caller's transaction: (added, updated)."""
    added = updated = 0
    for school in schools:
        cursor = await connection.execute(
            "UPDATE school SET name = %s, timezone = %s, opening_hours = %s WHERE uai = %s "
            "RETURNING id",
            (school.name, school.timezone, _json(school.opening_hours), school.uai),
        )
        if await cursor.fetchone() is not None:
            updated += 1
            continue
        await _insert(connection, school, now)
        added += 1
    return added, updated


async def _insert(connection: AsyncConnection[Any], school: NewSchool, now: datetime) -> None:
    for length in CODE_LENGTHS:
        for _ in range(_DRAWS):
            try:
                async with connection.transaction():  # a savepoint: a taken code is drawn again
                    await connection.execute(
                        "INSERT INTO school (uai, name, timezone, join_code, opening_hours, "
                        "created_at) VALUES (%s, %s, %s, %s, %s, %s)",
                        (
                            school.uai,
                            school.name,
                            school.timezone,
                            new_join_code(length),
                            _json(school.opening_hours),
                            now,
                        ),
                    )
                return
            except UniqueViolation as error:
                if "join_code" not in str(error.diag.constraint_name or ""):
                    raise
    raise RuntimeError("no free join code")  # pragma: no cover - 10^9 codes of 6 characters


def _json(hours: Hours) -> Jsonb:
    return Jsonb(hours)
