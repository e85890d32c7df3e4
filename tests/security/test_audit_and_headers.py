"""Every staff action that changes data leaves an audit event; HTML security headers, HSTS over TLS, cookies.

The POST routes come from the URL map: a new one fails the walk until it is given a step below (and so
proves its audit event) or is listed, with the reason, as one that changes no programme data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from campaigns.models import (
    Alert,
    ApiKey,
    AuditEvent,
    Campaign,
    Claim,
    CustomerMerge,
    ErasureRequest,
    Outbox,
    Provider,
    StaffUser,
)
from tests.helpers.api import run_worker, txn
from tests.helpers.documents import BASE_EARNING
from tests.helpers.factories import PASSWORD, make_provider, make_user
from tests.helpers.services import settings_for_tests
from tests.helpers.web import login
from tests.integration.test_ui_catalog import form_of
from webapp.extensions import db

NO_DATA_CHANGE = {
    "admin.validate_campaign": "checks a document, stores nothing",
    "admin.simulate_campaign": "a dry run, rolled back",
    "admin.read_campaign": "reads a document into the form builder, stores nothing",
    "auth.login": "signs in (the failure counter belongs to the lock-out, not to a staff action)",
    "auth.logout": "ends the session only",
}
DOC = BASE_EARNING.replace("name: Base earning", "name: Audited")


def _one(app: Flask, stmt: Any) -> Any:
    with app.app_context():
        return db.session.scalar(stmt)


def test_every_data_changing_staff_post_writes_an_audit_event(app: Flask, client, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)  # CSRF has its own tests
    telecom = make_provider(app, "telecom")
    hook = {"url": "https://example.com/h", "events": ["points_credited"]}
    assert client.post("/api/v1/webhooks", json=hook, headers=telecom.headers).status_code == 201
    for ref, phone in (("t-1", "0912000001"), ("t-2", "0912000002")):
        client.post("/api/v1/transactions", json=txn(ref, phone=phone), headers=telecom.headers)
    make_user(app, "a@example.com", "admin")
    make_user(app, "b@example.com", "admin")
    make_user(app, "victim@example.com", "analyst")
    a, b = app.test_client(), app.test_client()
    assert login(a, "a@example.com").status_code == 302 and login(b, "b@example.com").status_code == 302
    with app.app_context():
        from campaigns.catalog import documents as catalog

        catalog.import_document(
            db.session, BASE_EARNING, fmt="yaml", author="setup", publish=True, require_approval=False
        )
        db.session.commit()
    run_worker(app)
    telecom_id = _one(app, select(Provider.id).where(Provider.code == "telecom"))
    with app.app_context():
        from campaigns.care import alerts

        late = alerts.Condition(key="audit:telecom", severity="warning", subject="Late", message="3 late")
        alerts.reconcile(db.session, "audit", [late])
        db.session.commit()
    victim = _one(app, select(StaffUser.id).where(StaffUser.email == "victim@example.com"))
    with app.app_context():
        from campaigns.accounts.profile import find

        c1, c2 = find(db.session, "phone", "0912000001"), find(db.session, "phone", "0912000002")

    def transfer() -> dict[str, int]:
        """A transfer of the 5 points the adjustment step just gave c1, made through the API."""
        send = {"provider_transfer_id": "a-1", "from": {"phone": "0912000001"}, "to": {"phone": "0912000002"}}
        sent = client.post("/api/v1/point-transfers", json={**send, "points": 5}, headers=telecom.headers)
        assert sent.status_code == 201, sent.get_json()
        return {"customer_id": c1, "transfer_id": sent.get_json()["id"]}

    def campaign() -> int:
        return _one(app, select(Campaign.id).where(Campaign.name == "Audited"))

    def latest_key() -> int:
        return _one(app, select(func.max(ApiKey.id)).where(ApiKey.provider_id == telecom_id))

    def my_token() -> int:
        me = _one(app, select(StaffUser.id).where(StaffUser.email == "a@example.com"))
        return _one(app, select(func.max(ApiKey.id)).where(ApiKey.user_id == me))

    tiers = form_of(a.get("/tiers").get_data(as_text=True), "/tiers")
    tiers.update({"t0-code": "gold", "t0-name": "Gold", "t0-rank": "1", "t0-c0-var": "spend_365d"})
    tiers["t0-c0-val"] = "1000000"
    new_password = "another long pass phrase"
    # (endpoint, client, url arguments, form); arguments may be computed when the step runs
    steps: list[tuple[str, Any, Callable[[], dict[str, Any]], dict[str, str]]] = [
        ("admin.save_campaign", a, dict, {"source": DOC, "format": "yaml"}),
        ("admin.save_campaign", a, dict, {"source": DOC.replace("points: 1,", "points: 2,"), "format": "yaml"}),
        ("admin.save_campaign", a, dict, {"source": DOC.replace("points: 1,", "points: 3,"), "format": "yaml"}),
        ("admin.submit_campaign", a, lambda: {"campaign_id": campaign(), "version": 1}, {}),
        ("admin.approve_campaign", b, lambda: {"campaign_id": campaign(), "version": 1}, {}),
        ("admin.publish_campaign", a, lambda: {"campaign_id": campaign(), "version": 1}, {}),
        ("admin.submit_campaign", a, lambda: {"campaign_id": campaign(), "version": 2}, {}),
        ("admin.reject_campaign", b, lambda: {"campaign_id": campaign(), "version": 2}, {}),
        ("admin.schedule_campaign", a, lambda: {"campaign_id": campaign(), "version": 3}, {"at": "2031-01-01T10:00"}),
        ("admin.unschedule_campaign", a, lambda: {"campaign_id": campaign(), "version": 3}, {}),
        ("admin.archive_campaign", a, lambda: {"campaign_id": campaign()}, {}),
        ("admin.tiers_save", a, dict, tiers),
        ("admin.reward_save", a, dict, {"code": "coffee", "name": "Coffee", "cost": "10", "voucher_days": "30"}),
        ("admin.adjust_customer", a, lambda: {"customer_id": c1}, {"points": "5", "reason": "goodwill gesture"}),
        ("admin.reverse_transfer", a, transfer, {}),
        (
            "admin.merge_customer",
            a,
            lambda: {"customer_id": c1},
            {"merge_kind": "id", "merge_q": str(c2), "merge_reason": "same person, two phones"},
        ),
        ("admin.unmerge_customer", a, lambda: {"merge_id": _one(app, select(func.max(CustomerMerge.id)))}, {}),
        ("admin.providers_create", a, dict, {"code": "shop", "name": "Shop"}),
        ("admin.providers_new_key", a, lambda: {"provider_id": telecom_id}, {"name": "second"}),
        ("admin.providers_revoke_key", a, lambda: {"provider_id": telecom_id, "key_id": latest_key()}, {}),
        ("admin.users_create", a, dict, {"email": "n@example.com", "password": PASSWORD, "role": "analyst"}),
        ("admin.users_unlock", a, lambda: {"user_id": victim}, {}),
        ("admin.users_break_glass", a, lambda: {"user_id": victim}, {"break_glass": "1"}),
        ("admin.users_end_sessions", a, lambda: {"user_id": victim}, {}),
        ("admin.users_active", a, lambda: {"user_id": victim}, {"active": "0"}),
        (
            "admin.webhook_replay",
            a,
            lambda: {"outbox_id": _one(app, select(func.max(Outbox.id)).where(Outbox.channel == "webhook"))},
            {},
        ),
        ("admin.finance_set_rates", a, dict, {"provider": "telecom", "issue_cost": "10", "redemption_rate": "8"}),
        ("admin.finance_close", a, dict, {"period": "2026-11"}),
        ("auth.tokens", a, dict, {"name": "laptop"}),
        ("auth.language", a, dict, {"language": "en"}),
        ("auth.revoke_token", a, lambda: {"token_id": my_token()}, {}),
        ("care.alert_acknowledge", a, lambda: {"alert_id": _one(app, select(func.max(Alert.id)))}, {}),
        ("care.alert_resolve", a, lambda: {"alert_id": _one(app, select(func.max(Alert.id)))}, {"resolution": "ok"}),
        (
            "care.claim_file",
            a,
            dict,
            {"customer_kind": "phone", "customer": "0912000001", "transaction_ref": "r-9", "description": "missing"},
        ),
        (
            "care.claim_act",
            a,
            lambda: {"claim_id": _one(app, select(func.max(Claim.id))), "action": "assign"},
            {"queue": "telecom", "note": "theirs"},
        ),
        (
            "care.claim_act",
            a,
            lambda: {"claim_id": _one(app, select(func.max(Claim.id))), "action": "investigate"},
            {"note": "looking"},
        ),
        (
            "care.claim_act",
            a,
            lambda: {"claim_id": _one(app, select(func.max(Claim.id))), "action": "reject"},
            {"reason": "no such purchase"},
        ),
        (
            "care.sla_settings",
            a,
            dict,
            {"minutes": "30", "warning_percent": "80", "critical_factor": "2", "critical_count": "100"},
        ),
        ("admin.reveal_customer", a, lambda: {"customer_id": c1}, {"reveal_reason": "caller verified"}),
        ("admin.request_erasure", a, lambda: {"customer_id": c1}, {"erase_reason": "a letter, unsigned"}),
        (
            "admin.reject_erasure",
            b,
            lambda: {"request_id": _one(app, select(func.max(ErasureRequest.id)))},
            {"reject_reason": "not the person's signature"},
        ),
        ("admin.request_erasure", a, lambda: {"customer_id": c2}, {"erase_reason": "the person asked"}),
        (
            "auth.password",
            a,
            dict,
            {"current_password": PASSWORD, "new_password": new_password, "confirm_password": new_password},
        ),
        ("admin.approve_erasure", b, lambda: {"request_id": _one(app, select(func.max(ErasureRequest.id)))}, {}),
    ]
    posts = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith(("admin.", "auth.", "care.")) and "POST" in rule.methods
    }
    assert set(NO_DATA_CHANGE) <= posts
    assert posts - set(NO_DATA_CHANGE) == {s[0] for s in steps}, "give each new POST route a step here"
    emails = {id(a): "a@example.com", id(b): "b@example.com"}
    missing = []
    for endpoint, who, args, form in steps:
        with app.test_request_context():
            from flask import url_for

            url = url_for(endpoint, **args())
        before = _one(app, select(func.max(AuditEvent.id))) or 0
        resp = who.post(url, data=form)
        ok = resp.status_code in (200, 201, 302) and "/auth/login" not in resp.headers.get("Location", "")
        assert ok, f"{endpoint}: {resp.status_code} {resp.get_data(as_text=True)[:300]}"
        with who.session_transaction() as sess:  # a refused action redirects too, with an error message
            refused = [m for category, m in sess.pop("_flashes", []) if category == "error"]
        assert not refused, f"{endpoint}: {refused}"
        with app.app_context():
            events = db.session.scalars(select(AuditEvent).where(AuditEvent.id > before)).all()
        if not any(e.actor == emails[id(who)] for e in events):
            missing.append(f"{endpoint} ({resp.status_code}): {[(e.actor, e.action) for e in events]}")
    assert missing == []


def test_html_security_headers_and_hsts_only_over_tls(app: Flask, client) -> None:
    page = client.get("/auth/login")
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in page.headers  # plain HTTP: HSTS would be meaningless
    secure = client.get("/auth/login", base_url="https://loyalty.example")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    api = client.get("/healthz", base_url="https://loyalty.example")
    assert "Strict-Transport-Security" in api.headers and api.headers["X-Content-Type-Options"] == "nosniff"
    # X-Forwarded-Proto is believed only behind configured proxies (else any client could claim HTTPS)
    spoofed = client.get("/auth/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in spoofed.headers


def test_hsts_behind_a_trusted_tls_proxy(app: Flask, clean) -> None:
    from webapp import create_app

    proxied = create_app(settings_for_tests(proxy_count=1), TESTING=True).test_client()
    resp = proxied.get("/auth/login", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "192.0.2.9"})
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Strict-Transport-Security" not in proxied.get("/auth/login").headers


def test_session_cookie_flags(app: Flask, clean) -> None:
    from webapp import create_app

    secure_app = create_app(settings_for_tests(secure_cookies=True), TESTING=True, WTF_CSRF_ENABLED=False)
    make_user(secure_app, "s@example.com", "admin")
    c = secure_app.test_client()
    form = {"email": "s@example.com", "password": PASSWORD}
    resp = c.post("/auth/login", data=form, base_url="https://loyalty.example")
    assert resp.status_code == 302
    cookie = next(v for k, v in resp.headers.items() if k == "Set-Cookie" and v.startswith("loyalty_session="))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
