"""Many simultaneous requests for one customer, against gunicorn and an RQ worker running as deployed.

Earnings (some sent twice at once), redemptions (more than the customer can
afford, some replayed with the same idempotency key) and refunds (each sent
twice at once) race each other while the worker credits. The customer must end
with exactly the points the acknowledged operations add up to.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from campaigns.models import Redemption, Transaction
from tests.helpers.api import publish, txn
from tests.helpers.documents import BASE_EARNING
from tests.helpers.services import DB_URL, REDIS_URL
from webapp.extensions import db

pytestmark = pytest.mark.slow  # gunicorn and an RQ worker as subprocesses, hundreds of racing requests

ROOT = Path(__file__).resolve().parents[2]
PHONE = "0912345678"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def served(clean: None, tmp_path: Path) -> Iterator[str]:
    """gunicorn (2 processes x 8 threads) and one ``flask worker``, on the test database and Redis."""
    port = _free_port()
    env = {
        **os.environ,
        "LOYALTY_DATABASE_URL": DB_URL,
        "REDIS_URL": REDIS_URL,
        "LOYALTY_PARTITIONS": "4",  # as settings_for_tests
        "LOYALTY_LOG_LEVEL": "WARNING",
    }
    web_argv = ["-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", "8", "-b", f"127.0.0.1:{port}", "wsgi:app"]
    log = (tmp_path / "served.log").open("wb")
    procs = [
        subprocess.Popen(
            [sys.executable, *argv],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for argv in (web_argv, ["-m", "flask", "--app", "wsgi", "worker"])
    ]
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.3)
        yield url
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        log.close()  # served.log in the test's tmp_path: the server side of a failure


def _queued(app: Any) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).where(Transaction.status == "queued"))
        db.session.remove()
    return n


def _wait_credited(app: Any, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while _queued(app):
        assert time.monotonic() < deadline, "the worker did not credit everything"
        time.sleep(0.3)


def test_simultaneous_earn_redeem_and_refund_for_one_customer_end_in_the_exact_balance(
    app, client, telecom, staff, served
):
    publish(client, staff, BASE_EARNING)
    reward = {"code": "DATA1GB", "name": "1 GB data pack", "cost": 50, "stock": None, "voucher_days": 7}
    assert client.post("/api/v1/rewards", json=reward, headers=staff).status_code == 201

    bodies: dict[str, dict[str, Any]] = {}

    def earn(ref: str, amount: int) -> requests.Response:
        body = bodies.setdefault(ref, txn(ref, amount, phone=PHONE))  # a re-send is the very same body
        return requests.post(f"{served}/api/v1/transactions", json=body, headers=telecom.headers)

    assert earn("seed", 10_000_000).status_code == 202  # 1,000 points
    prior = [earn(f"p{i}", 100_000).json()["id"] for i in range(10)]  # 10 points each, refunded in the race
    _wait_credited(app)

    # 40 earnings (10 of them sent twice at once), 40 redemptions of 50 points (10 replayed with the
    # same key), 10 full refunds (each sent twice at once with the same reversal id)
    calls: list[tuple[str, Any]] = [("earn", f"e{i}") for i in range(40)] + [("earn", f"e{i}") for i in range(10)]
    calls += [("redeem", f"k{i}") for i in range(40)] + [("redeem", f"k{i}") for i in range(10)]
    calls += [("refund", tid) for tid in prior] * 2
    random.Random(8).shuffle(calls)

    def call(c: tuple[str, Any]) -> tuple[str, Any, int, dict[str, Any]]:
        kind, arg = c
        if kind == "earn":
            resp = earn(arg, 100_000)
        elif kind == "redeem":
            body = {"customer": {"phone": PHONE}, "reward": "DATA1GB", "idempotency_key": arg}
            resp = requests.post(f"{served}/api/v1/redemptions", json=body, headers=telecom.headers)
        else:
            resp = requests.post(
                f"{served}/api/v1/transactions/{arg}/reversal", json={"reversal_id": f"r{arg}"}, headers=telecom.headers
            )
        return kind, arg, resp.status_code, resp.json()

    with ThreadPoolExecutor(max_workers=24) as pool:
        results = list(pool.map(call, calls))
    _wait_credited(app)

    statuses = Counter((kind, status, body.get("error", {}).get("code")) for kind, _, status, body in results)
    earned = {arg for kind, arg, status, _ in results if kind == "earn" and status == 202}
    assert earned == {f"e{i}" for i in range(40)}, statuses  # each reference accepted exactly once
    assert all(status in (200, 202) for kind, _, status, _ in results if kind == "earn"), statuses
    refunds = [(arg, status, body) for kind, arg, status, body in results if kind == "refund"]
    assert Counter(status for _, status, _ in refunds) == {201: 10, 200: 10}, refunds
    redeemed = {body["id"] for kind, _, status, body in results if kind == "redeem" and status in (200, 201)}
    failed = [body for kind, _, status, body in results if kind == "redeem" and status not in (200, 201)]
    assert {b["error"]["code"] for b in failed} <= {"insufficient_points"}, failed
    by_key: dict[str, set[int]] = {}
    for kind, arg, status, body in results:
        if kind == "redeem" and status in (200, 201):
            by_key.setdefault(arg, set()).add(body["id"])
    assert all(len(ids) == 1 for ids in by_key.values()), by_key  # a replayed key never redeems twice
    with app.app_context():
        in_db = db.session.scalar(select(func.count()).select_from(Redemption))
        db.session.remove()
    assert in_db == len(redeemed)
    # never more redeemed than the customer could ever hold (seed + prior + race earnings); 40 x 50 is more
    assert len(redeemed) <= (1000 + 100 + 400) // 50 and failed
    available = 1000 + 10 * 10 - 10 * 10 + 40 * 10  # seed + prior - refunded prior + race earnings
    customer = client.get(f"/api/v1/customers/lookup?phone={PHONE}", headers=telecom.headers).get_json()
    assert customer["balance"] >= 0
    assert customer["balance"] - customer["debt"] == available - 50 * len(redeemed)


def test_a_redemption_replayed_while_the_original_runs_returns_the_original(app, client, telecom, staff, work):
    """A client retrying a slow redemption with the same key: one voucher, and every answer carries it."""
    publish(client, staff, BASE_EARNING)
    reward = {"code": "DATA1GB", "name": "1 GB data pack", "cost": 50, "stock": None, "voucher_days": 7}
    assert client.post("/api/v1/rewards", json=reward, headers=staff).status_code == 201
    client.post("/api/v1/transactions", json=txn("r1", 1_000_000, phone=PHONE), headers=telecom.headers)
    work()
    body = {"customer": {"phone": PHONE}, "reward": "DATA1GB", "idempotency_key": "retry-me"}

    start = threading.Barrier(12)

    def redeem(_: int) -> Any:
        c = app.test_client()
        start.wait()  # all at once
        return c.post("/api/v1/redemptions", json=body, headers=telecom.headers)

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(redeem, range(12)))
    assert sorted(r.status_code for r in results) == [200] * 11 + [201], [r.get_json() for r in results]
    assert len({r.get_json()["voucher_code"] for r in results}) == 1
    customer = client.get(f"/api/v1/customers/lookup?phone={PHONE}", headers=telecom.headers).get_json()
    assert customer["balance"] == 50
