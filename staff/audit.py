"""The audit log: who did what, when, on whom. Append-only (a trigger of migration 0007
refuses UPDATE and DELETE, whoever asks), read by admins on `/staff/journal`.

`record()` is called on the connection of the change itself, inside its transaction: the entry
exists exactly when the change does. `account_id` is the member of staff who acted (None for a
command-line grant or an unknown e-mail at sign-in); `target_type`/`target_id` say on what
(`workshop` 12, `enrolment` 345, `account` 7, `family` 9...); `detail` adds a few facts.

`detail` never holds a password, a phone number or a message's text: `record()` refuses keys
that name them and values that look like a phone number (`AuditError`), so a slip shows up in
tests rather than in the log forever.

Actions are stable names (`ACTIONS`), filtered on in the journal, which has a French label
for each (`staff.journal_pages.ACTIONS`); `record` refuses any other, so a new action cannot
reach the log without its label.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from liaison.errors import LiaisonError

FORBIDDEN_KEYS = frozenset(
    {"password", "mot_de_passe", "phone", "telephone", "address", "text", "body", "message"}
)
# E.164 (+33612345678) or a French national number (06 12 34 56 78), standing alone: not
# digits inside a longer word such as a hexadecimal digest.
_PHONE = re.compile(
    r"(?<![0-9A-Za-z])(?:\+[1-9][0-9]{7,14}|0[1-9](?:[ .\-]?[0-9]{2}){4})(?![0-9A-Za-z])"
)
ACTIONS = frozenset(
    {
        "sign_in.succeeded",
        "sign_in.failed",
        "sign_out",
        "workshop.created",
        "workshop.edited",
        "workshop.published",
        "workshop.cancelled",
        "workshop.imported",
        "attendance.marked",
        "attendance.undone",
        "walk_in.added",
        "walk_in.removed",
        "checkin_code.used",
        "staff.created",
        "staff.disabled",
        "grant.workshop",
        "grant.workshop_removed",
        "grant.school",
        "grant.school_removed",
        "mediation.granted",
        "mediation.revoked",
        "mediation.enrolled",
        "mediation.cancelled",
        "mediation.language_set",
        "families.imported",
        "broadcast.scheduled",
        "broadcast.cancelled",
        "broadcast.urgent",
        "inbox.replied",
        "inbox.closed",
    }
)


class AuditError(LiaisonError):
    """An audit entry that would keep what the log must never keep."""


def email_digest(email: str) -> str:
    """The SHA-256 of the lower-cased e-mail, hex: names an e-mail without writing it."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


async def record(
    connection: AsyncConnection[Any],
    account_id: int | None,
    action: str,
    target_type: str = "",
    target_id: int | str = "",
    detail: Mapping[str, Any] | None = None,
    *,
    at: datetime | None = None,
) -> None:
    """Append one entry, in the caller's transaction."""
    if action not in ACTIONS:
        raise AuditError(f"unknown action {action!r}: add it to staff.audit.ACTIONS")
    facts = dict(detail or {})
    _check(facts)
    await connection.execute(
        "INSERT INTO audit_log (at, account_id, action, target_type, target_id, detail) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (at or datetime.now(UTC), account_id, action, target_type, str(target_id), Jsonb(facts)),
    )


def _check(value: Any, key: str = "") -> None:
    if key.lower() in FORBIDDEN_KEYS:
        raise AuditError(f"detail: {key!r} has no place in the audit log")
    if isinstance(value, Mapping):
        for name, item in value.items():
            _check(item, str(name))
    elif isinstance(value, list | tuple):
        for item in value:
            _check(item, key)
    elif isinstance(value, str) and _PHONE.search(value):
        raise AuditError(f"detail: {key!r} looks like a phone number")
