"""Admin pages: providers and their API keys (shown once, rotation, revocation, audit), CSV exports."""

from __future__ import annotations

import csv
import io
import re

from sqlalchemy import select

from campaigns.models import ApiKey, AuditEvent
from tests.helpers.api import txn
from tests.helpers.factories import make_user
from tests.helpers.web import csrf_token, login
from webapp.extensions import db


def _key_on(page: str) -> str:
    match = re.search(r'id="new-key">([^<]+)<', page)
    assert match, "no key shown"
    return match.group(1)


def test_provider_keys_create_rotate_revoke(app, client):
    make_user(app, "admin@example.com", "admin")
    login(client, "admin@example.com")
    token = csrf_token(client, "/providers")
    bad = client.post("/providers", data={"code": "Bad Code", "name": "x", "csrf_token": token})
    assert bad.status_code == 422 and "lowercase letters" in bad.get_data(as_text=True)

    created = client.post("/providers", data={"code": "bank", "name": "The Bank", "csrf_token": token})
    assert created.status_code == 200
    first = _key_on(created.get_data(as_text=True))
    assert first.startswith("lp_")
    listing = client.get("/providers").get_data(as_text=True)
    assert first not in listing and first[:10] in listing  # shown once; then only the prefix

    body = txn("bank-1")
    assert (
        client.post("/api/v1/transactions", json=body, headers={"Authorization": f"Bearer {first}"}).status_code == 202
    )

    with app.app_context():
        pid = db.session.scalar(select(ApiKey.provider_id).where(ApiKey.prefix == first[:10]))
    rotated = client.post(f"/providers/{pid}/keys", data={"csrf_token": token})
    second = _key_on(rotated.get_data(as_text=True))
    assert second != first
    for key in (first, second):  # both work until the old one is revoked
        resp = client.get("/api/v1/rewards", headers={"Authorization": f"Bearer {key}"})
        assert resp.status_code == 200
    with app.app_context():
        old_id = db.session.scalar(select(ApiKey.id).where(ApiKey.prefix == first[:10]))
    assert client.post(f"/providers/{pid}/keys/{old_id}/revoke", data={"csrf_token": token}).status_code == 302
    assert client.get("/api/v1/rewards", headers={"Authorization": f"Bearer {first}"}).status_code == 401
    assert client.get("/api/v1/rewards", headers={"Authorization": f"Bearer {second}"}).status_code == 200
    assert client.post(f"/providers/{pid}/keys/999999/revoke", data={"csrf_token": token}).status_code == 404
    assert "revoked" in client.get("/providers").get_data(as_text=True)
    with app.app_context():
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.object_type == "provider").order_by(AuditEvent.id)
        ).all()
        assert actions == ["provider.created", "provider.key_rotated", "provider.key_revoked"]
        assert all(k.key_hash != first for k in db.session.scalars(select(ApiKey)))

    rows = list(csv.reader(io.StringIO(client.get("/providers.csv").get_data(as_text=True))))
    assert rows[0][:4] == ["provider", "name", "active", "key_prefix"] and len(rows) == 3
    assert first not in client.get("/providers.csv").get_data(as_text=True)


def test_only_admins_manage_providers(app, client):
    make_user(app, "m@example.com", "marketer")
    login(client, "m@example.com")
    assert client.get("/providers").status_code == 403
    assert "Providers</a>" not in client.get("/").get_data(as_text=True)


def _csv(client, url):
    resp = client.get(url)
    assert resp.status_code == 200, url
    assert resp.mimetype == "text/csv" and "attachment" in resp.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO(resp.get_data(as_text=True))))


def test_every_table_exports_to_csv(app, client, telecom, shop, staff, work):
    from tests.helpers.api import publish
    from tests.helpers.documents import BASE_EARNING

    publish(client, staff, BASE_EARNING)
    client.post("/api/v1/transactions", json=txn("x-1", 100_000, phone="0912000001"), headers=telecom.headers)
    client.post("/api/v1/transactions", json=txn("=cmd|'/C'!A0", 300_000, phone="0912000001"), headers=shop.headers)
    work()
    make_user(app, "admin@example.com", "admin", password="correct horse battery")
    make_user(app, "=HYPERLINK@example.com", "analyst")
    make_user(app, "tel@example.com", "provider", "telecom")
    login(client, "admin@example.com")
    cid = client.get("/api/v1/customers/lookup?phone=0912000001", headers=telecom.headers).get_json()["id"]

    users = _csv(client, "/users.csv")
    assert users[0][:4] == ["id", "email", "name", "role"] and len(users) == 4
    assert "'=hyperlink@example.com" in [u[1] for u in users]  # formula injection defused
    audit = _csv(client, "/audit.csv?type=staff_user")
    assert audit[0] == ["id", "at", "actor", "action", "object_type", "object_id", "details"]
    assert {r[4] for r in audit[1:]} == {"staff_user"}
    txns = _csv(client, f"/customers/{cid}/transactions.csv")
    assert txns[0][:3] == ["id", "provider", "provider_txn_id"] and len(txns) == 3
    assert "'=cmd|'/C'!A0" in [t[2] for t in txns]
    days = _csv(client, "/dashboard.csv?table=days&days=7")
    assert days[0] == ["day", "issued", "redeemed"] and len(days) == 8 and sum(int(r[1]) for r in days[1:]) == 40
    assert _csv(client, "/dashboard.csv?table=tiers")[1] == ["none", "1"]
    volume = _csv(client, "/dashboard.csv?table=providers")
    assert sorted(r[0] for r in volume[1:]) == ["shop", "telecom"]
    for url in ("/providers.csv", "/rewards.csv", "/campaigns.csv", f"/customers/{cid}/ledger.csv"):
        assert len(_csv(client, url)) >= 2 or url == "/rewards.csv"

    provider = app.test_client()
    login(provider, "tel@example.com")
    mine = _csv(provider, "/dashboard.csv?table=providers")
    assert [r[0] for r in mine[1:]] == ["telecom"]
    assert [r[1] for r in _csv(provider, f"/customers/{cid}/transactions.csv")[1:]] == ["telecom"]
    assert provider.get("/audit.csv").status_code == 403 and provider.get("/users.csv").status_code == 403
