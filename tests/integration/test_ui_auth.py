"""Staff accounts: sign-in, lock-out, CSRF, session expiry, password change, personal API tokens."""

from __future__ import annotations

import re
import time
from datetime import timedelta

from sqlalchemy import select, update

from campaigns.clock import utcnow
from campaigns.models import ApiKey, AuditEvent, StaffUser
from tests.helpers.documents import BASE_EARNING
from tests.helpers.factories import PASSWORD, make_provider, make_user
from tests.helpers.web import csrf_token, login
from webapp.extensions import db


def test_login_logout_and_security_headers(app, client):
    make_user(app, "m@example.com", "marketer")
    page = client.get("/auth/login")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["X-Content-Type-Options"] == "nosniff"
    assert 'autocomplete="current-password"' in page.get_data(as_text=True)
    assert client.get("/campaigns").headers["Location"].startswith("/auth/login?next=")
    bad = login(client, "m@example.com", "wrong password!")
    assert bad.status_code == 401 and "do not match" in bad.get_data(as_text=True)
    unknown = login(client, "nobody@example.com", "wrong password!")
    assert unknown.status_code == 401  # same answer: no account enumeration
    ok = login(client, "M@Example.com ", PASSWORD)
    assert ok.status_code == 302 and ok.headers["Location"] == "/"
    cookie = ok.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
    assert client.get("/campaigns").status_code == 200
    out = client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/")})
    assert out.status_code == 302
    assert client.get("/campaigns").status_code == 302


def test_next_is_never_an_open_redirect(app, client):
    make_user(app, "m@example.com", "marketer")
    token = csrf_token(client)
    resp = client.post(
        "/auth/login?next=https://evil.example/x",
        data={"email": "m@example.com", "password": PASSWORD, "csrf_token": token},
    )
    assert resp.headers["Location"] == "/"
    client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/")})
    token = csrf_token(client)
    resp = client.post(
        "/auth/login?next=/campaigns", data={"email": "m@example.com", "password": PASSWORD, "csrf_token": token}
    )
    assert resp.headers["Location"] == "/campaigns"


def test_csrf_is_required_on_every_form_but_not_on_the_api(app, client, staff):
    make_user(app, "m@example.com", "marketer")
    no_token = client.post("/auth/login", data={"email": "m@example.com", "password": PASSWORD})
    assert no_token.status_code == 400 and "CSRF" in no_token.get_data(as_text=True)
    login(client, "m@example.com")
    assert client.post("/campaigns", data={"source": BASE_EARNING}).status_code == 400
    assert client.post("/campaigns/validate", json={"source": BASE_EARNING}).status_code == 400
    token = csrf_token(client, "/")
    ok = client.post("/campaigns/validate", json={"source": BASE_EARNING}, headers={"X-CSRFToken": token})
    assert ok.status_code == 200 and ok.get_json()["valid"] is True
    api = client.post(
        "/api/v1/campaigns/validate", data=BASE_EARNING, headers={**staff, "Content-Type": "application/yaml"}
    )
    assert api.status_code == 200


def test_lockout_after_five_failures_for_fifteen_minutes(app, client):
    make_user(app, "c@example.com", "care")
    for _ in range(4):
        assert login(client, "c@example.com", "nope nope nope").status_code == 401
    locked = login(client, "c@example.com", "nope nope nope")
    assert locked.status_code == 429 and "locked for 15 minutes" in locked.get_data(as_text=True)
    assert login(client, "c@example.com", PASSWORD).status_code == 429  # even the right password
    with app.app_context():
        user = db.session.scalar(select(StaffUser).where(StaffUser.email == "c@example.com"))
        assert user.locked_until > utcnow() + timedelta(minutes=14)
        assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.action == "user.locked"))
        db.session.execute(update(StaffUser).values(locked_until=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert login(client, "c@example.com", PASSWORD).status_code == 302
    runner = app.test_cli_runner()
    for _ in range(5):
        login(app.test_client(), "c@example.com", "nope nope nope")
    assert login(app.test_client(), "c@example.com", PASSWORD).status_code == 429
    assert runner.invoke(args=["users", "unlock", "c@example.com"]).exit_code == 0
    assert login(app.test_client(), "c@example.com", PASSWORD).status_code == 302


def test_session_expires_after_the_configured_lifetime(app, client):
    make_user(app, "a@example.com", "analyst")
    login(client, "a@example.com")
    assert client.get("/").status_code == 200
    lifetime = app.permanent_session_lifetime
    assert lifetime == timedelta(hours=8)
    with client.session_transaction() as sess:
        sess["login_at"] = int(time.time() - lifetime.total_seconds() - 5)
    assert client.get("/").status_code == 302


def test_password_change_ends_other_sessions(app, client):
    make_user(app, "m@example.com", "marketer")
    other = app.test_client()
    login(client, "m@example.com")
    login(other, "m@example.com")
    token = csrf_token(client, "/auth/password")
    weak = client.post(
        "/auth/password",
        data={"current_password": PASSWORD, "new_password": "short", "confirm_password": "short", "csrf_token": token},
    )
    assert weak.status_code == 422 and "at least 10 characters" in weak.get_data(as_text=True)
    wrong = client.post(
        "/auth/password",
        data={
            "current_password": "bad",
            "new_password": "a new passphrase",
            "confirm_password": "a new passphrase",
            "csrf_token": token,
        },
    )
    assert wrong.status_code == 422
    ok = client.post(
        "/auth/password",
        data={
            "current_password": PASSWORD,
            "new_password": "a new passphrase",
            "confirm_password": "a new passphrase",
            "csrf_token": token,
        },
    )
    assert ok.status_code == 302
    assert client.get("/").status_code == 200  # this session goes on
    assert other.get("/").status_code == 302  # the other one ended
    assert login(app.test_client(), "m@example.com", PASSWORD).status_code == 401
    assert login(app.test_client(), "m@example.com", "a new passphrase").status_code == 302


def test_users_cli_contract(app, clean):
    runner = app.test_cli_runner()
    make_provider(app, "telecom")
    out = runner.invoke(
        args=["users", "create", "ops@example.com", "--role", "admin"], input="a long password\na long password\n"
    )
    assert out.exit_code == 0, out.output
    assert "Created user ops@example.com (admin)" in out.output
    prov = runner.invoke(
        args=[
            "users",
            "create",
            "t@example.com",
            "--role",
            "provider",
            "--provider",
            "telecom",
            "--password",
            "another long one",
        ]
    )
    assert prov.exit_code == 0, prov.output
    missing = runner.invoke(
        args=["users", "create", "x@example.com", "--role", "provider", "--password", "another long one"]
    )
    assert missing.exit_code == 1 and "provider" in missing.output
    dup = runner.invoke(args=["users", "create", "ops@example.com", "--role", "admin", "--password", "a long password"])
    assert dup.exit_code == 1 and "already exists" in dup.output
    with app.app_context():
        hashed = db.session.scalar(select(StaffUser.password_hash).where(StaffUser.email == "ops@example.com"))
    assert hashed.startswith("$argon2id$")
    listed = runner.invoke(args=["users", "list"])
    assert "t@example.com" in listed.output and "telecom" in listed.output


def _create_token(client, name="ci"):
    token = csrf_token(client, "/auth/tokens")
    page = client.post("/auth/tokens", data={"name": name, "csrf_token": token}).get_data(as_text=True)
    match = re.search(r'id="new-token">([^<]+)<', page)
    assert match, page[:500]
    return match.group(1)


def test_personal_tokens_carry_role_and_scope(app, client, work):
    telecom = make_provider(app, "telecom")
    make_provider(app, "shop")
    make_user(app, "m@example.com", "marketer")
    make_user(app, "c@example.com", "care")
    make_user(app, "t@example.com", "provider", "telecom")

    login(client, "m@example.com")
    key = _create_token(client)
    assert key.startswith("lu_")
    assert client.get("/auth/tokens").get_data(as_text=True).count(key) == 0  # shown once only
    bearer = {"Authorization": f"Bearer {key}"}
    created = client.post(
        "/api/v1/campaigns?publish=true", data=BASE_EARNING, headers={**bearer, "Content-Type": "application/yaml"}
    )
    assert created.status_code == 201
    assert created.get_json()["versions"][0]["author"] == "m@example.com"
    assert client.get("/api/v1/settings", headers=bearer).status_code == 403  # marketers do not manage settings
    assert client.get("/api/v1/customers/lookup?phone=0912345678", headers=bearer).status_code == 403

    care = app.test_client()
    login(care, "c@example.com")
    care_key = {"Authorization": f"Bearer {_create_token(care)}"}
    assert care.get("/api/v1/campaigns", headers=care_key).status_code == 403
    client.post(
        "/api/v1/transactions",
        json={
            "provider_txn_id": "x1",
            "customer": {"phone": "0912345678"},
            "amount": 150000,
            "currency": "VND",
            "occurred_at": utcnow().isoformat(),
        },
        headers=telecom.headers,
    )
    work()
    assert care.get("/api/v1/customers/lookup?phone=0912345678", headers=care_key).status_code == 200

    prov = app.test_client()
    login(prov, "t@example.com")
    prov_key = {"Authorization": f"Bearer {_create_token(prov)}"}
    assert prov.get("/api/v1/campaigns", headers=prov_key).status_code == 403
    cid = prov.get("/api/v1/customers/lookup?phone=0912345678", headers=prov_key).get_json()["id"]
    assert prov.get(f"/api/v1/customers/{cid}", headers=prov_key).status_code == 200

    with app.app_context():
        token_id = db.session.scalar(
            select(ApiKey.id).where(ApiKey.kind == "user", ApiKey.name == "ci").order_by(ApiKey.id)
        )
    other_revoke = care.post(f"/auth/tokens/{token_id}/revoke", data={"csrf_token": csrf_token(care, "/")})
    assert other_revoke.status_code == 404  # not your token
    assert (
        client.post(f"/auth/tokens/{token_id}/revoke", data={"csrf_token": csrf_token(client, "/")}).status_code == 302
    )
    assert client.get("/api/v1/campaigns", headers=bearer).status_code == 401


def test_legacy_staff_token_is_an_admin(client, staff):
    assert client.get("/api/v1/settings", headers=staff).status_code == 200
    assert client.get("/api/v1/campaigns", headers=staff).status_code == 200
