"""The marketer's simulator: a sample evaluated at its own date and time (API and CLI, short form and a
provider's real body), and a replay that shows what a draft adds to the live campaigns."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from campaigns.models import LedgerEntry
from tests.helpers.api import publish, txn
from tests.helpers.documents import BASE_EARNING
from webapp.extensions import db

WEEKEND: dict[str, Any] = {
    "name": "Weekend bonus",
    "rules": [
        {
            "name": "weekend",
            "conditions": {
                "any": [{"name": "day_of_week", "operator": "equal_to", "value": d} for d in ("saturday", "sunday")]
            },
            "actions": [{"name": "award_points", "params": {"points": 30}}],
        }
    ],
}
SATURDAY = "2026-12-05T10:00:00+07:00"
MONDAY = "2026-12-07T10:00:00+07:00"
SATURDAY_NIGHT_UTC = "2026-12-05T20:00:00+00:00"  # already Sunday 03:00 in Hanoi: still the weekend
FRIDAY_NIGHT_UTC = "2026-12-04T18:00:00+00:00"  # Saturday 01:00 in Hanoi

DOUBLE: dict[str, Any] = {
    "name": "Double points",
    "priority": 10,
    "rules": [
        {
            "name": "x2 on top-ups",
            "conditions": {"all": [{"name": "category", "operator": "equal_to", "value": "topup"}]},
            "actions": [{"name": "multiply_points", "params": {"factor": 2}}],
        }
    ],
}


def _simulate(client, staff, **body):
    return client.post("/api/v1/campaigns/simulate", json={"document": WEEKEND, **body}, headers=staff)


def _fired(result: dict[str, Any]) -> bool:
    return result["rules"][0]["fired"]


def test_api_sample_is_evaluated_at_its_occurred_at(app, client, telecom, staff):
    short = {"provider": "telecom", "amount": 100_000, "category": "topup"}
    saturday = _simulate(client, staff, transaction={**short, "occurred_at": SATURDAY})
    assert saturday.status_code == 200, saturday.get_json()
    assert _fired(saturday.get_json()) and saturday.get_json()["local_time"].startswith("2026-12-05T10:00")
    assert not _fired(_simulate(client, staff, transaction={**short, "occurred_at": MONDAY}).get_json())
    assert _fired(_simulate(client, staff, transaction={**short, "occurred_at": FRIDAY_NIGHT_UTC}).get_json())
    # a provider's real POST /transactions body, as it is
    body = txn("sim-1", 100_000, occurred_at=SATURDAY_NIGHT_UTC)
    real = _simulate(client, staff, transaction=body)
    assert real.status_code == 200, real.get_json()
    assert _fired(real.get_json()) and real.get_json()["local_time"].startswith("2026-12-06T03:00")
    assert not _fired(_simulate(client, staff, transaction={**body, "occurred_at": MONDAY}).get_json())
    bad = _simulate(client, staff, transaction={**body, "amount": -5})
    assert bad.status_code == 422 and bad.get_json()["error"]["fields"][0]["path"] == "transaction.amount"
    unknown = _simulate(client, staff, transaction=body, provider="nobody")
    assert unknown.status_code == 422 and unknown.get_json()["error"]["fields"][0]["path"] == "provider"


def test_cli_simulate_accepts_a_provider_body_inline_or_as_a_file(app, client, telecom, staff, tmp_path):
    draft = tmp_path / "weekend.json"
    draft.write_text(json.dumps(WEEKEND))
    runner = app.test_cli_runner()
    body = txn("sim-cli", 100_000, occurred_at=SATURDAY)
    inline = runner.invoke(args=["campaigns", "simulate", str(draft), "--transaction", json.dumps(body)])
    assert inline.exit_code == 0, inline.output
    result = json.loads(inline.output)
    assert _fired(result) and sum(e["points"] for e in result["effects"]) == 30
    monday = tmp_path / "monday.json"
    monday.write_text(json.dumps({**body, "occurred_at": MONDAY}))
    on_monday = runner.invoke(args=["campaigns", "simulate", str(draft), "--transaction", str(monday)])
    assert on_monday.exit_code == 0, on_monday.output
    assert not _fired(json.loads(on_monday.output))
    short = runner.invoke(
        args=[
            "campaigns",
            "simulate",
            str(draft),
            "--transaction",
            json.dumps({"provider": "telecom", "occurred_at": SATURDAY}),
        ]
    )
    assert short.exit_code == 0 and _fired(json.loads(short.output))
    wrong = runner.invoke(
        args=["campaigns", "simulate", str(draft), "--transaction", json.dumps({**body, "currency": "vnd"})]
    )
    assert wrong.exit_code == 1 and "transaction.currency" in wrong.output
    missing = runner.invoke(args=["campaigns", "simulate", str(draft), "--transaction", str(tmp_path / "nope.json")])
    assert missing.exit_code == 1 and "--transaction" in missing.output


def test_replay_reports_what_a_multiplier_adds_to_the_live_campaigns(app, client, telecom, staff, work):
    publish(client, staff, BASE_EARNING)
    amounts = {"0912000001": [100_000, 200_000], "0912000002": [50_000]}
    for phone, values in amounts.items():
        for i, amount in enumerate(values):
            resp = client.post(
                "/api/v1/transactions", json=txn(f"{phone}-{i}", amount, phone=phone), headers=telecom.headers
            )
            assert resp.status_code == 202
    client.post(
        "/api/v1/transactions",
        json=txn("shop-like", 70_000, phone="0912000003", category="bill"),
        headers=telecom.headers,
    )
    work()
    with app.app_context():
        entries = db.session.scalar(select(func.count()).select_from(LedgerEntry))
        db.session.remove()
    resp = client.post("/api/v1/campaigns/simulate", json={"document": DOUBLE, "days": 7}, headers=staff)
    assert resp.status_code == 200, resp.get_json()
    r = resp.get_json()
    assert r["transactions"] == 4
    # live: 10 + 20 + 5 + 7 points; the multiplier doubles the top-ups only
    assert r["live"]["points"] == 42 and r["combined"]["points"] == 77
    assert r["difference"]["points"] == 35 and r["difference"]["customers"] == 2
    ids = {}
    for phone in amounts:
        ids[phone] = client.get(f"/api/v1/customers/lookup?phone={phone}", headers=telecom.headers).get_json()["id"]
    assert r["difference"]["by_customer"] == [
        {"customer_id": ids["0912000001"], "live": 30, "combined": 60, "difference": 30},
        {"customer_id": ids["0912000002"], "live": 5, "combined": 10, "difference": 5},
    ]
    # a draft named like a live campaign replaces it instead of stacking on it
    same = client.post(
        "/api/v1/campaigns/simulate",
        json={"document": BASE_EARNING.replace("points: 1, per: 10000", "points: 2, per: 10000"), "days": 7},
        headers=staff,
    ).get_json()
    assert same["live"]["points"] == 42 and same["combined"]["points"] == 84 and same["difference"]["points"] == 42
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == entries
        db.session.remove()


def test_a_challenge_sample_shows_the_steps_it_matches(app, client, telecom, staff):
    from tests.integration.test_challenges import CHALLENGE

    resp = client.post(
        "/api/v1/campaigns/simulate",
        json={"document": CHALLENGE, "transaction": txn("sim-ch", 60_000, occurred_at="2026-11-30T18:00:00+00:00")},
        headers=staff,
    )
    assert resp.status_code == 200, resp.get_json()
    challenge = resp.get_json()["challenge"]
    assert challenge["period_key"] == "2026-12"  # 01:00 on 1 December in Hanoi
    assert [s["matches"] for s in challenge["steps"]] == [True, False]
