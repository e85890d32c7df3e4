"""Merging two customers (everything moves, aggregates that collide add up) and reversing it exactly."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from campaigns.accounts import rewards
from campaigns.models import (
    AuditEvent,
    CampaignUsage,
    Customer,
    CustomerAttribute,
    CustomerBalance,
    CustomerDaily,
    CustomerIdentity,
    CustomerMerge,
    CustomerProvider,
    CustomerTag,
    LedgerEntry,
    PointLot,
    Redemption,
    RuleUsage,
    Transaction,
)
from tests.helpers.api import publish, txn
from tests.helpers.database import ledger_ok
from tests.helpers.documents import BASE_EARNING
from tests.helpers.factories import make_user
from tests.helpers.web import csrf_token, login
from webapp.extensions import db

CAPPED = """
name: Daily bonus
limits: {per_customer: {count: 3, period: day}}
rules:
  - name: 5 points a purchase
    conditions: {all: [{name: amount, operator: greater_than, value: 0}]}
    actions: [{name: award_points, params: {points: 5}}]
"""


def _state(app, *cids):
    """Everything per customer that a merge moves, without agg_seq (which only moves forward)."""
    with app.app_context():
        s = db.session
        out = {}
        for cid in cids:
            b = s.get(CustomerBalance, cid)
            out[cid] = {
                "identities": sorted(
                    s.scalars(select(CustomerIdentity.value).where(CustomerIdentity.customer_id == cid))
                ),
                "ledger": sorted(s.scalars(select(LedgerEntry.id).where(LedgerEntry.customer_id == cid))),
                "lots": sorted(s.scalars(select(PointLot.id).where(PointLot.customer_id == cid))),
                "txns": sorted(s.scalars(select(Transaction.id).where(Transaction.customer_id == cid))),
                "redemptions": sorted(s.scalars(select(Redemption.id).where(Redemption.customer_id == cid))),
                "tags": sorted(s.scalars(select(CustomerTag.tag).where(CustomerTag.customer_id == cid))),
                "daily": sorted(
                    (str(d.day), d.provider_id, d.txn_count, str(d.spend), d.points, d.qualifying)
                    for d in s.scalars(select(CustomerDaily).where(CustomerDaily.customer_id == cid))
                ),
                "usage": sorted(
                    (u.campaign_id, str(u.day), u.points, u.awards)
                    for u in s.scalars(select(CampaignUsage).where(CampaignUsage.customer_id == cid))
                ),
                "contacts": sorted(
                    (c.provider_id, c.txn_count)
                    for c in s.scalars(select(CustomerProvider).where(CustomerProvider.customer_id == cid))
                ),
                "balance": (b.balance, b.pending, b.qualifying, b.debt, b.lifetime_points),
                "tier": s.get(Customer, cid).tier,
                "member_since": s.get(Customer, cid).member_since,
                "attributes": sorted(
                    (x.name, x.value)
                    for x in s.scalars(select(CustomerAttribute).where(CustomerAttribute.customer_id == cid))
                ),
                "rule_usage": sorted(
                    (u.campaign_id, u.rule_index, str(u.day), u.awards)
                    for u in s.scalars(select(RuleUsage).where(RuleUsage.customer_id == cid))
                ),
            }
        return out


def test_merge_and_reverse(app, client, telecom, shop, staff, work):
    publish(client, staff, BASE_EARNING)
    publish(client, staff, CAPPED)
    for ref, phone, key in (
        ("a-1", "0912000001", telecom),
        ("b-1", "0912000002", telecom),
        ("b-2", "0912000002", shop),
    ):
        assert (
            client.post("/api/v1/transactions", json=txn(ref, 200_000, phone=phone), headers=key.headers).status_code
            == 202
        )
    work()
    a = client.get("/api/v1/customers/lookup?phone=0912000001", headers=telecom.headers).get_json()["id"]
    b = client.get("/api/v1/customers/lookup?phone=0912000002", headers=telecom.headers).get_json()["id"]
    with app.app_context():
        rewards.save_reward(db.session, {"code": "MUG", "name": "Mug", "cost": 10}, actor="t")
        db.session.add_all(
            [
                CustomerTag(customer_id=b, tag="vip"),
                CustomerTag(customer_id=b, tag="app"),
                CustomerTag(customer_id=a, tag="app"),
                # customer attributes: a's own value wins, b's other one moves; rule-limit awards add up
                CustomerAttribute(customer_id=a, name="vip", value=True),
                CustomerAttribute(customer_id=b, name="vip", value=False),
                CustomerAttribute(customer_id=b, name="segment", value="family"),
                RuleUsage(customer_id=a, campaign_id=7, rule_index=0, day=date(2027, 1, 2), awards=1),
                RuleUsage(customer_id=b, campaign_id=7, rule_index=0, day=date(2027, 1, 2), awards=2),
                RuleUsage(customer_id=b, campaign_id=7, rule_index=1, day=date(2027, 1, 3), awards=1),
            ]
        )
        db.session.get(Customer, b).member_since = date(2020, 5, 1)
        db.session.get(Customer, a).member_since = date(2022, 1, 1)
        db.session.commit()
    resp = client.post("/api/v1/redemptions", json={"customer_id": b, "reward": "MUG"}, headers=telecom.headers)
    assert resp.status_code in (200, 201), resp.get_json()
    before = _state(app, a, b)
    assert before[b]["balance"][0] == 40 + 10 - 10 and before[a]["balance"][0] == 25
    with app.app_context():
        seq = {c: db.session.get(CustomerBalance, c).agg_seq for c in (a, b)}

    make_user(app, "care@example.com", "care")
    make_user(app, "admin@example.com", "admin")
    login(client, "care@example.com")
    token = csrf_token(client, "/")
    no_reason = client.post(
        f"/customers/{a}/merge", data={"merge_kind": "phone", "merge_q": "0912000002", "csrf_token": token}
    )
    assert no_reason.status_code == 422 and "explain the merge" in no_reason.get_data(as_text=True)
    itself = client.post(
        f"/customers/{a}/merge",
        data={"merge_kind": "id", "merge_q": str(a), "merge_reason": "same person", "csrf_token": token},
    )
    assert itself.status_code == 422 and "cannot be merged into itself" in itself.get_data(as_text=True)
    done = client.post(
        f"/customers/{a}/merge",
        data={
            "merge_kind": "phone",
            "merge_q": "0912000002",
            "merge_reason": "same person, two SIMs",
            "csrf_token": token,
        },
    )
    assert done.status_code == 302
    ledger_ok(app)
    after = _state(app, a, b)
    assert after[a]["identities"] == sorted(before[a]["identities"] + before[b]["identities"])
    assert after[a]["ledger"] == sorted(before[a]["ledger"] + before[b]["ledger"])
    assert after[a]["redemptions"] == before[b]["redemptions"] and after[b]["ledger"] == []
    assert after[a]["tags"] == ["app", "vip"] and after[b]["tags"] == []
    assert after[a]["balance"][0] == 25 + 40 and after[b]["balance"][:4] == (0, 0, 0, 0)
    telecom_day = [d for d in after[a]["daily"] if d[1] == before[a]["daily"][0][1]]
    assert (
        len(telecom_day) == 1 and telecom_day[0][2] == 2 and telecom_day[0][3] == "400000.0000"
    )  # collided rows added
    usage = {u[0]: u for u in after[a]["usage"]}
    assert sum(u[3] for u in after[a]["usage"]) == 3  # 1 + 2 awards of the capped campaign, one row
    assert len(usage) == 1 and after[b]["usage"] == []
    assert after[a]["contacts"] == sorted([(1, 2), (2, 1)])
    assert after[a]["attributes"] == [("segment", "family"), ("vip", True)] and after[b]["attributes"] == []
    assert after[a]["rule_usage"] == [(7, 0, "2027-01-02", 3), (7, 1, "2027-01-03", 1)] and after[b]["rule_usage"] == []
    assert after[a]["member_since"] == date(2020, 5, 1)  # the earlier membership
    with app.app_context():
        assert all(db.session.get(CustomerBalance, c).agg_seq == seq[c] + 1 for c in (a, b))
        assert db.session.get(Customer, b).merged_into == a
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "customer.merged"))
        assert event.actor == "care@example.com" and event.details["moved"]["transactions"] == 2
        merge_id = event.details["merge_id"]
    assert client.get("/api/v1/customers/lookup?phone=0912000002", headers=telecom.headers).get_json()["id"] == a
    page = client.get(f"/customers/{b}").get_data(as_text=True)
    assert f'merged into <a href="/customers/{a}">customer #{a}</a>' in page
    assert client.post(f"/merges/{merge_id}/undo", data={"csrf_token": token}).status_code == 403  # care cannot undo

    admin = app.test_client()
    login(admin, "admin@example.com")
    atoken = csrf_token(admin, "/")
    assert admin.post(f"/merges/{merge_id}/undo", data={"csrf_token": atoken}).status_code == 302
    ledger_ok(app)
    assert _state(app, a, b) == before
    with app.app_context():
        assert db.session.get(Customer, b).merged_into is None
        assert db.session.get(CustomerMerge, merge_id).undone_by == "admin@example.com"
        assert all(db.session.get(CustomerBalance, c).agg_seq == seq[c] + 2 for c in (a, b))
    again = admin.post(f"/merges/{merge_id}/undo", data={"csrf_token": atoken}, follow_redirects=True)
    assert "already reversed" in again.get_data(as_text=True)

    # merged again, then the survivor spends the moved points: the merge can no longer be reversed automatically
    assert (
        client.post(
            f"/customers/{a}/merge",
            data={"merge_kind": "id", "merge_q": str(b), "merge_reason": "same person after all", "csrf_token": token},
        ).status_code
        == 302
    )
    assert (
        admin.post(
            f"/customers/{a}/adjustments", data={"points": "-60", "reason": "spent in store", "csrf_token": atoken}
        ).status_code
        == 302
    )
    with app.app_context():
        second = db.session.scalar(select(CustomerMerge.id).where(CustomerMerge.undone_at.is_(None)))
    refused = admin.post(f"/merges/{second}/undo", data={"csrf_token": atoken}, follow_redirects=True)
    assert "cannot reverse this merge" in refused.get_data(as_text=True)
    ledger_ok(app)
