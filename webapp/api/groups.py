"""Groups (families) pooling points: create, invite, accept, leave or remove, dissolve.

Providers and staff act on the customers' behalf here (the customer portal will
call the same services with the customer's own session); the owner's identity
is checked on every owner-only step.
"""

from __future__ import annotations

from typing import Any

from campaigns import groups
from campaigns.customers import resolve_existing
from campaigns.schemas import CustomerRef, GroupIn, GroupMemberIn, validation_error

from ..extensions import db
from . import bp
from .auth import principal, require
from .util import read_json, retry_transient


def _who(ref: CustomerRef | None) -> int:
    return resolve_existing(db.session, ref, None)


@bp.post("/groups")
@require("provider", "staff", action="customers.adjust")
@retry_transient
def create_group() -> Any:
    body = validation_error(GroupIn, read_json())
    group = groups.create(db.session, _who(body.owner), body.name, actor=principal().name, max_members=body.max_members)
    db.session.commit()
    return groups.view(db.session, group.id), 201


@bp.get("/groups/<int:group_id>")
@require("provider", "staff", action="customers.view")
def show_group(group_id: int) -> Any:
    return groups.view(db.session, group_id)


@bp.post("/groups/<int:group_id>/invitations")
@require("provider", "staff", action="customers.adjust")
@retry_transient
def invite_member(group_id: int) -> Any:
    body = validation_error(GroupMemberIn, read_json())
    groups.invite(db.session, group_id, _who(body.owner), _who(body.customer), actor=principal().name)
    db.session.commit()
    return groups.view(db.session, group_id), 201


@bp.post("/groups/<int:group_id>/members")
@require("provider", "staff", action="customers.adjust")
@retry_transient
def accept_invitation(group_id: int) -> Any:
    body = validation_error(GroupMemberIn, read_json())
    groups.accept(db.session, group_id, _who(body.customer), actor=principal().name)
    db.session.commit()
    return groups.view(db.session, group_id)


@bp.post("/groups/<int:group_id>/leave")
@require("provider", "staff", action="customers.adjust")
@retry_transient
def leave_group(group_id: int) -> Any:
    """The customer leaves; with ``owner`` given, the owner removes the customer."""
    body = validation_error(GroupMemberIn, read_json())
    by_owner = _who(body.owner) if body.owner is not None else None
    groups.leave(db.session, group_id, _who(body.customer), by_owner=by_owner, actor=principal().name)
    db.session.commit()
    return groups.view(db.session, group_id)
