"""Phone numbers have a lifecycle: release and quarantine, late transactions, re-attachment, SIM-swap holds.

Everything goes through the real interfaces (provider API, app API, portal, SMS and USSD callbacks, CLI)
against MariaDB and Redis.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from tests.channels.helpers import PHONE, SECRET, customer_id, earn, programme, sent_to, set_setting
from tests.channels.test_portal import sign_in
from tests.channels.test_ussd import Session as Ussd
from tests.helpers.api import txn
from tests.helpers.factories import ProviderKey, make_provider
from tests.helpers.web import csrf_token

H = {"X-Gateway-Secret": SECRET}
NID = "001099012345"


def authority(app) -> ProviderKey:
    from campaigns.access.providers import set_phone_authority
    from webapp.extensions import db

    key = make_provider(app, "operator", "Mobile operator (numbers)")
    with app.app_context():
        set_phone_authority(db.session, "operator", True, actor="test")
        db.session.commit()
        db.session.remove()
    return key


def at(delta: timedelta = timedelta(0)) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def event(client, key, ref, kind, phone="0912 345 678", occurred=None):
    body = {
        "provider_event_id": ref,
        "event": kind,
        "phone": phone,
        "occurred_at": occurred or at(-timedelta(minutes=1)),
    }
    return client.post("/api/v1/identity-events", json=body, headers=key.headers)


def sms(client, text, phone="0912 345 678"):
    resp = client.post("/channels/sms", json={"from": phone, "text": text}, headers=H)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()["reply"]


def app_token(client, work, phone=PHONE) -> dict[str, str]:
    forget_limits()
    assert client.post("/api/v1/me/otp", json={"phone": phone}).status_code == 202
    work()
    code = re.search(r"\b(\d{6})\b", sent_to(phone)[-1]).group(1)
    resp = client.post("/api/v1/me/token", json={"phone": phone, "code": code})
    assert resp.status_code == 201, resp.get_json()
    return {"Authorization": f"Bearer {resp.get_json()['token']}"}


def forget_limits() -> None:
    """Each test asks for more codes for one number than a person may in 15 minutes."""
    from redis import Redis

    from tests.helpers.services import REDIS_URL

    r = Redis.from_url(REDIS_URL)
    for key in r.scan_iter("loyalty:rl:*"):
        r.delete(key)


def audit_actions(app) -> list[str]:
    from campaigns.models import AuditEvent
    from webapp.extensions import db

    with app.app_context():
        rows = list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
        db.session.remove()
    return rows


def test_only_the_phone_authority_posts_events_and_bad_input_names_the_field(app, client, telecom):
    assert event(client, telecom, "e1", "number_released").status_code == 403
    op = authority(app)
    cases = [
        ({"event": "ported"}, "event"),
        ({"phone": "12"}, "phone"),
        ({"occurred_at": "2026-01-01T10:00:00"}, "occurred_at"),
        ({"occurred_at": at(timedelta(hours=2))}, "occurred_at"),
        ({"provider_event_id": ""}, "provider_event_id"),
        ({"surprise": 1}, "surprise"),
    ]
    base = {"provider_event_id": "v", "event": "sim_swapped", "phone": PHONE, "occurred_at": at()}
    for change, path in cases:
        resp = client.post("/api/v1/identity-events", json={**base, **change}, headers=op.headers)
        assert resp.status_code == 422, (change, resp.get_json())
        assert resp.get_json()["error"]["fields"][0]["path"] == path
    missing = {k: v for k, v in base.items() if k != "phone"}
    resp = client.post("/api/v1/identity-events", json=missing, headers=op.headers)
    assert resp.status_code == 422 and resp.get_json()["error"]["fields"][0]["path"] == "phone"


def test_cli_creates_and_flags_the_authority_audited(app, client):
    runner = app.test_cli_runner()
    made = runner.invoke(args=["providers", "create", "viettel", "--name", "Viettel", "--phone-authority"])
    assert made.exit_code == 0, made.output
    key = ProviderKey("viettel", made.output.strip().splitlines()[-1])
    assert event(client, key, "c1", "sim_swapped").status_code == 201
    assert runner.invoke(args=["providers", "create", "shop2", "--name", "Shop"]).exit_code == 0
    assert runner.invoke(args=["providers", "set-phone-authority", "viettel", "--off"]).exit_code == 0
    assert event(client, key, "c2", "sim_swapped").status_code == 403
    assert runner.invoke(args=["providers", "set-phone-authority", "viettel"]).exit_code == 0
    assert event(client, key, "c3", "sim_swapped").status_code == 201
    assert runner.invoke(args=["providers", "set-phone-authority", "nobody"]).exit_code == 1
    assert audit_actions(app).count("provider.phone_authority_set") == 2


def test_release_detaches_ends_sessions_quarantines_and_late_transactions_credit_the_old_holder(
    app, client, telecom, staff, work
):
    programme(client, staff)
    earn(client, telecom, work, "t1", 5_000_000)
    assert (
        client.post(
            "/api/v1/transactions",
            json=txn("t2", 1_000_000, customer={"phone": PHONE, "national_id": NID}),
            headers=telecom.headers,
        ).status_code
        == 202
    )
    work()
    old = customer_id(app)
    app_h = app_token(client, work)
    sign_in(client, work)
    assert client.get("/portal/").status_code == 200
    # a code asked for just before the release must not work after it
    assert client.post("/api/v1/me/otp", json={"phone": PHONE}).status_code == 202
    work()
    pending = re.search(r"\b(\d{6})\b", sent_to(PHONE)[-1]).group(1)

    op = authority(app)
    released_at = datetime.now(UTC) - timedelta(minutes=2)
    first = event(client, op, "rel-1", "number_released", occurred=released_at.isoformat())
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["customer_id"] == old
    replay = event(client, op, "rel-1", "number_released", phone="+84 912 345 678", occurred=released_at.isoformat())
    assert replay.status_code == 200 and replay.get_json()["id"] == first.get_json()["id"]
    differs = event(client, op, "rel-1", "sim_swapped", occurred=released_at.isoformat())
    assert differs.status_code == 409 and differs.get_json()["error"]["fields"][0]["path"] == "provider_event_id"

    # every session and code through that number has ended
    assert client.get("/api/v1/me", headers=app_h).status_code == 401
    assert client.get("/portal/").headers["Location"].endswith("/portal/login")
    assert client.post("/api/v1/me/token", json={"phone": PHONE, "code": pending}).status_code in (401, 422)

    # the old holder keeps everything and is found by national ID; the phone is in the identity history
    found = client.get(f"/api/v1/customers/lookup?national_id={NID}", headers=staff).get_json()
    assert found["id"] == old and found["balance"] == 600
    assert {"type": "national_id", "value": NID} in found["identities"]
    assert all(i["type"] != "phone" for i in found["identities"])
    assert [(h["type"], h["value"], h["reason"]) for h in found["identity_history"]] == [
        ("phone", PHONE, "number_released")
    ]
    assert client.get(f"/api/v1/customers/lookup?phone={PHONE}", headers=staff).status_code == 404

    # quarantine: refused on every channel, credited to nobody
    forget_limits()
    resp = client.post("/api/v1/transactions", json=txn("t3", 2_000_000, occurred_at=at()), headers=telecom.headers)
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "number_quarantined"
    assert resp.get_json()["error"]["fields"][0]["path"] == "customer.phone"
    ev = {"provider_event_id": "ev1", "event_type": "referral", "customer": {"phone": PHONE}, "occurred_at": at()}
    resp = client.post("/api/v1/events", json=ev, headers=telecom.headers)
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "number_quarantined"
    batch = client.post(
        "/api/v1/transactions/batch", json=[txn("t4", 2_000_000, occurred_at=at())], headers=telecom.headers
    ).get_json()
    assert batch["results"][0]["error"]["code"] == "number_quarantined"
    resp = client.post("/api/v1/me/otp", json={"phone": "0912 345 678"})
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "number_quarantined"
    assert "released by its operator" in sms(client, "BAL") or "thu hồi" in sms(client, "DIEM")
    assert "thu hồi" in sms(client, "DOI TOPUP10")
    assert "thu hồi" in Ussd(client).send("")
    token = csrf_token(client, "/portal/login")
    page = client.post("/portal/login", data={"phone": "0912345678", "csrf_token": token})
    assert page.status_code == 422 and "thu hồi" in page.get_data(as_text=True)

    # a transaction that happened before the release, arriving late, credits the old holder
    late = txn("t5", 1_000_000, occurred_at=(released_at - timedelta(minutes=30)).isoformat())
    resp = client.post("/api/v1/transactions", json=late, headers=telecom.headers)
    assert resp.status_code == 202 and resp.get_json()["customer_id"] == old
    work()
    assert client.get(f"/api/v1/customers/{old}", headers=staff).get_json()["balance"] == 700

    from campaigns.models import Customer, Transaction
    from webapp.extensions import db

    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Customer)) == 1
        assert db.session.scalar(select(func.count()).select_from(Transaction)) == 3
        db.session.remove()
    assert "phone.released" in audit_actions(app)


def test_after_the_quarantine_a_new_holder_starts_from_nothing_and_staff_can_reattach(
    app, client, telecom, staff, work
):
    programme(client, staff)
    assert (
        client.post(
            "/api/v1/transactions",
            json=txn("t1", 5_000_000, customer={"phone": PHONE, "national_id": NID}),
            headers=telecom.headers,
        ).status_code
        == 202
    )
    work()
    old = customer_id(app)
    set_setting(client, staff, "number_quarantine_days", 1)
    op = authority(app)
    released_at = datetime.now(UTC) - timedelta(days=2)
    assert event(client, op, "r1", "number_released", occurred=released_at.isoformat()).status_code == 201

    # the new holder signs up by using the number: a new customer who sees and spends nothing of the old one
    earn(client, telecom, work, "t2", 200_000)
    new = customer_id(app)
    assert new != old
    h = app_token(client, work)
    me = client.get("/api/v1/me", headers=h).get_json()
    assert me["id"] == new and me["balance"] == 20
    assert [a["points"] for a in client.get("/api/v1/me/activity", headers=h).get_json()["activity"]] == [20]
    spend = client.post("/api/v1/me/redemptions", json={"reward": "TOPUP10"}, headers=h)
    assert spend.status_code == 409 and spend.get_json()["error"]["code"] == "insufficient_points"
    sms(client, "DOI TOPUP10")
    # a late transaction from the old holder's time still goes to the old holder
    late = txn("t3", 1_000_000, occurred_at=(released_at - timedelta(hours=1)).isoformat())
    assert client.post("/api/v1/transactions", json=late, headers=telecom.headers).get_json()["customer_id"] == old
    work()
    assert client.get(f"/api/v1/customers/{old}", headers=staff).get_json()["balance"] == 600

    # re-attaching is refused while somebody else holds the number
    resp = client.post(f"/api/v1/phone-numbers/{PHONE}/reattach", json={"reason": "ported back"}, headers=staff)
    assert resp.status_code == 409
    assert client.post(f"/api/v1/phone-numbers/{PHONE}/reattach", json={}, headers=staff).status_code == 422


def test_staff_reattach_a_ported_back_number_by_api_and_cli(app, client, telecom, staff, work):
    programme(client, staff)
    earn(client, telecom, work, "t1", 3_000_000)
    old = customer_id(app)
    op = authority(app)
    assert event(client, op, "r1", "number_released").status_code == 201
    care = client.post(
        f"/api/v1/phone-numbers/{PHONE}/reattach", json={"reason": "ported back, ticket 7"}, headers=staff
    )
    assert care.status_code == 200, care.get_json()
    assert care.get_json()["customer_id"] == old and care.get_json()["quarantined"] is False
    earn(client, telecom, work, "t2", 1_000_000)
    view = client.get(f"/api/v1/customers/{old}", headers=staff).get_json()
    assert view["balance"] == 400 and view["identity_history"][0]["reattached_at"]
    assert event(client, op, "r2", "number_released").status_code == 201
    runner = app.test_cli_runner()
    done = runner.invoke(args=["phones", "reattach", "0912345678", "--reason", "ported back", "--actor", "agent@x"])
    assert done.exit_code == 0, done.output
    assert runner.invoke(args=["phones", "reattach", "0912345678", "--reason", "again"]).exit_code == 1
    assert audit_actions(app).count("phone.reattached") == 2


def test_sim_swap_holds_spending_raises_one_alert_and_staff_lift_it(app, client, telecom, staff, work):
    from campaigns.models import Alert, Redemption
    from webapp.extensions import db

    programme(client, staff)
    earn(client, telecom, work, "t1", 5_000_000)
    h = app_token(client, work)
    op = authority(app)
    assert event(client, op, "s1", "sim_swapped").status_code == 201

    assert "Trả lời" in sms(client, "DOI TOPUP10") or "OK" in sms(client, "DOI TOPUP10")
    reply = sms(client, "DOI TOPUP10 OK")
    assert "SIM" in reply and "CSKH" in reply
    on_behalf = {"customer": {"phone": "0912345678"}, "reward": "TOPUP10"}
    resp = client.post("/api/v1/redemptions", json=on_behalf, headers=telecom.headers)
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "sim_swap_hold"
    resp = client.post("/api/v1/me/redemptions", json={"reward": "TOPUP10"}, headers=h)
    assert resp.status_code == 409 and "customer care" in resp.get_json()["error"]["message"]
    ussd = Ussd(client).send("", "3", "1", "1")
    assert "SIM" in ussd
    # earning continues
    earn(client, telecom, work, "t2", 1_000_000)
    assert client.get("/api/v1/me", headers=h).get_json()["balance"] == 600
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Redemption)) == 0
        alerts = list(db.session.scalars(select(Alert).where(Alert.kind == "sim_swap")))
        assert len(alerts) == 1 and alerts[0].status == "open" and alerts[0].details["phone"] == PHONE
        db.session.remove()
    listed = client.get("/api/v1/phone-numbers/0912345678", headers=staff).get_json()
    assert listed["hold"] is True

    lift = client.post(f"/api/v1/phone-numbers/{PHONE}/lift-hold", json={"reason": "CCCD checked"}, headers=staff)
    assert lift.status_code == 200 and lift.get_json()["hold"] is False
    assert (
        client.post(f"/api/v1/phone-numbers/{PHONE}/lift-hold", json={"reason": "x"}, headers=staff).status_code == 404
    )
    resp = client.post("/api/v1/redemptions", json=on_behalf, headers=telecom.headers)
    assert resp.status_code == 201, resp.get_json()
    with app.app_context():
        assert db.session.scalars(select(Alert).where(Alert.kind == "sim_swap")).one().status == "resolved"
        db.session.remove()
    assert "phone.hold_lifted" in audit_actions(app)


def test_sim_swap_hold_ends_by_itself_and_cli_lifts(app, client, telecom, staff, work):
    programme(client, staff)
    earn(client, telecom, work, "t1", 5_000_000)
    op = authority(app)
    assert event(client, op, "s-old", "sim_swapped", occurred=at(-timedelta(hours=49))).status_code == 201
    on_behalf = {"customer": {"phone": PHONE}, "reward": "TOPUP10", "idempotency_key": "k1"}
    assert client.post("/api/v1/redemptions", json=on_behalf, headers=telecom.headers).status_code == 201
    assert event(client, op, "s-new", "sim_swapped").status_code == 201
    group = {"owner": {"phone": "0912345678"}, "name": "Nhà mình"}
    held = client.post("/api/v1/groups", json=group, headers=telecom.headers)
    assert held.status_code == 409 and held.get_json()["error"]["code"] == "sim_swap_hold"
    assert (
        client.post(
            "/api/v1/redemptions", json={**on_behalf, "idempotency_key": "k2"}, headers=telecom.headers
        ).status_code
        == 409
    )
    runner = app.test_cli_runner()
    assert runner.invoke(args=["phones", "lift-hold", PHONE, "--reason", "called back"]).exit_code == 0
    assert client.post("/api/v1/groups", json=group, headers=telecom.headers).status_code == 201
    assert (
        client.post(
            "/api/v1/redemptions", json={**on_behalf, "idempotency_key": "k2"}, headers=telecom.headers
        ).status_code
        == 201
    )


def test_a_replay_after_the_number_changed_hands_answers_the_first_copy_and_creates_nobody(
    app, client, telecom, staff, work
):
    """A single POST inserts without first looking for an earlier copy; a replay meets the unique key. Had the
    number been released since, the replay's pass would resolve its phone to a new holder, so what it wrote before
    the clash must go: the answer is the first copy's, and no customer is created for the number."""
    from campaigns.models import Customer
    from webapp.extensions import db

    programme(client, staff)
    body = txn("t1", 1_000_000, phone=PHONE)
    first = client.post("/api/v1/transactions", json=body, headers=telecom.headers)
    assert first.status_code == 202
    work()
    set_setting(client, staff, "number_quarantine_days", 1)
    op = authority(app)
    released = datetime.now(UTC) - timedelta(days=2)  # the first copy's occurred_at falls after it, quarantine over
    assert event(client, op, "r1", "number_released", occurred=released.isoformat()).status_code == 201

    def customers() -> int:
        with app.app_context():
            n = db.session.scalar(select(func.count()).select_from(Customer))
            db.session.remove()
        return n

    before = customers()
    again = client.post("/api/v1/transactions", json=body, headers=telecom.headers)
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.get_json()["customer_id"] == first.get_json()["customer_id"]
    assert customers() == before
    differs = client.post("/api/v1/transactions", json={**body, "amount": 2_000_000}, headers=telecom.headers)
    assert differs.status_code == 409 and differs.get_json()["error"]["code"] == "duplicate_conflict"
    assert customers() == before
