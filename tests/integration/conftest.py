"""Fixtures shared by the integration tests' fault-injection modules."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import pytest

from tests.integration.test_faults import RedisServer


@pytest.fixture()
def private_redis() -> Iterator[RedisServer]:
    """A private redis-server without persistence, which the test may kill and start again empty."""
    with tempfile.TemporaryDirectory() as d:
        server = RedisServer(d)
        server.start()
        try:
            yield server
        finally:
            server.kill()
