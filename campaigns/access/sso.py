"""Staff from the organisation's directory: group mapping, just-in-time provisioning, sessions, break-glass.

OpenID Connect (``campaigns.access.oidc``) and LDAP (``campaigns.access.ldap``) only prove who a person is
and which directory groups they are in; this module decides what that means here, the same way for both:
the first sign-in creates the staff user with the role and provider of their mapped group, and every later
one re-reads them, so a person moved between groups has the new rights (and only those) from that sign-in.
Nobody is admitted without a mapped group. Every decision is audited.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.access.users import EMAIL_RE, normalize_email
from campaigns.clock import utcnow
from campaigns.errors import invalid
from campaigns.models import AuditEvent, Provider, StaffUser, UserOrigin
from campaigns.permissions import ROLES

# roles whose data the services limit to one provider everywhere (a care desk of one company, a provider user)
SCOPED_ROLES = ("care", "provider")
# never a valid argon2 hash: a directory user has no password here, whatever is typed fails to verify
NO_PASSWORD = "!directory"


@dataclass(frozen=True, slots=True)
class Grant:
    """What one directory group gives: a role, and for scoped roles the provider whose data they see."""

    role: str
    provider: str | None = None


@dataclass(frozen=True, slots=True)
class Identity:
    """A person as the directory proved them: stable subject, e-mail, display name, groups."""

    origin: UserOrigin
    subject: str
    email: str
    name: str
    groups: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SignIn:
    user: StaffUser | None
    error: str | None = None  # "no_group" | "inactive" | "conflict" | "unknown_provider"
    changed: bool = False


def parse_group_map(raw: str | None) -> dict[str, Grant]:
    """``LOYALTY_OIDC_GROUP_MAP`` / ``LOYALTY_LDAP_GROUP_MAP``: a JSON object, or the path of a file holding one.

    The order of the object is the order of precedence: a person in several mapped groups gets the first.
    """
    if not raw or not raw.strip():
        return {}
    text = raw.strip()
    if not text.startswith("{"):
        if not os.path.isfile(text):
            raise invalid("group_map", f"neither a JSON object nor a readable file: {text[:80]!r}")
        with open(text, encoding="utf-8") as fh:
            text = fh.read()
    try:
        data = json.loads(text)
    except ValueError as err:
        raise invalid("group_map", f"not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise invalid("group_map", "must be a JSON object of group -> {role, provider}")
    out: dict[str, Grant] = {}
    for group, entry in data.items():
        if not isinstance(entry, dict) or entry.get("role") not in ROLES:
            raise invalid(f"group_map.{group}.role", f"must be one of {', '.join(ROLES)}")
        provider = entry.get("provider")
        if provider is not None and not isinstance(provider, str):
            raise invalid(f"group_map.{group}.provider", "must be a provider code")
        if entry["role"] == "provider" and not provider:
            raise invalid(f"group_map.{group}.provider", "a provider role needs its provider")
        if provider and entry["role"] not in SCOPED_ROLES:
            raise invalid(
                f"group_map.{group}.provider", f"only {' and '.join(SCOPED_ROLES)} can be limited to a provider"
            )
        out[str(group)] = Grant(entry["role"], provider)
    return out


def grant_for(groups: Iterable[str], group_map: dict[str, Grant]) -> Grant | None:
    mine = set(groups)
    return next((grant for group, grant in group_map.items() if group in mine), None)


def _audit(session: Session, actor: str, action: str, object_id: str, details: dict[str, Any]) -> None:
    session.add(
        AuditEvent(
            actor=actor[:200], action=action, object_type="staff_user", object_id=object_id[:64], details=details
        )
    )


def stable_subject(raw: str) -> str:
    """The directory's id as stored: as given when it fits the column, else its SHA-256 (a long DN)."""
    return raw if len(raw) <= 255 else "sha256:" + hashlib.sha256(raw.encode()).hexdigest()


def refuse(session: Session, who: Identity, reason: str, details: dict[str, Any] | None = None) -> SignIn:
    """Audited: a security officer sees every person the directory vouched for whom we turned away."""
    _audit(
        session,
        who.email or who.subject,
        "sso.refused",
        who.subject,
        {"origin": who.origin, "reason": reason, "groups": list(who.groups)[:50], **(details or {})},
    )
    return SignIn(None, reason)


def sign_in(session: Session, who: Identity, group_map: dict[str, Grant], *, now: datetime | None = None) -> SignIn:
    """Provision or re-read a directory user from a proven identity; None (audited) when refused."""
    now = now or utcnow()
    email = normalize_email(who.email)
    subject = stable_subject(who.subject)
    grant = grant_for(who.groups, group_map)
    if grant is None:
        return refuse(session, who, "no_group")
    provider_id = None
    if grant.provider:
        provider_id = session.scalar(select(Provider.id).where(Provider.code == grant.provider))
        if provider_id is None:
            return refuse(session, who, "unknown_provider", {"provider": grant.provider})
    user = session.scalar(
        select(StaffUser).where(StaffUser.origin == who.origin, StaffUser.external_subject == subject).with_for_update()
    )
    if user is None and EMAIL_RE.match(email):
        same = session.scalar(select(StaffUser).where(StaffUser.email == email).with_for_update())
        if same is not None:  # never take over an account that signs in another way (break-glass above all)
            return refuse(session, who, "conflict", {"existing_origin": same.origin})
    if user is None:
        if not EMAIL_RE.match(email):
            return refuse(session, who, "no_email")
        user = StaffUser(
            email=email,
            name=who.name[:200],
            role=grant.role,
            provider_id=provider_id,
            password_hash=NO_PASSWORD,
            active=True,
            failed_logins=0,
            session_version=1,
            origin=who.origin,
            external_subject=subject,
            break_glass=False,
            last_login_at=now,
        )
        session.add(user)
        session.flush()
        _audit(
            session,
            email,
            "sso.provisioned",
            str(user.id),
            {"origin": who.origin, "role": grant.role, "provider": grant.provider},
        )
        _audit(session, email, "sso.signed_in", str(user.id), {"origin": who.origin, "role": grant.role})
        return SignIn(user, changed=True)
    if not user.active:
        return refuse(session, who, "inactive")
    changed = (user.role, user.provider_id) != (grant.role, provider_id)
    if changed:
        before = {"role": user.role, "provider_id": user.provider_id}
        user.role = grant.role
        user.provider_id = provider_id
        user.session_version += 1  # sessions opened under the old rights end
        _audit(
            session,
            user.email,
            "sso.role_changed",
            str(user.id),
            {"from": before, "to": {"role": grant.role, "provider": grant.provider}, "origin": who.origin},
        )
    if EMAIL_RE.match(email) and email != user.email:
        clash = session.scalar(select(StaffUser.id).where(StaffUser.email == email, StaffUser.id != user.id))
        if clash is None:
            user.email = email
    if who.name:
        user.name = who.name[:200]
    user.last_login_at = now
    _audit(session, user.email, "sso.signed_in", str(user.id), {"origin": who.origin, "role": user.role})
    return SignIn(user, changed=changed)


def record_failure(session: Session, origin: str, reason: str, address: str) -> None:
    """A sign-in the protocol checks stopped (stale or replayed state, forged, expired or misdirected token)."""
    session.add(
        AuditEvent(
            actor=f"{origin}:{address or 'unknown'}"[:200],
            action="sso.failed",
            object_type="staff_user",
            object_id="",
            details={"origin": origin, "reason": reason},
        )
    )


def end_sessions(session: Session, user: StaffUser, *, actor: str) -> None:
    """Every session of the user ends at its next request (the session generation moves on)."""
    user.session_version += 1
    _audit(session, actor, "user.sessions_ended", str(user.id), {"email": user.email})


def set_break_glass(session: Session, user: StaffUser, flag: bool, *, actor: str) -> None:
    """Only a local account (with a password here) can be the way in when the directory is down."""
    if flag and user.origin != "local":
        raise invalid("break_glass", "only a local account can be break-glass; this one signs in through the directory")
    user.break_glass = flag
    _audit(session, actor, "user.break_glass_set" if flag else "user.break_glass_cleared", str(user.id), {})
