"""Point transfers between members through the provider API and the app API: limits, fee, funders kept,
staff reversal, and the SIM-swap hold on transfers and points payments.

A earns 100 points at telecom then 50 at the post office; B earns 10 at the post office. Rates as in
``test_point_payments``: telecom 100/90, post 80/120 (issue cost / redemption rate, VND per point).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.conftest import ProviderKey, ledger_ok, make_provider
from tests.integration.test_clearing import by_party, post
from tests.integration.test_point_payments import PHONE as A
from tests.integration.test_point_payments import at, earn, make_shops, remaining_by_funder

B = "0912000002"
URL = "/api/v1/point-transfers"


@pytest.fixture()
def shops(app: Flask, client: FlaskClient, staff: dict[str, str]) -> dict[str, ProviderKey]:
    return make_shops(app, client, staff)


RULES = {"min_points": 10, "max_points_per_day": 100, "max_points_per_month": 120, "fee_points": 5}


def balances(client: FlaskClient, key: ProviderKey) -> tuple[int, int]:
    out = []
    for phone in (A, B):
        resp = client.get(f"/api/v1/customers/lookup?phone={phone}", headers=key.headers)
        out.append(int(resp.get_json()["balance"]))
    return out[0], out[1]


def setup(client: FlaskClient, keys: dict[str, ProviderKey], staff: dict[str, str], work: Any) -> None:
    earn(client, keys, work)
    post(client, keys["post"], "b1", B, "topup", 100_000)  # B: 10 points, post
    work()
    resp = client.put("/api/v1/settings/point_transfers", json={"value": RULES}, headers=staff)
    assert resp.status_code == 200, resp.get_json()


def send(client: FlaskClient, key: ProviderKey, ref: str, points: int, frm: str = A, to: str = B) -> Any:
    body = {"provider_transfer_id": ref, "from": {"phone": frm}, "to": {"phone": to}, "points": points}
    return client.post(URL, json=body, headers=key.headers)


def test_a_transfer_moves_points_with_their_funder_and_charges_the_fee(
    app: Flask,
    client: FlaskClient,
    shops: dict[str, ProviderKey],
    staff: dict[str, str],
    work: Any,
) -> None:
    from campaigns.clearing.statements import month_of, zone
    from campaigns.models import utcnow
    from webapp.extensions import db

    setup(client, shops, staff, work)
    resp = send(client, shops["telecom"], "tr-1", 60)
    assert resp.status_code == 201, resp.get_json()
    t = resp.get_json()
    # A: 150 - 60 - fee 5 = 85; B: 10 + 60 = 70
    assert (t["points"], t["fee_points"], t["balance"], t["status"]) == (60, 5, 85, "done")
    assert balances(client, shops["telecom"]) == (85, 70)
    # funders keep their points: telecom's 100 are now 35 with A and 60 with B; the fee's 5 were redeemed
    assert remaining_by_funder(app) == {"telecom": 95, "post": 60}
    # same body -> same answer; different body -> 409 on the field
    assert send(client, shops["telecom"], "tr-1", 60).get_json() == t
    clash = send(client, shops["telecom"], "tr-1", 61)
    assert clash.status_code == 409 and clash.get_json()["error"]["fields"][0]["path"] == "provider_transfer_id"
    # both sides in the ledger
    a = client.get(f"/api/v1/customers/lookup?phone={A}", headers=shops["telecom"].headers).get_json()["ledger"]
    assert [(e["kind"], e["points"]) for e in a[:2]] == [("transfer_fee", -5), ("transfer_out", -60)]
    b = client.get(f"/api/v1/customers/lookup?phone={B}", headers=shops["telecom"].headers).get_json()["ledger"]
    assert (b[0]["kind"], b[0]["points"]) == ("transfer_in", 60)
    # clearing: telecom still owes 100 x 100 and is reimbursed nothing; the fee is a redemption by the programme
    with app.app_context():
        period = month_of(utcnow(), zone(db.session))
    view = client.get(f"/api/v1/settlement/statements/{period}", headers=staff).get_json()
    parties = by_party(view)
    assert (parties["telecom"]["amount_owed"], parties["telecom"]["net"]) == (10_000, -10_000)
    assert parties["telecom"]["points_funded"] == {"issued": 100, "clawed_back": 0}
    assert parties["post"]["points_funded"] == {"issued": 60, "clawed_back": 0}
    assert parties["programme"]["points_redeemed_through_programme"] == 5
    liability = client.get("/api/v1/settlement/liability", headers=staff).get_json()
    closing = {r["funder"]: r["closing"]["points"] for r in liability["funders"]}
    assert closing == {"telecom": 95, "post": 60}
    ledger_ok(app)


def test_limits_minimum_and_balance_are_refused_with_the_field(
    app: Flask, client: FlaskClient, staff: dict[str, str], work: Any
) -> None:
    with at("2026-10-02"):
        shops = make_shops(app, client, staff)
        setup(client, shops, staff, work)
        small = send(client, shops["telecom"], "s", 9)
        assert small.status_code == 422 and small.get_json()["error"]["code"] == "below_minimum_transfer"
        reason = small.get_json()["error"]["fields"][0]
        assert reason == {"path": "points", "reason": "at least 10 points per transfer"}
        broke = send(client, shops["telecom"], "p", 100, frm=B, to=A)  # B has 10
        assert broke.status_code == 409 and broke.get_json()["error"]["code"] == "insufficient_points"
        reason = broke.get_json()["error"]["fields"][0]
        assert reason == {"path": "points", "reason": "needs 100 points and the fee of 5, 10 available"}
        assert send(client, shops["telecom"], "d1", 60).status_code == 201
        day = send(client, shops["telecom"], "d2", 50)  # 60 + 50 > 100 a day
        assert day.status_code == 409 and day.get_json()["error"]["code"] == "transfer_limit"
        reason = day.get_json()["error"]["fields"][0]["reason"]
        assert reason == "60 of the 100 points a member may send today are already sent"
        assert send(client, shops["telecom"], "d3", 40).status_code == 201  # exactly 100 today
        self_send = send(client, shops["telecom"], "x", 10, frm=A, to=A)
        assert self_send.status_code == 422 and self_send.get_json()["error"]["fields"][0]["path"] == "to"
        nobody = send(client, shops["telecom"], "y", 10, to="0912999999")
        assert nobody.status_code == 404
    with at("2026-10-03"):  # a new day, the same month: 100 + 30 > 120
        month = send(client, shops["telecom"], "m1", 30)
        assert month.status_code == 409 and month.get_json()["error"]["code"] == "transfer_limit"
        assert "this month" in month.get_json()["error"]["message"]
        assert send(client, shops["telecom"], "m2", 20).status_code == 201
    with at("2026-11-01"):
        assert send(client, shops["telecom"], "n1", 10).status_code == 201  # a new month: A spends its last 15
    assert balances(client, shops["telecom"]) == (0, 10 + 60 + 40 + 20 + 10)
    ledger_ok(app)


def test_staff_reverse_a_transfer_and_it_is_audited(
    app: Flask,
    client: FlaskClient,
    shops: dict[str, ProviderKey],
    staff: dict[str, str],
    work: Any,
) -> None:
    from campaigns.models import AuditEvent
    from webapp.extensions import db

    setup(client, shops, staff, work)
    t = send(client, shops["telecom"], "tr-1", 60).get_json()
    assert client.post(f"{URL}/{t['id']}/reversal", headers=shops["telecom"].headers).status_code == 403
    # another provider cannot see it; the one that made it and staff can
    assert client.get(f"{URL}/{t['id']}", headers=shops["post"].headers).status_code == 404
    assert client.get(f"{URL}/{t['id']}", headers=shops["telecom"].headers).status_code == 200
    back = client.post(f"{URL}/{t['id']}/reversal", headers=staff)
    assert back.status_code == 200, back.get_json()
    assert back.get_json()["status"] == "reversed"
    assert balances(client, shops["telecom"]) == (150, 10)  # the fee comes back too
    assert remaining_by_funder(app) == {"telecom": 100, "post": 60}
    again = client.post(f"{URL}/{t['id']}/reversal", headers=staff)
    assert again.status_code == 200 and again.get_json() == back.get_json()
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count()).where(
                    AuditEvent.action == "point_transfer.reversed", AuditEvent.object_id == str(t["id"])
                )
            )
            == 1
        )
    # a reversed transfer no longer counts towards the day's limit: 100 can be sent again
    assert send(client, shops["telecom"], "tr-2", 100).status_code == 201
    ledger_ok(app)


def test_a_reversal_is_refused_once_the_recipient_spent_the_points(
    app: Flask,
    client: FlaskClient,
    shops: dict[str, ProviderKey],
    staff: dict[str, str],
    work: Any,
) -> None:
    setup(client, shops, staff, work)
    t = send(client, shops["telecom"], "tr-1", 60).get_json()
    body = {"provider_payment_id": "b-pay", "customer": {"phone": B}, "points": 65}
    assert client.post("/api/v1/point-payments", json=body, headers=shops["post"].headers).status_code == 201
    back = client.post(f"{URL}/{t['id']}/reversal", headers=staff)
    assert back.status_code == 409 and back.get_json()["error"]["code"] == "insufficient_points"
    assert back.get_json()["error"]["fields"][0]["reason"] == "the recipient has 5 of the 60 points left"
    ledger_ok(app)


def test_the_member_sends_points_from_the_app(
    app: Flask,
    client: FlaskClient,
    shops: dict[str, ProviderKey],
    staff: dict[str, str],
    work: Any,
) -> None:
    setup(client, shops, staff, work)
    h = token(app, A)
    body = {"to": {"phone": B}, "points": 20, "idempotency_key": "k1"}
    resp = client.post("/api/v1/me/point-transfers", json=body, headers=h)
    assert resp.status_code == 201, resp.get_json()
    assert (resp.get_json()["balance"], resp.get_json()["channel"]) == (125, "app")
    assert client.post("/api/v1/me/point-transfers", json=body, headers=h).status_code == 200
    bad = client.post("/api/v1/me/point-transfers", json={"to": {"phone": B}, "points": "20"}, headers=h)
    assert bad.status_code == 422 and bad.get_json()["error"]["fields"][0]["path"] == "points"
    activity = client.get("/api/v1/me/activity", headers=h).get_json()["activity"]
    assert [a["kind"] for a in activity[:2]] == ["transfer_fee", "transfer_out"]
    assert client.get("/api/v1/me", headers=h).get_json()["balance"] == 125
    ledger_ok(app)


def token(app: Flask, phone: str) -> dict[str, str]:
    from campaigns.channels import portal
    from campaigns.customers.identity import normalize_phone
    from webapp.extensions import db

    with app.app_context():
        from campaigns.customers.identity import PHONE as KIND
        from campaigns.customers.identity import find_customer

        cid = find_customer(db.session, KIND, normalize_phone(phone))
        assert cid is not None
        tok, _ = portal.issue_token(db.session, cid, phone=normalize_phone(phone))
        db.session.commit()
    return {"Authorization": f"Bearer {tok}"}


def test_a_sim_swap_holds_payments_and_transfers_and_raises_one_alert(
    app: Flask,
    client: FlaskClient,
    shops: dict[str, ProviderKey],
    staff: dict[str, str],
    work: Any,
) -> None:
    from campaigns.access.providers import set_phone_authority
    from campaigns.models import Alert, PointPayment, PointTransfer
    from webapp.extensions import db

    setup(client, shops, staff, work)
    post(client, shops["post"], "b2", B, "topup", 200_000)  # B: 20 more, so B can send 10 + the fee
    work()
    h = token(app, A)
    op = make_provider(app, "operator")
    with app.app_context():
        set_phone_authority(db.session, "operator", True, actor="test")
        db.session.commit()
    swap = {
        "provider_event_id": "s1",
        "event": "sim_swapped",
        "phone": A,
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
    }
    assert client.post("/api/v1/identity-events", json=swap, headers=op.headers).status_code == 201
    pay = {"provider_payment_id": "p", "customer": {"phone": A}, "points": 10}
    held = client.post("/api/v1/point-payments", json=pay, headers=shops["post"].headers)
    assert held.status_code == 409 and held.get_json()["error"]["code"] == "sim_swap_hold"
    assert held.get_json()["error"]["fields"][0]["path"] == "phone"
    held = send(client, shops["telecom"], "t", 10)
    assert held.status_code == 409 and held.get_json()["error"]["code"] == "sim_swap_hold"
    held = client.post("/api/v1/me/point-transfers", json={"to": {"phone": B}, "points": 10}, headers=h)
    assert held.status_code == 409 and held.get_json()["error"]["code"] == "sim_swap_hold"
    # B's number was not swapped: B may still send to A
    assert send(client, shops["telecom"], "t-b", 10, frm=B, to=A).status_code == 201
    with app.app_context():
        alerts = list(db.session.scalars(select(Alert).where(Alert.kind == "sim_swap")))
        assert len(alerts) == 1 and alerts[0].details["action"] == "point payment"
        assert db.session.scalar(select(func.count()).select_from(PointPayment)) == 0
        assert db.session.scalar(select(func.count()).select_from(PointTransfer)) == 1
        db.session.remove()
    lift = client.post("/api/v1/phone-numbers/+84912000001/lift-hold", json={"reason": "CCCD checked"}, headers=staff)
    assert lift.status_code == 200, lift.get_json()
    assert client.post("/api/v1/point-payments", json=pay, headers=shops["post"].headers).status_code == 201
    ledger_ok(app)


def test_the_360_shows_payments_and_transfers_and_staff_reverse_with_its_button(
    app: Flask, client: FlaskClient, shops: dict[str, ProviderKey], staff: dict[str, str], work: Any
) -> None:
    from campaigns.models import AuditEvent
    from tests.helpers.factories import make_user
    from tests.helpers.web import csrf_token, login
    from webapp.extensions import db

    setup(client, shops, staff, work)
    t = send(client, shops["telecom"], "tr-1", 60).get_json()
    pay = {"provider_payment_id": "till-9", "customer": {"phone": A}, "points": 10}
    assert client.post("/api/v1/point-payments", json=pay, headers=shops["post"].headers).status_code == 201
    ui = app.test_client()
    assert login(ui, make_user(app, "care@example.com", "care")).status_code == 302
    page = ui.get(f"/customers/{t['from_customer_id']}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Points payments" in html and "till-9" in html
    assert f"/customers/{t['from_customer_id']}/transfers/{t['id']}/reverse" in html
    url = f"/customers/{t['from_customer_id']}/transfers/{t['id']}/reverse"
    assert ui.post(url).status_code == 400  # no CSRF token
    token = csrf_token(ui, f"/customers/{t['from_customer_id']}")
    done = ui.post(url, data={"csrf_token": token})
    assert done.status_code == 302
    assert balances(client, shops["telecom"]) == (140, 10)  # 150 - 10 paid; the transfer and its fee undone
    html = ui.get(f"/customers/{t['from_customer_id']}").get_data(as_text=True)
    assert "reversed" in html and url not in html
    with app.app_context():
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "point_transfer.reversed")).one()
        assert event.actor == "care@example.com"
    # a provider user sees the payment taken at its own checkout, not the transfer another provider made
    post_user = app.test_client()
    assert login(post_user, make_user(app, "p@example.com", "provider", "post")).status_code == 302
    html = post_user.get(f"/customers/{t['from_customer_id']}").get_data(as_text=True)
    assert "till-9" in html and "No point transfers." in html
    ledger_ok(app)
