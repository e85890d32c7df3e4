"""Shared steps of the SLA tests: post transactions through the API, hold a provider's, read alerts back."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import select, update

from campaigns.models import Alert, Provider, Transaction
from tests.helpers.api import txn
from tests.helpers.factories import ProviderKey
from webapp.extensions import db


def post(client: FlaskClient, provider: ProviderKey, prefix: str, n: int, first_phone: int = 0) -> list[int]:
    """``n`` transactions of ``provider`` in one batch; returns their ids."""
    body = {
        "transactions": [
            txn(f"{prefix}-{i}", phone=f"09{1 if provider.code == 'shop' else 2}{first_phone + i:07d}")
            for i in range(n)
        ]
    }
    resp = client.post("/api/v1/transactions/batch", json=body, headers=provider.headers)
    assert resp.status_code == 202, resp.get_json()
    return [r["id"] for r in resp.get_json()["results"]]


@contextlib.contextmanager
def dispatch_failing(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The web node cannot reach Redis: the API still accepts (rows committed), nothing is queued for the workers."""

    def unreachable(pairs: object) -> None:
        raise RedisConnectionError("Connection refused")

    with monkeypatch.context() as m:
        m.setattr(app.extensions["loyalty.dispatcher"], "dispatch", unreachable)
        yield


def move_back(app: Flask, ids: list[int], delta: timedelta) -> None:
    """Pretend these transactions were received ``delta`` earlier (they have been waiting that long)."""
    with app.app_context():
        rows = db.session.execute(select(Transaction.id, Transaction.received_at).where(Transaction.id.in_(ids)))
        for txn_id, received in rows.all():
            db.session.execute(update(Transaction).where(Transaction.id == txn_id).values(received_at=received - delta))
        db.session.commit()


def received(app: Flask, ids: list[int]) -> list[datetime]:
    with app.app_context():
        return sorted(db.session.scalars(select(Transaction.received_at).where(Transaction.id.in_(ids))))


def statuses(app: Flask, ids: list[int]) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(select(Transaction.status).where(Transaction.id.in_(ids))))


def sla_alerts(app: Flask, live_only: bool = True) -> dict[str, Alert]:
    with app.app_context():
        stmt = select(Alert).where(Alert.kind == "sla").order_by(Alert.id)
        if live_only:
            stmt = stmt.where(Alert.status.in_(("open", "acknowledged")))
        rows = list(db.session.scalars(stmt))
        db.session.expunge_all()
    return {a.key: a for a in rows}


def provider_id(app: Flask, code: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Provider.id).where(Provider.code == code))
