"""The person's rights through the real interfaces: export (app API, staff API), erasure (two admins over the
API, the operator's CLI), the number after erasure, retention by the lifecycle job; MariaDB and Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from tests.channels.helpers import PHONE, SECRET, customer_id, earn, programme
from tests.channels.test_number_lifecycle import app_token, sms
from tests.channels.test_ussd import Session as Ussd
from tests.helpers.api import txn
from tests.helpers.database import ledger_ok
from tests.helpers.factories import make_user

NID = "001099012345"


def user_token(app: Flask, email: str, role: str) -> dict[str, str]:
    """A staff user's personal API token (actions are checked against the user's role)."""
    from campaigns.access.users import create_token
    from campaigns.models import StaffUser
    from webapp.extensions import db

    make_user(app, email, role)
    with app.app_context():
        user = db.session.scalars(select(StaffUser).where(StaffUser.email == email)).one()
        token = create_token(db.session, user, "tests")
        db.session.commit()
        db.session.remove()
    return {"Authorization": f"Bearer {token}"}


def cli(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=list(args))


def audit(app: Flask, action: str) -> list[Any]:
    from campaigns.models import AuditEvent
    from webapp.extensions import db

    with app.app_context():
        rows = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))
        db.session.remove()
    return rows


def history(client, telecom, staff, work) -> int:
    """A member with a bit of everything: purchases, a redemption, a claim, keyword SMS and a USSD session."""
    programme(client, staff)
    earn(client, telecom, work, "t1", 2_000_000)
    body = txn("t2", 500_000, phone="0912345678")
    body["customer"]["national_id"] = NID
    assert client.post("/api/v1/transactions", json=body, headers=telecom.headers).status_code == 202
    work()
    redeem = {"customer": {"phone": PHONE}, "reward": "TOPUP10"}
    assert client.post("/api/v1/redemptions", json=redeem, headers=telecom.headers).status_code == 201
    sms(client, "DIEM")
    Ussd(client).send("")
    work()
    return customer_id(_app(client))


def _app(client) -> Flask:
    return client.application


@pytest.mark.slow  # several sign-ins and worker runs (~5 s)
def test_the_customer_exports_everything_held_about_them(app, client, telecom, staff, work):
    cid = history(client, telecom, staff, work)
    me = app_token(client, work)
    claim = {"transaction_ref": "missing-1", "description": "Tôi mua hàng ở cửa hàng Quận 1", "provider": "telecom"}
    assert client.post("/api/v1/me/claims", json=claim, headers=me).status_code == 201

    resp = client.get("/api/v1/me/export", headers=me)
    assert resp.status_code == 200, resp.get_json()
    doc = resp.get_json()
    assert doc["customer_id"] == cid and doc["format"] == "loyalty-personal-data/1"
    for section in ("profile", "identities", "ledger", "transactions", "redemptions", "claims", "messages"):
        assert section in doc["sections"] and section in doc, section
    assert {(i["type"], i["value"]) for i in doc["identities"]["current"]} == {("phone", PHONE), ("national_id", NID)}
    assert [t["provider_txn_id"] for t in doc["transactions"]] == ["t1", "t2"]
    assert all(t["provider"] == "telecom" and "body_hash" not in t for t in doc["transactions"])
    assert sum(e["points"] for e in doc["ledger"]) == doc["balance"]["balance"] > 0
    assert [r["reward"] for r in doc["redemptions"]] == ["TOPUP10"]
    assert doc["claims"][0]["description"] == claim["description"] and doc["claims"][0]["events"]
    assert any(m["text"] == "DIEM" for m in doc["messages"]["received_sms"])
    assert any(m["template"] == "otp" and m["body"] for m in doc["messages"]["sent"])
    assert doc["messages"]["ussd_sessions"][0]["phone"] == PHONE
    assert client.get("/api/v1/me/export").status_code == 401


@pytest.mark.slow  # several sign-ins and worker runs (~5 s)
def test_staff_export_is_for_care_and_admin_and_is_audited(app, client, telecom, staff, work):
    cid = history(client, telecom, staff, work)
    care = user_token(app, "care@example.com", "care")
    analyst = user_token(app, "analyst@example.com", "analyst")
    assert client.get(f"/api/v1/customers/{cid}/export", headers=analyst).status_code == 403
    assert client.get(f"/api/v1/customers/{cid}/export", headers=telecom.headers).status_code == 403
    assert client.get("/api/v1/customers/999999/export", headers=care).status_code == 404
    resp = client.get(f"/api/v1/customers/{cid}/export", headers=care)
    assert resp.status_code == 200 and resp.get_json()["customer_id"] == cid
    [event] = audit(app, "customer.data_exported")
    assert event.actor == "care@example.com" and event.object_id == str(cid)


@pytest.mark.slow  # several sign-ins and worker runs (~5 s)
def test_erasure_takes_two_admins_and_leaves_the_books_whole(app, client, telecom, staff, work):
    from campaigns.models import (
        CustomerIdentity,
        IdentityHistory,
        LedgerEntry,
        Outbox,
        SmsInbound,
        Transaction,
        UssdSession,
    )
    from webapp.extensions import db

    cid = history(client, telecom, staff, work)
    me = app_token(client, work)
    first, second = user_token(app, "a@example.com", "admin"), user_token(app, "b@example.com", "admin")
    care = user_token(app, "care@example.com", "care")
    period = datetime.now(UTC).strftime("%Y-%m")
    statements = client.get(f"/api/v1/settlement/statements/{period}", headers=staff).get_json()
    before = client.get(f"/api/v1/customers/{cid}", headers=staff).get_json()

    url = f"/api/v1/customers/{cid}/erasure-requests"
    assert client.post(url, json={"reason": "asked"}, headers=care).status_code == 403
    bad = client.post(url, json={"reason": ""}, headers=first)
    assert bad.status_code == 422 and bad.get_json()["error"]["fields"][0]["path"] == "reason"
    resp = client.post(url, json={"reason": "the person asked, ticket 42"}, headers=first)
    assert resp.status_code == 201, resp.get_json()
    req = resp.get_json()
    assert req["status"] == "open" and req["requested_by"] == "a@example.com"
    assert client.post(url, json={"reason": "again"}, headers=second).status_code == 409
    listed = client.get("/api/v1/erasure-requests", headers=second).get_json()["erasure_requests"]
    assert [r["id"] for r in listed] == [req["id"]]

    own = client.post(f"/api/v1/erasure-requests/{req['id']}/approve", headers=first)
    assert own.status_code == 403 and own.get_json()["error"]["code"] == "same_approver"
    assert client.get(f"/api/v1/customers/lookup?phone={PHONE}", headers=staff).status_code == 200
    done = client.post(f"/api/v1/erasure-requests/{req['id']}/approve", headers=second)
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["identities"] == 2 and done.get_json()["approved_by"] == "b@example.com"
    assert client.post(f"/api/v1/erasure-requests/{req['id']}/approve", headers=second).status_code == 409
    assert [e.actor for e in audit(app, "customer.erasure_requested")] == ["a@example.com"]
    [erased] = audit(app, "customer.erased")
    assert erased.actor == "b@example.com" and erased.details["requested_by"] == "a@example.com"

    # identities are keyed hashes now; no lookup of the plain number or national ID finds the person
    assert client.get(f"/api/v1/customers/lookup?phone={PHONE}", headers=staff).status_code == 404
    assert client.get(f"/api/v1/customers/lookup?national_id={NID}", headers=staff).status_code == 404
    assert client.get("/api/v1/me", headers=me).status_code == 401  # the app token is revoked
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CustomerIdentity)) == 0
        hashed = list(db.session.scalars(select(IdentityHistory.value).where(IdentityHistory.customer_id == cid)))
        assert len(hashed) == 2 and all(v.startswith("h:") and len(v) == 32 for v in hashed)
        assert PHONE not in str(hashed) and NID not in str(hashed)
        assert all(s.text == "" and s.phone.startswith("h:") for s in db.session.scalars(select(SmsInbound)))
        assert all(u.text == "" and u.phone.startswith("h:") for u in db.session.scalars(select(UssdSession)))
        sent = list(db.session.scalars(select(Outbox).where(Outbox.customer_id == cid, Outbox.channel == "sms")))
        assert sent and all(m.body is None and m.recipient is None for m in sent)
        assert db.session.scalar(select(func.count()).select_from(Transaction)) == 2
        assert db.session.scalar(select(func.count()).where(LedgerEntry.customer_id == cid)) > 0
        db.session.remove()
    after = client.get(f"/api/v1/customers/{cid}", headers=staff).get_json()
    assert after["identities"] == [] and after["balance"] == before["balance"]  # points stay on the pseudonym
    assert after["ledger"] == before["ledger"]
    assert client.get(f"/api/v1/settlement/statements/{period}", headers=staff).get_json() == statements
    ledger_ok(app)
    assert cli(app, "ledger", "check").exit_code == 0

    # the number is free: a new person using it is a new customer and never reaches the erased id
    resp = client.post("/api/v1/transactions", json=txn("t3", 100_000, phone="0912345678"), headers=telecom.headers)
    assert resp.status_code == 202 and resp.get_json()["customer_id"] != cid
    work()
    fresh = client.get(f"/api/v1/customers/lookup?phone={PHONE}", headers=staff).get_json()
    assert fresh["id"] != cid and fresh["balance"] == 10 and fresh["identity_history"] == []
    assert client.get(f"/api/v1/customers/{cid}", headers=staff).get_json()["balance"] == before["balance"]
    # the history holds only the hash: re-attaching the number to the erased id finds nothing
    assert cli(app, "phones", "reattach", PHONE, "--reason", "ported back").exit_code == 1


def test_the_operator_erases_from_the_cli(app, client, telecom, staff, work):
    from campaigns.models import Customer, IdentityHistory
    from webapp.extensions import db

    programme(client, staff, rewards=False)
    earn(client, telecom, work, "t1", 1_000_000)
    cid = customer_id(app)
    with app.app_context():
        db.session.execute(update(Customer).where(Customer.id == cid).values(birth_date=datetime(1990, 5, 1).date()))
        db.session.commit()
    assert cli(app, "customers", "erase", str(cid)).exit_code == 2  # --reason is required
    me = app_token(client, work)
    assert client.post("/api/v1/me/erasure-requests", headers=me).status_code == 201  # the person's open case
    out = cli(app, "customers", "erase", str(cid), "--reason", "request by letter, ref 7", "--actor", "ops@example")
    assert out.exit_code == 0, out.output
    assert f"customer {cid} erased: 1 identities hashed" in out.output
    again = cli(app, "customers", "erase", str(cid), "--reason", "again")
    assert again.exit_code == 1 and "already erased" in again.output
    assert cli(app, "customers", "erase", "999999", "--reason", "x").exit_code == 1
    with app.app_context():
        customer = db.session.get(Customer, cid)
        assert customer is not None and customer.birth_date is None
        [past] = db.session.scalars(select(IdentityHistory).where(IdentityHistory.customer_id == cid))
        assert past.reason == "erased" and past.value.startswith("h:")
        db.session.remove()
    [event] = audit(app, "customer.erased")
    assert event.actor == "ops@example" and event.details["reason"] == "request by letter, ref 7"
    admin = user_token(app, "a@example.com", "admin")
    assert client.get("/api/v1/erasure-requests", headers=admin).get_json()["erasure_requests"] == []  # closed
    assert cli(app, "ledger", "check").exit_code == 0
    earn(client, telecom, work, "t2", 100_000)
    assert customer_id(app) != cid


def test_the_same_number_always_hashes_the_same(app):
    from campaigns.privacy.erasure import keyed

    assert keyed("k", "phone", PHONE) == keyed("k", "phone", PHONE) != keyed("k2", "phone", PHONE)
    assert keyed("k", "phone", PHONE) != keyed("k", "national_id", PHONE)


def test_retention_deletes_exactly_the_older_rows(app, client, telecom, staff, work):
    from campaigns.models import OtpCode, Outbox, SmsInbound, UssdSession
    from webapp.extensions import db

    programme(client, staff, rewards=False)
    earn(client, telecom, work, "t1", 1_000_000)
    bad = client.put("/api/v1/settings/retention", json={"value": {"otp_codes_days": 0}}, headers=staff)
    assert bad.status_code == 422 and bad.get_json()["error"]["fields"][0]["path"] == "value.otp_codes_days"
    days = {"otp_codes_days": 7, "inbound_sms_days": 30, "ussd_sessions_days": 10, "message_bodies_days": 60}
    assert client.put("/api/v1/settings/retention", json={"value": days}, headers=staff).status_code == 200
    for _ in range(2):
        app_token(client, work)  # a used code and its SMS
        sms(client, "DIEM")
        Ussd(client).send("")
    work()
    now = datetime.now(UTC)
    with app.app_context():  # one of each is older than its limit, the other just inside it
        for model, limit in ((OtpCode, 7), (SmsInbound, 30), (UssdSession, 10), (Outbox, 60)):
            ids = sorted(db.session.scalars(select(model.id)))
            old, young = ids[0], ids[-1]
            db.session.execute(update(model).where(model.id == old).values(created_at=now - timedelta(days=limit + 1)))
            young_at = now - timedelta(days=limit - 1)
            db.session.execute(update(model).where(model.id == young).values(created_at=young_at))
        db.session.commit()
        kept = {m: sorted(db.session.scalars(select(m.id)))[1:] for m in (OtpCode, SmsInbound, UssdSession)}
        old_sms = sorted(db.session.scalars(select(Outbox.id)))[0]
        blank_before = set(db.session.scalars(select(Outbox.id).where(Outbox.body.is_(None))))
        db.session.remove()
    out = cli(app, "lifecycle")
    assert out.exit_code == 0, out.output
    assert "retention: 1 codes, 1 inbound SMS, 1 USSD session logs deleted; 1 message bodies blanked" in out.output
    with app.app_context():
        for model, ids in kept.items():
            assert sorted(db.session.scalars(select(model.id))) == ids, model
        blanked = db.session.scalars(select(Outbox).where(Outbox.body.is_(None), Outbox.id.not_in(blank_before))).all()
        assert [m.id for m in blanked] == [old_sms] and blanked[0].recipient is None
        db.session.remove()
    assert "retention: 0 codes" in cli(app, "lifecycle").output


def test_ussd_callbacks_are_logged_with_the_caller(app, client, telecom, staff, work):
    from campaigns.models import UssdSession
    from webapp.extensions import db

    programme(client, staff, rewards=False)
    earn(client, telecom, work, "t1", 1_000_000)
    Ussd(client).send("", "1")
    resp = client.post(
        "/channels/ussd",
        json={"sessionId": "s-x", "phoneNumber": "0987654321", "serviceCode": "*1#", "text": ""},
        headers={"X-Gateway-Secret": SECRET},
    )
    assert resp.status_code == 200
    with app.app_context():
        rows = [(u.text, u.customer_id) for u in db.session.scalars(select(UssdSession).order_by(UssdSession.id))]
        db.session.remove()
    assert rows == [("", customer_id(app)), ("1", customer_id(app)), ("", None)]


def test_a_portal_request_opens_a_case_due_in_72_hours_that_one_admin_approves(app, client, telecom, staff, work):
    from campaigns.models import ErasureRequest
    from tests.channels.test_portal import sign_in
    from tests.helpers.web import csrf_token
    from webapp.extensions import db

    programme(client, staff, rewards=False)
    earn(client, telecom, work, "t1", 1_000_000)
    cid = customer_id(app)
    sign_in(client, work)
    home = client.get("/portal/").get_data(as_text=True)
    assert "Yêu cầu xoá dữ liệu" in home and 'id="my-data"' in home
    data = client.get("/portal/my-data.json")
    assert data.status_code == 200 and data.get_json()["customer_id"] == cid
    assert client.post("/portal/erasure").status_code == 400  # CSRF
    token = csrf_token(client, "/portal/")
    resp = client.post("/portal/erasure", data={"csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/portal/#my-data")
    home = client.get("/portal/").get_data(as_text=True)
    assert "Đã nhận yêu cầu xoá dữ liệu #1" in home and 'id="erasure-open"' in home
    assert client.post("/portal/erasure", data={"csrf_token": token}).status_code == 302  # the same case again
    with app.app_context():
        [req] = db.session.scalars(select(ErasureRequest)).all()
        db.session.remove()
    assert req.source == "portal" and req.status == "open" and req.requested_by == f"customer:{cid}"
    assert req.due_at - req.requested_at == timedelta(hours=72)
    assert [e.actor for e in audit(app, "customer.erasure_requested")] == [f"customer:{cid}"]

    # the case is in front of the care centre, and overdue once its 72 hours have passed
    from campaigns.models import Alert
    from workers import care as care_monitor

    with app.app_context():
        [alert] = db.session.scalars(select(Alert).where(Alert.kind == "erasure")).all()
        assert alert.status == "open" and alert.severity == "warning" and f"#{cid}" in alert.subject
        db.session.remove()
    later = care_monitor.monitor(app.extensions["loyalty.runtime"], req.due_at + timedelta(minutes=1))
    assert later["erasure_deadlines"] == 1
    with app.app_context():
        assert db.session.get(Alert, alert.id).severity == "overdue"
        db.session.remove()

    admin = user_token(app, "a@example.com", "admin")
    [listed] = client.get("/api/v1/erasure-requests", headers=admin).get_json()["erasure_requests"]
    assert listed["id"] == req.id and listed["source"] == "portal"
    assert client.post(f"/api/v1/erasure-requests/{req.id}/approve", headers=admin).status_code == 200
    assert client.get("/portal/").headers["Location"].endswith("/portal/login")  # the session ended with the number
    assert client.get("/api/v1/erasure-requests", headers=admin).get_json()["erasure_requests"] == []
    with app.app_context():
        assert db.session.get(Alert, alert.id).status == "resolved"  # decided: the case left the care centre
        db.session.remove()


def test_the_app_asks_for_erasure_once(app, client, telecom, staff, work):
    programme(client, staff, rewards=False)
    earn(client, telecom, work, "t1", 1_000_000)
    me = app_token(client, work)
    assert client.post("/api/v1/me/erasure-requests").status_code == 401
    first = client.post("/api/v1/me/erasure-requests", headers=me)
    assert first.status_code == 201 and first.get_json()["source"] == "app" and first.get_json()["status"] == "open"
    again = client.post("/api/v1/me/erasure-requests", headers=me)
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]


def test_an_admin_rejects_a_request_with_its_reason_and_the_data_stays(app, client, telecom, staff, work):
    from campaigns.models import Alert
    from webapp.extensions import db

    programme(client, staff, rewards=False)
    earn(client, telecom, work, "t1", 1_000_000)
    cid = customer_id(app)
    first, second = user_token(app, "a@example.com", "admin"), user_token(app, "b@example.com", "admin")
    req = client.post(f"/api/v1/customers/{cid}/erasure-requests", json={"reason": "phone call"}, headers=first)
    rid = req.get_json()["id"]
    care = user_token(app, "care@example.com", "care")
    assert client.post(f"/api/v1/erasure-requests/{rid}/reject", json={"reason": "x"}, headers=care).status_code == 403
    bad = client.post(f"/api/v1/erasure-requests/{rid}/reject", json={"reason": ""}, headers=second)
    assert bad.status_code == 422 and bad.get_json()["error"]["fields"][0]["path"] == "reason"
    resp = client.post(
        f"/api/v1/erasure-requests/{rid}/reject", json={"reason": "caller failed the checks"}, headers=second
    )
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["status"] == "rejected" and body["decision"] == "caller failed the checks"
    assert body["decided_by"] == "b@example.com"
    assert client.post(f"/api/v1/erasure-requests/{rid}/approve", headers=second).status_code == 409
    assert (
        client.post(f"/api/v1/erasure-requests/{rid}/reject", json={"reason": "y"}, headers=second).status_code == 409
    )
    assert client.get(f"/api/v1/customers/lookup?phone={PHONE}", headers=staff).status_code == 200  # data stays
    [event] = audit(app, "customer.erasure_rejected")
    assert event.actor == "b@example.com" and event.details["reason"] == "caller failed the checks"
    with app.app_context():
        assert [a.status for a in db.session.scalars(select(Alert).where(Alert.kind == "erasure"))] == ["resolved"]
        db.session.remove()
