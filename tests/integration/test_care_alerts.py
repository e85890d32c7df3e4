"""Care centre alerts: raised, updated, re-opened, cleared and escalated by the monitor; worked by staff in the UI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rq import Queue
from sqlalchemy import select

from campaigns.care import alerts
from campaigns.care.alerts import Condition
from campaigns.models import Alert, AuditEvent, Provider
from tests.helpers.factories import make_user
from tests.helpers.web import csrf_token, login
from webapp.extensions import db
from workers import care
from workers.queues import CARE_QUEUE

T0 = datetime(2027, 1, 5, 8, 0, tzinfo=UTC)


def _provider_id(app, code: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Provider.id).where(Provider.code == code))


def _reconcile(app, conditions: list[Condition], now: datetime = T0, kind: str = "test") -> alerts.ReconcileReport:
    with app.app_context():
        report = alerts.reconcile(db.session, kind, conditions, now)
        db.session.commit()
        return report


def _alerts(app) -> list[Alert]:
    with app.app_context():
        rows = list(db.session.scalars(select(Alert).order_by(Alert.id)))
        db.session.expunge_all()
        return rows


def _cond(severity: str = "warning", count: int = 3, key: str = "test:telecom", provider_id: int | None = None):
    return Condition(
        key=key,
        severity=severity,
        subject="Transactions late",
        message=f"{count} late",
        suggested_action="Check the integration",
        provider_id=provider_id,
        count=count,
    )


def test_reconcile_raises_updates_reopens_clears_and_raises_again(app, client, telecom):
    pid = _provider_id(app, "telecom")
    first = _reconcile(app, [_cond(provider_id=pid)])
    assert len(first.raised) == 1
    again = _reconcile(app, [_cond(count=7, provider_id=pid)], T0 + timedelta(minutes=1))
    assert again.raised == [] and again.updated == first.raised
    [alert] = _alerts(app)
    assert (alert.count, alert.status, alert.active_key) == (7, "open", "test:telecom")

    with app.app_context():
        alerts.acknowledge(db.session, alert.id, alerts.Scope("care"), "care@example.com")
        db.session.commit()
    grown = _reconcile(app, [_cond("critical", 40, provider_id=pid)], T0 + timedelta(minutes=2))
    assert grown.reopened == [alert.id]
    [alert] = _alerts(app)
    assert (alert.status, alert.severity, alert.escalation) == ("open", "critical", 1)

    cleared = _reconcile(app, [], T0 + timedelta(minutes=3))
    assert cleared.cleared == [alert.id]
    [alert] = _alerts(app)
    assert (alert.status, alert.resolved_by, alert.active_key) == ("resolved", "monitor", None)

    # staff resolve a live alert while its condition persists: the next pass raises it anew
    _reconcile(app, [_cond(provider_id=pid)], T0 + timedelta(minutes=4))
    live = _alerts(app)[-1]
    with app.app_context():
        alerts.resolve(db.session, live.id, alerts.Scope("care"), "care@example.com", "restarted the connector")
        db.session.commit()
    back = _reconcile(app, [_cond(provider_id=pid)], T0 + timedelta(minutes=5))
    assert len(back.raised) == 1
    latest = _alerts(app)[-1]
    assert (latest.times_raised, latest.status) == (3, "open")


def test_unacknowledged_alerts_escalate_to_manager_then_admin(app, client):
    _reconcile(app, [_cond()])
    with app.app_context():
        assert alerts.escalate_due(db.session, T0 + timedelta(minutes=29)) == 0
        assert alerts.escalate_due(db.session, T0 + timedelta(minutes=30)) == 1
        assert alerts.escalate_due(db.session, T0 + timedelta(minutes=45)) == 0
        assert alerts.escalate_due(db.session, T0 + timedelta(minutes=60)) == 1
        assert alerts.escalate_due(db.session, T0 + timedelta(hours=5)) == 0  # the top of the chain
        db.session.commit()
        steps = db.session.scalars(select(AuditEvent.details).where(AuditEvent.action == "alert.escalate")).all()
    assert [s["to"] for s in steps] == ["provider manager", "programme admin"]


def test_monitor_runs_as_a_periodic_rq_job(app, client, redis_client, work, monkeypatch):
    seen: list[datetime] = []

    def fake_check(session, now):
        seen.append(now)
        alerts.reconcile(session, "test", [_cond()], now)
        return 1

    def broken_check(session, now):
        raise RuntimeError("boom")

    monkeypatch.setattr(care, "CHECKS", [("broken", broken_check), ("fake", fake_check)])
    rt = app.extensions["loyalty.runtime"]
    assert care.schedule_monitor(rt, 60) is True
    assert care.schedule_monitor(rt, 60) is False  # once per interval cluster-wide
    assert Queue(CARE_QUEUE, connection=redis_client).count == 1
    work()
    assert len(seen) == 1  # a failing check does not stop the next one
    assert [a.key for a in _alerts(app)] == ["test:telecom"]


def test_staff_acknowledge_and_resolve_in_the_ui_scoped_by_provider(app, client, telecom, shop):
    tid, sid = _provider_id(app, "telecom"), _provider_id(app, "shop")
    _reconcile(app, [_cond(key="test:telecom", provider_id=tid), _cond(key="test:shop", provider_id=sid)])
    by_key = {a.key: a.id for a in _alerts(app)}

    make_user(app, "shop@example.com", "provider", provider="shop")
    login(client, "shop@example.com")
    page = client.get("/care/alerts").get_data(as_text=True)
    assert 'data-alert-key="test:shop"' in page and "test:telecom" not in page
    token = csrf_token(client, "/care/alerts")
    other = client.post(f"/care/alerts/{by_key['test:telecom']}/acknowledge", data={"csrf_token": token})
    assert other.status_code == 404
    client.post("/auth/logout", data={"csrf_token": token})

    make_user(app, "analyst@example.com", "analyst")
    login(client, "analyst@example.com")
    token = csrf_token(client, "/care/alerts")
    assert client.get("/care/alerts").status_code == 200
    assert client.post(f"/care/alerts/{by_key['test:shop']}/acknowledge", data={"csrf_token": token}).status_code == 403
    client.post("/auth/logout", data={"csrf_token": token})

    make_user(app, "care@example.com", "care")
    login(client, "care@example.com")
    token = csrf_token(client, "/care/alerts")
    ack = client.post(f"/care/alerts/{by_key['test:telecom']}/acknowledge", data={"csrf_token": token})
    assert ack.status_code == 302
    empty = client.post(
        f"/care/alerts/{by_key['test:telecom']}/resolve",
        data={"csrf_token": token, "resolution": " "},
        follow_redirects=True,
    )
    assert "resolution: say what was done" in empty.get_data(as_text=True)
    done = client.post(
        f"/care/alerts/{by_key['test:telecom']}/resolve",
        data={"csrf_token": token, "resolution": "provider restarted its connector"},
        follow_redirects=True,
    )
    assert "resolved" in done.get_data(as_text=True)
    resolved = {a.key: a for a in _alerts(app)}["test:telecom"]
    assert (resolved.status, resolved.acknowledged_by, resolved.resolved_by) == (
        "resolved",
        "care@example.com",
        "care@example.com",
    )
    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "alert")).all()
    assert sorted(actions) == ["alert.acknowledge", "alert.resolve"]
    assert client.post("/care/alerts/999999/acknowledge", data={"csrf_token": token}).status_code == 404
