"""Sending the outbox: one `deliver` job per message, shared rate limits, typed retries.

A job:

1. claims its message (`queued` or `sending` -> `sending`, attempts + 1); a message already
   sent, failed or cancelled is left alone, so a job that runs twice sends once;
2. drops it if the parent opted out since it was queued (the STOP/START/HELP confirmations
   themselves excepted);
3. books a slot in every rate limit the send uses (`liaison_rate_reserve`, one atomic SQL
   call shared by every worker on every machine) and sleeps until it;
4. sends through the channel's `Sender` and records `sent` with the provider's id, or `failed`
   with its code (a refusal that means "opted out" also opts the contact out), or puts it back
   to `queued` and lets procrastinate retry it later (`retry_after` when the provider gave one,
   else exponential backoff with jitter), up to `delivery.max_attempts`.

The guarantee: every message is sent at least once unless it fails permanently or the parent
opts out. It is sent twice only if a worker dies after the provider accepted it and before
step 4 recorded that (one HTTP call's window; neither Twilio nor Telegram takes an
idempotency key), and then only that one message. See docs/channels.md.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import psycopg
from procrastinate import RetryDecision
from procrastinate.jobs import Job
from procrastinate.retry import BaseRetryStrategy
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from channels.base import Outgoing, PermanentSendError, RetryableSendError, Sender, SendError
from liaison.outbox import Priority, opt_out_contact
from liaison.settings import DeliveryConfig

log = logging.getLogger(__name__)
Pool = AsyncConnectionPool[AsyncConnection[Any]]
T = TypeVar("T")

_CLAIM = """
UPDATE outbound_message AS m
SET status = 'sending', attempts = m.attempts + 1, updated_at = %(now)s
FROM contact AS c
WHERE m.id = %(id)s AND c.id = m.contact_id AND m.status IN ('queued', 'sending')
RETURNING m.contact_id, m.channel, m.address, m.kind, m.priority, m.body, m.buttons, m.segments,
          c.opted_out_at IS NOT NULL AS opted_out
"""

_SENT = """
UPDATE outbound_message
SET status = CASE WHEN status IN ('queued', 'sending') THEN 'sent' ELSE status END,
    provider_id = coalesce(provider_id, %(provider_id)s),
    sent_at = coalesce(sent_at, %(now)s), error_code = NULL, error_message = NULL,
    updated_at = %(now)s
WHERE id = %(id)s
"""

_REQUEUE = """
UPDATE outbound_message
SET status = 'queued', error_code = %(code)s, error_message = %(error)s, updated_at = %(now)s
WHERE id = %(id)s AND status = 'sending'
"""

_FINISH = """
UPDATE outbound_message
SET status = %(status)s, error_code = %(code)s, error_message = %(error)s, updated_at = %(now)s
WHERE id = %(id)s
RETURNING contact_id
"""


_RESERVE = "SELECT liaison_rate_reserve(%s::text[], %s::float8[], %s::float8)"


async def _on_db(pool: Pool, work: Callable[[AsyncConnection[Any]], Awaitable[T]]) -> T:
    """Run `work` on a pooled connection (in a transaction); once more on a fresh one if the
    connection had died while idle (a database restart): the pool does not ping connections
    before lending them, and every statement here is safe to run again."""
    for attempt in (1, 2):
        try:
            async with pool.connection() as connection, connection.transaction():
                return await work(connection)
        except psycopg.OperationalError:
            if attempt == 2:
                raise
            log.warning("database connection lost; checking the pool and retrying once")
            await pool.check()
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class _Claim:
    contact_id: int
    channel: str
    address: str
    kind: str
    priority: int
    message: Outgoing
    opted_out: bool


class RateLimiter:
    """Shared limits in PostgreSQL: a send books the next free slot of each of its keys.

    Each key is a virtual clock (`rate_limit.next_slot`): booking takes the latest of the
    keys' clocks (or now) as the send time and moves each clock on by the time that send
    occupies (units / rate, divided by `headroom`). Sends are spaced, never bunched, so no
    second can hold more than the rate allows; the headroom (5 % by default) absorbs the
    jitter between a booked slot and the moment the provider sees the request. Bulk sends
    only book within `horizon` seconds of now and otherwise wait without booking, which keeps
    replies (booked at once) at most `horizon` behind bulk.
    """

    def __init__(self, pool: Pool, *, horizon: float, headroom: float = 1.0) -> None:
        self.pool = pool
        self.horizon = horizon
        self.headroom = headroom

    async def wait(self, keys: list[tuple[str, float]], *, bulk: bool) -> float:
        """Book and sleep until the slot; returns the seconds waited."""
        if not keys:
            return 0.0
        ordered = sorted(keys)  # one lock order for every caller: no deadlock
        names = [key for key, _ in ordered]
        intervals = [interval / self.headroom for _, interval in ordered]
        horizon = self.horizon if bulk else None

        async def book(connection: AsyncConnection[Any]) -> float:
            cursor = await connection.execute(_RESERVE, (names, intervals, horizon))
            row = await cursor.fetchone()
            return float(row[0]) if row else 0.0

        # Waking up this much after the slot (a stalled process) would bunch this send with
        # the next ones: book a new slot instead, once (a busy machine must not starve it).
        tolerance = max(0.02, min(intervals) / 2)
        rebooked = False
        loop = asyncio.get_running_loop()
        started = loop.time()
        while True:
            delay = await _on_db(self.pool, book)
            if delay < 0:  # bulk beyond the horizon: nothing booked, ask again later
                await asyncio.sleep(min(-delay, 1.0))
                continue
            slot = loop.time() + delay
            if delay > 0:
                await asyncio.sleep(delay)
            if rebooked or loop.time() - slot <= tolerance:
                return loop.time() - started
            rebooked = True
            log.debug("woke %.3f s after the slot; booking again", loop.time() - slot)


class Delivery:
    """Runs `deliver` jobs: owns a small connection pool and the channels' senders."""

    def __init__(
        self,
        pool: Pool,
        senders: dict[str, Sender],
        config: DeliveryConfig,
    ) -> None:
        self.pool = pool
        self.senders = senders
        self.config = config
        self.limiter = RateLimiter(
            pool, horizon=config.bulk_horizon_seconds, headroom=config.rate_headroom
        )

    async def start(self) -> None:
        for sender in self.senders.values():
            await sender.start()

    async def close(self) -> None:
        for sender in self.senders.values():
            await sender.close()

    async def deliver(self, message_id: int, *, attempt: int) -> str:
        """Send one outbox message; returns its status after this attempt.

        Raises RetryableSendError when it should be tried again (procrastinate reschedules)."""
        claim = await self._claim(message_id)
        if claim is None:
            return "skipped"
        if claim.opted_out and claim.kind != "keyword":
            await self._finish(message_id, "cancelled", "opted_out", "the parent opted out")
            return "cancelled"
        sender = self.senders.get(claim.channel)
        if sender is None:
            await self._finish(
                message_id, "failed", "channel_off", f"the {claim.channel} channel is not set up"
            )
            log.error("message %d: channel %s is not configured", message_id, claim.channel)
            return "failed"
        if self.config.rate_limits:
            await self.limiter.wait(
                sender.rate_keys(claim.address, claim.message.units),
                bulk=claim.priority < Priority.reply,
            )
        try:
            async with asyncio.timeout(self.config.send_timeout_seconds):
                result = await sender.send(claim.address, claim.message, message_id=message_id)
        except TimeoutError:
            error: SendError = RetryableSendError("the provider did not answer in time")
            error.code = "timeout"
        except PermanentSendError as exc:
            await self._finish(message_id, "failed", exc.code, str(exc), opt_out=exc.opted_out)
            log.warning(
                "message %d failed for good (%s%s)",
                message_id,
                exc.code,
                ", contact opted out" if exc.opted_out else "",
            )
            return "failed"
        except RetryableSendError as exc:
            error = exc
        else:
            sent = {"id": message_id, "provider_id": result.provider_id, "now": _now()}
            await _on_db(self.pool, lambda connection: connection.execute(_SENT, sent))
            return "sent"
        if attempt >= self.config.max_attempts:
            await self._finish(message_id, "failed", error.code, f"gave up: {error}")
            log.warning("message %d failed after %d attempts (%s)", message_id, attempt, error)
            return "failed"
        requeue = {"id": message_id, "code": error.code, "error": str(error), "now": _now()}
        await _on_db(self.pool, lambda connection: connection.execute(_REQUEUE, requeue))
        log.info("message %d: attempt %d failed (%s), will retry", message_id, attempt, error.code)
        raise error

    async def _claim(self, message_id: int) -> _Claim | None:
        async def claim(connection: AsyncConnection[Any]) -> Any:
            cursor = await connection.execute(_CLAIM, {"id": message_id, "now": _now()})
            return await cursor.fetchone()

        row = await _on_db(self.pool, claim)
        if row is None:
            return None
        contact_id, channel, address, kind, priority, body, buttons, segments, opted_out = row
        return _Claim(
            contact_id=contact_id,
            channel=channel,
            address=address,
            kind=kind,
            priority=priority,
            message=Outgoing(body=body, buttons=list(buttons), units=segments),
            opted_out=opted_out,
        )

    async def _finish(
        self,
        message_id: int,
        status: str,
        code: str | None,
        error: str,
        *,
        opt_out: bool = False,
    ) -> None:
        now = _now()
        values = {"id": message_id, "status": status, "code": code, "error": error, "now": now}

        async def finish(connection: AsyncConnection[Any]) -> None:
            cursor = await connection.execute(_FINISH, values)
            row = await cursor.fetchone()
            if opt_out and row is not None:
                await opt_out_contact(connection, row[0], now)

        await _on_db(self.pool, finish)


class DeliveryRetry(BaseRetryStrategy):
    """Retry only what is worth retrying (a retryable send error, an unreachable database):
    after the provider's `retry_after` when it gave one, else with exponential backoff and
    ±20 % jitter (so a provider outage does not end in a stampede)."""

    def __init__(self, config: DeliveryConfig) -> None:
        self.config = config

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        # A database that stays unreachable (not just a dropped connection) is worth waiting
        # for too: the message is safe in its row.
        if not isinstance(exception, RetryableSendError | psycopg.OperationalError):
            return None
        if job.attempts + 1 >= self.config.max_attempts:
            return None
        if isinstance(exception, RetryableSendError) and exception.retry_after is not None:
            delay = exception.retry_after
        else:
            delay = min(
                self.config.backoff_max_seconds,
                self.config.backoff_seconds * 2**job.attempts,
            ) * random.uniform(0.8, 1.2)
        return RetryDecision(retry_at=_now() + timedelta(seconds=delay))


def _now() -> datetime:
    return datetime.now(UTC)
