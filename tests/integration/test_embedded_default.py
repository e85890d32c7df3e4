"""The embedded default (SQLite file + in-process queue) starts, migrates and credits points."""

from __future__ import annotations

import time

from flask_migrate import upgrade

from campaigns.access.providers import create_provider
from campaigns.settings import Settings
from tests.helpers.api import txn
from tests.helpers.documents import BASE_EARNING
from webapp import create_app
from webapp.extensions import db


def test_embedded_default_credits_points(tmp_path, monkeypatch):
    for var in ("LOYALTY_DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env(database_url=f"sqlite:///{tmp_path / 'loyalty.sqlite3'}")
    assert settings.embedded
    app = create_app(settings, TESTING=True)
    with app.app_context():
        upgrade()
        _, key = create_provider(db.session, "telecom", "Mobile operator")
        from campaigns.access.providers import issue_key

        staff = issue_key(db.session, "staff", "s")
        db.session.commit()
    client = app.test_client()
    resp = client.post(
        "/api/v1/campaigns?publish=true",
        data=BASE_EARNING,
        headers={"Authorization": f"Bearer {staff}", "Content-Type": "application/yaml"},
    )
    assert resp.status_code == 201
    posted = client.post("/api/v1/transactions", json=txn("e-1", 120_000), headers={"Authorization": f"Bearer {key}"})
    assert posted.status_code == 202
    tid = posted.get_json()["id"]
    deadline = time.monotonic() + 15
    view = {}
    while time.monotonic() < deadline:
        view = client.get(f"/api/v1/transactions/{tid}", headers={"Authorization": f"Bearer {key}"}).get_json()
        if view["status"] == "processed":
            break
        time.sleep(0.1)
    assert view["status"] == "processed" and view["points"] == 12
