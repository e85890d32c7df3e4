"""The loyalty programme in full, through the API and the workers: events, caps, budgets,
tiers, the points lifecycle, rewards and simulation."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from campaigns.accounts.lifecycle import run_all
from campaigns.accrual import crediting
from campaigns.models import CampaignCounter, Customer, LedgerEntry, PointLot, Transaction
from tests.helpers.api import publish, txn
from tests.helpers.database import ledger_ok
from tests.helpers.documents import BASE_EARNING, THIRD_TODAY
from webapp.extensions import db

ROOT = Path(__file__).resolve().parents[2]


def _customer(client, headers, phone="0912345678"):
    return client.get(f"/api/v1/customers/lookup?phone={phone}", headers=headers).get_json()


def _event(event_id, event_type, phone="0912345678", **attributes):
    return {
        "provider_event_id": event_id,
        "event_type": event_type,
        "customer": {"phone": phone},
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "attributes": attributes,
    }


REFERRAL = {
    "name": "Refer a friend",
    "limits": {"per_customer": {"count": 2, "period": "month"}},
    "rules": [
        {
            "name": "referral pays both",
            "conditions": {"all": [{"name": "event_type", "operator": "equal_to", "value": "referral"}]},
            "actions": [{"name": "award_points", "params": {"points": 100, "to": "both"}}],
        }
    ],
}


def test_events_referral_pays_both_and_limits_per_period(app, client, telecom, staff, work):
    publish(client, staff, REFERRAL)
    client.post("/api/v1/transactions", json=txn("seed", 10_000, phone="0987000001"), headers=telecom.headers)
    ids = []
    for i in range(3):
        resp = client.post(
            "/api/v1/events",
            json=_event(f"ref-{i}", "referral", phone=f"091200000{i}", referrer_phone="0987000001"),
            headers=telecom.headers,
        )
        assert resp.status_code == 202, resp.get_json()
        ids.append(resp.get_json()["id"])
    again = client.post(
        "/api/v1/events",
        json=_event("ref-0", "referral", phone="0912000000", referrer_phone="0987000001"),
        headers=telecom.headers,
    )
    assert again.status_code in (200, 409)
    bad = client.post("/api/v1/events", json={**_event("x", "purchase")}, headers=telecom.headers)
    assert bad.status_code == 422 and bad.get_json()["error"]["fields"][0]["path"] == "event_type"
    work()
    referrer = _customer(client, telecom.headers, "0987000001")
    assert referrer["balance"] == 200  # limited to 2 awards per month
    for i in range(3):
        assert _customer(client, telecom.headers, f"091200000{i}")["balance"] == 100
    views = [client.get(f"/api/v1/events/{i}", headers=telecom.headers).get_json() for i in ids]
    assert views[2]["event_type"] == "referral" and views[2]["provider_event_id"] == "ref-2"
    notes = [a["note"] for v in views for a in v["awards"] if a["note"]]
    assert len(notes) == 1 and "limit of 2 award(s) per month" in notes[0]
    ledger_ok(app)


def test_daily_cap_records_the_capped_amount_and_why(app, client, telecom, staff, work):
    doc = {
        "name": "Capped",
        "budget": {"max_points_per_customer_per_day": 30},
        "rules": [
            {
                "name": "r",
                "conditions": {"all": [{"name": "amount", "operator": "greater_than", "value": 0}]},
                "actions": [{"name": "award_points", "params": {"points": 12}}],
            }
        ],
    }
    publish(client, staff, doc)
    tids = [
        client.post("/api/v1/transactions", json=txn(f"c{i}"), headers=telecom.headers).get_json()["id"]
        for i in range(4)
    ]
    work()
    assert _customer(client, telecom.headers)["balance"] == 30
    last = client.get(f"/api/v1/transactions/{tids[2]}", headers=telecom.headers).get_json()
    assert last["points"] == 6 and "daily cap of 30" in last["awards"][0]["note"]
    ledger_ok(app)


@pytest.mark.slow  # worker subprocesses racing for the budget
def test_racing_workers_stop_exactly_at_the_budget(app, client, telecom, staff):
    doc = {
        "name": "Small budget",
        "budget": {"max_points": 1000},
        "rules": [
            {
                "name": "r",
                "conditions": {"all": [{"name": "amount", "operator": "greater_than", "value": 0}]},
                "actions": [{"name": "award_points", "params": {"points": 7}}],
            }
        ],
    }
    camp = publish(client, staff, doc)
    items = [txn(f"b{i}", 50_000, phone=f"0912{i:06d}") for i in range(400)]
    for k in range(0, 400, 200):
        assert (
            client.post(
                "/api/v1/transactions/batch", json={"transactions": items[k : k + 200]}, headers=telecom.headers
            ).status_code
            == 202
        )
    env = {
        **os.environ,
        "LOYALTY_DATABASE_URL": os.environ.get("LOYALTY_TEST_DATABASE_URL", ""),
        "LOYALTY_BATCH_SIZE": "20",
    }
    from tests.helpers.services import DB_URL, REDIS_URL

    env.update(LOYALTY_DATABASE_URL=DB_URL, REDIS_URL=REDIS_URL, LOYALTY_PARTITIONS="4")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst", str(p)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for p in range(4)
    ]
    for p in procs:
        assert p.wait(timeout=180) == 0, p.stderr.read().decode()[-2000:] if p.stderr else ""
    with app.app_context():
        issued = db.session.scalar(select(func.sum(LedgerEntry.points)).where(LedgerEntry.campaign_id == camp["id"]))
        counter = db.session.get(CampaignCounter, camp["id"])
        capped = db.session.scalar(select(func.count()).where(LedgerEntry.note.like("campaign budget%")))
        db.session.remove()
    assert issued == 1000 and counter.points == 1000
    assert capped >= 1
    ledger_ok(app)


TIERS = """
name: Programme tiers
type: tier
grace_days: 30
tiers:
  - {code: member, name: Member, rank: 0}
  - {code: silver, name: Silver, rank: 1, benefits: {earn_multiplier: 1.2}}
  - {code: gold, name: Gold, rank: 2, benefits: {earn_multiplier: 1.5}}
rules:
  - name: member
    conditions: {all: [{name: qualifying_points_365d, operator: greater_than_or_equal_to, value: 0}]}
    actions: [{name: set_tier, params: {tier: member}}]
  - name: silver
    conditions: {all: [{name: qualifying_points_365d, operator: greater_than_or_equal_to, value: 100}]}
    actions: [{name: set_tier, params: {tier: silver}}]
  - name: gold
    conditions:
      any:
        - {name: qualifying_points_365d, operator: greater_than_or_equal_to, value: 300}
        - {name: spend_365d, operator: greater_than_or_equal_to, value: 5000000}
    actions: [{name: set_tier, params: {tier: gold}}]
"""


def test_tiers_upgrade_at_once_multiply_and_downgrade_after_grace(app, client, telecom, staff, work):
    publish(client, staff, BASE_EARNING)
    publish(client, staff, TIERS)
    client.post("/api/v1/transactions", json=txn("t1", 1_000_000), headers=telecom.headers)  # 100 points -> silver
    work()
    c = _customer(client, telecom.headers)
    assert c["tier"] == "silver" and c["qualifying_points"] == 100
    t2 = client.post("/api/v1/transactions", json=txn("t2", 1_000_000), headers=telecom.headers).get_json()["id"]
    work()
    view = client.get(f"/api/v1/transactions/{t2}", headers=telecom.headers).get_json()
    assert view["points"] == 120  # silver x1.2
    big = client.post("/api/v1/transactions", json=txn("t3", 4_000_000), headers=telecom.headers).get_json()["id"]
    work()
    c = _customer(client, telecom.headers)
    assert c["tier"] == "gold"
    assert [h["to"] for h in c["tier_history"]][:2] == ["gold", "silver"]
    # a refund takes the customer below gold; the downgrade waits for the grace period
    rev = client.post(f"/api/v1/transactions/{big}/reversal", json={}, headers=telecom.headers)
    assert rev.status_code == 201, rev.get_json()
    assert _customer(client, telecom.headers)["qualifying_points"] == 220
    rt = app.extensions["loyalty.runtime"]
    run_all(rt.session_factory, rt.published, requalify=True)
    assert _customer(client, telecom.headers)["tier"] == "gold"
    with app.app_context():
        db.session.execute(update(Customer).values(tier_since=datetime.now(UTC) - timedelta(days=31)))
        db.session.commit()
    run_all(rt.session_factory, rt.published, requalify=True)
    c = _customer(client, telecom.headers)
    assert c["tier"] == "silver" and "grace" in c["tier_history"][0]["reason"]
    ledger_ok(app)


def test_pending_points_are_released_and_cancelled_by_a_refund(app, client, telecom, staff, work):
    doc = {
        **{"name": "Held 14 days", "pending_days": 14},
        "rules": [
            {
                "name": "r",
                "conditions": {"all": [{"name": "amount", "operator": "greater_than", "value": 0}]},
                "actions": [{"name": "award_points_per_amount", "params": {"points": 1, "per": 10000}}],
            }
        ],
    }
    publish(client, staff, doc)
    a = client.post("/api/v1/transactions", json=txn("p1", 500_000), headers=telecom.headers).get_json()["id"]
    b = client.post("/api/v1/transactions", json=txn("p2", 300_000), headers=telecom.headers).get_json()["id"]
    work()
    c = _customer(client, telecom.headers)
    assert (c["balance"], c["pending_points"]) == (0, 80)
    client.post(f"/api/v1/transactions/{b}/reversal", json={}, headers=telecom.headers)
    assert _customer(client, telecom.headers)["pending_points"] == 50
    rt = app.extensions["loyalty.runtime"]
    report = run_all(rt.session_factory, rt.published, now=datetime.now(UTC) + timedelta(days=15))
    assert report.released_points == 50
    c = _customer(client, telecom.headers)
    assert (c["balance"], c["pending_points"]) == (50, 0)
    assert client.get(f"/api/v1/transactions/{a}", headers=telecom.headers).get_json()["points"] == 50
    ledger_ok(app)


REWARD = {"code": "DATA1GB", "name": "1 GB data pack", "cost": 50, "stock": 1, "voucher_days": 7}


def test_redeem_spends_oldest_points_first_and_expiry_takes_the_rest(app, client, telecom, staff, work):
    publish(client, staff, BASE_EARNING)
    assert client.post("/api/v1/rewards", json={**REWARD, "stock": 10}, headers=staff).status_code == 201
    client.post("/api/v1/transactions", json=txn("old", 400_000), headers=telecom.headers)
    work()
    with app.app_context():  # make the first lot older: it must be spent first
        db.session.execute(update(PointLot).values(expires_at=datetime.now(UTC) + timedelta(days=10)))
        db.session.commit()
    client.post("/api/v1/transactions", json=txn("new", 600_000), headers=telecom.headers)
    work()
    red = client.post(
        "/api/v1/redemptions",
        json={"customer": {"phone": "0912345678"}, "reward": "DATA1GB", "idempotency_key": "k1"},
        headers=telecom.headers,
    )
    assert red.status_code == 201, red.get_json()
    voucher = red.get_json()["voucher_code"]
    assert voucher.startswith("LV-")
    replay = client.post(
        "/api/v1/redemptions",
        json={"customer": {"phone": "0912345678"}, "reward": "DATA1GB", "idempotency_key": "k1"},
        headers=telecom.headers,
    )
    assert replay.status_code == 200 and replay.get_json()["voucher_code"] == voucher
    c = _customer(client, telecom.headers)
    assert c["balance"] == 50
    rt = app.extensions["loyalty.runtime"]
    report = run_all(rt.session_factory, rt.published, now=datetime.now(UTC) + timedelta(days=11))
    assert report.expired_points == 0  # the old lot was spent entirely by the redemption (FIFO)
    report = run_all(rt.session_factory, rt.published, now=datetime.now(UTC) + timedelta(days=400))
    assert report.expired_points == 50
    assert _customer(client, telecom.headers)["balance"] == 0
    ledger_ok(app)


def test_redemption_errors_cancel_and_last_item_race(app, client, telecom, staff, work):
    publish(client, staff, BASE_EARNING)
    client.post("/api/v1/rewards", json=REWARD, headers=staff)
    poor = client.post(
        "/api/v1/redemptions", json={"customer": {"phone": "0912345678"}, "reward": "DATA1GB"}, headers=telecom.headers
    )
    assert poor.status_code == 404  # unknown customer
    for i in range(6):
        client.post(
            "/api/v1/transactions", json=txn(f"r{i}", 1_000_000, phone=f"09870000{i:02d}"), headers=telecom.headers
        )
    work()

    def redeem(i):
        return app.test_client().post(
            "/api/v1/redemptions",
            json={"customer": {"phone": f"09870000{i:02d}"}, "reward": "DATA1GB"},
            headers=telecom.headers,
        )

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(redeem, range(6)))
    codes = sorted(r.status_code for r in results)
    assert codes == [201, 409, 409, 409, 409, 409]
    assert {r.get_json()["error"]["code"] for r in results if r.status_code == 409} == {"out_of_stock"}
    winner = next(r.get_json() for r in results if r.status_code == 201)
    cancelled = client.post(f"/api/v1/redemptions/{winner['id']}/cancel", headers=telecom.headers)
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled", cancelled.get_json()
    assert client.get("/api/v1/rewards/DATA1GB", headers=telecom.headers).get_json()["available"] == 1
    broke = client.post("/api/v1/rewards", json={**REWARD, "code": "BIG", "cost": 10**6, "stock": None}, headers=staff)
    assert broke.status_code == 201
    too_much = client.post(
        "/api/v1/redemptions", json={"customer": {"phone": "0987000001"}, "reward": "BIG"}, headers=telecom.headers
    )
    assert too_much.status_code == 409 and too_much.get_json()["error"]["code"] == "insufficient_points"
    invalid = client.post(
        "/api/v1/rewards",
        json={**REWARD, "eligibility": {"all": [{"name": "customer_tier", "operator": "eq", "value": "gold"}]}},
        headers=staff,
    )
    assert invalid.status_code == 422 and invalid.get_json()["error"]["fields"][0]["path"].startswith("eligibility")
    ledger_ok(app)


def test_refund_after_spending_becomes_debt_recovered_from_next_earnings(app, client, telecom, staff, work):
    publish(client, staff, BASE_EARNING)
    client.post("/api/v1/rewards", json={**REWARD, "stock": None}, headers=staff)
    tid = client.post("/api/v1/transactions", json=txn("d1", 600_000), headers=telecom.headers).get_json()["id"]
    work()
    assert (
        client.post(
            "/api/v1/redemptions",
            json={"customer": {"phone": "0912345678"}, "reward": "DATA1GB"},
            headers=telecom.headers,
        ).status_code
        == 201
    )
    client.post(f"/api/v1/transactions/{tid}/reversal", json={}, headers=telecom.headers)
    c = _customer(client, telecom.headers)
    assert (c["balance"], c["debt"]) == (0, 50)
    client.post("/api/v1/transactions", json=txn("d2", 700_000), headers=telecom.headers)
    work()
    c = _customer(client, telecom.headers)
    assert (c["balance"], c["debt"]) == (20, 0)
    ledger_ok(app)


def test_aggregates_multiplier_and_redis_flush_give_identical_results(
    app, client, telecom, shop, staff, work, redis_client
):
    publish(client, staff, BASE_EARNING)
    publish(client, staff, THIRD_TODAY)
    publish(
        client,
        staff,
        {
            "name": "Cross-provider x2",
            "priority": 50,
            "rules": [
                {
                    "name": "2 providers",
                    "conditions": {
                        "all": [{"name": "providers_used_365d", "operator": "greater_than_or_equal_to", "value": 2}]
                    },
                    "actions": [{"name": "multiply_points", "params": {"factor": 2}}],
                }
            ],
        },
    )
    bodies = [
        (telecom, txn("a1", 100_000)),
        (telecom, txn("a2", 100_000)),
        (shop, txn("a3", 100_000)),
        (shop, txn("a4", 100_000)),
    ]
    points = []
    for i, (prov, body) in enumerate(bodies):
        tid = client.post("/api/v1/transactions", json=body, headers=prov.headers).get_json()["id"]
        if i == 2:
            redis_client.flushdb()
            from workers.sweeper import sweep

            sweep(app.extensions["loyalty.runtime"], older_than_seconds=0)
        work()
        points.append(client.get(f"/api/v1/transactions/{tid}", headers=prov.headers).get_json()["points"])
    # 10, 10, then the 3rd today (+40), then two providers seen before -> x2 of lower-priority points
    assert points == [10, 10, 50, 20]
    ledger_ok(app)


def test_simulation_explains_and_replays_without_writing(app, client, telecom, staff, work):
    publish(client, staff, BASE_EARNING)
    for i in range(5):
        client.post(
            "/api/v1/transactions",
            json=txn(f"s{i}", 100_000 * (i + 1), phone=f"09120000{i:02d}"),
            headers=telecom.headers,
        )
    work()
    draft = {
        "name": "Draft",
        "providers": ["telecom"],
        "rules": [
            {
                "name": "big",
                "conditions": {
                    "all": [
                        {"name": "amount", "operator": "greater_than_or_equal_to", "value": 300000},
                        {"name": "category", "operator": "equal_to", "value": "topup"},
                    ]
                },
                "actions": [{"name": "award_points", "params": {"points": 25}}],
            }
        ],
    }
    with app.app_context():
        entries = db.session.scalar(select(func.count()).select_from(LedgerEntry))
        db.session.remove()
    sample = client.post(
        "/api/v1/campaigns/simulate",
        json={"document": draft, "transaction": {"provider": "telecom", "amount": 250000, "category": "topup"}},
        headers=staff,
    ).get_json()
    conds = sample["rules"][0]["conditions"]
    assert [c["result"] for c in conds] == [False, True] and sample["rules"][0]["fired"] is False
    replay = client.post("/api/v1/campaigns/simulate", json={"document": draft, "days": 7}, headers=staff).get_json()
    assert (
        replay["transactions"] == 5 and replay["matched"] == 3 and replay["points"] == 75 and replay["customers"] == 3
    )
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == entries
        db.session.remove()
    bad = client.post("/api/v1/campaigns/simulate", json={"document": {"name": "x"}, "days": 7}, headers=staff)
    assert bad.status_code == 422


def test_groups_pool_points_for_a_redemption(app, client, telecom, staff, work):
    publish(client, staff, BASE_EARNING)
    client.post("/api/v1/rewards", json={**REWARD, "cost": 100, "stock": None}, headers=staff)
    phones = ["0912000001", "0912000002", "0912000003"]
    for i, phone in enumerate(phones):
        client.post("/api/v1/transactions", json=txn(f"g{i}", 600_000, phone=phone), headers=telecom.headers)  # 60 each
    work()
    owner, b, c = ({"phone": p} for p in phones)
    group = client.post(
        "/api/v1/groups", json={"owner": owner, "name": "Nguyen family", "max_members": 2}, headers=telecom.headers
    )
    assert group.status_code == 201, group.get_json()
    gid = group.get_json()["id"]
    assert (
        client.post(
            f"/api/v1/groups/{gid}/invitations", json={"owner": b, "customer": c}, headers=telecom.headers
        ).status_code
        == 409
    )
    assert (
        client.post(
            f"/api/v1/groups/{gid}/invitations", json={"owner": owner, "customer": b}, headers=telecom.headers
        ).status_code
        == 201
    )
    full = client.post(
        f"/api/v1/groups/{gid}/invitations", json={"owner": owner, "customer": c}, headers=telecom.headers
    )
    assert full.status_code == 409 and full.get_json()["error"]["code"] == "group_full"
    joined = client.post(f"/api/v1/groups/{gid}/members", json={"customer": b}, headers=telecom.headers).get_json()
    assert joined["pooled_balance"] == 120
    alone = client.post("/api/v1/redemptions", json={"customer": owner, "reward": "DATA1GB"}, headers=telecom.headers)
    assert alone.status_code == 409
    pooled = client.post(
        "/api/v1/redemptions", json={"customer": owner, "reward": "DATA1GB", "pool": True}, headers=telecom.headers
    )
    assert pooled.status_code == 201, pooled.get_json()
    balances = [_customer(client, telecom.headers, p)["balance"] for p in phones]
    assert sum(balances[:2]) == 20 and balances[2] == 60
    left = client.post(f"/api/v1/groups/{gid}/leave", json={"customer": b}, headers=telecom.headers).get_json()
    assert [m["customer_id"] for m in left["members"]] == [left["owner_id"]]
    assert [h["action"] for h in left["history"]] == ["created", "invited", "joined", "left"]
    cancelled = client.post(f"/api/v1/redemptions/{pooled.get_json()['id']}/cancel", headers=telecom.headers)
    assert cancelled.status_code == 200
    assert [_customer(client, telecom.headers, p)["balance"] for p in phones] == [60, 60, 60]
    dissolved = client.post(f"/api/v1/groups/{gid}/leave", json={"customer": owner}, headers=telecom.headers).get_json()
    assert dissolved["dissolved_at"] is not None


def test_redis_aggregate_copies_match_mariadb_and_stale_ones_are_rebuilt(
    app, client, telecom, shop, staff, work, redis_client
):
    from campaigns.customers.aggregates import AggregateCache, _parse
    from campaigns.models import CustomerBalance, CustomerDaily

    publish(client, staff, BASE_EARNING)
    for i in range(3):
        client.post("/api/v1/transactions", json=txn(f"x{i}", 100_000 * (i + 1)), headers=telecom.headers)
        work()
    client.post("/api/v1/transactions", json=txn("y", 70_000), headers=shop.headers)
    work()
    cid = _customer(client, telecom.headers)["id"]

    def db_rows():
        with app.app_context():
            rows = db.session.execute(select(CustomerDaily).where(CustomerDaily.customer_id == cid)).scalars().all()
            seq = db.session.get(CustomerBalance, cid).agg_seq
            db.session.remove()
        return seq, sorted((r.day, r.provider_id, r.txn_count, r.spend, r.points, r.qualifying) for r in rows)

    def copy():
        head, _, body = redis_client.get(AggregateCache.key(cid)).partition(b"|")
        days, _records = _parse(body)
        return int(head.split(b":")[0]), sorted(
            (d.day, d.provider_id, d.txn_count, d.spend, d.points, d.qualifying) for d in days
        )

    seq, rows = db_rows()
    assert seq >= 4 and copy() == (seq, rows)
    # a copy left behind by a crash (wrong sequence) is never used: the next batch rebuilds it
    stale = f"{seq - 1}:19700101|{rows[0][0]:%Y%m%d}:{rows[0][1]}:99:0:0:0"
    redis_client.set(AggregateCache.key(cid), stale)
    client.post("/api/v1/transactions", json=txn("z", 100_000), headers=telecom.headers)
    work()
    seq2, rows2 = db_rows()
    assert copy() == (seq2, rows2)
    assert sum(r[2] for r in rows2) == 5


def test_redis_aggregate_copies_sum_repeated_records_compact_and_cover_their_window(app, redis_client):
    from datetime import date
    from decimal import Decimal

    from campaigns.customers.aggregates import AggregateCache, CustomerState

    cache = AggregateCache(redis_client)
    key = AggregateCache.key(42)

    def state(seq):
        return {42: CustomerState(42, None, None, "Asia/Ho_Chi_Minh", None, set(), 0, 0, 0, seq=seq)}

    # one record per batch that touched the day: the reader sums them exactly
    cache.apply({42: (3, [(date(2026, 5, 1), 1, 1, Decimal("100000.5"), 10, 10)])})
    assert redis_client.get(key) is None  # no copy to update: nothing written
    redis_client.set(key, "3:20250101")
    for seq in range(3, 9):
        cache.apply({42: (seq, [(date(2026, 5, 1), 1, 1, Decimal("100000.5"), 10, 10)])})
    states = state(9)
    with app.app_context():
        cache.fill(db.session, states, date(2025, 6, 1))
    [day] = states[42].days
    assert (day.day, day.txn_count, day.spend, day.points) == (date(2026, 5, 1), 6, Decimal("600003"), 60)
    assert redis_client.get(key) == b"9:20250101|20260501:1:6:6000030000:60:60"  # six records compacted to one
    # a copy built from a later day than a batch needs is not used (rebuilt from MariaDB: no rows here)
    states = state(9)
    with app.app_context():
        cache.fill(db.session, states, date(2024, 1, 1))
    assert states[42].days == [] and redis_client.get(key) == b"9:20240101"


def test_a_yearly_limit_counts_awards_since_the_first_of_january(app, client, telecom, staff, work):
    from datetime import date

    from campaigns.accrual.crediting import period_start

    assert period_start("year", date(2027, 3, 9)) == date(2027, 1, 1)
    assert period_start("year", date(2027, 1, 1)) == date(2027, 1, 1)
    yearly = {
        "name": "Once a year",
        "limits": {"per_customer": {"count": 1, "period": "year"}},
        "rules": [
            {
                "name": "a yearly gift",
                "conditions": {"all": [{"name": "amount", "operator": "greater_than", "value": 0}]},
                "actions": [{"name": "award_points", "params": {"points": 100}}],
            }
        ],
    }
    publish(client, staff, yearly)
    ids = []
    for i in range(2):
        resp = client.post(
            "/api/v1/transactions", json=txn(f"y-{i}", 10_000, phone="0987000009"), headers=telecom.headers
        )
        assert resp.status_code == 202, resp.get_json()
        ids.append(resp.get_json()["id"])
        work()
    assert _customer(client, telecom.headers, "0987000009")["balance"] == 100  # one award this year, not two
    second = client.get(f"/api/v1/transactions/{ids[1]}", headers=telecom.headers).get_json()
    assert [a["note"] for a in second["awards"]] == ["limit of 1 award(s) per year reached"], second
    ledger_ok(app)


def test_a_programme_minimum_for_redemption_applies_to_rewards_and_every_redemption(app, client, telecom, staff, work):
    publish(client, staff, BASE_EARNING)
    assert client.post("/api/v1/rewards", json={**REWARD, "stock": None}, headers=staff).status_code == 201  # 50 points
    client.post("/api/v1/transactions", json=txn("m1", 2_000_000), headers=telecom.headers)
    work()
    bad = client.put("/api/v1/settings/min_redemption_points", json={"value": -1}, headers=staff)
    assert bad.status_code == 422 and bad.get_json()["error"]["fields"][0]["path"] == "value"
    assert client.put("/api/v1/settings/min_redemption_points", json={"value": 100}, headers=staff).status_code == 200
    assert client.get("/api/v1/settings", headers=staff).get_json()["min_redemption_points"] == 100
    cheap = client.post("/api/v1/rewards", json={**REWARD, "code": "CHEAP", "cost": 99}, headers=staff)
    assert cheap.status_code == 422
    field = cheap.get_json()["error"]["fields"][0]
    assert field["path"] == "cost" and "minimum redemption of 100" in field["reason"]
    refused = client.post(
        "/api/v1/redemptions", json={"customer": {"phone": "0912345678"}, "reward": "DATA1GB"}, headers=telecom.headers
    )
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "below_minimum_redemption"
    assert (
        client.post("/api/v1/rewards", json={**REWARD, "code": "OK100", "cost": 100}, headers=staff).status_code == 201
    )
    ok = client.post(
        "/api/v1/redemptions", json={"customer": {"phone": "0912345678"}, "reward": "OK100"}, headers=telecom.headers
    )
    assert ok.status_code == 201, ok.get_json()
    ledger_ok(app)


def test_rewards_import_refuses_a_reward_below_the_minimum_with_its_path(app, client, staff, tmp_path):
    assert client.put("/api/v1/settings/min_redemption_points", json={"value": 100}, headers=staff).status_code == 200
    file = tmp_path / "rewards.yaml"
    file.write_text("rewards:\n  - {code: BIG, name: Big, cost: 500}\n  - {code: TINY, name: Tiny, cost: 20}\n")
    result = app.test_cli_runner().invoke(args=["rewards", "import", str(file)])
    assert result.exit_code != 0
    assert "[1].cost" in result.output and "minimum redemption of 100" in result.output


def _month_end_after(moment: datetime, months: int) -> datetime:
    """The end of the ``months``-th month after ``moment``'s month, in the programme's time zone."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    local = moment.astimezone(zone)
    year, month = divmod(local.month + months, 12)
    return datetime(local.year + year, month + 1, 1, tzinfo=zone).astimezone(UTC)


def _flat(name: str, points: int, **top):
    rule = {
        "name": f"{points} points",
        "conditions": {"all": [{"name": "amount", "operator": "greater_than", "value": 0}]},
        "actions": [{"name": "award_points", "params": {"points": points}}],
    }
    return {"name": name, "rules": [rule], **top}


def test_a_campaign_gives_its_own_points_their_expiry_and_the_rest_keep_the_programmes(
    app, client, telecom, staff, work
):
    bad = client.post(
        "/api/v1/campaigns", json=_flat("Bad", 1, points_expiry={"policy": "end_of_month_afte"}), headers=staff
    )
    assert bad.status_code == 422, bad.get_json()
    fields = {f["path"]: f["reason"] for f in bad.get_json()["error"]["fields"]}
    assert fields == {
        "points_expiry.policy": "'end_of_month_afte' is not an expiry policy; did you mean 'end_of_month_after'?"
    }
    publish(client, staff, BASE_EARNING)  # the programme's default: 12 rolling months
    ids = {
        policy: publish(client, staff, _flat(f"Expiry {policy}", points, points_expiry=value))["id"]
        for policy, points, value in (
            ("next_month", 100, "end_of_next_month"),
            ("after_3", 30, {"policy": "end_of_month_after", "months": 3}),
            ("never", 7, {"policy": "never"}),
        )
    }
    resp = client.post("/api/v1/transactions", json=txn("exp-1", 500_000), headers=telecom.headers)
    assert resp.status_code == 202, resp.get_json()
    work()
    assert _customer(client, telecom.headers)["balance"] == 50 + 100 + 30 + 7
    with app.app_context():
        rows = db.session.execute(
            select(LedgerEntry.campaign_id, LedgerEntry.created_at, PointLot.points, PointLot.expires_at).join(
                PointLot, PointLot.entry_id == LedgerEntry.id
            )
        ).all()
    lots = {campaign: (created, points, expires) for campaign, created, points, expires in rows}
    assert len(lots) == 4
    created, points, expires = lots[ids["next_month"]]
    assert points == 100 and expires == _month_end_after(created, 1)
    created, points, expires = lots[ids["after_3"]]
    assert points == 30 and expires == _month_end_after(created, 3)
    assert lots[ids["never"]][1:] == (7, None)
    (base,) = [v for k, v in lots.items() if k not in ids.values()]
    created, points, expires = base
    assert points == 50 and (expires - created).days >= 365  # 12 months after earning, the programme's policy
    rt = app.extensions["loyalty.runtime"]
    report = run_all(rt.session_factory, rt.published, now=_month_end_after(created, 1) + timedelta(minutes=1))
    assert report.expired_points == 100  # only the campaign's short-lived points
    assert _customer(client, telecom.headers)["balance"] == 50 + 30 + 7
    ledger_ok(app)


BASE_RUNG_TIERS = TIERS.replace(
    "conditions: {all: [{name: qualifying_points_365d, operator: greater_than_or_equal_to, value: 0}]}",
    "conditions: {all: []}",
)


def test_the_base_tier_needs_no_dummy_rule_through_the_api_and_the_worker(app, client, telecom, staff, work):
    assert "conditions: {all: []}" in BASE_RUNG_TIERS
    wrong = BASE_RUNG_TIERS.replace("params: {tier: member}", "params: {tier: silver}")
    resp = client.post("/api/v1/campaigns", data=wrong, headers={**staff, "Content-Type": "application/yaml"})
    assert resp.status_code == 422, resp.get_json()
    assert [(f["path"], f["reason"]) for f in resp.get_json()["error"]["fields"]] == [
        (
            "rules[0].conditions.all",
            "must not be empty: only the rule giving the lowest tier 'member' may have no conditions"
            " (this one gives 'silver')",
        )
    ]
    publish(client, staff, BASE_EARNING)
    publish(client, staff, BASE_RUNG_TIERS)
    client.post("/api/v1/transactions", json=txn("b1", 50_000), headers=telecom.headers)  # 5 points
    work()
    c = _customer(client, telecom.headers)
    assert (c["tier"], c["qualifying_points"]) == ("member", 5)
    client.post("/api/v1/transactions", json=txn("b2", 1_000_000), headers=telecom.headers)
    work()
    assert _customer(client, telecom.headers)["tier"] == "silver"
    rt = app.extensions["loyalty.runtime"]
    with app.app_context():  # long past the grace period, and the points gone: back to the base rung, no lower
        db.session.execute(update(Customer).values(tier_since=datetime.now(UTC) - timedelta(days=400)))
        db.session.commit()
    run_all(rt.session_factory, rt.published, now=datetime.now(UTC) + timedelta(days=400), requalify=True)
    assert _customer(client, telecom.headers)["tier"] == "member"
    ledger_ok(app)


def test_award_points_percent_credits_a_share_of_the_amount_through_the_worker(app, client, telecom, staff, work):
    publish(
        client,
        staff,
        """
name: Cashback
providers: [telecom]
rules:
  - name: 2.5 % back, at most 5,000
    conditions: {all: [{name: amount, operator: greater_than, value: 0}]}
    actions:
      - {name: award_points_percent, params: {percent: 0.025, rounding: nearest, max: 5000}}
""",
    )
    small = client.post("/api/v1/transactions", json=txn("pc-1", 123_500), headers=telecom.headers).get_json()["id"]
    big = client.post("/api/v1/transactions", json=txn("pc-2", 400_000), headers=telecom.headers).get_json()["id"]
    work()
    assert client.get(f"/api/v1/transactions/{small}", headers=telecom.headers).get_json()["points"] == 3088
    assert client.get(f"/api/v1/transactions/{big}", headers=telecom.headers).get_json()["points"] == 5000
    assert _customer(client, telecom.headers)["balance"] == 8088
    bad = client.post(
        "/api/v1/campaigns/validate",
        data="name: x\nrules:\n  - name: r\n    conditions: {all: [{name: amount, operator: greater_than, value: 0}]}\n"
        "    actions: [{name: award_points_percent, params: {percent: 2.5}}]\n",
        headers={**staff, "Content-Type": "application/yaml"},
    )
    assert bad.status_code == 422
    assert [(f["path"], f["reason"]) for f in bad.get_json()["error"]["fields"]] == [
        (
            "rules[0].actions[0].params.percent",
            "must be a decimal share of the amount above 0 and at most 1 (0.025 is 2.5 %)",
        )
    ]
    ledger_ok(app)


def test_bands_and_a_rate_card_credit_through_the_worker(app, client, telecom, staff, work):
    publish(
        client,
        staff,
        """
name: Rate card
providers: [telecom]
rules:
  - name: top-up bands
    conditions: {all: [{name: category, operator: equal_to, value: topup}]}
    actions:
      - name: award_points_per_amount
        params:
          bands:
            - {from: 0, points: 1, per: 10000}
            - {from: 500000, points: 3, per: 20000}
  - name: merchant groups
    conditions: {all: [{name: category, operator: equal_to, value: payment}]}
    actions:
      - name: award_points_per_amount
        params:
          by: attributes.merchant_group
          rates: {food: {points: 3, per: 10000}}
          points: 1
          per: 10000
""",
    )
    bodies = {
        "small-topup": txn("rc-1", 400_000),  # 40
        "big-topup": txn("rc-2", 750_000),  # 112 (112.5 rounded down)
        "food": txn("rc-3", 200_000, category="payment", attributes={"merchant_group": "food"}),  # 60
        "other": txn("rc-4", 200_000, category="payment", attributes={"merchant_group": "pharmacy"}),  # 20
    }
    ids = {}
    for name, body in bodies.items():
        resp = client.post("/api/v1/transactions", json=body, headers=telecom.headers)
        assert resp.status_code == 202, resp.get_json()
        ids[name] = resp.get_json()["id"]
    work()
    earned = {
        name: client.get(f"/api/v1/transactions/{i}", headers=telecom.headers).get_json()["points"]
        for name, i in ids.items()
    }
    assert earned == {"small-topup": 40, "big-topup": 112, "food": 60, "other": 20}
    bad = client.post(
        "/api/v1/campaigns/validate",
        json={
            "name": "x",
            "rules": [
                {
                    "name": "r",
                    "conditions": {"all": [{"name": "amount", "operator": "greater_than", "value": 0}]},
                    "actions": [
                        {
                            "name": "award_points_per_amount",
                            "params": {"by": "provider", "rates": {"telecomm": {"points": 1, "per": 1000}}},
                        }
                    ],
                }
            ],
        },
        headers=staff,
    )
    assert bad.status_code == 422
    assert [(f["path"], f["reason"]) for f in bad.get_json()["error"]["fields"]] == [
        ("rules[0].actions[0].params.rates.telecomm", "'telecomm' is not a provider; did you mean 'telecom'?")
    ]
    ledger_ok(app)


def test_two_workers_crediting_referrals_of_one_referrer_at_once_respect_its_limit(
    app, client, telecom, staff, monkeypatch
):
    """Referees in different partitions are credited by different workers; the referrer's limit holds anyway.

    Each batch waits (up to 1.5 s) for the other after reading the customers' usage: unless the second batch is held
    before its read until the first commits, both read "no award yet" and both award the referrer.
    """
    publish(client, staff, {**REFERRAL, "limits": {"per_customer": {"count": 1, "period": "month"}}})
    client.post("/api/v1/transactions", json=txn("seed", 10_000, phone="0987000009"), headers=telecom.headers)
    rt = app.extensions["loyalty.runtime"]
    with app.app_context():
        (seed,) = db.session.scalars(select(Transaction.id).where(Transaction.status == "queued")).all()
        db.session.remove()
    rt.credit([seed])
    before = _customer(client, telecom.headers, "0987000009")["balance"]
    ids = []
    for side in range(2):
        body = _event(f"race-{side}", "referral", phone=f"091300000{side}", referrer_phone="0987000009")
        resp = client.post("/api/v1/events", json=body, headers=telecom.headers)
        assert resp.status_code == 202, resp.get_json()
        ids.append(resp.get_json()["id"])
    together = threading.Barrier(2)
    read_usage = crediting._Batch.load_usage

    def load_usage_then_wait(self, customer_ids):
        read_usage(self, customer_ids)
        with contextlib.suppress(threading.BrokenBarrierError):
            together.wait(timeout=1.5)

    monkeypatch.setattr(crediting._Batch, "load_usage", load_usage_then_wait)
    with ThreadPoolExecutor(2) as pool:  # two batches, one event each, in flight together
        list(pool.map(lambda i: rt.credit([i]), ids))
    assert _customer(client, telecom.headers, "0987000009")["balance"] - before == 100
    ledger_ok(app)


def test_a_transaction_whose_evaluation_fails_is_rejected_and_its_batch_goes_on(
    app, client, telecom, staff, work, monkeypatch
):
    """One poisoned transaction must not block its partition: the worker marks it rejected with the reason and
    credits the rest of the batch."""
    publish(client, staff, BASE_EARNING)
    ids = []
    for ref in ("ok-1", "poison", "ok-2"):
        resp = client.post("/api/v1/transactions", json=txn(ref, 100_000), headers=telecom.headers)
        assert resp.status_code == 202
        ids.append(resp.get_json()["id"])
    real = crediting._credit_one

    def credit_one(batch, row, *args):
        if row.id == ids[1]:
            raise ValueError("a rule could not be evaluated")
        return real(batch, row, *args)

    monkeypatch.setattr(crediting, "_credit_one", credit_one)
    work()
    with app.app_context():
        rows = db.session.execute(
            select(Transaction.id, Transaction.status, Transaction.reject_reason).where(Transaction.id.in_(ids))
        ).all()
        db.session.remove()
    assert sorted(rows) == [
        (ids[0], "processed", None),
        (ids[1], "rejected", "evaluation failed: a rule could not be evaluated"),
        (ids[2], "processed", None),
    ]
    assert _customer(client, telecom.headers)["balance"] == 20
