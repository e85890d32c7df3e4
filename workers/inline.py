"""The embedded in-process queue: a thread that credits queued rows straight from the database.

Only for the one-command first look on a bare laptop (SQLite, no Redis). It
uses the same ``credit_batch`` as the RQ workers; the database is the queue.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.models import Transaction

from .runtime import Runtime

log = logging.getLogger(__name__)


class InlineDispatcher:
    def __init__(self, rt: Runtime, poll_seconds: float = 2.0) -> None:
        self.rt = rt
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def dispatch(self, pairs: object) -> None:
        self.start()
        self._wake.set()

    def schedule_notify(self) -> None:
        self.start()
        self._wake.set()

    def announce_publication(self, session: Session) -> None:
        """Nothing to do: the embedded worker reads the counter from the database."""

    def start(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="loyalty-inline-worker", daemon=True)
                self._thread.start()

    def drain_now(self) -> int:
        """Credit everything queued, synchronously; returns how many were processed."""
        total = 0
        with self._lock:
            while True:
                with self.rt.session_factory() as session:
                    ids = session.scalars(
                        select(Transaction.id)
                        .where(Transaction.status == "queued")
                        .order_by(Transaction.id)
                        .limit(self.rt.batch_size)
                    ).all()
                if not ids:
                    return total
                total += self.rt.credit(ids).processed

    def _run(self) -> None:
        from .care import monitor

        monitored = 0.0
        while True:
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            try:
                self.drain_now()
                self.rt.send_notifications()
                if time.monotonic() - monitored >= self.rt.care_monitor_seconds:
                    monitored = time.monotonic()
                    monitor(self.rt)
            except Exception:
                log.exception("embedded worker pass failed")
