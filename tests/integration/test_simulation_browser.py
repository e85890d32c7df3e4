"""The editor's simulation panel in a real browser: a weekend rule tried on a chosen date and time, and the replay
showing what a draft multiplier adds to the live campaigns."""

from __future__ import annotations

import os

import pytest

from tests.helpers.api import publish, txn
from tests.helpers.documents import BASE_EARNING
from tests.helpers.factories import make_provider, make_staff_key, make_user
from tests.integration.test_browser import CHROMIUM, browser, server, sign_in  # noqa: F401 (fixtures)

pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (bin/test installs it)"),
]

WEEKEND = """name: Weekend bonus
rules:
  - name: weekend
    conditions:
      all:
        - {name: day_of_week, operator: is_in, value: [saturday, sunday]}
    actions:
      - {name: award_points, params: {points: 30}}
"""
DOUBLE = """name: Double top-ups
priority: 10
rules:
  - name: x2
    conditions:
      all:
        - {name: category, operator: equal_to, value: topup}
    actions:
      - {name: multiply_points, params: {factor: 2}}
"""


def test_the_editor_simulates_at_a_date_and_time_and_against_the_live_campaigns(app, client, server, browser, work):  # noqa: F811
    telecom = make_provider(app, "telecom", "Mobile operator")
    make_user(app, "marketer@example.com", "marketer")
    publish(client, make_staff_key(app), BASE_EARNING)
    for i in range(2):
        resp = client.post(
            "/api/v1/transactions", json=txn(f"b{i}", 100_000, phone=f"091200000{i}"), headers=telecom.headers
        )
        assert resp.status_code == 202
    work()
    page = browser.new_context(viewport={"width": 1360, "height": 900}, timezone_id="Asia/Ho_Chi_Minh").new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, server, "marketer@example.com")
    page.goto(f"{server}/campaigns/new")
    page.locator("#source").fill(WEEKEND)
    page.locator("#check-text").filter(has_text="Valid").wait_for()
    page.get_by_label("Provider", exact=True).select_option("telecom")

    page.get_by_label("Date and time").fill("2026-12-05T10:00")  # a Saturday
    page.get_by_role("button", name="Run on this transaction").click()
    page.locator("#sim-result").filter(has_text="Evaluated at 2026-12-05T10:00:00+07:00").wait_for()
    assert "30 points" in page.locator("#sim-result").inner_text()

    page.get_by_label("Date and time").fill("2026-12-07T10:00")  # a Monday
    page.get_by_role("button", name="Run on this transaction").click()
    page.locator("#sim-result").filter(has_text="Evaluated at 2026-12-07T10:00:00+07:00").wait_for()
    assert "0 points" in page.locator("#sim-result").inner_text()

    page.locator("#source").fill(DOUBLE)
    page.locator("#check-text").filter(has_text="Valid").wait_for()
    page.get_by_role("button", name="Replay").click()
    page.locator("#sim-result").filter(has_text="Together with the live campaigns").wait_for()
    text = page.locator("#sim-result").inner_text()
    assert "Live campaigns alone\n20" in text and "Live + this draft\n40" in text and "Difference (points)\n20" in text
    assert errors == []
