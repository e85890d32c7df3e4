"""Holdout experiments: treated against control over the campaign's life, for the campaign page and the API.

The customers are the ones the campaign evaluated (``experiment_exposures``, written by crediting for both
groups alike); their outcomes are read from the books over the campaign's window: spend and transactions
(processed purchases, net of refunds), redemptions (not cancelled). Each difference of per-customer means
carries Welch's 95 % interval; the cost is the points the campaign credited at the programme's ``point_value``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from campaigns.catalog import programme
from campaigns.clock import utcnow
from campaigns.models import (
    Campaign,
    CampaignVersion,
    ExperimentExposure,
    LedgerEntry,
    Redemption,
    Transaction,
)
from rules.experiments import GROUPS, welch_interval

METRICS = ("spend_per_customer", "transactions_per_customer", "redemptions_per_customer")


def _window(session: Session, campaign: Campaign, document: dict[str, Any], now: datetime) -> tuple[datetime, datetime]:
    """From ``starts_at`` (else the first publication, or the first evaluated transaction when it occurred
    earlier and arrived after it) to ``ends_at`` (else now), in UTC."""
    start = datetime.fromisoformat(document["starts_at"]) if document.get("starts_at") else None
    if start is None:
        moments = [
            session.scalar(
                select(func.min(CampaignVersion.published_at)).where(CampaignVersion.campaign_id == campaign.id)
            ),
            session.scalar(
                select(func.min(ExperimentExposure.first_at)).where(ExperimentExposure.campaign_id == campaign.id)
            ),
        ]
        start = min((m for m in moments if m is not None), default=campaign.created_at)
    end = datetime.fromisoformat(document["ends_at"]) if document.get("ends_at") else now
    return start, min(end, now)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def report(session: Session, campaign: Campaign, now: datetime | None = None) -> dict[str, Any] | None:
    """The comparison, or None for a campaign that never held out a control group."""
    now = now or utcnow()
    version = campaign.published_version or campaign.latest_version
    document = session.scalar(
        select(CampaignVersion.document).where(
            CampaignVersion.campaign_id == campaign.id, CampaignVersion.version == version
        )
    )
    document = document or {}
    exposed = ExperimentExposure.campaign_id == campaign.id
    has_rows = session.scalar(select(ExperimentExposure.customer_id).where(exposed).limit(1)) is not None
    if not document.get("experiment") and not has_rows:
        return None
    start, end = _window(session, campaign, document, now)
    cohorts: dict[int, str] = {}
    points = {"awarded": 0, "withheld": 0}
    for cid, cohort, awarded, withheld in session.execute(
        select(
            ExperimentExposure.customer_id,
            ExperimentExposure.cohort,
            ExperimentExposure.awarded_points,
            ExperimentExposure.withheld_points,
        ).where(exposed)
    ):
        cohorts[cid] = cohort
        points["awarded"] += awarded
        points["withheld"] += withheld
    values: dict[str, dict[int, list[float]]] = {group: {} for group in GROUPS}
    for cid, side in cohorts.items():
        values[side][cid] = [0.0, 0.0, 0.0]
    join = and_(ExperimentExposure.customer_id == Transaction.customer_id, exposed)
    for cid, count, spend in session.execute(
        select(Transaction.customer_id, func.count(), func.sum(Transaction.amount - Transaction.reversed_amount))
        .join(ExperimentExposure, join)
        .where(
            Transaction.source == "txn",
            Transaction.status.in_(("processed", "reversed")),
            Transaction.occurred_at >= start,
            Transaction.occurred_at < end,
        )
        .group_by(Transaction.customer_id)
    ):
        row = values[cohorts[cid]][cid]
        row[0], row[1] = float(spend or 0), float(count)
    for cid, count in session.execute(
        select(Redemption.customer_id, func.count())
        .join(ExperimentExposure, and_(ExperimentExposure.customer_id == Redemption.customer_id, exposed))
        .where(Redemption.status != "cancelled", Redemption.created_at >= start, Redemption.created_at < end)
        .group_by(Redemption.customer_id)
    ):
        values[cohorts[cid]][cid][2] = float(count)
    groups: dict[str, dict[str, Any]] = {}
    for side in GROUPS:
        rows = list(values[side].values())
        n = len(rows)
        groups[side] = {"customers": n} | {
            metric: _round(sum(r[i] for r in rows) / n) if n else None for i, metric in enumerate(METRICS)
        }
    groups["treated"]["points_awarded"] = points["awarded"]
    groups["control"]["points_withheld"] = points["withheld"]
    difference: dict[str, dict[str, float | None]] = {}
    for i, metric in enumerate(METRICS):
        interval = welch_interval(
            [r[i] for r in values["treated"].values()], [r[i] for r in values["control"].values()]
        )
        difference[metric] = {
            "difference": _round(interval.difference),
            "ci95_low": _round(interval.low),
            "ci95_high": _round(interval.high),
        }
    credited = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.points + LedgerEntry.pending), 0)).where(
            LedgerEntry.campaign_id == campaign.id, LedgerEntry.kind == "earn"
        )
    )
    cost = round(int(credited or 0) * programme.load(session).point_value)
    incremental = (difference["spend_per_customer"]["difference"] or 0) * groups["treated"]["customers"]
    return {
        "control_share": (document.get("experiment") or {}).get("control_share"),
        "window": {"from": start.isoformat(), "to": end.isoformat()},
        "groups": groups,
        "difference": difference,
        "points_credited": int(credited or 0),
        "cost_vnd": cost,
        "incremental_spend_vnd": round(incremental),
        "cost_per_incremental_vnd": round(cost / incremental, 4) if incremental > 0 else None,
    }
