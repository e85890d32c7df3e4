"""The staff UI's Finance section: statements with drill-down, roll-forward, rates; CSV of each."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import csrf_token, ledger_ok, login, make_user
from tests.integration import test_clearing
from tests.integration.test_clearing import post

coalition = test_clearing.coalition  # the three providers, their rates, campaigns and rewards (a fixture)


def test_finance_user_reads_statements_drills_down_and_sets_rates(
    app: Flask,
    client: FlaskClient,
    coalition: Any,
    work: Any,
) -> None:
    post(client, coalition["telecom"], "t1", "0912000001", "topup", 1_000_000)  # 100 telecom points
    post(client, coalition["shop"], "s1", "0912000002", "joint")  # telecom 8, shop 7
    work()
    make_user(app, "fin@example.com", "finance")
    assert login(client, "fin@example.com").status_code == 302
    page = client.get("/finance")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Statements" in html and "-10,800" in html  # telecom: 108 x 100, no redemption
    entries = client.get("/finance/entries?party=telecom&kind=issued")
    assert entries.status_code == 200 and "108" in entries.get_data(as_text=True)
    csv = client.get("/finance?format=csv")
    assert csv.mimetype == "text/csv" and "telecom,net,0,-10800" in csv.get_data(as_text=True)
    assert client.get("/finance/entries?party=telecom&kind=issued&format=csv").mimetype == "text/csv"
    liability = client.get("/finance/liability")
    assert liability.status_code == 200 and "Breakage estimate" in liability.get_data(as_text=True)
    assert client.get("/finance/liability?format=csv").mimetype == "text/csv"

    token = csrf_token(client, "/finance/rates")
    bad = client.post(
        "/finance/rates",
        data={"provider": "shop", "issue_cost": "x", "redemption_rate": "60", "csrf_token": token},
    )
    assert bad.status_code == 422 and "a whole number of VND per point" in bad.get_data(as_text=True)
    ok = client.post(
        "/finance/rates",
        data={
            "provider": "shop",
            "issue_cost": "55",
            "redemption_rate": "65",
            "from": "2099-01-01",
            "csrf_token": token,
        },
    )
    assert ok.status_code == 302
    assert "2099-01-01" in client.get("/finance/rates").get_data(as_text=True)
    assert "55" in client.get("/finance/rates?format=csv").get_data(as_text=True)
    # closing the running month is refused, with the reason shown
    refused = client.post("/finance/close", data={"period": "2099-01", "csrf_token": token}, follow_redirects=True)
    assert "has not ended yet" in refused.get_data(as_text=True)
    # finance reads money but does not author campaigns
    assert client.get("/campaigns/new").status_code == 403
    ledger_ok(app)


def test_a_provider_user_sees_only_its_own_statement(
    app: Flask, client: FlaskClient, coalition: Any, work: Any
) -> None:
    post(client, coalition["shop"], "s1", "0912000002", "joint")
    work()
    make_user(app, "shop@example.com", "provider", "shop")
    assert login(client, "shop@example.com").status_code == 302
    html = client.get("/finance").get_data(as_text=True)
    assert ">shop<" in html and ">telecom<" not in html
    assert client.get("/finance/entries?party=telecom&kind=issued").status_code == 404
    assert client.get("/finance/entries?party=shop&kind=issued").status_code == 200


def test_a_manual_adjustment_is_funded_by_the_programme_or_the_provider_named(
    app: Flask, client: FlaskClient, coalition: Any, work: Any
) -> None:
    from sqlalchemy import select

    from campaigns.models import CustomerIdentity, LedgerEntry, PointLot
    from webapp.extensions import db

    post(client, coalition["telecom"], "t1", "0912000001", "topup", 100_000)
    work()
    with app.app_context():
        cid = db.session.scalar(select(CustomerIdentity.customer_id))
    make_user(app, "admin@example.com", "admin")
    login(client, "admin@example.com")

    def adjust(points: int, funder: str) -> Any:
        token = csrf_token(client, "/")
        data = {"points": str(points), "reason": "goodwill after a complaint", "funder": funder, "csrf_token": token}
        return client.post(f"/customers/{cid}/adjustments", data=data)

    assert adjust(30, "").status_code == 302
    assert adjust(20, "shop").status_code == 302
    wrong = adjust(5, "nobody")
    assert wrong.status_code == 422 and "is not a provider code" in wrong.get_data(as_text=True)
    with app.app_context():
        rows = db.session.execute(
            select(PointLot.points, PointLot.funder_id)
            .join(LedgerEntry, LedgerEntry.id == PointLot.entry_id)
            .where(LedgerEntry.kind == "adjustment")
            .order_by(PointLot.id)
        ).all()
        shop = db.session.execute(select(PointLot.funder_id).where(PointLot.points == 20)).scalar_one()
    assert [tuple(r) for r in rows] == [(30, 0), (20, shop)] and shop > 0
    ledger_ok(app)
