"""Logging context: request, job and transaction ids carried into every log record, and the JSON format.

Code that works on behalf of a request, an RQ job or one transaction wraps
that work in :func:`bind` (``with logctx.bind(transaction_id=t.id): ...``);
:class:`ContextFilter` copies whatever is bound into each record, so a plain
``log.info(...)`` anywhere below comes out with those ids. Context variables
keep concurrent requests (threads) and jobs apart.

``LOYALTY_LOG_FORMAT=json`` switches the output to one JSON object per line
(python-json-logger) with ``time``, ``level``, ``logger``, ``message`` and the
bound ids; the default stays human-readable.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import IO, Any

from pythonjsonlogger.json import JsonFormatter

FIELDS = ("request_id", "job_id", "transaction_id")
_vars: dict[str, ContextVar[Any]] = {name: ContextVar(name, default=None) for name in FIELDS}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


@contextmanager
def bind(**fields: Any) -> Iterator[None]:
    """Bind ids (request_id, job_id, transaction_id) for the duration of the block."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown log context fields: {sorted(unknown)}")
    tokens = [(_vars[name], _vars[name].set(value)) for name, value in fields.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def set_request_id(value: str | None) -> tuple[str, Any]:
    """Adopt an incoming ``X-Request-ID`` when it is sane, else make one; returns it and the reset token."""
    rid = value if value and _REQUEST_ID.fullmatch(value) else uuid.uuid4().hex
    return rid, _vars["request_id"].set(rid)


def reset_request_id(token: Any) -> None:
    _vars["request_id"].reset(token)


def current() -> dict[str, Any]:
    return {name: var.get() for name, var in _vars.items() if var.get() is not None}


class ContextFilter(logging.Filter):
    """Copy the bound ids onto the record (None when unbound, so text formats can name them too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _vars.items():
            if getattr(record, name, None) is None:
                setattr(record, name, var.get())
        return True


class _JsonFormatter(JsonFormatter):
    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in log_data.items() if v is not None}  # unbound ids stay out of the line


def json_formatter() -> logging.Formatter:
    return _JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(job_id)s %(transaction_id)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
    )


def handler(stream: IO[str] | None = None, fmt: str = "text") -> logging.Handler:
    h = logging.StreamHandler(stream)
    h.setFormatter(json_formatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    h.addFilter(ContextFilter())
    return h


def configure(level: str, fmt: str = "text") -> None:
    """Set up the root logger once per process (a no-op when something already configured it)."""
    root = logging.getLogger()
    if any(getattr(h, "_loyalty", False) for h in root.handlers):
        return
    if fmt == "json" or not root.handlers:
        h = handler(None, fmt)
        h._loyalty = True  # type: ignore[attr-defined]
        root.addHandler(h)
    root.setLevel(level)
