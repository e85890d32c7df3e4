"""The dashboard's daily rollup gives the same figures as the live queries, for every scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from campaigns import localdays
from campaigns.models import DailyStat, LedgerEntry, Provider, Transaction
from campaigns.permissions import UNLIMITED, Scope
from campaigns.reporting import dashboard
from tests.helpers.api import publish, txn
from tests.helpers.documents import BASE_EARNING
from webapp.extensions import db
from workers.sweeper import rollup

HANOI = "Asia/Ho_Chi_Minh"


def test_rollup_matches_live_figures(app, client, telecom, shop, staff, work):
    publish(client, staff, BASE_EARNING)
    for i in range(6):
        key = telecom if i % 2 else shop
        client.post(
            "/api/v1/transactions", json=txn(f"r-{i}", 100_000 * (i + 1), phone=f"091200000{i}"), headers=key.headers
        )
    work()
    now = datetime.now(UTC)
    with app.app_context():  # spread the activity over the last days (the ledger is stamped when written)
        ids = db.session.scalars(select(Transaction.id).order_by(Transaction.id)).all()
        for i, tid in enumerate(ids):
            when = now - timedelta(days=i)
            db.session.execute(
                update(Transaction).where(Transaction.id == tid).values(received_at=when, processed_at=when)
            )
            db.session.execute(update(LedgerEntry).where(LedgerEntry.transaction_id == tid).values(created_at=when))
        db.session.commit()
        telecom_id = db.session.scalar(select(Provider.id).where(Provider.code == "telecom"))
        scopes = [UNLIMITED, Scope("provider", telecom_id, "telecom")]
        live = [dashboard.build(db.session, s, days=7, rollup=False) for s in scopes]
        assert dashboard.rolled_through(db.session) is None

    assert rollup(app.extensions["loyalty.runtime"]) >= 4
    assert rollup(app.extensions["loyalty.runtime"]) == 0  # nothing new until tomorrow
    with app.app_context():
        through = dashboard.rolled_through(db.session)
        assert through == localdays.day_of(now - dashboard.ROLLUP_LAG, HANOI) - timedelta(days=1)  # the programme's
        rolled_days = sum(1 for i in range(6) if localdays.day_of(now - timedelta(days=i), HANOI) <= through)
        assert db.session.scalar(select(func.count()).select_from(DailyStat)) == rolled_days
        rolled = [dashboard.build(db.session, s, days=7) for s in scopes]
    for a, b in zip(live, rolled, strict=True):
        assert (a.days, a.issued, a.redeemed, a.providers, a.transactions) == (
            b.days,
            b.issued,
            b.redeemed,
            b.providers,
            b.transactions,
        )
    assert sum(live[0].issued) == 10 + 20 + 30 + 40 + 50 + 60
    assert [p["code"] for p in rolled[1].providers] == ["telecom"]
