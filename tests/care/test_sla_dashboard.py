"""SLA dashboard figures: share within SLA and nearest-rank latency percentiles, the same live and from the rollup."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from campaigns import localdays
from campaigns.care import sla
from campaigns.clock import utcnow
from campaigns.models import SlaDaily, Transaction
from tests.care.sla_helpers import dispatch_failing, post
from tests.helpers.api import publish
from tests.helpers.documents import BASE_EARNING
from tests.helpers.factories import make_user
from tests.helpers.web import login
from webapp.extensions import db
from workers.sweeper import rollup


def test_percentiles():
    values = sorted(float(i) for i in range(1, 101))
    assert [sla.percentile(values, q) for q in (0.5, 0.9, 0.99, 1.0)] == [50.0, 90.0, 99.0, 100.0]
    assert sla.percentile([7.0], 0.99) == 7.0 and sla.percentile([], 0.5) is None
    assert sla.percentile([1.0, 2.0, 3.0], 0.5) == 2.0  # an observed latency, never an interpolation


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_share_and_percentiles_of_a_past_day_live_then_from_the_rollup(
    app, client, telecom, shop, staff, work, monkeypatch
):
    publish(client, staff, BASE_EARNING)
    ids = post(client, telecom, "t", 100)
    shop_ids = post(client, shop, "s", 2)
    with dispatch_failing(app, monkeypatch):
        waiting = post(client, telecom, "w", 4, first_phone=500)
    work()
    day = utcnow().date() - timedelta(days=3)
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    with app.app_context():  # telecom's latencies that day: 10 s, 20 s, ... 1000 s; the SLA is 900 s
        for i, txn_id in enumerate(ids, 1):
            db.session.execute(
                update(Transaction)
                .where(Transaction.id == txn_id)
                .values(received_at=noon, processed_at=noon + timedelta(seconds=10 * i))
            )
        for txn_id in shop_ids:
            db.session.execute(
                update(Transaction)
                .where(Transaction.id == txn_id)
                .values(received_at=noon, processed_at=noon + timedelta(milliseconds=250))
            )
        db.session.execute(update(Transaction).where(Transaction.id.in_(waiting)).values(received_at=noon))
        db.session.commit()

    make_user(app, "analyst@example.com", "analyst")
    login(client, "analyst@example.com")

    def figures() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        share = _rows(client.get("/care/sla.csv?table=share&days=14").get_data(as_text=True))
        latency = _rows(client.get(f"/care/sla.csv?table=latency&days=14&day={day}").get_data(as_text=True))
        return share, latency

    expected_share = [
        {"day": day.isoformat(), "provider": "shop", "within_sla": "2", "late": "0", "share_pct": "100.0"},
        # 90 credited within 900 s, 10 after it, 4 still waiting three days later
        {"day": day.isoformat(), "provider": "telecom", "within_sla": "90", "late": "14", "share_pct": "86.5"},
    ]
    expected_latency = [
        {"provider": "shop", "credited": "2", "p50_seconds": "0.25", "p90_seconds": "0.25", "p99_seconds": "0.25"},
        {"provider": "telecom", "credited": "100", "p50_seconds": "500.0", "p90_seconds": "900.0"},
    ]
    live_share, live_latency = figures()
    assert sorted(live_share, key=lambda r: r["provider"]) == expected_share
    for want, got in zip(expected_latency, live_latency, strict=True):
        assert want.items() <= got.items()
    assert (live_latency[1]["p99_seconds"], live_latency[1]["max_seconds"]) == ("990.0", "1000.0")

    assert rollup(app.extensions["loyalty.runtime"]) >= 3
    with app.app_context():
        rolled = {r.provider_id: r for r in db.session.scalars(select(SlaDaily).where(SlaDaily.day == day))}
        assert sorted((r.credited, r.within_sla, r.late, r.sla_seconds) for r in rolled.values()) == [
            (2, 2, 0, 900),
            (100, 90, 14, 900),
        ]
    rolled_share, rolled_latency = figures()
    assert (rolled_share, rolled_latency) == (live_share, live_latency)  # the same figures from the rollup

    page = client.get(f"/care/sla?day={day}").get_data(as_text=True)
    assert f"Latency, {day}" in page
    assert f'data-cell="telecom:{day}">86.5%' in page
    assert '<tr data-latency="telecom"><td>Mobile operator <span class="hint">telecom</span></td>' in page
    assert '<td class="num">100</td><td class="num">8.3 min</td><td class="num">15.0 min</td>' in page


def test_latency_and_share_on_sqlite_the_embedded_default():
    """The same figures from SQLite's date arithmetic (julianday) as from MariaDB's (TIMESTAMPDIFF)."""
    from decimal import Decimal

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from campaigns.models import Base, Customer, Provider
    from campaigns.permissions import Scope

    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    now = utcnow()
    start = now - timedelta(hours=2)
    with Session(engine) as session:
        session.add_all([Provider(id=1, code="telecom", name="Mobile operator"), Customer(id=1)])
        session.flush()
        for i in range(1, 101):
            session.add(
                Transaction(
                    provider_id=1,
                    provider_txn_id=f"t-{i}",
                    customer_id=1,
                    amount=Decimal(1000),
                    currency="VND",
                    occurred_at=start,
                    received_at=start,
                    processed_at=start + timedelta(seconds=10 * i, milliseconds=1),
                    status="processed",
                    body_hash="x",
                )
            )
        session.add(
            Transaction(
                provider_id=1,
                provider_txn_id="late",
                customer_id=1,
                amount=Decimal(1000),
                currency="VND",
                occurred_at=start,
                received_at=start,
                status="queued",
                body_hash="y",
            )
        )
        session.commit()
        board = sla.build(session, Scope("admin"), days=7, now=now)
        [lat] = board.latency
        assert (lat.count, lat.p50, lat.p90, lat.p99, lat.max) == (100, 500.001, 900.001, 990.001, 1000.001)
        local_day = localdays.day_of(start, "Asia/Ho_Chi_Minh").isoformat()  # the programme's day, not UTC's
        assert board.share[("telecom", local_day)] == (89, 12)  # 900.001 s is over 900 s
        assert [(r["code"], r["queued"]) for r in board.backlog] == [("telecom", 1)]
        [cond] = sla.conditions(session, now)
        assert (cond.key, cond.severity, cond.count) == ("sla:telecom", "critical", 1)
