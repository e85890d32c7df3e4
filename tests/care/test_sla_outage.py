"""The provider outage: telecom's transactions are held, then arrive late in a burst.

The monitor (through a real burst RQ worker running ``workers.jobs.care_monitor``,
and through ``care.monitor(rt, now)`` to travel in time) raises warning, overdue,
then critical for telecom only while the shop is credited on time; the burst is
credited by the workers and the next pass clears the alert. Care staff and the
provider users see it on /care/alerts, /care/sla and /care/.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from rq import Queue

from campaigns.clock import utcnow
from tests.care.sla_helpers import dispatch_failing, move_back, post, received, sla_alerts, statuses
from tests.helpers.api import run_worker
from tests.helpers.documents import BASE_EARNING
from tests.helpers.factories import make_user
from tests.helpers.web import csrf_token, login
from workers import care
from workers.queues import CARE_QUEUE, SWEEP_LOCK_KEY
from workers.sweeper import sweep

pytestmark = pytest.mark.slow  # an outage and its late burst through real RQ workers and the monitor


def _cell(html: str, attr: str) -> str:
    """The text of the element carrying ``attr`` (e.g. data-backlog="telecom"), tags stripped."""
    m = re.search(rf"<(\w+)[^>]*{re.escape(attr)}[^>]*>(.*?)</\1>", html, re.S)
    assert m, f"no {attr} on the page"
    return re.sub(r"<[^>]+>", " ", m.group(2)).split()


def _monitor_job(app, redis_client) -> None:
    """The periodic pass: enqueue the care monitor job and let a care-only burst RQ worker run it."""
    rt = app.extensions["loyalty.runtime"]
    redis_client.delete(care.MONITOR_LOCK_KEY)  # the next interval has come
    assert care.schedule_monitor(rt, 60) is True
    assert Queue(CARE_QUEUE, connection=redis_client).count == 1
    run_worker_care_only(app)
    assert Queue(CARE_QUEUE, connection=redis_client).count == 0


def run_worker_care_only(app) -> None:
    from workers.worker import run_worker as start

    start(app.extensions["loyalty.runtime"], partitions=[], imports=False, burst=True)


def test_outage_in_time_warning_overdue_critical_for_that_provider_only_then_cleared_by_the_burst(
    app, client, telecom, shop, staff, work, monkeypatch
):
    from tests.helpers.api import publish

    publish(client, staff, BASE_EARNING)
    rt = app.extensions["loyalty.runtime"]
    post(client, telecom, "t-before", 3)
    post(client, shop, "s-before", 3)
    work()
    assert care.monitor(rt)["sla"] == 0

    # the outage: telecom's transactions are accepted but never reach the workers; the shop's flow on
    with dispatch_failing(app, monkeypatch):
        held = post(client, telecom, "t-held", 6, first_phone=100)
    shop_ids = post(client, shop, "s-during", 4, first_phone=100)
    work()
    assert statuses(app, held) == {"queued"} and statuses(app, shop_ids) == {"processed"}
    r0 = received(app, held)[0]

    steps = [
        (timedelta(minutes=11), None),
        (timedelta(minutes=12, seconds=5), "warning"),
        (timedelta(minutes=15, seconds=5), "overdue"),
        (timedelta(minutes=29), "overdue"),
        (timedelta(minutes=30, seconds=5), "critical"),
    ]
    for offset, expected in steps:
        care.monitor(rt, r0 + offset)
        live = sla_alerts(app)
        assert {k: a.severity for k, a in live.items()} == ({"sla:telecom": expected} if expected else {}), offset
    alert = sla_alerts(app)["sla:telecom"]
    assert (alert.count, alert.oldest_at, alert.times_raised) == (6, r0, 1)
    assert alert.suggested_action.startswith("Only telecom is late")
    assert alert.details["overdue"] == 6 and alert.details["providers_late"] == ["telecom"]

    # telecom's connector comes back: the sweeper re-dispatches the held rows and telecom sends the
    # transactions it buffered while it could not reach us; the workers credit the burst
    assert sweep(rt, older_than_seconds=0) == 6
    burst = post(client, telecom, "t-buffered", 20, first_phone=200)
    work()
    assert statuses(app, held + burst) == {"processed"}
    assert care.monitor(rt, r0 + timedelta(minutes=31))["sla"] == 0
    assert sla_alerts(app) == {}
    [cleared] = sla_alerts(app, live_only=False).values()
    assert (cleared.id, cleared.status, cleared.resolved_by, cleared.resolution) == (
        alert.id,
        "resolved",
        "monitor",
        "condition cleared",
    )


def test_outage_through_the_rq_monitor_job_seen_in_the_care_pages(
    app, client, telecom, shop, staff, work, redis_client, monkeypatch
):
    from tests.helpers.api import publish

    publish(client, staff, BASE_EARNING)
    post(client, telecom, "t-before", 3)
    post(client, shop, "s-before", 2)
    work()
    _monitor_job(app, redis_client)
    assert sla_alerts(app) == {}

    with dispatch_failing(app, monkeypatch):
        held = post(client, telecom, "t-held", 6, first_phone=100)
    move_back(app, held, timedelta(minutes=12, seconds=30))  # they have been waiting 12.5 minutes
    _monitor_job(app, redis_client)
    assert {k: a.severity for k, a in sla_alerts(app).items()} == {"sla:telecom": "warning"}
    move_back(app, held, timedelta(minutes=4))  # 16.5 minutes
    _monitor_job(app, redis_client)
    assert {k: a.severity for k, a in sla_alerts(app).items()} == {"sla:telecom": "overdue"}
    move_back(app, held, timedelta(minutes=24))  # 40.5 minutes: past twice the SLA
    _monitor_job(app, redis_client)
    alert = sla_alerts(app)["sla:telecom"]
    assert (alert.severity, alert.count, alert.escalation) == ("critical", 6, 1)
    assert statuses(app, held) == {"queued"}  # the care-only worker credits nothing

    # care staff see it: the alert, the backlog, the share within SLA (3 on time, 6 late)
    make_user(app, "care@example.com", "care")
    login(client, "care@example.com")
    alerts_page = client.get("/care/alerts").get_data(as_text=True)
    assert 'data-alert-key="sla:telecom"' in alerts_page and "sla:shop" not in alerts_page
    assert "Only telecom is late" in alerts_page
    page = client.get("/care/sla").get_data(as_text=True)
    backlog = _cell(page, 'data-backlog="telecom"')
    assert backlog[:2] == ["telecom", "6"] and backlog[-1] == "min" and 40.5 <= float(backlog[-2]) < 43
    assert 'data-backlog="shop"' not in page
    assert _cell(page, 'data-share="telecom"')[-5:] == ["33.3%", "6", "late", "of", "9"]
    assert _cell(page, 'data-share="shop"')[-5:] == ["100.0%", "0", "late", "of", "2"]
    overview = client.get("/care/").get_data(as_text=True)
    assert _cell(overview, 'data-alerts="critical"')[-1] == "1"
    assert _cell(overview, 'data-kpi="backlog"')[4] == "6"
    if received(app, held)[0].date() == utcnow().date():  # today (UTC) unless the test runs just after midnight
        assert _cell(overview, 'data-kpi="sla"')[-5:] == ["45.5%", "6", "late", "of", "11"]
    token = csrf_token(client, "/care/")
    client.post("/auth/logout", data={"csrf_token": token})

    # each provider user sees only its own provider
    make_user(app, "shop@example.com", "provider", provider="shop")
    login(client, "shop@example.com")
    mine = client.get("/care/sla").get_data(as_text=True)
    assert 'data-share="shop"' in mine and "telecom" not in mine
    assert "sla:telecom" not in client.get("/care/alerts").get_data(as_text=True)
    assert _cell(client.get("/care/").get_data(as_text=True), 'data-alerts="critical"')[-1] == "0"
    token = csrf_token(client, "/care/")
    client.post("/auth/logout", data={"csrf_token": token})
    make_user(app, "telecom@example.com", "provider", provider="telecom")
    login(client, "telecom@example.com")
    assert 'data-alert-key="sla:telecom"' in client.get("/care/alerts").get_data(as_text=True)
    theirs = client.get("/care/sla").get_data(as_text=True)
    assert _cell(theirs, 'data-backlog="telecom"')[:2] == ["telecom", "6"] and "shop" not in theirs

    # the late burst: the workers' sweeper finds the stranded rows, the workers credit them, the next pass clears
    redis_client.delete(SWEEP_LOCK_KEY)  # the sweeper's next interval has come
    run_worker(app)
    assert statuses(app, held) == {"processed"}
    _monitor_job(app, redis_client)
    assert sla_alerts(app) == {}
    after = client.get("/care/sla").get_data(as_text=True)
    assert "Nothing waiting" in after
    assert _cell(after, 'data-share="telecom"')[-5:] == ["33.3%", "6", "late", "of", "9"]
    latency = client.get("/care/sla.csv?table=latency").get_data(as_text=True)
    [row] = list(csv.DictReader(io.StringIO(latency)))
    assert (row["provider"], row["credited"]) == ("telecom", "9")
    # nearest rank over 3 fast + 6 at ~40.5 min: the median is a late one, as is the max
    assert 2430 <= float(row["p50_seconds"]) <= float(row["max_seconds"]) < 2600
