"""Build a worker runtime from the environment (used by a bare ``rq worker`` process)."""

from __future__ import annotations

from campaigns.db import make_engine
from campaigns.settings import Settings

from .runtime import Runtime


def build(settings: Settings) -> Runtime:
    return Runtime.from_settings(settings, make_engine(settings))


def from_environment() -> Runtime:
    return build(Settings.from_env())
