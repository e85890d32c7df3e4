"""Every staff UI route with every role (and anonymous): the allowed/denied matrix, and provider scoping."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from campaigns.catalog import documents as catalog
from campaigns.permissions import ACTIONS, PERMISSIONS, ROLES, allowed
from tests.helpers.api import txn
from tests.helpers.documents import BASE_EARNING
from tests.helpers.factories import make_provider, make_user
from tests.helpers.web import login
from webapp.extensions import db

SHOP_ONLY = BASE_EARNING.replace("name: Base earning", "name: Shop weekend\nproviders: [shop]")
TELECOM_ONLY = BASE_EARNING.replace("name: Base earning", "name: Telecom bonus\nproviders: [telecom]")


@pytest.fixture()
def world(app: Flask, client, work):
    """Two providers, a campaign for each, a customer of each, one user per role."""
    telecom = make_provider(app, "telecom")
    shop = make_provider(app, "shop")
    with app.app_context():
        ids = {}
        for name, doc in (("telecom", TELECOM_ONLY), ("shop", SHOP_ONLY), ("all", BASE_EARNING)):
            ids[name] = catalog.import_document(
                db.session, doc, fmt="yaml", author="t", publish=True, require_approval=False
            ).campaign_id
        db.session.commit()
    client.post("/api/v1/transactions", json=txn("t-1", phone="0912000001"), headers=telecom.headers)
    client.post("/api/v1/transactions", json=txn("s-1", phone="0912000002"), headers=shop.headers)
    work()
    telecom_customer = client.get("/api/v1/customers/lookup?phone=0912000001", headers=telecom.headers).get_json()
    shop_customer = client.get("/api/v1/customers/lookup?phone=0912000002", headers=shop.headers).get_json()
    users = {
        role: make_user(app, f"{role}@example.com", role, "telecom" if role == "provider" else None) for role in ROLES
    }
    victim = make_user(app, "victim@example.com", "analyst")
    from campaigns.models import Provider, StaffUser

    with app.app_context():
        victim_id = db.session.query(StaffUser.id).filter_by(email=victim).scalar()
        telecom_id = db.session.query(Provider.id).filter_by(code="telecom").scalar()
    return {
        "telecom": telecom,
        "shop": shop,
        "campaigns": ids,
        "telecom_customer": telecom_customer["id"],
        "shop_customer": shop_customer["id"],
        "users": users,
        "victim_id": victim_id,
        "telecom_id": telecom_id,
    }


def _routes(app: Flask, world) -> list[tuple[str, str, str, str | None]]:
    """(endpoint, method, url, action) for every staff UI route; logout last (it ends the session)."""
    params = {
        "campaign_id": world["campaigns"]["telecom"],
        "version": 1,
        "customer_id": world["telecom_customer"],
        "token_id": 999_999,
        "user_id": world["victim_id"],
        "provider_id": world["telecom_id"],
        "key_id": 999_999,
        "reward_id": 999_999,
        "merge_id": 999_999,
        "outbox_id": 999_999,
    }
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(("admin.", "auth.", "care.")):
            continue
        view = app.view_functions[rule.endpoint]
        assert hasattr(view, "permission"), f"{rule.endpoint} has neither @permission_required nor @public"
        action = view.permission
        assert action is None or action in ACTIONS
        url = rule.build({k: params.get(k, 999_999) for k in rule.arguments}, append_unknown=False)[1]  # ids of nothing
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((rule.endpoint, method, url, action))
    return sorted(out, key=lambda r: (r[0] == "auth.logout", r[1] == "POST", r[0]))


def test_every_route_with_every_role(app, client, world, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)  # CSRF has its own test; here: permissions only
    routes = _routes(app, world)
    assert len(routes) >= 25
    public = {r[0] for r in routes if r[3] is None}
    assert public == {"auth.login", "auth.oidc_login", "auth.oidc_callback"}
    problems = []
    for endpoint, method, url, action in routes:
        resp = client.open(url, method=method)
        if endpoint.startswith("auth.oidc_"):  # single sign-on is not configured here (tests/integration/test_sso_*.py)
            ok = resp.status_code == 404
        elif action is None:
            ok = resp.status_code in (200, 401)
        else:
            ok = resp.status_code == 302 and "/auth/login" in resp.headers["Location"]
        if not ok:
            problems.append(f"anonymous {method} {url}: {resp.status_code}")
    for role in ROLES:
        c = app.test_client()
        assert login(c, world["users"][role]).status_code == 302
        problems += _walk_as(c, role, routes)
    assert problems == []


def _walk_as(c: Any, role: str, routes: list[tuple[str, str, str, str | None]]) -> list[str]:
    """Every route with a client signed in as ``role``: allowed ones answer, the others are 403."""
    problems = []
    for endpoint, method, url, action in routes:
        if action is None:
            continue
        resp = c.open(url, method=method)
        if endpoint == "auth.logout":  # allowed to everyone signed in; it ends the session
            ended = c.get("/").status_code == 302
            if resp.status_code != 302 or not ended:
                problems.append(f"{role} could not sign out: {resp.status_code}")
        elif allowed(role, action):
            if resp.status_code == 403 or "/auth/login" in resp.headers.get("Location", ""):
                problems.append(f"{role} {method} {url} ({action}) denied: {resp.status_code}")
        elif resp.status_code != 403:
            problems.append(f"{role} {method} {url} ({action}) allowed: {resp.status_code}")
    return problems


@pytest.mark.slow
def test_every_route_with_every_role_signed_in_through_sso(app, world, monkeypatch):
    """The same matrix for people provisioned by OpenID Connect from their directory groups."""
    from tests.helpers.sso import ROLE_GROUPS, MockProvider, configure, oidc_settings, oidc_sign_in

    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)
    op = MockProvider()
    try:
        configure(app, monkeypatch, **oidc_settings(op.url))
        routes = _routes(app, world)
        problems = []
        for role in ROLES:
            op.set_user(f"{role}-sso", email=f"{role}-sso@example.com", groups=[ROLE_GROUPS[role]])
            c = app.test_client()
            assert oidc_sign_in(c, op, f"{role}-sso").status_code == 302
            with app.app_context():
                from campaigns.models import StaffUser

                user = db.session.query(StaffUser).filter_by(email=f"{role}-sso@example.com").one()
                assert (user.origin, user.role) == ("oidc", role)
            problems += _walk_as(c, role, routes)
    finally:
        op.stop()
    assert problems == []


def test_permission_table_is_the_documented_one():
    assert PERMISSIONS["admin"] == frozenset(ACTIONS)
    assert not allowed("analyst", "campaigns.edit") and allowed("analyst", "audit.view")
    assert allowed("care", "customers.adjust") and not allowed("care", "campaigns.view")
    assert allowed("provider", "customers.view") and not allowed("provider", "audit.view")
    assert not allowed(None, "dashboard.view")


def test_provider_user_sees_only_its_provider(app, client, world):
    login(client, world["users"]["provider"])
    listing = client.get("/campaigns").get_data(as_text=True)
    assert "Telecom bonus" in listing and "Base earning" in listing and "Shop weekend" not in listing
    assert client.get(f"/campaigns/{world['campaigns']['shop']}").status_code == 404
    assert client.get(f"/campaigns/{world['campaigns']['telecom']}").status_code == 200
    assert client.get(f"/customers/{world['shop_customer']}").status_code == 404
    assert client.get(f"/customers/{world['shop_customer']}/ledger.csv").status_code == 404
    assert client.get("/customers?kind=phone&q=0912000002").status_code == 404
    mine = client.get(f"/customers/{world['telecom_customer']}")
    assert mine.status_code == 200
    page = mine.get_data(as_text=True)
    assert "s-1" not in page and "t-1" in page
    csv = client.get(f"/customers/{world['telecom_customer']}/ledger.csv").get_data(as_text=True)
    assert csv.startswith("id,created_at,kind")
    dashboard = client.get("/").get_data(as_text=True)
    assert "Figures for telecom only" in dashboard
    assert '<span class="hint">shop</span>' not in dashboard  # the shop volume is not shown
    exported = client.get("/campaigns.csv")
    assert exported.status_code == 403


def test_marketer_sees_every_campaign_but_no_customers(app, client, world):
    login(client, world["users"]["marketer"])
    listing = client.get("/campaigns").get_data(as_text=True)
    assert "Shop weekend" in listing and "Telecom bonus" in listing
    assert client.get(f"/customers/{world['shop_customer']}").status_code == 403
