"""Synthetic streams for the care tests: transactions, hourly rollups and claims with controlled timestamps."""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import Flask
from sqlalchemy import insert, select, update

from campaigns.care import hourly
from campaigns.models import Alert, Claim, Customer, Provider, Transaction, TxnHourly
from webapp.extensions import db

_seq = itertools.count(1)


def provider_id(app: Flask, code: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Provider.id).where(Provider.code == code))


def backdate_provider(app: Flask, code: str, when: datetime) -> None:
    with app.app_context():
        db.session.execute(update(Provider).where(Provider.code == code).values(created_at=when))
        db.session.commit()


def customers(app: Flask, n: int) -> list[int]:
    with app.app_context():
        rows = [Customer() for _ in range(n)]
        db.session.add_all(rows)
        db.session.commit()
        return [c.id for c in rows]


def transactions(
    app: Flask,
    pid: int,
    customer_ids: list[int],
    times: Iterable[datetime],
    *,
    amount: int = 150_000,
    category: str = "topup",
    channel: str = "app",
    region: str | None = None,
    processed_after: timedelta | None = timedelta(minutes=1),
    status: str = "processed",
) -> int:
    """Insert one transaction per time (customers round-robin); processed ``processed_after`` later."""
    rows: list[dict[str, Any]] = []
    for i, at in enumerate(times):
        n = next(_seq)
        rows.append(
            {
                "provider_id": pid,
                "provider_txn_id": f"syn-{n}",
                "source": "txn",
                "event_type": "purchase",
                "customer_id": customer_ids[i % len(customer_ids)],
                "amount": Decimal(amount),
                "currency": "VND",
                "category": category,
                "channel": channel,
                "occurred_at": at,
                "received_at": at,
                "processed_at": None if processed_after is None or status == "queued" else at + processed_after,
                "status": status,
                "attributes": {"region": region} if region else {},
                "body_hash": hashlib.sha256(str(n).encode()).hexdigest(),
                "reversed_amount": Decimal(0),
            }
        )
    if rows:
        with app.app_context():
            db.session.execute(insert(Transaction), rows)
            db.session.commit()
    return len(rows)


def spread(start: datetime, end: datetime, n: int) -> list[datetime]:
    """``n`` instants evenly inside [start, end)."""
    step = (end - start) / max(n, 1)
    return [start + step * i + step / 2 for i in range(n)]


def seasonal_rollup(
    app: Flask, pid: int, now: datetime, weeks: int, per_hour: Callable[[datetime], float], seed: int = 7
) -> None:
    """Rolled hours for ``weeks`` weeks before ``now``: ``per_hour(hour)`` transactions, +-10 % noise."""
    rng = random.Random(seed)
    first = hourly.hour_index(now) - weeks * 7 * 24 - 1
    rows = []
    for h in range(first, hourly.hour_index(now) - 2):
        at = hourly.hour_at(h)
        n = round(per_hour(at) * rng.uniform(0.9, 1.1))
        if n:
            rows.append(
                {
                    "hour": at,
                    "provider_id": pid,
                    "category": "topup",
                    "channel": "app",
                    "region": "unknown",
                    "txn_count": n,
                    "amount": Decimal(n * 150_000),
                    "breaches": 0,
                    "rejected": 0,
                }
            )
    with app.app_context():
        db.session.execute(insert(TxnHourly), rows)
        db.session.commit()


def office_hours(at: datetime) -> float:
    """Weekly seasonality: busy weekday days, quieter weekends, near-silent nights."""
    weekend = at.weekday() >= 5
    day = 8 <= at.hour < 20
    if day:
        return 60 if weekend else 200
    return 3 if weekend else 8


def claims(app: Flask, pid: int | None, times: Iterable[datetime], description: str = "points missing") -> None:
    with app.app_context():
        cid = customers(app, 1)[0]
        db.session.add_all(
            Claim(customer_id=cid, provider_id=pid, description=description, channel="portal", created_at=t)
            for t in times
        )
        db.session.commit()


def live_alerts(app: Flask, kind: str) -> dict[str, Alert]:
    with app.app_context():
        rows = db.session.scalars(select(Alert).where(Alert.kind == kind, Alert.status != "resolved")).all()
        db.session.expunge_all()
        return {a.key: a for a in rows}


def all_alerts(app: Flask, kind: str) -> list[Alert]:
    with app.app_context():
        rows = db.session.scalars(select(Alert).where(Alert.kind == kind).order_by(Alert.id)).all()
        db.session.expunge_all()
        return list(rows)
