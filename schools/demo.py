"""Demo schools and families for `make run` (added when there is no school yet): Collège Jean
Moulin in Saint-Denis and Collège Courbaril in Pointe-à-Pitre (Guadeloupe's clock), 30 families
in six languages with their classes — some with two children, one in both schools, some on
Telegram, three who wrote STOP, two who joined by themselves with the school's code.

Phone numbers are in the range ARCEP keeps for fiction (+33 6 39 98 xx xx; the demo workshops
use …01xx, these …02xx), so no real phone is ever texted. The families go through the same
writing as an import (`schools.families.save`); the fiction numbers would not pass the file's
check, which wants real mobile ranges.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from schools import families, hours, store
from schools.families_csv import FamilyRow
from schools.memberships import Memberships

JEAN_MOULIN = store.NewSchool(
    uai="0931234L",
    name="Collège Jean Moulin, Saint-Denis",
    timezone="Europe/Paris",
    opening_hours=hours.parse("lun,mar,jeu,ven 08:30-12:00,13:30-17:00; mer 08:30-12:00"),
)
COURBARIL = store.NewSchool(
    uai="9710001Z",
    name="Collège Courbaril, Pointe-à-Pitre",
    timezone="America/Guadeloupe",
    opening_hours=hours.parse("lun-ven 07:30-12:30,14:00-16:30"),
)
# Fixed codes, so that the documentation can say "REJOINDRE 7FQ2".
CODES = {JEAN_MOULIN.uai: "7FQ2", COURBARIL.uai: "K4GP"}

# (number, language, school, level, class, channel); a number twice is one family.
FAMILIES: list[tuple[int, str, str, str, str, str]] = [
    (1, "fr", "0931234L", "6e", "6eA", "sms"),
    (2, "ar", "0931234L", "6e", "6eA", "sms"),
    (3, "ar", "0931234L", "6e", "6eB", "sms"),
    (3, "ar", "0931234L", "4e", "4eB", "sms"),  # two children
    (4, "tr", "0931234L", "6e", "6eB", "sms"),
    (5, "tr", "0931234L", "5e", "5eA", "telegram"),
    (6, "pt", "0931234L", "5e", "5eA", "sms"),
    (7, "es", "0931234L", "5e", "5eA", "sms"),
    (8, "en", "0931234L", "4e", "4eB", "telegram"),
    (9, "fr", "0931234L", "4e", "4eB", "sms"),
    (10, "ar", "0931234L", "3e", "3eC", "telegram"),
    (11, "fr", "0931234L", "3e", "3eC", "sms"),
    (12, "pt", "0931234L", "3e", "3eC", "sms"),
    (13, "ar", "0931234L", "6e", "6eA", "sms"),
    (14, "tr", "0931234L", "4e", "4eB", "sms"),
    (15, "fr", "0931234L", "5e", "5eA", "sms"),
    (16, "es", "0931234L", "6e", "6eB", "sms"),
    (17, "fr", "9710001Z", "6e", "6e1", "sms"),
    (17, "fr", "0931234L", "3e", "3eC", "sms"),  # moved to Guadeloupe, the elder still here
    (18, "fr", "9710001Z", "6e", "6e1", "sms"),
    (19, "es", "9710001Z", "6e", "6e1", "telegram"),
    (20, "fr", "9710001Z", "5e", "5e2", "sms"),
    (21, "pt", "9710001Z", "5e", "5e2", "sms"),
    (22, "en", "9710001Z", "5e", "5e2", "sms"),
    (23, "fr", "9710001Z", "4e", "4e1", "telegram"),
    (24, "fr", "9710001Z", "4e", "4e1", "sms"),
    (25, "es", "9710001Z", "3e", "3e2", "sms"),
    (26, "fr", "9710001Z", "3e", "3e2", "sms"),
    (27, "ar", "9710001Z", "3e", "3e2", "sms"),
    (28, "fr", "9710001Z", "6e", "6e1", "sms"),
]
OPTED_OUT = (9, 14, 26)  # wrote STOP
# Families who joined by themselves on Telegram (no phone known): (chat, language, school).
JOINED = [(900_000_231, "es", "9710001Z"), (900_000_232, "ar", "0931234L")]


def _phone(number: int) -> str:
    return f"+336399802{number:02d}"


def _chat(number: int) -> str:
    return str(900_000_200 + number)


async def add_demo(connection: AsyncConnection[Any], now: datetime) -> tuple[int, int]:
    """Add the demo schools and families in the caller's transaction: (schools, families)."""
    await store.save(connection, [JEAN_MOULIN, COURBARIL], now)
    for uai, code in CODES.items():
        await connection.execute(
            "UPDATE school SET join_code = %s WHERE uai = %s AND NOT EXISTS "
            "(SELECT 1 FROM school WHERE join_code = %s)",
            (code, uai, code),
        )
    ids = await store.uais(connection)
    rows = [
        FamilyRow(line, _phone(number), language, ids[uai], level, class_name, channel)
        for line, (number, language, uai, level, class_name, channel) in enumerate(
            FAMILIES, start=2
        )
    ]
    saved = await families.save(connection, rows, now)
    await connection.execute(
        "UPDATE contact SET opted_out_at = %s WHERE channel = 'sms' AND address = ANY(%s)",
        (now, [_phone(number) for number in OPTED_OUT]),
    )
    on_telegram = {number: language for number, language, *_, ch in FAMILIES if ch == "telegram"}
    for number, language in on_telegram.items():  # they wrote to the bot: their chat is theirs
        await _telegram_contact(connection, _chat(number), language, now, phone=_phone(number))
    for chat, language, uai in JOINED:
        contact_id = await _telegram_contact(connection, str(chat), language, now)
        joining = Memberships(
            connection, contact_id, channel="telegram", address=str(chat), now=now
        )
        await joining.join(CODES[uai], language)
    return 2, saved.families_created + len(JOINED)


async def _telegram_contact(
    connection: AsyncConnection[Any],
    chat: str,
    language: str,
    now: datetime,
    *,
    phone: str | None = None,
) -> int:
    """A Telegram chat (with its conversation), linked to the family of `phone` if given."""
    cursor = await connection.execute(
        "INSERT INTO contact (channel, address, language, created_at, last_seen_at) "
        "VALUES ('telegram', %s, %s, %s, %s) ON CONFLICT (channel, address) "
        "DO UPDATE SET language = EXCLUDED.language RETURNING id",
        (chat, language, now, now),
    )
    contact_id = int((await cursor.fetchone() or (0,))[0])
    await connection.execute(
        "INSERT INTO conversation (contact_id, welcomed, updated_at) VALUES (%s, true, %s) "
        "ON CONFLICT DO NOTHING",
        (contact_id, now),
    )
    if phone is not None:
        await connection.execute(
            "INSERT INTO family_contact (family_id, contact_id) "
            "SELECT id, %s FROM family WHERE phone = %s ON CONFLICT DO NOTHING",
            (contact_id, phone),
        )
    return contact_id


async def add_demo_if_empty(url: str, now: datetime) -> tuple[int, int]:
    """For `make run`: the demo schools and families when there is no school yet."""
    async with await AsyncConnection.connect(url) as connection, connection.transaction():
        cursor = await connection.execute("SELECT EXISTS (SELECT 1 FROM school)")
        row = await cursor.fetchone()
        if row is not None and row[0]:
            return 0, 0
        return await add_demo(connection, now)
