"""A small populated world for the security tests: two providers, one staff user per role, data of each kind.

The first provider (``telecom``) owns one of everything a provider can own (a customer it dealt with, a
transaction, an event, a redemption, a points payment, a point transfer, a group, an import, a webhook); the second (``shop``) is the intruder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Flask

from campaigns.permissions import ROLES
from tests.helpers.api import publish, run_worker, txn
from tests.helpers.documents import BASE_EARNING
from tests.helpers.factories import ProviderKey, make_provider, make_user
from webapp.extensions import db

TELECOM_PHONE = "0912000001"
SHOP_PHONE = "0912000002"


@dataclass
class World:
    telecom: ProviderKey
    shop: ProviderKey
    staff: dict[str, str]  # admin-level management token (CLI kind)
    role_tokens: dict[str, dict[str, str]]  # personal token of a staff user of each role
    customer_token: str
    ids: dict[str, Any] = field(default_factory=dict)

    def bearer(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}


def api_views(app: Flask) -> list[tuple[str, str, Any, Any]]:
    """(method, OpenAPI-style path, werkzeug rule, view) for every route of the API blueprint."""
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((method, path, rule, app.view_functions[rule.endpoint]))
    return out


def build_world(app: Flask) -> World:
    from campaigns.access.providers import issue_key
    from campaigns.access.users import create_token
    from campaigns.accounts import rewards
    from campaigns.channels import portal
    from campaigns.models import StaffUser

    client = app.test_client()
    telecom = make_provider(app, "telecom", "Mobile operator")
    shop = make_provider(app, "shop", "Convenience shop")
    with app.app_context():  # the operator posts number lifecycle events; the shop may not
        from campaigns.access.providers import set_phone_authority

        set_phone_authority(db.session, "telecom", True, actor="tests")
        db.session.commit()
    with app.app_context():
        staff_key = issue_key(db.session, "staff", "security tests")
        db.session.commit()
    staff = {"Authorization": f"Bearer {staff_key}"}
    campaign = publish(client, staff, BASE_EARNING)
    ids: dict[str, Any] = {"campaign_id": campaign["id"]}

    resp = client.post("/api/v1/transactions", json=txn("t-1", phone=TELECOM_PHONE), headers=telecom.headers)
    assert resp.status_code == 202, resp.get_json()
    ids["txn_id"] = resp.get_json()["id"]
    ids["customer_id"] = resp.get_json()["customer_id"]
    resp = client.post("/api/v1/transactions", json=txn("t-2", phone="0912000003"), headers=telecom.headers)
    ids["friend_id"] = resp.get_json()["customer_id"]
    resp = client.post("/api/v1/transactions", json=txn("s-1", phone=SHOP_PHONE), headers=shop.headers)
    ids["shop_customer_id"] = resp.get_json()["customer_id"]
    event = {
        "provider_event_id": "e-1",
        "event_type": "app_login",
        "customer": {"phone": TELECOM_PHONE},
        "occurred_at": txn("x")["occurred_at"],
    }
    resp = client.post("/api/v1/events", json=event, headers=telecom.headers)
    assert resp.status_code == 202, resp.get_json()
    ids["event_id"] = resp.get_json()["id"]
    run_worker(app)

    with app.app_context():
        rewards.save_reward(db.session, {"code": "coffee", "name": "Coffee", "cost": 1}, actor="t")
        db.session.commit()
    ids["code"] = "coffee"
    resp = client.post(
        "/api/v1/redemptions", json={"customer": {"phone": TELECOM_PHONE}, "reward": "coffee"}, headers=telecom.headers
    )
    assert resp.status_code == 201, resp.get_json()
    ids["redemption_id"] = resp.get_json()["id"]
    pay = {"provider_payment_id": "pay-1", "customer": {"phone": TELECOM_PHONE}, "points": 2}
    resp = client.post("/api/v1/point-payments", json=pay, headers=telecom.headers)
    assert resp.status_code == 201, resp.get_json()
    ids["payment_id"] = resp.get_json()["id"]
    send = {
        "provider_transfer_id": "tr-1",
        "from": {"phone": TELECOM_PHONE},
        "to": {"phone": "0912000003"},
        "points": 2,
    }
    resp = client.post("/api/v1/point-transfers", json=send, headers=telecom.headers)
    assert resp.status_code == 201, resp.get_json()
    ids["transfer_id"] = resp.get_json()["id"]
    resp = client.post(
        "/api/v1/groups", json={"owner": {"phone": TELECOM_PHONE}, "name": "Family"}, headers=telecom.headers
    )
    assert resp.status_code == 201, resp.get_json()
    ids["group_id"] = resp.get_json()["id"]
    csv = "provider_txn_id,phone,amount,currency,occurred_at\nimp-1,0912000004,50000,VND,2026-01-01T00:00:00+07:00\n"
    resp = client.post(
        "/api/v1/imports?filename=a.csv", data=csv, headers={**telecom.headers, "Content-Type": "text/csv"}
    )
    assert resp.status_code == 202, resp.get_json()
    ids["import_id"] = resp.get_json()["id"]
    resp = client.post(
        "/api/v1/webhooks",
        json={"url": "https://example.com/hook", "events": ["points_credited"]},
        headers=telecom.headers,
    )
    assert resp.status_code == 201, resp.get_json()
    ids["sub_id"] = resp.get_json()["id"]
    ids["hook_url"] = "https://example.com/hook"
    ids["outbox_id"] = 999_999
    ids["request_id"] = 999_999  # no such erasure request: an admin's approval answers 404, never erases the world
    ids["key"] = "point_value"
    ids["phone"] = "+84912000003"
    ids["period"] = datetime.now(UTC).strftime("%Y-%m")  # settlement statements of the running month
    ids["provider_code"] = "telecom"
    ids["tag"] = "vip"  # a customer tag (PUT/DELETE /customers/{id}/tags/{tag})

    role_tokens = {}
    for role in ROLES:
        email = make_user(app, f"{role}@example.com", role, "telecom" if role == "provider" else None)
        with app.app_context():
            user = db.session.query(StaffUser).filter_by(email=email).one()
            role_tokens[role] = {"Authorization": f"Bearer {create_token(db.session, user, 'tests')}"}
            db.session.commit()
    with app.app_context():
        from campaigns.care import claims

        claim = claims.file(
            db.session, ids["customer_id"], {"transaction_ref": "t-9", "provider": "telecom"}, channel="portal"
        )
        ids["claim_id"] = claim.id
        token, _ = portal.issue_token(db.session, ids["customer_id"])
        db.session.commit()
    return World(telecom, shop, staff, role_tokens, token, ids)
