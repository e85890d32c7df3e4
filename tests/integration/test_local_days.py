"""Day boundaries follow the programme's time zone: 23:30 UTC on the 3rd is the 4th in Hanoi, on every day page.

Three transactions sit either side of local midnight (all on the same UTC day); the dashboard, the SLA page,
their rollups and the weekly analytics must put them on the Hanoi days, and a change of zone rebuilds the rollups.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from campaigns import localdays
from campaigns.catalog import programme
from campaigns.clock import utcnow
from campaigns.models import Counter, DailyStat, LedgerEntry, SlaDaily, Transaction
from campaigns.permissions import UNLIMITED
from campaigns.reporting import analytics, dashboard
from tests.helpers.api import publish, txn
from tests.helpers.documents import BASE_EARNING
from tests.helpers.factories import make_user
from tests.helpers.web import login
from webapp.extensions import db
from workers import care
from workers.sweeper import rollup

from ..care.streams import customers, provider_id, transactions

HANOI = "Asia/Ho_Chi_Minh"
BARE_UTC = re.compile(r"UTC(?![+-]\d)")  # "UTC" alone, not the zone label "UTC+07:00"


def _around_midnight(app, client, telecom, staff, work):
    """10, 20 and 30 points at 23:30 on D-1, 00:00 and 06:30 on D (Hanoi) — all on D-1 in UTC."""
    publish(client, staff, BASE_EARNING)
    for i in range(3):
        resp = client.post(
            "/api/v1/transactions",
            json=txn(f"m-{i}", 100_000 * (i + 1), phone=f"091300000{i}"),
            headers=telecom.headers,
        )
        assert resp.status_code == 202
    work()
    d = localdays.day_of(utcnow(), HANOI) - timedelta(days=3)
    midnight = localdays.start_of(d, HANOI)
    assert midnight == datetime(d.year, d.month, d.day, tzinfo=UTC) - timedelta(hours=7)
    times = [midnight - timedelta(minutes=30), midnight, midnight + timedelta(hours=6, minutes=30)]
    assert {t.date() for t in times} == {d - timedelta(days=1)}  # one UTC day
    assert times[2] == datetime.combine(d - timedelta(days=1), datetime.min.time(), UTC) + timedelta(
        hours=23, minutes=30
    )
    with app.app_context():
        ids = db.session.scalars(select(Transaction.id).order_by(Transaction.id)).all()
        for tid, when in zip(ids, times, strict=True):
            db.session.execute(
                update(Transaction)
                .where(Transaction.id == tid)
                .values(received_at=when, processed_at=when + timedelta(seconds=5))
            )
            db.session.execute(update(LedgerEntry).where(LedgerEntry.transaction_id == tid).values(created_at=when))
        db.session.commit()
    return d


def _share(client) -> dict[str, str]:
    rows = csv.DictReader(io.StringIO(client.get("/care/sla.csv?table=share&days=14").get_data(as_text=True)))
    return {r["day"]: r["within_sla"] for r in rows if r["provider"] == "telecom"}


def test_dashboard_and_sla_days_are_the_programmes_local_days(app, client, telecom, staff, work):
    d = _around_midnight(app, client, telecom, staff, work)
    before, day = (d - timedelta(days=1)).isoformat(), d.isoformat()
    with app.app_context():
        live = dashboard.build(db.session, UNLIMITED, days=7, rollup=False)
        assert dict(zip(live.days, live.issued, strict=True))[before] == 10
        assert dict(zip(live.days, live.issued, strict=True))[day] == 20 + 30
        assert live.days[-1] == localdays.day_of(utcnow(), HANOI).isoformat()

    make_user(app, "analyst@example.com", "analyst")
    login(client, "analyst@example.com")
    assert _share(client) == {before: "1", day: "2"}

    assert rollup(app.extensions["loyalty.runtime"]) >= 2
    with app.app_context():
        stats = {r.day.isoformat(): r.issued for r in db.session.scalars(select(DailyStat))}
        assert (stats[before], stats[day]) == (10, 50)
        sla_rows = {r.day.isoformat(): r.credited for r in db.session.scalars(select(SlaDaily))}
        assert (sla_rows[before], sla_rows[day]) == (1, 2)
        assert dashboard.rolled_through(db.session) == localdays.day_of(utcnow() - dashboard.ROLLUP_LAG, HANOI) - (
            timedelta(days=1)
        )
        rolled = dashboard.build(db.session, UNLIMITED, days=7)
        assert (rolled.days, rolled.issued) == (live.days, live.issued)
    assert _share(client) == {before: "1", day: "2"}  # the same from sla_daily

    page = client.get("/care/sla").get_data(as_text=True)
    assert "Days of receipt, UTC+07:00." in page and not BARE_UTC.search(page)
    assert "Latency, last 24 h" in page
    make_user(app, "admin@example.com", "admin")
    admin = app.test_client()
    login(admin, "admin@example.com")
    page = admin.get("/").get_data(as_text=True)
    assert "last 30 days, local days (UTC+07:00)" in page and not BARE_UTC.search(page)
    assert "Warning at (% of SLA)" in admin.get("/care/sla").get_data(as_text=True)  # the SLA form, admins only

    resp = client.put("/api/v1/settings/timezone", json={"value": "UTC"}, headers=staff)
    assert resp.status_code == 200, resp.get_json()
    with app.app_context():  # the day rollups are rebuilt in the new zone's days
        assert db.session.scalar(select(DailyStat.day)) is None
        assert db.session.get(Counter, "sla_daily_through") is None
    assert rollup(app.extensions["loyalty.runtime"]) >= 1
    with app.app_context():
        stats = {r.day.isoformat(): r.issued for r in db.session.scalars(select(DailyStat))}
        assert stats == {before: 60}
        assert programme.local_today(db.session) == utcnow().date()


def test_weekly_analytics_put_sunday_night_utc_in_the_next_local_week(app, client, telecom):
    today = localdays.day_of(utcnow(), HANOI)
    monday = analytics.parse_week(None, today)  # the last full week
    midnight = localdays.start_of(monday, HANOI)  # Sunday 17:00 UTC
    tid = provider_id(app, "telecom")
    people = customers(app, 3)
    transactions(app, tid, people, [midnight - timedelta(minutes=30)])  # Sunday 23:30 local: the week before
    transactions(app, tid, people, [midnight + timedelta(minutes=m) for m in (0, 30, 400)])  # Sunday UTC, Monday here
    rt = app.extensions["loyalty.runtime"]
    for _ in range(4):
        care.monitor(rt, utcnow())
    with app.app_context():
        a = analytics.build(db.session, monday - timedelta(weeks=1), 2)
    this, previous = analytics.week_label(monday), analytics.week_label(monday - timedelta(weeks=1))
    assert {w.key: w.transactions for w in a.week_totals} == {previous: 1, this: 3}

    make_user(app, "analyst@example.com", "analyst")
    login(client, "analyst@example.com")
    page = client.get(f"/care/reports/weekly?week={this}").get_data(as_text=True)
    assert "(UTC+07:00)" in page and not BARE_UTC.search(page)
    rows = csv.reader(io.StringIO(client.get(f"/care/reports/weekly.csv?week={this}").get_data(as_text=True)))
    assert ["total", this, "3"] == next(r for r in rows if r[0] == "total")[:3]
