"""Shared fixtures: a real PostgreSQL (embedded in a temporary folder, or TEST_DATABASE_URL),
the trained runtime, and the app served by uvicorn on 127.0.0.1 for HTTP and browser tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import pytest
import uvicorn
from phones import new_mobile
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine
from staff_helpers import Clients
from starlette.applications import Starlette

from bot.store import Conversations
from channels.fakes import FakeProviders
from liaison.app import Runtime, build_runtime, create_app, senders_for
from liaison.database import Database, migrate, start_embedded, stop_embedded
from liaison.delivery import Delivery
from liaison.settings import ROOT, load_config, load_settings

Pool = AsyncConnectionPool[AsyncConnection[Any]]


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        database = Database(url=url, embedded=False)
        migrate(database)
        yield database
        return
    pgdata = tmp_path_factory.mktemp("pg") / "data"
    database = start_embedded(pgdata)
    migrate(database)
    try:
        yield database
    finally:
        stop_embedded(pgdata)
        shutil.rmtree(pgdata, ignore_errors=True)


@pytest.fixture(scope="session")
def settings():  # type: ignore[no-untyped-def]
    # The NLU cache is shared with `make run` (var/models) so a test run warms it.
    return load_settings(data_dir=ROOT / "var")


@pytest.fixture(scope="session")
def runtime(settings) -> Runtime:  # type: ignore[no-untyped-def]
    return build_runtime(settings, load_config(ROOT / "config.yml"))


@pytest.fixture(scope="session")
async def engine(database: Database) -> AsyncIterator[AsyncEngine]:
    engine = database.async_engine(pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def conversations(database: Database, runtime: Runtime) -> AsyncIterator[Conversations]:
    pool = database.pool(max_size=5, name="liaison-conversations-tests")
    await pool.open(wait=True, timeout=30)
    yield Conversations(pool, runtime.assistant)
    await pool.close()


@pytest.fixture
def sender() -> str:
    """A fresh parent for each test."""
    return f"test-{uuid.uuid4()}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def live_server_url(database: Database, runtime: Runtime) -> Iterator[str]:
    """The real app under uvicorn, in a thread, on a free loopback port."""
    with _serve(create_app(database, runtime), _free_port()) as url:
        yield url


@contextlib.contextmanager
def _serve(app: Starlette, port: int) -> Iterator[str]:
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


# -- channels: fake providers on 127.0.0.1, and the app with SMS and Telegram on ---------------

TELEGRAM_SECRET = "test-webhook-secret-0123456789"
SMS_FROM = "+33639980000"


@pytest.fixture(scope="session")
def telegram_secret() -> str:
    return TELEGRAM_SECRET


@pytest.fixture(scope="session")
def fakes() -> Iterator[FakeProviders]:
    with FakeProviders() as providers:
        yield providers


@pytest.fixture(scope="session")
def channel_port() -> int:
    return _free_port()


@pytest.fixture(scope="session")
def channel_runtime(runtime: Runtime, fakes: FakeProviders, channel_port: int) -> Runtime:
    """The runtime with SMS and Telegram credentials pointing at the fakes."""
    settings = runtime.settings.model_copy(
        update={
            "public_url": f"http://127.0.0.1:{channel_port}",
            "twilio_account_sid": fakes.twilio.account_sid,
            "twilio_auth_token": SecretStr(fakes.twilio.auth_token),
            "twilio_from": SMS_FROM,
            "twilio_api_url": fakes.url,
            "telegram_token": SecretStr(fakes.telegram.token),
            "telegram_webhook_secret": SecretStr(TELEGRAM_SECRET),
            "telegram_api_url": fakes.url,
        }
    )
    config = runtime.config.model_copy(
        update={
            "delivery": runtime.config.delivery.model_copy(
                update={"send_timeout_seconds": 1.0, "backoff_seconds": 0.1}
            )
        }
    )
    return replace(runtime, settings=settings, config=config)


@pytest.fixture(scope="session")
def channel_server_url(
    database: Database, channel_runtime: Runtime, channel_port: int
) -> Iterator[str]:
    """The app with every channel on, without its in-process worker: tests send the outbox
    themselves (`deliver_all`) or run workers explicitly."""
    with _serve(create_app(database, channel_runtime), channel_port) as url:
        yield url


@pytest.fixture(scope="session")
async def pool(database: Database) -> AsyncIterator[Pool]:
    """For the tests' own queries."""
    pool = database.pool(max_size=8, name="liaison-tests")
    await pool.open(wait=True, timeout=30)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
async def delivery(database: Database, channel_runtime: Runtime) -> AsyncIterator[Delivery]:
    """Delivery as a worker runs it (its own pool, not pinged before use), limits lifted."""
    own_pool = database.pool(max_size=8, name="liaison-delivery-tests")
    await own_pool.open(wait=True, timeout=30)
    delivery = Delivery(
        own_pool,
        senders_for(channel_runtime.settings, channel_runtime.config),
        channel_runtime.config.delivery.model_copy(update={"rate_limits": False}),
    )
    yield delivery
    await delivery.close()
    await own_pool.close()


@pytest.fixture
def staff_clients() -> Iterator[Clients]:
    """HTTP clients for the staff pages (`.sign_in(base_url, email)`), closed after the test."""
    clients = Clients()
    yield clients
    clients.close()


@pytest.fixture
def phone() -> str:
    """A fresh French mobile number for each test."""
    return new_mobile()


@pytest.fixture
def chat_id() -> int:
    return random.randint(10**8, 10**10)
