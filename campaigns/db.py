"""Engine construction shared by the web app, the workers and the scripts."""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event

from campaigns.settings import Settings


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets the embedded in-process worker write while the web thread reads.

    pysqlite's own transaction handling is switched off (``isolation_level = None``) so that the transaction is
    opened here, as ``BEGIN IMMEDIATE`` (below; after SQLAlchemy's documented pysqlite recipe).
    """
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()


READS = ("SELECT", "PRAGMA", "EXPLAIN")


@event.listens_for(Engine, "before_cursor_execute")
def _sqlite_write_lock(
    conn: Connection, cursor: Any, statement: str, _params: Any, context: Any, _executemany: bool
) -> None:
    """One writer at a time: a transaction takes SQLite's write lock (``BEGIN IMMEDIATE``, waiting up to the busy
    timeout, ``connect_args["timeout"]`` in ``Settings.engine_options``) before its first write.

    A deferred transaction that read and then writes cannot wait for the lock: if another connection committed
    in between, SQLite answers ``database is locked`` at once (its snapshot is stale), which is how the web
    threads lost inserts to the in-process queue's credits. Reads before the first write run outside the lock,
    as under MariaDB's READ COMMITTED, so a thread reading on one session never blocks its own writes on
    another; ``SELECT ... FOR UPDATE`` (which SQLite does not spell) takes the lock like a write.
    """
    if conn.dialect.name != "sqlite" or cursor.connection.in_transaction:
        return
    compiled = getattr(context, "compiled", None)
    for_update = getattr(getattr(compiled, "statement", None), "_for_update_arg", None) is not None
    if for_update or not statement.lstrip()[:7].upper().startswith(READS):
        cursor.connection.execute("BEGIN IMMEDIATE")


def is_sqlite_busy(exc: BaseException) -> bool:
    """SQLite gave up waiting for the write lock (``database is locked``/``busy``): retry later, not a bug."""
    orig = getattr(exc, "orig", exc)
    return isinstance(orig, sqlite3.OperationalError) and any(
        word in str(orig).lower() for word in ("database is locked", "database is busy", "database table is locked")
    )


def make_engine(settings: Settings) -> Engine:
    return create_engine(settings.database_url, **settings.engine_options())
