"""Background jobs run on a real procrastinate worker over the test PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from liaison.database import Database
from liaison.jobs import build_jobs, purge_old_turns
from liaison.settings import ROOT, load_config


def _contact_with_turns(url: str, ages_in_days: list[int]) -> int:
    now = datetime.now(UTC)
    with psycopg.connect(url) as connection:
        (contact_id,) = connection.execute(
            "INSERT INTO contact (channel, address, created_at, last_seen_at) "
            "VALUES ('web', gen_random_uuid()::text, %s, %s) RETURNING id",
            (now, now),
        ).fetchone() or (0,)
        for age in ages_in_days:
            connection.execute(
                "INSERT INTO turn (contact_id, direction, channel, text, created_at) "
                "VALUES (%s, 'in', 'web', 'old message', %s)",
                (contact_id, now - timedelta(days=age)),
            )
    return int(contact_id)


def _count(url: str, contact_id: int) -> int:
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM turn WHERE contact_id = %s", (contact_id,)
        ).fetchone()
    return int(row[0]) if row else -1


async def test_purge_erases_only_turns_past_retention(database: Database) -> None:
    contact_id = _contact_with_turns(database.url, [400, 366, 10, 0])
    await purge_old_turns(database.url, 365)
    assert _count(database.url, contact_id) == 2


async def test_purge_runs_as_a_procrastinate_job(database: Database) -> None:
    contact_id = _contact_with_turns(database.url, [1000, 1])
    config = load_config(ROOT / "config.yml")
    jobs = build_jobs(database, config)
    async with jobs.open_async():
        task = jobs.tasks["liaison.purge_old_turns"]
        await task.defer_async(timestamp=0)
        await jobs.run_worker_async(
            wait=False, install_signal_handlers=False, queues=["maintenance"]
        )
    assert _count(database.url, contact_id) == 1


async def test_purge_erases_old_messages_and_receipts(database: Database) -> None:
    contact_id = _contact_with_turns(database.url, [])
    now = datetime.now(UTC)
    with psycopg.connect(database.url) as connection:
        for age, status in ((400, "delivered"), (400, "queued"), (3, "delivered")):
            connection.execute(
                "INSERT INTO outbound_message (contact_id, channel, address, kind, priority, "
                "body, status, created_at, updated_at) "
                "VALUES (%s, 'sms', '+33612345678', 'reply', 100, 'x', %s, %s, %s)",
                (contact_id, status, now - timedelta(days=age), now),
            )
        for age in (8, 1):
            connection.execute(
                "INSERT INTO inbound_receipt (channel, message_id, received_at) "
                "VALUES ('sms', %s, %s)",
                (f"SM-purge-{contact_id}-{age}", now - timedelta(days=age)),
            )

    await purge_old_turns(database.url, 365)

    with psycopg.connect(database.url) as connection:
        kept = connection.execute(
            "SELECT status FROM outbound_message WHERE contact_id = %s ORDER BY id", (contact_id,)
        ).fetchall()
        receipts = connection.execute(
            "SELECT message_id FROM inbound_receipt WHERE message_id LIKE %s",
            (f"SM-purge-{contact_id}-%",),
        ).fetchall()
    assert kept == [("queued",), ("delivered",)]  # never erase what is still to be sent
    assert receipts == [(f"SM-purge-{contact_id}-1",)]
