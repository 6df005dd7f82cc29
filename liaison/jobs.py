"""Background jobs on procrastinate, over the same PostgreSQL.

`build_jobs()` makes the procrastinate app and registers the tasks (no import-time resources);
`run_worker()` runs a worker with what the tasks need (the `Delivery`), and the recovery of
jobs left behind by a dead worker. `liaison worker` runs workers; `liaison run` also runs one
inside the server process. Any number of workers on any number of machines share the queue
through the database.

Tasks:

* `liaison.deliver` — send one outbox message (`liaison.delivery`), retried by `DeliveryRetry`;
* `liaison.expire_offers` — every minute, seat offers past their deadline go to the next parent
  on the waiting list, who is told on their channel;
* `liaison.send_reminders` — every minute, workshop reminders that fall due (`liaison.reminders`,
  out of quiet hours) are queued, once each;
* `liaison.send_followups` — every minute, workshop follow-ups that fall due (thanks, "we missed
  you", the autonomy check; `liaison.followups`, out of quiet hours) are queued, once each;
* `liaison.send_broadcasts` — every minute, school notices that fall due are queued as bulk
  messages, one per family, each school's in its allowed hours (`broadcasts.sending`);
* `liaison.purge_old_turns` — daily, erase turns and delivered messages older than
  `liaison.privacy.retention_days`, and the duplicate-detection receipts after a week.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import procrastinate
import psycopg
from psycopg import AsyncConnection

from bot.content import FaqEntry, load_faq
from broadcasts import sending as broadcast_sending
from channels.base import Renderer
from channels.sms import outgoing_sms
from channels.telegram import render_telegram
from liaison.database import Database
from liaison.delivery import Delivery, DeliveryRetry
from liaison.i18n import Catalogs
from liaison.outbox import DELIVER_TASK, DELIVERY_QUEUE
from liaison.settings import AssistantConfig, DeliveryConfig
from workshops import followups
from workshops.bookings import OFFER_FOR
from workshops.enrolment import expire_offers
from workshops.offers import announce
from workshops.quiet_hours import QuietHours
from workshops.reminders import send_due

log = logging.getLogger(__name__)
# One piece of periodic work: what it did, in the connection's transaction.
Work = Callable[[AsyncConnection[Any], datetime], Awaitable[int]]
MAINTENANCE_QUEUE = "maintenance"
# Providers retry a webhook for minutes or hours, not days.
RECEIPT_DAYS = 7


async def purge_old_turns(url: str, retention_days: int, *, now: datetime | None = None) -> int:
    """Erase turns and outbox messages older than the retention period, and old inbound
    receipts; returns how many turns were erased."""
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=retention_days)
    async with await psycopg.AsyncConnection.connect(url) as connection:
        cursor = await connection.execute("DELETE FROM turn WHERE created_at < %s", (cutoff,))
        erased = cursor.rowcount
        await connection.execute(
            "DELETE FROM outbound_message WHERE created_at < %s AND status IN "
            "('sent', 'delivered', 'failed', 'cancelled')",
            (cutoff,),
        )
        await connection.execute(
            "DELETE FROM inbound_receipt WHERE received_at < %s",
            (now - timedelta(days=RECEIPT_DAYS),),
        )
        return erased


def renderers_for(config: AssistantConfig) -> dict[str, Renderer]:
    """How a message to a parent is written on each channel that can reach them between
    conversations (offers, reminders, follow-ups, a cancelled workshop)."""
    return {
        "sms": lambda replies: outgoing_sms(replies, config.sms.max_segments),
        "telegram": render_telegram,
    }


@dataclass(frozen=True)
class Outreach:
    """What the periodic jobs write to parents (reminders, follow-ups, notices, seat offers),
    with what it needs built once per process. The jobs and `liaison workshops preview` call
    the same methods; each takes the connection whose transaction it writes in."""

    config: AssistantConfig
    catalogs: Catalogs
    renderers: Mapping[str, Renderer]
    quiet: QuietHours
    faq: Mapping[str, FaqEntry]

    @classmethod
    def build(cls, config: AssistantConfig, catalogs: Catalogs | None = None) -> Outreach:
        return cls(
            config=config,
            catalogs=catalogs or Catalogs.load(config.languages),
            renderers=renderers_for(config),
            quiet=QuietHours(**config.quiet_hours.model_dump()),
            faq=load_faq(),
        )

    async def reminders(self, connection: AsyncConnection[Any], now: datetime) -> int:
        return await send_due(
            connection,
            now=now,
            hours_before=self.config.reminders.hours_before,
            quiet=self.quiet,
            renderers=self.renderers,
            catalogs=self.catalogs,
            default_language=self.config.default_language,
        )

    async def followups(self, connection: AsyncConnection[Any], now: datetime) -> int:
        return await followups.send_due(
            connection,
            now=now,
            schedule=followups.Schedule(**self.config.followups.model_dump()),
            quiet=self.quiet,
            renderers=self.renderers,
            catalogs=self.catalogs,
            faq=self.faq,
            default_language=self.config.default_language,
        )

    async def broadcasts(self, connection: AsyncConnection[Any], now: datetime) -> int:
        return await broadcast_sending.send_due(
            connection,
            now=now,
            quiet=self.quiet,
            renderers=self.renderers,
            catalogs=self.catalogs,
            default_language=self.config.default_language,
        )

    async def offers(self, connection: AsyncConnection[Any], now: datetime) -> int:
        """Seat offers past their deadline move on; returns how many expired."""
        expired, offers = await expire_offers(connection, now=now, offer_for=OFFER_FOR)
        await announce(
            connection,
            offers,
            now=now,
            renderers=self.renderers,
            catalogs=self.catalogs,
            default_language=self.config.default_language,
        )
        if expired:
            log.info("%d seat offers expired, %d new offers", len(expired), len(offers))
        return len(expired)


def build_jobs(
    database: Database, config: AssistantConfig, *, catalogs: Catalogs | None = None
) -> procrastinate.App:
    """The procrastinate app and its tasks; `catalogs` when the process has them loaded
    already (the web server), else they are read here (a `liaison worker`)."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=database.url))

    @app.periodic(cron="17 3 * * *", periodic_id="daily")
    @app.task(name="liaison.purge_old_turns", queue=MAINTENANCE_QUEUE, pass_context=False)
    async def purge(timestamp: int) -> int:
        erased = await purge_old_turns(database.url, config.privacy.retention_days)
        log.info(
            "retention: erased %d turns older than %d days", erased, config.privacy.retention_days
        )
        return erased

    outreach = Outreach.build(config, catalogs)

    async def run(work: Work, what: str) -> int:
        """`work` now, in a transaction of its own; logged when it queued anything."""
        async with await psycopg.AsyncConnection.connect(database.url) as connection:
            done = await work(connection, datetime.now(UTC))
        if done and what:
            log.info("queued %d %s", done, what)
        return done

    @app.periodic(cron="* * * * *", periodic_id="every-minute")
    @app.task(name="liaison.expire_offers", queue=MAINTENANCE_QUEUE, pass_context=False)
    async def expire(timestamp: int) -> int:
        """Seat offers past their deadline move on to the next parent on the waiting list."""
        return await run(outreach.offers, "")

    @app.periodic(cron="* * * * *", periodic_id="every-minute")
    @app.task(name="liaison.send_reminders", queue=MAINTENANCE_QUEUE, pass_context=False)
    async def remind(timestamp: int) -> int:
        """Reminders that fall due are queued, once each."""
        return await run(outreach.reminders, "workshop reminders")

    @app.periodic(cron="* * * * *", periodic_id="every-minute")
    @app.task(name="liaison.send_followups", queue=MAINTENANCE_QUEUE, pass_context=False)
    async def follow_up(timestamp: int) -> int:
        """Follow-ups after workshops that fall due are queued, once each."""
        return await run(outreach.followups, "workshop follow-ups")

    @app.periodic(cron="* * * * *", periodic_id="every-minute")
    @app.task(name="liaison.send_broadcasts", queue=MAINTENANCE_QUEUE, pass_context=False)
    async def broadcast(timestamp: int) -> int:
        """School notices that fall due are queued, one message per family."""
        return await run(outreach.broadcasts, "broadcast messages")

    @app.task(
        name=DELIVER_TASK,
        queue=DELIVERY_QUEUE,
        pass_context=True,
        retry=DeliveryRetry(config.delivery),
    )
    async def deliver(context: procrastinate.JobContext, message_id: int) -> str:
        delivery: Delivery = context.additional_context["delivery"]
        attempts = context.job.attempts if context.job is not None else 0
        return await delivery.deliver(message_id, attempt=attempts + 1)

    return app


async def recover_stalled(jobs: procrastinate.App, config: DeliveryConfig) -> int:
    """Put back in the queue the jobs of workers that stopped beating (killed, crashed)."""
    stalled = await jobs.job_manager.get_stalled_jobs(
        seconds_since_heartbeat=config.stalled_after_seconds
    )
    count = 0
    for job in stalled:
        await jobs.job_manager.retry_job(job)
        count += 1
    if count:
        log.warning("recovered %d job(s) from a worker that stopped", count)
    return count


async def run_worker(
    jobs: procrastinate.App,
    delivery: Delivery,
    config: DeliveryConfig,
    *,
    concurrency: int,
    install_signal_handlers: bool = True,
    queues: list[str] | None = None,
) -> None:
    """A procrastinate worker for the delivery and maintenance queues, with the periodic
    recovery of stalled jobs. `jobs` must be open."""

    async def recover_forever() -> None:
        while True:
            try:
                await recover_stalled(jobs, config)
            except Exception:  # a database blip must not stop the recovery loop
                log.exception("stalled-job recovery failed; trying again")
            await asyncio.sleep(config.heartbeat_seconds)

    await delivery.start()
    recovery = asyncio.create_task(recover_forever())
    options: dict[str, Any] = {
        "concurrency": concurrency,
        "additional_context": {"delivery": delivery},
        "update_heartbeat_interval": config.heartbeat_seconds,
        "stalled_worker_timeout": config.stalled_after_seconds,
        # Retries scheduled for later (429, backoff) are picked up within half a second.
        "fetch_job_polling_interval": 0.5,
        "install_signal_handlers": install_signal_handlers,
        # The outbox keeps each message's history; finished jobs need not stay.
        "delete_jobs": "successful",
    }
    if queues is not None:
        options["queues"] = queues
    try:
        await jobs.run_worker_async(**options)
    finally:
        recovery.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await recovery
