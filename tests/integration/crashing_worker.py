"""A worker process that SIGKILLs itself mid-batch; driven by test_worker_faults.py.

Usage: python -m tests.integration.crashing_worker {before-commit|after-commit}
"""

from __future__ import annotations

import os
import signal
import sys

import workers.runtime as runtime_module
from tests.conftest import settings_for_tests
from webapp import create_app
from workers.worker import run_worker


def main(mode: str) -> None:
    app = create_app(settings_for_tests(batch_size=5))
    rt = app.extensions["loyalty.runtime"]
    if mode == "after-commit":
        original = rt.credit

        def credit_then_die(ids):  # committed, but the in-flight list is never acknowledged
            original(ids)
            os.kill(os.getpid(), signal.SIGKILL)

        rt.credit = credit_then_die
    else:
        original_batch = runtime_module.credit_batch

        def evaluate_then_die(session, *args, **kwargs):  # ledger rows written, never committed
            original_batch(session, *args, **kwargs)
            session.flush()
            os.kill(os.getpid(), signal.SIGKILL)

        runtime_module.credit_batch = evaluate_then_die
    run_worker(rt, burst=True)


if __name__ == "__main__":
    main(sys.argv[1])
