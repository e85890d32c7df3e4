"""Every provider-API route (from the Flask URL map, so a new one is covered without editing this file):

* with another provider's key it neither reads nor changes the first provider's data (404/403, or a list
  without the first provider's rows), and
* with a personal token of each staff role it answers as ``campaigns.permissions`` says (403 or not).
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from campaigns.permissions import ROLES, allowed
from tests.helpers.database import reset_all
from tests.security.world import SHOP_PHONE, TELECOM_PHONE, World, api_views, build_world

# Routes that take no object id of the first provider and create or list the caller's own data. A list is
# checked below for rows of the first provider; a create acts on the caller's own account.
OWN_DATA = {
    "POST /api/v1/transactions",
    "POST /api/v1/transactions/batch",
    "POST /api/v1/events",
    "POST /api/v1/imports",
    "POST /api/v1/webhooks",
    "POST /api/v1/groups",
    "POST /api/v1/redemptions",
    "POST /api/v1/point-payments",  # a payment at the caller's own checkout
    "POST /api/v1/point-transfers",  # between members whose identities the caller knows, in its own id namespace
    "POST /api/v1/identity-events",  # the phone authority's own events; any other provider gets 403
}
# Lists of the caller's own rows: (key of the list in the answer, what must not appear in it).
OWN_LISTS = {
    "GET /api/v1/imports": ("imports", "id", "import_id"),
    "GET /api/v1/webhooks": ("webhooks", "id", "sub_id"),
    "GET /api/v1/webhooks/deliveries": ("deliveries", "url", "hook_url"),
    "GET /api/v1/claims": ("claims", "id", "claim_id"),
    "GET /api/v1/settlement/statements/{period}": ("statements", "party", "provider_code"),
    "GET /api/v1/settlement/statements/{period}/entries": ("entries", "customer_id", "customer_id"),
}
# Shared by design, with the reason; the test fails when a route is added here without a reason.
SHARED = {
    "GET /api/v1/rewards": "the rewards catalog is the programme's, offered to every provider's customers",
    "GET /api/v1/rewards/{code}": "the rewards catalog is the programme's",
    "GET /api/v1/customers/lookup": "knowing a member's phone or national ID is what entitles a provider to "
    "serve them (the coalition's shared balance); an id alone is not enough (GET /customers/{id} is scoped)",
}


def _url(rule: Any, ids: dict[str, Any]) -> str:
    return rule.build({k: ids[k] for k in rule.arguments}, append_unknown=False)[1]


def _body(path: str) -> Any:
    """A body aimed at the first provider's objects, so a missing scope check would act on them."""
    if path.startswith("/api/v1/groups/{group_id}/"):
        return {"owner": {"phone": TELECOM_PHONE}, "customer": {"phone": "0912000003"}}
    if path.endswith("/reversal"):
        return {"reversal_id": "intruder"}
    if path.endswith("/refund"):
        return {"provider_refund_id": "intruder", "points": 1}
    if path.startswith("/api/v1/settings/"):
        return {"value": 1}
    return {}


def _snapshot(client: Any, world: World) -> dict[str, Any]:
    """The first provider's view of its own data (compared before and after the intruder's calls)."""
    h, ids = world.telecom.headers, world.ids
    urls = [
        f"/api/v1/transactions/{ids['txn_id']}",
        f"/api/v1/customers/{ids['customer_id']}",
        f"/api/v1/events/{ids['event_id']}",
        f"/api/v1/redemptions/{ids['redemption_id']}",
        f"/api/v1/point-payments/{ids['payment_id']}",
        f"/api/v1/point-transfers/{ids['transfer_id']}",
        f"/api/v1/groups/{ids['group_id']}",
        f"/api/v1/imports/{ids['import_id']}",
        "/api/v1/webhooks",
    ]
    out = {}
    for url in urls:
        resp = client.get(url, headers=h)
        assert resp.status_code == 200, (url, resp.get_json())
        out[url] = resp.get_json()
    return out


@pytest.fixture()
def world(app: Flask, redis_client) -> World:
    reset_all(app, redis_client)
    return build_world(app)


def test_another_providers_key_reaches_nothing_of_the_first(app: Flask, world: World) -> None:
    client = app.test_client()
    before = _snapshot(client, world)
    leaks, checked = [], set()
    for method, path, rule, view in api_views(app):
        kinds = getattr(view, "api_kinds", None)
        if kinds is None or "provider" not in kinds:
            continue  # staff-only routes (403 for a provider: the role test below) and the customer's /me
        label = f"{method} {path}"
        checked.add(label)
        url = _url(rule, world.ids)
        if path == "/api/v1/customers/lookup":
            url += f"?phone={TELECOM_PHONE}"
        resp = client.open(url, method=method, json=_body(path), headers=world.shop.headers)
        if label in OWN_LISTS:
            key, field, theirs = OWN_LISTS[label]
            rows = (resp.get_json() or {}).get(key)
            if resp.status_code != 200 or not isinstance(rows, list):
                leaks.append(f"{label}: {resp.status_code} {resp.get_data(as_text=True)[:200]}")
            elif any(row.get(field) == world.ids[theirs] for row in rows):
                leaks.append(f"{label}: lists the first provider's {theirs} {world.ids[theirs]}")
            continue
        if label in SHARED or label in OWN_DATA:
            continue
        assert rule.arguments, f"{label} takes no id: classify it in OWN_DATA or SHARED"
        if resp.status_code not in (403, 404):
            leaks.append(f"{label}: {resp.status_code} {resp.get_data(as_text=True)[:200]}")
    assert leaks == []
    assert _snapshot(client, world) == before
    assert set(SHARED) | OWN_DATA | set(OWN_LISTS) <= checked  # the exemptions name real routes
    # the intruder's own view of its own customer still works (the denials above are scoping, not breakage)
    assert client.get(f"/api/v1/customers/lookup?phone={SHOP_PHONE}", headers=world.shop.headers).status_code == 200


def _expected_allowed(role: str, kinds: tuple[str, ...], action: str | None) -> bool:
    """A provider-role user's token acts as its provider; other roles are staff with that role's actions."""
    if role == "provider":
        return "provider" in kinds
    return "staff" in kinds and (action is None or allowed(role, action))


def test_each_staff_role_token_gets_exactly_its_permissions(app: Flask, world: World) -> None:
    client = app.test_client()
    wrong = []
    routes = [r for r in api_views(app) if getattr(r[3], "api_kinds", None) is not None]
    assert len(routes) >= 30
    for role in ROLES:
        for method, path, rule, view in routes:
            resp = client.open(_url(rule, world.ids), method=method, json=_body(path), headers=world.role_tokens[role])
            should = _expected_allowed(role, view.api_kinds, view.api_action)
            denied = resp.status_code in (401, 403)
            if should == denied:
                wrong.append(f"{role} {method} {path}: {resp.status_code} (expected {'allow' if should else 'deny'})")
    assert wrong == []


def test_customer_token_and_no_key_reach_no_provider_or_staff_route(app: Flask, world: World) -> None:
    client = app.test_client()
    wrong = []
    for method, path, rule, view in api_views(app):
        if getattr(view, "api_kinds", None) is None:
            continue
        for headers in ({}, world.bearer(world.customer_token), world.bearer("lk_not-a-key")):
            resp = client.open(_url(rule, world.ids), method=method, json={}, headers=headers)
            if resp.status_code != 401:
                wrong.append(f"{method} {path} with {headers or 'no key'}: {resp.status_code}")
    assert wrong == []


@pytest.mark.parametrize("role", ["care"])
def test_staff_scoped_to_another_provider_reach_nothing_of_the_first(app: Flask, world: World, role: str) -> None:
    """A directory group can give a staff role limited to one provider (docs/sso.md): its token is scoped too."""
    from campaigns.access import sso
    from campaigns.access.users import create_token
    from webapp.extensions import db

    with app.app_context():
        who = sso.Identity("oidc", f"shop-{role}", f"shop-{role}@example.com", "", ("shop-staff",))
        user = sso.sign_in(db.session, who, {"shop-staff": sso.Grant(role, "shop")}).user
        assert user is not None
        headers = world.bearer(create_token(db.session, user, "tests"))
        db.session.commit()
    client = app.test_client()
    before = _snapshot(client, world)
    leaks = []
    for method, path, rule, view in api_views(app):
        kinds = getattr(view, "api_kinds", None)
        if kinds is None or "staff" not in kinds or not (view.api_action is None or allowed(role, view.api_action)):
            continue
        label = f"{method} {path}"
        url = _url(rule, world.ids)
        if path == "/api/v1/customers/lookup":
            url += f"?phone={TELECOM_PHONE}"
        resp = client.open(url, method=method, json=_body(path), headers=headers)
        if label in OWN_LISTS:
            key, field, theirs = OWN_LISTS[label]
            rows = (resp.get_json() or {}).get(key) or []
            if any(row.get(field) == world.ids[theirs] for row in rows):
                leaks.append(f"{label}: lists the first provider's {theirs} {world.ids[theirs]}")
            continue
        if label in SHARED or label in OWN_DATA or not rule.arguments:
            continue
        if resp.status_code not in (403, 404):
            leaks.append(f"{label}: {resp.status_code} {resp.get_data(as_text=True)[:120]}")
    assert _snapshot(client, world) == before
    assert leaks == [], "\n".join(leaks)
