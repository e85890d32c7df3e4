"""Four-eyes approval (LOYALTY_REQUIRE_APPROVAL=1) holds on every path that publishes.

The API (create-and-publish and publish), the CLI (``campaigns publish``, ``campaigns import --publish``,
``campaigns publish-due``), the scheduler and the admin pages all refuse an unreviewed version with the reason,
and publish once a second person has approved it.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from campaigns.models import AuditEvent, Campaign, CampaignVersion
from tests.helpers.documents import BASE_EARNING
from tests.helpers.factories import make_user
from tests.helpers.services import DB_URL, REDIS_URL
from tests.helpers.web import csrf_token, login
from webapp.extensions import db
from workers.sweeper import publish_due

ROOT = Path(__file__).resolve().parents[2]
REASON = "submit this version for review"


@pytest.fixture()
def four_eyes(app, monkeypatch):
    """Approval required in the web app and in its runtime (the scheduler's side)."""
    monkeypatch.setitem(app.config, "LOYALTY", dataclasses.replace(app.config["LOYALTY"], require_approval=True))
    monkeypatch.setattr(app.extensions["loyalty.runtime"], "require_approval", True, raising=False)


def _ui(app, email):
    make_user(app, email, "marketer")
    c = app.test_client()
    login(c, email)
    return c


def _form(c, url, **data):
    return c.post(url, data={**data, "csrf_token": csrf_token(c, "/")})


def _approve(app, cid, version=1):
    """Submitted by one marketer, approved by another, through the admin pages."""
    submitter, reviewer = _ui(app, "m1@example.com"), _ui(app, "m2@example.com")
    assert _form(submitter, f"/campaigns/{cid}/versions/{version}/submit").status_code == 302
    assert _form(reviewer, f"/campaigns/{cid}/versions/{version}/approve").status_code == 302


def _campaign(app, cid):
    with app.app_context():
        return db.session.get(Campaign, cid)


def _refused(resp):
    assert resp.status_code == 409, resp.get_data(as_text=True)
    error = resp.get_json()["error"]
    assert error["code"] == "needs_review" and REASON in error["message"], error


def _flask(*args):
    env = {**os.environ, "LOYALTY_DATABASE_URL": DB_URL, "REDIS_URL": REDIS_URL, "LOYALTY_REQUIRE_APPROVAL": "1"}
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_api_create_with_publish_and_publish_refuse_an_unreviewed_version(app, client, staff, four_eyes):
    yaml = {**staff, "Content-Type": "application/yaml"}
    _refused(client.post("/api/v1/campaigns?publish=true", data=BASE_EARNING, headers=yaml))
    assert client.get("/api/v1/campaigns", headers=staff).get_json()["campaigns"] == []  # nothing was stored

    draft = client.post("/api/v1/campaigns", data=BASE_EARNING, headers=yaml)
    assert draft.status_code == 201
    cid = draft.get_json()["id"]
    _refused(client.post(f"/api/v1/campaigns/{cid}/publish", json={"version": 1}, headers=staff))
    _refused(client.post(f"/api/v1/campaigns/{cid}/publish", headers=staff))  # the latest version by default
    assert _campaign(app, cid).published_version is None

    _approve(app, cid)
    published = client.post(f"/api/v1/campaigns/{cid}/publish", json={"version": 1}, headers=staff)
    assert published.status_code == 200, published.get_json()
    assert published.get_json()["published_version"] == 1


def test_api_create_with_publish_passes_for_the_approved_document(app, client, staff, four_eyes):
    yaml = {**staff, "Content-Type": "application/yaml"}
    cid = client.post("/api/v1/campaigns", data=BASE_EARNING, headers=yaml).get_json()["id"]
    _approve(app, cid)
    again = client.post("/api/v1/campaigns?publish=true", data=BASE_EARNING, headers=yaml)  # the same version 1
    assert again.status_code == 201, again.get_json()
    assert again.get_json()["published_version"] == 1
    changed = BASE_EARNING.replace("per 10k", "per ten thousand")
    assert changed != BASE_EARNING
    _refused(client.post("/api/v1/campaigns?publish=true", data=changed, headers=yaml))  # a new, unreviewed one
    assert _campaign(app, cid).latest_version == 1


@pytest.mark.slow
def test_cli_publish_and_import_publish_refuse_an_unreviewed_version(app, client, staff, tmp_path):
    doc = tmp_path / "base.yaml"
    doc.write_text(BASE_EARNING)
    imported = _flask("campaigns", "import", str(doc), "--publish")
    assert imported.returncode == 1 and REASON in imported.stderr, imported.stdout + imported.stderr
    with app.app_context():
        assert db.session.scalar(select(Campaign.id)) is None

    saved = _flask("campaigns", "import", str(doc))
    assert saved.returncode == 0, saved.stderr
    with app.app_context():
        cid = db.session.scalar(select(Campaign.id))
    refused = _flask("campaigns", "publish", str(cid))
    assert refused.returncode == 1 and REASON in refused.stderr, refused.stdout + refused.stderr
    assert _campaign(app, cid).published_version is None

    _approve(app, cid)
    ok = _flask("campaigns", "publish", str(cid))
    assert ok.returncode == 0, ok.stderr
    assert _campaign(app, cid).published_version == 1


def _make_due(app, cid):
    with app.app_context():
        db.session.execute(
            update(CampaignVersion)
            .where(CampaignVersion.campaign_id == cid, CampaignVersion.scheduled_at.is_not(None))
            .values(scheduled_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        db.session.commit()


def _schedule(c, cid, version=1):
    later = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    return _form(c, f"/campaigns/{cid}/versions/{version}/schedule", at=later)


def test_scheduled_publication_of_an_unreviewed_version_is_refused(app, client, monkeypatch):
    """Scheduled while approval was off, due after it was turned on: the scheduler does not publish it."""
    author = _ui(app, "author@example.com")
    created = _form(author, "/campaigns", source=BASE_EARNING, format="yaml")
    cid = int(created.headers["Location"].rsplit("/", 1)[1])
    assert _schedule(author, cid).status_code == 302
    monkeypatch.setattr(app.extensions["loyalty.runtime"], "require_approval", True, raising=False)
    _make_due(app, cid)

    assert publish_due(app.extensions["loyalty.runtime"]) == []
    assert _campaign(app, cid).published_version is None
    with app.app_context():
        v = db.session.scalar(select(CampaignVersion).where(CampaignVersion.campaign_id == cid))
        assert v.status == "draft" and v.scheduled_at is None  # the refusal cancels the schedule
        refusal = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "campaign.schedule_refused")).one()
        assert refusal.object_id == str(cid) and REASON in refusal.details["reason"]


def test_schedule_needs_approval_and_an_approved_one_is_published_when_due(app, client, four_eyes):
    author = _ui(app, "author@example.com")
    created = _form(author, "/campaigns", source=BASE_EARNING, format="yaml")
    cid = int(created.headers["Location"].rsplit("/", 1)[1])
    refused = _schedule(author, cid)
    assert refused.status_code == 409 and REASON in refused.get_data(as_text=True)
    refused = _form(author, f"/campaigns/{cid}/versions/1/publish")
    assert refused.status_code == 409 and REASON in refused.get_data(as_text=True)

    _approve(app, cid)
    assert _schedule(author, cid).status_code == 302
    _make_due(app, cid)
    assert publish_due(app.extensions["loyalty.runtime"]) == [(cid, 1)]
    assert _campaign(app, cid).published_version == 1


@pytest.mark.slow
def test_cli_publish_due_refuses_an_unreviewed_version(app, client):
    author = _ui(app, "author@example.com")
    created = _form(author, "/campaigns", source=BASE_EARNING, format="yaml")
    cid = int(created.headers["Location"].rsplit("/", 1)[1])
    assert _schedule(author, cid).status_code == 302  # approval off in the web app
    _make_due(app, cid)
    out = _flask("campaigns", "publish-due")  # approval on in the CLI's environment
    assert out.returncode == 0, out.stderr
    assert "published" not in out.stdout
    assert _campaign(app, cid).published_version is None
