"""Who came to a workshop: the check-in list at the door, attendance, walk-ins (no web here).

Parents have no name in Liaison. At the door a person is their enrolment number ("n° 123",
the number the assistant told them), the last two digits of their phone for SMS
(`channels.phone.mask`), the channel, the number of people and the language. Walk-ins have no
contact at all: a number of people, a language, an optional short label.

The list holds the enrolments still live (confirmed, offered a seat, waitlisted) and any
enrolment whose attendance was recorded whatever its status, then the walk-ins. A search is
either a number — the enrolment number, or, from four digits on, the end of an SMS phone
number (its last four digits or more, or the whole number written nationally "06 12 34 56 78"
or internationally) — or text, which matches walk-in labels. Shorter numbers are enrolment
numbers only: "8" must not list every phone ending in 8.

When each mark is allowed (`mark`, on the venue's clock):

* `attended` and walk-ins from the workshop's day (midnight on the venue's clock) onwards, also
  later (attendance entered the day after); never before the day, never for a cancelled
  workshop;
* `no_show` and `excused` only once the workshop has started, and only for enrolments holding
  a seat (confirmed or offered): someone left on the waiting list was not missed;
* undo (back to not recorded) at any time.

Marking again with the same value keeps the first time. Every function runs in the caller's
transaction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from channels.phone import mask
from liaison.errors import LiaisonError
from liaison.settings import SUPPORTED_LANGUAGES
from workshops.records import FIELDS, LIST_FIELDS, Workshop

ATTENDANCES = ("attended", "no_show", "excused")
LISTED = ("confirmed", "offered", "waitlisted")
HOLDING_A_SEAT = ("confirmed", "offered")
MAX_LABEL = 40
MAX_PEOPLE = 10
PHONE_DIGITS = 4  # the fewest digits a search compares with the end of phone numbers
_NUMBER_PREFIX = re.compile(r"^\s*(?:n\s*[°º.o]?|#)\s*", re.IGNORECASE)
_PHONE_PUNCTUATION = re.compile(r"[\s.\-+/()]")


class AttendanceError(LiaisonError):
    """A mark or a walk-in refused; the message is shown to the organiser as it is.

    AttendanceError
    ├── UnknownEnrolment   no such enrolment in this workshop
    ├── NotNow             too early (before the day, before the start) or workshop cancelled
    ├── NoSeat             no-show/excused for an enrolment that held no seat
    └── InvalidWalkIn      bad walk-in fields; `problems` lists them all
    """


class UnknownEnrolment(AttendanceError):
    pass


class NotNow(AttendanceError):
    pass


class NoSeat(AttendanceError):
    pass


class InvalidWalkIn(AttendanceError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Person:
    """One line of the check-in list: an enrolment, or a walk-in (`walk_in_id` set)."""

    number: int  # the enrolment id, or the walk-in's id
    channel: str  # "sms", "telegram", "web"...; "" for a walk-in
    phone: str  # masked ("+33 •• •• •• •• 78") for SMS, else ""
    people: int
    language: str | None
    status: str  # the enrolment's status; "walk_in" for a walk-in
    attendance: str | None  # a walk-in is "attended"
    attendance_at: datetime | None
    label: str = ""
    walk_in: bool = False

    @property
    def anchor(self) -> str:
        return f"w-{self.number}" if self.walk_in else f"e-{self.number}"

    @property
    def holds_a_seat(self) -> bool:
        return self.status in HOLDING_A_SEAT


@dataclass(frozen=True)
class Counts:
    """The page header: people expected (holding a seat), present (attended enrolments and
    walk-ins) and walk-ins (rows and people)."""

    expected: int
    present: int
    walk_ins: int
    walk_in_people: int


@dataclass(frozen=True)
class NewWalkIn:
    people: int
    language: str | None
    label: str


@dataclass(frozen=True)
class Door:
    """A workshop as the check-in needs it."""

    id: int
    workshop: Workshop


# -- the workshop ---------------------------------------------------------------------------


async def find_workshop(
    connection: AsyncConnection[Any], *, ref: str | None = None, id: int | None = None
) -> Door | None:
    """The workshop with this `ref` (or `id`), with its id; None when there is none."""
    column, value = ("ref", ref) if ref is not None else ("id", id)
    async with connection.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(
            f"SELECT id, {', '.join(FIELDS)} FROM workshop WHERE {column} = %s",  # noqa: S608
            (value,),
        )
        row = await cursor.fetchone()
    if row is None:
        return None
    workshop_id = int(row.pop("id"))
    return Door(workshop_id, Workshop(**{**row, **{k: tuple(row[k]) for k in LIST_FIELDS}}))


def has_started(workshop: Workshop, now: datetime) -> bool:
    return now >= workshop.starts_at


def door_open(workshop: Workshop, now: datetime) -> bool:
    """From midnight of the workshop's day on the venue's clock onwards."""
    return workshop.local(now).date() >= workshop.local(workshop.starts_at).date()


def on_the_day(workshop: Workshop, now: datetime) -> bool:
    """Now is the workshop's day on the venue's clock (or still its session, past midnight)."""
    day = workshop.local(workshop.starts_at).date()
    return workshop.local(now).date() == day or workshop.starts_at <= now <= workshop.ends_at


# -- the list -------------------------------------------------------------------------------

_ENROLMENTS = """
SELECT e.id, e.people, e.status, e.attendance, e.attendance_at, c.channel, c.address, c.language
FROM enrolment e JOIN contact c ON c.id = e.contact_id
WHERE e.workshop_id = %(workshop)s
  AND (e.status = ANY(%(listed)s) OR e.attendance IS NOT NULL)
  AND (%(all)s
       OR e.id = %(number)s
       OR (length(%(digits)s) >= %(phone_digits)s AND c.channel = 'sms'
           AND (right(c.address, length(%(digits)s)) = %(digits)s
                OR right(c.address, length(%(national)s)) = %(national)s)))
ORDER BY (e.status = 'waitlisted' AND e.attendance IS NULL), e.id
"""
_WALK_INS = """
SELECT id, people, language, label, created_at FROM walk_in
WHERE workshop_id = %(workshop)s
  AND (%(all)s OR (%(text)s <> '' AND strpos(lower(label), lower(%(text)s)) > 0))
ORDER BY id
"""


def parse_search(query: str) -> tuple[int | None, str, str]:
    """(number, digits, text) of a search: "n° 123" is (123, "123", ""), "06 12 34 56 78" is
    (612345678, "0612345678", ""), "bleu" is (None, "", "bleu")."""
    text = query.strip()[:64]
    if not text:
        return None, "", ""
    bare = _PHONE_PUNCTUATION.sub("", _NUMBER_PREFIX.sub("", text))
    if bare.isascii() and bare.isdigit():
        return (int(bare) if len(bare) <= 15 else None), bare, ""
    return None, "", text


async def checkin_list(
    connection: AsyncConnection[Any], workshop_id: int, query: str = ""
) -> list[Person]:
    """The people of the check-in list (module docs), filtered by `query` when given."""
    number, digits, text = parse_search(query)
    everyone = not (digits or text)
    # A national number ("0612345678") is matched without its leading 0.
    national = digits[1:] if digits.startswith("0") and len(digits) >= 9 else digits
    params = {
        "workshop": workshop_id,
        "listed": list(LISTED),
        "all": everyone,
        "number": number,
        "digits": digits,
        "national": national,
        "phone_digits": PHONE_DIGITS,
        "text": text,
    }
    people: list[Person] = []
    async with connection.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(_ENROLMENTS, params)
        for row in await cursor.fetchall():
            people.append(
                Person(
                    number=int(row["id"]),
                    channel=row["channel"],
                    phone=mask(row["address"]) if row["channel"] == "sms" else "",
                    people=int(row["people"]),
                    language=row["language"],
                    status=row["status"],
                    attendance=row["attendance"],
                    attendance_at=row["attendance_at"],
                )
            )
        if everyone or text:
            await cursor.execute(_WALK_INS, params)
            for row in await cursor.fetchall():
                people.append(
                    Person(
                        number=int(row["id"]),
                        channel="",
                        phone="",
                        people=int(row["people"]),
                        language=row["language"],
                        status="walk_in",
                        attendance="attended",
                        attendance_at=row["created_at"],
                        label=row["label"],
                        walk_in=True,
                    )
                )
    return people


async def counts(connection: AsyncConnection[Any], workshop_id: int) -> Counts:
    cursor = await connection.execute(
        """
        SELECT
          (SELECT coalesce(sum(people), 0) FROM enrolment
            WHERE workshop_id = %(w)s AND status IN ('confirmed', 'offered')),
          (SELECT coalesce(sum(people), 0) FROM enrolment
            WHERE workshop_id = %(w)s AND attendance = 'attended'),
          (SELECT count(*) FROM walk_in WHERE workshop_id = %(w)s),
          (SELECT coalesce(sum(people), 0) FROM walk_in WHERE workshop_id = %(w)s)
        """,
        {"w": workshop_id},
    )
    row = await cursor.fetchone()
    assert row is not None
    expected, attended, walk_ins, walk_in_people = (int(value) for value in row)
    return Counts(expected, attended + walk_in_people, walk_ins, walk_in_people)


# -- marks ----------------------------------------------------------------------------------


async def mark(
    connection: AsyncConnection[Any],
    enrolment_id: int,
    workshop_id: int,
    attendance: str | None,
    by: int | None,
    now: datetime,
) -> None:
    """Record `attendance` ("attended", "no_show", "excused", or None to undo) for the
    enrolment, which must belong to `workshop_id` (else `UnknownEnrolment`)."""
    if attendance is not None and attendance not in ATTENDANCES:
        raise ValueError(f"attendance must be one of {ATTENDANCES} or None")
    door = await find_workshop(connection, id=workshop_id)
    cursor = await connection.execute(
        "SELECT status FROM enrolment WHERE id = %s AND workshop_id = %s FOR UPDATE",
        (enrolment_id, workshop_id),
    )
    row = await cursor.fetchone()
    if door is None or row is None:
        raise UnknownEnrolment(f"Pas d'inscription n° {enrolment_id} pour cet atelier.")
    workshop, status = door.workshop, row[0]
    if attendance is not None:
        if workshop.status == "cancelled":
            raise NotNow("Cet atelier est annulé : rien à noter.")
        if not door_open(workshop, now):
            raise NotNow("L'accueil ouvre le jour de l'atelier.")
    if attendance in ("no_show", "excused"):
        if not has_started(workshop, now):
            raise NotNow("Absent ou excusé : seulement une fois l'atelier commencé.")
        if status not in HOLDING_A_SEAT:
            raise NoSeat(
                f"L'inscription n° {enrolment_id} n'avait pas de place réservée "
                "(liste d'attente ou annulée)."
            )
    await connection.execute(
        """
        UPDATE enrolment SET
          attendance_at = CASE WHEN attendance IS NOT DISTINCT FROM %(a)s THEN attendance_at
                               WHEN %(a)s::text IS NULL THEN NULL ELSE %(now)s END,
          attendance_by = CASE WHEN attendance IS NOT DISTINCT FROM %(a)s THEN attendance_by
                               WHEN %(a)s::text IS NULL THEN NULL ELSE %(by)s END,
          attendance = %(a)s,
          updated_at = %(now)s
        WHERE id = %(id)s
        """,
        {"a": attendance, "now": now, "by": by, "id": enrolment_id},
    )


def read_walk_in(fields: Mapping[str, str]) -> NewWalkIn:
    """A walk-in from form fields `people`, `language` (may be empty), `label` (may be empty);
    `InvalidWalkIn` lists every problem, in the organiser's words."""
    problems: list[str] = []
    people_text = (fields.get("people") or "").strip()
    people = 0
    if people_text.isascii() and people_text.isdigit() and 1 <= int(people_text) <= MAX_PEOPLE:
        people = int(people_text)
    else:
        problems.append(f"Nombre de personnes : un nombre de 1 à {MAX_PEOPLE}.")
    language = (fields.get("language") or "").strip() or None
    if language is not None and language not in SUPPORTED_LANGUAGES:
        problems.append("Langue : choisissez une langue de la liste.")
    label = " ".join((fields.get("label") or "").split())
    if len(label) > MAX_LABEL:
        problems.append(f"Repère : {MAX_LABEL} caractères au plus.")
    if problems:
        raise InvalidWalkIn(problems)
    return NewWalkIn(people, language, label)


async def add_walk_in(
    connection: AsyncConnection[Any],
    workshop_id: int,
    walk_in: NewWalkIn,
    by: int | None,
    now: datetime,
) -> int:
    """Record people who came without enrolling; returns the walk-in's id."""
    if not 1 <= walk_in.people <= MAX_PEOPLE:
        raise InvalidWalkIn([f"Nombre de personnes : un nombre de 1 à {MAX_PEOPLE}."])
    if walk_in.language is not None and walk_in.language not in SUPPORTED_LANGUAGES:
        raise InvalidWalkIn(["Langue : choisissez une langue de la liste."])
    door = await find_workshop(connection, id=workshop_id)
    if door is None:
        raise UnknownEnrolment("Cet atelier n'existe pas.")
    if door.workshop.status == "cancelled":
        raise NotNow("Cet atelier est annulé : rien à noter.")
    if not door_open(door.workshop, now):
        raise NotNow("L'accueil ouvre le jour de l'atelier.")
    cursor = await connection.execute(
        "INSERT INTO walk_in (workshop_id, people, language, label, created_by, created_at) "
        "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (workshop_id, walk_in.people, walk_in.language, walk_in.label[:MAX_LABEL], by, now),
    )
    row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def remove_walk_in(
    connection: AsyncConnection[Any], walk_in_id: int, workshop_id: int
) -> bool:
    """Take back a walk-in entered by mistake; False when it is not one of this workshop."""
    cursor = await connection.execute(
        "DELETE FROM walk_in WHERE id = %s AND workshop_id = %s", (walk_in_id, workshop_id)
    )
    return cursor.rowcount == 1
