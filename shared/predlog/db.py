"""Engines for the prediction log's database.

`engine_for(url)` is the one factory (the writer and the analytics routes use it).
SQLite gets a busy timeout and WAL so that the writer and readers share the file
without "database is locked"; its parent directory is created so `make run` needs
nothing. `postgresql://` URLs are pointed at psycopg 3 (the driver the `postgres`
extra installs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url


def normalize_url(url: str) -> str:
    """`postgresql://` and `postgres://` mean psycopg 3; other URLs are kept."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def engine_for(url: str) -> Engine:
    """An Engine for `url` (SQLite file or PostgreSQL), ready for the log's table."""
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: no fsync per commit; a power cut can lose the last
            # commits (never corrupt the file): acceptable for a log, and much cheaper.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    # pre_ping: after a database restart the pool's old connections are dead.
    return create_engine(url, pool_pre_ping=True)
