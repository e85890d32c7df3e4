"""bin/demo's seeding decision: from the database's content, with keys kept per database.

A checkout that ran once on SQLite and is then started on MariaDB must seed MariaDB (not print the SQLite
database's keys over an empty one), and the keys each database's file holds must authenticate against it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from flask_migrate import upgrade

from campaigns.demo import keys_filename
from campaigns.settings import Settings
from tests.helpers.api import txn
from tests.helpers.services import DB_URL, REDIS_URL
from webapp import create_app
from webapp.api.auth import forget_cached_keys

pytestmark = pytest.mark.slow  # real subprocesses / fault injection: left out of `bin/test --fast`

ROOT = Path(__file__).resolve().parents[2]


def _flask(url: str, redis: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LOYALTY_DATABASE_URL", "REDIS_URL")}
    env.update(LOYALTY_DATABASE_URL=url, LOYALTY_PARTITIONS="4", LOYALTY_LOG_LEVEL="WARNING")
    if redis:
        env["REDIS_URL"] = redis
    out = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out


def _seed(url: str, redis: str | None, keys_dir: Path) -> str:
    return _flask(
        url,
        redis,
        "demo",
        "seed",
        "--if-empty",
        "--keys-dir",
        str(keys_dir),
        "--customers",
        "5",
        "--transactions",
        "10",
    ).stdout


def _telecom_key(path: Path) -> str:
    match = re.search(r"provider telecom: (\S+)", path.read_text())
    assert match, path.read_text()
    return match.group(1)


def test_switching_the_demo_to_mariadb_seeds_it_and_each_database_keeps_its_keys(app, client, tmp_path, monkeypatch):
    keys_dir = tmp_path / "instance"
    sqlite_url = f"sqlite:///{tmp_path / 'loyalty.sqlite3'}"
    _flask(sqlite_url, None, "db", "upgrade")
    first = _seed(sqlite_url, None, keys_dir)
    assert "Seeded" in first
    sqlite_keys = keys_dir / keys_filename(sqlite_url)
    assert sqlite_keys.name == "demo-keys-sqlite-loyalty.txt"
    assert oct(sqlite_keys.stat().st_mode & 0o777) == "0o600"  # API keys and passwords: the owner's only

    # the same checkout started on MariaDB + Redis (the migrated test database, emptied by the `client` fixture)
    switched = _seed(DB_URL, REDIS_URL, keys_dir)
    assert "Seeded" in switched and "already seeded" not in switched
    mariadb_keys = keys_dir / keys_filename(DB_URL)
    assert mariadb_keys.name.startswith("demo-keys-mysql-") and mariadb_keys != sqlite_keys
    assert "password" not in mariadb_keys.read_text().splitlines()[0]  # the header names the URL without it
    maria_key, sqlite_key = _telecom_key(mariadb_keys), _telecom_key(sqlite_keys)
    assert maria_key != sqlite_key

    again = _seed(DB_URL, REDIS_URL, keys_dir)  # the next start: nothing seeded, the kept keys shown again
    assert "already seeded" in again and maria_key in again and "Seeded" not in again
    assert _telecom_key(mariadb_keys) == maria_key
    assert "already seeded" in _seed(sqlite_url, None, keys_dir)
    assert _telecom_key(sqlite_keys) == sqlite_key

    headers = {"Authorization": f"Bearer {maria_key}"}
    assert client.post("/api/v1/transactions", json=txn("demo-1", 120_000), headers=headers).status_code == 202
    other = {"Authorization": f"Bearer {sqlite_key}"}
    assert client.post("/api/v1/transactions", json=txn("demo-2", 120_000), headers=other).status_code == 401

    for var in ("LOYALTY_DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(var, raising=False)
    forget_cached_keys()  # the process caches key lookups for all its apps; this one is the SQLite database's
    embedded = create_app(Settings.from_env(database_url=sqlite_url, log_level="WARNING"), TESTING=True)
    with embedded.app_context():
        upgrade()  # already at head: a no-op
    posted = embedded.test_client().post(
        "/api/v1/transactions", json=txn("demo-3", 120_000), headers={"Authorization": f"Bearer {sqlite_key}"}
    )
    assert posted.status_code == 202, posted.get_json()
