"""One rule for "run the transaction again": the same errors count as transient in views, workers and imports."""

from __future__ import annotations

import sqlite3

import pymysql
import pytest
from sqlalchemy.exc import OperationalError

from campaigns.db import is_lock_wait, is_transient, retry_transient


def mysql_error(errno: int) -> OperationalError:
    return OperationalError("UPDATE x", {}, pymysql.err.OperationalError(errno, "message"))


@pytest.mark.parametrize("errno", [1205, 1213, 1305])
def test_lock_wait_deadlock_and_lost_savepoint_are_transient(errno: int) -> None:
    assert is_transient(mysql_error(errno))


def test_sqlite_lock_is_transient_and_other_errors_are_not() -> None:
    assert is_transient(OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked")))
    assert not is_transient(OperationalError("INSERT", {}, sqlite3.OperationalError("no such table: x")))
    assert not is_transient(mysql_error(1054))  # unknown column: schema and code disagree
    assert not is_transient(ValueError("x"))


def test_retry_runs_the_work_again_until_it_succeeds() -> None:
    calls: list[int] = []
    cleanups: list[int] = []

    def work() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise mysql_error(1305)
        return "done"

    assert retry_transient(work, backoff=0, cleanup=lambda: cleanups.append(1)) == "done"
    assert len(calls) == 3 and len(cleanups) == 2


def test_retry_gives_up_after_its_attempts_and_never_retries_other_errors() -> None:
    calls: list[int] = []

    def deadlocks() -> None:
        calls.append(1)
        raise mysql_error(1213)

    with pytest.raises(OperationalError):
        retry_transient(deadlocks, attempts=5, backoff=0)
    assert len(calls) == 5

    calls.clear()

    def broken() -> None:
        calls.append(1)
        raise mysql_error(1054)

    with pytest.raises(OperationalError):
        retry_transient(broken, backoff=0)
    assert len(calls) == 1


def test_crediting_takes_a_lock_wait_timeout_at_once_but_still_retries_deadlocks() -> None:
    """A lock wait already waited its bound: the drain leaves the batch for later instead of waiting again."""
    errors = [mysql_error(1213), mysql_error(1205)]
    calls: list[int] = []

    def work() -> None:
        calls.append(1)
        raise errors[min(len(calls), 2) - 1]

    with pytest.raises(OperationalError) as raised:
        retry_transient(work, attempts=5, backoff=0, lock_waits=False)
    assert is_lock_wait(raised.value) and len(calls) == 2  # the deadlock was retried, the lock wait was not
