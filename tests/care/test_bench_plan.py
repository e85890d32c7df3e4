"""The care bench's generated rhythm (bench/care.py ``hour_plan``): the figures it reports are only as good as it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bench.care import DROPPED, LOCAL, PROVIDERS, hour_plan

NOW = datetime(2027, 3, 10, 9, 30, tzinfo=UTC)  # a Wednesday, 16:30 in Ha Noi


def test_plan_spreads_the_requested_volume_over_the_weeks_with_a_daily_rhythm():
    plan = hour_plan(1_000_000, 2, NOW, seed=1)
    assert abs(sum(n for *_, n, _ in plan) - 1_000_000) < 1_000
    assert min(start for start, *_ in plan) == NOW.replace(minute=0) - timedelta(weeks=2)
    assert {pid for _, pid, _, _ in plan} == set(range(1, len(PROVIDERS) + 1))
    by_local_hour: dict[int, int] = {}
    for start, _pid, n, _span in plan:
        by_local_hour[(start + LOCAL).hour] = by_local_hour.get((start + LOCAL).hour, 0) + n
    assert by_local_hour[20] > 10 * by_local_hour[3]  # evening peak against the night trough


def test_the_current_hour_is_partial_and_the_dropped_provider_collapses():
    plan = {(start, pid): (n, span) for start, pid, n, span in hour_plan(1_000_000, 2, NOW, seed=1)}
    current = NOW.replace(minute=0)
    assert plan[(current, 1)][1] == 30 * 60
    week_before = current - timedelta(hours=1, weeks=1)
    dropped, usual = plan[(current - timedelta(hours=1), DROPPED)][0], plan[(week_before, DROPPED)][0]
    assert usual > 100 and dropped < usual * 0.1
    others, usual_others = plan[(current - timedelta(hours=1), 1)][0], plan[(week_before, 1)][0]
    assert others > usual_others * 0.7
