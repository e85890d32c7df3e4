"""Request parsing and JSON encoding shared by the API views."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import request
from flask.json.provider import DefaultJSONProvider

from campaigns.db import retry_transient as db_retry_transient
from campaigns.errors import DomainError, FieldProblem

from ..extensions import settings

MAX_DEPTH = 32


class LoyaltyJSONProvider(DefaultJSONProvider):
    """ISO 8601 datetimes and exact numbers (Flask's default would give RFC 822 dates)."""

    sort_keys = False

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, datetime):
            return o.isoformat()
        if isinstance(o, Decimal):
            return int(o) if o == o.to_integral_value() else float(o)
        return DefaultJSONProvider.default(o)


def _depth(value: Any, level: int = 0) -> int:
    """Nesting depth of what ``json.loads`` built; only containers are visited (a batch of 500 holds some 20,000
    scalars and 1,500 containers), stopping once past ``MAX_DEPTH``."""
    if type(value) is dict:
        children: Any = value.values()
    elif type(value) is list:
        children = value
    else:
        return level
    deepest = level + 1
    if deepest > MAX_DEPTH:
        return deepest
    for child in children:
        if type(child) is dict or type(child) is list:
            deepest = max(deepest, _depth(child, level + 1))
            if deepest > MAX_DEPTH:
                break
    return deepest


def read_json(*, allow_empty: bool = False) -> Any:
    """Parse the body strictly: floats as Decimal, bounded nesting, clear 400s."""
    raw = request.get_data()
    if not raw.strip():
        if allow_empty:
            return {}
        raise DomainError("bad_request", "the request body is empty; send a JSON object", status=400)
    ctype = request.mimetype or ""
    if ctype and ctype != "application/json" and not ctype.endswith("+json"):
        raise DomainError("unsupported_media_type", "send Content-Type: application/json", status=415)
    try:
        data = json.loads(raw, parse_float=Decimal, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise DomainError("bad_request", f"malformed JSON: {exc}", status=400) from None
    if _depth(data) > MAX_DEPTH:
        raise DomainError("bad_request", f"JSON nested deeper than {MAX_DEPTH} levels", status=400)
    if SURROGATE_ESCAPE.search(raw) and _lone_surrogate(data):
        raise DomainError("bad_request", "malformed JSON: a \\u escape is half of a UTF-16 pair", status=400)
    return data


# json.loads joins a valid "\ud83c\udf89" pair into one character but keeps a lone half, which no UTF-8
# column can store; a body with no such escape (almost all) skips the walk.
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, dict):
        return any(_lone_surrogate(k) or _lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_lone_surrogate(v) for v in value)
    return False


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def max_future() -> timedelta:
    return timedelta(seconds=settings().max_future_skew_seconds)


def require_object(data: Any, path: str = "body") -> dict[str, Any]:
    if not isinstance(data, dict):
        raise DomainError(
            "validation_error", f"{path}: must be a JSON object", [FieldProblem(path, "must be a JSON object")]
        )
    return data


def retry_transient(view: Callable[..., Any]) -> Callable[..., Any]:
    """Re-run a write view from scratch after a deadlock; nothing was committed, so this is safe."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ..extensions import db

        return db_retry_transient(lambda: view(*args, **kwargs), cleanup=db.session.rollback)

    return wrapper
