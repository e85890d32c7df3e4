"""Structured JSON logs: request ids (incoming or generated, echoed), RQ job ids, transaction ids."""

from __future__ import annotations

import io
import json
import logging

import pytest
from rq import Queue

from campaigns import logctx
from workers import care
from workers.queues import CARE_QUEUE


@pytest.fixture()
def json_lines(monkeypatch):
    """Capture every log record as JSON lines (the LOYALTY_LOG_FORMAT=json formatter) from INFO up."""
    stream = io.StringIO()
    handler = logctx.handler(stream, "json")
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    root.removeHandler(handler)
    root.setLevel(level)


def test_request_id_is_honoured_echoed_and_logged(app, client, json_lines):
    resp = client.get("/healthz", headers={"X-Request-ID": "req-abc.123"})
    assert resp.headers["X-Request-ID"] == "req-abc.123"
    generated = client.get("/healthz").headers["X-Request-ID"]
    assert len(generated) == 32 and generated != "req-abc.123"
    hostile = client.get("/healthz", headers={"X-Request-ID": "bad id <script>"}).headers["X-Request-ID"]
    assert len(hostile) == 32 and "<" not in hostile
    access = [r for r in json_lines() if r["logger"] == "loyalty.request"]
    assert [r["request_id"] for r in access] == ["req-abc.123", generated, hostile]
    first = access[0]
    assert first["level"] == "INFO" and "GET /healthz 200" in first["message"] and "time" in first
    assert "job_id" not in first and "transaction_id" not in first


def test_worker_logs_carry_the_job_id(app, client, work, monkeypatch, json_lines):
    def noisy_check(session, now):
        logging.getLogger("tests.care").warning("checked")
        return 0

    monkeypatch.setattr(care, "CHECKS", [("noisy", noisy_check)])
    assert care.schedule_monitor(app.extensions["loyalty.runtime"], 60)
    [job_id] = Queue(CARE_QUEUE, connection=app.extensions["loyalty.runtime"].redis).job_ids
    work()
    [line] = [r for r in json_lines() if r["message"] == "checked"]
    assert line["job_id"] == job_id and line["level"] == "WARNING"


def test_transaction_id_binding(json_lines):
    log = logging.getLogger("tests.care")
    with logctx.bind(transaction_id=42, job_id="j-1"):
        log.info("crediting")
        with logctx.bind(transaction_id=43):
            log.info("crediting next")
    log.info("after")
    a, b, c = [r for r in json_lines() if r["logger"] == "tests.care"]
    assert (a["transaction_id"], a["job_id"]) == (42, "j-1")
    assert (b["transaction_id"], b["job_id"]) == (43, "j-1")
    assert "transaction_id" not in c and "job_id" not in c
    with pytest.raises(ValueError), logctx.bind(customer=1):
        pass
