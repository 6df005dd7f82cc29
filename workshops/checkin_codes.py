"""The check-in code of an enrolment: a signed token, its QR code, and its single use at the door.

The token is `Signer.sign("checkin", "<enrolment id>:<workshop id>")` (`liaison.signing`): an
HMAC under a key derived from the secret key and the purpose "checkin", so a token signed for
any other purpose, with another secret, changed or truncated is refused (`BadToken`). It
carries no personal data (two numbers) and no expiry of its own: it is good while its
enrolment is live and on the workshop's day, and once.

Signing is deterministic, so an enrolment has exactly one token, and only its canonical
spelling is accepted: base64 decoding forgives padding bits and stray characters, which would
otherwise let "the same" token be used again under another spelling.

The QR code (segno, SVG) encodes the staff URL `{public_url}/staff/accueil/{token}`: scanned
with any phone camera, it opens that person's check-in for a signed-in organiser. The parent
sees it on `/code/{token}` (`channels.checkin_page`).

`look()` only reads (what a GET shows: link previews and prefetching must never use a code);
`use()` records the token's digest in `used_token` (ON CONFLICT DO NOTHING) and marks the
enrolment attended in one transaction. Refusals:

CodeRefused
├── UnknownCode       the enrolment is gone (or not of the workshop the token names)
├── AlreadyUsed       the code has served already (`used_at`)
├── EnrolmentClosed   the enrolment was cancelled or expired, or the workshop cancelled
└── WrongDay          not the workshop's day on the venue's clock (`starts_at`)
"""

from __future__ import annotations

import hmac
import io
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import segno
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from channels.phone import mask
from liaison.errors import LiaisonError
from liaison.signing import BadToken, Signer
from workshops import attendance
from workshops.attendance import Door

PURPOSE = "checkin"
_VALUE = re.compile(r"^([0-9]{1,18}):([0-9]{1,18})$")
CLOSED = ("cancelled", "expired")


class CodeRefused(LiaisonError):
    """A check-in code that cannot be used now (the module docs draw the tree)."""

    def __init__(self, message: str, holder: Holder | None = None) -> None:
        super().__init__(message)
        self.holder = holder


class UnknownCode(CodeRefused):
    pass


class AlreadyUsed(CodeRefused):
    def __init__(self, used_at: datetime, holder: Holder) -> None:
        super().__init__(f"used at {used_at.isoformat()}", holder)
        self.used_at = used_at


class EnrolmentClosed(CodeRefused):
    pass


class WrongDay(CodeRefused):
    pass


@dataclass(frozen=True)
class Code:
    enrolment_id: int
    workshop_id: int


@dataclass(frozen=True)
class Holder:
    """The enrolment a code stands for, as the door sees it (no address beyond a masked
    phone)."""

    enrolment_id: int
    door: Door
    people: int
    status: str
    attendance: str | None
    attendance_at: datetime | None
    channel: str
    phone: str
    language: str | None
    used_at: datetime | None


def token(signer: Signer, enrolment_id: int, workshop_id: int) -> str:
    return signer.sign(PURPOSE, f"{enrolment_id}:{workshop_id}")


def read(signer: Signer, text: str) -> Code:
    """The enrolment and workshop of a token; `BadToken` unless we signed exactly this token
    for check-in."""
    value = signer.unsign(PURPOSE, text)
    found = _VALUE.match(value)
    if found is None:
        raise BadToken("not a check-in value")
    code = Code(int(found.group(1)), int(found.group(2)))
    if not hmac.compare_digest(token(signer, code.enrolment_id, code.workshop_id), text):
        raise BadToken("not the canonical spelling of the token")
    return code


def staff_url(public_url: str, text: str) -> str:
    """What the QR code opens: the organiser's check-in of this person."""
    return f"{public_url.rstrip('/')}/staff/accueil/{text}"


def qr_svg(url: str, title: str) -> str:
    """The QR code of `url` as an inline SVG (black on white, quiet zone of 4 modules, sized
    by CSS through its viewBox; no style attribute, so strict CSPs allow it)."""
    qr = segno.make(url, error="m", micro=False)
    buffer = io.BytesIO()
    qr.save(
        buffer,
        kind="svg",
        xmldecl=False,
        svgns=True,
        nl=False,
        omitsize=True,
        border=4,
        scale=1,
        dark="#000",
        light="#fff",
        title=title,
        svgclass="qr",
        lineclass=None,
    )
    return buffer.getvalue().decode()


_HOLDER = """
SELECT e.id, e.workshop_id, e.people, e.status, e.attendance, e.attendance_at,
       c.channel, c.address, c.language,
       (SELECT used_at FROM used_token WHERE digest = %(digest)s) AS used_at
FROM enrolment e JOIN contact c ON c.id = e.contact_id
WHERE e.id = %(enrolment)s AND e.workshop_id = %(workshop)s
"""


async def look(connection: AsyncConnection[Any], signer: Signer, text: str) -> Holder:
    """What the code stands for, without using it; `BadToken` or `UnknownCode`."""
    return await _holder(connection, read(signer, text), text, lock=False)


async def _holder(connection: AsyncConnection[Any], code: Code, text: str, *, lock: bool) -> Holder:
    query = _HOLDER + (" FOR UPDATE OF e" if lock else "")
    params = {
        "digest": Signer.digest(text),
        "enrolment": code.enrolment_id,
        "workshop": code.workshop_id,
    }
    async with connection.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(query, params)
        row = await cursor.fetchone()
    door = await attendance.find_workshop(connection, id=code.workshop_id)
    if row is None or door is None:
        raise UnknownCode("no such enrolment")
    return Holder(
        enrolment_id=int(row["id"]),
        door=door,
        people=int(row["people"]),
        status=row["status"],
        attendance=row["attendance"],
        attendance_at=row["attendance_at"],
        channel=row["channel"],
        phone=mask(row["address"]) if row["channel"] == "sms" else "",
        language=row["language"],
        used_at=row["used_at"],
    )


def refusal(holder: Holder, now: datetime) -> CodeRefused | None:
    """Why the code cannot be used now, or None (a GET shows it before anyone confirms)."""
    if holder.used_at is not None:
        return AlreadyUsed(holder.used_at, holder)
    if holder.status in CLOSED:
        return EnrolmentClosed(f"enrolment {holder.status}", holder)
    if holder.door.workshop.status == "cancelled":
        return EnrolmentClosed("workshop cancelled", holder)
    if not attendance.on_the_day(holder.door.workshop, now):
        return WrongDay("not the workshop's day", holder)
    return None


async def use(
    connection: AsyncConnection[Any],
    signer: Signer,
    text: str,
    now: datetime,
    *,
    by: int | None = None,
) -> Holder:
    """Use the code: check it, record it as used and mark the enrolment attended, all in one
    transaction (a savepoint inside the caller's). Returns the holder as it was before."""
    code = read(signer, text)
    async with connection.transaction():
        holder = await _holder(connection, code, text, lock=True)
        refused = refusal(holder, now)
        if refused is not None:
            raise refused
        cursor = await connection.execute(
            "INSERT INTO used_token (digest, purpose, used_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (digest) DO NOTHING RETURNING used_at",
            (Signer.digest(text), PURPOSE, now),
        )
        if await cursor.fetchone() is None:  # used by a racing request since we looked
            cursor = await connection.execute(
                "SELECT used_at FROM used_token WHERE digest = %s", (Signer.digest(text),)
            )
            row = await cursor.fetchone()
            raise AlreadyUsed(row[0] if row else now, holder)
        await attendance.mark(connection, holder.enrolment_id, holder.door.id, "attended", by, now)
    return holder
