"""Points payments and transfers racing each other against gunicorn, as deployed.

A (1,000 points) pays at the checkout more often than it can afford (some payments sent twice at once), while A
and B send each other points both ways (the deadlock-prone pattern: each transfer locks both balances). Nothing
may be spent twice, no replay may pay twice, and the points of both add up exactly; the books then balance
(``clean`` ends every test with the ledger check).
"""

from __future__ import annotations

import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.helpers.api import publish, txn
from tests.helpers.documents import BASE_EARNING
from tests.integration.test_concurrency import _wait_credited, served  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow  # gunicorn and an RQ worker as subprocesses, a hundred racing requests

A, B = "0912345678", "0912000002"


def test_racing_payments_and_transfers_never_spend_a_point_twice(app, client, telecom, staff, served) -> None:  # noqa: F811
    publish(client, staff, BASE_EARNING)
    for ref, phone, amount in (("a", A, 10_000_000), ("b", B, 1_000_000)):  # A 1,000 points, B 100
        resp = requests.post(
            f"{served}/api/v1/transactions", json=txn(ref, amount, phone=phone), headers=telecom.headers
        )
        assert resp.status_code == 202, resp.text
    _wait_credited(app)

    calls: list[tuple[str, str]] = [("pay", f"p{i}") for i in range(30)] + [("pay", f"p{i}") for i in range(10)]
    calls += [("ab", f"ab{i}") for i in range(20)] + [("ba", f"ba{i}") for i in range(20)]
    random.Random(16).shuffle(calls)

    def call(c: tuple[str, str]) -> tuple[str, str, int, dict[str, Any]]:
        kind, ref = c
        if kind == "pay":
            body: dict[str, Any] = {"provider_payment_id": ref, "customer": {"phone": A}, "points": 50}
            resp = requests.post(f"{served}/api/v1/point-payments", json=body, headers=telecom.headers)
        else:
            frm, to = (A, B) if kind == "ab" else (B, A)
            body = {"provider_transfer_id": ref, "from": {"phone": frm}, "to": {"phone": to}, "points": 10}
            resp = requests.post(f"{served}/api/v1/point-transfers", json=body, headers=telecom.headers)
        return kind, ref, resp.status_code, resp.json()

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(call, calls))

    statuses = Counter((kind, status, body.get("error", {}).get("code")) for kind, _, status, body in results)
    assert all(status in (200, 201, 409) for _, _, status, _ in results), statuses
    refused = {body["error"]["code"] for _, _, status, body in results if status == 409}
    assert refused <= {"insufficient_points"}, statuses
    paid: dict[str, set[int]] = {}
    for kind, ref, status, body in results:
        if kind == "pay" and status in (200, 201):
            paid.setdefault(ref, set()).add(body["id"])
    assert all(len(ids) == 1 for ids in paid.values()), paid  # a replay never pays twice
    moved = Counter(kind for kind, _, status, _ in results if kind != "pay" and status == 201)
    a = client.get(f"/api/v1/customers/lookup?phone={A}", headers=telecom.headers).get_json()["balance"]
    b = client.get(f"/api/v1/customers/lookup?phone={B}", headers=telecom.headers).get_json()["balance"]
    assert a == 1000 - 50 * len(paid) - 10 * moved["ab"] + 10 * moved["ba"], (statuses, a)
    assert b == 100 + 10 * moved["ab"] - 10 * moved["ba"], (statuses, b)
    assert a >= 0 and b >= 0 and a + b == 1100 - 50 * len(paid)
