"""Request ids in logs and responses, an access log line per request, and ``/metrics`` for Prometheus.

``/metrics`` answers a bearer token equal to ``LOYALTY_METRICS_TOKEN``; with
none configured, only callers on the loopback interface. Every figure is
computed at scrape time from Redis (RQ queues, partition lists, failed-job
registries) and the database (``campaigns.reporting.opsmetrics``), in a fresh registry,
so any number of gunicorn processes give the same answer.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeHistogramMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector

from campaigns import logctx
from campaigns.clock import utcnow
from campaigns.reporting import opsmetrics
from workers.imports import IMPORT_QUEUE
from workers.queues import CARE_QUEUE, NOTIFY_QUEUE, pending_key, queue_name

from .extensions import csrf, db, db_session, runtime

log = logging.getLogger("loyalty.request")
bp = Blueprint("metrics", __name__)
LOOPBACK = {"127.0.0.1", "::1"}


def init_observability(app: Flask) -> None:
    app.config.setdefault("METRICS_TOKEN", os.environ.get("LOYALTY_METRICS_TOKEN") or None)

    @app.before_request
    def _request_id() -> None:
        rid, token = logctx.set_request_id(request.headers.get("X-Request-ID"))
        g.request_id, g.request_id_token, g.request_started = rid, token, time.perf_counter()

    @app.after_request
    def _echo(resp: Response) -> Response:
        rid = g.get("request_id")
        if rid:
            resp.headers["X-Request-ID"] = rid
            log.info(
                "%s %s %s %.1fms",
                request.method,
                request.path,
                resp.status_code,
                1000 * (time.perf_counter() - g.request_started),
            )
        return resp

    @app.teardown_request
    def _forget(_exc: BaseException | None) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            logctx.reset_request_id(token)

    csrf.exempt(bp)
    app.register_blueprint(bp)


def _authorised() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    return request.remote_addr in LOOPBACK


class LoyaltyCollector(Collector):
    def __init__(self, figures: opsmetrics.OpsFigures, redis: Any, partitions: int) -> None:
        self.f, self.redis, self.partitions = figures, redis, partitions

    def collect(self) -> Any:
        f = self.f
        yield from self._queues()
        yield _counter("loyalty_transactions_received", "Transactions received since the rollup began", f.received)
        yield _counter("loyalty_transactions_credited", "Credited: received - rejected - queued", f.credited)
        yield _counter("loyalty_transactions_rejected", "Transactions rejected by validation or rules", f.rejected)
        yield _gauge("loyalty_backlog_transactions", "Transactions queued, not credited yet", f.queued)
        yield _gauge("loyalty_backlog_oldest_seconds", "Age of the oldest queued transaction", f.oldest_queued_seconds)
        yield _gauge("loyalty_notifications_failed", "Notifications that failed for good", f.failed_notifications)
        hist = GaugeHistogramMetricFamily(
            "loyalty_accrual_latency_seconds",
            f"Receipt to credit, transactions received in the last {int(opsmetrics.LATENCY_WINDOW.total_seconds())} s",
            buckets=[(str(le), n) for le, n in f.latency_buckets] + [("+Inf", f.latency_count)],
            gsum_value=f.latency_sum,
        )
        yield hist
        alerts = GaugeMetricFamily("loyalty_alerts_open", "Live care alerts", labels=["kind", "severity"])
        for (kind, severity), n in sorted(f.alerts.items()):
            alerts.add_metric([kind, severity], n)
        yield alerts

    def _queues(self) -> Any:
        from rq import Queue
        from rq.registry import FailedJobRegistry

        depth = GaugeMetricFamily("loyalty_queue_depth", "Jobs waiting in an RQ queue", labels=["queue"])
        failed = GaugeMetricFamily("loyalty_jobs_failed", "Jobs in an RQ queue's failed registry", labels=["queue"])
        pending = GaugeMetricFamily(
            "loyalty_partition_pending", "Transaction ids waiting in a partition's list", labels=["partition"]
        )
        if self.redis is not None:
            names = [queue_name(p) for p in range(self.partitions)] + [NOTIFY_QUEUE, IMPORT_QUEUE, CARE_QUEUE]
            for name in names:
                q = Queue(name, connection=self.redis)
                depth.add_metric([name], q.count)
                failed.add_metric([name], FailedJobRegistry(queue=q).count)
            pipe = self.redis.pipeline(transaction=False)
            for p in range(self.partitions):
                pipe.llen(pending_key(p))
            for p, n in enumerate(pipe.execute()):
                pending.add_metric([str(p)], n)
        yield depth
        yield failed
        yield pending


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


@bp.get("/metrics")
def metrics() -> Any:
    if not _authorised():
        abort(401 if current_app.config.get("METRICS_TOKEN") else 403)
    rt = runtime()
    figures = opsmetrics.collect(db_session(), utcnow())
    db.session.rollback()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LoyaltyCollector(figures, rt.redis, rt.partitions))
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_PLAIN_0_0_4)
