"""Runtime checks are real checks, not ``assert``: they hold under ``python -O`` (which strips asserts)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # real subprocesses / fault injection: left out of `bin/test --fast`

ROOT = Path(__file__).resolve().parents[1]


def _optimized(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-O", "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_an_rq_worker_without_redis_is_refused_under_python_O():
    out = _optimized(
        """
        from workers.runtime import Runtime
        from workers.worker import run_worker
        try:
            run_worker(Runtime(session_factory=None, redis=None), burst=True)
        except RuntimeError as exc:
            print("refused:", exc)
        """
    )
    assert "refused: an RQ worker needs REDIS_URL" in out.stdout, out.stdout + out.stderr


def test_a_claim_from_an_unknown_channel_is_refused_under_python_O():
    out = _optimized(
        """
        from campaigns.care.claims import file
        try:
            file(None, 1, {"description": "missing points"}, channel="fax")
        except ValueError as exc:
            print("refused:", exc)
        """
    )
    assert "refused: unknown claim channel 'fax'" in out.stdout, out.stdout + out.stderr


def test_inconsistent_permission_tables_are_refused_under_python_O():
    out = _optimized(
        """
        from campaigns.permissions import ACTIONS, PERMISSIONS, ROLES, check_tables
        check_tables(PERMISSIONS, ROLES, frozenset(ACTIONS))  # the shipped tables pass
        for broken in (
            (PERMISSIONS, (*ROLES, "auditor"), frozenset(ACTIONS)),
            ({**PERMISSIONS, "care": PERMISSIONS["care"] | {"ledger.rewrite"}}, ROLES, frozenset(ACTIONS)),
        ):
            try:
                check_tables(*broken)
            except RuntimeError as exc:
                print("refused:", exc)
        """
    )
    assert out.stdout.count("refused:") == 2, out.stdout + out.stderr
    assert "auditor" in out.stdout and "ledger.rewrite" in out.stdout
