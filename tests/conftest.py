"""Fixtures for integration tests: a real MariaDB and Redis, migrated once, cleaned per test.

Pure rules tests (tests/rules) use none of these, so they run without services. The helpers the fixtures are built
from live in ``tests/helpers``; import them from there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis

from tests.helpers.api import publish, run_worker, txn
from tests.helpers.database import ledger_ok, reset_all
from tests.helpers.documents import BASE_EARNING, THIRD_TODAY
from tests.helpers.factories import PASSWORD, ProviderKey, make_provider, make_staff_key, make_user
from tests.helpers.passwords import use_light_password_hashing
from tests.helpers.services import DB_URL, REDIS_URL, settings_for_tests
from tests.helpers.web import EnglishClient, csrf_token, login

# Tests imported these from this module before tests/helpers existed (branches may still): they keep resolving.
__all__ = [
    "BASE_EARNING",
    "DB_URL",
    "PASSWORD",
    "REDIS_URL",
    "THIRD_TODAY",
    "ProviderKey",
    "csrf_token",
    "ledger_ok",
    "login",
    "make_provider",
    "make_user",
    "publish",
    "reset_all",
    "run_worker",
    "settings_for_tests",
    "txn",
]


@pytest.fixture(scope="session")
def app() -> Iterator[Flask]:
    from webapp import create_app
    from webapp.extensions import recreate_schema

    use_light_password_hashing()
    app = create_app(settings_for_tests(), TESTING=True)
    app.test_client_class = EnglishClient
    with app.app_context():
        recreate_schema()
    yield app


@pytest.fixture(scope="session")
def redis_client() -> Redis:
    return Redis.from_url(REDIS_URL)


@pytest.fixture()
def clean(app: Flask, redis_client: Redis) -> Iterator[None]:
    """Empty the tables the previous test touched and the test Redis database before each integration test."""
    reset_all(app, redis_client)
    yield
    ledger_ok(app)  # every integration test ends with the books balanced


@pytest.fixture()
def client(app: Flask, clean: None) -> FlaskClient:
    return app.test_client()


@pytest.fixture()
def telecom(app: Flask, clean: None) -> ProviderKey:
    return make_provider(app, "telecom", "Mobile operator")


@pytest.fixture()
def shop(app: Flask, clean: None) -> ProviderKey:
    return make_provider(app, "shop", "Convenience shop")


@pytest.fixture()
def staff(app: Flask, clean: None) -> dict[str, str]:
    return make_staff_key(app)


@pytest.fixture()
def work(app: Flask) -> Any:
    return lambda: run_worker(app)
