"""Points as money at a provider's checkout, through the API and the worker, down to the clearing statement.

Rates (VND per point, issue cost / redemption rate): telecom 100/90, post 80/120. The customer earns 100 points
at telecom, then 50 at the post office (1 point per 10,000 VND); both lots expire in 12 months, telecom's first.
Every expected figure is worked out beside its assertion; each test ends with ``flask ledger check``'s invariants.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import ProviderKey, ledger_ok, make_provider, publish
from tests.integration.test_clearing import BASE, by_party, post

PHONE = "0912000001"
PAY = "/api/v1/point-payments"


@pytest.fixture()
def shops(app: Flask, client: FlaskClient, staff: dict[str, str]) -> dict[str, ProviderKey]:
    return make_shops(app, client, staff)


def make_shops(app: Flask, client: FlaskClient, staff: dict[str, str]) -> dict[str, ProviderKey]:
    """Telecom and the post office with their rates, and the base earning campaign."""
    keys = {code: make_provider(app, code) for code in ("telecom", "post")}
    for code, (issue, redeem) in {"telecom": (100, 90), "post": (80, 120)}.items():
        body = {"issue_cost": issue, "redemption_rate": redeem}
        assert client.put(f"/api/v1/providers/{code}/rates", json=body, headers=staff).status_code == 200
    publish(client, staff, BASE)
    return keys


def earn(client: FlaskClient, keys: dict[str, ProviderKey], work: Any) -> None:
    post(client, keys["telecom"], "t1", PHONE, "topup", 1_000_000)  # 100 points, funded by telecom
    work()
    post(client, keys["post"], "p1", PHONE, "topup", 500_000)  # 50 points, funded by post
    work()


def remaining_by_funder(app: Flask) -> dict[str, int]:
    from sqlalchemy import func, select

    from campaigns.clearing.statements import party_codes
    from campaigns.models import PointLot
    from webapp.extensions import db

    with app.app_context():
        codes = party_codes(db.session)
        rows = db.session.execute(
            select(PointLot.funder_id, func.sum(PointLot.remaining)).group_by(PointLot.funder_id)
        ).all()
        return {codes[f]: int(r) for f, r in rows}


def balance(client: FlaskClient, key: ProviderKey) -> int:
    resp = client.get(f"/api/v1/customers/lookup?phone={PHONE}", headers=key.headers)
    assert resp.status_code == 200, resp.get_json()
    return int(resp.get_json()["balance"])


def test_a_payment_by_points_takes_the_oldest_lots_across_funders_and_replays_idempotently(
    app: Flask, client: FlaskClient, shops: dict[str, ProviderKey], work: Any
) -> None:
    earn(client, shops, work)
    body = {"provider_payment_id": "till-1", "customer": {"phone": PHONE}, "points": 120}
    resp = client.post(PAY, json=body, headers=shops["post"].headers)
    assert resp.status_code == 201, resp.get_json()
    paid = resp.get_json()
    assert (paid["points"], paid["amount"], paid["balance"], paid["status"]) == (120, 120, 30, "paid")
    # FIFO: telecom's lot (earned first, expiring first) gives all its 100, post's the other 20
    assert remaining_by_funder(app) == {"telecom": 0, "post": 30}
    assert balance(client, shops["post"]) == 30
    # the same body (phone written differently) answers the same; a different body is a 409 naming the field
    again = client.post(PAY, json={**body, "customer": {"phone": "+84 912 000 001"}}, headers=shops["post"].headers)
    assert again.status_code == 200 and again.get_json() == paid
    other = client.post(PAY, json={**body, "points": 10}, headers=shops["post"].headers)
    assert other.status_code == 409
    assert other.get_json()["error"]["fields"][0]["path"] == "provider_payment_id"
    # another provider may use the same id for its own payment, and cannot read the post office's
    assert client.get(f"{PAY}/{paid['id']}", headers=shops["telecom"].headers).status_code == 404
    shown = client.get(f"{PAY}/{paid['id']}", headers=shops["post"].headers)
    assert shown.status_code == 200 and shown.get_json()["points"] == 120
    # the ledger shows it with the provider it was spent at
    ledger = client.get(f"/api/v1/customers/lookup?phone={PHONE}", headers=shops["post"].headers).get_json()["ledger"]
    assert ledger[0]["kind"] == "payment" and ledger[0]["points"] == -120 and ledger[0]["provider"] == "post"
    ledger_ok(app)


def test_a_payment_by_amount_converts_at_point_value(
    app: Flask, client: FlaskClient, shops: dict[str, ProviderKey], staff: dict[str, str], work: Any
) -> None:
    earn(client, shops, work)
    assert client.put("/api/v1/settings/point_value", json={"value": 50}, headers=staff).status_code == 200
    body = {"provider_payment_id": "till-2", "customer": {"phone": PHONE}, "amount": 2_500}
    resp = client.post(PAY, json=body, headers=shops["post"].headers)
    assert resp.status_code == 201, resp.get_json()
    assert (resp.get_json()["points"], resp.get_json()["amount"], resp.get_json()["balance"]) == (50, 2_500, 100)
    odd = client.post(
        PAY, json={**body, "provider_payment_id": "till-3", "amount": 2_520}, headers=shops["post"].headers
    )
    assert odd.status_code == 422
    assert odd.get_json()["error"]["fields"][0]["path"] == "amount"
    both = client.post(PAY, json={**body, "provider_payment_id": "till-4", "points": 5}, headers=shops["post"].headers)
    assert both.status_code == 422 and "either points or amount" in both.get_json()["error"]["message"]


def test_insufficient_balance_and_below_minimum_are_refused_with_the_field(
    app: Flask, client: FlaskClient, shops: dict[str, ProviderKey], staff: dict[str, str], work: Any
) -> None:
    earn(client, shops, work)
    body = {"provider_payment_id": "big", "customer": {"phone": PHONE}, "points": 151}
    resp = client.post(PAY, json=body, headers=shops["post"].headers)
    assert resp.status_code == 409
    err = resp.get_json()["error"]
    assert err["code"] == "insufficient_points" and err["fields"][0] == {
        "path": "points",
        "reason": "needs 151 points, 150 available",
    }
    assert client.put("/api/v1/settings/min_redemption_points", json={"value": 30}, headers=staff).status_code == 200
    small = client.post(PAY, json={**body, "provider_payment_id": "small", "points": 29}, headers=shops["post"].headers)
    assert small.status_code == 422
    err = small.get_json()["error"]
    assert err["code"] == "below_minimum_redemption"
    assert err["fields"][0] == {"path": "points", "reason": "29 points is below the programme's minimum of 30 points"}
    unknown = client.post(PAY, json={**body, "customer": {"phone": "0912999999"}}, headers=shops["post"].headers)
    assert unknown.status_code == 404
    assert balance(client, shops["post"]) == 150  # nothing moved


def test_partial_and_full_refunds_never_exceed_the_payment(
    app: Flask, client: FlaskClient, shops: dict[str, ProviderKey], work: Any
) -> None:
    earn(client, shops, work)
    key = shops["post"].headers
    paid = client.post(
        PAY, json={"provider_payment_id": "till-1", "customer": {"phone": PHONE}, "points": 120}, headers=key
    ).get_json()
    url = f"{PAY}/{paid['id']}/refund"
    part = client.post(url, json={"provider_refund_id": "r1", "points": 20}, headers=key)
    assert part.status_code == 201, part.get_json()
    out = part.get_json()
    assert (out["points"], out["amount"], out["balance"]) == (20, 20, 50)
    assert out["payment"]["status"] == "partly_refunded" and out["payment"]["refunded_points"] == 20
    # the last lots taken come back first: post's 20
    assert remaining_by_funder(app) == {"telecom": 0, "post": 50}
    assert client.post(url, json={"provider_refund_id": "r1", "points": 20}, headers=key).get_json() == out
    assert client.post(url, json={"provider_refund_id": "r1", "points": 21}, headers=key).status_code == 409
    over = client.post(url, json={"provider_refund_id": "r2", "points": 101}, headers=key)
    assert over.status_code == 409
    assert over.get_json()["error"]["code"] == "refund_exceeds_payment"
    assert over.get_json()["error"]["fields"][0] == {
        "path": "points",
        "reason": "only 100 of the payment's 120 points are left to refund",
    }
    assert (
        client.post(url, json={"provider_refund_id": "r2", "points": 1}, headers=shops["telecom"].headers).status_code
        == 404
    )
    rest = client.post(url, json={"provider_refund_id": "r3", "amount": 100}, headers=key)
    assert rest.status_code == 201, rest.get_json()
    assert rest.get_json()["payment"]["status"] == "refunded" and rest.get_json()["balance"] == 150
    assert remaining_by_funder(app) == {"telecom": 100, "post": 50}
    none_left = client.post(url, json={"provider_refund_id": "r4", "points": 1}, headers=key)
    assert none_left.status_code == 409
    ledger_ok(app)


def test_the_statement_makes_the_provider_receivable_and_a_refund_reverses_it(
    app: Flask, client: FlaskClient, shops: dict[str, ProviderKey], staff: dict[str, str], work: Any
) -> None:
    from campaigns.clearing.statements import month_of, zone
    from campaigns.models import utcnow
    from webapp.extensions import db

    earn(client, shops, work)
    key = shops["post"].headers
    paid = client.post(
        PAY, json={"provider_payment_id": "till-1", "customer": {"phone": PHONE}, "points": 120}, headers=key
    ).get_json()
    client.post(f"{PAY}/{paid['id']}/refund", json={"provider_refund_id": "r1", "points": 20}, headers=key)
    with app.app_context():
        period = month_of(utcnow(), zone(db.session))
    view = client.get(f"/api/v1/settlement/statements/{period}", headers=staff).get_json()
    parties = by_party(view)
    post_s, telecom_s = parties["post"], parties["telecom"]
    # post: paid with 120 points x 120 = 14,400 receivable, 20 refunded x 120 = 2,400 back; it funded 50 x 80
    assert post_s["points_redeemed"] == {"redeemed": 120, "cancelled": 20}
    assert post_s["amount_receivable"] == 14_400 - 2_400
    assert post_s["amount_owed"] == 4_000
    assert post_s["net"] == 12_000 - 4_000
    # telecom funded 100 x 100 and is reimbursed nothing: the points were spent at the post office
    assert (telecom_s["amount_owed"], telecom_s["amount_receivable"], telecom_s["net"]) == (10_000, 0, -10_000)
    assert parties["programme"]["net"] == 2_000 and view["total"] == 0
    # the provider's own key sees only its statement
    mine = client.get(f"/api/v1/settlement/statements/{period}", headers=key).get_json()
    assert [s["party"] for s in mine["statements"]] == ["post"]
    ledger_ok(app)


def at(day: str) -> Any:
    y, m, d = (int(p) for p in day.split("-"))
    return time_machine.travel(datetime(y, m, d, 3, tzinfo=UTC), tick=True)


def test_a_refund_after_the_month_closed_is_a_prior_period_line_naming_the_payment(
    app: Flask, client: FlaskClient, staff: dict[str, str], work: Any
) -> None:
    with at("2026-10-02"):
        keys = {code: make_provider(app, code) for code in ("telecom", "post")}
        for code, (issue, redeem) in {"telecom": (100, 90), "post": (80, 120)}.items():
            body = {"issue_cost": issue, "redemption_rate": redeem}
            assert client.put(f"/api/v1/providers/{code}/rates", json=body, headers=staff).status_code == 200
        publish(client, staff, BASE)
        earn(client, keys, work)
        paid = client.post(
            PAY,
            json={"provider_payment_id": "till-1", "customer": {"phone": PHONE}, "points": 120},
            headers=keys["post"].headers,
        ).get_json()
    with at("2026-11-02"):
        result = app.test_cli_runner().invoke(args=["settlement", "close", "2026-10"])
        assert result.exit_code == 0, result.output
        october = client.get("/api/v1/settlement/statements/2026-10", headers=staff).get_json()
        assert by_party(october)["post"]["amount_receivable"] == 14_400
        # a rate change in November does not reprice October's payment: the refund is at 120
        body = {"issue_cost": 80, "redemption_rate": 150}
        assert client.put("/api/v1/providers/post/rates", json=body, headers=staff).status_code == 200
        back = client.post(
            f"{PAY}/{paid['id']}/refund", json={"provider_refund_id": "r1", "points": 30}, headers=keys["post"].headers
        )
        assert back.status_code == 201, back.get_json()
        november = client.get("/api/v1/settlement/statements/2026-11", headers=staff).get_json()
        post_s = by_party(november)["post"]
        assert post_s["points_redeemed"] == {"redeemed": 0, "cancelled": 0}
        [adj] = post_s["adjustments"]
        assert adj["kind"] == "payment_refunded" and adj["points"] == 30 and adj["amount"] == -3_600
        assert adj["origin"].startswith(f"point payment {paid['id']} of 2026-10 refunded")
        assert post_s["net"] == -3_600 and november["total"] == 0
        assert client.get("/api/v1/settlement/statements/2026-10", headers=staff).get_json() == october
        ledger_ok(app)


def test_ledger_check_catches_a_payment_refunded_beyond_itself_or_reimbursed_without_a_payment(
    app: Flask, client: FlaskClient, shops: dict[str, ProviderKey], work: Any
) -> None:
    from sqlalchemy import update

    from campaigns.models import PointPayment
    from webapp.extensions import db

    earn(client, shops, work)
    body = {"provider_payment_id": "till-1", "customer": {"phone": PHONE}, "points": 20}
    paid = client.post(PAY, json=body, headers=shops["post"].headers).get_json()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["ledger", "check"]).exit_code == 0

    def tamper(statement: Any) -> None:
        with app.app_context():
            db.session.execute(statement)
            db.session.commit()

    tamper(update(PointPayment).where(PointPayment.id == paid["id"]).values(refunded_points=21))
    out = runner.invoke(args=["ledger", "check"])
    assert out.exit_code != 0 and f"point payment {paid['id']}: 20 points, debited -20, refunded 21" in out.output
    tamper(update(PointPayment).where(PointPayment.id == paid["id"]).values(refunded_points=0, entry_id=None))
    out = runner.invoke(args=["ledger", "check"])
    assert "1 payment ledger entries belong to no point payment" in out.output
    with app.app_context():
        entry = db.session.scalar(select_payment_entry(paid["id"]))
    tamper(update(PointPayment).where(PointPayment.id == paid["id"]).values(entry_id=entry))
    assert runner.invoke(args=["ledger", "check"]).exit_code == 0


def select_payment_entry(payment_id: int) -> Any:
    from sqlalchemy import select

    from campaigns.models import LedgerEntry

    return select(LedgerEntry.id).where(LedgerEntry.entry_key == f"pay:{payment_id}")


def test_a_merge_moves_the_payment_with_its_customer_and_a_refund_follows(
    app: Flask, client: FlaskClient, shops: dict[str, ProviderKey], work: Any
) -> None:
    from tests.helpers.factories import make_user
    from tests.helpers.web import csrf_token, login

    earn(client, shops, work)
    post(client, shops["post"], "other", "0912000009", "topup", 100_000)  # the survivor: 10 points
    work()
    key = shops["post"].headers
    paid = client.post(
        PAY, json={"provider_payment_id": "till-1", "customer": {"phone": PHONE}, "points": 50}, headers=key
    ).get_json()
    survivor = client.get("/api/v1/customers/lookup?phone=0912000009", headers=key).get_json()["id"]
    ui = app.test_client()
    assert login(ui, make_user(app, "admin@example.com", "admin")).status_code == 302
    form = {
        "csrf_token": csrf_token(ui, f"/customers/{survivor}"),
        "merge_kind": "id",
        "merge_q": str(paid["customer_id"]),
        "merge_reason": "same person, two phones",
    }
    assert ui.post(f"/customers/{survivor}/merge", data=form).status_code == 302
    assert client.get(f"{PAY}/{paid['id']}", headers=key).get_json()["customer_id"] == survivor
    back = client.post(f"{PAY}/{paid['id']}/refund", json={"provider_refund_id": "r1", "points": 50}, headers=key)
    assert back.status_code == 201 and back.get_json()["balance"] == 10 + 100 + 50
    ledger_ok(app)


def test_staff_refund_in_the_providers_namespace_and_it_is_audited(
    app: Flask, client: FlaskClient, shops: dict[str, ProviderKey], staff: dict[str, str], work: Any
) -> None:
    from sqlalchemy import select

    from campaigns.models import AuditEvent
    from webapp.extensions import db

    earn(client, shops, work)
    key = shops["post"].headers
    paid = client.post(
        PAY, json={"provider_payment_id": "till-1", "customer": {"phone": PHONE}, "points": 40}, headers=key
    ).get_json()
    assert client.get(f"{PAY}/{paid['id']}", headers=staff).status_code == 200
    resp = client.post(f"{PAY}/{paid['id']}/refund", json={"provider_refund_id": "care-1", "points": 15}, headers=staff)
    assert resp.status_code == 201, resp.get_json()
    # the post office's own replay of that refund id, same body, answers the staff refund
    mine = client.post(f"{PAY}/{paid['id']}/refund", json={"provider_refund_id": "care-1", "points": 15}, headers=key)
    assert mine.status_code == 200 and mine.get_json()["id"] == resp.get_json()["id"]
    with app.app_context():
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "point_payment.refunded")).one()
        assert event.object_id == str(paid["id"]) and event.details["points"] == 15
    ledger_ok(app)
