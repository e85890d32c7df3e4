"""Staff sign-in through OpenID Connect against a real provider process (``oidc-provider-mock`` from PyPI).

The provider runs as its own process on a free port: discovery, JWKS, PKCE, nonce and RP-initiated logout are
its code, not ours. People are given groups through its user API, and changed between two sign-ins.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import time_machine
from flask import Flask
from sqlalchemy import select

from campaigns.models import AuditEvent, StaffUser
from tests.helpers.api import txn
from tests.helpers.factories import make_provider, make_user
from tests.helpers.sso import MockProvider, configure, oidc_settings, oidc_sign_in
from tests.helpers.web import csrf_token, login
from webapp.extensions import db

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def op() -> Iterator[MockProvider]:
    provider = MockProvider()
    try:
        yield provider
    finally:
        provider.stop()


@pytest.fixture()
def sso(app: Flask, clean: None, op: MockProvider, monkeypatch: Any) -> MockProvider:
    configure(app, monkeypatch, **oidc_settings(op.url))
    return op


def _user(app: Flask, email: str) -> StaffUser | None:
    with app.app_context():
        user = db.session.scalar(select(StaffUser).where(StaffUser.email == email))
        if user is not None:
            db.session.expunge(user)
        return user


def _audit(app: Flask, action: str) -> list[AuditEvent]:
    with app.app_context():
        rows = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))
        for row in rows:
            db.session.expunge(row)
        return rows


def _new_token(page: Any) -> str:
    match = re.search(r'id="new-token">([^<]+)<', page.get_data(as_text=True))
    assert match, page.get_data(as_text=True)[:500]
    return match.group(1).strip()


def test_login_page_offers_the_organisation(app, client, sso):
    page = client.get("/auth/login").get_data(as_text=True)
    assert "Sign in with Tập đoàn Example" in page and 'href="/auth/oidc/login"' in page


def test_a_marketer_is_provisioned_at_the_first_sign_in(app, client, sso):
    sso.set_user("ann", email="Ann@Example.com", name="Ann Nguyen", groups=["loyalty-marketing", "unrelated"])
    resp = oidc_sign_in(client, sso, "ann")
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    assert client.get("/campaigns").status_code == 200
    assert client.get("/customers").status_code == 403  # a marketer's rights, no more
    user = _user(app, "ann@example.com")
    assert user is not None
    assert (user.origin, user.external_subject, user.role, user.provider_id, user.name) == (
        "oidc",
        "ann",
        "marketer",
        None,
        "Ann Nguyen",
    )
    assert [e.details["role"] for e in _audit(app, "sso.provisioned")] == ["marketer"]
    assert len(_audit(app, "sso.signed_in")) == 1
    # a directory user has no password here
    other = app.test_client()
    assert login(other, "ann@example.com", "anything at all 123").status_code == 401


def test_a_care_agent_is_scoped_to_one_provider(app, client, sso, work):
    post = make_provider(app, "post")
    telecom = make_provider(app, "telecom")
    from campaigns.catalog import documents as catalog
    from tests.helpers.documents import BASE_EARNING

    with app.app_context():
        catalog.import_document(db.session, BASE_EARNING, fmt="yaml", author="t", publish=True, require_approval=False)
        db.session.commit()
    client.post("/api/v1/transactions", json=txn("p-1", phone="0912000001"), headers=post.headers)
    client.post("/api/v1/transactions", json=txn("t-1", phone="0912000002"), headers=telecom.headers)
    work()
    post_customer = client.get("/api/v1/customers/lookup?phone=0912000001", headers=post.headers).get_json()["id"]
    telecom_customer = client.get("/api/v1/customers/lookup?phone=0912000002", headers=telecom.headers).get_json()["id"]
    sso.set_user("binh", email="binh@example.com", groups=["post-care"])
    assert oidc_sign_in(client, sso, "binh").status_code == 302
    user = _user(app, "binh@example.com")
    assert user is not None and user.role == "care" and user.provider_id is not None
    assert client.get(f"/customers/{post_customer}").status_code == 200
    assert client.get(f"/customers/{telecom_customer}").status_code == 404
    assert client.get("/customers?kind=phone&q=0912000002").status_code == 404
    # the care agent's personal API token is scoped the same way
    page = client.post("/auth/tokens", data={"name": "desk", "csrf_token": csrf_token(client, "/auth/tokens")})
    token = _new_token(page)
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/api/v1/customers/{post_customer}", headers=bearer).status_code == 200
    assert client.get(f"/api/v1/customers/{telecom_customer}", headers=bearer).status_code == 404


def test_a_person_with_no_mapped_group_is_refused_and_audited(app, client, sso):
    sso.set_user("chi", email="chi@example.com", groups=["canteen"])
    resp = oidc_sign_in(client, sso, "chi")
    assert resp.status_code == 403
    assert "not in any group that gives access" in resp.get_data(as_text=True)
    assert client.get("/").status_code == 302  # not signed in
    assert _user(app, "chi@example.com") is None
    refused = _audit(app, "sso.refused")
    assert [(e.actor, e.details["reason"], e.details["groups"]) for e in refused] == [
        ("chi@example.com", "no_group", ["canteen"])
    ]


def test_a_group_change_is_read_at_the_next_sign_in(app, client, sso):
    sso.set_user("dung", email="dung@example.com", groups=["loyalty-marketing"])
    assert oidc_sign_in(client, sso, "dung").status_code == 302
    page = client.post("/auth/tokens", data={"name": "cli", "csrf_token": csrf_token(client, "/auth/tokens")})
    token = _new_token(page)
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/campaigns", headers=bearer).status_code == 200

    sso.set_user("dung", email="dung@example.com", groups=["care"])  # moved from marketing to care
    later = app.test_client()
    assert oidc_sign_in(later, sso, "dung").status_code == 302
    assert later.get("/campaigns").status_code == 403  # marketing rights are gone
    assert later.get("/customers").status_code == 200
    assert client.get("/campaigns").status_code == 302  # the session opened as a marketer has ended
    from webapp.api.auth import forget_cached_keys

    forget_cached_keys()
    assert client.get("/api/v1/campaigns", headers=bearer).status_code == 401  # created under the old role
    user = _user(app, "dung@example.com")
    assert user is not None and user.role == "care"
    changes = _audit(app, "sso.role_changed")
    assert [(e.details["from"]["role"], e.details["to"]["role"]) for e in changes] == [("marketer", "care")]


def test_a_disabled_person_is_refused_and_their_tokens_stop(app, client, sso):
    make_user(app, "root@example.com", "admin")
    sso.set_user("em", email="em@example.com", groups=["loyalty-analysts"])
    assert oidc_sign_in(client, sso, "em").status_code == 302
    made = client.post("/auth/tokens", data={"name": "x", "csrf_token": csrf_token(client, "/auth/tokens")})
    bearer = {"Authorization": f"Bearer {_new_token(made)}"}
    assert client.get("/api/v1/campaigns", headers=bearer).status_code == 200
    em = _user(app, "em@example.com")
    assert em is not None
    admin = app.test_client()
    login(admin, "root@example.com")
    token = csrf_token(admin, "/users")
    assert admin.post(f"/users/{em.id}/active", data={"active": "0", "csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302
    assert client.get("/api/v1/campaigns", headers=bearer).status_code == 401
    again = app.test_client()
    resp = oidc_sign_in(again, sso, "em")
    assert resp.status_code == 403 and "deactivated" in resp.get_data(as_text=True)
    assert [e.details["reason"] for e in _audit(app, "sso.refused")] == ["inactive"]


def test_an_administrator_ends_a_persons_sessions_at_once(app, client, sso):
    make_user(app, "root@example.com", "admin")
    sso.set_user("gia", email="gia@example.com", groups=["loyalty-finance"])
    assert oidc_sign_in(client, sso, "gia").status_code == 302
    assert client.get("/").status_code == 200
    gia = _user(app, "gia@example.com")
    assert gia is not None
    admin = app.test_client()
    login(admin, "root@example.com")
    ended = admin.post(f"/users/{gia.id}/sessions/end", data={"csrf_token": csrf_token(admin, "/users")})
    assert ended.status_code == 302
    assert client.get("/").status_code == 302  # signed out on the very next request
    assert [e.actor for e in _audit(app, "user.sessions_ended")] == ["root@example.com"]
    assert oidc_sign_in(client, sso, "gia").status_code == 302  # a new sign-in works


def test_a_replayed_state_is_refused(app, client, sso):
    sso.set_user("hoa", email="hoa@example.com", groups=["loyalty-marketing"])
    start = client.get("/auth/oidc/login")
    back = sso.authorize(start.headers["Location"], "hoa")
    assert client.get(back).status_code == 302
    replay = client.get(back)  # the same state and code again, in the same browser
    # still signed in as the new directory user, who has no language yet: the programme's (vi)
    assert replay.status_code == 400 and "Liên kết đăng nhập này đã cũ" in replay.get_data(as_text=True)
    elsewhere = app.test_client().get(back)  # or in another one
    assert elsewhere.status_code == 400
    assert {e.details["reason"] for e in _audit(app, "sso.failed")} == {"bad_state"}


def test_sign_out_ends_the_session_at_the_issuer(app, client, sso):
    sso.set_user("khanh", email="khanh@example.com", groups=["loyalty-marketing"])
    assert oidc_sign_in(client, sso, "khanh").status_code == 302
    resp = client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/")})
    assert resp.status_code == 302
    target = urlsplit(resp.headers["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{sso.url}/oauth2/end_session"
    query = parse_qs(target.query)
    assert query["post_logout_redirect_uri"] == ["http://localhost/auth/login"]
    assert query["id_token_hint"][0].count(".") == 2
    confirm = requests.post(
        f"{sso.url}/oauth2/end_session/confirm",
        data={"redirect_uri": query["post_logout_redirect_uri"][0]},
        allow_redirects=False,
        timeout=5,
    )
    assert confirm.headers["Location"] == "http://localhost/auth/login"
    assert client.get("/").status_code == 302


def test_sessions_never_outlive_the_configured_length(app, client, sso, monkeypatch):
    sso.set_user("lan", email="lan@example.com", groups=["loyalty-marketing"])
    assert oidc_sign_in(client, sso, "lan").status_code == 302
    assert client.get("/").status_code == 200
    with time_machine.travel(time.time() + 8 * 3600 + 60, tick=False):  # LOYALTY_SESSION_HOURS=8
        assert client.get("/").status_code == 302


def test_local_sign_in_off_leaves_only_break_glass(app, client, sso, monkeypatch):
    configure(app, monkeypatch, local_login=False)
    make_user(app, "root@example.com", "admin")
    make_user(app, "plain@example.com", "marketer")
    page = client.get("/auth/login").get_data(as_text=True)
    assert "break-glass accounts only" in page
    refused = login(client, "plain@example.com")
    assert refused.status_code == 403 and "organisation" in refused.get_data(as_text=True)
    assert login(client, "root@example.com").status_code == 403
    with app.app_context():
        from campaigns.access import sso as sso_service

        root = db.session.scalar(select(StaffUser).where(StaffUser.email == "root@example.com"))
        assert root is not None
        sso_service.set_break_glass(db.session, root, True, actor="cli")
        db.session.commit()
    assert login(client, "root@example.com").status_code == 302
    assert [e.action for e in _audit(app, "user.break_glass_set")] == ["user.break_glass_set"]
