"""Families into PostgreSQL from checked rows (`schools.families_csv`), in the caller's
transaction, in a handful of set-based statements whatever the size of the file.

* A family is found by its phone (E.164): a re-import updates its language and channel, never
  adds a second family.
* Its SMS contact (`contact`, channel "sms", the phone as address) is created if needed and
  linked to it (`family_contact`), so the conversation with that number is the family's. The
  contact's language is only set when it has none: a language the parent chose in the
  conversation is more recent than the school's file.
* Classes: the file is authoritative *for the families and schools it names*. For each
  (family, school) pair in the file, that school's classes for that family become exactly the
  file's (a class missing from the new file is removed, a "join" row without a class is
  replaced). Families absent from the file, and their other schools, are left as they are: a
  file of one class never empties the rest of the school.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from schools.families_csv import FamilyRow

_FAMILIES = """
INSERT INTO family (phone, language, preferred_channel, created_at, updated_at)
SELECT phone, language, channel, %(now)s, %(now)s
FROM unnest(%(phones)s::text[], %(languages)s::text[], %(channels)s::text[])
    AS f(phone, language, channel)
ON CONFLICT (phone) DO UPDATE SET
    language = EXCLUDED.language,
    preferred_channel = EXCLUDED.preferred_channel,
    updated_at = EXCLUDED.updated_at
RETURNING id, phone, (xmax = 0) AS created
"""

_CONTACTS = """
INSERT INTO contact (channel, address, language, created_at, last_seen_at)
SELECT 'sms', phone, language, %(now)s, %(now)s
FROM unnest(%(phones)s::text[], %(languages)s::text[]) AS c(phone, language)
ON CONFLICT ON CONSTRAINT uq_contact_channel_address
DO UPDATE SET language = coalesce(contact.language, EXCLUDED.language)
RETURNING id, address
"""

# A contact already linked to another family stays there (one family per contact).
_LINKS = """
INSERT INTO family_contact (family_id, contact_id)
SELECT * FROM unnest(%(families)s::bigint[], %(contacts)s::bigint[])
ON CONFLICT DO NOTHING
"""

_DROP_CLASSES = """
WITH wanted AS (
    SELECT * FROM unnest(%(families)s::bigint[], %(schools)s::bigint[], %(classes)s::text[])
        AS w(family_id, school_id, class_name)
)
DELETE FROM family_school fs
WHERE (fs.family_id, fs.school_id) IN (SELECT family_id, school_id FROM wanted)
  AND (fs.family_id, fs.school_id, fs.class_name)
      NOT IN (SELECT family_id, school_id, class_name FROM wanted)
"""

_CLASSES = """
INSERT INTO family_school (family_id, school_id, level, class_name, source, joined_at)
SELECT family_id, school_id, level, class_name, 'import', %(now)s
FROM unnest(%(families)s::bigint[], %(schools)s::bigint[], %(levels)s::text[],
            %(classes)s::text[]) AS w(family_id, school_id, level, class_name)
ON CONFLICT (family_id, school_id, class_name) DO UPDATE SET
    level = EXCLUDED.level, source = 'import'
"""


@dataclass(frozen=True)
class Saved:
    families_created: int
    families_updated: int  # already known: language, channel and classes refreshed
    classes: int  # family-school-class rows written


async def save(connection: AsyncConnection[Any], rows: Sequence[FamilyRow], now: datetime) -> Saved:
    """Write the rows (valid, without duplicates: as `families_csv.read` gives them)."""
    if not rows:
        return Saved(0, 0, 0)
    first: dict[str, FamilyRow] = {}
    for row in rows:
        first.setdefault(row.phone, row)
    phones = sorted(first)  # a stable order: two imports at once lock rows in the same order
    languages = [first[phone].language for phone in phones]
    cursor = await connection.execute(
        _FAMILIES,
        {
            "now": now,
            "phones": phones,
            "languages": languages,
            "channels": [first[phone].channel for phone in phones],
        },
    )
    family_of: dict[str, int] = {}
    created = 0
    for family_id, phone, was_created in await cursor.fetchall():
        family_of[phone] = int(family_id)
        created += bool(was_created)
    cursor = await connection.execute(
        _CONTACTS, {"now": now, "phones": phones, "languages": languages}
    )
    contact_of = {address: int(contact_id) for contact_id, address in await cursor.fetchall()}
    await connection.execute(
        _LINKS,
        {
            "families": [family_of[phone] for phone in phones],
            "contacts": [contact_of[phone] for phone in phones],
        },
    )
    places = {
        "families": [family_of[row.phone] for row in rows],
        "schools": [row.school_id for row in rows],
        "classes": [row.class_name for row in rows],
    }
    await connection.execute(_DROP_CLASSES, places)
    await connection.execute(
        _CLASSES, {**places, "now": now, "levels": [row.level for row in rows]}
    )
    return Saved(created, len(phones) - created, len(rows))
