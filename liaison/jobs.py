"""Background jobs on procrastinate, over the same PostgreSQL.

`build_jobs()` makes the procrastinate app and registers the tasks (no import-time resources).
`liaison worker` runs workers; `liaison run` also runs one inside the server process. Any number
of workers on any number of machines share the queue through the database.

Tasks now: the daily purge of conversation turns older than `liaison.privacy.retention_days`.
Deliveries, reminders and follow-ups join them with the channels and workshops.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import procrastinate
import psycopg

from liaison.database import Database
from liaison.settings import AssistantConfig

log = logging.getLogger(__name__)
MAINTENANCE_QUEUE = "maintenance"


async def purge_old_turns(url: str, retention_days: int, *, now: datetime | None = None) -> int:
    """Erase turns older than the retention period; returns how many were erased."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    async with await psycopg.AsyncConnection.connect(url) as connection:
        cursor = await connection.execute("DELETE FROM turn WHERE created_at < %s", (cutoff,))
        return cursor.rowcount


def build_jobs(database: Database, config: AssistantConfig) -> procrastinate.App:
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=database.url))

    @app.periodic(cron="17 3 * * *", periodic_id="daily")
    @app.task(name="liaison.purge_old_turns", queue=MAINTENANCE_QUEUE, pass_context=False)
    async def purge(timestamp: int) -> int:
        erased = await purge_old_turns(database.url, config.privacy.retention_days)
        log.info(
            "retention: erased %d turns older than %d days", erased, config.privacy.retention_days
        )
        return erased

    return app
