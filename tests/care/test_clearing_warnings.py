"""The care monitor warns about clearing: a provider funding far more than last month or its budget, a month left open."""

from __future__ import annotations

from datetime import UTC, datetime

import time_machine
from sqlalchemy import select

from campaigns.models import Alert, utcnow
from tests.channels.helpers import set_setting
from tests.conftest import publish
from tests.integration.test_clearing import BASE, post
from webapp.extensions import db
from workers import care


def _live(app, kind):
    with app.app_context():
        return {
            a.key: a.severity
            for a in db.session.scalars(select(Alert).where(Alert.kind == kind, Alert.status == "open"))
        }


def test_funding_over_last_month_or_budget_and_unclosed_months_raise_alerts(app, client, telecom, staff, work):
    monitor = lambda: care.monitor(app.extensions["loyalty.runtime"], utcnow())  # noqa: E731
    with time_machine.travel(datetime(2026, 9, 10, 3, tzinfo=UTC), tick=True):
        publish(client, staff, BASE)
        post(client, telecom, "sep", "0912000001", "topup", 15_000_000)  # 1,500 points funded by telecom
        work()
    with time_machine.travel(datetime(2026, 10, 3, 3, tzinfo=UTC), tick=True):
        post(client, telecom, "oct1", "0912000001", "topup", 20_000_000)  # 2,000: under 1.5 x 1,500
        work()
        monitor()
        assert _live(app, "funding") == {}
        assert _live(app, "settlement") == {}  # September ended 2 days ago: within the 5 allowed
        post(client, telecom, "oct2", "0912000001", "topup", 5_000_000)  # 2,500 > 2,250
        work()
        monitor()
        assert _live(app, "funding") == {"funding:telecom": "warning"}
        set_setting(client, staff, "clearing_warnings", {"budgets": {"telecom": 2_600}})
        post(client, telecom, "oct3", "0912000001", "topup", 1_000_000)  # 2,600: the budget is spent
        work()
        monitor()
        assert _live(app, "funding") == {"funding:telecom": "critical"}
        bad = client.put("/api/v1/settings/clearing_warnings", json={"value": {"budgets": {"x": -1}}}, headers=staff)
        assert bad.status_code == 422 and bad.get_json()["error"]["fields"][0]["path"] == "value.budgets"
    with time_machine.travel(datetime(2026, 10, 10, 3, tzinfo=UTC), tick=True):
        monitor()
        assert _live(app, "settlement") == {"unclosed:2026-09": "warning"}
        assert app.test_cli_runner().invoke(args=["settlement", "close", "2026-09"]).exit_code == 0
        monitor()
        assert _live(app, "settlement") == {}
