"""What the conversation may do with a parent's schools, bound to the turn's transaction (as
`workshops.bookings` does for enrolments): the conversation store hands the assistant a
`Memberships` for the contact being answered, on the turn's connection, so the link to the
school and the reply that confirms it commit together.

Joining links the contact to its family — the one it already belongs to; for an SMS number,
the family with that phone (imported by the school, say); else a new family with the
contact's language and channel — and the family to the school (`source` "join"). Joining a
school the family is already in (imported in a class, or joined before) changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from schools import store

_FAMILY_OF_CONTACT = "SELECT family_id FROM family_contact WHERE contact_id = %s"
_FAMILY_BY_PHONE = """
INSERT INTO family (phone, language, preferred_channel, created_at, updated_at)
VALUES (%(phone)s, %(language)s, %(channel)s, %(now)s, %(now)s)
ON CONFLICT (phone) DO UPDATE SET
    language = coalesce(family.language, EXCLUDED.language),
    preferred_channel = coalesce(family.preferred_channel, EXCLUDED.preferred_channel)
RETURNING id
"""
_NEW_FAMILY = """
INSERT INTO family (phone, language, preferred_channel, created_at, updated_at)
VALUES (NULL, %(language)s, %(channel)s, %(now)s, %(now)s)
RETURNING id
"""
_LINK = "INSERT INTO family_contact (family_id, contact_id) VALUES (%s, %s) ON CONFLICT DO NOTHING"
_JOIN = """
INSERT INTO family_school (family_id, school_id, level, class_name, source, joined_at)
SELECT %(family)s, %(school)s, '', '', 'join', %(now)s
WHERE NOT EXISTS (
    SELECT 1 FROM family_school WHERE family_id = %(family)s AND school_id = %(school)s
)
RETURNING 1
"""


@dataclass(frozen=True)
class Joined:
    school: store.School
    already: bool  # the family was in that school before


class Memberships:
    def __init__(
        self,
        connection: AsyncConnection[Any],
        contact_id: int,
        *,
        channel: str,
        address: str,
        now: datetime,
    ) -> None:
        self.connection = connection
        self.contact_id = contact_id
        self.channel = channel
        self.address = address
        self.now = now

    async def join(self, code: str, language: str) -> Joined | None:
        """Link the parent to the school of `code` (capitals); None if no school has it."""
        school = await store.by_code(self.connection, code)
        if school is None:
            return None
        family_id = await self._family(language)
        cursor = await self.connection.execute(
            _JOIN, {"family": family_id, "school": school.id, "now": self.now}
        )
        return Joined(school, already=await cursor.fetchone() is None)

    async def _family(self, language: str) -> int:
        cursor = await self.connection.execute(_FAMILY_OF_CONTACT, (self.contact_id,))
        row = await cursor.fetchone()
        if row is not None:
            return int(row[0])
        values = {"language": language, "channel": self.channel, "now": self.now}
        if self.channel == "sms":  # the address is the number in E.164
            cursor = await self.connection.execute(
                _FAMILY_BY_PHONE, {**values, "phone": self.address}
            )
        else:
            cursor = await self.connection.execute(_NEW_FAMILY, values)
        family = await cursor.fetchone()
        if family is None:  # pragma: no cover - RETURNING always yields the row
            raise RuntimeError("family upsert returned nothing")
        await self.connection.execute(_LINK, (family[0], self.contact_id))
        return int(family[0])
