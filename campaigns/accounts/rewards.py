"""Rewards catalog and redemption: debit points, decrement stock, issue a voucher, atomically.

A redemption locks the reward row (stock) and the customer's balance row, so
concurrent redemptions of the last item end with exactly one winner, and a
customer can never spend the same points twice. Points are taken from the
lots that expire soonest; a cancellation gives them back.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns.accounts import groups
from campaigns.accounts.ledger import add_to_balances
from campaigns.accounts.lots import apply_take, plan_take, restore
from campaigns.catalog.programme import below_minimum
from campaigns.catalog.programme import load as load_programme
from campaigns.clearing import PROGRAMME
from campaigns.clock import utcnow
from campaigns.customers.aggregates import load_states, window_start
from campaigns.errors import DomainError, FieldProblem, conflict, invalid, not_found
from campaigns.i18n import DEFAULT_LANGUAGE, localized
from campaigns.models import AuditEvent, CustomerBalance, LedgerEntry, Outbox, PointLot, Provider, Redemption, Reward
from campaigns.notify import webhooks
from campaigns.schemas import RewardIn, validation_error
from rules import DocumentInvalid, compile_eligibility

VOUCHER_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud over USSD and SMS


def voucher_code() -> str:
    body = "".join(secrets.choice(VOUCHER_ALPHABET) for _ in range(12))
    return f"LV-{body[:4]}-{body[4:8]}-{body[8:]}"


def reward_view(r: Reward) -> dict[str, Any]:
    return {
        "id": r.id,
        "code": r.code,
        "name": r.names or r.name,
        "description": r.description,
        "cost": r.cost,
        "stock": r.stock,
        "issued": r.issued,
        "available": None if r.stock is None else max(0, r.stock - r.issued),
        "per_customer_limit": r.per_customer_limit,
        "valid_from": r.valid_from,
        "valid_to": r.valid_to,
        "voucher_days": r.voucher_days,
        "eligibility": r.eligibility,
        "active": r.active,
    }


def redemption_view(r: Redemption, reward: Reward | None = None) -> dict[str, Any]:
    return {
        "id": r.id,
        "customer_id": r.customer_id,
        "reward": reward.code if reward else None,
        "reward_name": reward.name if reward else None,
        "points": r.points,
        "voucher_code": r.voucher_code,
        "status": r.status,
        "source": r.source,
        "expires_at": r.expires_at,
        "created_at": r.created_at,
        "cancelled_at": r.cancelled_at,
    }


def save_reward(session: Session, data: dict[str, Any], *, actor: str) -> Reward:
    """Create or update a reward by code; eligibility uses the same conditions as campaigns."""
    body = validation_error(RewardIn, data)
    if body.eligibility is not None:
        try:
            compile_eligibility(body.eligibility)
        except DocumentInvalid as exc:
            problems = [FieldProblem(f"eligibility.{e.path}".rstrip("."), e.reason) for e in exc.errors]
            raise DomainError("validation_error", f"{problems[0].path}: {problems[0].reason}", problems) from None
    minimum = below_minimum(session, body.cost)
    if minimum is not None:
        raise invalid("cost", f"{body.cost} points is below the programme's minimum redemption of {minimum} points")
    provider_id = None
    if body.provider:
        provider_id = session.scalar(select(Provider.id).where(Provider.code == body.provider))
        if provider_id is None:
            raise invalid("provider", f"unknown provider '{body.provider}'")
    reward = session.scalar(select(Reward).where(Reward.code == body.code).with_for_update())
    values = body.model_dump(exclude={"provider"})
    values["provider_id"] = provider_id
    values["names"] = body.name if isinstance(body.name, dict) else None
    values["name"] = localized(body.name, DEFAULT_LANGUAGE)
    if reward is None:
        reward = Reward(**values, issued=0)
        session.add(reward)
    else:
        for k, v in values.items():
            setattr(reward, k, v)
    session.flush()
    session.add(
        AuditEvent(
            actor=actor,
            action="reward.saved",
            object_type="reward",
            object_id=str(reward.id),
            details=body.model_dump(mode="json"),
        )
    )
    return reward


def list_rewards(session: Session, *, active_only: bool = False) -> list[Reward]:
    q = select(Reward).order_by(Reward.cost, Reward.id)
    if active_only:
        q = q.where(Reward.active.is_(True))
    return list(session.scalars(q))


def _eligible(session: Session, reward: Reward, customer_id: int, now: datetime) -> bool:
    if not reward.eligibility:
        return True
    check = compile_eligibility(reward.eligibility)
    st = load_states(session, [customer_id], window_start(now.date()))[customer_id]
    ctx = st.standing(now, "redemption", st.windows(now.astimezone(ZoneInfo(st.timezone)).date()))
    return bool(check(ctx))


def _check_offer(session: Session, reward: Reward, customer_id: int, now: datetime) -> None:
    if not reward.active:
        raise conflict("reward_unavailable", f"reward '{reward.code}' is not offered")
    if reward.valid_from and now < reward.valid_from:
        raise conflict("reward_unavailable", f"reward '{reward.code}' is offered from {reward.valid_from.isoformat()}")
    if reward.valid_to and now >= reward.valid_to:
        raise conflict("reward_unavailable", f"reward '{reward.code}' is no longer offered")
    if reward.stock is not None and reward.issued >= reward.stock:
        raise conflict("out_of_stock", f"reward '{reward.code}' is out of stock")
    if reward.per_customer_limit is not None:
        mine = session.scalars(
            select(func.count()).where(
                Redemption.customer_id == customer_id, Redemption.reward_id == reward.id, Redemption.status == "issued"
            )
        ).one()
        if mine >= reward.per_customer_limit:
            raise conflict("limit_reached", f"at most {reward.per_customer_limit} of '{reward.code}' per customer")
    if not _eligible(session, reward, customer_id, now):
        raise conflict("not_eligible", f"the customer does not meet the conditions of '{reward.code}'")


def redeem(
    session: Session,
    customer_id: int,
    reward_code: str,
    *,
    requested_by: str,
    idempotency_key: str | None,
    pool: bool = False,
    now: datetime | None = None,
    through_phones: Sequence[str | None] = (),
    source: str | None = None,
    template: str = "redemption_issued",
) -> tuple[dict[str, Any], bool]:
    """Debit, decrement stock and issue a voucher in one database transaction; returns (view, created).

    ``through_phones``: the numbers the request came through (the SMS sender, the portal's sign-in number,
    the phone a provider named); a recently swapped SIM among them holds the redemption. ``source`` and
    ``template`` name a redemption the programme makes itself (the expiring points' conversion) and its message.
    """
    now = now or utcnow()
    from campaigns.customers import numbers

    numbers.check_hold(session, [p for p in through_phones if p], action="redemption", customer_id=customer_id, now=now)
    # The reward row lock comes first: a replay racing its original waits here, then finds it
    # committed (READ COMMITTED) instead of failing on the unique idempotency key.
    reward = session.scalar(select(Reward).where(Reward.code == reward_code).with_for_update())
    if idempotency_key:
        old = session.scalar(
            select(Redemption).where(
                Redemption.requested_by == requested_by, Redemption.idempotency_key == idempotency_key
            )
        )
        if old is not None:
            first = session.get(Reward, old.reward_id)
            if old.customer_id != customer_id or first is None or first.code != reward_code:
                raise conflict(
                    "duplicate_conflict",
                    "idempotency_key was already used for another redemption",
                    [FieldProblem("idempotency_key", "already used for a different redemption")],
                )
            return redemption_view(old, first), False
    if reward is None:
        raise not_found(f"reward '{reward_code}'")
    minimum = below_minimum(session, reward.cost)
    if minimum is not None:
        raise conflict(
            "below_minimum_redemption",
            f"the reward costs {reward.cost} points; the programme's minimum redemption is {minimum} points",
            [FieldProblem("reward", f"costs {reward.cost} points, below the minimum of {minimum}")],
        )
    payers = [customer_id]
    if pool:
        group_id = groups.group_of(session, customer_id)
        if group_id is None:
            raise conflict("not_in_group", "the customer is not in a group; redeem without pool")
        payers = sorted(set(groups.members(session, group_id)) | {customer_id})
    balances = session.execute(
        select(CustomerBalance.customer_id, CustomerBalance.balance)
        .where(CustomerBalance.customer_id.in_(payers))
        .order_by(CustomerBalance.customer_id)
        .with_for_update()
    ).all()
    if customer_id not in {c for c, _ in balances}:
        raise not_found(f"customer {customer_id}")
    _check_offer(session, reward, customer_id, now)
    available = sum(b for _, b in balances)
    if available < reward.cost:
        who = "the group has" if pool else "the balance is"
        raise conflict(
            "insufficient_points",
            f"the reward costs {reward.cost} points and {who} {available}",
            [FieldProblem("reward", f"needs {reward.cost} points, {available} available")],
        )
    plan = plan_take(session, payers, reward.cost)
    if plan.shortfall:
        raise conflict("insufficient_points", "points are held in lots that cannot be spent yet")
    redemption = Redemption(
        customer_id=customer_id,
        reward_id=reward.id,
        points=reward.cost,
        voucher_code=voucher_code(),
        status="issued",
        requested_by=requested_by,
        idempotency_key=idempotency_key,
        source=source or ("pooled" if pool else "redeem"),
        expires_at=now + timedelta(days=reward.voucher_days),
        created_at=now,
    )
    session.add(redemption)
    session.flush()
    for payer, part in sorted(plan.by_customer().items()):
        mine = payer == customer_id
        entry = LedgerEntry(
            entry_key=f"rd:{redemption.id}" + ("" if mine else f":{payer}"),
            customer_id=payer,
            kind="redemption",
            points=-part.taken,
            redemption_id=redemption.id,
            provider_id=reward.provider_id,
            note=f"redeemed {reward.code}" + ("" if mine else f" for group member {customer_id}"),
            created_at=now,
        )
        session.add(entry)
        session.flush()
        apply_take(session, part, entry.id)
        add_to_balances(session, {payer: {"balance": -part.taken}}, now)
    reward.issued += 1
    session.add(
        Outbox(
            dedupe_key=f"rd:{redemption.id}",
            customer_id=customer_id,
            channel="sms",
            template=template,
            payload={"reward": reward.code, "voucher": redemption.voucher_code, "points": reward.cost},
            status="pending",
            created_at=now,
        )
    )
    if reward.provider_id is not None:  # the fulfilling provider hears of it in the same transaction
        data = {
            "customer_id": customer_id,
            "redemption_id": redemption.id,
            "reward": reward.code,
            "voucher_code": redemption.voucher_code,
            "points": reward.cost,
        }
        webhooks.add_event(session, "redemption_issued", data, f"rd:{redemption.id}", now, {reward.provider_id})
    session.flush()
    return redemption_view(redemption, reward), True


def cancel(
    session: Session,
    redemption_id: int,
    *,
    requested_by: str,
    customer_id: int | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Refund a redemption: points go back to their lots (a fresh lot for any that expired meanwhile)."""
    now = now or utcnow()
    q = select(Redemption).where(Redemption.id == redemption_id).with_for_update()
    if customer_id is not None:
        q = q.where(Redemption.customer_id == customer_id)
    redemption = session.scalar(q)
    if redemption is None:
        raise not_found(f"redemption {redemption_id}")
    reward = session.get(Reward, redemption.reward_id, with_for_update=True)
    if redemption.status == "cancelled":
        return redemption_view(redemption, reward)
    redemption.status = "cancelled"
    redemption.cancelled_at = now
    if reward is not None:
        reward.issued -= 1
    debits = session.execute(
        select(LedgerEntry.id, LedgerEntry.customer_id, LedgerEntry.points, LedgerEntry.provider_id).where(
            LedgerEntry.redemption_id == redemption.id, LedgerEntry.kind == "redemption"
        )
    ).all()
    settings = load_programme(session)
    for debit_id, payer, points, fulfiller in debits:
        entry = LedgerEntry(
            entry_key=f"rc:{debit_id}",
            customer_id=payer,
            kind="redemption_cancel",
            points=-points,
            redemption_id=redemption.id,
            reverses_entry_id=debit_id,  # clearing reverses the reimbursement of exactly that debit
            provider_id=fulfiller,
            note=f"cancelled by {requested_by}",
            created_at=now,
        )
        session.add(entry)
        session.flush()
        restored = restore(session, debit_id, entry.id, now)
        if restored < -points:
            session.add(
                PointLot(
                    customer_id=payer,
                    entry_id=entry.id,
                    points=-points - restored,
                    remaining=-points - restored,
                    status="available",
                    expires_at=settings.expiry_for(now),
                    created_at=now,
                    funder_id=PROGRAMME,  # the programme kept these points as breakage; it gives them back
                )
            )
        add_to_balances(session, {payer: {"balance": -points}}, now)
    session.add(
        Outbox(
            dedupe_key=f"rcx:{redemption.id}",
            customer_id=redemption.customer_id,
            channel="sms",
            template="redemption_cancelled",
            payload={"voucher": redemption.voucher_code},
            status="pending",
            created_at=now,
        )
    )
    if reward is not None and reward.provider_id is not None:
        data = {
            "customer_id": redemption.customer_id,
            "redemption_id": redemption.id,
            "reward": reward.code,
            "voucher_code": redemption.voucher_code,
        }
        webhooks.add_event(session, "redemption_cancelled", data, f"rcx:{redemption.id}", now, {reward.provider_id})
    session.flush()
    return redemption_view(redemption, reward)


def grant(
    session: Session,
    code: str,
    customer_id: int,
    *,
    txn_id: int,
    campaign_id: int,
    counters: dict[int, list[int]],
    meta: Any,
    now: datetime,
) -> str | None:
    """A campaign's grant_reward: a free voucher, within the reward's stock and the campaign's max_rewards."""
    reward = session.scalar(select(Reward).where(Reward.code == code).with_for_update())
    if reward is None or not reward.active or (reward.stock is not None and reward.issued >= reward.stock):
        return None
    cap = meta.budget.get("max_rewards") if meta is not None else None
    if cap is not None and campaign_id in counters and counters[campaign_id][1] >= cap:
        return None
    key = f"campaign:{campaign_id}"
    idem = f"{txn_id}:{code}"
    if session.scalar(select(Redemption.id).where(Redemption.requested_by == key, Redemption.idempotency_key == idem)):
        return None
    redemption = Redemption(
        customer_id=customer_id,
        reward_id=reward.id,
        points=0,
        voucher_code=voucher_code(),
        status="issued",
        requested_by=key,
        idempotency_key=idem,
        source="campaign",
        expires_at=now + timedelta(days=reward.voucher_days),
        created_at=now,
    )
    session.add(redemption)
    reward.issued += 1
    if campaign_id in counters:
        counters[campaign_id][1] += 1
    session.flush()
    return redemption.voucher_code


def customer_redemptions(session: Session, customer_id: int, limit: int = 50) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Redemption, Reward)
        .join(Reward, Reward.id == Redemption.reward_id)
        .where(Redemption.customer_id == customer_id)
        .order_by(Redemption.id.desc())
        .limit(limit)
    ).all()
    return [redemption_view(r, rw) for r, rw in rows]
