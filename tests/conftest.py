"""Fixtures for integration tests: a real MariaDB and Redis, migrated once, cleaned per test.

Pure rules tests (tests/rules) use none of these, so they run without services.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import text

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


@pytest.fixture(scope="session")
def app() -> Iterator[Flask]:
    from webapp import create_app
    from webapp.extensions import recreate_schema

    app = create_app(settings_for_tests(), TESTING=True)
    with app.app_context():
        recreate_schema()
    yield app


@pytest.fixture(scope="session")
def redis_client() -> Redis:
    return Redis.from_url(REDIS_URL)


@pytest.fixture()
def clean(app: Flask, redis_client: Redis) -> Iterator[None]:
    """Empty every table and the test Redis database before each integration test."""
    reset_all(app, redis_client)
    yield
    ledger_ok(app)  # every integration test ends with the books balanced


def reset_all(app: Flask, redis_client: Redis) -> None:
    """Truncate every table, flush the test Redis database and forget the process caches."""
    from webapp.api.auth import forget_cached_keys
    from webapp.extensions import db

    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(text(f"TRUNCATE TABLE `{table.name}`"))
            conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))
    redis_client.flushdb()
    forget_cached_keys()
    app.extensions["loyalty.runtime"].forget_published()


@pytest.fixture()
def client(app: Flask, clean: None) -> FlaskClient:
    return app.test_client()


@dataclass
class ProviderKey:
    code: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def make_provider(app: Flask, code: str, name: str | None = None) -> ProviderKey:
    from campaigns.access.providers import create_provider
    from webapp.extensions import db

    with app.app_context():
        _, key = create_provider(db.session, code, name or code.title())
        db.session.commit()
    return ProviderKey(code, key)


@pytest.fixture()
def telecom(app: Flask, clean: None) -> ProviderKey:
    return make_provider(app, "telecom", "Mobile operator")


@pytest.fixture()
def shop(app: Flask, clean: None) -> ProviderKey:
    return make_provider(app, "shop", "Convenience shop")


@pytest.fixture()
def staff(app: Flask, clean: None) -> dict[str, str]:
    from campaigns.access.providers import issue_key
    from webapp.extensions import db

    with app.app_context():
        key = issue_key(db.session, "staff", "test staff")
        db.session.commit()
    return {"Authorization": f"Bearer {key}"}


def run_worker(app: Flask) -> None:
    """A real RQ SimpleWorker in burst mode over every partition queue."""
    from workers.worker import run_worker as start

    start(app.extensions["loyalty.runtime"], burst=True)


@pytest.fixture()
def work(app: Flask) -> Any:
    return lambda: run_worker(app)


def publish(client: FlaskClient, staff: dict[str, str], document: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(document, str):
        resp = client.post(
            "/api/v1/campaigns?publish=true", data=document, headers={**staff, "Content-Type": "application/yaml"}
        )
    else:
        resp = client.post("/api/v1/campaigns?publish=true", json=document, headers=staff)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


BASE_EARNING = """
name: Base earning
rules:
  - name: 1 point per 10k
    conditions:
      all:
        - {name: amount, operator: greater_than_or_equal_to, value: 10000}
    actions:
      - {name: award_points_per_amount, params: {points: 1, per: 10000}}
"""


THIRD_TODAY = {
    "name": "Third purchase today",
    "priority": 10,
    "rules": [
        {
            "name": "3rd",
            "conditions": {"all": [{"name": "transactions_today", "operator": "equal_to", "value": 2}]},
            "actions": [{"name": "award_points", "params": {"points": 40}}],
        }
    ],
}


def txn(provider_txn_id: str, amount: int = 150_000, phone: str = "0912345678", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "provider_txn_id": provider_txn_id,
        "customer": {"phone": phone},
        "amount": amount,
        "currency": "VND",
        "category": "topup",
        "channel": "app",
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
    }
    body.update(extra)
    return body


def ledger_ok(app: Flask) -> None:
    from campaigns.accounts.ledger import check_invariants
    from webapp.extensions import db

    with app.app_context():
        assert check_invariants(db.session) == []


# -- staff UI ---------------------------------------------------------------------------------------

PASSWORD = "correct horse battery"


def make_user(app: Flask, email: str, role: str, provider: str | None = None, password: str = PASSWORD) -> str:
    from campaigns.access.users import create_user
    from webapp.extensions import db

    with app.app_context():
        create_user(db.session, email, password, role, provider_code=provider)
        db.session.commit()
    return email


def csrf_token(client: FlaskClient, path: str = "/auth/login") -> str:
    import re

    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client: FlaskClient, email: str, password: str = PASSWORD) -> Any:
    token = csrf_token(client)
    return client.post("/auth/login", data={"email": email, "password": password, "csrf_token": token})
