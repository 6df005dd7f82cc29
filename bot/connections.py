"""A pooled connection lent to code that sends its own BEGIN and COMMIT, or runs statements
that are their own transaction (`bot.store`, `bot.save_batches`)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus

log = logging.getLogger(__name__)

# A turn's transaction still open (after a failure): it is rolled back.
_OPEN_STATUSES = (TransactionStatus.INTRANS, TransactionStatus.INERROR)


@contextlib.asynccontextmanager
async def own_transaction(connection: AsyncConnection[Any]) -> AsyncIterator[None]:
    """Let the turn send its own BEGIN and COMMIT, with its first and last statements (so
    psycopg must not send them), and give the pool the connection back as it was lent: idle,
    not in autocommit. A turn that failed is rolled back; a connection that cannot be brought
    back (it broke, or a query was cut short) is closed, and the pool replaces it."""
    await connection.set_autocommit(True)
    try:
        yield
    finally:
        try:
            if connection.info.transaction_status in _OPEN_STATUSES:
                await connection.execute("ROLLBACK")
            await connection.set_autocommit(False)
        except psycopg.Error:
            log.warning("could not restore a turn's connection; closing it", exc_info=True)
            await connection.close()
