"""The rollups, warnings, analytics and /metrics also run on the embedded SQLite database (dialect paths)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from flask_migrate import upgrade
from sqlalchemy import func, insert, select

from campaigns.care import hourly
from campaigns.clock import utcnow
from campaigns.models import Customer, Provider, Transaction, TxnHourly
from campaigns.reporting import analytics
from campaigns.settings import Settings
from webapp import create_app
from webapp.extensions import db
from workers import care


def test_monitor_rolls_up_and_reports_on_sqlite(tmp_path, monkeypatch):
    for var in ("LOYALTY_DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(var, raising=False)
    settings = Settings.from_env(database_url=f"sqlite:///{tmp_path / 'care.sqlite3'}", log_level="WARNING")
    app = create_app(settings, TESTING=True)
    monday = analytics.parse_week(None, utcnow().date())
    tue = datetime(monday.year, monday.month, monday.day, 9, tzinfo=UTC) + timedelta(days=1)
    with app.app_context():
        upgrade()
        db.session.add_all([Provider(code="telecom", name="T"), Customer()])
        db.session.flush()
        rows = [
            {
                "provider_id": 1,
                "provider_txn_id": f"s-{i}",
                "customer_id": 1,
                "amount": Decimal(1000),
                "currency": "VND",
                "category": "topup",
                "channel": "app",
                "occurred_at": tue + timedelta(minutes=i),
                "received_at": tue + timedelta(minutes=i),
                "processed_at": tue + timedelta(minutes=i + (30 if i % 2 else 1)),
                "status": "processed",
                "attributes": {"region": "south"},
                "body_hash": "x",
            }
            for i in range(10)
        ]
        db.session.execute(insert(Transaction), rows)
        db.session.commit()
    for _ in range(3):
        results = care.monitor(app.extensions["loyalty.runtime"], utcnow())
        assert not [v for v in results.values() if isinstance(v, str)], results
    with app.app_context():
        n, late, region = db.session.execute(
            select(func.sum(TxnHourly.txn_count), func.sum(TxnHourly.breaches), func.max(TxnHourly.region))
        ).one()
        assert (n, late, region) == (10, 5, "south")
        assert hourly.rolled_through(db.session) is not None
        a = analytics.build(db.session, monday, 1)
    assert a.week_totals[0].transactions == 10 and a.week_totals[0].breaches == 5
    metrics = app.test_client().get("/metrics")
    assert metrics.status_code == 200 and b"loyalty_transactions_received_total 10.0" in metrics.data
