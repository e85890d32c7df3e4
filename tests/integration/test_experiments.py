"""A campaign holding out a control group, through the API and the RQ worker against MariaDB and Redis.

Control customers are evaluated and recorded but never awarded by the campaign; they get what they would have
had without it (here the base earning an exclusive campaign would otherwise suppress). The campaign's API view
and its staff page compare treated with control.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from campaigns.models import ExperimentExposure, LedgerEntry
from rules.experiments import group_of, welch_interval
from tests.helpers.api import publish, txn
from tests.helpers.factories import make_user
from tests.helpers.web import login
from webapp.extensions import db

BASE = """
name: Base
priority: 0
rules:
  - name: 1 point per 10,000 VND
    conditions: {all: [{name: amount, operator: greater_than_or_equal_to, value: 10000}]}
    actions: [{name: award_points_per_amount, params: {points: 1, per: 10000}}]
"""
HOLDOUT = """
name: Top-up holdout
providers: [telecom]
priority: 100
stacking: exclusive
experiment: {control_share: 50}
rules:
  - name: every top-up
    conditions: {all: [{name: category, operator: equal_to, value: topup}]}
    actions: [{name: award_points, params: {points: 100}}]
"""


def test_control_share_out_of_range_is_refused_with_its_path(client, staff):
    resp = client.post(
        "/api/v1/campaigns",
        data=HOLDOUT.replace("control_share: 50", "control_share: 100"),
        headers={**staff, "Content-Type": "application/yaml"},
    )
    assert resp.status_code == 422, resp.get_json()
    fields = {f["path"]: f["reason"] for f in resp.get_json()["error"]["fields"]}
    assert "between 1 and 99" in fields["experiment.control_share"]


def test_control_is_evaluated_not_awarded_and_the_page_compares_the_groups(app, client, telecom, staff, work):
    publish(client, staff, BASE)
    campaign_id = publish(client, staff, HOLDOUT)["id"]
    resp = client.post(
        "/api/v1/rewards", json={"code": "DATA1GB", "name": "Data", "cost": 50, "provider": "telecom"}, headers=staff
    )
    assert resp.status_code == 201, resp.get_json()
    customers: dict[int, tuple[str, int]] = {}  # customer id -> (phone, its second top-up's amount)
    for i in range(24):
        phone = f"09130{i:05d}"
        second = 100_000 * (1 + i % 4)
        first = client.post("/api/v1/transactions", json=txn(f"a{i}", 100_000, phone), headers=telecom.headers)
        assert first.status_code == 202, first.get_json()
        again = client.post("/api/v1/transactions", json=txn(f"b{i}", second, phone), headers=telecom.headers)
        assert again.status_code == 202, again.get_json()
        customers[first.get_json()["customer_id"]] = (phone, second)
    work()
    groups = {cid: group_of(campaign_id, cid, 50) for cid in customers}
    treated = [cid for cid, g in groups.items() if g == "treated"]
    control = [cid for cid, g in groups.items() if g == "control"]
    assert len(treated) >= 2 and len(control) >= 2

    with app.app_context():
        by_campaign = dict(
            db.session.execute(
                select(LedgerEntry.customer_id, func.sum(LedgerEntry.points))
                .where(LedgerEntry.campaign_id == campaign_id)
                .group_by(LedgerEntry.customer_id)
            ).all()
        )
        exposures = {e.customer_id: e for e in db.session.scalars(select(ExperimentExposure))}
    assert set(by_campaign) == set(treated) and all(by_campaign[c] == 200 for c in treated)
    assert set(exposures) == set(customers)
    for cid, e in exposures.items():
        assert (e.cohort, e.evaluations) == (groups[cid], 2)
        assert (e.awarded_points, e.withheld_points) == ((200, 0) if groups[cid] == "treated" else (0, 200))
    for cid in customers:  # control keeps the base earning the exclusive campaign suppresses for treated
        balance = client.get(f"/api/v1/customers/{cid}", headers=staff).get_json()["balance"]
        assert balance == (200 if groups[cid] == "treated" else 10 + customers[cid][1] // 10_000)

    redeemer = treated[0]
    resp = client.post(
        "/api/v1/redemptions",
        json={"customer": {"phone": customers[redeemer][0]}, "reward": "DATA1GB"},
        headers=telecom.headers,
    )
    assert resp.status_code == 201, resp.get_json()

    report = client.get(f"/api/v1/campaigns/{campaign_id}", headers=staff).get_json()["experiment"]
    assert report["control_share"] == 50
    assert report["groups"]["treated"]["customers"] == len(treated)
    assert report["groups"]["control"]["customers"] == len(control)
    spend = {cid: 100_000 + second for cid, (_phone, second) in customers.items()}
    expected = welch_interval([spend[c] for c in treated], [spend[c] for c in control])
    assert report["groups"]["treated"]["spend_per_customer"] == pytest.approx(
        sum(spend[c] for c in treated) / len(treated), abs=0.01
    )
    assert report["groups"]["control"]["transactions_per_customer"] == 2
    diff = report["difference"]["spend_per_customer"]
    assert diff["difference"] == pytest.approx(expected.difference, abs=0.01)
    assert diff["ci95_low"] == pytest.approx(expected.low, abs=0.01)
    assert diff["ci95_high"] == pytest.approx(expected.high, abs=0.01)
    assert report["groups"]["treated"]["redemptions_per_customer"] == pytest.approx(1 / len(treated), abs=0.01)
    assert report["difference"]["redemptions_per_customer"]["difference"] == pytest.approx(1 / len(treated), abs=0.01)
    assert report["groups"]["treated"]["points_awarded"] == 200 * len(treated)
    assert report["groups"]["control"]["points_withheld"] == 200 * len(control)
    assert report["points_credited"] == 200 * len(treated) and report["cost_vnd"] == 200 * len(treated)
    incremental = round(expected.difference * len(treated))
    assert report["incremental_spend_vnd"] == pytest.approx(incremental, abs=len(treated))
    if incremental > 0:
        assert report["cost_per_incremental_vnd"] == pytest.approx(200 * len(treated) / incremental, rel=1e-3)
    else:
        assert report["cost_per_incremental_vnd"] is None
    assert "experiment" not in client.get("/api/v1/campaigns", headers=staff).get_json()["campaigns"][0]

    make_user(app, "analyst@example.com", "analyst")
    login(client, "analyst@example.com")
    page = client.get(f"/campaigns/{campaign_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Experiment: treated vs control" in html and "50% of customers held out" in html
    assert f"{diff['ci95_low']} … {diff['ci95_high']}" in html
    base_id = next(
        c["id"] for c in client.get("/api/v1/campaigns", headers=staff).get_json()["campaigns"] if c["name"] == "Base"
    )
    assert "Experiment" not in client.get(f"/campaigns/{base_id}").get_data(as_text=True)
