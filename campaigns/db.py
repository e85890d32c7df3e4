"""Engine construction shared by the web app, the workers and the scripts."""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event

from campaigns.settings import Settings


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets the embedded in-process worker write while the web thread reads.

    pysqlite's own transaction handling is switched off (``isolation_level = None``) so that SQLAlchemy's
    ``begin`` event below can open every transaction itself (SQLAlchemy's documented pysqlite recipe).
    """
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin_immediate(conn: Connection) -> None:
    """One writer at a time: take SQLite's write lock when the transaction starts, waiting up to the busy
    timeout (``connect_args["timeout"]`` in ``Settings.engine_options``).

    A deferred transaction that reads and then writes cannot wait for the lock: if another connection
    committed in between, SQLite answers ``database is locked`` at once (its snapshot is stale), which is how
    the web threads lost inserts to the in-process queue's credits.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def is_sqlite_busy(exc: BaseException) -> bool:
    """SQLite gave up waiting for the write lock (``database is locked``/``busy``): retry later, not a bug."""
    orig = getattr(exc, "orig", exc)
    return isinstance(orig, sqlite3.OperationalError) and any(
        word in str(orig).lower() for word in ("database is locked", "database is busy", "database table is locked")
    )


def make_engine(settings: Settings) -> Engine:
    return create_engine(settings.database_url, **settings.engine_options())
