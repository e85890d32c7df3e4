"""Providers and their API keys, legacy staff tokens and staff users' personal tokens.

A key is shown once at creation; only its SHA-256 is stored. Keys carry 256
bits of randomness, so a fast hash is safe here (a password KDF would only slow
every request down without adding security).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns.clock import utcnow
from campaigns.errors import conflict, invalid, not_found
from campaigns.models import ApiKey, AuditEvent, Provider, StaffUser
from campaigns.publication import bump_publication

CODE_RE = re.compile(r"^[a-z][a-z0-9_-]{1,31}$")
RESERVED_CODES = frozenset({"issuer", "programme"})  # funders in a campaign's ``funding`` (campaigns.clearing)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a provider (scoped to its data) or staff (with a role).

    A legacy staff token (``staff-token create``) is an admin. A staff user's
    personal token carries that user's role; a ``provider``-role user's token
    acts as its provider (kind ``provider``, scoped to that provider's data).
    """

    key_id: int
    kind: str
    name: str
    provider_id: int | None = None
    provider_code: str | None = None
    role: str = "provider"
    user_id: int | None = None

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _new_key(kind: str) -> str:
    prefix = {"provider": "lp", "user": "lu"}.get(kind, "ls")
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def _audit(session: Session, actor: str, action: str, provider: Provider, details: dict[str, Any]) -> None:
    session.add(
        AuditEvent(actor=actor, action=action, object_type="provider", object_id=str(provider.id), details=details)
    )


def create_provider(
    session: Session,
    code: str,
    name: str,
    *,
    actor: str = "cli",
    phone_authority: bool = False,
    name_en: str | None = None,
) -> tuple[Provider, str]:
    """Create a provider and its first API key; returns the plain key (show it once)."""
    if not CODE_RE.match(code or ""):
        raise invalid("code", "use 2-32 lowercase letters, digits, '-' or '_', starting with a letter")
    if code in RESERVED_CODES:
        raise invalid("code", f"'{code}' names a funder in campaign documents and statements; choose another code")
    if not (name or "").strip():
        raise invalid("name", "must not be empty")
    if session.scalar(select(Provider.id).where(Provider.code == code)):
        raise conflict("duplicate", f"provider '{code}' already exists")
    name_en = (name_en or "").strip() or None
    if name_en is not None and len(name_en) > 200:
        raise invalid("name_en", "must be at most 200 characters")
    provider = Provider(code=code, name=name.strip(), name_en=name_en, active=True, phone_authority=phone_authority)
    session.add(provider)
    session.flush()
    key = issue_key(session, "provider", f"{code} key", provider.id)
    _audit(
        session,
        actor,
        "provider.created",
        provider,
        {
            "code": code,
            "name": provider.name,
            "name_en": name_en,
            "key_prefix": key[:10],
            "phone_authority": phone_authority,
        },
    )
    bump_publication(session)
    return provider, key


def set_phone_authority(session: Session, code: str, value: bool, *, actor: str = "cli") -> Provider:
    """Trust (or stop trusting) a provider's number lifecycle events; audited because it moves identities."""
    provider = session.scalar(select(Provider).where(Provider.code == code).with_for_update())
    if provider is None:
        raise not_found(f"provider '{code}'")
    if provider.phone_authority != value:
        _audit(
            session,
            actor,
            "provider.phone_authority_set",
            provider,
            {"code": code, "from": provider.phone_authority, "to": value},
        )
        provider.phone_authority = value
    return provider


def is_phone_authority(session: Session, provider_id: int | None) -> bool:
    """Read from the database on each event (never from the key cache) so a revoked flag takes effect at once."""
    if provider_id is None:
        return False
    return bool(session.scalar(select(Provider.phone_authority).where(Provider.id == provider_id)))


def issue_key(
    session: Session,
    kind: str,
    name: str,
    provider_id: int | None = None,
    *,
    user_id: int | None = None,
    role: str | None = None,
) -> str:
    """A new key (returned once); a personal token records the ``role`` it was created under."""
    key = _new_key(kind)
    session.add(
        ApiKey(
            kind=kind,
            name=name,
            provider_id=provider_id,
            user_id=user_id,
            role=role,
            prefix=key[:10],
            key_hash=hash_key(key),
        )
    )
    session.flush()
    return key


def rotate_provider_key(session: Session, code: str, *, actor: str = "cli", name: str = "") -> str:
    """Issue a new key; the old ones keep working until revoked, so providers can roll over."""
    provider = session.scalar(select(Provider).where(Provider.code == code))
    if provider is None:
        raise not_found(f"provider '{code}'")
    name = (name or "").strip()[:200] or f"{code} key"
    active = session.scalar(
        select(func.count()).where(
            ApiKey.provider_id == provider.id, ApiKey.kind == "provider", ApiKey.revoked_at.is_(None)
        )
    )
    key = issue_key(session, "provider", name, provider.id)
    _audit(
        session,
        actor,
        "provider.key_rotated" if active else "provider.key_created",
        provider,
        {"key_prefix": key[:10], "name": name, "other_active_keys": int(active or 0)},
    )
    return key


def revoke_key(session: Session, prefix: str, *, actor: str = "cli") -> int:
    keys = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))).all()
    for key in keys:
        _revoke(session, key, actor)
    return len(keys)


def revoke_provider_key(session: Session, provider_id: int, key_id: int, *, actor: str) -> ApiKey:
    """Revoke one key of a provider (404 when it is not that provider's key)."""
    key = session.get(ApiKey, key_id)
    if key is None or key.provider_id != provider_id or key.kind != "provider":
        raise not_found(f"key {key_id} of provider {provider_id}")
    if key.revoked_at is None:
        _revoke(session, key, actor)
    return key


def _revoke(session: Session, key: ApiKey, actor: str) -> None:
    key.revoked_at = utcnow()
    session.add(
        AuditEvent(
            actor=actor,
            action="provider.key_revoked" if key.provider_id else "api_key.revoked",
            object_type="provider" if key.provider_id else "api_key",
            object_id=str(key.provider_id or key.id),
            details={"key_prefix": key.prefix, "name": key.name},
        )
    )


@dataclass
class ProviderRow:
    id: int
    code: str
    name: str
    active: bool
    created_at: Any
    keys: list[ApiKey]

    @property
    def active_keys(self) -> int:
        return sum(1 for k in self.keys if k.revoked_at is None)


def list_providers(session: Session) -> list[ProviderRow]:
    """Every provider with its integration keys (newest first); secrets are never stored, only prefixes."""
    keys: dict[int, list[ApiKey]] = {}
    for k in session.scalars(
        select(ApiKey).where(ApiKey.kind == "provider").order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    ):
        keys.setdefault(k.provider_id or 0, []).append(k)
    return [
        ProviderRow(p.id, p.code, p.name, p.active, p.created_at, keys.get(p.id, []))
        for p in session.scalars(select(Provider).order_by(Provider.code))
    ]


def authenticate(session: Session, key: str) -> Principal | None:
    row = session.execute(
        select(
            ApiKey.id,
            ApiKey.kind,
            ApiKey.name,
            ApiKey.provider_id,
            Provider.code,
            Provider.active,
            StaffUser.id,
            StaffUser.email,
            StaffUser.role,
            StaffUser.active,
            StaffUser.provider_id,
            ApiKey.role,
        )
        .outerjoin(Provider, Provider.id == ApiKey.provider_id)
        .outerjoin(StaffUser, StaffUser.id == ApiKey.user_id)
        .where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    key_id, kind, name, provider_id, code, active, user_id, email, role, user_active, user_provider, key_role = row
    if provider_id is not None and not active:
        return None
    if kind == "provider":
        return Principal(key_id, kind, name, provider_id, code, role="provider")
    if kind == "user":
        if user_id is None or not user_active:
            return None
        # a token stops working once its user's role or provider is no longer the one it was created under
        if (key_role is not None and key_role != role) or user_provider != provider_id:
            return None
        if role == "provider":
            return Principal(key_id, "provider", email, provider_id, code, role="provider", user_id=user_id)
        scoped = provider_id if role != "admin" else None
        return Principal(key_id, "staff", email, scoped, code if scoped else None, role=role, user_id=user_id)
    return Principal(key_id, "staff", name, None, None, role="admin")


def provider_codes(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Provider.id, Provider.code)).all())
