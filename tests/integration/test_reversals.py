"""Refunds claw points back in proportion, as new ledger entries."""

from __future__ import annotations

from tests.helpers.api import publish, txn
from tests.helpers.database import ledger_ok
from tests.helpers.documents import BASE_EARNING


def _credited(client, telecom, work, amount=1_000_000, ref="r-1"):
    tid = client.post("/api/v1/transactions", json=txn(ref, amount), headers=telecom.headers).get_json()["id"]
    work()
    return tid


def _balance(client, telecom):
    return client.get("/api/v1/customers/lookup?phone=0912345678", headers=telecom.headers).get_json()["balance"]


def test_partial_then_full_reversal(app, client, telecom, staff, work):
    publish(client, staff, BASE_EARNING)
    tid = _credited(client, telecom, work)
    assert _balance(client, telecom) == 100
    part = client.post(f"/api/v1/transactions/{tid}/reversal", json={"amount": 250_000}, headers=telecom.headers)
    assert part.status_code == 201 and part.get_json()["points"] == -25
    assert _balance(client, telecom) == 75
    view = client.get(f"/api/v1/transactions/{tid}", headers=telecom.headers).get_json()
    assert view["status"] == "processed" and view["points"] == 75 and view["reversed_amount"] == 250_000

    too_much = client.post(f"/api/v1/transactions/{tid}/reversal", json={"amount": 800_000}, headers=telecom.headers)
    assert too_much.status_code == 422 and too_much.get_json()["error"]["fields"][0]["path"] == "amount"

    rest = client.post(f"/api/v1/transactions/{tid}/reversal", json={}, headers=telecom.headers)
    assert rest.status_code == 201 and rest.get_json()["points"] == -75
    view = client.get(f"/api/v1/transactions/{tid}", headers=telecom.headers).get_json()
    assert view["status"] == "reversed" and view["points"] == 0 and len(view["reversals"]) == 2

    again = client.post(f"/api/v1/transactions/{tid}/reversal", json={}, headers=telecom.headers)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_reversed"
    assert _balance(client, telecom) == 0
    ledger_ok(app)


def test_rounding_never_claws_back_more_than_earned(app, client, telecom, staff, work):
    publish(client, staff, BASE_EARNING)
    tid = _credited(client, telecom, work, amount=70_000)  # 7 points
    for _ in range(3):
        client.post(f"/api/v1/transactions/{tid}/reversal", json={"amount": 20_000}, headers=telecom.headers)
    last = client.post(f"/api/v1/transactions/{tid}/reversal", json={"amount": 10_000}, headers=telecom.headers)
    assert last.status_code == 201
    assert _balance(client, telecom) == 0
    ledger_ok(app)


def test_reversal_idempotent_by_reversal_id(client, telecom, staff, work):
    publish(client, staff, BASE_EARNING)
    tid = _credited(client, telecom, work)
    first = client.post(
        f"/api/v1/transactions/{tid}/reversal", json={"amount": 100_000, "reversal_id": "R1"}, headers=telecom.headers
    )
    again = client.post(
        f"/api/v1/transactions/{tid}/reversal", json={"amount": 100_000, "reversal_id": "R1"}, headers=telecom.headers
    )
    assert first.status_code == 201 and again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"]
    assert _balance(client, telecom) == 90
    clash = client.post(
        f"/api/v1/transactions/{tid}/reversal", json={"amount": 5_000, "reversal_id": "R1"}, headers=telecom.headers
    )
    assert clash.status_code == 409


def test_reversal_before_credit_is_applied_right_after_it(app, client, telecom, staff, work):
    publish(client, staff, BASE_EARNING)
    tid = client.post("/api/v1/transactions", json=txn("early", 500_000), headers=telecom.headers).get_json()["id"]
    pending = client.post(f"/api/v1/transactions/{tid}/reversal", json={"amount": 500_000}, headers=telecom.headers)
    assert pending.status_code == 202 and pending.get_json()["status"] == "pending"
    assert client.post(f"/api/v1/transactions/{tid}/reversal", json={}, headers=telecom.headers).status_code == 409
    work()
    view = client.get(f"/api/v1/transactions/{tid}", headers=telecom.headers).get_json()
    assert view["status"] == "reversed" and view["points"] == 0
    assert view["reversals"][0]["status"] == "applied" and view["reversals"][0]["points"] == -50
    assert _balance(client, telecom) == 0
    ledger_ok(app)


def test_a_batch_applies_the_refund_waiting_for_one_of_its_transactions_only(app, client, telecom, staff, work):
    """The batch looks for waiting refunds once its rows are locked, before it credits them: the refund of one
    transaction is applied after its credit, the other transaction of the same batch keeps its points."""
    publish(client, staff, BASE_EARNING)
    kept = client.post("/api/v1/transactions", json=txn("kept", 300_000), headers=telecom.headers).get_json()["id"]
    tid = client.post("/api/v1/transactions", json=txn("refunded", 500_000), headers=telecom.headers).get_json()["id"]
    pending = client.post(f"/api/v1/transactions/{tid}/reversal", json={"amount": 200_000}, headers=telecom.headers)
    assert pending.status_code == 202 and pending.get_json()["status"] == "pending"
    work()
    view = client.get(f"/api/v1/transactions/{tid}", headers=telecom.headers).get_json()
    assert view["status"] == "processed" and view["reversals"][0]["status"] == "applied"
    assert view["reversals"][0]["points"] == -20
    other = client.get(f"/api/v1/transactions/{kept}", headers=telecom.headers).get_json()
    assert other["status"] == "processed" and other["reversals"] == [] and other["points"] == 30
    assert _balance(client, telecom) == 30 + 50 - 20
    ledger_ok(app)


def test_reversal_validation(client, telecom):
    tid = client.post("/api/v1/transactions", json=txn("v"), headers=telecom.headers).get_json()["id"]
    for body, path in [({"amount": -1}, "amount"), ({"amount": "x"}, "amount"), ({"foo": 1}, "foo")]:
        resp = client.post(f"/api/v1/transactions/{tid}/reversal", json=body, headers=telecom.headers)
        assert resp.status_code == 422 and resp.get_json()["error"]["fields"][0]["path"] == path
    assert client.post("/api/v1/transactions/424242/reversal", json={}, headers=telecom.headers).status_code == 404


def test_ledger_check_scans_in_chunks_and_finds_every_kind_of_problem(app, client, telecom, staff, work, monkeypatch):
    """Small chunks stand for books of millions of rows: each problem is found in whichever chunk holds it."""
    from sqlalchemy import select, update

    from campaigns.accounts import ledger
    from campaigns.models import CustomerBalance, LedgerEntry, PointLot
    from webapp.extensions import db

    monkeypatch.setattr(ledger, "CHECK_CUSTOMERS_PER_CHUNK", 1)
    monkeypatch.setattr(ledger, "CHECK_ROWS_PER_CHUNK", 2)
    publish(client, staff, BASE_EARNING)
    ids = [
        client.post(
            "/api/v1/transactions", json=txn(f"c{i}", 100_000, phone=f"091234567{i}"), headers=telecom.headers
        ).get_json()["id"]
        for i in range(4)
    ]
    work()
    assert client.post(f"/api/v1/transactions/{ids[3]}/reversal", json={}, headers=telecom.headers).status_code == 201
    ledger_ok(app)
    with app.app_context():
        last = db.session.scalars(
            select(CustomerBalance.customer_id).order_by(CustomerBalance.customer_id.desc())
        ).first()
        rev_id, reversed_id, rev_points = db.session.execute(
            select(LedgerEntry.id, LedgerEntry.reverses_entry_id, LedgerEntry.points).where(
                LedgerEntry.kind == "reversal"
            )
        ).one()
        lot_id = db.session.scalar(select(PointLot.id).where(PointLot.remaining > 0))
        balance = db.session.scalar(select(CustomerBalance.balance).where(CustomerBalance.customer_id == last))
        balance_row = update(CustomerBalance).where(CustomerBalance.customer_id == last)
        lot_row = update(PointLot).where(PointLot.id == lot_id)
        entry_row = update(LedgerEntry).where(LedgerEntry.id == rev_id)
        db.session.execute(balance_row.values(balance=999))
        db.session.execute(lot_row.values(remaining=PointLot.remaining - 10_000))
        db.session.execute(entry_row.values(points=rev_points - 5))
        db.session.commit()
        problems = ledger.check_invariants(db.session)
        db.session.execute(balance_row.values(balance=balance))
        db.session.execute(lot_row.values(remaining=PointLot.remaining + 10_000))
        db.session.execute(entry_row.values(points=rev_points))
        db.session.commit()
    assert any(p.startswith(f"customer {last}: balance/pending") for p in problems)
    assert any(p.startswith(f"customer {last}: balance 999") for p in problems)
    assert f"point lot {lot_id}: negative remaining" in problems
    assert any(p.startswith(f"ledger entry {reversed_id}: reversed") for p in problems)
    ledger_ok(app)
