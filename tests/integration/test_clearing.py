"""Coalition clearing through the API and the worker: funders, rates, statements and the liability.

Every expected figure below is computed by hand in the comments; the books
are then checked by ``ledger_ok`` (the money invariants included).
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import ProviderKey, ledger_ok, make_provider, publish, txn

RATES = {  # issue_cost, redemption_rate (VND per point)
    "telecom": (100, 90),
    "post": (80, 120),
    "shop": (50, 60),
    "programme": (70, 0),
}


def campaign(name: str, category: str, action: dict[str, Any], funding: dict[str, int] | None = None) -> dict:
    doc: dict[str, Any] = {
        "name": name,
        "rules": [
            {
                "name": name,
                "conditions": {"all": [{"name": "category", "operator": "equal_to", "value": category}]},
                "actions": [action],
            }
        ],
    }
    if funding is not None:
        doc["funding"] = funding
    return doc


BASE = campaign("Base", "topup", {"name": "award_points_per_amount", "params": {"points": 1, "per": 10000}})
JOINT = campaign(
    "Joint promotion", "joint", {"name": "award_points", "params": {"points": 15}}, {"telecom": 50, "shop": 50}
)
WELCOME = campaign("Welcome bonus", "welcome", {"name": "award_points", "params": {"points": 20}}, {"programme": 100})
SPLIT = campaign("Shared", "split", {"name": "award_points", "params": {"points": 11}}, {"issuer": 70, "programme": 30})


@pytest.fixture()
def coalition(app: Flask, client: FlaskClient, staff: dict[str, str]) -> dict[str, ProviderKey]:
    keys = {code: make_provider(app, code) for code in ("telecom", "post", "shop")}
    for code, (issue, redeem) in RATES.items():
        resp = client.put(
            f"/api/v1/providers/{code}/rates", json={"issue_cost": issue, "redemption_rate": redeem}, headers=staff
        )
        assert resp.status_code == 200, resp.get_json()
    for doc in (BASE, JOINT, WELCOME, SPLIT):
        publish(client, staff, doc)
    for code, cost, fulfiller in (("DATA", 50, "telecom"), ("PARCEL", 30, "post")):
        resp = client.post(
            "/api/v1/rewards",
            json={"code": code, "name": code.title(), "cost": cost, "provider": fulfiller},
            headers=staff,
        )
        assert resp.status_code == 201, resp.get_json()
    return keys


def post(client: FlaskClient, key: ProviderKey, ref: str, phone: str, category: str, amount: int = 50_000) -> int:
    resp = client.post("/api/v1/transactions", json=txn(ref, amount, phone, category=category), headers=key.headers)
    assert resp.status_code in (201, 202), resp.get_json()
    return resp.get_json()["id"]


def redeem(client: FlaskClient, key: ProviderKey, phone: str, reward: str) -> int:
    resp = client.post(
        "/api/v1/redemptions", json={"customer": {"phone": phone}, "reward": reward}, headers=key.headers
    )
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def lots_by_funder(app: Flask) -> dict[str, int]:
    from sqlalchemy import func, select

    from campaigns.clearing.statements import party_codes
    from campaigns.models import PointLot
    from webapp.extensions import db

    with app.app_context():
        codes = party_codes(db.session)
        rows = db.session.execute(select(PointLot.funder_id, func.sum(PointLot.points)).group_by(PointLot.funder_id))
        return {codes[f]: int(p) for f, p in rows}


def by_party(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["party"]: s for s in view["statements"]}


def test_funding_is_validated_with_path_and_reason(client: FlaskClient, staff: dict[str, str]) -> None:
    bad = {**BASE, "funding": {"issuer": 70, "programme": 20, "shop": "10", "Bad code!": 5, "post": 0}}
    resp = client.post("/api/v1/campaigns", json=bad, headers=staff)
    assert resp.status_code == 422
    fields = {f["path"]: f["reason"] for f in resp.get_json()["error"]["fields"]}
    assert fields["funding.shop"] == "expected a whole percentage, got string"
    assert "is not issuer, programme or a provider code" in fields["funding.Bad code!"]
    assert fields["funding.post"] == "must be between 1 and 100"
    resp = client.post("/api/v1/campaigns", json={**BASE, "funding": {"issuer": 70, "programme": 20}}, headers=staff)
    fields = {f["path"]: f["reason"] for f in resp.get_json()["error"]["fields"]}
    assert fields == {"funding": "percentages must sum to 100, got 90"}
    resp = client.post("/api/v1/campaigns", json={**BASE, "funding": []}, headers=staff)
    assert resp.get_json()["error"]["fields"][0]["path"] == "funding"


def test_each_point_is_split_between_its_funders_without_losing_one(
    app: Flask, client: FlaskClient, coalition: dict[str, ProviderKey], work: Any
) -> None:
    post(client, coalition["telecom"], "t1", "0912000001", "topup", 1_000_000)  # 100, telecom
    post(client, coalition["post"], "p1", "0912000001", "split")  # 11 = 70 % 7.7 -> 8 post, 30 % 3.3 -> 3 programme
    post(
        client, coalition["shop"], "s1", "0912000002", "joint"
    )  # 15 = 7.5 / 7.5: the tie goes first -> telecom 8, shop 7
    post(client, coalition["shop"], "s2", "0912000002", "welcome")  # 20, programme
    work()
    assert lots_by_funder(app) == {"telecom": 108, "post": 8, "shop": 7, "programme": 23}
    ledger_ok(app)


def test_an_open_month_statement_balances_to_zero(
    app: Flask, client: FlaskClient, coalition: dict[str, ProviderKey], staff: dict[str, str], work: Any
) -> None:
    from campaigns.clearing.statements import month_of, zone
    from campaigns.models import utcnow
    from webapp.extensions import db

    t1 = post(client, coalition["telecom"], "t1", "0912000001", "topup", 1_000_000)
    post(client, coalition["post"], "p1", "0912000001", "split")
    post(client, coalition["shop"], "s1", "0912000002", "joint")
    post(client, coalition["shop"], "s2", "0912000002", "welcome")
    work()
    redeem(client, coalition["telecom"], "0912000001", "DATA")  # 50 of A's telecom lot; telecom is owed 50 x 90
    parcel = redeem(client, coalition["post"], "0912000002", "PARCEL")  # B: 8 telecom + 7 shop + 15 programme
    resp = client.post(f"/api/v1/redemptions/{parcel}/cancel", headers=coalition["post"].headers)
    assert resp.status_code == 200, resp.get_json()
    resp = client.post(
        f"/api/v1/transactions/{t1}/reversal", json={"amount": 500_000}, headers=coalition["telecom"].headers
    )
    assert resp.status_code == 201 and resp.get_json()["points"] == -50  # the rest of the telecom lot
    with app.app_context():
        month = month_of(utcnow(), zone(db.session))

    view = client.get(f"/api/v1/settlement/statements/{month}", headers=staff).get_json()
    assert view["status"] == "open" and view["total"] == 0
    st = by_party(view)
    # telecom: funded 108 x 100 = 10,800, 50 clawed back x 100 = 5,000 -> owes 5,800; redeemed 50 x 90 = 4,500
    assert st["telecom"]["points_funded"] == {"issued": 108, "clawed_back": 50}
    assert st["telecom"]["amount_owed"] == 5_800
    assert st["telecom"]["points_redeemed"] == {"redeemed": 50, "cancelled": 0}
    assert st["telecom"]["amount_receivable"] == 4_500
    assert st["telecom"]["net"] == -1_300
    # post: funded 8 x 80 = 640; redeemed 30 x 120 = 3,600 and cancelled again -> 0
    assert st["post"]["amount_owed"] == 640
    assert st["post"]["points_redeemed"] == {"redeemed": 30, "cancelled": 30}
    assert st["post"]["amount_receivable"] == 0 and st["post"]["net"] == -640
    assert st["shop"]["amount_owed"] == 350 and st["shop"]["net"] == -350  # 7 x 50
    assert st["programme"]["points_funded"] == 23 and st["programme"]["net"] == 2_290  # 1,300 + 640 + 350
    # a provider key sees its own statement only
    own = client.get(f"/api/v1/settlement/statements/{month}", headers=coalition["shop"].headers).get_json()
    assert [s["party"] for s in own["statements"]] == ["shop"] and own["total"] is None
    # CSV, by Accept header or ?format=csv
    csv_resp = client.get(f"/api/v1/settlement/statements/{month}", headers={**staff, "Accept": "text/csv"})
    assert csv_resp.mimetype == "text/csv"
    assert f"{month},open,telecom,net,0,-1300,0," in csv_resp.get_data(as_text=True)
    assert client.get(f"/api/v1/settlement/statements/{month}?format=csv", headers=staff).mimetype == "text/csv"

    liability = client.get("/api/v1/settlement/liability", headers=staff).get_json()
    rows = {r["funder"]: r for r in liability["funders"]}
    # telecom: 108 issued - 50 clawed back - 50 redeemed (8 of B's taken and given back) = 8 open, x 100 VND
    assert rows["telecom"]["closing"] == {"points": 8, "value": 800}
    assert rows["telecom"]["redeemed"]["points"] == 50 and rows["telecom"]["clawed_back"]["points"] == 50
    assert rows["programme"]["closing"] == {"points": 23, "value": 23 * 70}
    assert liability["total"]["closing_points"] == 8 + 8 + 7 + 23

    # drill down from a figure to the ledger lines behind it
    base = f"/api/v1/settlement/statements/{month}/entries"
    issued = client.get(f"{base}?party=telecom&kind=issued", headers=staff).get_json()
    assert issued["points"] == 108 and sorted(e["points"] for e in issued["entries"]) == [8, 100]
    assert client.get(f"{base}?party=telecom&kind=clawed_back", headers=staff).get_json()["points"] == 50
    redeemed = client.get(f"{base}?party=post&kind=redeemed", headers=staff).get_json()
    assert redeemed["points"] == 30 and redeemed["entries"][0]["entry_kind"] == "redemption"
    assert client.get(f"{base}?party=post&kind=redemption_cancelled", headers=staff).get_json()["points"] == 30
    assert client.get(f"{base}?party=programme&kind=issued", headers=staff).get_json()["points"] == 23
    bad = client.get(f"{base}?party=telecom&kind=everything", headers=staff)
    assert bad.status_code == 422 and bad.get_json()["error"]["fields"][0]["path"] == "kind"
    assert client.get(f"{base}?party=telecom&kind=issued", headers=coalition["shop"].headers).status_code == 404
    own = client.get(f"{base}?party=shop&kind=issued&format=csv", headers=coalition["shop"].headers)
    assert own.mimetype == "text/csv" and len(own.get_data(as_text=True).splitlines()) == 2
    ledger_ok(app)


def test_rates_have_a_history_and_never_rewrite_it(
    app: Flask, client: FlaskClient, coalition: dict[str, ProviderKey], staff: dict[str, str]
) -> None:
    bad = client.put("/api/v1/providers/telecom/rates", json={"issue_cost": -1, "redemption_rate": 5}, headers=staff)
    assert bad.status_code == 422 and bad.get_json()["error"]["fields"][0]["path"] == "issue_cost"
    past = client.put(
        "/api/v1/providers/telecom/rates",
        json={"issue_cost": 1, "redemption_rate": 1, "from": "2020-01-01"},
        headers=staff,
    )
    assert past.status_code == 422 and past.get_json()["error"]["fields"][0]["path"] == "from"
    later = client.put(
        "/api/v1/providers/telecom/rates",
        json={"issue_cost": 120, "redemption_rate": 95, "from": "2099-01-01"},
        headers=staff,
    )
    assert later.status_code == 200
    view = later.get_json()
    assert view["current"] == {"issue_cost": 100, "redemption_rate": 90}
    assert [(r["issue_cost"], r["redemption_rate"]) for r in view["history"]] == [(100, 90), (120, 95)]
    # a provider reads its own rates, not another's; only finance/admin change them
    assert client.get("/api/v1/providers/telecom/rates", headers=coalition["telecom"].headers).status_code == 200
    assert client.get("/api/v1/providers/post/rates", headers=coalition["telecom"].headers).status_code == 404
    put = client.put(
        "/api/v1/providers/telecom/rates",
        json={"issue_cost": 1, "redemption_rate": 1},
        headers=coalition["telecom"].headers,
    )
    assert put.status_code == 403
    with app.app_context():
        from campaigns.models import AuditEvent
        from webapp.extensions import db

        assert db.session.query(AuditEvent).filter_by(action="provider.rates_set").count() == 5


TIERS_FUNDED = {
    "name": "Tiers",
    "type": "tier",
    "funding": {"programme": 100},  # the tier bonus is the programme's gift
    "tiers": [
        {"code": "member", "name": "Member", "rank": 0},
        {"code": "silver", "name": "Silver", "rank": 1, "benefits": {"earn_multiplier": 1.2}},
    ],
    "rules": [
        {
            "name": "silver",
            "conditions": {
                "all": [{"name": "qualifying_points_365d", "operator": "greater_than_or_equal_to", "value": 100}]
            },
            "actions": [{"name": "set_tier", "params": {"tier": "silver"}}],
        }
    ],
}
DOUBLE = {  # a multiplier funded half by the shop, on everything below it
    "name": "Double at the shop",
    "priority": 50,
    "funding": {"shop": 50, "programme": 50},
    "rules": [
        {
            "name": "x2",
            "conditions": {"all": [{"name": "provider", "operator": "equal_to", "value": "shop"}]},
            "actions": [{"name": "multiply_points", "params": {"factor": 2}}],
        }
    ],
}


def test_tier_bonus_and_multipliers_are_funded_as_the_multiplying_campaign_says(
    app: Flask, client: FlaskClient, coalition: dict[str, ProviderKey], staff: dict[str, str], work: Any
) -> None:
    publish(client, staff, TIERS_FUNDED)
    post(client, coalition["telecom"], "t1", "0912000001", "topup", 1_000_000)  # 100, telecom -> silver
    work()
    post(client, coalition["telecom"], "t2", "0912000001", "topup", 1_000_000)  # 100 telecom + 20 tier bonus
    work()
    assert lots_by_funder(app) == {"telecom": 200, "programme": 20}
    publish(client, staff, DOUBLE)
    post(client, coalition["shop"], "s1", "0912000002", "topup", 310_000)  # 31 shop + 31 bonus: 16 shop, 15 programme
    work()
    assert lots_by_funder(app) == {"telecom": 200, "programme": 35, "shop": 47}
    ledger_ok(app)


def test_a_funder_must_be_a_provider_of_the_programme(app: Flask, client: FlaskClient, staff: dict[str, str]) -> None:
    """A misspelt funder would silently fall back to the programme paying: it is refused at publication."""
    make_provider(app, "telecom")
    typo = campaign("Typo", "topup", {"name": "award_points", "params": {"points": 5}}, {"telecomm": 100})
    resp = client.post("/api/v1/campaigns?publish=true", json=typo, headers=staff)
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert "funding.telecomm" in body and "did you mean 'telecom'?" in body
    ok = campaign("Fine", "topup", {"name": "award_points", "params": {"points": 5}}, {"telecom": 60, "programme": 40})
    assert client.post("/api/v1/campaigns?publish=true", json=ok, headers=staff).status_code == 201
