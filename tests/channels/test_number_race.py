"""A release and a transaction for the same number, at the same moment: one consistent outcome.

On a number's first-ever event there is no lifecycle row to lock yet; the ingest path creates it so that
a racing release and a racing transaction are serialised on it. Either the transaction comes first (a new
customer, whom the release then detaches) or the release does (the transaction is refused): never a customer
who still holds a released number during its quarantine.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.channels.test_number_lifecycle import authority
from tests.helpers.api import txn

pytestmark = pytest.mark.slow  # sixteen rounds of two racing requests

ROUNDS = 16
STEP = 0.004  # round i sends the transaction i * STEP s after the release: the sweep crosses the release's window


def _holders(app: Any, phone: str) -> tuple[int | None, list[int]]:
    from campaigns.models import CustomerIdentity, IdentityHistory
    from webapp.extensions import db

    with app.app_context():
        holder = db.session.scalar(select(CustomerIdentity.customer_id).where(CustomerIdentity.value == phone))
        past = list(db.session.scalars(select(IdentityHistory.customer_id).where(IdentityHistory.value == phone)))
        db.session.remove()
    return holder, past


def _race(app: Any, release: tuple[dict[str, str], Any], transaction: tuple[dict[str, str], Any], delay: float) -> Any:
    """Both requests at once from two threads, the transaction ``delay`` seconds after the release."""
    start = threading.Barrier(2)

    def call(which: str) -> Any:
        c = app.test_client()
        start.wait()
        if which == "release":
            return c.post("/api/v1/identity-events", json=release[1], headers=release[0])
        time.sleep(delay)
        return c.post("/api/v1/transactions", json=transaction[1], headers=transaction[0])

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(call, ["release", "transaction"]))


def test_release_racing_the_first_transaction_of_a_number_has_one_consistent_outcome(app, client, telecom, work):
    op = authority(app)
    for i in range(ROUNDS):
        local = f"09130000{i:02d}"
        phone = "+84" + local[1:]
        now = datetime.now(UTC)
        release = {
            "provider_event_id": f"race-{i}",
            "event": "number_released",
            "phone": local,
            "occurred_at": (now - timedelta(minutes=10)).isoformat(),
        }
        body = txn(f"race-{i}", 1_000_000, phone=local, occurred_at=(now - timedelta(minutes=1)).isoformat())
        rel, tx = _race(app, (op.headers, release), (telecom.headers, body), i * STEP)
        assert rel.status_code == 201, rel.get_json()
        holder, past = _holders(app, phone)
        assert holder is None, f"round {i}: customer {holder} holds {phone} during its quarantine"
        if tx.status_code == 202:
            cid = tx.get_json()["customer_id"]
            assert past == [cid] and rel.get_json()["customer_id"] == cid  # the release detached its new holder
        else:
            assert tx.status_code == 422 and tx.get_json()["error"]["code"] == "number_quarantined", tx.get_json()
            assert past == [] and rel.get_json()["customer_id"] is None
    work()  # whatever was accepted is credited (the fixture then checks the books balance)
