"""Bearer-key authentication for providers and staff tokens.

Lookups are cached in the process for a few seconds: the key check costs one
dict lookup on the hot path, and a revoked key stops working within the TTL.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import g, request

from campaigns.access.providers import Principal, authenticate, hash_key
from campaigns.errors import DomainError
from campaigns.permissions import allowed

from ..extensions import db_session, settings
from ..ratelimit import client_ip, hit_many

F = TypeVar("F", bound=Callable[..., Any])
CACHE_TTL = 10.0
_cache: dict[str, tuple[float, Principal | None]] = {}


def _principal() -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        _limit(None)
        raise DomainError("unauthorized", "send 'Authorization: Bearer <API key>'", status=401)
    key = key.strip()
    digest = hash_key(key)
    _limit(digest)
    now = time.monotonic()
    hit = _cache.get(digest)
    if hit is None or hit[0] < now:
        principal = authenticate(db_session(), key)
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[digest] = (now + CACHE_TTL, principal)
    else:
        principal = hit[1]
    if principal is None:
        raise DomainError("unauthorized", "unknown or revoked API key", status=401)
    return principal


def _limit(digest: str | None) -> None:
    """Per client IP and per key (by its hash: counted before the lookup, so unknown keys count too)."""
    conf = settings()
    rules = [("api-ip", client_ip(), conf.api_rate_per_ip, 60)]
    if digest is not None:
        rules.append(("api-key", digest[:24], conf.api_rate_per_key, 60))
    hit_many(rules)


def forget_cached_keys() -> None:
    _cache.clear()


def require(*kinds: str, action: str | None = None, programme_wide: bool = False) -> Callable[[F], F]:
    """Allow only the given principal kinds (``provider``, ``staff``).

    ``action`` (from ``campaigns.permissions.ACTIONS``) is checked against a
    staff principal's role: a personal token can do what its user can do in
    the UI. Provider principals are limited by data scope instead.
    ``programme_wide``: data that belongs to no provider, closed to staff
    scoped to one (a care desk of one provider, from its directory group).
    """

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = _principal()
            if principal.kind not in kinds:
                needed = " or ".join(kinds)
                raise DomainError("forbidden", f"this endpoint needs a {needed} key", status=403)
            if action is not None and principal.is_staff and not allowed(principal.role, action):
                raise DomainError("forbidden", f"role '{principal.role}' may not {action}", status=403)
            if programme_wide and principal.is_staff and principal.provider_id is not None:
                raise DomainError("forbidden", "staff limited to one provider may not use this endpoint", status=403)
            g.principal = principal
            return view(*args, **kwargs)

        # the isolation test reads both to know who each endpoint admits
        wrapper.api_action = action  # type: ignore[attr-defined]
        wrapper.api_kinds = kinds  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


def principal() -> Principal:
    return g.principal


def calling_provider_id() -> int:
    """The calling provider's id, on an endpoint that ``require("provider")`` guards."""
    p = principal()
    if p.provider_id is None:
        raise DomainError("forbidden", "this endpoint needs a provider key", status=403)
    return p.provider_id


def scope_provider_id() -> int | None:
    """The provider a query must be limited to; None for staff of the whole programme (all providers)."""
    return principal().provider_id
