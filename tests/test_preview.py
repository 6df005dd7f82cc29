"""`liaison workshops preview --at`: what the reminder and follow-up jobs would queue at a given
time, printed, with nothing queued nor sent."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import psycopg
from test_cli import run

from bot.assistant import Inbound
from workshops import enrolment, store
from workshops.records import build


async def test_preview_prints_a_reminder_and_queues_nothing(database, conversations, phone) -> None:
    ref = f"preview-{uuid.uuid4().hex[:8]}"
    workshop = build(
        {
            "ref": ref,
            "title": "Atelier aperçu",
            "starts_at": "2032-03-10 14:00",
            "ends_at": "2032-03-10 15:00",
            "capacity": "8",
            "status": "published",
            "venue_name": "Collège",
            "venue_address": "1 rue de l'École",
        }
    )
    await conversations.handle(Inbound("sms", phone, "merhaba", language_hint="tr"))
    async with await psycopg.AsyncConnection.connect(database.url) as connection:
        await store.save(connection, [workshop], datetime.now(UTC))
        cursor = await connection.execute("SELECT id FROM workshop WHERE ref = %s", (ref,))
        (workshop_id,) = await cursor.fetchone()
        cursor = await connection.execute("SELECT id FROM contact WHERE address = %s", (phone,))
        (contact_id,) = await cursor.fetchone()
        await enrolment.enrol(
            connection,
            workshop_id=workshop_id,
            contact_id=contact_id,
            people=1,
            now=datetime(2032, 3, 1, tzinfo=UTC),
        )
        await connection.commit()
        cursor = await connection.execute("SELECT count(*) FROM outbound_message")
        (before,) = await cursor.fetchone()

    env = {"DATABASE_URL": database.url}
    shown = run("workshops", "preview", "--at", "2032-03-10 11:05", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "(nothing was sent)" in shown.stdout
    assert "Atelier aperçu" in shown.stdout  # the 3-hour reminder, in Turkish
    assert "Hatırlatma" in shown.stdout or "hatırlat" in shown.stdout.lower()
    assert phone not in shown.stdout  # numbers are masked
    async with await psycopg.AsyncConnection.connect(database.url) as connection:
        cursor = await connection.execute("SELECT count(*) FROM outbound_message")
        assert (await cursor.fetchone())[0] == before

    bad = run("workshops", "preview", "--at", "mardi", env=env)
    assert bad.returncode == 1 and "is not a date and time" in bad.stderr
    zone = run("workshops", "preview", "--at", "2032-03-10 11:05", "--tz", "Mars/Olympus", env=env)
    assert zone.returncode == 1
