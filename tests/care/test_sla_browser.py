"""The care pages in a real browser during a provider outage; screenshots for docs/screenshots (LOYALTY_SCREENSHOTS=1).

Two weeks of history (seeded rows: the shop always on time, the post office a few
minutes late now and then, telecom with one bad day), then today's outage:
telecom's transactions held for 40 minutes, some of the post office's for 13.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert, select

from campaigns.clock import utcnow
from campaigns.models import Claim, Customer, Provider, Transaction
from tests.care.sla_helpers import dispatch_failing, move_back, post
from tests.helpers.api import publish
from tests.helpers.documents import BASE_EARNING
from tests.helpers.factories import make_provider, make_user
from tests.integration.test_browser import browser, server, shot, sign_in  # noqa: F401 (fixtures)
from webapp.extensions import db
from workers import care
from workers.sweeper import rollup

pytestmark = pytest.mark.slow  # browser

PROFILE = {  # provider: (per day, share late on a normal day, late minutes)
    "shop": (60, 0.0, 0),
    "post": (40, 0.05, 18),
    "telecom": (80, 0.01, 22),
}


def _history(app, now: datetime) -> None:
    rng = random.Random(6)
    with app.app_context():
        customer = db.session.scalar(select(Customer.id).limit(1))
        ids = dict(db.session.execute(select(Provider.code, Provider.id)).all())
        rows = []
        for back in range(13, 0, -1):
            day = (now - timedelta(days=back)).date()
            for code, (n, late_share, late_min) in PROFILE.items():
                bad_day = code == "telecom" and back == 5
                for i in range(n):
                    received = datetime(day.year, day.month, day.day, 7, tzinfo=UTC) + timedelta(minutes=12 * i)
                    if bad_day and 20 <= i < 50:
                        wait = timedelta(minutes=rng.uniform(16, 55))
                    elif rng.random() < late_share:
                        wait = timedelta(minutes=late_min * rng.uniform(0.9, 1.3))
                    else:
                        wait = timedelta(seconds=rng.uniform(0.4, 9) if code != "post" else rng.uniform(2, 95))
                    rows.append(
                        {
                            "provider_id": ids[code],
                            "provider_txn_id": f"h-{code}-{back}-{i}",
                            "source": "txn",
                            "event_type": "purchase",
                            "customer_id": customer,
                            "amount": Decimal(150_000),
                            "currency": "VND",
                            "category": "topup",
                            "channel": "app",
                            "occurred_at": received,
                            "received_at": received,
                            "processed_at": received + wait,
                            "status": "processed",
                            "reversed_amount": Decimal(0),
                            "attributes": {},
                            "body_hash": "seeded",
                        }
                    )
        db.session.execute(insert(Transaction), rows)
        for i, status in enumerate(("open", "assigned", "investigating", "resolved")):
            db.session.add(
                Claim(
                    customer_id=customer,
                    provider_id=ids["telecom"],
                    description=f"top-up {i} not credited",
                    channel="portal",
                    status=status,
                )
            )
        db.session.commit()


def test_care_pages_during_an_outage_in_a_browser(app, server, browser, client, staff, work, monkeypatch):  # noqa: F811
    telecom = make_provider(app, "telecom", "Mobile operator")
    shop = make_provider(app, "shop", "Convenience shop")
    postoffice = make_provider(app, "post", "Post office")
    publish(client, staff, BASE_EARNING)
    rt = app.extensions["loyalty.runtime"]
    for p in (telecom, shop, postoffice):
        post(client, p, "today", 25)
    work()
    now = utcnow()
    _history(app, now)
    assert rollup(rt) >= 13

    with dispatch_failing(app, monkeypatch):
        held = post(client, telecom, "held", 37, first_phone=300)
        slow = post(client, postoffice, "slow", 5, first_phone=300)
    move_back(app, held, timedelta(minutes=41))
    move_back(app, slow, timedelta(minutes=13))
    care.monitor(rt)
    make_user(app, "care@example.com", "care")

    ctx = browser.new_context(viewport={"width": 1360, "height": 900})
    page = ctx.new_page()
    sign_in(page, server, "care@example.com")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Care centre", exact=True).click()
    page.wait_for_load_state()
    assert page.locator('[data-alerts="critical"] dd').inner_text() == "1"
    assert page.locator('[data-alerts="warning"] dd').inner_text() == "1"
    assert page.locator('[data-kpi="backlog"] dd a').inner_text() == "42"
    assert page.locator('[data-kpi="claims"] dd').inner_text().startswith("3")
    shot(page, "care-overview")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Accrual SLA", exact=True).click()
    page.wait_for_load_state()
    assert page.locator('[data-backlog="telecom"] td').nth(1).inner_text() == "37"
    assert page.locator("svg.chart circle").count() >= 3 * 13
    shot(page, "care-sla")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Alerts", exact=True).click()
    page.wait_for_load_state()
    assert page.locator('[data-alert-key="sla:telecom"] .badge').first.inner_text() == "critical"
    assert page.locator('[data-alert-key="sla:post"] .badge').first.inner_text() == "warning"
    shot(page, "care-alerts")
    ctx.close()
