"""Staff users: argon2 password hashes, lock-out after repeated failures, personal API tokens.

Passwords are hashed with argon2id (argon2-cffi's defaults, re-hashed when the
parameters change). After ``MAX_FAILURES`` wrong passwords in a row an account
is locked for ``LOCK_MINUTES``; while locked even the right password is
refused. Unknown e-mails cost the same hash as known ones, so timing does not
tell which accounts exist.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from campaigns.access.providers import issue_key
from campaigns.clock import utcnow
from campaigns.errors import DomainError, conflict, invalid, not_found
from campaigns.i18n import LANGUAGES
from campaigns.models import ApiKey, AuditEvent, Provider, StaffUser
from campaigns.permissions import ROLES, Scope

MAX_FAILURES = 5
LOCK_MINUTES = 15
MIN_PASSWORD = 10
MAX_PASSWORD = 256
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{2,}$")

_hasher = PasswordHasher()
_DUMMY = _hasher.hash("not a real password, used to spend the same time on unknown accounts")


@dataclass(frozen=True, slots=True)
class LoginResult:
    user: StaffUser | None
    # "invalid" | "locked" | "inactive" | "local_disabled";
    # through LDAP also "no_group" | "unreachable" | "misconfigured: <the group map's broken entry>"
    error: str | None = None
    locked_until: datetime | None = None


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def check_password_strength(password: str, email: str = "") -> None:
    if len(password or "") < MIN_PASSWORD:
        raise invalid("password", f"use at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise invalid("password", f"use at most {MAX_PASSWORD} characters")
    if email and password.lower() == email.lower():
        raise invalid("password", "must differ from the e-mail address")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _audit(session: Session, actor: str, action: str, user: StaffUser, details: dict[str, Any]) -> None:
    session.add(
        AuditEvent(actor=actor, action=action, object_type="staff_user", object_id=str(user.id), details=details)
    )


def create_user(
    session: Session,
    email: str,
    password: str,
    role: str,
    *,
    provider_code: str | None = None,
    name: str = "",
    actor: str = "cli",
) -> StaffUser:
    email = normalize_email(email)
    if not EMAIL_RE.match(email):
        raise invalid("email", "must be an e-mail address")
    if role not in ROLES:
        raise invalid("role", f"must be one of {', '.join(ROLES)}")
    provider_id = None
    if role == "provider":
        if not provider_code:
            raise invalid("provider", "a provider user needs --provider CODE")
        provider_id = session.scalar(select(Provider.id).where(Provider.code == provider_code))
        if provider_id is None:
            raise invalid("provider", f"unknown provider '{provider_code}'")
    elif provider_code:
        raise invalid("provider", "only users with role 'provider' belong to a provider")
    check_password_strength(password, email)
    if session.scalar(select(StaffUser.id).where(StaffUser.email == email)):
        raise conflict("duplicate", f"user '{email}' already exists")
    user = StaffUser(
        email=email,
        name=name.strip(),
        role=role,
        provider_id=provider_id,
        password_hash=hash_password(password),
        active=True,
        failed_logins=0,
        session_version=1,
        password_changed_at=utcnow(),
    )
    session.add(user)
    session.flush()
    _audit(session, actor, "user.created", user, {"email": email, "role": role, "provider": provider_code})
    return user


def local_login_allowed(user: StaffUser, local_login: bool) -> bool:
    """A password here works for local accounts, and only for break-glass ones once local sign-in is off."""
    return user.origin == "local" and (local_login or user.break_glass)


def login(
    session: Session, email: str, password: str, *, now: datetime | None = None, local_login: bool = True
) -> LoginResult:
    """Check a password; counts failures and locks the account after MAX_FAILURES in a row.

    Directory users have no password here (never verifies); with ``local_login`` off only break-glass
    accounts get past the password (``LOYALTY_LOCAL_LOGIN=0``).
    """
    now = now or utcnow()
    user = session.scalar(select(StaffUser).where(StaffUser.email == normalize_email(email)).with_for_update())
    if user is None:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY, password or "")
        return LoginResult(None, "invalid")
    if user.locked_until is not None and user.locked_until > now:
        return LoginResult(None, "locked", user.locked_until)
    try:
        _hasher.verify(user.password_hash, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILURES:
            user.failed_logins = 0
            user.locked_until = now + timedelta(minutes=LOCK_MINUTES)
            _audit(session, user.email, "user.locked", user, {"minutes": LOCK_MINUTES})
            return LoginResult(None, "locked", user.locked_until)
        return LoginResult(None, "invalid")
    if not user.active:
        return LoginResult(None, "inactive")
    if not local_login_allowed(user, local_login):
        return LoginResult(None, "local_disabled")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    return LoginResult(user)


def change_password(session: Session, user: StaffUser, current: str, new: str) -> None:
    """Needs the current password; ends every other session of the user (session_version moves)."""
    if user.origin != "local":
        raise invalid("current_password", "you sign in through your organisation: change your password there")
    try:
        _hasher.verify(user.password_hash, current or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        raise invalid("current_password", "is not your current password") from None
    if new == current:
        raise invalid("new_password", "must differ from the current password")
    try:
        check_password_strength(new, user.email)
    except DomainError as err:
        raise invalid("new_password", err.fields[0].reason) from None
    set_password(session, user, new, actor=user.email)


def set_password(session: Session, user: StaffUser, new: str, *, actor: str) -> None:
    check_password_strength(new, user.email)
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    user.session_version += 1
    user.failed_logins = 0
    user.locked_until = None
    _audit(session, actor, "user.password_changed", user, {})


def set_language(session: Session, user: StaffUser, language: str | None, *, actor: str) -> None:
    """The console's language for this user; None (or "") falls back to the programme's ``language`` setting."""
    language = language or None
    if language is not None and language not in LANGUAGES:
        raise invalid("language", f"must be one of {', '.join(LANGUAGES)} (or empty for the programme's default)")
    old, user.language = user.language, language
    _audit(session, actor, "user.language_changed", user, {"old": old, "new": language})


def get_by_email(session: Session, email: str) -> StaffUser:
    user = session.scalar(select(StaffUser).where(StaffUser.email == normalize_email(email)))
    if user is None:
        raise not_found(f"user '{email}'")
    return user


def unlock(session: Session, user: StaffUser, *, actor: str) -> None:
    user.failed_logins = 0
    user.locked_until = None
    _audit(session, actor, "user.unlocked", user, {})


def set_active(session: Session, user: StaffUser, active: bool, *, actor: str) -> None:
    user.active = active
    user.session_version += 1
    if not active:
        session.execute(
            update(ApiKey).where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None)).values(revoked_at=utcnow())
        )
    _audit(session, actor, "user.activated" if active else "user.deactivated", user, {})


def scope_of(session: Session, user: StaffUser) -> Scope:
    code = None
    if user.provider_id is not None:
        code = session.scalar(select(Provider.code).where(Provider.id == user.provider_id))
    return Scope(user.role, user.provider_id if user.role != "admin" else None, code)


def list_users(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(
        select(StaffUser, Provider.code)
        .outerjoin(Provider, Provider.id == StaffUser.provider_id)
        .order_by(StaffUser.id)
    ).all()
    now = utcnow()
    return [
        {
            "id": u.id,
            "email": u.email,
            "name": u.name,
            "role": u.role,
            "provider": code,
            "active": u.active,
            "locked": u.locked_until is not None and u.locked_until > now,
            "last_login_at": u.last_login_at,
            "created_at": u.created_at,
            "origin": u.origin,
            "break_glass": u.break_glass,
        }
        for u, code in rows
    ]


# -- personal API tokens -------------------------------------------------------------------------


def create_token(session: Session, user: StaffUser, name: str) -> str:
    """A personal management-API token with the user's role and scope; returned once, only its hash is kept."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise invalid("name", "give the token a name of 1 to 100 characters")
    key = issue_key(session, "user", name, user.provider_id, user_id=user.id, role=user.role)
    _audit(session, user.email, "token.created", user, {"name": name, "prefix": key[:10]})
    return key


def tokens_of(session: Session, user_id: int) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.id.desc())))


def revoke_token(session: Session, user: StaffUser, token_id: int) -> None:
    key = session.scalar(select(ApiKey).where(ApiKey.id == token_id, ApiKey.user_id == user.id))
    if key is None:
        raise not_found(f"token {token_id}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        _audit(session, user.email, "token.revoked", user, {"name": key.name, "prefix": key.prefix})
