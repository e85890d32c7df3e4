"""One customer's transactions are credited in order whatever Redis loses; a killed drainer holds its
partition for seconds; a replay of a still-queued transaction is handed to the workers again.

Redis losing data silently (FLUSHDB, a restart without persistence, a failover to an empty replica)
fails nothing: the ids it held are gone, newer ones are dispatched and credited at once, and the older
ones come back through the sweeper. Each test delivers the same load to a second set of customers
without faults and compares points per transaction and balances, with three campaigns whose points
depend on the order: a base rate, a bonus on the first transaction with a provider, a bonus on the
third transaction of the day. Real MariaDB, Redis and RQ workers, as the other fault tests.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from campaigns.models import LedgerEntry, Transaction
from tests.conftest import BASE_EARNING, DB_URL, REDIS_URL, THIRD_TODAY, publish, run_worker, settings_for_tests, txn
from tests.helpers.documents import FIRST_WITH_PROVIDER
from tests.integration.test_faults import (
    ROOT,
    account,
    deployed_worker,
    points_by_ref,
    status_counts,
    wait_until,
)
from webapp import create_app
from webapp.extensions import db
from workers.drain import LOCK_SECONDS
from workers.queues import lock_key
from workers.sweeper import sweep

pytestmark = pytest.mark.slow  # real subprocesses / fault injection: left out of `bin/test --fast`

WHEN = (datetime.now(UTC) - timedelta(minutes=5)).replace(microsecond=0)


def publish_order_dependent(client: Any, staff: dict[str, str]) -> None:
    for doc in (BASE_EARNING, FIRST_WITH_PROVIDER, THIRD_TODAY):
        publish(client, staff, doc)


def out_of_order(app: Any) -> list[tuple[int, int, str]]:
    """(customer, transaction, what is wrong) for every credited transaction that overtook an older one
    of its customer: the older one still queued, or credited after it (a later first ledger entry)."""
    with app.app_context():
        rows = db.session.execute(
            select(Transaction.customer_id, Transaction.id, Transaction.status).order_by(Transaction.id)
        ).all()
        first_entry = dict(
            db.session.execute(
                select(LedgerEntry.transaction_id, func.min(LedgerEntry.id))
                .where(LedgerEntry.kind == "earn")
                .group_by(LedgerEntry.transaction_id)
            ).all()
        )
        db.session.remove()
    by_customer: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for cid, tid, status in rows:
        by_customer[cid].append((tid, status))
    wrong = []
    for cid, txns in by_customer.items():
        for (older, old_status), (newer, new_status) in itertools.combinations(txns, 2):
            if new_status != "processed":
                continue
            if old_status == "queued":
                wrong.append((cid, newer, f"credited while {older} is still queued"))
            elif first_entry.get(older, 0) > first_entry.get(newer, 0):
                wrong.append((cid, newer, f"credited before {older}"))
    return wrong


def post_single(client: Any, headers: dict[str, str], body: dict[str, Any]) -> int:
    resp = client.post("/api/v1/transactions", json=body, headers=headers)
    assert resp.status_code in (200, 202), resp.get_json()
    return resp.get_json()["id"]


def post_batch(client: Any, headers: dict[str, str], bodies: list[dict[str, Any]]) -> list[int]:
    resp = client.post("/api/v1/transactions/batch", json={"transactions": bodies}, headers=headers)
    assert resp.status_code in (200, 202), resp.get_json()
    assert all(r["status"] in ("accepted", "duplicate") for r in resp.get_json()["results"]), resp.get_json()
    return [r["id"] for r in resp.get_json()["results"]]


def import_file(client: Any, headers: dict[str, str], bodies: list[dict[str, Any]]) -> None:
    """The same transactions as a CSV file through the import endpoint (small: runs in the request)."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["provider_txn_id", "phone", "amount", "currency", "category", "channel", "occurred_at"])
    for b in bodies:
        out.writerow(
            [b["provider_txn_id"], b["customer"]["phone"], b["amount"], "VND", b["category"], "app", b["occurred_at"]]
        )
    resp = client.post("/api/v1/imports", data=buf.getvalue(), headers=headers)
    assert resp.status_code in (200, 201, 202) and resp.get_json()["accepted"] == len(bodies), resp.get_json()


def body(ref: str, phone: str, amount: int, minute: int) -> dict[str, Any]:
    """The same occurred_at for the faulted and the reference delivery of one planned transaction."""
    return txn(ref, amount, phone=phone, occurred_at=(WHEN + timedelta(seconds=minute)).isoformat())


def finish_and_compare(
    app: Any,
    client: Any,
    staff: dict[str, str],
    got: dict[str, int],
    want: dict[str, int],
    phones: list[str],
    ref_phones: list[str],
) -> None:
    """Let the sweeper bring back what Redis lost, then: everything credited once, in each customer's
    order, with the reference's points per transaction and the reference's balances."""
    sweep(app.extensions["loyalty.runtime"], older_than_seconds=0)
    run_worker(app)
    assert set(status_counts(app)) == {"processed"}
    assert out_of_order(app) == []
    assert points_by_ref(client, staff, got) == points_by_ref(client, staff, want)
    assert [account(client, staff, p) for p in phones] == [account(client, staff, p) for p in ref_phones]


# --------------------------------------------------------------------------- FLUSHDB at chosen points


PLAN = [("telecom", 150_000), ("telecom", 370_000), ("shop", 20_000), ("telecom", 90_000)]


def test_a_flush_between_two_transactions_of_one_customer_keeps_their_order(
    app, client, telecom, shop, staff, work, redis_client
):
    publish_order_dependent(client, staff)
    keys = {"telecom": telecom.headers, "shop": shop.headers}
    want = {str(k): post_single(client, keys[p], body(f"r{k}", "0915000001", a, k)) for k, (p, a) in enumerate(PLAN)}
    work()
    got = {}
    for k, (p, a) in enumerate(PLAN):
        got[str(k)] = post_single(client, keys[p], body(f"f{k}", "0915000002", a, k))
        if k == 0:
            redis_client.flushdb()  # the first one's id is gone from its partition's list
    work()
    assert out_of_order(app) == []  # nothing overtook the first one, stranded until the sweeper's pass
    finish_and_compare(app, client, staff, got, want, ["0915000002"], ["0915000001"])


def test_a_flush_while_a_batch_is_credited_keeps_the_order_of_what_follows(
    app, client, telecom, shop, staff, work, redis_client, monkeypatch
):
    """The worker has taken the first two of six ids when Redis is flushed: the other four are lost from
    the queue, and a seventh transaction of the same customer arrives."""
    publish_order_dependent(client, staff)
    rt = app.extensions["loyalty.runtime"]
    monkeypatch.setattr(rt, "batch_size", 2)
    plan = [*PLAN, ("shop", 600_000), ("telecom", 45_000), ("shop", 1_230_000)]
    keys = {"telecom": telecom.headers, "shop": shop.headers}

    def deliver(tag: str, phone: str) -> dict[str, int]:
        ids = {}
        for provider in ("telecom", "shop"):  # one batch per provider, then the last one alone
            mine = [k for k, (p, _) in enumerate(plan[:-1]) if p == provider]
            got = post_batch(client, keys[provider], [body(f"{tag}{k}", phone, plan[k][1], k) for k in mine])
            ids.update({str(k): i for k, i in zip(mine, got, strict=True)})
        k = len(plan) - 1
        ids[str(k)] = post_single(client, keys[plan[k][0]], body(f"{tag}{k}", phone, plan[k][1], k))
        return ids

    want = deliver("r", "0915000011")
    work()
    original, calls = rt.credit, []

    def flush_during_the_first_batch(ids: list[int]) -> Any:
        calls.append(ids)
        if len(calls) == 1:
            redis_client.flushdb()
        return original(ids)

    monkeypatch.setattr(rt, "credit", flush_during_the_first_batch)
    got = {}
    for provider in ("telecom", "shop"):
        mine = [k for k, (p, _) in enumerate(plan[:-1]) if p == provider]
        ids = post_batch(client, keys[provider], [body(f"f{k}", "0915000012", plan[k][1], k) for k in mine])
        got.update({str(k): i for k, i in zip(mine, ids, strict=True)})
    work()
    assert status_counts(app)["queued"] == 4  # the first batch was credited; the rest is gone from Redis
    k = len(plan) - 1
    got[str(k)] = post_single(client, keys[plan[k][0]], body(f"f{k}", "0915000012", plan[k][1], k))
    work()
    assert out_of_order(app) == []
    monkeypatch.setattr(rt, "credit", original)
    finish_and_compare(app, client, staff, got, want, ["0915000012"], ["0915000011"])


# --------------------------------------------------------------------------- a real Redis restarted empty


def test_redis_restarted_empty_while_transactions_keep_arriving_keeps_every_customers_order(
    app, client, telecom, shop, staff, private_redis
):
    """A private redis-server (no persistence) SIGKILLed and started again, empty, between two requests
    of a running load: ids waiting in it are lost; what follows arrives as single POSTs, batches and a
    file import; the sweeper brings back the rest. Six customers, nine transactions each."""
    publish_order_dependent(client, staff)
    faulty = create_app(settings_for_tests(redis_url=private_redis.url), TESTING=True)
    web = faulty.test_client()
    keys = {"telecom": telecom.headers, "shop": shop.headers}
    providers = ["telecom", "shop", "telecom", "telecom", "shop", "telecom", "shop", "telecom", "telecom"]
    amounts = [150_000, 20_000, 370_000, 90_000, 600_000, 45_000, 1_230_000, 250_000, 80_000]

    def phone(tag: str, c: int) -> str:
        return f"{'0916' if tag == 'f' else '0917'}0000{c:02d}"

    def deliver(c_web: Any, tag: str, steps: list[tuple[str, range]], ids: dict[str, int]) -> None:
        """Each step sends transactions ``range`` of every customer: singles, a batch per provider, or a file."""
        for how, ks in steps:
            for c in range(6):
                bodies = {k: body(f"{tag}{c}-{k}", phone(tag, c), amounts[k], k) for k in ks}
                if how == "single":
                    for k, b in bodies.items():
                        ids[f"{c}-{k}"] = post_single(c_web, keys[providers[k]], b)
                elif how == "batch":
                    for p in ("telecom", "shop"):
                        mine = [k for k in ks if providers[k] == p]
                        for k, i in zip(mine, post_batch(c_web, keys[p], [bodies[k] for k in mine]), strict=True):
                            ids[f"{c}-{k}"] = i
                else:  # a file per provider; its ids are looked up afterwards
                    for p in ("telecom", "shop"):
                        if mine := [bodies[k] for k in ks if providers[k] == p]:
                            import_file(c_web, keys[p], mine)

    def ids_of(tag: str) -> dict[str, int]:
        with app.app_context():
            rows = db.session.execute(
                select(Transaction.provider_txn_id, Transaction.id).where(Transaction.provider_txn_id.like(f"{tag}%"))
            ).all()
            db.session.remove()
        return {ref[1:]: i for ref, i in rows}

    steps = [("single", range(0, 2)), ("batch", range(2, 5)), ("single", range(5, 7)), ("file", range(7, 9))]
    deliver(client, "r", steps, {})
    run_worker(app)
    want = ids_of("r")

    got: dict[str, int] = {}
    deliver(web, "f", steps[:1], got)
    run_worker(faulty)  # the first two credited; aggregates copied into the private Redis
    deliver(web, "f", steps[1:2], got)  # waiting in Redis when it dies
    private_redis.kill()
    private_redis.start()  # empty: queues and aggregate copies lost, no dispatch ever failed
    deliver(web, "f", steps[2:], got)
    run_worker(faulty)
    assert out_of_order(app) == []
    assert got.items() <= ids_of("f").items()
    finish_and_compare(
        faulty, client, staff, ids_of("f"), want, [phone("f", c) for c in range(6)], [phone("r", c) for c in range(6)]
    )


# --------------------------------------------------------------------------- random flush points


def test_flushes_at_random_points_never_change_points_or_order(app, client, telecom, shop, staff, work, redis_client):
    """Property (hypothesis): one customer's transactions as singles and batches, with FLUSHDB, worker
    runs and sweeper passes (some partial) at random points. After every worker run no transaction is
    credited ahead of an older one; at the end points and balance equal an undisturbed delivery."""
    publish_order_dependent(client, staff)
    keys = {"telecom": telecom.headers, "shop": shop.headers}
    example = itertools.count()
    rt = app.extensions["loyalty.runtime"]

    @settings(
        max_examples=int(os.environ.get("LOYALTY_ORDER_EXAMPLES", "10")),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(rnd=st.randoms(use_true_random=False))
    def flushes(rnd: Any) -> None:
        k = next(example)
        n = rnd.randint(3, 7)
        plan = [(rnd.choice(["telecom", "shop"]), rnd.choice([20_000, 150_000, 370_000, 600_000])) for _ in range(n)]
        ref_phone, phone = f"09180{k:05d}", f"09190{k:05d}"
        want = {
            str(i): post_single(client, keys[p], body(f"r{k}-{i}", ref_phone, a, i)) for i, (p, a) in enumerate(plan)
        }
        work()
        ops: list[tuple[str, Any]] = []
        i = 0
        while i < n:  # consecutive transactions of one provider may go as one batch
            size = 1
            while rnd.random() < 0.4 and i + size < n and plan[i + size][0] == plan[i][0]:
                size += 1
            ops.append(("send", list(range(i, i + size))))
            i += size
        for _ in range(rnd.randint(1, 3)):
            ops.insert(rnd.randint(0, len(ops)), ("flush", None))
        for _ in range(rnd.randint(1, 3)):
            ops.insert(rnd.randint(0, len(ops)), ("work", None))
        if rnd.random() < 0.5:
            ops.insert(rnd.randint(0, len(ops)), ("sweep", rnd.randint(1, n)))
        got: dict[str, int] = {}
        for op, arg in ops:
            if op == "flush":
                redis_client.flushdb()
            elif op == "work":
                work()
                assert out_of_order(app) == [], ops
            elif op == "sweep":
                sweep(rt, older_than_seconds=0, limit=arg)
            elif len(arg) == 1:
                got[str(arg[0])] = post_single(
                    client, keys[plan[arg[0]][0]], body(f"f{k}-{arg[0]}", phone, plan[arg[0]][1], arg[0])
                )
            else:
                bodies = [body(f"f{k}-{j}", phone, plan[j][1], j) for j in arg]
                got.update(
                    {str(j): t for j, t in zip(arg, post_batch(client, keys[plan[arg[0]][0]], bodies), strict=True)}
                )
        finish_and_compare(app, client, staff, got, want, [phone], [ref_phone])

    flushes()


# --------------------------------------------------------------------------- replays and killed workers


def test_a_replay_of_a_still_queued_transaction_hands_it_to_the_workers_again(
    app, client, telecom, staff, work, redis_client
):
    """The web process died between the commit and the dispatch (here: Redis lost the ids): the
    client's re-send gets the original with 200 and is credited now, not after the sweeper's timeout."""
    publish_order_dependent(client, staff)
    h = telecom.headers
    single = body("q1", "0915000021", 150_000, 0)
    batch = [body("q2", "0915000021", 370_000, 1), body("q3", "0915000022", 90_000, 2)]
    first = post_single(client, h, single)
    batch_ids = post_batch(client, h, batch)
    redis_client.flushdb()
    work()
    assert status_counts(app) == {"queued": 3}  # nothing left to tell the workers (a burst run sweeps only old rows)
    resp = client.post("/api/v1/transactions", json=single, headers=h)
    assert resp.status_code == 200 and resp.get_json()["id"] == first and resp.get_json()["status"] == "queued"
    again = client.post("/api/v1/transactions/batch", json={"transactions": batch}, headers=h)
    assert again.status_code == 200 and [r["id"] for r in again.get_json()["results"]] == batch_ids
    assert {r["status"] for r in again.get_json()["results"]} == {"duplicate"}
    work()
    assert status_counts(app) == {"processed": 3}
    assert out_of_order(app) == []


def test_a_killed_drainer_holds_its_partition_for_seconds(app, client, telecom, staff, tmp_path, redis_client):
    """SIGKILL mid-drain (2 of a batch's 5 transactions evaluated): its lock is no longer renewed and
    expires within LOCK_SECONDS of the kill, and a worker started at the kill credits the partition
    (it used to wait out a 120 s lock). Both times are printed (``-s``)."""
    publish(client, staff, BASE_EARNING)
    items = [txn(f"k-{i}", 20_000) for i in range(40)]
    resp = client.post("/api/v1/transactions/batch", json={"transactions": items}, headers=telecom.headers)
    assert resp.get_json()["accepted"] == 40
    crash = subprocess.run(
        [sys.executable, "-m", "tests.integration.crashing_worker", "mid-batch"],
        cwd=ROOT,
        env={**os.environ},
        capture_output=True,
        timeout=120,
    )
    killed = time.monotonic()
    assert crash.returncode == -9
    assert redis_client.keys("loyalty:lock:*")  # the dead holder's lock is still there
    assert status_counts(app) == {"processed": 5, "queued": 35}
    freed: list[float] = []

    def credited() -> bool:
        if not freed and not redis_client.keys("loyalty:lock:*"):
            freed.append(time.monotonic() - killed)
        return status_counts(app) == {"processed": 40}

    with deployed_worker(DB_URL, REDIS_URL, tmp_path / "worker.log") as worker:
        wait_until(credited, 60, "another worker to credit the partition")
        recovery = time.monotonic() - killed
        assert worker.poll() is None
    print(
        f"\nkilled drainer: lock free {freed[0]:.1f} s and partition credited {recovery:.1f} s after the kill"
        f" (lock TTL {LOCK_SECONDS:g} s; the worker process was started at the kill)"
    )
    assert freed[0] <= LOCK_SECONDS + 1, freed
    assert recovery < LOCK_SECONDS + 20, recovery
    assert not any(redis_client.exists(lock_key(p)) for p in range(4))
