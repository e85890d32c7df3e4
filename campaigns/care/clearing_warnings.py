"""Early warnings of the clearing, raised through the care monitor's alerts (``campaigns.care.alerts``).

Funding (``funding:<provider code>``)
    Points a provider funded in the running month (programme time zone) so
    far, against ``last_month_factor`` times what it funded in the whole of
    last month (from ``min_points`` funded, so a quiet provider's first busy
    days stay quiet), and against ``budget_share`` of its monthly points budget
    (``budgets``: provider code -> points); critical once the budget is spent.

Unclosed period (``unclosed:<YYYY-MM>``)
    A month with points activity that ended more than ``unclosed_days`` days
    ago and is still not closed: its statements cannot be invoiced.

Thresholds are the programme setting ``clearing_warnings``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns.care import alerts
from campaigns.care.alerts import Condition
from campaigns.catalog import programme
from campaigns.clearing.statements import month_bounds, month_of, zone
from campaigns.models import PointLot, Provider, SettlementPeriod


def _funded(session: Session, start: datetime, end: datetime) -> dict[int, int]:
    return {
        int(f or 0): int(p)  # funder_id > 0 below: never None
        for f, p in session.execute(
            select(PointLot.funder_id, func.sum(PointLot.points))
            .where(
                PointLot.created_at >= start,
                PointLot.created_at < end,
                PointLot.funder_id > 0,
                PointLot.moved_from_lot_id.is_(None),  # a transfer's moved lots were funded once, when issued
            )
            .group_by(PointLot.funder_id)
        )
    }


def funding_check(session: Session, now: datetime) -> int:
    conf: dict[str, Any] = programme.load(session).clearing_warnings or {}
    tz = zone(session)
    start, _ = month_bounds(month_of(now, tz), tz)
    previous, _ = month_bounds(month_of(start - timedelta(days=1), tz), tz)
    this_month, last_month = _funded(session, start, now), _funded(session, previous, start)
    codes = dict(session.execute(select(Provider.id, Provider.code)).all())
    factor, floor = float(conf.get("last_month_factor", 1.5)), int(conf.get("min_points", 1000))
    budgets, share = conf.get("budgets") or {}, float(conf.get("budget_share", 0.9))
    conditions = []
    for pid, points in sorted(this_month.items()):
        code = codes.get(pid, str(pid))
        reasons, severity = [], None
        before = last_month.get(pid, 0)
        if points >= floor and before and points > factor * before:
            reasons.append(f"{points:,} points funded this month, over {factor:g} x last month's {before:,}")
            severity = "warning"
        budget = budgets.get(code)
        if budget and points >= share * budget:
            spent = points >= budget
            reasons.append(f"{points:,} of its monthly budget of {budget:,} points" + (" (spent)" if spent else ""))
            severity = "critical" if spent else (severity or "warning")
        if severity is None:
            continue
        conditions.append(
            Condition(
                key=f"funding:{code}",
                severity=severity,
                subject=f"{code}: funded points this month",
                message="; ".join(reasons) + ".",
                suggested_action="Check the campaigns it funds (budgets, end dates) and agree the spend with it.",
                provider_id=pid,
                count=points,
                details={"this_month": points, "last_month": before, "budget": budget},
            )
        )
    alerts.reconcile(session, "funding", conditions, now)
    return len(conditions)


def unclosed_check(session: Session, now: datetime) -> int:
    conf: dict[str, Any] = programme.load(session).clearing_warnings or {}
    days = int(conf.get("unclosed_days", 5))
    tz = zone(session)
    first = session.scalar(select(func.min(PointLot.created_at)))
    closed = set(session.scalars(select(SettlementPeriod.period)))
    conditions = []
    month = month_of(first, tz) if first is not None else month_of(now, tz)
    for _ in range(36):
        _start, end = month_bounds(month, tz)
        if end + timedelta(days=days) > now:
            break
        if month not in closed:
            late = (now - end).days
            conditions.append(
                Condition(
                    key=f"unclosed:{month}",
                    severity="critical" if late > 3 * days else "warning",
                    subject=f"settlement {month} not closed",
                    message=f"{month} ended {late} days ago and is not closed: its statements cannot be invoiced.",
                    suggested_action=f"Review and close it: flask --app wsgi settlement close {month}",
                    oldest_at=end,
                )
            )
        month = month_of(end, tz)
    alerts.reconcile(session, "settlement", conditions, now)
    return len(conditions)
