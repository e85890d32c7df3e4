"""Merge two customers into one, and reverse it.

Everything of the merged customer moves to the surviving one: identities, ledger entries, point
lots, transactions, per-day aggregates (``customer_daily``, ``customer_providers``,
``campaign_usage``: rows that collide are added together), tier history, redemptions, points payments, group
memberships (and groups owned) and tags. Balances are recomputed from the ledger for both, and
both ``agg_seq`` move on so the Redis copies of the aggregates are dropped.

A :class:`CustomerMerge` row records exactly what moved (row ids; the amounts of every aggregate
row) so :func:`unmerge` can put it all back. An unmerge is refused when what moved has been used
since (points of a moved lot spent, a moved transaction refunded, a moved redemption cancelled):
those changes belong to both people and need a manual adjustment instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from campaigns.catalog.ladder import tier_campaign
from campaigns.clock import utcnow
from campaigns.errors import DomainError, conflict, invalid, not_found
from campaigns.models import (
    AuditEvent,
    CampaignUsage,
    Customer,
    CustomerAttribute,
    CustomerBalance,
    CustomerDaily,
    CustomerGroup,
    CustomerIdentity,
    CustomerMerge,
    CustomerProvider,
    CustomerTag,
    GroupMember,
    LedgerEntry,
    PointLot,
    PointPayment,
    Redemption,
    RuleUsage,
    TierChange,
    Transaction,
)
from campaigns.sql import rowcount, table_of, upsert

MOVED_BY_ID = {
    "identities": CustomerIdentity,
    "ledger_entries": LedgerEntry,
    "point_lots": PointLot,
    "transactions": Transaction,
    "tier_changes": TierChange,
    "redemptions": Redemption,
    "group_members": GroupMember,
    "point_payments": PointPayment,
}
DAILY_KEYS = ("day", "provider_id")
DAILY_SUMS = ("txn_count", "spend", "points", "qualifying")
USAGE_KEYS = ("campaign_id", "day")
USAGE_SUMS = ("points", "awards")
RULE_USAGE_KEYS = ("campaign_id", "rule_index", "day")
RULE_USAGE_SUMS = ("awards",)


def _ids(session: Session, model: Any, customer_id: int) -> list[int]:
    return list(session.scalars(select(model.id).where(model.customer_id == customer_id).order_by(model.id)))


def _move(session: Session, model: Any, ids: list[int], src: int, dst: int) -> int:
    moved = 0
    for chunk in _chunks(ids):
        result = session.execute(
            update(model).where(model.id.in_(chunk), model.customer_id == src).values(customer_id=dst)
        )
        moved += rowcount(result)
    return moved


def _chunks(ids: list[int], size: int = 1000) -> Iterable[list[int]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def _lock(session: Session, *customer_ids: int) -> dict[int, CustomerBalance]:
    """Balance rows locked in id order: every writer of a customer queues on this row."""
    now = utcnow()
    rows = [{"customer_id": cid, "updated_at": now} for cid in sorted(customer_ids)]
    upsert(session, table_of(CustomerBalance), rows, ["customer_id"])
    locked = session.scalars(
        select(CustomerBalance)
        .where(CustomerBalance.customer_id.in_(customer_ids))
        .order_by(CustomerBalance.customer_id)
        .with_for_update()
    ).all()
    return {b.customer_id: b for b in locked}


def _recompute(session: Session, balances: dict[int, CustomerBalance], lifetime: dict[int, int]) -> None:
    """Balances from the ledger sums (what the invariant checker holds them to); agg_seq moves on."""
    sums = {
        cid: (int(p or 0), int(pe or 0), int(q or 0), int(d or 0))
        for cid, p, pe, q, d in session.execute(
            select(
                LedgerEntry.customer_id,
                func.sum(LedgerEntry.points),
                func.sum(LedgerEntry.pending),
                func.sum(LedgerEntry.qualifying),
                func.sum(LedgerEntry.debt),
            )
            .where(LedgerEntry.customer_id.in_(list(balances)))
            .group_by(LedgerEntry.customer_id)
        )
    }
    now = utcnow()
    for cid, bal in balances.items():
        bal.balance, bal.pending, bal.qualifying, bal.debt = sums.get(cid, (0, 0, 0, 0))
        bal.lifetime_points = max(0, int(bal.lifetime_points or 0) + lifetime.get(cid, 0))
        bal.agg_seq = int(bal.agg_seq or 0) + 1
        bal.updated_at = now


def _rows(session: Session, model: Any, customer_id: int, keys: tuple[str, ...], sums: tuple[str, ...]) -> list[dict]:
    cols = [getattr(model, k) for k in (*keys, *sums)]
    return [
        {k: _json(v) for k, v in zip((*keys, *sums), row, strict=True)}
        for row in session.execute(select(*cols).where(model.customer_id == customer_id))
    ]


def _json(v: Any) -> Any:
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, date | datetime):
        return v.isoformat()
    return v


def _typed(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    if isinstance(out.get("day"), str):
        out["day"] = date.fromisoformat(out["day"])
    if "spend" in out:
        out["spend"] = Decimal(out["spend"])
    return out


def _exists(session: Session, model: Any, customer_id: int, row: dict[str, Any], keys: tuple[str, ...]) -> bool:
    cond = [model.customer_id == customer_id] + [getattr(model, k) == _typed(row)[k] for k in keys]
    return session.scalars(select(func.count()).select_from(model).where(and_(*cond))).one() > 0


def _add_rows(
    session: Session, model: Any, customer_id: int, rows: list[dict], keys: tuple[str, ...], sums: tuple, sign: int
) -> None:
    if not rows:
        return
    values = []
    for r in rows:
        t = _typed(r)
        values.append(
            {
                "customer_id": customer_id,
                **{k: t[k] for k in keys},
                **{s: t[s] * sign if sign < 0 else t[s] for s in sums},
            }
        )
    upsert(session, table_of(model), values, ["customer_id", *keys], add=sums)


def _drop_zero(session: Session, model: Any, customer_id: int, rows: list[dict], keys: tuple, sums: tuple) -> None:
    for r in rows:
        t = _typed(r)
        session.execute(
            delete(model).where(
                model.customer_id == customer_id,
                *[getattr(model, k) == t[k] for k in keys],
                *[getattr(model, s) == 0 for s in sums],
            )
        )


def merge(session: Session, survivor_id: int, merged_id: int, reason: str, *, actor: str) -> CustomerMerge:
    """Move everything of ``merged_id`` to ``survivor_id``; returns the record that can reverse it."""
    reason = (reason or "").strip()
    if survivor_id == merged_id:
        raise invalid("merged_id", "pick another customer: a customer cannot be merged into itself")
    if len(reason) < 5:
        raise invalid("reason", "explain the merge (at least 5 characters)")
    survivor, merged = session.get(Customer, survivor_id), session.get(Customer, merged_id)
    if survivor is None:
        raise not_found(f"customer {survivor_id}")
    if merged is None:
        raise invalid("merged_id", f"no customer {merged_id}")
    if merged.merged_into is not None or survivor.merged_into is not None:
        raise conflict("already_merged", "one of these customers was already merged into another")
    balances = _lock(session, survivor_id, merged_id)
    active = dict(
        session.execute(
            select(GroupMember.customer_id, GroupMember.group_id).where(
                GroupMember.customer_id.in_((survivor_id, merged_id)), GroupMember.status == "active"
            )
        ).all()
    )
    if survivor_id in active and merged_id in active:
        raise conflict("both_in_groups", "both customers are members of a group; one of them must leave it first")

    moved: dict[str, Any] = {k: _ids(session, m, merged_id) for k, m in MOVED_BY_ID.items()}
    moved["lots_state"] = {
        str(i): [r, s]
        for i, r, s in session.execute(
            select(PointLot.id, PointLot.remaining, PointLot.status).where(PointLot.customer_id == merged_id)
        )
    }
    moved["groups_owned"] = list(
        session.scalars(
            select(CustomerGroup.id).where(CustomerGroup.owner_id == merged_id, CustomerGroup.dissolved_at.is_(None))
        )
    )
    daily = _rows(session, CustomerDaily, merged_id, DAILY_KEYS, DAILY_SUMS)
    for r in daily:
        r["existed"] = _exists(session, CustomerDaily, survivor_id, r, DAILY_KEYS)
    usage = _rows(session, CampaignUsage, merged_id, USAGE_KEYS, USAGE_SUMS)
    for r in usage:
        r["existed"] = _exists(session, CampaignUsage, survivor_id, r, USAGE_KEYS)
    contacts = _rows(session, CustomerProvider, merged_id, ("provider_id",), ("txn_count", "first_at"))
    for r in contacts:
        mine = session.get(CustomerProvider, (survivor_id, r["provider_id"]))
        r["existed"] = mine is not None
        r["survivor_first_at"] = mine.first_at.isoformat() if mine is not None else None
    tags = [
        {"tag": t, "existed": session.get(CustomerTag, (survivor_id, t)) is not None}
        for t in session.scalars(select(CustomerTag.tag).where(CustomerTag.customer_id == merged_id))
    ]
    rule_usage = _rows(session, RuleUsage, merged_id, RULE_USAGE_KEYS, RULE_USAGE_SUMS)
    for r in rule_usage:
        r["existed"] = _exists(session, RuleUsage, survivor_id, r, RULE_USAGE_KEYS)
    # customer attributes: the survivor's own values win; the merged customer's others move over
    attributes = [
        {
            "name": n,
            "value": v,
            "provider_id": p,
            "existed": session.get(CustomerAttribute, (survivor_id, n)) is not None,
        }
        for n, v, p in session.execute(
            select(CustomerAttribute.name, CustomerAttribute.value, CustomerAttribute.provider_id).where(
                CustomerAttribute.customer_id == merged_id
            )
        )
    ]
    moved.update(customer_daily=daily, campaign_usage=usage, customer_providers=contacts, tags=tags)
    moved.update(
        rule_usage=rule_usage,
        attributes=attributes,
        member_since=[_json(survivor.member_since), _json(merged.member_since)],
    )
    moved["lifetime_points"] = int(balances[merged_id].lifetime_points or 0)
    moved["tiers"] = {
        "survivor": [survivor.tier, _json(survivor.tier_since)],
        "merged": [merged.tier, _json(merged.tier_since)],
    }

    for key, model in MOVED_BY_ID.items():
        _move(session, model, moved[key], merged_id, survivor_id)
    session.execute(
        update(GroupMember)
        .where(GroupMember.id.in_(moved["group_members"] or [0]), GroupMember.active_customer == merged_id)
        .values(active_customer=survivor_id)
    )
    if moved["groups_owned"]:
        session.execute(
            update(CustomerGroup).where(CustomerGroup.id.in_(moved["groups_owned"])).values(owner_id=survivor_id)
        )
    _add_rows(session, CustomerDaily, survivor_id, daily, DAILY_KEYS, DAILY_SUMS, 1)
    session.execute(delete(CustomerDaily).where(CustomerDaily.customer_id == merged_id))
    _add_rows(session, CampaignUsage, survivor_id, usage, USAGE_KEYS, USAGE_SUMS, 1)
    session.execute(delete(CampaignUsage).where(CampaignUsage.customer_id == merged_id))
    _add_rows(session, RuleUsage, survivor_id, rule_usage, RULE_USAGE_KEYS, RULE_USAGE_SUMS, 1)
    session.execute(delete(RuleUsage).where(RuleUsage.customer_id == merged_id))
    for a in attributes:
        if not a["existed"]:
            session.add(
                CustomerAttribute(
                    customer_id=survivor_id, name=a["name"], value=a["value"], provider_id=a["provider_id"]
                )
            )
    session.execute(delete(CustomerAttribute).where(CustomerAttribute.customer_id == merged_id))
    since = [d for d in (survivor.member_since, merged.member_since) if d is not None]
    survivor.member_since = min(since) if since else None
    for r in contacts:
        mine = session.get(CustomerProvider, (survivor_id, r["provider_id"]))
        first = datetime.fromisoformat(r["first_at"])
        if mine is None:
            session.add(
                CustomerProvider(
                    customer_id=survivor_id, provider_id=r["provider_id"], first_at=first, txn_count=r["txn_count"]
                )
            )
        else:
            mine.first_at = min(mine.first_at, first)
            mine.txn_count += r["txn_count"]
    session.execute(delete(CustomerProvider).where(CustomerProvider.customer_id == merged_id))
    for t in tags:
        if not t["existed"]:
            session.add(CustomerTag(customer_id=survivor_id, tag=t["tag"]))
    session.execute(delete(CustomerTag).where(CustomerTag.customer_id == merged_id))
    session.flush()

    _keep_better_tier(session, survivor, merged)
    merged.merged_into = survivor_id
    merged.tier, merged.tier_since = None, None
    _recompute(session, balances, {survivor_id: moved["lifetime_points"], merged_id: -moved["lifetime_points"]})
    record = CustomerMerge(survivor_id=survivor_id, merged_id=merged_id, reason=reason[:300], actor=actor, moved=moved)
    session.add(record)
    session.flush()
    summary = {
        k: len(moved[k]) for k in (*MOVED_BY_ID, "customer_daily", "campaign_usage", "customer_providers", "tags")
    }
    session.add(
        AuditEvent(
            actor=actor,
            action="customer.merged",
            object_type="customer",
            object_id=str(survivor_id),
            details={"merge_id": record.id, "merged_id": merged_id, "reason": reason, "moved": summary},
        )
    )
    session.flush()
    return record


def _keep_better_tier(session: Session, survivor: Customer, merged: Customer) -> None:
    """The survivor keeps the better of the two tiers until the next requalification decides."""
    if not merged.tier or merged.tier == survivor.tier:
        return

    _, version = tier_campaign(session)
    tiers = (version.document.get("tiers") if version is not None else None) or []
    ranks = {t.get("code"): t.get("rank", 0) for t in tiers}
    if survivor.tier is None or ranks.get(merged.tier, -1) > ranks.get(survivor.tier, -1):
        survivor.tier, survivor.tier_since = merged.tier, merged.tier_since


def _changed_since(session: Session, m: CustomerMerge) -> list[str]:
    moved = m.moved
    problems = []
    lots = moved.get("lots_state", {})
    for chunk in _chunks([int(i) for i in lots]):
        for lot_id, remaining, status in session.execute(
            select(PointLot.id, PointLot.remaining, PointLot.status).where(PointLot.id.in_(chunk))
        ):
            if [remaining, status] != lots[str(lot_id)]:  # spent, released, expired or clawed back
                problems.append(f"point lot {lot_id} was used since the merge")
    entries, txns, redemptions = moved["ledger_entries"], moved["transactions"], moved["redemptions"]
    for chunk_e, chunk_t, chunk_r in _zip_chunks(entries, txns, redemptions):
        later = session.scalar(
            select(func.count())
            .select_from(LedgerEntry)
            .where(
                LedgerEntry.created_at >= m.at,
                or_(
                    LedgerEntry.transaction_id.in_(chunk_t or [0]),
                    LedgerEntry.reverses_entry_id.in_(chunk_e or [0]),
                    LedgerEntry.redemption_id.in_(chunk_r or [0]),
                ),
                LedgerEntry.id.not_in(entries or [0]),
            )
        )
        if later:
            problems.append(f"{later} ledger entries about moved transactions or redemptions were written since")
            break
    return problems


def _zip_chunks(*lists: list[int]) -> Iterable[tuple[list[int], ...]]:
    n = max((len(x) for x in lists), default=0)
    for i in range(0, max(n, 1), 1000):
        yield tuple(x[i : i + 1000] for x in lists)


def unmerge(session: Session, merge_id: int, *, actor: str) -> CustomerMerge:
    """Put back exactly what :func:`merge` moved; balances recomputed, agg_seq moved on for both."""
    m = session.get(CustomerMerge, merge_id, with_for_update=True)
    if m is None:
        raise not_found(f"merge {merge_id}")
    if m.undone_at is not None:
        raise conflict("already_undone", f"merge {merge_id} was already reversed")
    survivor_id, merged_id, moved = m.survivor_id, m.merged_id, m.moved
    balances = _lock(session, survivor_id, merged_id)
    problems = _changed_since(session, m)
    if problems:
        raise DomainError(
            "merge_used",
            "cannot reverse this merge: " + "; ".join(problems[:3]) + " (adjust the balances by hand instead)",
            [],
            409,
        )
    for key, model in MOVED_BY_ID.items():
        _move(session, model, moved.get(key, []), survivor_id, merged_id)  # a merge may predate a key
    session.execute(
        update(GroupMember)
        .where(GroupMember.id.in_(moved["group_members"] or [0]), GroupMember.active_customer == survivor_id)
        .values(active_customer=merged_id)
    )
    if moved["groups_owned"]:
        session.execute(
            update(CustomerGroup).where(CustomerGroup.id.in_(moved["groups_owned"])).values(owner_id=merged_id)
        )
    for rows, model, keys, sums in (
        (moved["customer_daily"], CustomerDaily, DAILY_KEYS, DAILY_SUMS),
        (moved["campaign_usage"], CampaignUsage, USAGE_KEYS, USAGE_SUMS),
        (moved.get("rule_usage", []), RuleUsage, RULE_USAGE_KEYS, RULE_USAGE_SUMS),  # merges before it: none
    ):
        _add_rows(session, model, survivor_id, rows, keys, sums, -1)
        _drop_zero(session, model, survivor_id, [r for r in rows if not r["existed"]], keys, sums)
        _add_rows(session, model, merged_id, rows, keys, sums, 1)
    for r in moved["customer_providers"]:
        mine = session.get(CustomerProvider, (survivor_id, r["provider_id"]))
        if mine is not None:
            mine.txn_count = max(0, mine.txn_count - r["txn_count"])
            if not r["existed"] and mine.txn_count == 0:
                session.delete(mine)
            elif r["survivor_first_at"]:
                mine.first_at = datetime.fromisoformat(r["survivor_first_at"])
        session.add(
            CustomerProvider(
                customer_id=merged_id,
                provider_id=r["provider_id"],
                first_at=datetime.fromisoformat(r["first_at"]),
                txn_count=r["txn_count"],
            )
        )
    for t in moved["tags"]:
        if not t["existed"]:
            session.execute(
                delete(CustomerTag).where(CustomerTag.customer_id == survivor_id, CustomerTag.tag == t["tag"])
            )
        session.add(CustomerTag(customer_id=merged_id, tag=t["tag"]))
    session.flush()
    for a in moved.get("attributes", []):
        if not a["existed"]:
            session.execute(
                delete(CustomerAttribute).where(
                    CustomerAttribute.customer_id == survivor_id, CustomerAttribute.name == a["name"]
                )
            )
        session.add(
            CustomerAttribute(customer_id=merged_id, name=a["name"], value=a["value"], provider_id=a["provider_id"])
        )
    session.flush()
    survivor, merged = session.get(Customer, survivor_id), session.get(Customer, merged_id)
    assert survivor is not None and merged is not None
    if "member_since" in moved:
        survivor.member_since, merged.member_since = (
            date.fromisoformat(d) if d else None for d in moved["member_since"]
        )
    for who, (tier, since) in (("survivor", moved["tiers"]["survivor"]), ("merged", moved["tiers"]["merged"])):
        c = survivor if who == "survivor" else merged
        c.tier, c.tier_since = tier, datetime.fromisoformat(since) if since else None
    merged.merged_into = None
    life = int(moved.get("lifetime_points", 0))
    _recompute(session, balances, {survivor_id: -life, merged_id: life})
    m.undone_at, m.undone_by = utcnow(), actor
    session.add(
        AuditEvent(
            actor=actor,
            action="customer.unmerged",
            object_type="customer",
            object_id=str(survivor_id),
            details={"merge_id": m.id, "merged_id": merged_id},
        )
    )
    session.flush()
    return m


def merges_of(session: Session, customer_id: int) -> list[CustomerMerge]:
    return list(
        session.scalars(
            select(CustomerMerge)
            .where(or_(CustomerMerge.survivor_id == customer_id, CustomerMerge.merged_id == customer_id))
            .order_by(CustomerMerge.id.desc())
        )
    )
