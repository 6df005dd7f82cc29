"""Progress while a notice sends and its delivery figures afterwards, per language and
channel: waiting (for allowed hours), queued, sent, delivered, failed (with the providers'
reasons), opted out; and the same as CSV.

Read from `broadcast_recipient` joined to each family's (first) outbox message, whose status
the delivery jobs and the providers' reports keep up to date (`liaison.outbox`,
`liaison.delivery`). A message cancelled because the parent said STOP after it was queued
counts as opted out. Families with no contact that can be reached are counted apart, by school
and class (`Figures.unreachable`): the team reaches them another way. Text cells of the CSV are
never read as formulas (`liaison.spreadsheet`).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field, fields
from typing import Any

from psycopg import AsyncConnection

from liaison.spreadsheet import safe_cell

Connection = AsyncConnection[Any]

_FIGURES = """
SELECT r.language, r.channel,
       count(*) FILTER (WHERE r.skipped IS NULL AND r.outbound_message_id IS NULL),
       count(*) FILTER (WHERE m.status IN ('queued', 'sending')),
       count(*) FILTER (WHERE m.status = 'sent'),
       count(*) FILTER (WHERE m.status = 'delivered'),
       count(*) FILTER (WHERE m.status = 'failed'
                        OR (m.status = 'cancelled' AND m.error_code IS DISTINCT FROM 'opted_out')),
       count(*) FILTER (WHERE r.skipped = 'opted_out'
                        OR (m.status = 'cancelled' AND m.error_code = 'opted_out')),
       count(*) FILTER (WHERE r.skipped IS NOT NULL AND r.skipped <> 'opted_out')
FROM broadcast_recipient r
LEFT JOIN outbound_message m ON m.id = r.outbound_message_id
WHERE r.broadcast_id = %s AND r.skipped IS DISTINCT FROM 'no_channel'
GROUP BY r.language, r.channel
ORDER BY r.language, r.channel
"""

_REASONS = """
SELECT coalesce(m.error_code, 'inconnu'), min(m.error_message), count(*)
FROM broadcast_recipient r JOIN outbound_message m ON m.id = r.outbound_message_id
WHERE r.broadcast_id = %s
  AND (m.status = 'failed'
       OR (m.status = 'cancelled' AND m.error_code IS DISTINCT FROM 'opted_out'))
GROUP BY 1 ORDER BY 3 DESC, 1
"""

# Families of the audience with no contact that can be reached, by school and class: the
# team gives them a paper note or calls them.
_UNREACHABLE = """
SELECT coalesce(s.name, ''), coalesce(fs.level, ''), coalesce(fs.class_name, ''), count(*)
FROM broadcast_recipient r
LEFT JOIN school s ON s.id = r.school_id
LEFT JOIN family_school fs ON fs.family_id = r.family_id AND fs.school_id = r.school_id
WHERE r.broadcast_id = %s AND r.skipped = 'no_channel'
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""


@dataclass(frozen=True)
class Line:
    """The figures of one (language, channel), or of the whole notice."""

    language: str
    channel: str
    waiting: int = 0  # not queued yet: outside allowed hours
    queued: int = 0
    sent: int = 0  # accepted by the provider, no delivery report (yet)
    delivered: int = 0
    failed: int = 0
    opted_out: int = 0
    other: int = 0  # not sent for another reason (no text for the language)

    @property
    def total(self) -> int:
        return (
            self.waiting
            + self.queued
            + self.sent
            + self.delivered
            + self.failed
            + self.opted_out
            + self.other
        )


# What the providers' most frequent failure codes mean, for staff (French, as the pages).
MEANINGS = {
    "30003": "téléphone éteint ou hors réseau",
    "30004": "le numéro refuse les SMS (bloqué)",
    "30005": "numéro inconnu ou plus attribué",
    "30006": "ligne fixe ou opérateur qui ne reçoit pas de SMS",
    "30007": "filtré par l'opérateur (pris pour un message indésirable)",
    "30008": "erreur de l'opérateur, sans détail",
    "21211": "numéro invalide",
    "21408": "pays non autorisé pour ce compte SMS",
    "21610": "le parent a bloqué les SMS de ce numéro (STOP chez l'opérateur)",
    "21614": "pas un numéro de mobile",
    "403": "le parent a bloqué le bot Telegram",
    "400": "conversation Telegram introuvable",
}


@dataclass(frozen=True)
class Reason:
    code: str
    message: str  # as the provider said it
    count: int

    @property
    def meaning(self) -> str:
        """What the code means, in words staff understand (the provider's otherwise)."""
        return MEANINGS.get(self.code, self.message)


@dataclass(frozen=True)
class Unreachable:
    """Families of one class the notice could not reach (no mobile number, no Telegram)."""

    school: str
    level: str
    class_name: str
    count: int


@dataclass(frozen=True)
class Figures:
    lines: list[Line]
    reasons: list[Reason]
    unreachable: list[Unreachable] = field(default_factory=list)

    @property
    def unreachable_total(self) -> int:
        return sum(group.count for group in self.unreachable)

    @property
    def total(self) -> Line:
        numbers = {
            f.name: sum(getattr(line, f.name) for line in self.lines)
            for f in fields(Line)
            if f.type == "int"
        }
        return Line("", "", **numbers)

    @property
    def done(self) -> bool:
        """Nothing left to wait for or to send."""
        total = self.total
        return total.waiting == 0 and total.queued == 0


async def figures(connection: Connection, broadcast_id: int) -> Figures:
    cursor = await connection.execute(_FIGURES, (broadcast_id,))
    lines = [Line(str(row[0]), str(row[1]), *map(int, row[2:])) for row in await cursor.fetchall()]
    cursor = await connection.execute(_REASONS, (broadcast_id,))
    reasons = [Reason(str(r[0]), str(r[1] or ""), int(r[2])) for r in await cursor.fetchall()]
    cursor = await connection.execute(_UNREACHABLE, (broadcast_id,))
    unreachable = [
        Unreachable(str(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in await cursor.fetchall()
    ]
    return Figures(lines, reasons, unreachable)


HEADER = (
    "langue",
    "canal",
    "familles",
    "en_attente",
    "en_file",
    "envoyes",
    "remis",
    "echecs",
    "desinscrits",
    "autres",
)


def to_csv(result: Figures) -> str:
    """One row per (language, channel), a total row, then the failure reasons."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    for line in [*result.lines, result.total]:
        writer.writerow(
            (
                line.language or "total",
                line.channel or "",
                line.total,
                line.waiting,
                line.queued,
                line.sent,
                line.delivered,
                line.failed,
                line.opted_out,
                line.other,
            )
        )
    if result.reasons:
        writer.writerow(())
        writer.writerow(("code_echec", "message", "nombre"))
        for reason in result.reasons:
            writer.writerow((safe_cell(reason.code), safe_cell(reason.meaning), reason.count))
    if result.unreachable:
        writer.writerow(())
        writer.writerow(("injoignables_ecole", "niveau", "classe", "familles"))
        for group in result.unreachable:
            cells = (group.school, group.level, group.class_name)
            writer.writerow((*map(safe_cell, cells), group.count))
    return buffer.getvalue()
