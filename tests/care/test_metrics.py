"""/metrics in the Prometheus text format: figures from MariaDB and Redis, guarded by a token or loopback."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families
from rq import Queue, SimpleWorker

from campaigns.care import alerts
from campaigns.care.alerts import Condition
from campaigns.clock import utcnow
from webapp.extensions import db
from workers.imports import IMPORT_QUEUE
from workers.queues import NOTIFY_QUEUE, pending_key

from .streams import customers, provider_id, transactions


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_report_queues_backlog_latency_errors_and_alerts(app, client, telecom, redis_client):
    tid = provider_id(app, "telecom")
    people = customers(app, 3)
    now = utcnow()
    recent = [now - timedelta(minutes=5, seconds=i) for i in range(8)]
    transactions(app, tid, people, recent[:5], processed_after=timedelta(seconds=30))
    transactions(app, tid, people, recent[5:], processed_after=timedelta(seconds=120))
    transactions(app, tid, people, [now - timedelta(minutes=20)] * 2, status="queued", processed_after=None)
    transactions(app, tid, people, [now - timedelta(minutes=2)], status="rejected")
    with app.app_context():
        alerts.reconcile(
            db.session, "sla", [Condition("sla:telecom", "critical", "late", "late", provider_id=tid)], now
        )
        db.session.commit()
    Queue(IMPORT_QUEUE, connection=redis_client).enqueue("builtins.len", "waiting")
    notify = Queue(NOTIFY_QUEUE, connection=redis_client)
    notify.enqueue("math.sqrt", -1)  # fails: lands in the failed-job registry
    SimpleWorker([notify], connection=redis_client).work(burst=True)
    redis_client.rpush(pending_key(2), 11, 12, 13)

    resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.content_type.startswith("text/plain")
    m = _samples(resp.get_data(as_text=True))
    assert m[("loyalty_queue_depth", (("queue", "loyalty-imports"),))] == 1
    assert m[("loyalty_queue_depth", (("queue", "loyalty-accrual-000"),))] == 0
    assert m[("loyalty_jobs_failed", (("queue", "loyalty-notify"),))] == 1
    assert m[("loyalty_partition_pending", (("partition", "2"),))] == 3
    assert m[("loyalty_transactions_received_total", ())] == 11
    assert m[("loyalty_transactions_rejected_total", ())] == 1
    assert m[("loyalty_transactions_credited_total", ())] == 8
    assert m[("loyalty_backlog_transactions", ())] == 2
    assert 1190 <= m[("loyalty_backlog_oldest_seconds", ())] <= 1300
    assert m[("loyalty_accrual_latency_seconds_bucket", (("le", "30.0"),))] == 5
    assert m[("loyalty_accrual_latency_seconds_bucket", (("le", "120.0"),))] == 8
    assert m[("loyalty_accrual_latency_seconds_gcount", ())] == 8
    assert m[("loyalty_accrual_latency_seconds_gsum", ())] == 5 * 30 + 3 * 120
    assert m[("loyalty_alerts_open", (("kind", "sla"), ("severity", "critical")))] == 1
    assert m[("loyalty_notifications_failed", ())] == 0


def test_metrics_need_the_token_or_loopback(app, client, monkeypatch):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 403
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "s3cret-token")
    assert client.get("/metrics").status_code == 401  # loopback is not enough once a token is set
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = client.get(
        "/metrics", headers={"Authorization": "Bearer s3cret-token"}, environ_base={"REMOTE_ADDR": "10.1.2.3"}
    )
    assert ok.status_code == 200 and b"loyalty_backlog_transactions" in ok.data
