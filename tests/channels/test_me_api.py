"""``/api/v1/me`` for the mobile app: OTP -> token -> balance, activity, rewards, redeem, vouchers, claims."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.channels.helpers import PHONE, earn, programme, sent_to


def test_token_flow_and_every_endpoint(app, client, telecom, staff, work):
    from campaigns.models import CustomerToken
    from webapp.extensions import db

    programme(client, staff)
    earn(client, telecom, work, "t1", 12_600_000)
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me", headers=telecom.headers).status_code == 401  # a provider key is not a customer
    assert client.post("/api/v1/me/otp", json={"phone": "12"}).status_code == 422
    assert client.post("/api/v1/me/otp", json={"phone": "0912345678"}).status_code == 202
    assert client.post("/api/v1/me/otp", json={"phone": "0987654321"}).get_json() == {
        "status": "sent",
        "expires_in": 300,
    }
    work()
    code = re.search(r"\b(\d{6})\b", sent_to(PHONE)[-1]).group(1)
    assert client.post("/api/v1/me/token", json={"phone": PHONE, "code": "12"}).status_code == 401
    resp = client.post("/api/v1/me/token", json={"phone": "0912 345 678", "code": code})
    assert resp.status_code == 201, resp.get_json()
    token = resp.get_json()["token"]
    assert token.startswith("lc_")
    with app.app_context():
        stored = db.session.scalars(select(CustomerToken)).one()
        assert stored.token_hash != token and len(stored.token_hash) == 64
        db.session.remove()
    h = {"Authorization": f"Bearer {token}"}
    me = client.get("/api/v1/me", headers=h).get_json()
    assert me["balance"] == 1260 and me["tier"] == {"code": "silver", "name": "Bạc"}
    assert me["next_tier"] == {"name": "Vàng", "points_needed": 1740, "qualifying_points": 1260}
    act = client.get("/api/v1/me/activity", headers=h).get_json()["activity"]
    assert act[0]["points"] == 1260 and act[0]["provider"] == "Mobile operator"
    rw = {r["code"]: r["affordable"] for r in client.get("/api/v1/me/rewards", headers=h).get_json()["rewards"]}
    assert rw["TOPUP10"] and not rw["HEADPHONES"]
    red = client.post("/api/v1/me/redemptions", json={"reward": "TOPUP50", "idempotency_key": "k1"}, headers=h)
    assert red.status_code == 201 and red.get_json()["voucher_code"].startswith("LV-")
    same = client.post("/api/v1/me/redemptions", json={"reward": "TOPUP50", "idempotency_key": "k1"}, headers=h)
    assert same.status_code == 200 and same.get_json()["id"] == red.get_json()["id"]
    poor = client.post("/api/v1/me/redemptions", json={"reward": "HEADPHONES"}, headers=h)
    assert poor.status_code == 409 and poor.get_json()["error"]["code"] == "insufficient_points"
    vouchers = client.get("/api/v1/me/vouchers", headers=h).get_json()["vouchers"]
    assert [v["reward"] for v in vouchers] == ["TOPUP50"]
    assert client.post("/api/v1/me/claims", json={}, headers=h).status_code == 422
    claim = client.post("/api/v1/me/claims", json={"transaction_ref": "POS-1", "provider": "telecom"}, headers=h)
    assert claim.status_code == 201 and claim.get_json()["status"] == "open"
    assert len(client.get("/api/v1/me/claims", headers=h).get_json()["claims"]) == 1
    assert client.delete("/api/v1/me/token", headers=h).status_code == 204
    assert client.get("/api/v1/me", headers=h).status_code == 401


def test_openapi_documents_me(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/me", "/api/v1/me/otp", "/api/v1/me/token", "/api/v1/me/redemptions", "/api/v1/me/claims"):
        assert path in doc["paths"], path
    assert doc["paths"]["/api/v1/me"]["get"]["security"] == [{"customer": []}]
    assert "customer" in doc["components"]["securitySchemes"]
