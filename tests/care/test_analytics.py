"""Care analytics and the weekly report, over a synthetic week in MariaDB, through the staff UI."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from campaigns.clock import utcnow
from campaigns.errors import DomainError
from campaigns.reporting import analytics
from tests.helpers.factories import make_user
from tests.helpers.web import login
from workers import care

from .streams import claims, customers, provider_id, transactions


def test_reason_buckets_ignore_case_and_accents():
    assert analytics.reason_of("Điểm chưa cộng sau khi mua hàng") == "points missing"
    assert analytics.reason_of("Nạp tiền 100k không thấy điểm") == "top-up not credited"
    assert analytics.reason_of("Got FEWER points than the receipt says") == "wrong amount"
    assert analytics.reason_of("the Tet PROMOTION bonus never came") == "promotion or bonus missing"
    assert analytics.reason_of("points came very late") == "late credit"
    assert analytics.reason_of("hello?") == "other"


def test_parse_week():
    from datetime import date

    assert analytics.parse_week("2027-W09", date(2027, 6, 1)) == date(2027, 3, 1)
    assert analytics.parse_week(None, date(2027, 3, 10)) == date(2027, 3, 1)  # the last full week
    for bad in ("2027-09", "2027-W54", "W09"):
        with pytest.raises(DomainError) as err:
            analytics.parse_week(bad, date(2027, 3, 10))
        assert err.value.fields[0].path == "week"


def _week_of_stream(app):
    """Last ISO week: telecom late in the north, shop fine; claims mostly about telecom."""
    today = utcnow().date()
    monday = analytics.parse_week(None, today)
    tue = datetime(monday.year, monday.month, monday.day, 10, tzinfo=UTC) + timedelta(days=1)
    tid, sid = provider_id(app, "telecom"), provider_id(app, "shop")
    people = customers(app, 10)
    transactions(app, tid, people, [tue + timedelta(minutes=i) for i in range(40)], region="north")
    late = [tue + timedelta(hours=2, minutes=i) for i in range(12)]
    transactions(app, tid, people, late, region="north", processed_after=timedelta(minutes=40))
    transactions(app, tid, people, late[:3], channel="ussd", status="queued", processed_after=None)
    transactions(app, tid, people, late[:5], channel="ussd", status="rejected")
    transactions(app, sid, people, [tue + timedelta(hours=5, minutes=i) for i in range(30)], category="grocery")
    claims(app, tid, [tue + timedelta(hours=h) for h in range(6)], "Nạp tiền không thấy điểm")
    claims(app, tid, [tue + timedelta(hours=7)], "points came very late")
    claims(app, sid, [tue + timedelta(hours=8)], "Got fewer points")
    claims(app, tid, [tue - timedelta(days=8)], "an older week: not in the report")
    rt = app.extensions["loyalty.runtime"]
    for _ in range(3):  # the first passes roll the hours since the first transaction, a week per pass
        care.monitor(rt, utcnow())
    return analytics.week_label(monday)


def test_analytics_and_weekly_report_html_and_csv(app, client, telecom, shop):
    week = _week_of_stream(app)
    make_user(app, "analyst@example.com", "analyst")
    login(client, "analyst@example.com")

    page = client.get("/care/analytics?weeks=4")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-dimension="region"' in html and 'data-key="north"' in html
    assert 'data-reason="top-up not credited"' in html

    report = client.get(f"/care/reports/weekly?week={week}")
    assert report.status_code == 200
    text = report.get_data(as_text=True)
    assert f"Weekly care report {week}" in text and "@media print" not in text

    resp = client.get(f"/care/reports/weekly.csv?week={week}")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    by = {(r["section"], r["key"]): r for r in rows}
    total = by[("total", week)]
    # 40 on time + 12 late + 3 never credited + 5 rejected (telecom), 30 on time (shop)
    assert (total["transactions"], total["sla_breaches"], total["rejected"], total["claims"]) == ("90", "15", "5", "8")
    telecom_row = by[("provider", "telecom")]
    assert (telecom_row["sla_breaches"], telecom_row["claims"], telecom_row["breach_rate"]) == ("15", "7", "0.2500")
    assert by[("provider", "shop")]["sla_breaches"] == "0"
    assert by[("region", "north")]["sla_breaches"] == "12" and by[("region", "unknown")]["sla_breaches"] == "3"
    assert by[("channel", "ussd")]["transactions"] == "8" and by[("category", "grocery")]["transactions"] == "30"
    assert by[("claim reason", "top-up not credited")]["claims"] == "6"
    assert by[("claim reason", "late credit")]["claims"] == "1"
    assert by[("claim reason", "wrong amount")]["claims"] == "1"


def test_weekly_report_rejects_a_bad_week_next_to_the_field(app, client):
    make_user(app, "care@example.com", "care")
    login(client, "care@example.com")
    resp = client.get("/care/reports/weekly?week=2027-13")
    assert resp.status_code == 422
    assert 'id="week-error"' in resp.get_data(as_text=True)
    assert "use the ISO week form" in resp.get_data(as_text=True)
    bad_csv = client.get("/care/reports/weekly.csv?week=nope", headers={"Accept": "application/json"})
    assert bad_csv.status_code == 422, bad_csv.get_data(as_text=True)
    assert "week" in bad_csv.get_data(as_text=True)


def test_provider_users_cannot_see_the_analytics(app, client, shop):
    make_user(app, "shop@example.com", "provider", provider="shop")
    login(client, "shop@example.com")
    for path in ("/care/analytics", "/care/reports/weekly", "/care/reports/weekly.csv"):
        assert client.get(path).status_code == 403


def test_empty_charts_say_what_will_appear_instead_of_a_bare_axis(app, client):
    make_user(app, "care@example.com", "care")
    make_user(app, "analyst@example.com", "analyst")
    login(client, "care@example.com")
    page = client.get("/care/analytics").get_data(as_text=True)
    assert "No SLA breaches and no claims in these weeks" in page
    assert '<svg class="chart" viewBox="0 0 720' not in page  # no axis labelled 1, 0, 0 over nothing
    analyst = app.test_client()
    login(analyst, "analyst@example.com")
    dashboard = analyst.get("/").get_data(as_text=True)
    assert "No points issued or redeemed in the last 30 days" in dashboard
