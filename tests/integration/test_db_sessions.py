"""The session settings that keep one stuck database client from stalling the others (issue 18, "Several hosts").

A host cut off from the network inside a transaction looks to MariaDB like an idle client: without
``idle_transaction_timeout`` its row locks stay until ``wait_timeout`` (8 hours by default). And a crediting
transaction that meets such locks gives up after ``LOYALTY_CREDIT_LOCK_WAIT_SECONDS`` and leaves its batch for later
instead of blocking its worker. Real MariaDB, Redis and a burst RQ worker.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from rq import Queue
from rq.registry import FailedJobRegistry
from sqlalchemy import Engine, bindparam, select, text
from sqlalchemy.exc import DBAPIError, OperationalError

from campaigns.db import is_lock_wait, make_engine
from campaigns.models import LedgerEntry, Transaction
from tests.helpers.api import publish, txn
from tests.helpers.documents import BASE_EARNING
from tests.helpers.factories import ProviderKey
from tests.helpers.services import settings_for_tests
from webapp.extensions import db
from workers.queues import cool_off_key, inflight_key, pending_key, queue_name, scheduled_key
from workers.runtime import Runtime
from workers.sweeper import wake_orphaned
from workers.worker import run_worker


def _variable(engine: Engine, name: str) -> tuple[int, int]:
    """(the session's value, the server's) of a MariaDB variable, on a fresh connection of ``engine``."""
    with engine.connect() as conn:
        row = conn.execute(text(f"SELECT @@session.{name}, @@global.{name}")).one()
    return int(row[0]), int(row[1])


@pytest.fixture()
def engines() -> Iterator[list[Engine]]:
    made: list[Engine] = []
    yield made
    for engine in made:
        engine.dispose()


def test_every_connection_gets_the_idle_transaction_timeout_and_zero_leaves_the_servers(
    engines: list[Engine],
) -> None:
    engines.append(seven := make_engine(settings_for_tests(db_idle_transaction_seconds=7)))
    assert _variable(seven, "idle_transaction_timeout")[0] == 7
    engines.append(off := make_engine(settings_for_tests(db_idle_transaction_seconds=0)))
    session, server = _variable(off, "idle_transaction_timeout")
    assert session == server


def test_the_web_and_the_workers_get_the_default_and_only_crediting_gets_the_short_lock_wait(app: Flask) -> None:
    with app.app_context():  # the web's sessions (Flask-SQLAlchemy's engine)
        idle, lock_wait = db.session.execute(
            text("SELECT @@session.idle_transaction_timeout, @@session.innodb_lock_wait_timeout")
        ).one()
        server_lock_wait = db.session.scalar(text("SELECT @@global.innodb_lock_wait_timeout"))
        db.session.remove()
    assert (idle, lock_wait) == (30, server_lock_wait)
    rt: Runtime = app.extensions["loyalty.runtime"]
    assert rt.credit_session_factory is not None and rt.credit_lock_wait_seconds == 10
    with rt.credit_session_factory() as session:
        assert tuple(
            session.execute(text("SELECT @@session.idle_transaction_timeout, @@session.innodb_lock_wait_timeout")).one()
        ) == (30, 10)
    with rt.session_factory() as session:  # the workers' other work keeps the server's lock wait
        assert session.scalar(text("SELECT @@session.innodb_lock_wait_timeout")) == server_lock_wait


@pytest.mark.slow  # waits out a 1 s timeout twice
def test_a_client_idle_inside_its_transaction_loses_it_and_its_row_locks(
    app: Flask, clean: None, engines: list[Engine]
) -> None:
    engines.append(setup := make_engine(settings_for_tests()))
    with setup.begin() as conn:
        conn.execute(text("INSERT INTO counters (name, value) VALUES ('idle-test', 1)"))
    engines.append(waiter := make_engine(settings_for_tests(), lock_wait_seconds=1))
    lock_row = text("SELECT value FROM counters WHERE name = 'idle-test' FOR UPDATE")
    update = text("UPDATE counters SET value = value + 1 WHERE name = 'idle-test'")

    # without the timeout the idle transaction keeps its lock: the other one gives up (error 1205)
    engines.append(kept := make_engine(settings_for_tests(db_idle_transaction_seconds=0)))
    with kept.connect() as idle:
        idle.execute(update)
        with waiter.connect() as other, pytest.raises(OperationalError) as waited:
            other.execute(lock_row)
        assert is_lock_wait(waited.value)
        idle.rollback()

    engines.append(cut := make_engine(settings_for_tests(db_idle_transaction_seconds=1)))
    with cut.connect() as idle:
        idle.execute(update)  # a transaction holding the row, then silence (a host cut off)
        time.sleep(1.5)
        with waiter.connect() as other:
            assert other.execute(lock_row).scalar_one() == 1  # rolled back by the server, the lock gone
            other.rollback()
        with pytest.raises(DBAPIError):  # the silent client finds its transaction, and connection, gone
            idle.execute(update)


@pytest.mark.slow  # a 1 s lock wait, then a 3 s pause
def test_a_batch_whose_rows_stay_locked_is_left_in_flight_and_its_partition_cools_off(
    app: Flask,
    client: FlaskClient,
    telecom: ProviderKey,
    staff: dict[str, str],
    redis_client: Redis,
    engines: list[Engine],
) -> None:
    publish(client, staff, BASE_EARNING)
    ids = [
        client.post("/api/v1/transactions", json=txn(f"L-{i}", 20_000), headers=telecom.headers).get_json()["id"]
        for i in range(3)
    ]
    settings = settings_for_tests(credit_lock_wait_seconds=1)
    engines.append(engine := make_engine(settings))
    rt = Runtime.from_settings(settings, engine)
    assert rt.credit_session_factory is not None and rt.credit_cool_off_seconds == 1
    rt.credit_cool_off_seconds = 3  # room for the checks below on a busy machine
    engines.append(rt.credit_session_factory.kw["bind"])
    with engine.connect() as conn:
        customer = conn.execute(text("SELECT customer_id FROM transactions WHERE id = :i"), {"i": ids[0]}).scalar_one()
    part = customer % rt.partitions

    # another client holds the rows (a worker host cut off inside its crediting transaction)
    with engine.connect() as blocker:
        blocker.execute(
            text("SELECT id FROM transactions WHERE id IN :ids FOR UPDATE").bindparams(
                bindparam("ids", ids, expanding=True)
            )
        )
        started = time.monotonic()
        run_worker(rt, burst=True)  # the partition's drain job: waits 1 s, leaves the batch, the job ends well
        assert time.monotonic() - started < 5
        assert sorted(int(x) for x in redis_client.lrange(inflight_key(part), 0, -1)) == ids
        assert redis_client.llen(pending_key(part)) == 0
        assert not FailedJobRegistry(queue_name(part), connection=redis_client).get_job_ids()
        assert 0 < redis_client.pttl(cool_off_key(part)) <= 3000
        assert 0 < redis_client.pttl(scheduled_key(part)) <= 3000  # ends with the pause: then a push asks again
        # while it cools off, a new transaction asks for no job: the worker is free for the other partitions
        late = client.post("/api/v1/transactions", json=txn("L-late", 20_000), headers=telecom.headers)
        ids.append(late.get_json()["id"])
        assert Queue(queue_name(part), connection=redis_client).count == 0
        blocker.rollback()
    with app.app_context():
        assert set(db.session.scalars(select(Transaction.status).where(Transaction.id.in_(ids)))) == {"queued"}
        db.session.remove()

    # the pause ends: the sweeper's pass wakes the partition, whose drain credits the batch first
    time.sleep(max(0.0, redis_client.pttl(cool_off_key(part)) / 1000) + 0.1)
    assert wake_orphaned(rt) == [part]
    run_worker(rt, burst=True)
    with app.app_context():
        rows = db.session.execute(
            select(LedgerEntry.transaction_id, LedgerEntry.points)
            .where(LedgerEntry.transaction_id.in_(ids))
            .order_by(LedgerEntry.id)
        ).all()
        db.session.remove()
    assert [tid for tid, _ in rows] == ids  # each once, in the customer's order
    assert redis_client.llen(inflight_key(part)) == 0


def _connection_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT CONNECTION_ID()")).scalar_one())


def _kill(engine: Engine, connection_id: int) -> None:
    """End one server session from another connection, as a MariaDB restart or a network cut would."""
    killer = make_engine(settings_for_tests())
    try:
        with killer.connect() as conn:
            conn.execute(text(f"KILL CONNECTION {connection_id}"))
    finally:
        killer.dispose()


def test_an_idle_pooled_connection_is_pinged_and_a_dead_one_replaced(
    engines: list[Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No ``pool_pre_ping`` round trip per request; a connection idle past the window is checked before use."""
    monkeypatch.setattr("campaigns.db.PING_AFTER_IDLE_SECONDS", 0.2)
    engines.append(engine := make_engine(settings_for_tests()))
    first = _connection_id(engine)
    assert _connection_id(engine) == first  # the pool hands the same connection back
    _kill(engine, first)
    time.sleep(0.3)
    replaced = _connection_id(engine)  # pinged at checkout, found dead, replaced: the caller never sees it
    assert replaced != first


def test_a_connection_used_within_the_window_is_not_pinged(
    engines: list[Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other side of the bargain: inside the window there is no ping, so a connection killed meanwhile fails
    the one statement that meets it, and SQLAlchemy then replaces the pool's connections."""
    monkeypatch.setattr("campaigns.db.PING_AFTER_IDLE_SECONDS", 3600)
    engines.append(engine := make_engine(settings_for_tests()))
    first = _connection_id(engine)
    _kill(engine, first)
    with pytest.raises(DBAPIError) as err:
        _connection_id(engine)
    assert err.value.connection_invalidated
    assert _connection_id(engine) != first
