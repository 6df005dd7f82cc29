"""The Starlette app factory. Resources (database engine, NLU, catalogs) are opened in the
lifespan and handed to the channels explicitly; nothing is created at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from bot.store import Conversations
from channels.base import Channel
from channels.web import WebChannel
from liaison.database import Database
from liaison.i18n import Catalogs
from liaison.settings import AssistantConfig, Settings

log = logging.getLogger(__name__)
Pool = AsyncConnectionPool[AsyncConnection[Any]]


@dataclass
class Runtime:
    """Everything a process needs to handle messages, built once at start-up."""

    config: AssistantConfig
    nlu: EmbeddedEngine
    catalogs: Catalogs
    assistant: Assistant


def build_runtime(
    settings: Settings, config: AssistantConfig, *, bot_dir: Path = BOT_DIR
) -> Runtime:
    nlu = load_or_train(bot_dir / "data" / "nlu", settings.data_dir / "models")
    catalogs = Catalogs.load(config.languages)
    assistant = Assistant(
        nlu=nlu, domain=load_domain(bot_dir), faq=load_faq(), catalogs=catalogs, config=config
    )
    return Runtime(config=config, nlu=nlu, catalogs=catalogs, assistant=assistant)


def channels_for(runtime: Runtime, pool: Pool) -> list[Channel]:
    """The explicit list of channels this deployment serves."""
    conversations = Conversations(pool, runtime.assistant)
    return [
        WebChannel(
            conversations=conversations,
            nlu=runtime.nlu,
            catalogs=runtime.catalogs,
            languages=runtime.config.languages,
            default_language=runtime.config.default_language,
            max_message_bytes=runtime.config.messages.max_bytes,
        )
    ]


def create_app(
    database: Database, runtime: Runtime, *, jobs: procrastinate.App | None = None
) -> Starlette:
    """The web app. `database` must already be migrated. With `jobs`, one procrastinate worker
    runs inside this process (what `make run` does; larger deployments run `liaison worker`)."""
    state: dict[str, Pool] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool = database.pool(max_size=20)
        await pool.open(wait=True, timeout=30)
        state["pool"] = pool
        for channel in channels_for(runtime, pool):
            app.router.routes.extend(channel.routes())
        log.info(
            "Liaison ready: %d intents, languages %s",
            len(runtime.nlu.intent_names),
            ", ".join(runtime.config.languages),
        )
        worker: asyncio.Task[None] | None = None
        if jobs is not None:
            await jobs.open_async()
            worker = asyncio.create_task(
                jobs.run_worker_async(install_signal_handlers=False, concurrency=2)
            )
        try:
            yield
        finally:
            if worker is not None and jobs is not None:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
                await jobs.close_async()
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
    return create_app(database, runtime, jobs=build_jobs(database, config))
