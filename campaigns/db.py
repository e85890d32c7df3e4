"""Engine construction shared by the web app, the workers and the scripts."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import OperationalError

from campaigns.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

# Lock wait timeout, deadlock: InnoDB rolled the whole transaction back. 1305 (savepoint does not exist) is how a
# deadlock inside a savepoint surfaces when the savepoint's own rollback runs afterwards.
TRANSIENT_MYSQL = frozenset({1205, 1213, 1305})


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


def make_engine(settings: Settings) -> Engine:
    return create_engine(settings.database_url, **settings.engine_options())


def error_code(exc: OperationalError) -> Any:
    """The driver's first argument: MySQL's errno, or SQLite's message."""
    return exc.orig.args[0] if exc.orig is not None and exc.orig.args else None


def is_transient(exc: BaseException) -> bool:
    """The database gave up on this transaction for another's sake: nothing was committed, so running it again is
    safe and will likely succeed (an InnoDB deadlock or lock wait, or SQLite's "database is locked")."""
    if not isinstance(exc, OperationalError):
        return False
    code = error_code(exc)
    if isinstance(code, str):  # sqlite3 puts the message where MySQL drivers put the errno
        return "locked" in code  # "database is locked", "database table is locked"
    return code in TRANSIENT_MYSQL


def retry_transient(
    work: Callable[[], T],
    *,
    attempts: int = 4,
    backoff: float = 0.02,
    cleanup: Callable[[], None] | None = None,
) -> T:
    """Run ``work`` (one whole transaction) again after a transient database error, sleeping ``backoff`` x the
    attempt number in between; ``cleanup`` runs after every database error (e.g. rolling back a shared session)."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except OperationalError as exc:
            if cleanup is not None:
                cleanup()
            if not is_transient(exc) or attempt == attempts:
                raise
            log.warning("retrying after transient database error %s (attempt %d)", error_code(exc), attempt)
            time.sleep(backoff * attempt)
    raise AssertionError("unreachable")
