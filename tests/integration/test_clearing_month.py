"""One month of a coalition, played day by day (the clock travels), closed, and its statement checked by hand.

October 2026, programme time zone Asia/Ho_Chi_Minh. Rates (VND per point,
issue cost / redemption rate): telecom 100/90 until 15 October, then 120/95;
post 80/120; shop 50/60; the programme values its own points at 70.
Customers: A, B (a family group with A), C (earned in September), D, E.
The figures every assertion expects are worked out beside it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import time_machine
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import ledger_ok, make_provider, publish
from tests.integration.test_clearing import BASE, JOINT, SPLIT, WELCOME, by_party, post, redeem

A, B, C, D, E = "0912000001", "0912000002", "0912000003", "0912000004", "0912000005"


def at(day: str, hour: int = 3) -> Any:
    """Travel to ``day`` at ``hour`` UTC (10:00 in Hanoi at the default); the clock keeps ticking."""
    y, m, d = (int(p) for p in day.split("-"))
    return time_machine.travel(datetime(y, m, d, hour, tzinfo=UTC), tick=True)


def cli(app: Flask, *args: str) -> Any:
    result = app.test_cli_runner().invoke(args=list(args))
    return result


def test_a_month_of_clearing_closes_to_the_dong(
    app: Flask, client: FlaskClient, staff: dict[str, str], work: Any
) -> None:
    expiry = "/api/v1/settings/points_expiry"
    with at("2026-09-05"):
        keys = {code: make_provider(app, code) for code in ("telecom", "post", "shop")}
        for code, issue, redeem_rate in (("telecom", 100, 90), ("post", 80, 120), ("shop", 50, 60)):
            out = cli(
                app, "providers", "rates", code, "--issue-cost", str(issue), "--redemption-rate", str(redeem_rate)
            )
            assert out.exit_code == 0, out.output
        assert (
            cli(app, "providers", "rates", "programme", "--issue-cost", "70", "--redemption-rate", "0").exit_code == 0
        )
        for doc in (BASE, JOINT, WELCOME, SPLIT):
            publish(client, staff, doc)
        for code, cost, fulfiller in (("DATA", 50, "telecom"), ("PARCEL", 30, "post")):
            body = {"code": code, "name": code.title(), "cost": cost, "provider": fulfiller}
            assert client.post("/api/v1/rewards", json=body, headers=staff).status_code == 201
        short = {"value": {"policy": "rolling_months", "months": 1}}
        assert client.put(expiry, json=short, headers=staff).status_code == 200
        post(client, keys["post"], "c1", C, "topup", 300_000)  # C: 30 points funded by post, expiring 5 October
        work()
    with at("2026-10-01"):
        year = {"value": {"policy": "rolling_months", "months": 12}}
        assert client.put(expiry, json=year, headers=staff).status_code == 200
    with at("2026-10-02"):
        t_a = post(client, keys["telecom"], "a1", A, "topup", 1_000_000)  # A: 100, telecom
        post(client, keys["post"], "a2", A, "split")  # A: 11 -> post 8 (70 %, rounded up), programme 3
        work()
        post(client, keys["shop"], "b1", B, "joint")  # B: 15 -> telecom 8, shop 7 (the tie goes to the first)
        post(client, keys["shop"], "b2", B, "welcome")  # B: 20, programme
        work()
        t_e = post(client, keys["shop"], "e1", E, "topup", 400_000)  # E: 40, shop
        work()
        redeem(client, keys["telecom"], A, "DATA")  # 50 of A's telecom lot; telecom is owed 50 x 90
    with at("2026-10-03"):
        # a partial refund after the points were partly spent: 60 % of A's 100 -> 60 back: the 50 left of that
        # earning, then A's oldest other points: post 8, programme 2
        back = client.post(
            f"/api/v1/transactions/{t_a}/reversal", json={"amount": 600_000}, headers=keys["telecom"].headers
        )
        assert back.status_code == 201 and back.get_json()["points"] == -60
        group = client.post(
            "/api/v1/groups", json={"owner": {"phone": B}, "name": "Family"}, headers=keys["shop"].headers
        )
        assert group.status_code == 201, group.get_json()
        gid = group.get_json()["id"]
        invite = {"owner": {"phone": B}, "customer": {"phone": A}}
        assert (
            client.post(f"/api/v1/groups/{gid}/invitations", json=invite, headers=keys["shop"].headers).status_code
            < 300
        )
        join = {"customer": {"phone": A}}
        assert client.post(f"/api/v1/groups/{gid}/members", json=join, headers=keys["shop"].headers).status_code < 300
        # a pooled redemption of the parcel (30, post): A's programme 1, then B's telecom 8, shop 7, programme 14
        pooled = client.post(
            "/api/v1/redemptions",
            json={"customer": {"phone": B}, "reward": "PARCEL", "pool": True},
            headers=keys["post"].headers,
        )
        assert pooled.status_code == 201, pooled.get_json()
    with at("2026-10-04"):
        e_parcel = redeem(client, keys["post"], E, "PARCEL")  # 30 of E's shop points ...
    with at("2026-10-06"):
        out = cli(app, "lifecycle")  # C's 30 post points expired on the 5th: breakage, attributed to post
        assert out.exit_code == 0 and "(30 points)" in out.output, out.output
    with at("2026-10-08"):
        assert client.post(f"/api/v1/redemptions/{e_parcel}/cancel", headers=keys["post"].headers).status_code == 200
    with at("2026-10-10"):
        out = cli(
            app,
            "providers",
            "rates",
            "telecom",
            "--issue-cost",
            "120",
            "--redemption-rate",
            "95",
            "--from",
            "2026-10-15",
        )
        assert out.exit_code == 0, out.output
        assert cli(app, "providers", "rates", "telecom", "--from", "2026-10-01", "--issue-cost", "1").exit_code == 1
    with at("2026-10-20"):
        t_d = post(client, keys["telecom"], "d1", D, "topup", 500_000)  # D: 50, telecom at the new 120
        work()
        d_data = redeem(client, keys["telecom"], D, "DATA")  # telecom is owed 50 x 95
    with at("2026-10-31", 16):  # 23:00 in Hanoi: October has not ended there
        out = cli(app, "settlement", "close", "2026-10")
        assert out.exit_code == 1 and "has not ended" in out.output
    with at("2026-11-02"):
        out = cli(app, "settlement", "close", "2026-10")
        assert out.exit_code == 0, out.output
        assert cli(app, "settlement", "close", "2026-10").exit_code == 1  # closing twice is refused
        assert "already closed" in cli(app, "settlement", "close", "2026-10").output
        assert cli(app, "settlement", "close", "2026-11").exit_code == 1  # November is still running
        october = client.get("/api/v1/settlement/statements/2026-10", headers=staff).get_json()
        liability = client.get("/api/v1/settlement/liability?as_of=2026-10-31", headers=staff).get_json()
    with at("2026-11-03"):
        # after the close: half of E's purchase refunded (20 shop points back), D's redemption cancelled
        back = client.post(
            f"/api/v1/transactions/{t_e}/reversal", json={"amount": 200_000}, headers=keys["shop"].headers
        )
        assert back.status_code == 201 and back.get_json()["points"] == -20
        assert client.post(f"/api/v1/redemptions/{d_data}/cancel", headers=keys["telecom"].headers).status_code == 200
        november = client.get("/api/v1/settlement/statements/2026-11", headers=staff).get_json()
        again = client.get("/api/v1/settlement/statements/2026-10", headers=staff).get_json()

    assert october["status"] == "closed" and october["total"] == 0
    st = by_party(october)
    # telecom: issued 100 x 100 (A) + 8 x 100 (B's joint half) + 50 x 120 (D, after the change) = 16,800 for 158;
    # clawed back 50 x 100 = 5,000 -> owes 11,800. Redeemed 50 x 90 (A) + 50 x 95 (D) = 9,250. Net -2,550.
    assert st["telecom"]["points_funded"] == {"issued": 158, "clawed_back": 50}
    assert st["telecom"]["amount_owed"] == 11_800
    assert st["telecom"]["points_redeemed"] == {"redeemed": 100, "cancelled": 0}
    assert st["telecom"]["amount_receivable"] == 9_250
    assert st["telecom"]["net"] == -2_550
    # post: issued 8 x 80 = 640, clawed back the same 8 -> owes 0. Redeemed 2 parcels x 30 x 120 = 7,200, one
    # cancelled (-3,600) -> 3,600. C's 30 points expired: 2,400 of breakage the programme keeps. Net +3,600.
    assert st["post"]["points_funded"] == {"issued": 8, "clawed_back": 8} and st["post"]["amount_owed"] == 0
    assert st["post"]["points_redeemed"] == {"redeemed": 60, "cancelled": 30}
    assert st["post"]["amount_receivable"] == 3_600 and st["post"]["net"] == 3_600
    assert st["post"]["expired_points"] == 30 and st["post"]["expired_value"] == 2_400
    # shop: issued 7 x 50 + 40 x 50 = 2,350; nothing redeemed through it. Net -2,350.
    assert st["shop"]["amount_owed"] == 2_350 and st["shop"]["net"] == -2_350
    # the programme: funded 3 + 20 = 23 of its own points; keeps 2,550 - 3,600 + 2,350 = 1,300
    assert st["programme"]["points_funded"] == 23 and st["programme"]["breakage_points"] == 30
    assert st["programme"]["net"] == 1_300 == st["programme"]["margin"]

    assert documented_statement() == {
        s["party"]: (s.get("amount_owed"), s.get("amount_receivable"), s["net"]) for s in october["statements"]
    }

    rows = {r["funder"]: r for r in liability["funders"]}
    # post: 30 open at the start (C), + 8 issued - 8 clawed back - 30 expired = 0
    assert rows["post"]["opening"] == {"points": 30, "value": 2_400}
    assert rows["post"]["expired"] == {"points": 30, "value": 2_400} and rows["post"]["closing"]["points"] == 0
    # telecom: 158 issued - 50 clawed back - 108 redeemed (A 50, B 8 pooled, D 50) = 0, also in VND
    assert rows["telecom"]["redeemed"] == {"points": 108, "value": 5_000 + 800 + 6_000}
    assert rows["telecom"]["closing"] == {"points": 0, "value": 0}
    # shop: 47 issued - 7 pooled (E's 30 came back) = 40; programme: 23 - 2 clawed - 15 pooled = 6
    assert rows["shop"]["closing"] == {"points": 40, "value": 2_000}
    assert rows["programme"]["closing"] == {"points": 6, "value": 420}

    # the closed month never changes; what came later is November's, as prior-period adjustments
    assert again["statements"] == october["statements"]
    nov = by_party(november)
    assert nov["shop"]["adjustments"] == [
        {
            "kind": "clawed_back",
            "points": 20,
            "amount": 1_000,
            "origin": f"refund of transaction {t_e} earned in 2026-10 (entry {_reversal_entry(app, t_e)})",
        }
    ]
    assert nov["shop"]["net"] == 1_000 and nov["shop"]["points_funded"] == {"issued": 0, "clawed_back": 0}
    [cancel] = nov["telecom"]["adjustments"]
    assert cancel["kind"] == "redemption_cancelled" and cancel["amount"] == -4_750  # at October's 95
    assert cancel["origin"].startswith(f"redemption {d_data} of 2026-10 cancelled")
    assert nov["telecom"]["net"] == -4_750 and november["total"] == 0
    assert t_d  # D's purchase itself stays October's
    out = cli(app, "ledger", "check")
    assert out.exit_code == 0 and "ledger OK" in out.output, out.output
    ledger_ok(app)


def _reversal_entry(app: Flask, txn_id: int) -> int:
    from sqlalchemy import select

    from campaigns.models import LedgerEntry
    from webapp.extensions import db

    with app.app_context():
        return db.session.scalar(
            select(LedgerEntry.id).where(LedgerEntry.transaction_id == txn_id, LedgerEntry.kind == "reversal")
        )


def documented_statement() -> dict[str, tuple[int | None, int | None, int]]:
    """The worked example's statement as docs/clearing.md prints it: party -> (owed, receivable, net)."""
    text = (Path(__file__).parents[2] / "docs" / "clearing.md").read_text()
    block = text.split("```statement 2026-10\n", 1)[1].split("```", 1)[0]
    out = {}
    for row in block.splitlines()[1:]:
        party, owed, receivable, net = row.split()
        out[party] = (None if owed == "-" else int(owed), None if receivable == "-" else int(receivable), int(net))
    return out


def test_months_close_one_after_another(app: Flask, client: FlaskClient, staff: dict[str, str]) -> None:
    """A skipped month would belong to no statement: closing past an open month is refused on every path."""
    with at("2027-01-05"):
        assert cli(app, "settlement", "close", "2026-10").exit_code == 0  # the first close may be any ended month
        skipped = cli(app, "settlement", "close", "2026-12")
        assert skipped.exit_code == 1 and "2026-11 is still open" in skipped.output
        api = client.post("/api/v1/settlement/periods/2026-12/close", headers=staff)
        assert api.status_code == 409 and "2026-11 is still open" in api.get_data(as_text=True)
        assert cli(app, "settlement", "close", "2026-11").exit_code == 0
        assert client.post("/api/v1/settlement/periods/2026-12/close", headers=staff).status_code == 201
