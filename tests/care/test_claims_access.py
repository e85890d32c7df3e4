"""Who may see and work claims: roles on every claims route, and a provider user limited to its own queue."""

from __future__ import annotations

from sqlalchemy import select

from campaigns.models import Provider, Transaction
from campaigns.permissions import ROLES, allowed
from tests.care.claim_helpers import claim, field_error, setup, staff_login
from tests.helpers.api import txn
from tests.helpers.factories import make_user
from tests.helpers.web import csrf_token, login
from webapp.extensions import db


def _file(client, token, ref: str, provider: str) -> int:
    resp = client.post(
        "/care/claims",
        data={"csrf_token": token, "customer": "0912345678", "transaction_ref": ref, "provider": provider},
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return int(resp.headers["Location"].rsplit("/", 1)[1])


def test_provider_user_sees_and_works_only_its_own_queue(app, client, telecom, shop, staff, work):
    setup(client, staff, telecom, work, app)
    client.post("/api/v1/transactions", json=txn("s-1", 400_000), headers=shop.headers)
    work()
    token = staff_login(app, client, "care")
    mine, theirs = _file(client, token, "T-9", "telecom"), _file(client, token, "S-9", "shop")
    client.post("/auth/logout", data={"csrf_token": token})

    token = staff_login(app, client, "provider", provider="telecom")
    queue = client.get("/care/claims").get_data(as_text=True)
    assert f'data-claim-id="{mine}"' in queue and f'data-claim-id="{theirs}"' not in queue
    assert '<dd id="count-open">1</dd>' in queue
    assert client.get(f"/care/claims/{theirs}").status_code == 404
    for action in ("assign", "investigate", "reject", "resolve", "match"):
        assert client.post(f"/care/claims/{theirs}/{action}", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/care/claims/{mine}/explode", data={"csrf_token": token}).status_code == 404
    page = client.get(f"/care/claims/{mine}").get_data(as_text=True)
    assert "s-1" not in page and "t1" in page  # the 360 and candidates show only telecom's transactions
    away = client.post(f"/care/claims/{mine}/assign", data={"csrf_token": token, "queue": "shop"})
    assert away.status_code == 422
    assert field_error(away.get_data(as_text=True), "assign-queue").startswith("a provider user can keep a claim")
    assert client.post(f"/care/claims/{mine}/assign", data={"csrf_token": token}).status_code == 302
    assert client.post(f"/care/claims/{mine}/investigate", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        shop_txn = db.session.scalar(select(Transaction.id).where(Transaction.provider_txn_id == "s-1"))
    other = client.post(f"/care/claims/{mine}/match", data={"csrf_token": token, "transaction_id": str(shop_txn)})
    assert field_error(other.get_data(as_text=True), "match-transaction_id") == "not a transaction of this customer"
    # a claim filed by a provider user lands in its own queue whatever the form says
    filed = client.post(
        "/care/claims",
        data={"csrf_token": token, "customer": "0912345678", "transaction_ref": "P-1", "provider": "shop"},
    )
    assert filed.status_code == 302
    with app.app_context():
        telecom_id = db.session.scalar(select(Provider.id).where(Provider.code == "telecom"))
    assert claim(app, int(filed.headers["Location"].rsplit("/", 1)[1])).provider_id == telecom_id
    # handing it back to the care queue takes it out of the provider's sight
    assert client.post(f"/care/claims/{mine}/assign", data={"csrf_token": token, "queue": "care"}).status_code == 302
    assert client.get(f"/care/claims/{mine}").status_code == 404


def test_roles_on_every_claims_route(app, client, telecom, staff, work):
    setup(client, staff, telecom, work, app)
    token = staff_login(app, client, "admin")
    claim_id = _file(client, token, "R-1", "telecom")
    client.post("/auth/logout", data={"csrf_token": token})
    assert client.get("/care/claims").headers["Location"].startswith("/auth/login")
    assert client.get(f"/care/claims/{claim_id}").status_code == 302
    routes = [
        ("GET", "/care/claims", "care.view"),
        ("GET", f"/care/claims/{claim_id}", "care.view"),
        ("POST", "/care/claims", "claims.work"),
        ("POST", f"/care/claims/{claim_id}/investigate", "claims.work"),  # refused (open), but allowed to try
    ]
    for role in ROLES:
        c = app.test_client()
        email = make_user(app, f"r-{role}@example.com", role, provider="telecom" if role == "provider" else None)
        login(c, email)
        token = csrf_token(c, "/auth/tokens")
        for method, url, action in routes:
            resp = c.open(url, method=method, data={"csrf_token": token} if method == "POST" else None)
            if allowed(role, action):
                assert resp.status_code in (200, 302, 422), (role, url, resp.status_code)
            else:
                assert resp.status_code == 403, (role, url, resp.status_code)
        nav = c.get("/care/alerts" if allowed(role, "care.view") else "/auth/tokens").get_data(as_text=True)
        assert ('href="/care/claims"' in nav) is allowed(role, "care.view")
    assert claim(app, claim_id).status == "open"


def test_claims_api_is_scoped_to_the_provider_key(app, client, telecom, shop, staff, work):
    setup(client, staff, telecom, work, app)
    token = staff_login(app, client, "care")
    mine, theirs = _file(client, token, "T-9", "telecom"), _file(client, token, "S-9", "shop")
    assert client.get("/api/v1/claims").status_code == 401
    got = client.get("/api/v1/claims", headers=telecom.headers)
    assert got.status_code == 200
    [row] = got.get_json()["claims"]
    assert (row["id"], row["queue"], row["status"], row["transaction_ref"]) == (mine, "telecom", "open", "T-9")
    assert [r["id"] for r in client.get("/api/v1/claims", headers=shop.headers).get_json()["claims"]] == [theirs]
    every = client.get("/api/v1/claims?state=all", headers=staff)
    assert every.status_code == 422 and every.get_json()["error"]["fields"][0]["path"] == "state"
    assert {r["id"] for r in client.get("/api/v1/claims", headers=staff).get_json()["claims"]} == {mine, theirs}
    assert client.get("/api/v1/claims?state=resolved", headers=telecom.headers).get_json()["claims"] == []
    assert "/api/v1/claims" in client.get("/api/v1/openapi.json").get_json()["paths"]
