"""Helpers for tests of the outbox: contacts, queued messages, reading them back, sending
what is queued without a worker (retrying at once what asks to be retried), and the
environment of a `liaison worker` subprocess."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from psycopg.rows import dict_row

from channels.base import Outgoing, RetryableSendError
from liaison.delivery import Delivery
from liaison.outbox import enqueue


async def new_contact(pool: Any, channel: str, address: str, *, opted_out: bool = False) -> int:
    now = datetime.now(UTC)
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "INSERT INTO contact (channel, address, created_at, last_seen_at, opted_out_at) "
            "VALUES (%s, %s, %s, %s, %s) RETURNING id",
            (channel, address, now, now, now if opted_out else None),
        )
        row = await cursor.fetchone()
    return int(row[0])


async def queue(
    pool: Any,
    contact_id: int,
    channel: str,
    address: str,
    bodies: list[str],
    *,
    kind: str = "reply",
    buttons: list[dict[str, str]] | None = None,
) -> list[int]:
    """Queue `bodies` (through `liaison.outbox.enqueue`) and return their outbox ids."""
    async with pool.connection() as connection, connection.transaction():
        await enqueue(
            connection,
            contact_id=contact_id,
            channel=channel,
            address=address,
            messages=[Outgoing(body=body, buttons=buttons or []) for body in bodies],
            kind=kind,
            now=datetime.now(UTC),
        )
        cursor = await connection.execute(
            "SELECT id FROM outbound_message WHERE contact_id = %s ORDER BY id DESC LIMIT %s",
            (contact_id, len(bodies)),
        )
        rows = await cursor.fetchall()
    return sorted(int(row[0]) for row in rows)


async def messages_for(pool: Any, channel: str, address: str) -> list[dict[str, Any]]:
    async with pool.connection() as connection:
        cursor = connection.cursor(row_factory=dict_row)
        await cursor.execute(
            "SELECT * FROM outbound_message WHERE channel = %s AND address = %s ORDER BY id",
            (channel, address),
        )
        return list(await cursor.fetchall())


async def message(pool: Any, message_id: int) -> dict[str, Any]:
    async with pool.connection() as connection:
        cursor = connection.cursor(row_factory=dict_row)
        await cursor.execute("SELECT * FROM outbound_message WHERE id = %s", (message_id,))
        row = await cursor.fetchone()
    assert row is not None
    return dict(row)


async def deliver_all(
    delivery: Delivery, pool: Any, channel: str, address: str, *, max_tries: int = 5
) -> list[str]:
    """Send everything queued for `address`, in order, as a worker would; statuses."""
    statuses = []
    for row in await messages_for(pool, channel, address):
        if row["status"] not in ("queued", "sending"):
            continue
        for attempt in range(1, max_tries + 1):
            try:
                statuses.append(await delivery.deliver(row["id"], attempt=attempt))
                break
            except RetryableSendError:
                continue
    return statuses


def worker_environment(database: Any, fakes: Any, config_file: Path) -> dict[str, str]:
    """The environment of a `liaison worker` on the test database, with `config_file`, sending
    to the fake providers."""
    return {
        **os.environ,
        "DATABASE_URL": database.url,
        "LIAISON_CONFIG_FILE": str(config_file),
        "LIAISON_LOG_LEVEL": "WARNING",
        "LIAISON_TWILIO_ACCOUNT_SID": fakes.twilio.account_sid,
        "LIAISON_TWILIO_AUTH_TOKEN": fakes.twilio.auth_token,
        "LIAISON_TWILIO_FROM": "+33639980000",
        "LIAISON_TWILIO_API_URL": fakes.url,
        "LIAISON_TELEGRAM_TOKEN": fakes.telegram.token,
        "LIAISON_TELEGRAM_API_URL": fakes.url,
    }
