"""No secret in the logs, and only hashes at rest.

The flows that handle secrets run with every logger at DEBUG (SQLAlchemy's too): provider creation and key
rotation in the UI, key use (good and bad), staff user creation, sign-in (right and wrong password), a
personal token created and used, the customer's SMS code requested and exchanged (wrong, then right), a
customer token used, a webhook secret issued. Then the captured log text is searched for each secret.
"""

from __future__ import annotations

import logging
import re

import pytest
from flask import Flask
from sqlalchemy import select

from campaigns.notify.gateways import SentMessage
from tests.helpers.api import publish, run_worker, txn
from tests.helpers.documents import BASE_EARNING
from tests.helpers.factories import make_user
from tests.helpers.web import login
from webapp.extensions import db

ADMIN_PASSWORD = "admin pass phrase 1"
NEW_PASSWORD = "a brand new pass phrase"
WRONG_PASSWORD = "wrong pass phrase 99"
PHONE = "0912345678"


class CapturingGateway:
    """Stands in for the production HTTP gateway (which logs no message text)."""

    def __init__(self) -> None:
        self.sent: list[SentMessage] = []

    def send(self, to: str, text: str, *, ref: str) -> str | None:
        self.sent.append(SentMessage(to, text, ref))
        return ref


def _secret(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}">([^<]+)<', html)
    assert match, f"no #{element_id} on the page"
    return match.group(1).strip()


def test_no_secret_reaches_the_logs(app: Flask, client, staff, caplog, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)  # CSRF has its own tests
    gateway = CapturingGateway()
    monkeypatch.setattr(app.extensions["loyalty.runtime"], "sms_gateway", gateway)
    caplog.set_level(logging.DEBUG)  # the root: every logger that does not pin its own level
    # the session fixture's Alembic upgrade ran fileConfig(), which disables the loggers that existed then
    for logger in list(logging.root.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger) and logger.disabled:
            monkeypatch.setattr(logger, "disabled", False)
    secrets: dict[str, str] = {"admin password": ADMIN_PASSWORD, "new password": NEW_PASSWORD}
    secrets["wrong password"] = WRONG_PASSWORD

    make_user(app, "admin@example.com", "admin", password=ADMIN_PASSWORD)
    assert login(client, "admin@example.com", ADMIN_PASSWORD).status_code == 302
    page = client.post("/providers", data={"code": "telecom", "name": "Telecom"})
    assert page.status_code == 200
    secrets["provider key"] = _secret(page.get_data(as_text=True), "new-key")
    from campaigns.models import ApiKey, OtpCode, Provider, StaffUser

    with app.app_context():
        provider_id = db.session.scalar(select(Provider.id).where(Provider.code == "telecom"))
    page = client.post(f"/providers/{provider_id}/keys", data={"name": "rotated"})
    secrets["rotated key"] = _secret(page.get_data(as_text=True), "new-key")
    key_headers = {"Authorization": f"Bearer {secrets['provider key']}"}

    publish(client, staff, BASE_EARNING)
    assert client.post("/api/v1/transactions", json=txn("t-1", phone=PHONE), headers=key_headers).status_code == 202
    rotated = {"Authorization": f"Bearer {secrets['rotated key']}"}
    assert client.get("/api/v1/imports", headers=rotated).status_code == 200
    bad = "lp_" + secrets["provider key"][3:][::-1]
    secrets["guessed key"] = bad
    assert client.get("/api/v1/imports", headers={"Authorization": f"Bearer {bad}"}).status_code == 401
    hook = client.post(
        "/api/v1/webhooks", json={"url": "https://example.com/h", "events": ["points_credited"]}, headers=key_headers
    )
    secrets["webhook secret"] = hook.get_json()["secret"]
    assert client.get("/api/v1/webhooks", headers=key_headers).status_code == 200

    created = client.post(
        "/users", data={"email": "care@example.com", "password": NEW_PASSWORD, "role": "care", "name": "Care"}
    )
    assert created.status_code == 302, created.get_data(as_text=True)[:500]
    other = app.test_client()
    assert login(other, "care@example.com", WRONG_PASSWORD).status_code == 401
    assert login(other, "care@example.com", NEW_PASSWORD).status_code == 302
    page = other.post("/auth/tokens", data={"name": "laptop"})
    secrets["personal token"] = _secret(page.get_data(as_text=True), "new-token")
    resp = client.get("/api/v1/transactions/1", headers={"Authorization": f"Bearer {secrets['personal token']}"})
    assert resp.status_code == 200

    run_worker(app)
    assert client.post("/api/v1/me/otp", json={"phone": PHONE}).status_code == 202
    run_worker(app)
    text = [m.text for m in gateway.sent if m.to.endswith(PHONE[1:])][-1]
    secrets["otp code"] = re.search(r"\b(\d{6})\b", text).group(1)
    wrong = "000000" if secrets["otp code"] != "000000" else "111111"
    assert client.post("/api/v1/me/token", json={"phone": PHONE, "code": wrong}).status_code in (401, 422)
    resp = client.post("/api/v1/me/token", json={"phone": PHONE, "code": secrets["otp code"]})
    assert resp.status_code == 201, resp.get_json()
    secrets["customer token"] = resp.get_json()["token"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secrets['customer token']}"})
    assert me.status_code == 200

    logged = caplog.text
    names = {r.name for r in caplog.records}
    assert {"webapp.auth.views", "workers.runtime"} <= names, names  # the capture did see the flows
    leaked = {name: value for name, value in secrets.items() if value in logged}
    assert leaked == {}, f"secrets in the logs: {sorted(leaked)}"
    # a secret's hash is what lands in the database; none of the plain values does
    with app.app_context():
        stored = [*db.session.scalars(select(ApiKey.key_hash)), *db.session.scalars(select(StaffUser.password_hash))]
        stored += [*db.session.scalars(select(OtpCode.code_hash))]
        everything = " ".join(str(s) for s in stored)
        for name in ("provider key", "rotated key", "personal token", "new password", "admin password", "otp code"):
            assert secrets[name] not in everything, name
        hashes = db.session.scalars(select(StaffUser.password_hash)).all()
        assert hashes and all(h.startswith("$argon2id$") for h in hashes)


@pytest.mark.parametrize("level", ["DEBUG", "INFO"])
def test_sql_statements_are_not_logged_even_at_debug(level: str) -> None:
    """SQL logging would echo stored rows (webhook signing secrets, phones); it stays off unless asked for."""
    from tests.helpers.services import settings_for_tests
    from webapp import create_app

    create_app(settings_for_tests(log_level=level))
    assert not logging.getLogger("sqlalchemy.engine").isEnabledFor(logging.INFO)
