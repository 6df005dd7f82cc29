"""The Starlette app factory. Resources (database engine, NLU, catalogs) are opened in the
lifespan and handed to the channels explicitly; nothing is created at import time.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine
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


def channels_for(runtime: Runtime, engine: AsyncEngine) -> list[Channel]:
    """The explicit list of channels this deployment serves."""
    conversations = Conversations(engine, runtime.assistant)
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


def create_app(database: Database, runtime: Runtime) -> Starlette:
    """The web app. `database` must already be migrated."""
    state: dict[str, AsyncEngine] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = database.async_engine()
        state["engine"] = engine
        for channel in channels_for(runtime, engine):
            app.router.routes.extend(channel.routes())
        log.info(
            "Liaison ready: %d intents, languages %s",
            len(runtime.nlu.intent_names),
            ", ".join(runtime.config.languages),
        )
        try:
            yield
        finally:
            await engine.dispose()

    async def health(request: Request) -> Response:
        engine = state.get("engine")
        if engine is None:
            return JSONResponse({"status": "starting"}, status_code=503)
        async with engine.connect() as connection:
            await connection.exec_driver_sql("SELECT 1")
        return JSONResponse({"status": "ok", "nlu": runtime.nlu.model.fingerprint})

    return Starlette(routes=[Route("/healthz", health)], lifespan=lifespan)
