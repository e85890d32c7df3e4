"""docs/examples/coalition: the example programme loaded through the API into an empty database, and every
outcome its README documents, through the API and the RQ worker (MariaDB + Redis)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from tests.helpers.api import publish, txn
from tests.helpers.factories import make_provider

ROOT = Path(__file__).resolve().parents[2]
PROGRAMME = ROOT / "docs" / "examples" / "coalition"
AN, BINH = "0901234567", "0907654321"
# (partner, category, channel, amount, points, An's balance afterwards, tier afterwards): the README's table
JOURNEY = [
    ("telecom", "topup", "app", 150_000, 80, 80, "member"),
    ("telecom", "topup", "app", 150_000, 30, 110, "member"),
    ("post", "parcel", "pos", 30_000, 73, 183, "member"),
    ("ewallet", "bill_payment", "app", 500_000, 200, 383, "member"),
    ("shop", "grocery", "pos", 300_000, 110, 493, "member"),
    ("shop", "electronics", "pos", 1_000_000, 200, 693, "silver"),
    ("telecom", "topup", "app", 200_000, 48, 741, "silver"),
]
FUNDERS = {"telecom": 94, "post": 22, "ewallet": 90, "shop": 182, "programme": 408}


def _last_saturday_morning() -> datetime:
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    day = datetime.now(tz).date() - timedelta(days=1)
    while day.weekday() != 5:
        day -= timedelta(days=1)
    return datetime.combine(day, time(10, 0), tz)


def _load(client, staff) -> dict[str, object]:
    """The programme through the public API, as an operator would load it."""
    manifest = yaml.safe_load((PROGRAMME / "programme.yaml").read_text(encoding="utf-8"))
    for key, value in manifest["settings"].items():
        resp = client.put(f"/api/v1/settings/{key}", json={"value": value}, headers=staff)
        assert resp.status_code == 200, resp.get_json()
    rates = {code: p for code, p in manifest["providers"].items()} | {"programme": manifest["programme_rates"]}
    for code, p in rates.items():
        body = {"issue_cost": p["issue_cost"], "redemption_rate": p["redemption_rate"]}
        resp = client.put(f"/api/v1/providers/{code}/rates", json=body, headers=staff)
        assert resp.status_code == 200, resp.get_json()
    for name in manifest["documents"]:
        publish(client, staff, (PROGRAMME / name).read_text(encoding="utf-8"))
    rewards = yaml.safe_load((PROGRAMME / manifest["rewards"]).read_text(encoding="utf-8"))["rewards"]
    for item in rewards:
        resp = client.post("/api/v1/rewards", json=item, headers=staff)
        assert resp.status_code == 201, resp.get_json()
    return manifest


def test_the_example_programme_gives_what_its_readme_documents(app, client, staff, work):
    manifest = yaml.safe_load((PROGRAMME / "programme.yaml").read_text(encoding="utf-8"))
    keys = {code: make_provider(app, code, p["name"]) for code, p in manifest["providers"].items()}
    _load(client, staff)
    published = client.get("/api/v1/campaigns", headers=staff).get_json()["campaigns"]
    assert sorted(c["status"] for c in published) == ["published"] * len(manifest["documents"])

    at = _last_saturday_morning()
    an, previous = None, 0
    for n, (partner, category, channel, amount, points, balance, tier) in enumerate(JOURNEY, 1):
        body = txn(f"an-{n}", amount, AN, category=category, channel=channel)
        body["occurred_at"] = (at + timedelta(minutes=5 * n)).isoformat()
        resp = client.post("/api/v1/transactions", json=body, headers=keys[partner].headers)
        assert resp.status_code == 202, resp.get_json()
        an = resp.get_json()["customer_id"]
        work()
        detail = client.get(f"/api/v1/transactions/{resp.get_json()['id']}", headers=keys[partner].headers)
        assert detail.get_json()["status"] == "processed"
        profile = client.get(f"/api/v1/customers/{an}", headers=staff).get_json()
        assert (profile["balance"], profile["tier"]) == (balance, tier), (n, profile["balance"], profile["tier"])
        assert balance - previous == points
        previous = balance
    body = txn("binh-1", 50_000, BINH, category="topup", channel="app")
    body["occurred_at"] = (at + timedelta(minutes=40)).isoformat()
    resp = client.post("/api/v1/transactions", json=body, headers=keys["telecom"].headers)
    binh = resp.get_json()["customer_id"]
    work()
    profile = client.get(f"/api/v1/customers/{binh}", headers=staff).get_json()
    assert (profile["balance"], profile["tier"]) == (55, "member")

    liability = client.get("/api/v1/settlement/liability", headers=staff).get_json()
    closing = {row["funder"]: row["closing"]["points"] for row in liability["funders"]}
    assert {k: v for k, v in closing.items() if v} == FUNDERS
    assert liability["total"]["closing_points"] == 796

    resp = client.post("/api/v1/redemptions", json={"customer": {"phone": AN}, "reward": "DATA1GB"}, headers=staff)
    assert resp.status_code == 201, resp.get_json()
    assert client.get(f"/api/v1/customers/{an}", headers=staff).get_json()["balance"] == 641

    group = client.post("/api/v1/groups", json={"owner": {"phone": AN}, "name": "An's family"}, headers=staff)
    assert group.status_code == 201, group.get_json()
    gid = group.get_json()["id"]
    both = {"owner": {"phone": AN}, "customer": {"phone": BINH}}
    assert client.post(f"/api/v1/groups/{gid}/invitations", json=both, headers=staff).status_code == 201
    accepted = client.post(f"/api/v1/groups/{gid}/members", json={"customer": {"phone": BINH}}, headers=staff)
    assert accepted.status_code == 200, accepted.get_json()
    alone = client.post("/api/v1/redemptions", json={"customer": {"phone": BINH}, "reward": "SHOP50K"}, headers=staff)
    assert alone.status_code in (409, 422), alone.get_json()  # 55 points are not enough on their own
    pooled = client.post(
        "/api/v1/redemptions", json={"customer": {"phone": BINH}, "reward": "SHOP50K", "pool": True}, headers=staff
    )
    assert pooled.status_code == 201, pooled.get_json()
    balances = [client.get(f"/api/v1/customers/{c}", headers=staff).get_json()["balance"] for c in (an, binh)]
    assert sum(balances) == 196
    liability = client.get("/api/v1/settlement/liability", headers=staff).get_json()
    assert liability["total"]["closing_points"] == 196
