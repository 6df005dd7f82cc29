"""A families import from start to end: check the file, write the valid rows, write the report
of the rejected ones; and, for the staff page, keep each account's last import (its figures
and its report) to show and download. Only the last one per account is kept: the report holds
phone numbers as they were written, and nobody needs last month's typos.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row

from schools import families, families_csv, report, store


@dataclass(frozen=True)
class Result:
    rows: int  # rows read (blank lines left out)
    imported: int  # rows written (family-school-class)
    rejected: list[families_csv.Rejected]
    saved: families.Saved
    report: str  # CSV, see `schools.report`
    school_ids: list[int]  # the schools the imported rows are in


@dataclass(frozen=True)
class StoredImport:
    id: int
    file_name: str
    rows: int
    imported: int
    rejected: int
    families_created: int
    created_at: datetime


async def run(
    connection: AsyncConnection[Any],
    data: bytes,
    *,
    languages: Collection[str],
    now: datetime,
    allowed: Mapping[str, int] | None = None,
    dry_run: bool = False,
) -> Result:
    """Import a families file in the caller's transaction. `allowed` are the schools (UAI ->
    id) the importer may import into (None: every school). `schools.csv_files.InvalidFile`
    when the file itself is wrong; nothing is written then, nor with `dry_run`."""
    known = await store.uais(connection)
    checked = families_csv.read(
        data, schools=known if allowed is None else allowed, known=known, languages=languages
    )
    saved = families.Saved(0, 0, 0)
    if not dry_run:
        saved = await families.save(connection, checked.rows, now)
    return Result(
        rows=checked.total,
        imported=len(checked.rows),
        rejected=checked.rejected,
        saved=saved,
        report=report.write(checked.header, checked.rejected),
        school_ids=sorted({row.school_id for row in checked.rows}),
    )


async def remember(
    connection: AsyncConnection[Any],
    *,
    account_id: int,
    result: Result,
    now: datetime,
    file_name: str = "",
) -> int:
    """Keep `result` as the account's last import (the previous one is deleted)."""
    await connection.execute("DELETE FROM family_import WHERE account_id = %s", (account_id,))
    cursor = await connection.execute(
        "INSERT INTO family_import (account_id, file_name, school_ids, rows, imported, "
        "rejected, families_created, report, created_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (
            account_id,
            file_name[:200],
            result.school_ids,
            result.rows,
            result.imported,
            len(result.rejected),
            result.saved.families_created,
            result.report,
            now,
        ),
    )
    row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def last(connection: AsyncConnection[Any], account_id: int) -> StoredImport | None:
    """The account's last import, if it kept one."""
    async with connection.cursor(row_factory=class_row(StoredImport)) as cursor:
        await cursor.execute(
            "SELECT id, file_name, rows, imported, rejected, families_created, created_at "
            "FROM family_import WHERE account_id = %s ORDER BY created_at DESC LIMIT 1",
            (account_id,),
        )
        return await cursor.fetchone()


async def last_report(connection: AsyncConnection[Any], account_id: int) -> str | None:
    """The CSV report of the account's last import: only ever the account's own."""
    cursor = await connection.execute(
        "SELECT report FROM family_import WHERE account_id = %s ORDER BY created_at DESC LIMIT 1",
        (account_id,),
    )
    row = await cursor.fetchone()
    return str(row[0]) if row else None
