"""Unredeemed points about to expire converted into the programme's offer (setting ``expired_points``), through the
settings API, the lifecycle job (as the scheduler and ``flask lifecycle`` run it) and the books."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from campaigns.accounts.lifecycle import run_all
from campaigns.clearing.statements import month_of, zone
from campaigns.models import AuditEvent, Outbox, PointLot, Redemption
from campaigns.notify.messages import template_for
from rules.docs import EXPIRED_POINTS_EXAMPLE as EXAMPLE
from tests.helpers.api import publish, txn
from tests.helpers.database import ledger_ok
from tests.helpers.documents import BASE_EARNING
from webapp.extensions import db

CONVERT = EXAMPLE["setting"]


def _setting(client, staff, value: Any):
    return client.put("/api/v1/settings/expired_points", json={"value": value}, headers=staff)


def _balance(client, telecom, phone: str) -> int:
    return client.get(f"/api/v1/customers/lookup?phone={phone}", headers=telecom.headers).get_json()["balance"]


def test_the_setting_is_validated_with_path_and_reason(app, client, telecom, staff):
    assert client.get("/api/v1/settings", headers=staff).get_json()["expired_points"] == {"action": "write_off"}
    resp = _setting(client, staff, CONVERT)
    assert resp.status_code == 422 and resp.get_json()["error"]["fields"][0]["path"] == "value.offer"  # unknown
    client.post("/api/v1/rewards", json={"code": "DATA", "name": "Data", "cost": 50}, headers=staff)
    for bad, path in (
        ({**CONVERT, "after_months_without_redemption": 0}, "value.after_months_without_redemption"),
        ({"action": "convert_to_offer", "offer": "DATA"}, "value.after_months_without_redemption"),
        ({**CONVERT, "offer": ""}, "value.offer"),
        ({**CONVERT, "within_days": 0}, "value.within_days"),
        ({**CONVERT, "colour": "red"}, "value.colour"),
        ({"action": "burn"}, "value.action"),
        ({"action": "write_off", "offer": "DATA"}, "value.offer"),
    ):
        resp = _setting(client, staff, bad)
        assert resp.status_code == 422, bad
        assert resp.get_json()["error"]["fields"][0]["path"] == path, resp.get_json()
    ok = _setting(client, staff, CONVERT)
    assert ok.status_code == 200 and ok.get_json()["expired_points"] == {**CONVERT, "within_days": 1}
    assert _setting(client, staff, {"action": "write_off"}).status_code == 200


def test_expiring_points_are_converted_once_before_they_expire(app, client, telecom, staff, work):
    """The worked example of docs/rules.md, customer by customer, then reruns, a cancellation and clearing."""
    resp = client.put("/api/v1/providers/telecom/rates", json={"issue_cost": 100, "redemption_rate": 90}, headers=staff)
    assert resp.status_code == 200, resp.get_json()
    publish(client, staff, BASE_EARNING)  # 1 point per 10,000
    cost = EXAMPLE["cost"]
    resp = client.post(
        "/api/v1/rewards",
        json={"code": "DATA", "name": "1 GB data", "cost": cost, "provider": "telecom"},
        headers=staff,
    )
    assert resp.status_code == 201, resp.get_json()
    customers = EXAMPLE["customers"]
    phones = {c["who"]: f"09120000{i:02d}" for i, c in enumerate(customers)}
    for c in customers:
        redeems = c["months_since_redemption"] is not None
        earned = c["expiring"] + (cost if redeems else 0)
        client.post(
            "/api/v1/transactions", json=txn(c["who"], earned * 10_000, phone=phones[c["who"]]), headers=telecom.headers
        )
    work()
    now = datetime.now(UTC)
    for c in customers:
        if c["months_since_redemption"] is None:
            continue
        red = client.post(
            "/api/v1/redemptions",
            json={"customer": {"phone": phones[c["who"]]}, "reward": "DATA"},
            headers=telecom.headers,
        )
        assert red.status_code == 201, red.get_json()
        with app.app_context():
            when = now - timedelta(days=31 * c["months_since_redemption"])
            db.session.execute(update(Redemption).where(Redemption.id == red.get_json()["id"]).values(created_at=when))
            db.session.commit()
    with app.app_context():  # every lot expires within 12 hours
        db.session.execute(update(PointLot).values(expires_at=now + timedelta(hours=12)))
        db.session.commit()
    assert [_balance(client, telecom, phones[c["who"]]) for c in customers] == [c["expiring"] for c in customers]
    rt = app.extensions["loyalty.runtime"]
    report = run_all(rt.session_factory, rt.published, now=now)
    assert report.converted == 0  # the default setting writes points off
    assert _setting(client, staff, EXAMPLE["setting"]).status_code == 200

    report = run_all(rt.session_factory, rt.published, now=now)
    converted = [c for c in customers if c["converted"]]
    assert (report.converted, report.converted_points) == (len(converted), sum(c["converted"] for c in converted))
    assert report.expired_points == 0
    assert [_balance(client, telecom, phones[c["who"]]) for c in customers] == [c["left"] for c in customers]
    with app.app_context():
        conversions = db.session.scalars(select(Redemption).where(Redemption.source == "expiry_offer")).all()
        assert sorted(r.points for r in conversions) == sorted(c["converted"] for c in converted)
        assert {r.requested_by for r in conversions} == {"programme"}
        notes = db.session.scalars(select(Outbox).where(Outbox.template == "expired_points_converted")).all()
        assert len(notes) == len(converted) and {n.payload["points"] for n in notes} == {cost}
        assert {n.customer_id for n in notes} == {r.customer_id for r in conversions}
        audit = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "redemption.converted")).all()
        assert {a.actor for a in audit} == {"programme"} and len(audit) == len(converted)
        db.session.remove()
    vi, en = (template_for("expired_points_converted", lang) for lang in ("vi", "en"))
    assert vi and en and vi != en and "{points}" in vi and "{voucher}" in en
    dormant = phones["dormant"]
    dormant_id = client.get(f"/api/v1/customers/lookup?phone={dormant}", headers=telecom.headers).get_json()["id"]
    conversion = next(r for r in conversions if r.customer_id == dormant_id)

    # a rerun converts nothing again, though the dormant customer still has 70 expiring points
    again = run_all(rt.session_factory, rt.published, now=now + timedelta(minutes=5))
    assert again.converted == 0 and _balance(client, telecom, dormant) == 70  # still 70 expiring
    # nor does a run after staff cancel the conversion (its points are back in the same lots: 120 expiring)
    cancel = client.post(f"/api/v1/redemptions/{conversion.id}/cancel", headers=staff)
    assert cancel.status_code == 200, cancel.get_json()
    assert _balance(client, telecom, dormant) == 120
    assert run_all(rt.session_factory, rt.published, now=now + timedelta(minutes=10)).converted == 0
    assert _balance(client, telecom, dormant) == 120

    # the clearing statement still balances: telecom is reimbursed for the conversions like for any redemption
    with app.app_context():
        month = month_of(now, zone(db.session))
        db.session.remove()
    view = client.get(f"/api/v1/settlement/statements/{month}", headers=staff).get_json()
    assert view["total"] == 0
    telecom_st = next(s for s in view["statements"] if s["party"] == "telecom")
    assert telecom_st["points_redeemed"] == {"redeemed": 200, "cancelled": 50}  # 2 paid + 2 conversions, 1 cancelled

    # after expiry what was not converted is written off as before
    later = run_all(rt.session_factory, rt.published, now=now + timedelta(days=1))
    assert later.converted == 0 and later.expired_points > 0
    assert [_balance(client, telecom, phones[c["who"]]) for c in customers] == [0, 0, 0, 0]
    ledger_ok(app)


def test_flask_lifecycle_reports_conversions(app, client, telecom, staff, work):
    publish(client, staff, BASE_EARNING)
    client.post("/api/v1/rewards", json={"code": "DATA", "name": "Data", "cost": 50}, headers=staff)
    client.post("/api/v1/transactions", json=txn("cli", 600_000), headers=telecom.headers)
    work()
    assert _setting(client, staff, {**CONVERT, "within_days": 2}).status_code == 200
    with app.app_context():
        db.session.execute(update(PointLot).values(expires_at=datetime.now(UTC) + timedelta(hours=36)))
        db.session.commit()
    out = app.test_cli_runner().invoke(args=["lifecycle"])
    assert out.exit_code == 0, out.output
    assert "converted 1 customers' expiring points (50 points)" in out.output
    assert _balance(client, telecom, "0912345678") == 10
    again = app.test_cli_runner().invoke(args=["lifecycle"])
    assert "converted 0 customers' expiring points" in again.output
