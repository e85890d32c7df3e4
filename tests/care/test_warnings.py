"""Early warnings driven through the care monitor over synthetic streams in MariaDB: when each must fire, and not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from campaigns.clock import utcnow
from campaigns.models import CampaignCounter, CustomerDaily, VelocityHourly
from tests.helpers.api import publish, txn
from tests.helpers.documents import BASE_EARNING
from webapp.extensions import db
from workers import care

from .streams import (
    all_alerts,
    backdate_provider,
    claims,
    customers,
    live_alerts,
    office_hours,
    provider_id,
    seasonal_rollup,
    spread,
    transactions,
)

WED = datetime(2027, 3, 3, 10, 20, tzinfo=UTC)  # a Wednesday morning: ~200 transactions an hour
SAT = datetime(2027, 3, 6, 10, 20, tzinfo=UTC)  # a Saturday morning: ~60
NIGHT = datetime(2027, 3, 3, 3, 20, tzinfo=UTC)  # a weekday night: ~8


def _monitor(app, now):
    results = care.monitor(app.extensions["loyalty.runtime"], now)
    assert not [v for v in results.values() if isinstance(v, str)], results
    return results


def _seasonal_provider(app, code, now, weeks=8):
    pid = provider_id(app, code)
    backdate_provider(app, code, now - timedelta(weeks=weeks, days=2))
    seasonal_rollup(app, pid, now, weeks, office_hours)
    return pid


def test_volume_drop_fires_as_integration_broken_then_clears(app, client, telecom):
    pid = _seasonal_provider(app, "telecom", WED)
    people = customers(app, 20)
    transactions(app, pid, people, spread(WED - timedelta(hours=1), WED, 30))
    _monitor(app, WED)
    alert = live_alerts(app, "volume")["volume:telecom"]
    assert (alert.severity, alert.provider_id, alert.count) == ("critical", pid, 30)
    assert alert.suggested_action.startswith("Integration broken?")
    assert alert.details["direction"] == "drop" and alert.details["weeks"] == 8
    assert 180 <= alert.details["median"] <= 220 and alert.details["z"] <= -7

    transactions(app, pid, people, spread(WED - timedelta(hours=1), WED, 170))  # the stream is normal again
    _monitor(app, WED)
    assert live_alerts(app, "volume") == {}
    [closed] = all_alerts(app, "volume")
    assert (closed.status, closed.resolved_by) == ("resolved", "monitor")


def test_volume_spike_fires_as_fraud_or_double_sending(app, client, telecom):
    pid = _seasonal_provider(app, "telecom", WED)
    transactions(app, pid, customers(app, 50), spread(WED - timedelta(hours=1), WED, 800))
    _monitor(app, WED)
    alert = live_alerts(app, "volume")["volume:telecom"]
    assert alert.details["direction"] == "spike" and alert.severity == "critical"
    assert alert.suggested_action.startswith("Fraud wave or double sending?")


def test_volume_respects_weekly_seasonality_quiet_hours_and_young_providers(app, client, telecom, shop):
    tid = _seasonal_provider(app, "telecom", SAT)
    people = customers(app, 20)
    # Saturday's 60 would be a drop against a weekday's 200, but the baseline is the same hour of the week
    transactions(app, tid, people, spread(SAT - timedelta(hours=1), SAT, 58))
    # shop is busy on its own baseline but only two weeks old: no baseline yet, whatever it does
    sid = provider_id(app, "shop")
    backdate_provider(app, "shop", SAT - timedelta(days=15))
    seasonal_rollup(app, sid, SAT, 2, office_hours)
    _monitor(app, SAT)
    assert live_alerts(app, "volume") == {}


def test_volume_quiet_night_does_not_fire_on_silence(app, client, telecom):
    _seasonal_provider(app, "telecom", NIGHT)
    _monitor(app, NIGHT)  # nothing at all in the last hour, against ~8 an hour at night
    assert live_alerts(app, "volume") == {}
    _monitor(app, NIGHT + timedelta(hours=7))  # ... but at 10:20 silence against ~200 is an outage
    assert live_alerts(app, "volume")["volume:telecom"].details["direction"] == "drop"


def _population(app, now, p99_txns=3, p99_amount=1_000_000):
    with app.app_context():
        db.session.execute(
            insert(VelocityHourly),
            [
                {"hour": now - timedelta(hours=h), "customers": 500, "p99_txns": p99_txns, "p99_amount": p99_amount}
                for h in range(3, 7 * 24)
            ],
        )
        db.session.commit()


def test_velocity_fires_per_customer_with_the_providers_involved_and_clears(app, client, telecom, shop, monkeypatch):
    from campaigns.care import warnings

    monkeypatch.setattr(warnings, "VELOCITY_ID_SLICE", 1)  # every candidate's history in a query of its own
    tid, sid = provider_id(app, "telecom"), provider_id(app, "shop")
    _population(app, WED)
    fraud, business, small = customers(app, 3)
    window = (WED - timedelta(minutes=50), WED)
    transactions(app, tid, [fraud], spread(*window, 30))
    transactions(app, sid, [fraud], spread(*window, 10))
    transactions(app, tid, [business], spread(*window, 40))  # 40 an hour, but 30 a day is its normal
    transactions(app, tid, [small], spread(*window, 8))  # under the absolute minimum
    with app.app_context():
        db.session.add(
            CustomerDaily(customer_id=business, day=WED.date() - timedelta(days=3), provider_id=tid, txn_count=30)
        )
        db.session.commit()
    _monitor(app, WED)
    live = live_alerts(app, "velocity")
    assert set(live) == {f"velocity:{fraud}"}
    alert = live[f"velocity:{fraud}"]
    assert (alert.severity, alert.count, alert.provider_id) == ("warning", 40, tid)
    assert alert.details["providers"] == ["telecom", "shop"] and alert.details["limit_transactions"] == 15
    assert "via telecom, shop" in alert.message

    _monitor(app, WED + timedelta(hours=2))  # the burst is over
    assert live_alerts(app, "velocity") == {}


def test_velocity_reads_history_only_for_customers_above_the_population_floor(app, client, telecom, monkeypatch):
    """No limit is below K x the population's p99, so busy-but-normal customers never leave the database."""
    from campaigns.care import warnings

    tid = provider_id(app, "telecom")
    _population(app, WED, p99_txns=20)  # every limit is at least 5 x 20 = 100 an hour
    normal, burst = customers(app, 2)
    transactions(app, tid, [normal], spread(WED - timedelta(minutes=50), WED, 40))  # over the minimum of 10
    transactions(app, tid, [burst], spread(WED - timedelta(minutes=50), WED, 120))
    looked_up: list[list[int]] = []
    busiest = warnings._busiest_days
    monkeypatch.setattr(
        warnings, "_busiest_days", lambda s, ids, today: looked_up.append(ids) or busiest(s, ids, today)
    )
    _monitor(app, WED)
    assert looked_up == [[burst]]
    assert set(live_alerts(app, "velocity")) == {f"velocity:{burst}"}


def test_velocity_without_population_history_uses_the_absolute_minimum(app, client, telecom):
    tid = provider_id(app, "telecom")
    one, two = customers(app, 2)
    transactions(app, tid, [one], spread(WED - timedelta(hours=1), WED, 9))
    transactions(app, tid, [two], spread(WED - timedelta(hours=1), WED, 60), amount=10_000)
    _monitor(app, WED)
    assert set(live_alerts(app, "velocity")) == {f"velocity:{two}"}
    assert live_alerts(app, "velocity")[f"velocity:{two}"].severity == "critical"  # 60 > 3 x 5


def _budget_campaign(name, max_points, ends_at):
    doc = {
        "name": name,
        "ends_at": ends_at.isoformat(),
        "budget": {"max_points": max_points},
        "rules": [
            {
                "name": "1 point per 10k",
                "conditions": {"all": [{"name": "amount", "operator": "greater_than_or_equal_to", "value": 10000}]},
                "actions": [{"name": "award_points_per_amount", "params": {"points": 1, "per": 10000}}],
            }
        ],
    }
    return doc


def test_budget_burn_fires_from_real_crediting_and_clears_when_spending_stops(app, client, telecom, staff, work):
    now = utcnow()
    ends = now + timedelta(days=10)
    fast = publish(client, staff, _budget_campaign("Tet bonus", 1000, ends))["id"]
    slow = publish(client, staff, _budget_campaign("Roomy", 10_000_000, ends))["id"]
    publish(client, staff, BASE_EARNING)
    for i in range(20):
        resp = client.post("/api/v1/transactions", json=txn(f"b-{i}", phone=f"091234{i:04d}"), headers=telecom.headers)
        assert resp.status_code == 202
    work()
    with app.app_context():
        used = dict(db.session.execute(select(CampaignCounter.campaign_id, CampaignCounter.points)).all())
    assert used[fast] == 300 and used[slow] == 300  # 15 points per 150k transaction each

    _monitor(app, utcnow())
    live = live_alerts(app, "budget")
    assert set(live) == {f"budget:{fast}"}  # 300 of 10 M in an hour lasts far beyond the end date
    alert = live[f"budget:{fast}"]
    assert alert.severity == "critical"  # 700 left at ~300 points an hour: gone within 24 h
    assert "runs out at" in alert.message and "before the campaign ends" in alert.message
    projected = datetime.fromisoformat(alert.details["projected_exhaustion"])
    assert utcnow() + timedelta(hours=1) < projected < utcnow() + timedelta(hours=4)

    _monitor(app, utcnow() + timedelta(days=2))  # no points in the last 24 h: no burn
    assert live_alerts(app, "budget") == {}


def test_budget_warning_from_the_hourly_rollup(app, client, staff):
    now = utcnow()
    cid = publish(client, staff, _budget_campaign("Summer", 100_000, now + timedelta(days=3)))["id"]
    with app.app_context():
        from campaigns.models import CampaignHourly, CampaignVersion

        db.session.execute(
            CampaignVersion.__table__.update().values(published_at=now - timedelta(days=5))
        )  # published five days ago
        db.session.add(CampaignCounter(campaign_id=cid, points=40_000))
        db.session.commit()
    _monitor(app, now)  # the first pass marks the rollup as current (nothing to roll back to)
    with app.app_context():
        from campaigns.care import hourly

        through = hourly.rolled_through(db.session)
        start = hourly.hour_at(hourly.hour_index(now - timedelta(hours=24)))
        hours = list(range(hourly.hour_index(start), hourly.hour_index(through) + 1))
        db.session.execute(
            insert(CampaignHourly), [{"hour": hourly.hour_at(h), "campaign_id": cid, "points": 1000} for h in hours]
        )
        db.session.commit()
    _monitor(app, now)
    alert = live_alerts(app, "budget")[f"budget:{cid}"]
    # 60,000 left at ~1,000 an hour: ~2.5 days, before the end in 3 days, but not within 24 h
    assert alert.severity == "warning" and 900 < alert.details["rate_per_hour"] <= 1000


def test_claims_rise_fires_for_one_provider_only_and_clears(app, client, telecom, shop):
    tid, sid = provider_id(app, "telecom"), provider_id(app, "shop")
    claims(app, tid, spread(WED - timedelta(days=35), WED - timedelta(days=7), 8))  # 2 a week before
    claims(app, tid, spread(WED - timedelta(days=7), WED, 12))  # 12 this week
    claims(app, sid, spread(WED - timedelta(days=35), WED - timedelta(days=7), 80))  # 20 a week, always
    claims(app, sid, spread(WED - timedelta(days=7), WED, 26))
    claims(app, None, spread(WED - timedelta(days=7), WED, 30))  # about no provider: not a provider's rise
    _monitor(app, WED)
    live = live_alerts(app, "claims_rise")
    assert set(live) == {"claims_rise:telecom"}
    alert = live["claims_rise:telecom"]
    assert (alert.count, alert.provider_id, alert.details["weekly_average"]) == (12, tid, 2.0)
    assert alert.details["p_value"] < 1e-3

    _monitor(app, WED + timedelta(days=8))
    assert live_alerts(app, "claims_rise") == {}


def test_small_numbers_of_claims_do_not_fire(app, client, telecom):
    tid = provider_id(app, "telecom")
    claims(app, tid, spread(WED - timedelta(days=7), WED, 4))  # from nothing to 4: still too few
    _monitor(app, WED)
    assert live_alerts(app, "claims_rise") == {}


def test_volume_stays_silent_while_the_first_backfill_has_not_reached_last_week(app, client, telecom):
    """Baseline weeks not rolled yet read as zero: until the rollup holds last week's same hour, no verdict."""
    from campaigns.care import hourly, warnings
    from campaigns.models import Counter

    pid = _seasonal_provider(app, "telecom", WED)
    transactions(app, pid, customers(app, 50), spread(WED - timedelta(hours=1), WED, 800))  # a spike
    with app.app_context():
        db.session.merge(Counter(name=hourly.ROLLUP_COUNTER, value=hourly.hour_index(WED) - 3 * 7 * 24))
        db.session.commit()
        assert warnings.volume_check(db.session, WED) == 0
        db.session.commit()
    assert live_alerts(app, "volume") == {}
    with app.app_context():
        db.session.merge(Counter(name=hourly.ROLLUP_COUNTER, value=hourly.hour_index(WED) - 3))
        db.session.commit()
        assert warnings.volume_check(db.session, WED) == 1
        db.session.commit()
    assert live_alerts(app, "volume")["volume:telecom"].details["direction"] == "spike"
