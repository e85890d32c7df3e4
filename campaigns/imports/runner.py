"""Bulk imports: provider transaction files and customer migrations, streamed, chunked, resumable.

A file is read once as a stream (``importfiles``) and written in chunks of a
few thousand rows, each chunk in one database transaction together with the
import's counters, its rejected rows and its resume point (``last_line``). So:

* memory stays flat: one chunk of rows at a time;
* a kill at any moment loses nothing and repeats nothing: a resume skips what
  the imports table says was committed, and transactions are unique by
  ``provider_txn_id`` (customers by ``open:{ref}``) anyway, so even a plain
  re-import credits nothing twice;
* every row goes through the API's own validation (``parse_transaction``) and
  ingestion (``ingest``: identity resolution, duplicate detection), and the
  accepted ids are handed to the same dispatcher, so the same workers and
  rules credit them.

Who runs an import holds a lease (``owner``); a chunk only commits while its
runner still holds it, so two processes can never both advance one import.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from campaigns.accrual.transactions import ACCEPTED, DUPLICATE, ingest
from campaigns.catalog import programme
from campaigns.catalog.published import load as load_published
from campaigns.clearing import PROGRAMME
from campaigns.clock import utcnow
from campaigns.db import retry_transient
from campaigns.errors import DomainError, not_found
from campaigns.imports import opening
from campaigns.imports.files import CSV, FileInfo, FileProblem, LineStream, Row, RowProblem, read_rows
from campaigns.models import Import, ImportProblem, ImportStatus, Provider, Transaction
from campaigns.schemas import parse_transaction

log = logging.getLogger(__name__)

TRANSACTIONS, CUSTOMERS = "transactions", "customers"
QUEUED: ImportStatus = "queued"
RUNNING: ImportStatus = "running"
DONE: ImportStatus = "done"
FAILED: ImportStatus = "failed"
FINISHED = (DONE, FAILED)
CHUNK_ROWS = 2000
STALE_SECONDS = 300  # a running import whose runner has not committed for this long is taken over

Dispatch = Callable[[list[tuple[int, int]]], None]


@dataclass
class Progress:
    """What a progress bar and the status endpoint show."""

    import_id: int
    size: int
    rows_read: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    points: int = 0
    bytes_done: int = 0
    line: int = 0
    status: ImportStatus = RUNNING
    message: str | None = None
    rows_this_run: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def rows_per_second(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.rows_this_run / elapsed if elapsed > 0 else 0.0


class LeaseLost(Exception):
    """Another runner took this import over (a resume after a presumed crash); this one stops."""


@dataclass(frozen=True)
class Options:
    max_future: timedelta = timedelta(seconds=300)
    chunk_rows: int = CHUNK_ROWS


# -- records -----------------------------------------------------------------------------------------


def create_import(
    session: Session,
    *,
    kind: str,
    info: FileInfo,
    file_name: str,
    provider_id: int | None = None,
    source: str = "cli",
    stored_path: str | None = None,
) -> Import:
    """Record a new import (the caller commits)."""
    now = utcnow()
    rec = Import(
        kind=kind,
        provider_id=provider_id,
        source=source,
        file_name=file_name[-255:],
        stored_path=stored_path,
        format=info.format,
        compression=info.compression,
        size_bytes=info.size,
        fingerprint=info.fingerprint,
        status=QUEUED,
        rows_read=0,
        accepted=0,
        duplicates=0,
        rejected=0,
        points=0,
        bytes_done=0,
        last_line=0,
        resume_offset=0,
        resume_line=0,
        heartbeat_at=now,
        created_at=now,
    )
    session.add(rec)
    session.flush()
    return rec


def find_resumable(session: Session, *, kind: str, provider_id: int | None, fingerprint: str) -> Import | None:
    """The latest import of the same file (same content) by the same provider, if any."""
    return session.scalars(
        select(Import)
        .where(Import.kind == kind, Import.provider_id == provider_id, Import.fingerprint == fingerprint)
        .order_by(Import.id.desc())
        .limit(1)
    ).first()


def claim(
    session_factory: sessionmaker[Session], import_id: int, *, force: bool = False, stale_seconds: int = STALE_SECONDS
) -> str | None:
    """Take the lease on an import: a queued one, a running one nobody advanced for a while, or (``force``,
    an operator's resume) any unfinished or failed one. Returns the lease token, None if someone else holds it."""
    token = uuid.uuid4().hex
    now = utcnow()
    stale = now - timedelta(seconds=stale_seconds)
    allowed = [Import.status == QUEUED, (Import.status == RUNNING) & (Import.heartbeat_at < stale)]
    if force:
        allowed.append(Import.status.in_((RUNNING, FAILED)))
    with session_factory() as session:
        rec = session.get(Import, import_id)
        started = rec.started_at if rec is not None else None
        res = session.execute(
            update(Import)
            .where(Import.id == import_id, or_(*allowed))
            .values(owner=token, status=RUNNING, heartbeat_at=now, started_at=started or now, message=None)
        )
        session.commit()
    return token if res.rowcount == 1 else None  # type: ignore[attr-defined]


def stale_imports(session: Session, *, stale_seconds: int = STALE_SECONDS) -> list[int]:
    """Uploaded imports a worker should (re)start: waiting or abandoned for longer than ``stale_seconds``."""
    cutoff = utcnow() - timedelta(seconds=stale_seconds)
    return list(
        session.scalars(
            select(Import.id).where(
                Import.source == "api", Import.status.in_((QUEUED, RUNNING)), Import.heartbeat_at < cutoff
            )
        )
    )


# -- running -----------------------------------------------------------------------------------------


def run_import(
    session_factory: sessionmaker[Session],
    import_id: int,
    token: str,
    *,
    dispatch: Dispatch,
    path: Path | None = None,
    options: Options | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> Progress:
    """Run (or resume) an import whose lease ``token`` we hold, to ``done`` or ``failed``."""
    return _Runner(session_factory, import_id, token, dispatch, path, options or Options(), progress).run()


class _Runner:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        import_id: int,
        token: str,
        dispatch: Dispatch,
        path: Path | None,
        options: Options,
        progress: Callable[[Progress], None] | None,
    ) -> None:
        self.factory, self.id, self.token, self.dispatch = session_factory, import_id, token, dispatch
        self.options, self.on_progress = options, progress
        with session_factory() as session:
            rec = session.get(Import, import_id)
            if rec is None:
                raise not_found(f"import {import_id}")
            self.kind, self.provider_id, self.source = rec.kind, rec.provider_id, rec.source
            self.resume_after = rec.last_line
            self.resume_at = (rec.resume_offset, rec.resume_line) if rec.last_line else None
            self.stored = rec.stored_path
            self.path = Path(path or rec.stored_path or "")
            self.info = FileInfo(self.path, rec.format, rec.compression == "gzip", rec.size_bytes, rec.fingerprint)
            self.progress = Progress(
                import_id,
                rec.size_bytes,
                rec.rows_read,
                rec.accepted,
                rec.duplicates,
                rec.rejected,
                rec.points,
                rec.bytes_done,
                rec.last_line,
            )
            self.programme = programme.load(session)
            self.tiers: frozenset[str] | None = None
            if self.kind == CUSTOMERS:
                pub = load_published(session)
                self.tiers = frozenset(pub.tiers) if pub.tier_spec is not None else None
        self.csv_names = self.info.format == CSV

    # -- the loop

    def run(self) -> Progress:
        if not self.path.is_file():
            return self._finish(FAILED, f"the file {self.path} is no longer there")
        lines = LineStream(self.path, self.info.compressed)
        try:
            status, message = self._loop(lines)
            return self._finish(status, message)
        except LeaseLost:
            log.warning("import %s: taken over by another runner; stopping", self.id)
            return self.progress
        except Exception as exc:
            log.exception("import %s failed", self.id)
            try:
                self._finish(FAILED, f"internal error after line {self.progress.line}: {exc}"[:1000])
            except Exception:  # the database is gone too: the lease goes stale and a resume continues
                log.exception("import %s: could not record the failure", self.id)
            raise
        finally:
            lines.close()

    def _loop(self, lines: LineStream) -> tuple[ImportStatus, str | None]:
        """Read and commit chunk by chunk; a problem with the file keeps what came before it."""
        chunk: list[Row] = []
        refs: list[str] = []
        try:
            # A resume seeks to the last committed chunk and reads it again only to re-dispatch it.
            for row in read_rows(self.info, self.kind, lines, self.resume_at):
                if row.line <= self.resume_after:
                    if row.ref:
                        refs.append(row.ref)
                    continue
                if refs:
                    self._redispatch(refs)
                    refs = []
                chunk.append(row)
                if len(chunk) >= self.options.chunk_rows:
                    self._commit(chunk, lines.position())
                    chunk = []
        except FileProblem as problem:
            self._commit(chunk, lines.position())
            return FAILED, problem.message
        if refs:
            self._redispatch(refs)
        self._commit(chunk, lines.position())
        return DONE, None

    def _commit(self, chunk: Sequence[Row], position: int) -> None:
        if not chunk:
            return
        pairs = retry_transient(lambda: self._write(chunk, position), backoff=0.2)  # nothing was committed
        self._dispatch(pairs)
        if self.on_progress is not None:
            self.on_progress(self.progress)

    def _write(self, chunk: Sequence[Row], position: int) -> list[tuple[int, int]]:
        """One database transaction: the rows, their errors, the counters and the resume point."""
        now = utcnow()
        problems: list[RowProblem] = []
        pairs: list[tuple[int, int]] = []
        counts = {"accepted": 0, "duplicates": 0, "points": 0}
        with self.factory() as session:
            if self.kind == TRANSACTIONS:
                self._transactions(session, chunk, now, problems, pairs, counts)
            else:
                self._customers(session, chunk, now, problems, counts)
            problems.sort(key=lambda p: p.line)
            if problems:
                session.execute(
                    insert(ImportProblem),
                    [
                        {
                            "import_id": self.id,
                            "line": p.line,
                            "ref": p.ref,
                            "field": p.field[:100],
                            "reason": p.reason[:1000],
                        }
                        for p in problems
                    ],
                )
            res = session.execute(
                update(Import)
                .where(Import.id == self.id, Import.owner == self.token)
                .values(
                    rows_read=Import.rows_read + len(chunk),
                    accepted=Import.accepted + counts["accepted"],
                    duplicates=Import.duplicates + counts["duplicates"],
                    rejected=Import.rejected + len(problems),
                    points=Import.points + counts["points"],
                    last_line=chunk[-1].line,
                    resume_offset=chunk[0].offset,
                    resume_line=chunk[0].line - 1,
                    bytes_done=position,
                    heartbeat_at=now,
                )
            )
            if res.rowcount != 1:  # type: ignore[attr-defined]
                session.rollback()
                raise LeaseLost()
            session.commit()
        p = self.progress
        p.rows_read += len(chunk)
        p.rows_this_run += len(chunk)
        p.accepted += counts["accepted"]
        p.duplicates += counts["duplicates"]
        p.rejected += len(problems)
        p.points += counts["points"]
        p.bytes_done = position
        p.line = chunk[-1].line
        return pairs

    def _transactions(
        self,
        session: Session,
        chunk: Sequence[Row],
        now: datetime,
        problems: list[RowProblem],
        pairs: list[tuple[int, int]],
        counts: dict[str, int],
    ) -> None:
        valid, where = [], []
        for row in chunk:
            if row.problem is not None:
                problems.append(row.problem)
                continue
            try:
                valid.append(parse_transaction(row.data, max_future=self.options.max_future, now=now))
                where.append(row)
            except DomainError as err:
                problems.append(self._problem(row, err))
        if not valid:
            return
        assert self.provider_id is not None
        for row, out in zip(where, ingest(session, self.provider_id, valid, now), strict=True):
            if out.status == ACCEPTED:
                assert out.txn is not None
                pairs.append((out.txn["id"], out.txn["customer_id"]))
                counts["accepted"] += 1
            elif out.status == DUPLICATE:
                counts["duplicates"] += 1
                if out.txn is not None and out.txn["status"] == "queued":
                    # An earlier run killed between its commit and its dispatch left it with no worker told:
                    # hand it over again (crediting skips what is no longer queued, so this is harmless).
                    pairs.append((out.txn["id"], out.txn["customer_id"]))
            else:
                assert out.error is not None
                problems.append(self._problem(row, out.error))

    def _customers(
        self, session: Session, chunk: Sequence[Row], now: datetime, problems: list[RowProblem], counts: dict[str, int]
    ) -> None:
        valid: list[opening.Migrated] = []
        for i, row in enumerate(chunk):
            if row.problem is not None:
                problems.append(row.problem)
                continue
            try:
                valid.append(opening.Migrated(i, opening.parse_customer(row.data, csv_names=self.csv_names)))
            except DomainError as err:
                problems.append(self._problem(row, err))
        if not valid:
            return
        result, errors = opening.apply_chunk(
            session,
            valid,
            programme=self.programme,
            tiers=self.tiers,
            now=now,
            source=f"import {self.id}",
            funder_id=self.provider_id or PROGRAMME,  # a customer import's provider is the funder named on it
            provider_id=self.provider_id,
        )
        for i, refused in sorted(errors.items()):
            problems.append(self._problem(chunk[i], refused))
        counts["accepted"] += result.accepted
        counts["duplicates"] += result.duplicates
        counts["points"] += result.points

    def _problem(self, row: Row, err: DomainError) -> RowProblem:
        named = [(self._field(f.path), f.reason) for f in err.fields] or [("row", err.message)]
        path, reason = named[0]
        if err.code == "identity_conflict":
            reason = err.message
        elif len(named) > 1:
            reason += " (also " + "; ".join(f"{p}: {r}" for p, r in named[1:]) + ")"
        return RowProblem(row.line, row.ref, path, reason)

    def _field(self, path: str) -> str:
        """API paths for NDJSON; CSV column names for CSV (``customer.phone`` is the ``phone`` column)."""
        if not self.csv_names or self.kind != TRANSACTIONS:
            return path
        if path.startswith("customer."):
            return path[len("customer.") :]
        return "phone" if path == "customer" else path

    def _dispatch(self, pairs: list[tuple[int, int]]) -> None:
        if not pairs:
            return
        try:
            self.dispatch(pairs)
        except Exception:  # committed rows are never lost: the sweeper re-dispatches what stays queued
            log.exception("import %s: dispatch of %s transactions failed; the sweeper will", self.id, len(pairs))

    def _redispatch(self, refs: list[str]) -> None:
        """After a crash the last committed chunk may never have reached the workers: hand it over again."""
        if self.kind != TRANSACTIONS or self.provider_id is None:
            return
        with self.factory() as session:
            pairs = [
                (tid, cid)
                for tid, cid in session.execute(
                    select(Transaction.id, Transaction.customer_id)
                    .where(
                        Transaction.provider_id == self.provider_id,
                        Transaction.source == "txn",
                        Transaction.provider_txn_id.in_(set(refs)),
                        Transaction.status == "queued",
                    )
                    .order_by(Transaction.id)
                )
            ]
        self._dispatch(pairs)

    def _finish(self, status: ImportStatus, message: str | None) -> Progress:
        now = utcnow()
        with self.factory() as session:
            res = session.execute(
                update(Import)
                .where(Import.id == self.id, Import.owner == self.token)
                .values(status=status, message=message, finished_at=now, heartbeat_at=now, owner=None)
            )
            session.commit()
        if res.rowcount != 1:  # type: ignore[attr-defined]
            log.warning("import %s: lease lost before it could be closed", self.id)
        if self.stored and res.rowcount == 1:  # type: ignore[attr-defined]
            _remove(self.stored)
        self.progress.status, self.progress.message = status, message
        if self.on_progress is not None:
            self.on_progress(self.progress)
        return self.progress


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


# -- reading -----------------------------------------------------------------------------------------


def get_import(session: Session, import_id: int, provider_id: int | None) -> Import:
    """One import; a provider sees only its own (anything else is 'not found')."""
    rec = session.get(Import, import_id)
    if rec is None or (provider_id is not None and rec.provider_id != provider_id):
        raise not_found(f"import {import_id}")
    return rec


def list_imports(session: Session, provider_id: int | None, limit: int = 50) -> list[Import]:
    q = select(Import).order_by(Import.id.desc()).limit(limit)
    if provider_id is not None:
        q = q.where(Import.provider_id == provider_id)
    return list(session.scalars(q))


def view(session: Session, rec: Import) -> dict[str, Any]:
    """Counts while it runs, the summary after: the same shape for the API and the CLI."""
    provider = session.scalar(select(Provider.code).where(Provider.id == rec.provider_id)) if rec.provider_id else None
    end = rec.finished_at or rec.heartbeat_at
    elapsed = (end - rec.started_at).total_seconds() if rec.started_at and end else 0.0
    rate = rec.rows_read / elapsed if elapsed > 0 else 0.0
    fraction = min(1.0, rec.bytes_done / rec.size_bytes) if rec.size_bytes else 0.0
    if rec.status == DONE:
        fraction = 1.0
    eta = None
    if rec.status == RUNNING and 0 < fraction < 1 and elapsed > 0:
        eta = round(elapsed * (1 - fraction) / fraction, 1)
    out: dict[str, Any] = {
        "id": rec.id,
        "kind": rec.kind,
        "status": rec.status,
        "finished": rec.status in FINISHED,
        "provider": provider,
        "file_name": rec.file_name,
        "format": rec.format,
        "compression": rec.compression,
        "size_bytes": rec.size_bytes,
        "rows_read": rec.rows_read,
        "accepted": rec.accepted,
        "duplicates": rec.duplicates,
        "rejected": rec.rejected,
        "last_line": rec.last_line,
        "progress": round(fraction, 4),
        "rows_per_second": round(rate, 1),
        "eta_seconds": eta,
        "message": rec.message,
        "created_at": rec.created_at,
        "started_at": rec.started_at,
        "finished_at": rec.finished_at,
        "errors_url": f"/api/v1/imports/{rec.id}/errors.csv",
    }
    if rec.kind == CUSTOMERS:
        out["points"] = rec.points
    return out


def error_report(session_factory: sessionmaker[Session], import_id: int, kind: str, page: int = 5000) -> Iterator[str]:
    """The error report as CSV text, streamed page by page (line, provider_txn_id or customer_ref, field, reason)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["line", "provider_txn_id" if kind == TRANSACTIONS else "customer_ref", "field", "reason"])
    yield buf.getvalue()
    after = 0
    while True:
        with session_factory() as session:
            rows = session.execute(
                select(
                    ImportProblem.id, ImportProblem.line, ImportProblem.ref, ImportProblem.field, ImportProblem.reason
                )
                .where(ImportProblem.import_id == import_id, ImportProblem.id > after)
                .order_by(ImportProblem.id)
                .limit(page)
            ).all()
        if not rows:
            return
        buf.seek(0)
        buf.truncate()
        for _id, line, ref, fld, reason in rows:
            writer.writerow([line, ref or "", fld, reason])
        yield buf.getvalue()
        after = rows[-1][0]
