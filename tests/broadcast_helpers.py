"""Schools, families and contacts for the tests (notices, the inbox), inserted directly."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from broadcasts import records
from broadcasts.records import Audience, Draft


async def new_school(pool: Any, timezone: str = "Europe/Paris", name: str = "École") -> int:
    code = uuid.uuid4().hex[:10].upper()
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "INSERT INTO school (uai, name, timezone, join_code, created_at) "
            "VALUES (%s, %s, %s, %s, %s) RETURNING id",
            (code, f"{name} {code[:4]}", timezone, code, datetime.now(UTC)),
        )
        row = await cursor.fetchone()
    return int(row[0])


async def new_family(
    pool: Any,
    school_id: int,
    *,
    level: str = "6e",
    class_name: str = "6eA",
    language: str | None = "fr",
    preferred: str | None = None,
    contacts: tuple[tuple[str, bool, str | None], ...] = (("sms", False, None),),
) -> tuple[int, list[int]]:
    """A family in one class of `school_id` with `contacts` (channel, opted out, language);
    (family id, contact ids)."""
    now = datetime.now(UTC)
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "INSERT INTO family (language, preferred_channel, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s) RETURNING id",
            (language, preferred, now, now),
        )
        (family_id,) = await cursor.fetchone()
        await join(connection, family_id, school_id, level, class_name)
        contact_ids = []
        for channel, opted_out, contact_language in contacts:
            address = (
                "+3375" + str(uuid.uuid4().int)[:7]
                if channel == "sms"
                else str(uuid.uuid4().int)[:10]
            )
            cursor = await connection.execute(
                "INSERT INTO contact (channel, address, language, created_at, last_seen_at, "
                "opted_out_at) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                (channel, address, contact_language, now, now, now if opted_out else None),
            )
            (contact_id,) = await cursor.fetchone()
            await connection.execute(
                "INSERT INTO family_contact (family_id, contact_id) VALUES (%s, %s)",
                (family_id, contact_id),
            )
            contact_ids.append(int(contact_id))
    return int(family_id), contact_ids


async def join(
    connection: Any, family_id: int, school_id: int, level: str, class_name: str
) -> None:
    await connection.execute(
        "INSERT INTO family_school (family_id, school_id, level, class_name, source, joined_at) "
        "VALUES (%s, %s, %s, %s, 'import', %s)",
        (family_id, school_id, level, class_name, datetime.now(UTC)),
    )


async def new_broadcast(
    pool: Any,
    school_ids: list[int],
    *,
    audience: Audience | None = None,
    texts: dict[str, str] | None = None,
    template: str | None = None,
    placeholders: dict[str, str] | None = None,
) -> int:
    draft = Draft(
        title="Annonce de test",
        school_ids=tuple(school_ids),
        audience=audience or Audience(),
        template=template,
        placeholders=placeholders or {},
        texts=texts if texts is not None else {"fr": "Bonjour, ceci est une annonce."},
    )
    async with pool.connection() as connection:
        return await records.create(connection, draft, account_id=None, now=datetime.now(UTC))


async def fetch(pool: Any, query: str, *params: Any) -> list[tuple[Any, ...]]:
    async with pool.connection() as connection:
        cursor = await connection.execute(query, params)
        return list(await cursor.fetchall())


async def join_contact(
    connection: Any, channel: str, address: str, school_id: int, *, language: str | None = None
) -> None:
    """The contact (created if need be; its language set when given) in a new family of
    `school_id`, as joining the school does."""
    cursor = await connection.execute(
        "INSERT INTO contact (channel, address, language, created_at, last_seen_at) "
        "VALUES (%s, %s, %s, now(), now()) ON CONFLICT ON CONSTRAINT uq_contact_channel_address "
        "DO UPDATE SET language = coalesce(EXCLUDED.language, contact.language), "
        "last_seen_at = now() RETURNING id",
        (channel, address, language),
    )
    contact = await cursor.fetchone()
    cursor = await connection.execute(
        "INSERT INTO family (created_at, updated_at) VALUES (now(), now()) RETURNING id"
    )
    family = await cursor.fetchone()
    assert contact is not None and family is not None
    await connection.execute(
        "INSERT INTO family_contact (family_id, contact_id) VALUES (%s, %s)",
        (family[0], contact[0]),
    )
    await connection.execute(
        "INSERT INTO family_school (family_id, school_id, source, joined_at) "
        "VALUES (%s, %s, 'join', now())",
        (family[0], school_id),
    )
