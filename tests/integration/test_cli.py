"""The CLI contracts: exact command names, key on the last line, errors with paths."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.api import txn
from tests.helpers.database import ledger_ok
from tests.helpers.services import DB_URL, REDIS_URL

ROOT = Path(__file__).resolve().parents[2]


def _flask(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LOYALTY_DATABASE_URL": DB_URL, "REDIS_URL": REDIS_URL, "LOYALTY_PARTITIONS": "4"}
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow  # real `flask` subprocesses, an RQ worker among them
def test_real_cli_provider_key_import_worker(app, client, tmp_path):
    out = _flask("providers", "create", "telecom", "--name", "Mobile operator")
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip().splitlines()[-1]
    assert key.startswith("lp_") and " " not in key

    doc = tmp_path / "bonus.yaml"
    doc.write_text((ROOT / "docs/examples/base-earning.yaml").read_text())
    imported = _flask("campaigns", "import", str(doc), "--publish")
    assert imported.returncode == 0, imported.stderr

    resp = client.post("/api/v1/transactions", json=txn("cli-1", 250_000), headers={"Authorization": f"Bearer {key}"})
    assert resp.status_code == 202
    worked = _flask("worker", "--burst")
    assert worked.returncode == 0, worked.stderr
    view = client.get(
        f"/api/v1/transactions/{resp.get_json()['id']}", headers={"Authorization": f"Bearer {key}"}
    ).get_json()
    assert view["status"] == "processed" and view["points"] == 25
    checked = _flask("ledger", "check")
    assert checked.returncode == 0 and "ledger OK" in checked.stdout


def test_invalid_campaign_import_prints_paths_and_fails(app, clean, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"name": "X", "rules": [{"name": "r", "conditions": {"all": [{"name": "amount", "operator": "greater", "value": 1}]}, "actions": [{"name": "award_points", "params": {"points": 1}}]}]}'
    )
    result = app.test_cli_runner().invoke(args=["campaigns", "import", str(bad)])
    assert result.exit_code != 0
    assert "rules[0].conditions.all[0].operator" in result.output


def test_staff_token_and_demo_seed(app, client, clean):
    runner = app.test_cli_runner()
    token = runner.invoke(args=["staff-token", "create", "ops"]).output.strip().splitlines()[-1]
    assert client.get("/api/v1/campaigns", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    seeded = runner.invoke(args=["demo", "seed", "--customers", "10", "--transactions", "40"])
    assert seeded.exit_code == 0, seeded.output
    assert runner.invoke(args=["worker", "--burst"]).exit_code == 0
    ledger_ok(app)
    again = runner.invoke(args=["demo", "seed", "--customers", "10", "--transactions", "5"])
    assert again.exit_code == 0, again.output


def test_provider_code_rules(app, clean):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["providers", "create", "Bad Code!", "--name", "x"]).exit_code == 1
    assert runner.invoke(args=["providers", "create", "post", "--name", "Post"]).exit_code == 0
    dup = runner.invoke(args=["providers", "create", "post", "--name", "Post"])
    assert dup.exit_code == 1 and "already exists" in dup.output


@pytest.mark.slow  # two `flask worker` subprocesses
def test_the_care_monitor_can_have_a_worker_of_its_own(app, client, clean, telecom, staff, redis_client):
    """``worker --no-care`` credits and leaves the monitor's job; ``worker care`` runs it and credits nothing."""
    from rq import Queue

    from tests.helpers.api import publish
    from tests.helpers.documents import BASE_EARNING
    from workers.queues import CARE_QUEUE

    publish(client, staff, BASE_EARNING)
    care = Queue(CARE_QUEUE, connection=redis_client)
    care.enqueue("workers.jobs.care_monitor")
    resp = client.post("/api/v1/transactions", json=txn("care-1"), headers=telecom.headers)
    assert resp.status_code == 202
    view = f"/api/v1/transactions/{resp.get_json()['id']}"

    crediting = _flask("worker", "--no-care", "--burst")
    assert crediting.returncode == 0, crediting.stderr
    assert client.get(view, headers=telecom.headers).get_json()["status"] == "processed"
    assert care.count == 1

    second = client.post("/api/v1/transactions", json=txn("care-2"), headers=telecom.headers).get_json()["id"]
    monitor = _flask("worker", "care", "--burst")
    assert monitor.returncode == 0, monitor.stderr
    assert care.count == 0
    status = client.get(f"/api/v1/transactions/{second}", headers=telecom.headers).get_json()["status"]
    assert status == "queued"
    assert _flask("worker", "--burst").returncode == 0  # the books balance at the end (the clean fixture checks)
