"""The early warnings' statistics on their own: robust z-score, windows, velocity, budget, Poisson."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from campaigns.care import stats
from campaigns.care import warnings as w

NOW = datetime(2027, 3, 3, 10, 20, tzinfo=UTC)


def test_median_and_nearest_rank_percentile():
    assert stats.median([3, 1, 2]) == 2
    assert stats.median([4, 1, 3, 2]) == 2.5
    assert stats.percentile(list(range(1, 101)), 99) == 99
    assert stats.percentile([5], 99) == 5
    assert stats.percentile([], 99) == 0
    with pytest.raises(ValueError):
        stats.median([])


def test_robust_z_uses_mad_with_floors():
    score = stats.robust_z(100, [100, 102, 98, 101, 99, 100, 500])  # one outlier week does not move the median
    assert score.median == 100 and abs(score.z) < 0.01
    flat = stats.robust_z(60, [100] * 8)  # MAD 0: the Poisson floor sqrt(100) = 10 and 10 % of 100 = 10
    assert flat.scale == 10 and flat.z == -4
    spread = stats.robust_z(0, [100, 140, 60, 100, 130, 70, 100, 100])
    assert spread.scale == pytest.approx(stats.MAD_SCALE * 15)


def test_window_baseline_interpolates_the_two_clock_hours():
    hour = 1000 * w.WEEK_HOURS + 10
    counts = {hour - w.WEEK_HOURS: 120.0, hour - 1 - w.WEEK_HOURS: 60.0, hour - 2 * w.WEEK_HOURS: 30.0}
    assert w.window_baseline(counts, hour, 0, [1]) == [60.0]  # exactly the previous clock hour
    assert w.window_baseline(counts, hour, 20, [1, 2]) == [pytest.approx(80.0), pytest.approx(10.0)]
    assert w.window_baseline(counts, hour, 60, [3]) == [0.0]  # a week with nothing rolled counts as zero


def test_volume_verdict_drop_spike_quiet_and_short_history():
    baseline = [200, 210, 190, 205, 195, 200, 215, 185]
    drop = w.volume_verdict(30, baseline)
    assert drop is not None and (drop.direction, drop.severity) == ("drop", "critical")
    assert w.volume_verdict(120, baseline).severity == "warning"
    spike = w.volume_verdict(800, baseline)
    assert spike is not None and spike.direction == "spike"
    assert w.volume_verdict(230, baseline) is None  # ordinary variation
    assert w.volume_verdict(0, [8, 10, 12, 9, 11, 10, 10, 9]) is None  # a quiet hour never fires a drop
    assert w.volume_verdict(15, [1, 0, 2, 1, 1, 0, 1, 1]) is None  # ... nor a spike of small numbers
    assert w.volume_verdict(60, [1, 0, 2, 1, 1, 0, 1, 1]).direction == "spike"
    assert w.volume_verdict(0, [200, 200]) is None  # two weeks of history are not a baseline


def test_velocity_limits_and_minimums():
    assert w.velocity_limit(3, 0) == 15 and w.velocity_limit(3, 30) == 150 and w.velocity_limit(0, 0) == 5
    assert w.velocity_severity(40, Decimal(0), 15, 1e12) == "warning"
    assert w.velocity_severity(50, Decimal(0), 15, 1e12) == "critical"
    assert w.velocity_severity(9, Decimal(0), 1, 1e12) is None  # under the absolute minimum
    assert w.velocity_severity(3, Decimal(90_000_000), 15, 10_000_000) == "critical"
    assert w.velocity_severity(3, Decimal(1_000_000), 15, 10) is None


def test_budget_exhaustion_and_severity():
    assert w.exhaustion_at(1000, 100, NOW) == NOW + timedelta(hours=10)
    assert w.exhaustion_at(0, 100, NOW) == NOW
    assert w.exhaustion_at(1000, 0, NOW) is None
    ends = NOW + timedelta(days=10)
    assert w.budget_severity(NOW + timedelta(hours=30), ends, NOW) == "warning"
    assert w.budget_severity(NOW + timedelta(hours=10), ends, NOW) == "critical"
    assert w.budget_severity(NOW + timedelta(days=11), ends, NOW) is None
    assert w.budget_severity(NOW + timedelta(days=8), None, NOW) is None  # open-ended: 7-day horizon
    assert w.budget_severity(None, ends, NOW) is None


def test_poisson_tail_and_claims_verdict():
    assert w.poisson_sf(0, 3) == 1.0
    assert w.poisson_sf(1, 2) == pytest.approx(1 - math.exp(-2))
    assert w.poisson_sf(3, 2) == pytest.approx(1 - math.exp(-2) * (1 + 2 + 2))
    assert w.poisson_sf(400, 100) < 1e-50
    assert w.claims_verdict(12, 8).severity == "warning"  # lambda 2: P(X >= 12) ~ 1.5e-6
    assert w.claims_verdict(20, 8).severity == "critical"
    assert w.claims_verdict(26, 80) is None  # 20 a week before: not a rise
    assert w.claims_verdict(4, 0) is None  # too few to say
    assert w.claims_verdict(6, 0).severity == "warning"  # lambda floored at 0.5
