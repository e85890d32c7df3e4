"""Property: whatever happens (earns, redemptions, refunds, cancellations, expiries, merges), the money adds up.

After a random sequence through the API, the worker and the services: the
ledger check (money invariants included) passes, the running month's
statements sum to zero, and per funder the liability rolled forward equals
the open lots, whose total is what the customers hold.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.conftest import make_provider, publish, reset_all, run_worker
from tests.integration.test_clearing import BASE, SPLIT, post

pytestmark = pytest.mark.slow  # real subprocesses / fault injection: left out of `bin/test --fast`

PHONES = ["0912000001", "0912000002", "0912000003"]

ops = st.one_of(
    st.tuples(
        st.just("earn"),
        st.integers(0, 2),
        st.integers(0, 1),
        st.sampled_from(["topup", "split"]),
        st.integers(1, 50).map(lambda n: n * 10_000),
    ),
    st.tuples(st.just("redeem"), st.integers(0, 2)),
    st.tuples(st.just("refund"), st.integers(0, 20), st.integers(1, 10)),
    st.tuples(st.just("cancel"), st.integers(0, 20)),
    st.tuples(st.just("expire")),
    st.tuples(st.just("merge"), st.integers(0, 2), st.integers(0, 2)),
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(ops, min_size=3, max_size=14))
def test_statements_balance_and_liability_equals_open_lots(app: Flask, redis_client: Any, steps: list[tuple]) -> None:
    from campaigns.access.providers import issue_key
    from webapp.extensions import db

    reset_all(app, redis_client)
    client = app.test_client()
    with app.app_context():
        staff = {"Authorization": f"Bearer {issue_key(db.session, 'staff', 'property')}"}
        db.session.commit()
    keys = [make_provider(app, "telecom"), make_provider(app, "post")]
    for code, issue, redeem in (("telecom", 100, 90), ("post", 80, 120), ("programme", 70, 0)):
        body = {"issue_cost": issue, "redemption_rate": redeem}
        assert client.put(f"/api/v1/providers/{code}/rates", json=body, headers=staff).status_code == 200
    publish(client, staff, BASE)
    publish(client, staff, SPLIT)
    reward = {"code": "SMALL", "name": "Small", "cost": 7, "provider": "post"}
    assert client.post("/api/v1/rewards", json=reward, headers=staff).status_code == 201
    txns: list[tuple[int, int, int]] = []  # (id, amount, provider index)
    redemptions: list[tuple[int, int]] = []
    with time_machine.travel(datetime.now(UTC), tick=True) as clock:  # an expiry moves the clock past the expiry
        play(app, client, keys, steps, txns, redemptions, clock)
        check(app)


def play(app: Flask, client: Any, keys: list, steps: list[tuple], txns: list, redemptions: list, clock: Any) -> None:
    from campaigns.accounts import lifecycle
    from campaigns.customers import merge
    from campaigns.errors import DomainError
    from campaigns.models import CustomerIdentity, utcnow
    from webapp.extensions import db

    for n, step in enumerate(steps):
        kind = step[0]
        if kind == "earn":
            _, who, prov, category, amount = step
            txns.append((post(client, keys[prov], f"x{n}", PHONES[who], category, amount), amount, prov))
            run_worker(app)
        elif kind == "redeem":
            _, who = step
            body = {"customer": {"phone": PHONES[who]}, "reward": "SMALL"}
            resp = client.post("/api/v1/redemptions", json=body, headers=keys[1].headers)
            if resp.status_code == 201:
                redemptions.append((resp.get_json()["id"], 1))
        elif kind == "refund" and txns:
            _, pick, tenths = step
            tid, amount, prov = txns[pick % len(txns)]
            body = {"amount": amount * tenths // 10}
            client.post(f"/api/v1/transactions/{tid}/reversal", json=body, headers=keys[prov].headers)
        elif kind == "cancel" and redemptions:
            rid, prov = redemptions[step[1] % len(redemptions)]
            client.post(f"/api/v1/redemptions/{rid}/cancel", headers=keys[prov].headers)
        elif kind == "expire":
            clock.shift(timedelta(days=400))  # every lot so far is past its 12 months
            with app.app_context():
                lifecycle.expire_due(db.session, utcnow())
                db.session.commit()
        elif kind == "merge":
            _, a, b = step
            with app.app_context():
                ids = dict(db.session.execute(select(CustomerIdentity.value, CustomerIdentity.customer_id)).all())
                survivor, merged = ids.get(f"+84{PHONES[a][1:]}"), ids.get(f"+84{PHONES[b][1:]}")
                if survivor and merged and survivor != merged:
                    try:
                        merge.merge(db.session, survivor, merged, "property test merge", actor="test")
                        db.session.commit()
                    except DomainError:
                        db.session.rollback()


def check(app: Flask) -> None:
    from campaigns.accounts.ledger import check_invariants
    from campaigns.clearing import periods
    from campaigns.clearing.statements import month_of, open_lots, zone
    from campaigns.models import CustomerBalance, utcnow
    from webapp.extensions import db

    with app.app_context():
        assert check_invariants(db.session) == []
        month = month_of(utcnow(), zone(db.session))
        view = periods.statement(db.session, month)
        assert view["total"] == 0
        held = db.session.execute(
            select(func.coalesce(func.sum(CustomerBalance.balance + CustomerBalance.pending), 0))
        ).scalar_one()
        liability = periods.liability(db.session, None)
        assert liability["total"]["closing_points"] == sum(open_lots(db.session).values()) == int(held)
        for row in liability["funders"]:
            assert row["closing"]["points"] >= 0
