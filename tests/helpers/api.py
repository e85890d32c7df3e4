"""Request bodies and calls through the public API, and the burst RQ worker that credits what they queued."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient


def publish(client: FlaskClient, staff: dict[str, str], document: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(document, str):
        resp = client.post(
            "/api/v1/campaigns?publish=true", data=document, headers={**staff, "Content-Type": "application/yaml"}
        )
    else:
        resp = client.post("/api/v1/campaigns?publish=true", json=document, headers=staff)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def txn(provider_txn_id: str, amount: int = 150_000, phone: str = "0912345678", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "provider_txn_id": provider_txn_id,
        "customer": {"phone": phone},
        "amount": amount,
        "currency": "VND",
        "category": "topup",
        "channel": "app",
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
    }
    body.update(extra)
    return body


def run_worker(app: Flask) -> None:
    """A real RQ SimpleWorker in burst mode over every partition queue."""
    from workers.worker import run_worker as start

    start(app.extensions["loyalty.runtime"], burst=True)
