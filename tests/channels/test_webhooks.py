"""Provider webhooks: written with the event, signed with HMAC-SHA256 over timestamp and body, retried with back-off."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.channels.helpers import earn, outbox, programme


def test_points_credited_signed_retried_and_replayed(app, client, telecom, shop, staff, work):
    from campaigns.notify.webhooks import deliver_due

    programme(client, staff, rewards=False)
    assert (
        client.post(
            "/api/v1/webhooks", json={"url": "ftp://x", "events": ["points_credited"]}, headers=telecom.headers
        ).status_code
        == 422
    )
    assert (
        client.post(
            "/api/v1/webhooks", json={"url": "https://x", "events": ["nope"]}, headers=telecom.headers
        ).status_code
        == 422
    )
    sub = client.post(
        "/api/v1/webhooks",
        json={"url": "https://telecom.example/hooks", "events": ["points_credited", "tier_changed"]},
        headers=telecom.headers,
    )
    assert sub.status_code == 201
    secret = sub.get_json()["secret"]
    client.post(
        "/api/v1/webhooks", json={"url": "https://shop.example/h", "events": ["points_credited"]}, headers=shop.headers
    )
    calls: list[tuple[str, bytes, dict[str, str]]] = []
    answers = [500]

    def post(url, body, headers):
        calls.append((url, body, headers))
        return answers.pop(0) if answers else 200

    app.extensions["loyalty.runtime"].webhook_post = post
    try:
        earn(client, telecom, work, "t1", 600_000)  # the first delivery fails (500), the rest succeed
    finally:
        app.extensions["loyalty.runtime"].webhook_post = None
    rows = outbox(app, channel="webhook")
    assert {r.recipient for r in rows} == {"https://telecom.example/hooks"}  # the shop saw nothing of this
    assert sorted(r.template for r in rows) == ["points_credited", "tier_changed"]
    failed = next(r for r in rows if r.status == "pending")
    assert failed.attempts == 1 and failed.last_error == "receiver answered 500"
    assert failed.next_attempt_at > datetime.now(UTC) + timedelta(seconds=50)
    # signature: t=<ts>,v1=HMAC(secret, "<ts>.<body>")
    _url, body, headers = calls[-1]
    ts, mac = (part.split("=", 1)[1] for part in headers["X-Loyalty-Signature"].split(","))
    assert hmac.compare_digest(mac, hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest())
    event = json.loads(body)
    assert event["type"] in ("points_credited", "tier_changed") and event["data"]["customer_id"]
    # due later: delivered with back-off; a day of failures ends as failed
    rt = app.extensions["loyalty.runtime"]
    report = deliver_due(rt.session_factory, post=lambda *a: 200, now=datetime.now(UTC) + timedelta(minutes=2))
    assert report.delivered == 1
    deliveries = client.get("/api/v1/webhooks/deliveries", headers=telecom.headers).get_json()["deliveries"]
    assert {d["status"] for d in deliveries} == {"sent"}
    assert client.get("/api/v1/webhooks/deliveries", headers=shop.headers).get_json()["deliveries"] == []
    one = deliveries[0]["id"]
    assert client.post(f"/api/v1/webhooks/deliveries/{one}/replay", headers=shop.headers).status_code == 404
    replay = client.post(f"/api/v1/webhooks/deliveries/{one}/replay", headers=telecom.headers)
    assert replay.status_code == 202 and replay.get_json()["status"] == "pending"
    report = deliver_due(rt.session_factory, post=lambda *a: 503, now=datetime.now(UTC) + timedelta(days=1, minutes=1))
    assert report.failed == 1


def test_a_webhook_row_naming_no_subscription_is_suppressed_and_not_shown(app, client, telecom):
    """A payload without ``subscription_id`` (written by hand, or by an older release): no get-by-None."""
    import warnings

    from sqlalchemy.exc import SAWarning

    from campaigns.models import Outbox
    from campaigns.notify.webhooks import deliver_due
    from webapp.extensions import db

    with app.app_context():
        row = Outbox(
            dedupe_key="wh:orphan",
            channel="webhook",
            template="points_credited",
            payload={"event": "points_credited", "id": "e-1", "data": {}},
            status="pending",
            recipient="https://telecom.example/hooks",
        )
        db.session.add(row)
        db.session.commit()
        oid = row.id
    with warnings.catch_warnings():
        warnings.simplefilter("error", SAWarning)  # SQLAlchemy warns that a get by None will become an error
        replay = client.post(f"/api/v1/webhooks/deliveries/{oid}/replay", headers=telecom.headers)
        assert replay.status_code == 404, replay.get_json()
        report = deliver_due(app.extensions["loyalty.runtime"].session_factory, post=lambda *a: 200)
    assert report.delivered == 0
    with app.app_context():
        row = db.session.get(Outbox, oid)
        assert (row.status, row.last_error) == ("suppressed", "subscription removed")


def _pending_hooks(app, client, provider, count: int, prefix: str) -> None:
    from campaigns.clock import utcnow
    from campaigns.notify.webhooks import add_event
    from webapp.extensions import db

    with app.app_context():
        for i in range(count):
            add_event(db.session, "points_credited", {"customer_id": None, "points": i}, f"{prefix}{i}", utcnow())
        db.session.commit()


@pytest.mark.slow
def test_the_sender_keeps_its_lock_through_a_long_pass_and_never_releases_another(app, client, telecom, monkeypatch):
    import workers.runtime
    from workers.queues import NOTIFY_LOCK_KEY

    monkeypatch.setattr(workers.runtime, "NOTIFY_LOCK_SECONDS", 1)
    assert (
        client.post(
            "/api/v1/webhooks",
            json={"url": "https://telecom.example/h", "events": ["points_credited"]},
            headers=telecom.headers,
        ).status_code
        == 201
    )
    _pending_hooks(app, client, telecom, 5, "slow")
    rt = app.extensions["loyalty.runtime"]
    during: list[tuple[int, dict]] = []

    def slow(url, body, headers):  # 5 x 0.45 s: the pass outlives the lock's 1 s unless it is renewed
        time.sleep(0.45)
        during.append((rt.redis.pttl(NOTIFY_LOCK_KEY), rt.send_notifications()))
        return 200

    rt.webhook_post = slow
    try:
        assert rt.send_notifications()["webhooks"]["delivered"] == 5
        assert [other for _, other in during] == [{"skipped": "another sender is running"}] * 5
        assert all(ttl > 0 for ttl, _ in during), during
        assert not rt.redis.exists(NOTIFY_LOCK_KEY)  # released at the end

        # the lock expired and another sender took it: this pass stops at the next row and leaves that lock alone
        _pending_hooks(app, client, telecom, 3, "lost")

        def lost(url, body, headers):
            rt.redis.set(NOTIFY_LOCK_KEY, "another sender", px=60_000)
            time.sleep(0.4)
            return 200

        rt.webhook_post = lost
        assert rt.send_notifications()["webhooks"]["delivered"] == 1
        assert rt.redis.get(NOTIFY_LOCK_KEY) == b"another sender"
    finally:
        rt.webhook_post = None


def test_a_delivery_without_its_subscription_is_nobodys(app, client, telecom):
    """A webhook row whose payload names no subscription belongs to no provider: 404, and no lookup by a None key."""
    import warnings

    from campaigns.clock import utcnow
    from campaigns.models import Outbox
    from webapp.extensions import db

    with app.app_context():
        row = Outbox(channel="webhook", template="points_credited", payload={"id": "x"}, status="failed")
        row.recipient, row.created_at, row.attempts, row.dedupe_key = "https://telecom.example/h", utcnow(), 1, "wh:x"
        db.session.add(row)
        db.session.commit()
        outbox_id = row.id
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert (
            client.post(f"/api/v1/webhooks/deliveries/{outbox_id}/replay", headers=telecom.headers).status_code == 404
        )
        assert client.get("/api/v1/webhooks/deliveries", headers=telecom.headers).get_json()["deliveries"] == []


def test_a_subscription_made_or_removed_between_batches_counts_from_the_next_batch(app, client, telecom, staff, work):
    """Crediting reads the subscriptions with every batch (no copy kept between batches): the same worker runtime
    honours a new subscription, and stops writing to a removed one, from its very next batch."""
    programme(client, staff, rewards=False)
    earn(client, telecom, work, "before", 100_000)  # the runtime has credited a batch before anyone subscribed
    assert outbox(app, channel="webhook") == []
    made = client.post(
        "/api/v1/webhooks",
        json={"url": "https://telecom.example/h", "events": ["points_credited"]},
        headers=telecom.headers,
    )
    assert made.status_code == 201
    earn(client, telecom, work, "during", 100_000)
    rows = outbox(app, channel="webhook")
    assert [r.payload["data"]["provider_txn_id"] for r in rows] == ["during"]
    sub_id = made.get_json()["id"]
    assert client.delete(f"/api/v1/webhooks/{sub_id}", headers=telecom.headers).status_code == 204
    earn(client, telecom, work, "after", 100_000)
    assert len(outbox(app, channel="webhook")) == 1
