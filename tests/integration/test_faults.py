"""Faults of the services around the app, and deliveries in any order.

Each test runs against the real MariaDB, Redis and RQ workers; the ``clean``
fixture checks the ledger invariants at teardown (see tests/conftest.py).

- Redis killed (SIGKILL) and restarted empty in the middle of ingestion.
- MariaDB cut and restored behind a TCP proxy, with the same web app object and
  the same long-running worker process before, during and after the cut.
- Duplicate, re-sent and shuffled deliveries of one customer's transactions and
  refunds (hypothesis), against an in-order single delivery.
- Partition queues served in turn under sustained load (none starves).
- The invariant checker itself: it reports each kind of broken books.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, get_current_job
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from campaigns.accounts.ledger import check_invariants
from campaigns.models import Transaction
from tests.helpers.api import publish, run_worker, txn
from tests.helpers.documents import BASE_EARNING, THIRD_TODAY
from tests.helpers.services import DB_URL, REDIS_URL, settings_for_tests
from webapp import create_app
from webapp.extensions import db
from workers.queues import queue_name

pytestmark = pytest.mark.slow  # fault injection: Redis killed, MariaDB cut behind a proxy, hypothesis deliveries

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def status_counts(app: Any) -> dict[str, int]:
    with app.app_context():
        rows = db.session.execute(select(Transaction.status, func.count()).group_by(Transaction.status)).all()
        db.session.remove()
    return {s: n for s, n in rows}


def points_by_ref(client: Any, headers: dict[str, str], ids: dict[str, int]) -> dict[str, tuple[str, int]]:
    out = {}
    for ref, tid in ids.items():
        view = client.get(f"/api/v1/transactions/{tid}", headers=headers).get_json()
        out[ref] = (view["status"], view["points"])
    return out


def account(client: Any, headers: dict[str, str], phone: str) -> tuple[int, int]:
    c = client.get(f"/api/v1/customers/lookup?phone={phone}", headers=headers).get_json()
    return c["balance"], c["debt"]


# --------------------------------------------------------------------------- Redis killed and restarted


class RedisServer:
    """A private redis-server on a free port that a test may SIGKILL and start again, empty
    (no persistence, as the queues' Redis may well be run)."""

    def __init__(self, directory: str) -> None:
        self.port = free_port()
        self.directory = directory
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(
            [*argv, "--dir", self.directory], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        probe = Redis(port=self.port, socket_connect_timeout=0.5)

        def up() -> bool:
            try:
                return bool(probe.ping())
            except RedisError:  # connection refused while it starts
                return False

        wait_until(up, 15, "the private redis-server")
        probe.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)


def _probe(name: str, points: int, condition: dict[str, Any]) -> dict[str, Any]:
    """A campaign that fires only on a customer's 7th transaction of the day, so its points read the
    aggregates exactly as the worker saw them, whatever order the first six were credited in."""
    return {
        "name": name,
        "priority": 10,
        "rules": [
            {
                "name": name,
                "conditions": {"all": [{"name": "transactions_today", "operator": "equal_to", "value": 6}, condition]},
                "actions": [{"name": "award_points", "params": {"points": points}}],
            }
        ],
    }


PROBES = [
    _probe("7th, two providers", 40, {"name": "providers_used_365d", "operator": "equal_to", "value": 2}),
    _probe(
        "7th, spent 1M today", 7, {"name": "spend_today", "operator": "greater_than_or_equal_to", "value": 1_000_000}
    ),
    _probe("7th, 100+ points", 3, {"name": "points_365d", "operator": "greater_than_or_equal_to", "value": 100}),
]
PROVIDERS = ["telecom", "telecom", "shop", "telecom", "shop", "shop", "telecom"]
AMOUNTS_7 = [100_000, 250_000, 100_000, 180_000, 90_000, 300_000, 50_000]


def _redis_lost_mid_ingestion(app, client, keys, staff, redis: RedisServer, probe: bool):
    """Six transactions for each of three customers: two credited, then Redis killed (SIGKILL) while
    three more are acknowledged (singles and a batch), then Redis restarted empty and one more sent;
    the workers' periodic passes recover. With ``probe`` Redis is also flushed before a 7th
    transaction. The same traffic for three other customers, in order and without faults, is the
    reference. Returns (faulted, reference) per-transaction (status, points) and (balance, debt) lists."""
    faulty = create_app(settings_for_tests(redis_url=redis.url, sweep_after_seconds=0), TESTING=True)
    web = faulty.test_client()
    ids: dict[str, int] = {}

    def post(c: Any, i: int, prefix: str, phones: list[str]) -> None:
        for k, phone in enumerate(phones):
            ref = f"{prefix}{k}-{i}"
            body = txn(ref, AMOUNTS_7[i], phone=phone)
            resp = c.post("/api/v1/transactions", json=body, headers=keys[PROVIDERS[i]].headers)
            assert resp.status_code == 202, resp.get_json()  # acknowledged: it is in MariaDB
            ids[ref] = resp.get_json()["id"]

    phones = [f"09130000{c:02d}" for c in range(3)]
    for i in (0, 1):
        post(web, i, "f", phones)
    run_worker(faulty)  # credited; the aggregate copies now live in the private Redis
    redis.kill()
    for i in (2, 3):  # Redis is gone: the API still acknowledges, having stored the rows
        post(web, i, "f", phones)
    items = [txn(f"f{k}-4", AMOUNTS_7[4], phone=p) for k, p in enumerate(phones)]
    resp = web.post("/api/v1/transactions/batch", json={"transactions": items}, headers=keys["shop"].headers)
    assert resp.status_code == 202 and resp.get_json()["accepted"] == 3
    ids.update({f"f{k}-4": r["id"] for k, r in enumerate(resp.get_json()["results"])})
    redis.start()  # back, empty: queues, in-flight lists and aggregate copies are lost
    post(web, 5, "f", phones)
    # Two periodic passes, as a running worker makes them every interval: the first only wakes the
    # partitions that still have ids waiting (the new POSTs), the next re-dispatches the stranded rows
    # once those lists are empty. Aggregates missing from the new Redis are rebuilt from MariaDB.
    run_worker(faulty)
    time.sleep(5.2)  # the next interval: a periodic pass runs at most once per 5 s cluster-wide
    run_worker(faulty)
    assert status_counts(app) == {"processed": 18}
    if probe:
        Redis.from_url(redis.url).flushdb()
        post(web, 6, "f", phones)
        run_worker(faulty)

    ref_phones = [f"09140000{c:02d}" for c in range(3)]
    for i in range(7 if probe else 6):
        post(client, i, "r", ref_phones)
    run_worker(app)
    assert set(status_counts(app)) == {"processed"}
    got = points_by_ref(client, staff, {r[1:]: t for r, t in ids.items() if r.startswith("f")})
    want = points_by_ref(client, staff, {r[1:]: t for r, t in ids.items() if r.startswith("r")})
    accounts = [account(client, staff, p) for p in phones], [account(client, staff, p) for p in ref_phones]
    return got, want, accounts


def test_redis_killed_restarted_and_flushed_during_ingestion_loses_nothing(
    app, client, telecom, shop, staff, private_redis
):
    """Exact results: every transaction credited once with the points of the fault-free run, and the
    7th transaction, credited after a flush, reads aggregates rebuilt from MariaDB equal to the reference's."""
    publish(client, staff, BASE_EARNING)
    for doc in PROBES:
        publish(client, staff, doc)
    keys = {"telecom": telecom, "shop": shop}
    got, want, (accounts, ref_accounts) = _redis_lost_mid_ingestion(app, client, keys, staff, private_redis, True)
    assert got == want
    assert {ref: pts for ref, (_, pts) in got.items() if ref.endswith("-6")} == {"0-6": 55, "1-6": 55, "2-6": 55}
    assert accounts == ref_accounts


def test_redis_loss_keeps_one_customers_transactions_in_order(app, client, telecom, shop, staff, private_redis):
    publish(client, staff, BASE_EARNING)
    publish(client, staff, THIRD_TODAY)
    keys = {"telecom": telecom, "shop": shop}
    got, want, (accounts, ref_accounts) = _redis_lost_mid_ingestion(app, client, keys, staff, private_redis, False)
    assert accounts == ref_accounts
    assert got == want


def test_a_running_worker_rides_out_a_redis_restart_and_credits_everything(
    app, client, telecom, staff, private_redis, tmp_path
):
    """The deployed worker process stays up while its Redis is killed and restarted empty, and credits
    what was acknowledged before, during and after, with no restart or manual step."""
    publish(client, staff, BASE_EARNING)
    web = create_app(settings_for_tests(redis_url=private_redis.url), TESTING=True).test_client()

    def post(refs: range) -> None:
        for i in refs:
            resp = web.post("/api/v1/transactions", json=txn(f"w{i}"), headers=telecom.headers)
            assert resp.status_code == 202, resp.get_json()

    with deployed_worker(DB_URL, private_redis.url, tmp_path / "worker.log") as worker:
        post(range(5))
        wait_until(lambda: status_counts(app) == {"processed": 5}, 90, "the worker to credit the first five")
        private_redis.kill()
        post(range(5, 10))  # acknowledged while Redis is gone
        time.sleep(2)
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
        private_redis.start()
        post(range(10, 15))
        wait_until(lambda: status_counts(app) == {"processed": 15}, 90, "the same worker to credit everything")
        assert worker.poll() is None
    assert account(client, telecom.headers, "0912345678") == (15 * 15, 0)


def test_a_worker_over_its_memory_limit_restarts_between_jobs_and_loses_nothing(app, client, telecom, staff, tmp_path):
    """With a limit every process exceeds, the worker restarts itself after each job (same pid, a fresh
    process image) and still credits everything exactly once."""
    publish(client, staff, BASE_EARNING)
    log = tmp_path / "worker.log"
    with deployed_worker(DB_URL, REDIS_URL, log, LOYALTY_WORKER_MAX_MEMORY_MB="1") as worker:
        for i in range(3):
            assert client.post("/api/v1/transactions", json=txn(f"m{i}"), headers=telecom.headers).status_code == 202
        wait_until(lambda: status_counts(app) == {"processed": 3}, 90, "the worker to credit the first three")
        # a drain lingers a moment for more ids before its job ends: post the rest once the job is over
        wait_until(lambda: "over its limit of 1 MB: restarting" in log.read_text(), 30, "the first job to end")
        for i in range(3, 6):
            assert client.post("/api/v1/transactions", json=txn(f"m{i}"), headers=telecom.headers).status_code == 202
        wait_until(lambda: status_counts(app) == {"processed": 6}, 90, "the restarted worker to credit the rest")
        # the second drain restarts the worker once its linger ends (no sender job follows one that wrote no message)
        wait_until(
            lambda: log.read_text().count("over its limit of 1 MB: restarting") >= 2, 30, "the second job to end"
        )
        assert worker.poll() is None, log.read_text()[-3000:]
    assert account(client, telecom.headers, "0912345678") == (6 * 15, 0)


# --------------------------------------------------------------------------- MariaDB cut and restored


class TcpProxy:
    """Forwards 127.0.0.1:<port> to MariaDB; ``cut`` refuses new connections and drops the open ones
    (the database host gone), ``restore`` listens again on the same port."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.listener: socket.socket | None = None
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                down, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                up = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                down.close()
                continue
            up.settimeout(None)
            with self.lock:
                self.open.update((down, up))
            for a, b in ((down, up), (up, down)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            with self.lock:
                self.open.discard(src)
                self.open.discard(dst)

    def cut(self) -> None:
        assert self.listener is not None
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone would not
        self.listener.close()
        with self.lock:
            live = list(self.open)
        for s in live:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def restore(self) -> None:
        self.start()


@pytest.fixture()
def db_proxy() -> Iterator[TcpProxy]:
    url = make_url(DB_URL)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 3306))
    proxy.start()
    yield proxy
    with contextlib.suppress(OSError):
        proxy.cut()


@contextlib.contextmanager
def deployed_worker(
    database_url: str, redis_url: str, log: Path, **extra_env: str
) -> Iterator[subprocess.Popen[bytes]]:
    """``flask worker`` as deployed: not burst, with its periodic sweeper thread (every second here)."""
    env = {
        **os.environ,
        "LOYALTY_DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LOYALTY_PARTITIONS": "4",  # as settings_for_tests: the API and the worker agree on partitions
        "LOYALTY_SWEEP_AFTER_SECONDS": "1",
        "LOYALTY_SWEEP_INTERVAL_SECONDS": "1",
        "LOYALTY_LOG_LEVEL": "WARNING",
        **extra_env,
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield proc
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture()
def long_running_worker(db_proxy: TcpProxy, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A deployed worker reaching MariaDB through the proxy."""
    with deployed_worker(proxied_url(db_proxy), REDIS_URL, tmp_path / "worker.log") as proc:
        yield proc


def proxied_url(proxy: TcpProxy) -> str:
    return make_url(DB_URL).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


def test_database_cut_503_then_everything_resumes_without_a_manual_step(
    app, client, telecom, staff, db_proxy, long_running_worker
):
    publish(client, staff, BASE_EARNING)
    web = create_app(settings_for_tests(database_url=proxied_url(db_proxy)), TESTING=True).test_client()
    assert web.post("/api/v1/transactions", json=txn("up-1"), headers=telecom.headers).status_code == 202
    wait_until(lambda: status_counts(app).get("processed") == 1, 90, "the worker to credit through the proxy")

    db_proxy.cut()
    for ref in ("down-1", "down-2"):
        resp = web.post("/api/v1/transactions", json=txn(ref), headers=telecom.headers)
        assert resp.status_code == 503, resp.get_json()
        assert resp.headers["Retry-After"] == "5" and resp.get_json()["error"]["code"] == "unavailable"
    batch = {"transactions": [txn("down-3"), txn("down-4")]}
    resp = web.post("/api/v1/transactions/batch", json=batch, headers=telecom.headers)
    assert resp.status_code == 503 and resp.headers["Retry-After"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(Transaction.provider_txn_id.like("down-%"))) == 0
        db.session.remove()
    # another web process still reaches MariaDB and acknowledges; the worker cannot credit meanwhile
    for i in range(5):
        assert client.post("/api/v1/transactions", json=txn(f"ack-{i}"), headers=telecom.headers).status_code == 202
    time.sleep(3)
    assert status_counts(app) == {"processed": 1, "queued": 5}
    assert long_running_worker.poll() is None  # the worker survives the outage

    db_proxy.restore()
    # the same app object answers again; "down-1" was never stored, so it is accepted now (202, not 200)
    resp = web.post("/api/v1/transactions", json=txn("down-1"), headers=telecom.headers)
    assert resp.status_code == 202, resp.get_json()
    resp = web.post("/api/v1/transactions/batch", json=batch, headers=telecom.headers)
    assert resp.status_code == 202 and resp.get_json()["accepted"] == 2
    wait_until(lambda: status_counts(app) == {"processed": 9}, 90, "the same worker to credit the backlog")
    assert account(client, telecom.headers, "0912345678") == (9 * 15, 0)


# --------------------------------------------------------------------------- duplicates and disorder

BONUS = {
    "name": "Big basket bonus",
    "priority": 20,
    "rules": [
        {
            "name": "500k or more",
            "conditions": {"all": [{"name": "amount", "operator": "greater_than_or_equal_to", "value": 500_000}]},
            "actions": [{"name": "award_points", "params": {"points": 25}}],
        }
    ],
}
AMOUNTS = [20_000, 150_000, 370_000, 600_000, 1_230_000]


def test_two_partial_refunds_before_the_credit_claw_back_as_much_as_after_it(app, client, telecom, staff, work):
    publish(client, staff, BASE_EARNING)
    h = telecom.headers
    refunds = [{"amount": 75_000, "reversal_id": "B"}, {"amount": 37_500, "reversal_id": "A"}]
    early = client.post("/api/v1/transactions", json=txn("early", 150_000, phone="0913000001"), headers=h)
    for body in refunds:  # both arrive before the credit: pending
        resp = client.post(f"/api/v1/transactions/{early.get_json()['id']}/reversal", json=body, headers=h)
        assert resp.status_code == 202
    work()
    late = client.post("/api/v1/transactions", json=txn("late", 150_000, phone="0913000002"), headers=h)
    work()
    for body in refunds:  # the same refunds after the credit: applied at once
        resp = client.post(f"/api/v1/transactions/{late.get_json()['id']}/reversal", json=body, headers=h)
        assert resp.status_code == 201
    got = points_by_ref(client, h, {"early": early.get_json()["id"], "late": late.get_json()["id"]})
    assert got["late"] == ("processed", 4)  # 15 x (1 - 112,500 / 150,000) = 3.75, never more clawed than earned
    assert got["early"] == got["late"]


def test_duplicate_and_out_of_order_deliveries_end_in_the_in_order_balances(app, client, telecom, staff, work):
    """Transactions single or batched, replayed, batches re-sent, refunds (full and partial, with and
    without reversal ids, some arriving before their transaction is credited), all shuffled: each
    customer ends with the balance, debt and per-transaction points of an in-order single delivery."""
    publish(client, staff, BASE_EARNING)
    publish(client, staff, BONUS)
    example = itertools.count()
    h = telecom.headers

    def post_single(body: dict[str, Any]) -> int:
        resp = client.post("/api/v1/transactions", json=body, headers=h)
        assert resp.status_code in (200, 202), resp.get_json()
        return resp.get_json()["id"]

    def reverse(tid: int, rev: dict[str, Any], replay: bool) -> None:
        resp = client.post(f"/api/v1/transactions/{tid}/reversal", json=rev, headers=h)
        assert resp.status_code in ((200,) if replay else (201, 202)), (rev, resp.get_json())

    @settings(
        max_examples=int(os.environ.get("LOYALTY_DELIVERY_EXAMPLES", "15")),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(rnd=st.randoms(use_true_random=False))
    def deliveries(rnd: Any) -> None:
        k = next(example)
        n = rnd.randint(2, 6)
        amounts = [rnd.choice(AMOUNTS) for _ in range(n)]
        refunds: list[tuple[int, dict[str, Any]]] = []  # (transaction index, reversal body) in plan order
        for i, amount in enumerate(amounts):
            kind = rnd.choice(["none", "none", "full", "partial", "two-partials"])
            if kind == "full":
                refunds.append((i, {"reversal_id": f"R{i}"}))
            elif kind == "partial":
                refunds.append((i, {"amount": amount // 3, "reversal_id": f"P{i}"}))
            elif kind == "two-partials":
                refunds.append((i, {"amount": amount // 4, "reversal_id": f"A{i}"}))
                refunds.append((i, {"amount": amount // 2, "reversal_id": f"B{i}"}))

        def bodies(tag: str) -> list[dict[str, Any]]:
            phone = f"{'0935' if tag == 'o' else '0936'}{k:06d}"  # a fresh customer per example and delivery
            return [txn(f"{tag}{k}-{i}", a, phone=phone) for i, a in enumerate(amounts)]

        # reference: in order, each delivered once, credited before its refunds
        ref_ids = [post_single(b) for b in bodies("o")]
        work()
        for i, rev in refunds:
            reverse(ref_ids[i], rev, replay=False)
        work()

        # faulted: groups (single or batch) shuffled, replays and re-sent batches, refunds as soon as
        # their transaction has an id, crediting at random moments
        items = bodies("x")
        order = list(range(n))
        rnd.shuffle(order)
        groups: list[list[int]] = []
        while order:
            size = rnd.choice([1, 1, 2, 3])
            groups.append(order[:size])
            order = order[size:]
        ops: list[tuple[str, Any]] = [("send", g) for g in groups]
        for g in groups:
            for _ in range(rnd.choice([0, 0, 1, 2])):
                ops.insert(rnd.randint(ops.index(("send", g)) + 1, len(ops)), ("send", g))
        for i, rev in refunds:
            first = next(p for p, (op, g) in enumerate(ops) if op == "send" and i in g)
            ops.insert(rnd.randint(first + 1, len(ops)), ("refund", (i, rev)))
            if "reversal_id" in rev and rnd.random() < 0.5:
                last = max(p for p, (op, arg) in enumerate(ops) if op == "refund" and arg == (i, rev))
                ops.insert(rnd.randint(last + 1, len(ops)), ("refund", (i, rev)))
        for _ in range(rnd.randint(0, 3)):
            ops.insert(rnd.randint(0, len(ops)), ("work", None))
        ids: dict[int, int] = {}
        refunded: set[tuple[int, str]] = set()
        for op, arg in ops:
            if op == "work":
                work()
            elif op == "send" and len(arg) == 1:
                tid = post_single(items[arg[0]])
                assert ids.setdefault(arg[0], tid) == tid
            elif op == "send":
                batch = {"transactions": [items[i] for i in arg]}
                resp = client.post("/api/v1/transactions/batch", json=batch, headers=h)
                assert resp.status_code in (200, 202), resp.get_json()
                for i, r in zip(arg, resp.get_json()["results"], strict=True):
                    assert r["status"] in ("accepted", "duplicate"), r
                    assert ids.setdefault(i, r["id"]) == r["id"]
            else:
                i, rev = arg
                key = (i, rev["reversal_id"])
                reverse(ids[i], rev, replay=key in refunded)
                refunded.add(key)
        work()

        want = points_by_ref(client, h, {i: t for i, t in enumerate(ref_ids)})
        got = points_by_ref(client, h, ids)
        assert got == want, (amounts, refunds, ops)
        assert account(client, h, items[0]["customer"]["phone"]) == account(
            client, h, bodies("o")[0]["customer"]["phone"]
        )

    deliveries()


# --------------------------------------------------------------------------- fairness under load

ORDER_KEY = "loyalty:test:order"


def record_partition(partition: int) -> None:
    """A job that only records which partition queue it was taken from."""
    job = get_current_job()
    assert job is not None
    job.connection.rpush(ORDER_KEY, partition)


def test_partitions_take_turns_so_none_starves_under_sustained_load(app, clean, redis_client):
    """Under load the first partitions always have a job waiting; a worker must still serve the last ones."""
    queues = [Queue(queue_name(p), connection=redis_client) for p in range(4)]
    for _ in range(3):
        for p in (0, 1, 3):
            queues[p].enqueue(record_partition, p)
    run_worker(app)
    assert [int(x) for x in redis_client.lrange(ORDER_KEY, 0, -1)] == [0, 1, 3] * 3


# --------------------------------------------------------------------------- the checker itself

BREAKAGES = {
    # what a fault could leave behind -> the words the checker must report
    "balance differs from the ledger": (
        "UPDATE customer_balances SET balance = balance + 1",
        "!= ledger",
    ),
    "balance differs from its point lots": (
        "UPDATE point_lots SET remaining = remaining + 2 WHERE status = 'available'",
        "!= point lots",
    ),
    "points lot spent twice": (
        "UPDATE point_lots SET remaining = -3",
        "negative remaining",
    ),
    "negative balance": (
        "UPDATE customer_balances SET balance = -5",
        "negative balance or debt",
    ),
    "credited transaction still queued": (
        "UPDATE transactions SET status = 'queued'",
        "has ledger entries but is still queued",
    ),
    "refund larger than the earning": (
        "UPDATE ledger_entries SET points = points - 100 WHERE kind = 'reversal'",
        "reversed",
    ),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_the_invariant_checker_catches_broken_books(app, client, telecom, staff, work, breakage):
    """Every fault test ends with the checker (the ``clean`` fixture); this proves it can fail."""
    publish(client, staff, BASE_EARNING)
    tid = client.post("/api/v1/transactions", json=txn("b1", 500_000), headers=telecom.headers).get_json()["id"]
    work()
    assert client.post(f"/api/v1/transactions/{tid}/reversal", json={"amount": 100_000}, headers=telecom.headers)
    statement, words = BREAKAGES[breakage]
    with app.app_context():
        assert check_invariants(db.session) == []
        db.session.execute(text(statement))  # never committed: rolled back below
        problems = check_invariants(db.session)
        db.session.rollback()
        db.session.remove()
    assert any(words in p for p in problems), problems
