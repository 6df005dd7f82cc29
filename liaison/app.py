"""The Starlette app factory. Resources (database engine, NLU, catalogs) are opened in the
lifespan and handed to the channels explicitly; nothing is created at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import procrastinate
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.assistant import Assistant
from bot.content import load_faq
from bot.domain import BOT_DIR, load_domain
from bot.nlu.embedded import EmbeddedEngine, load_or_train
from bot.nlu.fallback import FallbackEngine
from bot.nlu.rasa import RasaEngine
from bot.nlu.result import NLUEngine
from bot.store import Conversations
from channels.base import Channel, Sender
from channels.calendar_page import CalendarPage
from channels.checkin_page import CheckinCodePage
from channels.links import PublicLinks
from channels.sms import SmsChannel, TwilioSender
from channels.telegram import TelegramChannel, TelegramSender, make_bot
from channels.web import WebChannel
from liaison.database import Database
from liaison.delivery import Delivery
from liaison.i18n import Catalogs
from liaison.jobs import renderers_for, run_worker
from liaison.settings import AssistantConfig, Settings
from liaison.signing import Signer, secret_key
from staff.site import StaffSite

log = logging.getLogger(__name__)
Pool = AsyncConnectionPool[AsyncConnection[Any]]


@dataclass
class Runtime:
    """Everything a process needs to handle messages, built once at start-up."""

    settings: Settings
    config: AssistantConfig
    nlu: EmbeddedEngine  # always loaded: the default engine, and Rasa's language and backup
    catalogs: Catalogs
    assistant: Assistant
    engine: NLUEngine  # the one that answers (`liaison.nlu.engine`)


def build_runtime(
    settings: Settings, config: AssistantConfig, *, bot_dir: Path = BOT_DIR
) -> Runtime:
    nlu = load_or_train(bot_dir / "data" / "nlu", settings.data_dir / "models")
    engine: NLUEngine = nlu
    if config.nlu.engine == "rasa":
        rasa = RasaEngine(settings.rasa_url, languages=nlu, timeout=config.nlu.rasa_timeout_seconds)
        engine = FallbackEngine(rasa, nlu)
        log.info("NLU: Rasa at %s; the embedded engine answers when it cannot", rasa.url)
    catalogs = Catalogs.load(config.languages)
    links = PublicLinks(settings.public_url, Signer(secret_key(settings)))
    assistant = Assistant(
        nlu=engine,
        domain=load_domain(bot_dir),
        faq=load_faq(),
        catalogs=catalogs,
        config=config,
        links=links,
    )
    return Runtime(
        settings=settings,
        config=config,
        nlu=nlu,
        catalogs=catalogs,
        assistant=assistant,
        engine=engine,
    )


def describe_channels(settings: Settings) -> None:
    """One clear log line per channel that is off for lack of credentials."""
    if not settings.twilio_enabled:
        log.info(
            "SMS channel off: set LIAISON_TWILIO_ACCOUNT_SID, LIAISON_TWILIO_AUTH_TOKEN and "
            "LIAISON_TWILIO_FROM to turn it on (docs/channels.md)"
        )
    if not settings.telegram_enabled:
        log.info("Telegram channel off: set LIAISON_TELEGRAM_TOKEN to turn it on")
    elif settings.telegram_webhook_secret is None:
        log.info(
            "Telegram webhook off (no LIAISON_TELEGRAM_WEBHOOK_SECRET): use `liaison telegram poll`"
        )


def channels_for(runtime: Runtime, pool: Pool) -> list[Channel]:
    """The explicit list of channels this deployment serves: the web chat always, SMS and
    Telegram when their credentials are set."""
    settings, config = runtime.settings, runtime.config
    conversations = Conversations(pool, runtime.assistant)
    channels: list[Channel] = [
        WebChannel(
            conversations=conversations,
            nlu=runtime.engine,
            catalogs=runtime.catalogs,
            languages=config.languages,
            default_language=config.default_language,
            max_message_bytes=config.messages.max_bytes,
        )
    ]
    if settings.twilio_enabled and settings.twilio_auth_token is not None:
        sms = SmsChannel(
            conversations=conversations,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            public_url=settings.public_url,
            max_segments=config.sms.max_segments,
        )
        conversations.outbox[sms.name] = sms.outgoing
        channels.append(sms)
    if settings.telegram_enabled and settings.telegram_token is not None:
        secret = settings.telegram_webhook_secret
        telegram = TelegramChannel(
            conversations=conversations,
            bot=make_bot(settings.telegram_token.get_secret_value(), settings.telegram_api_url),
            webhook_secret=secret.get_secret_value() if secret else None,
            languages=config.languages,
        )
        conversations.outbox[telegram.name] = telegram.outgoing
        channels.append(telegram)
    return channels


def senders_for(settings: Settings, config: AssistantConfig) -> dict[str, Sender]:
    """The senders of the channels whose credentials are set (what workers need)."""
    senders: dict[str, Sender] = {}
    if settings.twilio_enabled:
        assert settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from
        senders["sms"] = TwilioSender(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            sender=settings.twilio_from,
            status_callback_url=settings.public_url.rstrip("/") + "/webhooks/twilio/status",
            segments_per_second=config.sms.segments_per_second,
            api_url=settings.twilio_api_url,
        )
    if settings.telegram_enabled and settings.telegram_token is not None:
        senders["telegram"] = TelegramSender(
            token=settings.telegram_token.get_secret_value(),
            messages_per_second=config.telegram.messages_per_second,
            per_chat_per_second=config.telegram.per_chat_per_second,
            api_url=settings.telegram_api_url,
        )
    return senders


def create_app(
    database: Database, runtime: Runtime, *, jobs: procrastinate.App | None = None
) -> Starlette:
    """The web app. `database` must already be migrated. With `jobs`, one procrastinate worker
    runs inside this process (what `make run` does; larger deployments run `liaison worker`)."""
    state: dict[str, Pool] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool = database.pool(max_size=20, name="liaison-web")
        await pool.open(wait=True, timeout=30)
        state["pool"] = pool
        channels = channels_for(runtime, pool)
        for channel in channels:
            app.router.routes.extend(channel.routes())
        calendar = CalendarPage(
            pool, runtime.settings.public_url, runtime.catalogs, runtime.config.default_language
        )
        app.router.routes.extend(calendar.routes())
        signer = Signer(secret_key(runtime.settings))
        codes = CheckinCodePage(
            pool=pool,
            signer=signer,
            catalogs=runtime.catalogs,
            languages=runtime.config.languages,
            default_language=runtime.config.default_language,
            public_url=runtime.settings.public_url,
        )
        app.router.routes.extend(codes.routes())
        staff = StaffSite(
            pool=pool,
            config=runtime.config,
            catalogs=runtime.catalogs,
            renderers=renderers_for(runtime.config),
            signer=signer,
            public_url=runtime.settings.public_url,
        )
        app.router.routes.extend(staff.routes())
        log.info(
            "Liaison ready: %d intents, languages %s",
            len(runtime.nlu.intent_names),
            ", ".join(runtime.config.languages),
        )
        worker: asyncio.Task[None] | None = None
        delivery = Delivery(
            pool, senders_for(runtime.settings, runtime.config), runtime.config.delivery
        )
        if jobs is not None:
            await jobs.open_async()
            worker = asyncio.create_task(
                run_worker(
                    jobs,
                    delivery,
                    runtime.config.delivery,
                    concurrency=runtime.config.delivery.worker_concurrency,
                    install_signal_handlers=False,
                )
            )
        # Everything loaded so far (the NLU model above all) lives as long as the process:
        # out of the collector's way, a full collection no longer walks it in the middle of
        # a request.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if worker is not None and jobs is not None:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
                await jobs.close_async()
            await delivery.close()
            for channel in channels:
                await channel.close()
            await pool.close()

    async def health(request: Request) -> Response:
        pool = state.get("pool")
        if pool is None:
            return JSONResponse({"status": "starting"}, status_code=503)
        async with pool.connection() as connection:
            await connection.execute("SELECT 1")
        return JSONResponse({"status": "ok", "nlu": runtime.nlu.model.fingerprint})

    return Starlette(routes=[Route("/healthz", health)], lifespan=lifespan)


def app_from_environment() -> Starlette:
    """Factory for `uvicorn --factory` worker processes (`liaison run --workers N`): the parent
    has started and migrated the database and exported its URL as DATABASE_URL."""
    from liaison.database import open_database
    from liaison.jobs import build_jobs
    from liaison.settings import load_config, load_settings

    settings = load_settings()
    config = load_config(settings.config_file)
    database = open_database(settings)
    runtime = build_runtime(settings, config)
    jobs = build_jobs(database, config, catalogs=runtime.catalogs)
    return create_app(database, runtime, jobs=jobs)
