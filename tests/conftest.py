"""Shared fixtures: a real PostgreSQL (embedded in a temporary folder, or TEST_DATABASE_URL),
the trained runtime, and the app served by uvicorn on 127.0.0.1 for HTTP and browser tests.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store import Conversations
from liaison.app import Runtime, build_runtime, create_app
from liaison.database import Database, migrate, start_embedded, stop_embedded
from liaison.settings import ROOT, load_config, load_settings


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
    pool = database.pool(max_size=5)
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
    port = _free_port()
    config = uvicorn.Config(
        create_app(database, runtime),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
    )
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
