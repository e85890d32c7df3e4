"""Where the test services are: MariaDB and Redis from the environment (``/work/tools/t`` or ``bin/test`` set them)."""

from __future__ import annotations

import os
from typing import Any

from campaigns.settings import Settings

DB_URL = os.environ.get(
    "LOYALTY_TEST_DATABASE_URL", "mysql+pymysql://loyalty:loyalty@127.0.0.1:3306/loyalty_test?charset=utf8mb4"
)
REDIS_URL = os.environ.get("LOYALTY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def settings_for_tests(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": DB_URL,
        "redis_url": REDIS_URL,
        "secret_key": "test",
        "partitions": 4,
        "batch_size": 200,
        "sweep_after_seconds": 60,
        "log_level": "WARNING",
        "gateway_secret": "gateway-secret",  # the SMS / USSD gateway's shared secret (tests/channels)
    }
    values.update(overrides)
    return Settings(**values)
