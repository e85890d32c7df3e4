"""The process's worker runtime: set by whoever starts the process, else built from the environment.

The ``flask worker`` command, a test or the embedded in-process queue call :func:`configure`; a bare
``rq worker`` process has nobody to do that, so :func:`runtime` builds one from the environment.
"""

from __future__ import annotations

from campaigns.db import make_engine
from campaigns.settings import Settings

from .runtime import Runtime


def build(settings: Settings) -> Runtime:
    return Runtime.from_settings(settings, make_engine(settings))


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
