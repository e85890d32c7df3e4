"""The process's worker runtime: set by whoever starts the process, else built from the environment.

The ``flask worker`` command, a test or the embedded in-process queue call :func:`configure`; a bare
``rq worker`` process has nobody to do that, so :func:`runtime` builds one from the environment.
"""

from __future__ import annotations

from redis import Redis
from sqlalchemy.orm import sessionmaker

from campaigns.db import make_engine
from campaigns.notify.gateways import from_url
from campaigns.settings import Settings

from .runtime import Runtime


def build(settings: Settings) -> Runtime:
    engine = make_engine(settings)
    return Runtime(
        session_factory=sessionmaker(bind=engine, expire_on_commit=False),
        redis=Redis.from_url(settings.redis_url) if settings.redis_url else None,
        partitions=settings.partitions,
        batch_size=settings.batch_size,
        sweep_after_seconds=settings.sweep_after_seconds,
        sms_gateway=from_url(settings.sms_gateway_url, settings.sms_gateway_token),
        max_future_seconds=settings.max_future_skew_seconds,
        import_chunk_rows=settings.import_chunk_rows,
        care_monitor_seconds=settings.care_monitor_seconds,
    )


def from_environment() -> Runtime:
    return build(Settings.from_env())


_runtime: Runtime | None = None


def configure(runtime: Runtime | None) -> None:
    global _runtime
    _runtime = runtime


def runtime() -> Runtime:
    """The configured runtime; a bare ``rq worker`` process builds it from the environment."""
    if _runtime is None:
        configure(from_environment())
    assert _runtime is not None
    return _runtime
