from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _fresh_gateway_log() -> Iterator[None]:
    from campaigns.notify.gateways import LoggingGateway

    LoggingGateway.sent.clear()
    yield
