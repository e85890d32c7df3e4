"""Groups: up to N customers pool their spendable points for redemptions.

The owner invites and removes; members accept or leave; dissolving splits the
group. Every step is a recorded event. Pooling happens only at redemption
time: each member keeps their own ledger, lots and tier, and a pooled
redemption takes points from the members' lots, soonest expiry first, with one
ledger entry per contributing member.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaigns.clock import utcnow
from campaigns.customers import numbers
from campaigns.errors import conflict, invalid, not_found
from campaigns.models import CustomerBalance, CustomerGroup, GroupEvent, GroupMember

DEFAULT_MAX_MEMBERS = 5


def _event(session: Session, group_id: int, customer_id: int | None, action: str, actor: str, now: datetime) -> None:
    session.add(GroupEvent(group_id=group_id, customer_id=customer_id, action=action, actor=actor, at=now))


def group_of(session: Session, customer_id: int) -> int | None:
    return session.scalar(select(GroupMember.group_id).where(GroupMember.active_customer == customer_id))


def members(session: Session, group_id: int) -> list[int]:
    return list(
        session.scalars(
            select(GroupMember.customer_id)
            .where(GroupMember.group_id == group_id, GroupMember.status == "active")
            .order_by(GroupMember.id)
        )
    )


def _group(session: Session, group_id: int, *, lock: bool = True) -> CustomerGroup:
    q = select(CustomerGroup).where(CustomerGroup.id == group_id, CustomerGroup.dissolved_at.is_(None))
    group = session.scalar(q.with_for_update() if lock else q)
    if group is None:
        raise not_found(f"group {group_id}")
    return group


def _join(session: Session, group_id: int, customer_id: int, now: datetime) -> GroupMember:
    member = GroupMember(
        group_id=group_id,
        customer_id=customer_id,
        active_customer=customer_id,
        status="active",
        invited_at=now,
        joined_at=now,
    )
    session.add(member)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise conflict("already_in_group", f"customer {customer_id} already belongs to a group") from None
    return member


def create(
    session: Session,
    owner_id: int,
    name: str,
    *,
    actor: str,
    max_members: int = DEFAULT_MAX_MEMBERS,
    through_phones: Sequence[str] = (),
) -> CustomerGroup:
    """``through_phones`` (here and below): the numbers the acting person was named by; a swapped SIM holds it."""
    numbers.check_hold(session, through_phones, action="a group change", customer_id=owner_id)
    if not name.strip() or len(name) > 100:
        raise invalid("name", "give a name of 1 to 100 characters")
    if not 2 <= max_members <= 20:
        raise invalid("max_members", "must be 2 to 20")
    now = utcnow()
    group = CustomerGroup(name=name.strip(), owner_id=owner_id, max_members=max_members, created_at=now)
    session.add(group)
    session.flush()
    _join(session, group.id, owner_id, now)
    _event(session, group.id, owner_id, "created", actor, now)
    return group


def invite(
    session: Session, group_id: int, owner_id: int, customer_id: int, *, actor: str, through_phones: Sequence[str] = ()
) -> None:
    numbers.check_hold(session, through_phones, action="a group change", customer_id=owner_id)
    group = _group(session, group_id)
    if group.owner_id != owner_id:
        raise conflict("not_owner", "only the group's owner invites")
    active = session.scalars(
        select(func.count()).where(GroupMember.group_id == group_id, GroupMember.status.in_(("active", "invited")))
    ).one()
    if active >= group.max_members:
        raise conflict("group_full", f"a group has at most {group.max_members} members")
    if group_of(session, customer_id) is not None:
        raise conflict("already_in_group", f"customer {customer_id} already belongs to a group")
    pending = session.scalar(
        select(GroupMember).where(
            GroupMember.group_id == group_id, GroupMember.customer_id == customer_id, GroupMember.status == "invited"
        )
    )
    now = utcnow()
    if pending is None:
        session.add(GroupMember(group_id=group_id, customer_id=customer_id, status="invited", invited_at=now))
    _event(session, group_id, customer_id, "invited", actor, now)


def accept(
    session: Session, group_id: int, customer_id: int, *, actor: str, through_phones: Sequence[str] = ()
) -> None:
    numbers.check_hold(session, through_phones, action="a group change", customer_id=customer_id)
    group = _group(session, group_id)
    invitation = session.scalar(
        select(GroupMember).where(
            GroupMember.group_id == group.id, GroupMember.customer_id == customer_id, GroupMember.status == "invited"
        )
    )
    if invitation is None:
        raise not_found(f"invitation of customer {customer_id} to group {group_id}")
    now = utcnow()
    invitation.status, invitation.active_customer, invitation.joined_at = "active", customer_id, now
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise conflict("already_in_group", f"customer {customer_id} already belongs to a group") from None
    _event(session, group_id, customer_id, "joined", actor, now)


def leave(
    session: Session,
    group_id: int,
    customer_id: int,
    *,
    by_owner: int | None = None,
    actor: str,
    through_phones: Sequence[str] = (),
) -> None:
    """A member leaves, or the owner removes them; the owner leaving dissolves the group."""
    numbers.check_hold(session, through_phones, action="a group change", customer_id=customer_id)
    group = _group(session, group_id)
    if by_owner is not None and by_owner != group.owner_id:
        raise conflict("not_owner", "only the group's owner removes members")
    if customer_id == group.owner_id:
        dissolve(session, group_id, group.owner_id, actor=actor)
        return
    member = session.scalar(
        select(GroupMember).where(
            GroupMember.group_id == group_id,
            GroupMember.customer_id == customer_id,
            GroupMember.status.in_(("active", "invited")),
        )
    )
    if member is None:
        raise not_found(f"member {customer_id} of group {group_id}")
    now = utcnow()
    member.status = "removed" if by_owner is not None else ("declined" if member.status == "invited" else "left")
    member.active_customer, member.left_at = None, now
    _event(session, group_id, customer_id, member.status, actor, now)


def dissolve(session: Session, group_id: int, owner_id: int, *, actor: str) -> None:
    """Split the group: everyone keeps their own points, nothing moves."""
    group = _group(session, group_id)
    if owner_id != group.owner_id:
        raise conflict("not_owner", "only the group's owner dissolves it")
    now = utcnow()
    for m in session.scalars(
        select(GroupMember).where(GroupMember.group_id == group_id, GroupMember.status.in_(("active", "invited")))
    ):
        m.status, m.active_customer, m.left_at = "left", None, now
    group.dissolved_at = now
    _event(session, group_id, None, "dissolved", actor, now)


def view(session: Session, group_id: int) -> dict[str, Any]:
    group = session.get(CustomerGroup, group_id)
    if group is None:
        raise not_found(f"group {group_id}")
    rows = session.execute(
        select(GroupMember.customer_id, GroupMember.status, GroupMember.joined_at, CustomerBalance.balance)
        .outerjoin(CustomerBalance, CustomerBalance.customer_id == GroupMember.customer_id)
        .where(GroupMember.group_id == group_id, GroupMember.status.in_(("active", "invited")))
        .order_by(GroupMember.id)
    ).all()
    events = session.execute(
        select(GroupEvent.customer_id, GroupEvent.action, GroupEvent.at)
        .where(GroupEvent.group_id == group_id)
        .order_by(GroupEvent.id)
    ).all()
    return {
        "id": group.id,
        "name": group.name,
        "owner_id": group.owner_id,
        "max_members": group.max_members,
        "dissolved_at": group.dissolved_at,
        "members": [{"customer_id": c, "status": s, "joined_at": j, "balance": b or 0} for c, s, j, b in rows],
        "pooled_balance": sum((b or 0) for _c, s, _j, b in rows if s == "active"),
        "history": [{"customer_id": c, "action": a, "at": at} for c, a, at in events],
    }
