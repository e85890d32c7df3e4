"""The outbox sender end to end: accrual writes the rows, the RQ worker sends them through the gateway adapter."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

from sqlalchemy import update

from tests.channels.helpers import PHONE, customer_id, earn, outbox, programme, sent_to, set_customer, set_setting


def _send(app, gateway=None, now=None):
    from campaigns.notify.gateways import LoggingGateway
    from campaigns.notify.outbox import send_due

    rt = app.extensions["loyalty.runtime"]
    return send_due(rt.session_factory, gateway or LoggingGateway(), now=now)


def test_points_earned_in_vietnamese_then_english(app, client, telecom, staff, work):
    programme(client, staff, rewards=False)
    earn(client, telecom, work, "t1", 600_000)  # 60 points >= threshold 50
    assert sent_to() == ["Bạn vừa nhận 60 điểm. Số dư: 60 điểm."]
    row = outbox(app, template="points_earned")[0]
    assert row.status == "sent" and row.segments == 1 and row.recipient == PHONE and row.attempts == 1
    earn(client, telecom, work, "t2", 100_000)  # 10 points: below the threshold, no message
    assert len(outbox(app, template="points_earned")) == 1
    set_customer(app, customer_id(app), language="en")
    earn(client, telecom, work, "t3", 12_000_000)  # 1,200 points: tier change too
    texts = sent_to()
    assert "You earned 1,200 points. Balance: 1,270 points." in texts
    assert "Your membership tier is now Bạc." in texts


def test_opt_out_suppresses_notifications_but_not_vouchers(app, client, telecom, staff, work):
    programme(client, staff)
    earn(client, telecom, work, "t1", 600_000)
    set_customer(app, customer_id(app), sms_opt_out_at=datetime.now(UTC))
    earn(client, telecom, work, "t2", 600_000)
    assert [r.status for r in outbox(app, template="points_earned")] == ["sent", "suppressed"]
    resp = client.post(
        "/api/v1/redemptions",
        json={"customer": {"phone": "0912345678"}, "reward": "TOPUP10", "idempotency_key": "r1"},
        headers=telecom.headers,
    )
    assert resp.status_code == 201, resp.get_json()
    work()
    assert any(t.startswith("Đổi quà thành công: Thẻ cào 10.000đ. Mã quà: LV-") for t in sent_to())


def test_daily_limit_and_quiet_hours_defer_never_drop(app, client, telecom, staff, work):
    from campaigns.notify.outbox import queue_sms

    programme(client, staff, quiet={"start": "21:00", "end": "08:00"}, rewards=False)
    set_setting(client, staff, "sms_daily_limit", 1)
    cid = None
    # two notifications while it is 10:00 in Hanoi: the first is sent, the second waits for tomorrow
    morning = datetime(2027, 3, 1, 3, 0, tzinfo=UTC)  # 10:00 +07
    with app.app_context():
        from webapp.extensions import db

        client.post(
            "/api/v1/transactions",
            json={
                "provider_txn_id": "x",
                "customer": {"phone": "0912345678"},
                "amount": 1,
                "currency": "VND",
                "occurred_at": datetime.now(UTC).isoformat(),
            },
            headers=telecom.headers,
        )
        work()
        cid = customer_id(app)
        for i in range(2):
            queue_sms(db.session, dedupe_key=f"d{i}", template="points_earned", payload={"points": 70}, customer_id=cid)
        db.session.commit()
        db.session.remove()
    report = _send(app, now=morning)
    assert (report.sent, report.deferred) == (1, 1)
    waiting = next(r for r in outbox(app) if r.status == "pending")
    assert waiting.last_error == "deferred: daily limit reached"
    assert waiting.next_attempt_at == datetime(2027, 3, 2, 1, 0, tzinfo=UTC)  # 08:00 +07 next day (quiet until then)
    # at 22:00 local nothing goes out, even the next day's message
    assert _send(app, now=datetime(2027, 3, 2, 15, 0, tzinfo=UTC)).sent == 0
    # a reply to the customer's own message is not held by quiet hours
    with app.app_context():
        from webapp.extensions import db

        queue_sms(db.session, dedupe_key="reply", template="sms_reply", payload={"text": "ok"}, customer_id=cid)
        db.session.commit()
        db.session.remove()
    night = datetime(2027, 3, 2, 15, 30, tzinfo=UTC)  # 22:30 +07
    report = _send(app, now=night)
    assert report.sent == 1 and sent_to()[-1] == "ok"
    report = _send(app, now=datetime(2027, 3, 3, 1, 1, tzinfo=UTC))  # 08:01 +07
    assert report.sent == 1 and outbox(app, dedupe_key="d1")[0].status == "sent"


def test_http_gateway_retries_with_backoff(app, client, telecom, staff, work):
    from campaigns.notify.gateways import HttpGateway
    from campaigns.notify.outbox import BACKOFF_FIRST

    received: list[dict] = []
    answers = [503, 200]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            status = answers.pop(0)
            if status == 200:
                received.append({**body, "auth": self.headers.get("Authorization")})
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"id": "gw-1"}')

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        programme(client, staff, rewards=False)
        set_setting(client, staff, "notify_points_threshold", 100_000_000)  # no automatic messages
        earn(client, telecom, work, "t1", 600_000)
        from campaigns.notify.outbox import queue_sms
        from webapp.extensions import db

        with app.app_context():
            queue_sms(
                db.session,
                dedupe_key="m1",
                template="points_earned",
                payload={"points": 5},
                customer_id=customer_id(app),
            )
            db.session.commit()
            db.session.remove()
        gw = HttpGateway(f"http://127.0.0.1:{server.server_port}/sms", token="tok")
        now = datetime.now(UTC)
        assert _send(app, gw, now=now).retried == 1
        row = outbox(app, dedupe_key="m1")[0]
        assert row.status == "pending" and row.attempts == 1 and row.last_error == "gateway answered 503"
        assert row.next_attempt_at == now + timedelta(seconds=BACKOFF_FIRST)
        assert _send(app, gw, now=now + timedelta(seconds=5)).sent == 0  # not due yet
        assert _send(app, gw, now=now + timedelta(seconds=BACKOFF_FIRST + 1)).sent == 1
        assert received == [
            {
                "to": PHONE,
                "text": "Bạn vừa nhận 5 điểm. Số dư: 60 điểm.",
                "ref": f"outbox-{row.id}",
                "auth": "Bearer tok",
            }
        ]
    finally:
        server.shutdown()
        thread.join(timeout=5)


def test_expiring_points_once_per_month(app, client, telecom, staff, work):
    from campaigns.models import PointLot
    from campaigns.notify.outbox import queue_expiring
    from webapp.extensions import db

    programme(client, staff, rewards=False)
    earn(client, telecom, work, "t1", 600_000)
    soon = datetime.now(UTC) + timedelta(days=10)
    with app.app_context():
        db.session.execute(update(PointLot).values(expires_at=soon))
        assert queue_expiring(db.session) == 1
        assert queue_expiring(db.session) == 1  # the same row: deduped per customer per month
        db.session.commit()
        db.session.remove()
    assert len(outbox(app, template="points_expiring")) == 1
    app.extensions["loyalty.dispatcher"].schedule_notify()
    work()
    assert f"60 điểm của bạn sẽ hết hạn ngày {soon:%d/%m/%Y}. Hãy đổi quà trước khi hết hạn!" in sent_to()
