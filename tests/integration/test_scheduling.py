"""Scheduled publication: stored, shown as scheduled, applied by the periodic pass or the CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from campaigns.catalog import documents as catalog
from campaigns.models import AuditEvent, Campaign, CampaignVersion
from tests.helpers.documents import BASE_EARNING
from tests.helpers.factories import make_user
from tests.helpers.web import csrf_token, login
from webapp.extensions import db
from workers.sweeper import publish_due


def _make_due(app, campaign_id):
    with app.app_context():
        db.session.execute(
            update(CampaignVersion)
            .where(CampaignVersion.campaign_id == campaign_id)
            .where(CampaignVersion.scheduled_at.is_not(None))
            .values(scheduled_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        db.session.commit()


def test_schedule_then_publish_by_the_periodic_pass(app, client):
    with app.app_context():
        cid = catalog.import_document(db.session, BASE_EARNING, fmt="yaml", author="m@example.com").campaign_id
        db.session.commit()
    make_user(app, "m@example.com", "marketer")
    login(client, "m@example.com")
    token = csrf_token(client, "/campaigns")
    past = client.post(f"/campaigns/{cid}/versions/1/schedule", data={"at": "2020-01-01T09:00", "csrf_token": token})
    assert past.status_code == 302
    assert "must be in the future" in client.get(f"/campaigns/{cid}").get_data(as_text=True)
    later = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    ok = client.post(f"/campaigns/{cid}/versions/1/schedule", data={"at": later, "csrf_token": token})
    assert ok.status_code == 302
    page = client.get(f"/campaigns/{cid}").get_data(as_text=True)
    assert "badge b-scheduled" in page and "Cancel schedule" in page
    listing = client.get("/campaigns?status=scheduled").get_data(as_text=True)
    assert "Base earning" in listing and "v1 on" in listing
    assert publish_due(app.extensions["loyalty.runtime"]) == []  # not yet

    _make_due(app, cid)
    assert publish_due(app.extensions["loyalty.runtime"]) == [(cid, 1)]
    assert publish_due(app.extensions["loyalty.runtime"]) == []  # once
    with app.app_context():
        c = db.session.get(Campaign, cid)
        assert c.published_version == 1
        v = db.session.scalar(select(CampaignVersion).where(CampaignVersion.campaign_id == cid))
        assert v.scheduled_at is None and v.status == "published"
        actions = db.session.execute(
            select(AuditEvent.action, AuditEvent.actor)
            .where(AuditEvent.object_type == "campaign")
            .order_by(AuditEvent.id)
        ).all()
        assert actions[-2:] == [("campaign.scheduled", "m@example.com"), ("campaign.published", "m@example.com")]
    assert "badge b-live" in client.get("/campaigns").get_data(as_text=True)


def test_cancel_and_cli(app, client):
    with app.app_context():
        cid = catalog.import_document(db.session, BASE_EARNING, fmt="yaml", author="t").campaign_id
        catalog.schedule_version(
            db.session, cid, 1, datetime.now(UTC) + timedelta(hours=1), author="t", require_approval=False
        )
        db.session.commit()
    make_user(app, "m@example.com", "marketer")
    login(client, "m@example.com")
    token = csrf_token(client, "/campaigns")
    assert client.post(f"/campaigns/{cid}/versions/1/unschedule", data={"csrf_token": token}).status_code == 302
    assert "badge b-draft" in client.get("/campaigns").get_data(as_text=True)
    with app.app_context():
        catalog.schedule_version(
            db.session, cid, 1, datetime.now(UTC) + timedelta(hours=1), author="t", require_approval=False
        )
        db.session.commit()
    _make_due(app, cid)
    result = app.test_cli_runner().invoke(args=["campaigns", "publish-due"])
    assert result.exit_code == 0 and "1 scheduled publication(s) applied" in result.output
    with app.app_context():
        assert db.session.get(Campaign, cid).published_version == 1
