"""The short way's saves of concurrent parents, written together: one statement, one commit.

When many parents write at once, each short-way turn (`bot.known_conversations`) would cost
PostgreSQL a transaction and a commit of its own, and the web process a round trip. Instead the
turns ready to be saved wait in a list; one writer at a time takes everything waiting and saves
it with `liaison_save_known_turns` (migration 0010), then takes what arrived meanwhile. A lone
turn is written at once, so a quiet evening waits for nothing; a busy one shares the commit.

Each turn still gets its own answer: its contact's id and new state, or None when the stored
state was not the one expected (it goes the long way). If the batch fails as a whole (the
connection broke, a deadlock with a person's reply), every turn in it gets None and goes the
long way, where the real error, if any, belongs to the one turn that causes it. Nothing of a
failed batch is written.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from psycopg import AsyncClientCursor, AsyncConnection
from psycopg_pool import AsyncConnectionPool

from bot.connections import own_transaction

log = logging.getLogger(__name__)

# Beyond this the rest waits for the next statement (it bounds the statement's size and time).
MAX_BATCH = 64

_SAVE = "SELECT liaison_save_known_turns(%s::jsonb)"


class UnreadableResult(RuntimeError):
    """The batch was saved but its result does not give one answer per turn (a change to
    `liaison_save_known_turns` that broke it): its requests fail rather than save again."""


class SaveBatches:
    """Saves short-way turns through `pool`, together when they arrive together."""

    def __init__(
        self, pool: AsyncConnectionPool[AsyncConnection[Any]], max_batch: int = MAX_BATCH
    ) -> None:
        self.pool = pool
        self.max_batch = max_batch
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[dict[str, Any] | None]]] = []
        self._writer: asyncio.Task[None] | None = None
        # How many statements wrote how many turns (the tests read them).
        self.statements = 0
        self.turns = 0

    async def save(self, document: dict[str, Any]) -> dict[str, Any] | None:
        """Save one turn (`liaison_save_known_turn`'s document); `{"contact_id", "state"}` once
        saved, or None."""
        future: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((document, future))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write())
        return await future

    async def _write(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self.max_batch]
                del self._waiting[: self.max_batch]
                try:
                    results = await self._save([document for document, _ in batch])
                except UnreadableResult as exc:  # written, but whose answer is which?
                    for _, future in batch:
                        future.set_exception(exc)  # not the long way: it would write twice
                    continue
                except Exception:
                    # The connection broke, a deadlock, or one turn that cannot be written:
                    # each goes the long way, where only a turn at fault fails.
                    log.warning(
                        "a batch of %d turns could not be saved; they go the long way",
                        len(batch),
                        exc_info=True,
                    )
                    results = [None] * len(batch)
                except BaseException as exc:  # cancelled at shutdown: tell them all
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    raise
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._writer = None
            for _, future in self._waiting:  # only after a failure above
                if not future.done():
                    future.set_result(None)
            self._waiting.clear()

    async def _save(self, documents: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
        # One statement is its own transaction: no BEGIN or COMMIT to send.
        async with self.pool.connection() as connection, own_transaction(connection):
            cursor = AsyncClientCursor(connection)
            await cursor.execute(_SAVE, (json.dumps(documents, ensure_ascii=False),))
            row = await cursor.fetchone()
        self.statements += 1
        self.turns += len(documents)
        if row is None or not isinstance(row[0], list) or len(row[0]) != len(documents):
            raise UnreadableResult("liaison_save_known_turns gave no result per turn")
        results: list[dict[str, Any] | None] = row[0]
        return results
