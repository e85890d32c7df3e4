"""Challenge progress: counted by the accrual worker as it credits, shown on ``/api/v1/me`` and the portal.

A campaign with a ``challenge`` (rules/challenges.py) keeps one ``ChallengeProgress`` row per customer and
period. The worker, crediting a transaction, counts it toward the first step it matches that still needs it
(``ChallengeCount`` marks it, so a retried batch or a replayed body never counts twice), and when the last
step is reached returns the completion reward as one more Effect of that transaction: the ledger, lots,
funding, budgets and ``grant_reward`` then apply it like any other, exactly once (the row is ``completed``).

Reversals (decided): a *full* refund of a transaction takes its count back from a challenge not yet
completed; a partial refund keeps it (the purchase still happened). A completed challenge stays completed:
its reward is an earning of the completing transaction, so a refund of that transaction claws the reward
back in proportion like its other points, and refunds of earlier transactions leave it alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaigns.models import Campaign, CampaignVersion, ChallengeCount, ChallengeProgress, Reward, Transaction
from rules import (
    CompiledChallenge,
    Effect,
    EvaluationContext,
    completes,
    count_toward,
    period_key,
    period_key_at,
    reward_effect,
)
from rules.document import label_in


@dataclass(frozen=True)
class Completion:
    """A challenge this transaction completed: its reward, and what the customer is told."""

    progress_id: int
    name: str | Mapping[str, str]  # the campaign's name as written: the SMS names it in the customer's language
    effect: Effect


def _fit(counts: list[int] | None, steps: int) -> list[int]:
    """A republished version may add or drop steps: counts follow the current steps."""
    counts = list(counts or [])
    return (counts + [0] * steps)[:steps]


def _progress(session: Session, customer_id: int, campaign_id: int, period: str, steps: int, now: datetime) -> Any:
    """The customer's row for this challenge and period, locked; created on the first matching event."""
    query = (
        select(ChallengeProgress)
        .where(
            ChallengeProgress.customer_id == customer_id,
            ChallengeProgress.campaign_id == campaign_id,
            ChallengeProgress.period == period,
        )
        .with_for_update()
    )
    row = session.scalar(query)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = ChallengeProgress(
                customer_id=customer_id,
                campaign_id=campaign_id,
                period=period,
                counts=[0] * steps,
                status="in_progress",
                updated_at=now,
            )
            session.add(row)
    except IntegrityError:  # another writer created it first
        row = session.scalar(query)
    return row


def advance(
    session: Session,
    challenges: tuple[CompiledChallenge, ...],
    txn_id: int,
    customer_id: int,
    ctx: EvaluationContext,
    received_at: datetime | None,
    now: datetime,
) -> list[Completion]:
    """Count one credited transaction toward the published challenges it matches; the ones it completes."""
    done: list[Completion] = []
    changed = False
    for challenge in challenges:
        if not challenge.applies(ctx, received_at):
            continue
        matched = challenge.matching(ctx)
        if not matched:
            continue
        steps = challenge.challenge.steps
        row = _progress(
            session, customer_id, challenge.spec.id, period_key(challenge.challenge.period, ctx), len(steps), now
        )
        if row.status == "completed":
            continue
        counts = _fit(row.counts, len(steps))
        step = count_toward(challenge.challenge, counts, matched)
        if step is None:
            continue
        if session.scalar(
            select(ChallengeCount.id).where(
                ChallengeCount.progress_id == row.id, ChallengeCount.transaction_id == txn_id
            )
        ):
            continue  # already counted (a retried credit)
        counts[step] += 1
        session.add(ChallengeCount(progress_id=row.id, transaction_id=txn_id, step=step, created_at=now))
        row.counts = counts
        row.updated_at = now
        changed = True
        if completes(challenge.challenge, counts):
            row.status = "completed"
            row.completed_at = now
            row.completed_by = txn_id
            doc = challenge.spec.document
            done.append(Completion(row.id, doc.label or doc.name, reward_effect(challenge.spec)))
    if changed:
        session.flush()
    return done


def uncount(session: Session, txn: Transaction, now: datetime) -> int:
    """After a refund: a fully refunded transaction stops counting toward challenges not completed yet."""
    if txn.reversed_amount < txn.amount:
        return 0
    rows = session.execute(
        select(ChallengeCount, ChallengeProgress)
        .join(ChallengeProgress, ChallengeProgress.id == ChallengeCount.progress_id)
        .where(ChallengeCount.transaction_id == txn.id, ChallengeProgress.status == "in_progress")
        .with_for_update()
    ).all()
    for count, progress in rows:
        counts = list(progress.counts or [])
        if count.step < len(counts) and counts[count.step] > 0:
            counts[count.step] -= 1
        progress.counts = counts
        progress.updated_at = now
        session.delete(count)
    if rows:
        session.flush()
    return len(rows)


def _published_challenges(session: Session) -> list[tuple[int, dict[str, Any]]]:
    """The published campaigns' documents that hold a challenge (stored normalised: read without parsing)."""
    rows = session.execute(
        select(CampaignVersion.campaign_id, CampaignVersion.document)
        .join(Campaign, Campaign.id == CampaignVersion.campaign_id)
        .where(CampaignVersion.status == "published", Campaign.status == "published")
        .order_by(CampaignVersion.campaign_id)
    ).all()
    return [(cid, doc) for cid, doc in rows if isinstance(doc, dict) and doc.get("challenge")]


def customer_challenges(
    session: Session, customer_id: int, timezone: str, now: datetime, language: str = "vi"
) -> list[dict[str, Any]]:
    """The running challenges with this customer's progress in the current period (zero before the first step),
    named in ``language``."""
    local = now.astimezone(ZoneInfo(timezone))
    shown: list[tuple[int, dict[str, Any], str]] = []
    for cid, doc in _published_challenges(session):
        starts, ends = doc.get("starts_at"), doc.get("ends_at")
        if (starts and datetime.fromisoformat(starts) > now) or (ends and datetime.fromisoformat(ends) <= now):
            continue
        shown.append((cid, doc, period_key_at(doc["challenge"]["period"], local)))
    if not shown:
        return []
    rows = {
        (r.campaign_id, r.period): r
        for r in session.scalars(
            select(ChallengeProgress).where(
                ChallengeProgress.customer_id == customer_id,
                ChallengeProgress.campaign_id.in_([cid for cid, _, _ in shown]),
            )
        )
    }
    codes = {doc["challenge"]["reward"].get("grant_reward") for _, doc, _ in shown} - {None}
    names = dict(session.execute(select(Reward.code, Reward.name).where(Reward.code.in_(codes))).all()) if codes else {}
    result = []
    for cid, doc, period in shown:
        challenge = doc["challenge"]
        row = rows.get((cid, period))
        counts = _fit(row.counts if row else None, len(challenge["steps"]))
        steps = [
            {"name": step["name"], "count": step["count"], "done": min(done, step["count"])}
            for step, done in zip(challenge["steps"], counts, strict=True)
        ]
        result.append(
            {
                "campaign_id": cid,
                "name": label_in(doc["name"], language),
                "period": challenge["period"],
                "period_key": period,
                "status": row.status if row else "in_progress",
                "completed": bool(row and row.status == "completed"),
                "completed_at": row.completed_at if row else None,
                "steps": steps,
                "reward": dict(challenge["reward"]),
                "reward_name": names.get(challenge["reward"].get("grant_reward")),
                "ends_at": doc.get("ends_at"),
            }
        )
    return result
