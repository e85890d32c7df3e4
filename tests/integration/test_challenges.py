"""Challenges through the API, the RQ worker and MariaDB: progress per customer and period, the reward once,
replays and worker retries, period rollover, refunds, and the display on /api/v1/me and the portal."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from campaigns.models import ChallengeCount, ChallengeProgress, LedgerEntry, Outbox
from tests.channels.helpers import PHONE as E164
from tests.channels.helpers import sent_to, set_setting
from tests.helpers.api import publish, txn
from tests.helpers.database import ledger_ok
from tests.helpers.documents import BASE_EARNING
from tests.helpers.web import csrf_token
from webapp.extensions import db

PHONE = "0912345678"
CHALLENGE: dict[str, Any] = {
    "name": "Top up 3 times and send a parcel",
    "challenge": {
        "period": "month",
        "steps": [
            {
                "name": "3 top-ups of 50,000",
                "count": 3,
                "conditions": {
                    "all": [
                        {"name": "category", "operator": "equal_to", "value": "topup"},
                        {"name": "amount", "operator": "greater_than_or_equal_to", "value": 50000},
                    ]
                },
            },
            {
                "name": "one parcel",
                "conditions": {"all": [{"name": "category", "operator": "equal_to", "value": "parcel"}]},
            },
        ],
        "reward": {"award_points": 500},
    },
}


def _post(client, telecom, ref: str, amount: int, category: str = "topup", when: datetime | None = None, **extra):
    body = txn(ref, amount, phone=PHONE, category=category, **extra)
    if when is not None:
        body["occurred_at"] = when.isoformat()
    resp = client.post("/api/v1/transactions", json=body, headers=telecom.headers)
    assert resp.status_code in (200, 202), resp.get_json()
    return resp


def _progress(app) -> dict[str, tuple[list[int], str]]:
    with app.app_context():
        rows = db.session.scalars(select(ChallengeProgress)).all()
        db.session.remove()
        return {r.period: (list(r.counts), r.status) for r in rows}


def _challenge_points(app) -> int:
    with app.app_context():
        total = db.session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
                LedgerEntry.rule_name.like("challenge completed%")
            )
        )
        db.session.remove()
        return int(total)


def _balance(client, telecom) -> int:
    return client.get(f"/api/v1/customers/lookup?phone={PHONE}", headers=telecom.headers).get_json()["balance"]


def test_a_challenge_is_counted_per_period_and_rewarded_once(app, client, telecom, staff, work):
    set_setting(client, staff, "quiet_hours", None)  # the message goes out at once, whatever the hour
    set_setting(client, staff, "sms_daily_limit", None)
    publish(client, staff, BASE_EARNING)  # 1 point per 10,000
    created = publish(client, staff, CHALLENGE)
    now = datetime.now(UTC)
    this_month = now.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%Y-%m")
    _post(client, telecom, "t1", 60_000)
    _post(client, telecom, "small", 20_000)  # below 50,000: counts for nothing
    body = txn("t2", 50_000, phone=PHONE)
    first = client.post("/api/v1/transactions", json=body, headers=telecom.headers)
    replay = client.post("/api/v1/transactions", json=body, headers=telecom.headers)  # the same body again
    assert first.status_code == 202 and replay.status_code == 200, replay.get_json()
    assert replay.get_json()["id"] == first.get_json()["id"]
    _post(client, telecom, "p1", 30_000, category="parcel")
    work()
    assert _progress(app) == {this_month: ([2, 1], "in_progress")}
    assert _challenge_points(app) == 0

    # a worker retry: the same ids handed to the drain again (as a crashed worker leaves them) count nothing
    from workers.drain import drain
    from workers.queues import partition_of, pending_key

    rt = app.extensions["loyalty.runtime"]
    with app.app_context():
        ids = db.session.scalars(select(ChallengeCount.transaction_id)).all()
        customer = db.session.scalar(select(ChallengeProgress.customer_id))
        db.session.remove()
    partition = partition_of(customer, rt.partitions)
    rt.redis.rpush(pending_key(partition), *ids)
    assert drain(rt, partition).skipped == len(ids)
    assert _progress(app) == {this_month: ([2, 1], "in_progress")}

    balance = _balance(client, telecom)
    _post(client, telecom, "t3", 70_000)  # the third top-up completes it
    work()
    assert _progress(app) == {this_month: ([3, 1], "completed")}
    assert _challenge_points(app) == 500
    assert _balance(client, telecom) == balance + 7 + 500
    _post(client, telecom, "t4", 90_000)  # after completion: earns as usual, no second reward
    _post(client, telecom, "p2", 30_000, category="parcel")
    work()
    assert _progress(app)[this_month] == ([3, 1], "completed")
    assert _challenge_points(app) == 500
    with app.app_context():
        notes = db.session.scalars(select(Outbox).where(Outbox.template == "challenge_completed")).all()
        assert len(notes) == 1 and notes[0].payload == {"challenge": CHALLENGE["name"], "points": 500}
        db.session.remove()
    work()  # the sender: the message in the customer's language (Vietnamese by default)
    assert any("hoàn thành thử thách" in text and "500" in text for text in sent_to(E164)), sent_to(E164)

    # period rollover: last month's transactions fill last month's row, not this month's
    local = now.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    last = local.replace(day=1, hour=12) - timedelta(days=3)
    _post(client, telecom, "old1", 80_000, when=last)
    _post(client, telecom, "oldp", 30_000, category="parcel", when=last + timedelta(hours=1))
    work()
    progress = _progress(app)
    assert progress[last.strftime("%Y-%m")] == ([1, 1], "in_progress")
    assert progress[this_month] == ([3, 1], "completed")
    assert created["id"]
    ledger_ok(app)


def test_a_full_refund_takes_its_count_back_before_completion(app, client, telecom, staff, work):
    publish(client, staff, BASE_EARNING)
    publish(client, staff, CHALLENGE)
    month = datetime.now(UTC).astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%Y-%m")
    ids = [_post(client, telecom, f"r{i}", 60_000).get_json()["id"] for i in range(2)]
    work()
    assert _progress(app) == {month: ([2, 0], "in_progress")}
    part = client.post(f"/api/v1/transactions/{ids[0]}/reversal", json={"amount": 10_000}, headers=telecom.headers)
    assert part.status_code == 201, part.get_json()
    assert _progress(app) == {month: ([2, 0], "in_progress")}  # a partial refund keeps the count
    full = client.post(f"/api/v1/transactions/{ids[1]}/reversal", json={}, headers=telecom.headers)
    assert full.status_code == 201, full.get_json()
    assert _progress(app) == {month: ([1, 0], "in_progress")}
    for ref in ("r2", "r3"):
        _post(client, telecom, ref, 60_000)
    _post(client, telecom, "rp", 30_000, category="parcel")
    work()
    assert _progress(app) == {month: ([3, 1], "completed")}  # the refunded one had to be made up
    assert _challenge_points(app) == 500
    ledger_ok(app)


def test_progress_is_shown_on_me_and_the_portal(app, client, telecom, staff, work):
    publish(client, staff, BASE_EARNING)
    created = publish(client, staff, CHALLENGE)
    _post(client, telecom, "m1", 60_000)
    _post(client, telecom, "m2", 60_000)
    work()
    assert client.post("/api/v1/me/otp", json={"phone": PHONE}).status_code == 202
    work()
    code = re.search(r"\b(\d{6})\b", sent_to(E164)[-1]).group(1)
    token = client.post("/api/v1/me/token", json={"phone": PHONE, "code": code}).get_json()["token"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).get_json()
    month = datetime.now(UTC).astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%Y-%m")
    assert me["challenges"] == [
        {
            "campaign_id": created["id"],
            "name": CHALLENGE["name"],
            "period": "month",
            "period_key": month,
            "status": "in_progress",
            "completed": False,
            "completed_at": None,
            "steps": [
                {"name": "3 top-ups of 50,000", "count": 3, "done": 2},
                {"name": "one parcel", "count": 1, "done": 0},
            ],
            "reward": {"award_points": 500},
            "reward_name": None,
            "ends_at": None,
        }
    ]

    portal = app.test_client()
    form = csrf_token(portal, "/portal/login")
    assert portal.post("/portal/login", data={"phone": PHONE, "csrf_token": form}).status_code == 302
    work()
    code = re.search(r"\b(\d{6})\b", sent_to(E164)[-1]).group(1)
    assert portal.post("/portal/verify", data={"code": code, "csrf_token": form}).status_code == 302
    html = portal.get("/portal/").get_data(as_text=True)
    assert "Thử thách" in html and CHALLENGE["name"] in html and "2/3" in html and "0/1" in html
    assert "Thưởng 500 điểm" in html


def test_a_granted_reward_challenge_and_the_conversion_on_the_embedded_sqlite_default(tmp_path, monkeypatch):
    """The same services on the embedded default (SQLite + in-process queue): the migration, a challenge over the
    campaign's life granting a voucher once, and the expiring points' conversion."""
    import time

    from flask_migrate import upgrade
    from sqlalchemy import update

    from campaigns.access.providers import create_provider, issue_key
    from campaigns.models import PointLot, Redemption
    from campaigns.settings import Settings
    from webapp import create_app

    for var in ("LOYALTY_DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env(database_url=f"sqlite:///{tmp_path / 'loyalty.sqlite3'}")
    assert settings.embedded
    app = create_app(settings, TESTING=True)
    with app.app_context():
        upgrade()
        _, key = create_provider(db.session, "telecom", "Mobile operator")
        staff_key = issue_key(db.session, "staff", "s")
        db.session.commit()
    client = app.test_client()
    staff = {"Authorization": f"Bearer {staff_key}"}
    provider = {"Authorization": f"Bearer {key}"}
    assert (
        client.post("/api/v1/rewards", json={"code": "DATA", "name": "Data", "cost": 20}, headers=staff).status_code
        == 201
    )
    publish(client, staff, BASE_EARNING)
    twice = {
        "name": "Two top-ups, once",
        "challenge": {
            "period": "campaign",
            "steps": [
                {
                    "name": "two top-ups",
                    "count": 2,
                    "conditions": {"all": [{"name": "category", "operator": "equal_to", "value": "topup"}]},
                }
            ],
            "reward": {"grant_reward": "DATA"},
        },
    }
    publish(client, staff, twice)
    ids = []
    for i in range(3):
        resp = client.post("/api/v1/transactions", json=txn(f"s{i}", 100_000, phone=PHONE), headers=provider)
        assert resp.status_code == 202, resp.get_json()
        ids.append(resp.get_json()["id"])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        views = [client.get(f"/api/v1/transactions/{i}", headers=provider).get_json() for i in ids]
        if all(v["status"] == "processed" for v in views):
            break
        time.sleep(0.1)
    assert [v["status"] for v in views] == ["processed"] * 3
    with app.app_context():
        rows = db.session.scalars(select(ChallengeProgress)).all()
        assert [(r.period, r.counts, r.status) for r in rows] == [("campaign", [2], "completed")]
        grants = db.session.scalars(select(Redemption).where(Redemption.source == "campaign")).all()
        assert len(grants) == 1 and grants[0].points == 0
        db.session.execute(update(PointLot).values(expires_at=datetime.now(UTC) + timedelta(hours=2)))
        db.session.commit()
    setting = {"action": "convert_to_offer", "after_months_without_redemption": 1, "offer": "DATA"}
    assert client.put("/api/v1/settings/expired_points", json={"value": setting}, headers=staff).status_code == 200
    out = app.test_cli_runner().invoke(args=["lifecycle"])
    assert "converted 1 customers' expiring points (20 points)" in out.output, out.output
    balance = client.get(f"/api/v1/customers/lookup?phone={PHONE}", headers=provider).get_json()["balance"]
    assert balance == 30 - 20
    again = app.test_cli_runner().invoke(args=["lifecycle"])
    assert "converted 0 customers'" in again.output


def test_a_challenge_named_in_both_languages_is_told_in_the_customers(app, client, telecom, staff, work):
    from tests.channels.helpers import customer_id, set_customer

    set_setting(client, staff, "quiet_hours", None)
    set_setting(client, staff, "sms_daily_limit", None)
    named = {
        **CHALLENGE,
        "name": {"vi": "Nạp 3 lần và gửi bưu phẩm", "en": "Top up 3 times and send a parcel"},
        "challenge": {**CHALLENGE["challenge"], "steps": CHALLENGE["challenge"]["steps"][1:]},  # one parcel
    }
    publish(client, staff, named)
    _post(client, telecom, "p1", 30_000, category="parcel")
    work()
    work()  # the sender
    told = "Chúc mừng! Bạn đã hoàn thành thử thách Nạp 3 lần và gửi bưu phẩm và nhận 500 điểm."
    assert any(text.startswith(told) for text in sent_to(E164)), sent_to(E164)
    set_customer(app, customer_id(app), language="en")
    token_sent = client.post("/api/v1/me/otp", json={"phone": PHONE})
    assert token_sent.status_code == 202
    work()
    code = re.search(r"\b(\d{6})\b", sent_to(E164)[-1]).group(1)
    token = client.post("/api/v1/me/token", json={"phone": PHONE, "code": code}).get_json()["token"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert [c["name"] for c in me["challenges"]] == ["Top up 3 times and send a parcel"]
