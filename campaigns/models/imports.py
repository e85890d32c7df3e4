"""Bulk file imports and their rejected rows (``campaigns.imports``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.clock import utcnow
from campaigns.models.base import Base, BigId, UTCDateTime

ImportStatus = Literal["queued", "running", "done", "failed"]  # a bulk import


class Import(Base):
    """One bulk file import (transactions or customer migration): its progress, outcome and resume point.

    ``last_line`` moves in the same database transaction as the rows it covers,
    so a killed import resumes exactly after what was committed; ``owner`` is a
    lease: whoever holds it is the one process allowed to advance the import.
    """

    __tablename__ = "imports"
    __table_args__ = (Index("ix_import_provider", "provider_id", "id"), Index("ix_import_fingerprint", "fingerprint"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # transactions | customers
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"), nullable=True)
    source: Mapped[str] = mapped_column(String(8), default="cli")  # cli | api
    file_name: Mapped[str] = mapped_column(String(255))
    stored_path: Mapped[str | None] = mapped_column(String(1000), nullable=True)  # upload kept for the worker
    format: Mapped[str] = mapped_column(String(8))  # csv | ndjson
    compression: Mapped[str | None] = mapped_column(String(8), nullable=True)  # gzip
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[ImportStatus] = mapped_column(String(16), default="queued")
    rows_read: Mapped[int] = mapped_column(BigInteger, default=0)
    accepted: Mapped[int] = mapped_column(BigInteger, default=0)
    duplicates: Mapped[int] = mapped_column(BigInteger, default=0)
    rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    points: Mapped[int] = mapped_column(BigInteger, default=0)  # opening points credited (customers)
    bytes_done: Mapped[int] = mapped_column(BigInteger, default=0)  # file position at the last commit
    last_line: Mapped[int] = mapped_column(BigInteger, default=0)  # first line of the last committed row
    resume_offset: Mapped[int] = mapped_column(BigInteger, default=0)  # (decompressed) offset of the last chunk
    resume_line: Mapped[int] = mapped_column(BigInteger, default=0)  # lines before that offset
    message: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ImportProblem(Base):
    """A rejected row of an import, written with the chunk it belongs to (the error report, exactly once)."""

    __tablename__ = "import_errors"
    __table_args__ = (Index("ix_import_error_line", "import_id", "line"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    import_id: Mapped[int] = mapped_column(BigId)
    line: Mapped[int] = mapped_column(BigInteger)
    ref: Mapped[str | None] = mapped_column(String(100), nullable=True)  # provider_txn_id / customer_ref
    field: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(1000))
