"""Groups (families) pooling points: create, invite, accept, leave or remove, dissolve.

Providers and staff act on the customers' behalf here (the customer portal will
call the same services with the customer's own session); the owner's identity
is checked on every owner-only step.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from campaigns.accounts import groups
from campaigns.accounts.profile import resolve_existing
from campaigns.errors import invalid, not_found
from campaigns.models import GroupMember, Transaction
from campaigns.schemas import CustomerRef, GroupIn, GroupMemberIn, validation_error

from ..extensions import db, db_session
from . import bp
from .auth import principal, require, scope_provider_id
from .util import read_json, retry_transient


def _visible(group_id: int) -> None:
    """A provider reaches a group only once one of its members has dealt with it (no id enumeration),
    the rule a customer's profile follows; staff see every group."""
    provider_id = scope_provider_id()
    if provider_id is None:
        return
    members = select(GroupMember.customer_id).where(GroupMember.group_id == group_id)  # the owner is one
    dealt = db.session.scalar(
        select(Transaction.id)
        .where(Transaction.provider_id == provider_id, Transaction.customer_id.in_(members))
        .limit(1)
    )
    if dealt is None:
        raise not_found(f"group {group_id}")


def _through(ref: CustomerRef | None) -> list[str]:
    """The number the acting person was named by: a recently swapped SIM holds the change."""
    return [ref.phone] if ref is not None and ref.phone else []


def _who(ref: CustomerRef | None, field: str = "owner") -> int:
    if ref is None:
        raise invalid(field, "is required")
    return resolve_existing(db_session(), ref, None)


@bp.post("/groups")
@require("provider", "staff", action="customers.adjust")
@retry_transient
def create_group() -> Any:
    body = validation_error(GroupIn, read_json())
    group = groups.create(
        db_session(),
        _who(body.owner),
        body.name,
        actor=principal().name,
        max_members=body.max_members,
        through_phones=_through(body.owner),
    )
    db.session.commit()
    return groups.view(db_session(), group.id), 201


@bp.get("/groups/<int:group_id>")
@require("provider", "staff", action="customers.view")
def show_group(group_id: int) -> Any:
    _visible(group_id)
    return groups.view(db_session(), group_id)


@bp.post("/groups/<int:group_id>/invitations")
@require("provider", "staff", action="customers.adjust")
@retry_transient
def invite_member(group_id: int) -> Any:
    _visible(group_id)
    body = validation_error(GroupMemberIn, read_json())
    groups.invite(
        db_session(),
        group_id,
        _who(body.owner),
        _who(body.customer, "customer"),
        actor=principal().name,
        through_phones=_through(body.owner),
    )
    db.session.commit()
    return groups.view(db_session(), group_id), 201


@bp.post("/groups/<int:group_id>/members")
@require("provider", "staff", action="customers.adjust")
@retry_transient
def accept_invitation(group_id: int) -> Any:
    _visible(group_id)
    body = validation_error(GroupMemberIn, read_json())
    groups.accept(
        db_session(),
        group_id,
        _who(body.customer, "customer"),
        actor=principal().name,
        through_phones=_through(body.customer),
    )
    db.session.commit()
    return groups.view(db_session(), group_id)


@bp.post("/groups/<int:group_id>/leave")
@require("provider", "staff", action="customers.adjust")
@retry_transient
def leave_group(group_id: int) -> Any:
    """The customer leaves; with ``owner`` given, the owner removes the customer."""
    _visible(group_id)
    body = validation_error(GroupMemberIn, read_json())
    by_owner = _who(body.owner) if body.owner is not None else None
    groups.leave(
        db_session(),
        group_id,
        _who(body.customer, "customer"),
        by_owner=by_owner,
        actor=principal().name,
        through_phones=_through(body.owner if body.owner is not None else body.customer),
    )
    db.session.commit()
    return groups.view(db_session(), group_id)
