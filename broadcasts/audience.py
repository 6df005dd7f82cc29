"""Who a notice goes to, resolved in SQL: one row per family, whatever the number of targeted
classes it is in.

The families of the chosen schools, narrowed by level, class and engagement segment; for each,
the contact to use — on the family's preferred channel when it has a contact there, else SMS,
else Telegram (a contact that opted out comes last: another of the family's contacts that did
not is used instead) — and the language to write in: the family's, else the contact's, else
the default. Narrowing by channel keeps only those contacts; by language, only those
languages. A family whose chosen contact opted out stays in the rows with `skipped =
'opted_out'` (counted apart, never sent to); a family with no contact on a channel that can
reach it between conversations is counted as `no_channel` and gets no row.

Segments (a family in any of those chosen):

* `never_answered` — no message ever received from any of its contacts;
* `never_enrolled` — none of its contacts ever enrolled in a workshop;
* `no_show` — an enrolment of one of its contacts was marked "did not come".

`AUDIENCE_SQL` is used as is by `count()` (the composer's figures) and by
`broadcasts.sending` (`INSERT ... SELECT` of the recipients): one statement either way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection

from broadcasts.records import CHANNELS, SEGMENTS, Audience

Connection = AsyncConnection[Any]

AUDIENCE_SQL = """
SELECT t.family_id, t.school_id, c.id AS contact_id, c.channel,
       coalesce(f.language, c.language, %(default_language)s) AS language,
       CASE WHEN c.id IS NULL THEN 'no_channel'
            WHEN c.opted_out_at IS NOT NULL THEN 'opted_out' END AS skipped
FROM (
    SELECT fs.family_id, min(fs.school_id) AS school_id
    FROM family_school fs
    WHERE fs.school_id = ANY(%(schools)s::bigint[])
      AND (cardinality(%(levels)s::text[]) = 0 OR fs.level = ANY(%(levels)s::text[]))
      AND (cardinality(%(classes)s::text[]) = 0 OR fs.class_name = ANY(%(classes)s::text[]))
    GROUP BY fs.family_id
) t
JOIN family f ON f.id = t.family_id
LEFT JOIN LATERAL (
    SELECT c.id, c.channel, c.language, c.opted_out_at
    FROM family_contact fc JOIN contact c ON c.id = fc.contact_id
    WHERE fc.family_id = t.family_id AND c.channel = ANY(%(channels)s::text[])
    ORDER BY c.opted_out_at IS NOT NULL, c.channel IS DISTINCT FROM f.preferred_channel,
             c.channel <> 'sms', c.id
    LIMIT 1
) c ON true
WHERE (cardinality(%(languages)s::text[]) = 0
       OR coalesce(f.language, c.language, %(default_language)s) = ANY(%(languages)s::text[]))
  AND (cardinality(%(segments)s::text[]) = 0
   OR ('never_answered' = ANY(%(segments)s::text[]) AND NOT EXISTS (
        SELECT 1 FROM family_contact fc JOIN turn tu ON tu.contact_id = fc.contact_id
        WHERE fc.family_id = t.family_id AND tu.direction = 'in'))
   OR ('never_enrolled' = ANY(%(segments)s::text[]) AND NOT EXISTS (
        SELECT 1 FROM family_contact fc JOIN enrolment e ON e.contact_id = fc.contact_id
        WHERE fc.family_id = t.family_id))
   OR ('no_show' = ANY(%(segments)s::text[]) AND EXISTS (
        SELECT 1 FROM family_contact fc JOIN enrolment e ON e.contact_id = fc.contact_id
        WHERE fc.family_id = t.family_id AND e.attendance = 'no_show')))
"""


class AudienceError(ValueError):
    """An audience that names an unknown channel or segment."""


def parameters(
    school_ids: Collection[int], audience: Audience, *, default_language: str
) -> dict[str, Any]:
    """The named parameters of `AUDIENCE_SQL` for this audience."""
    unknown = set(audience.channels) - set(CHANNELS) | set(audience.segments) - set(SEGMENTS)
    if unknown:
        raise AudienceError(f"unknown channel or segment: {', '.join(sorted(unknown))}")
    return {
        "schools": sorted(school_ids),
        "levels": list(audience.levels),
        "classes": list(audience.classes),
        "languages": list(audience.languages),
        "channels": list(audience.channels or CHANNELS),
        "segments": list(audience.segments),
        "default_language": default_language,
    }


@dataclass(frozen=True)
class Counts:
    """How many families a notice reaches, by (language, channel), and how many it cannot."""

    reached: Counter[tuple[str, str]] = field(default_factory=Counter)
    opted_out: int = 0
    no_channel: int = 0

    @property
    def total(self) -> int:
        return sum(self.reached.values())

    def by_channel(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for (_language, channel), number in self.reached.items():
            counts[channel] += number
        return dict(sorted(counts.items()))

    def languages(self) -> list[str]:
        return sorted({language for language, _channel in self.reached})


async def count(
    connection: Connection,
    school_ids: Collection[int],
    audience: Audience,
    *,
    default_language: str,
) -> Counts:
    """The audience's figures, in one query."""
    cursor = await connection.execute(
        f"SELECT language, channel, skipped, count(*) FROM ({AUDIENCE_SQL}) a "  # noqa: S608
        "GROUP BY language, channel, skipped",
        parameters(school_ids, audience, default_language=default_language),
    )
    reached: Counter[tuple[str, str]] = Counter()
    opted_out = no_channel = 0
    for language, channel, skipped, number in await cursor.fetchall():
        if skipped == "opted_out":
            opted_out += int(number)
        elif skipped == "no_channel":
            no_channel += int(number)
        else:
            reached[(str(language), str(channel))] += int(number)
    return Counts(reached, opted_out, no_channel)


async def resolve(
    connection: Connection,
    school_ids: Collection[int],
    audience: Audience,
    *,
    default_language: str,
) -> list[tuple[int, int, int | None, str | None, str, str | None]]:
    """The families reached or opted out (not those with no reachable contact):
    (family, school, contact, channel, language, skipped), by family."""
    cursor = await connection.execute(
        f"SELECT * FROM ({AUDIENCE_SQL}) a "  # noqa: S608 - a constant
        "WHERE skipped IS DISTINCT FROM 'no_channel' ORDER BY family_id",
        parameters(school_ids, audience, default_language=default_language),
    )
    return [tuple(row) for row in await cursor.fetchall()]
