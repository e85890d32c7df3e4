"""Engine construction shared by the web app, the workers and the scripts."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError

from campaigns.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

# Lock wait timeout, deadlock: InnoDB rolled the whole transaction back. 1305 (savepoint does not exist) is how a
# deadlock inside a savepoint surfaces when the savepoint's own rollback runs afterwards.
TRANSIENT_MYSQL = frozenset({1205, 1213, 1305})


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets the embedded in-process worker write while the web thread reads."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()


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
