"""A worker process that SIGKILLs itself at a chosen point of a drain; driven by test_worker_faults.py.

Usage: python -m tests.integration.crashing_worker MODE   (batches of 5 transactions)

Modes, in the order a drain goes through them:
  mid-batch      the 2nd batch has evaluated 2 of its 5 transactions (nothing of it written)
  before-commit  the 1st batch's ledger rows are written (flushed) but not committed
  after-commit   the 1st batch is committed; its ids are still in the in-flight list
  after-ack      the 2nd batch is committed and acknowledged (the move that took the 3rd batch
                 into the in-flight list deleted it from there); the 3rd is not credited, the
                 RQ job is still running (never marked done) and the partition lock still held
"""

from __future__ import annotations

import os
import signal
import sys

import campaigns.accrual.crediting as accrual_module
import workers.drain as drain_module
import workers.runtime as runtime_module
from tests.helpers.services import settings_for_tests
from webapp import create_app
from workers.worker import run_worker

MODES = ("mid-batch", "before-commit", "after-commit", "after-ack")


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main(mode: str) -> None:
    if mode not in MODES:
        raise SystemExit(f"mode must be one of {MODES}")
    app = create_app(settings_for_tests(batch_size=5))
    rt = app.extensions["loyalty.runtime"]
    if mode == "mid-batch":
        original_one = accrual_module._credit_one
        calls = [0]

        def credit_one_then_die(*args, **kwargs):
            calls[0] += 1
            if calls[0] == 8:  # the 3rd transaction of the 2nd batch
                _die()
            return original_one(*args, **kwargs)

        accrual_module._credit_one = credit_one_then_die
    elif mode == "before-commit":
        original_batch = runtime_module.credit_batch

        def evaluate_then_die(session, *args, **kwargs):  # ledger rows written, never committed
            original_batch(session, *args, **kwargs)
            session.flush()
            _die()

        runtime_module.credit_batch = evaluate_then_die
    elif mode == "after-commit":
        original = rt.credit

        def credit_then_die(ids):  # committed, but the in-flight list is never acknowledged
            original(ids)
            _die()

        rt.credit = credit_then_die
    else:
        original_credit = drain_module._credit
        batches = [0]

        def die_once_acknowledged(*args, **kwargs):  # the 2nd batch acknowledged; the job and lock left behind
            batches[0] += 1
            if batches[0] == 3:
                _die()
            return original_credit(*args, **kwargs)

        drain_module._credit = die_once_acknowledged
    run_worker(rt, burst=True)


if __name__ == "__main__":
    main(sys.argv[1])
