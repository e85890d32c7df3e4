"""Workers killed mid-batch, Redis losing the queue, concurrent first transactions."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from rq.registry import StartedJobRegistry
from sqlalchemy import func, select

from campaigns.models import Customer, LedgerEntry, Transaction
from tests.helpers.api import publish, txn
from tests.helpers.database import ledger_ok
from tests.helpers.documents import BASE_EARNING
from webapp.extensions import db
from workers.queues import inflight_key, lock_key, pending_key, queue_name
from workers.sweeper import sweep

pytestmark = pytest.mark.slow  # fault injection: worker subprocesses killed mid-batch

ROOT = Path(__file__).resolve().parents[2]


def _counts(app):
    with app.app_context():
        processed = db.session.scalar(select(func.count()).where(Transaction.status == "processed"))
        entries = db.session.scalar(select(func.count()).select_from(LedgerEntry))
        points = db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.points), 0)))
        db.session.remove()
    return processed, entries, points


def _post_many(client, telecom, n=40):
    items = [txn(f"k-{i}", 20_000, phone="0912345678") for i in range(n)]
    resp = client.post("/api/v1/transactions/batch", json={"transactions": items}, headers=telecom.headers)
    assert resp.get_json()["accepted"] == n


def _crash(mode: str) -> int:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.integration.crashing_worker", mode],
        cwd=ROOT,
        env={**os.environ},
        capture_output=True,
        timeout=120,
    )
    return proc.returncode


def _credited_once_each(app, expected_points=2):
    """Every acknowledged transaction has exactly one earn entry, of exactly its points."""
    with app.app_context():
        rows = db.session.execute(
            select(Transaction.id, func.count(LedgerEntry.id), func.coalesce(func.sum(LedgerEntry.points), 0))
            .outerjoin(LedgerEntry, LedgerEntry.transaction_id == Transaction.id)
            .group_by(Transaction.id)
        ).all()
        db.session.remove()
    assert rows and all((n, pts) == (1, expected_points) for _, n, pts in rows), rows


# processed rows right after the kill: what the dead worker committed before dying
KILL_POINTS = {"mid-batch": 5, "before-commit": 0, "after-commit": 5, "after-ack": 10}


@pytest.mark.parametrize("mode", list(KILL_POINTS))
def test_worker_killed_mid_batch_credits_everything_exactly_once(app, client, telecom, staff, work, redis_client, mode):
    publish(client, staff, BASE_EARNING)
    _post_many(client, telecom)
    assert _crash(mode) == -9
    processed, _, _ = _counts(app)
    assert processed == KILL_POINTS[mode]
    part = _partition(app)
    inflight, pending = redis_client.llen(inflight_key(part)), redis_client.llen(pending_key(part))
    if mode == "after-ack":  # acknowledged batches left nothing in flight: only the 3rd, never credited
        assert (inflight, pending) == (5, 25)
        assert StartedJobRegistry(queue_name(part), connection=redis_client).get_job_ids()  # never marked done
    else:
        assert inflight == 5
    # the dead worker's partition lock expires (simulated), then the sweeper and a new worker recover
    for key in redis_client.keys("loyalty:lock:*"):
        redis_client.delete(key)
    sweep(app.extensions["loyalty.runtime"], older_than_seconds=0)
    work()
    processed, entries, points = _counts(app)
    assert (processed, entries, points) == (40, 40, 80)
    _credited_once_each(app)
    ledger_ok(app)


def test_in_flight_ids_are_recovered_by_the_next_drain_without_the_sweeper(
    app, client, telecom, staff, work, redis_client
):
    publish(client, staff, BASE_EARNING)
    _post_many(client, telecom, 12)
    assert _crash("after-commit") == -9
    redis_client.delete(lock_key(_partition(app)))
    # a new transaction for the same customer wakes the partition; its drainer finds the in-flight ids
    client.post("/api/v1/transactions", json=txn("wake", 20_000), headers=telecom.headers)
    work()
    assert _counts(app) == (13, 13, 26)
    ledger_ok(app)


def _partition(app):
    with app.app_context():
        cid = db.session.scalar(select(Customer.id))
        db.session.remove()
    return cid % app.extensions["loyalty.runtime"].partitions


def test_redis_flushed_before_crediting_is_recovered_by_the_sweeper(app, client, telecom, staff, work, redis_client):
    publish(client, staff, BASE_EARNING)
    _post_many(client, telecom, 25)
    redis_client.flushdb()
    work()  # nothing left in Redis; a burst worker sweeps only rows older than the timeout
    assert _counts(app)[0] == 0
    assert sweep(app.extensions["loyalty.runtime"], older_than_seconds=0) == 25
    work()
    assert _counts(app) == (25, 25, 50)
    ledger_ok(app)


def test_a_job_run_twice_credits_once(app, client, telecom, staff, work):
    publish(client, staff, BASE_EARNING)
    _post_many(client, telecom, 10)
    work()
    rt = app.extensions["loyalty.runtime"]
    with app.app_context():
        ids = list(db.session.scalars(select(Transaction.id)))
        db.session.remove()
    report = rt.credit(ids)
    assert report.processed == 0 and report.skipped == 10
    assert _counts(app) == (10, 10, 20)


def test_concurrent_first_transactions_create_one_customer(app, client, telecom):
    def post(i):
        c = app.test_client()
        body = txn(
            f"race-{i}",
            50_000,
            customer={"phone": "0977000111"} if i % 2 else {"phone": "+84977000111", "national_id": "079123456789"},
        )
        return c.post("/api/v1/transactions", json=body, headers=telecom.headers)

    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(post, range(24)))
    assert {r.status_code for r in responses} == {202}
    assert len({r.get_json()["customer_id"] for r in responses}) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Customer)) == 1
        db.session.remove()


def test_each_batch_is_acknowledged_by_the_move_that_takes_the_next_and_the_last_before_the_lock_goes(
    app, client, telecom, staff, redis_client
):
    """The in-flight list holds exactly the batch being credited: the previous one, committed, was deleted by the
    same script that moved this one in; the last is deleted before the partition lock is released."""
    import dataclasses

    from workers.drain import drain

    publish(client, staff, BASE_EARNING)
    _post_many(client, telecom, 12)
    part = _partition(app)
    rt = dataclasses.replace(app.extensions["loyalty.runtime"], batch_size=5)
    seen: list[list[int]] = []
    original = rt.credit

    def credit(ids):
        seen.append(sorted(int(x) for x in redis_client.lrange(inflight_key(part), 0, -1)))
        assert seen[-1] == sorted(ids)
        return original(ids)

    rt.credit = credit
    report = drain(rt, part)
    assert (report.batches, report.processed) == (3, 12)
    assert [len(batch) for batch in seen] == [5, 5, 2]
    assert redis_client.llen(inflight_key(part)) == 0 and redis_client.llen(pending_key(part)) == 0
    assert redis_client.get(lock_key(part)) is None
    assert _counts(app) == (12, 12, 24)
    ledger_ok(app)
