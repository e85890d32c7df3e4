"""Accrual SLA monitor: each severity at its threshold, per provider, cleared once credited; the SLA setting."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from campaigns.models import AuditEvent
from tests.care.sla_helpers import dispatch_failing, post, provider_id, received, sla_alerts
from tests.helpers.api import publish
from tests.helpers.documents import BASE_EARNING
from tests.helpers.factories import make_user
from tests.helpers.web import csrf_token, login
from webapp.extensions import db
from workers import care


def test_each_severity_at_its_threshold_per_provider_and_cleared_when_credited(
    app, client, telecom, shop, staff, work, monkeypatch
):
    publish(client, staff, BASE_EARNING)
    rt = app.extensions["loyalty.runtime"]
    with dispatch_failing(app, monkeypatch):  # both providers' transactions wait: the workers never hear of them
        held_telecom = post(client, telecom, "t", 4)
        held_shop = post(client, shop, "s", 2)
    r0 = received(app, held_telecom + held_shop)[0]

    # 80 % of 15 min is 12 min: nothing before it
    assert care.monitor(rt, r0 + timedelta(minutes=11, seconds=59))["sla"] == 0
    assert sla_alerts(app) == {}

    assert care.monitor(rt, r0 + timedelta(minutes=12, seconds=30))["sla"] == 2
    warned = sla_alerts(app)
    assert {k: a.severity for k, a in warned.items()} == {"sla:telecom": "warning", "sla:shop": "warning"}
    t = warned["sla:telecom"]
    assert (t.count, t.provider_id, t.oldest_at) == (4, provider_id(app, "telecom"), r0)
    assert "Mobile operator (telecom), the responsible unit" in t.message
    assert t.details["overdue"] == 0 and t.details["approaching"] == 4
    assert t.suggested_action.startswith("Workers backlog: every provider is late")  # shared cause

    care.monitor(rt, r0 + timedelta(minutes=15, seconds=30))
    assert {k: a.severity for k, a in sla_alerts(app).items()} == {"sla:telecom": "overdue", "sla:shop": "overdue"}
    assert "4 over the 15-min SLA" in sla_alerts(app)["sla:telecom"].message

    care.monitor(rt, r0 + timedelta(minutes=30, seconds=30))  # past 2x the SLA
    live = sla_alerts(app)
    assert {k: a.severity for k, a in live.items()} == {"sla:telecom": "critical", "sla:shop": "critical"}
    assert live["sla:telecom"].escalation == 1  # critical goes straight to the provider's manager
    assert {a.id for a in live.values()} == {a.id for a in warned.values()}  # the same alerts, grown

    # the sweeper finds the stranded rows and re-dispatches them; the workers credit them; the alerts clear
    from workers.sweeper import sweep

    assert sweep(rt, older_than_seconds=0) == 6
    work()
    assert care.monitor(rt, r0 + timedelta(minutes=31))["sla"] == 0
    everything = sla_alerts(app, live_only=False)
    assert all(a.status == "resolved" and a.resolved_by == "monitor" for a in everything.values())


def test_many_overdue_at_once_is_critical_and_one_late_provider_is_named_alone(
    app, client, telecom, shop, staff, work, monkeypatch
):
    publish(client, staff, BASE_EARNING)
    rt = app.extensions["loyalty.runtime"]
    sla = {"minutes": 15, "warning_percent": 80, "critical_factor": 2, "critical_count": 5}
    assert client.put("/api/v1/settings/accrual_sla", json={"value": sla}, headers=staff).status_code == 200
    bad = client.put("/api/v1/settings/accrual_sla", json={"value": {**sla, "minutes": 0}}, headers=staff)
    assert bad.status_code == 422
    assert bad.get_json()["error"]["fields"] == [
        {"path": "value.minutes", "reason": "must be an integer number of minutes from 1 to 1440"}
    ]

    with dispatch_failing(app, monkeypatch):
        held = post(client, telecom, "t", 5)
    post(client, shop, "s", 3)  # the shop's go through and are credited
    work()
    r0 = received(app, held)[0]
    care.monitor(rt, r0 + timedelta(minutes=12, seconds=30))
    [alert] = sla_alerts(app).values()
    assert (alert.key, alert.severity) == ("sla:telecom", "warning")
    assert alert.suggested_action.startswith("Only telecom is late; the other providers are credited on time.")
    care.monitor(rt, r0 + timedelta(minutes=15, seconds=30))  # 5 over the SLA at once: critical before 2x
    [alert] = sla_alerts(app).values()
    assert (alert.key, alert.severity, alert.count) == ("sla:telecom", "critical", 5)


def test_staff_change_the_sla_in_the_ui_audited_and_validated(app, client, telecom):
    make_user(app, "admin@example.com", "admin")
    login(client, "admin@example.com")
    token = csrf_token(client, "/care/sla")
    form = {
        "csrf_token": token,
        "minutes": "abc",
        "warning_percent": "80",
        "critical_factor": "2",
        "critical_count": "9",
    }
    page = client.post("/care/sla/settings", data=form)
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert 'id="sla-minutes-err">must be an integer number of minutes from 1 to 1440' in html
    out_of_range = client.post("/care/sla/settings", data={**form, "minutes": "30", "warning_percent": "100"})
    assert "must be an integer percentage of the SLA from 1 to 99" in out_of_range.get_data(as_text=True)
    ok = client.post("/care/sla/settings", data={**form, "minutes": "30"}, follow_redirects=True)
    assert "Accrual SLA set to 30 minutes." in ok.get_data(as_text=True)
    assert "within <strong>30 minutes</strong>" in ok.get_data(as_text=True)
    with app.app_context():
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "setting.changed")).one()
        assert (event.object_id, event.actor) == ("accrual_sla", "admin@example.com")
        assert event.details["new"] == {"minutes": 30, "warning_percent": 80, "critical_factor": 2, "critical_count": 9}
    client.post("/auth/logout", data={"csrf_token": token})

    make_user(app, "care@example.com", "care")
    login(client, "care@example.com")
    assert "SLA settings" not in client.get("/care/sla").get_data(as_text=True)
    token = csrf_token(client, "/care/sla")
    assert client.post("/care/sla/settings", data={**form, "csrf_token": token}).status_code == 403
