"""Receive an upload onto disk as it streams in: raw bodies and multipart forms alike.

Nothing is held in memory beyond one read buffer: a raw body is copied from
``request.stream`` in 1 MiB pieces; a multipart form is decoded incrementally
(werkzeug's sans-IO decoder) and only the file part is written, straight to
its destination (werkzeug's own form parsing would spool it to a temporary
file first and copy it again).
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

from flask import request
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from campaigns.errors import DomainError, FieldProblem

PIECE = 1 << 20
FILE_FIELDS = ("file", "upload", "data")


def _bad(message: str, path: str = "file") -> DomainError:
    return DomainError("bad_request", message, [FieldProblem(path, message)], 400)


def _safe_name(name: str | None) -> str:
    base = os.path.basename((name or "").replace("\\", "/")).strip()
    return re.sub(r"[^\w.\-]+", "_", base)[:200] or "upload"


def save_upload(directory: Path, max_bytes: int) -> tuple[Path, str]:
    """Write the request's file to ``directory``; returns (stored path, the client's file name)."""
    request.max_content_length = max_bytes  # imports are bigger than API bodies; checked as the stream is read
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"upload-{uuid.uuid4().hex}"
    try:
        if request.mimetype == "multipart/form-data":
            name = _save_multipart(target)
        else:
            name = request.args.get("filename") or "upload"
            with open(target, "wb") as out:
                stream = request.stream
                while piece := stream.read(PIECE):
                    out.write(piece)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target, _safe_name(name)


def _save_multipart(target: Path) -> str:
    boundary = request.mimetype_params.get("boundary", "").encode("latin-1")
    if not boundary:
        raise _bad("multipart body without a boundary")
    decoder = MultipartDecoder(boundary, max_parts=16)  # it hands data on as it comes: nothing accumulates
    stream = request.stream
    name: str | None = None
    out = None
    writing = done = False
    try:
        while not done:
            piece = stream.read(PIECE // 16)
            decoder.receive_data(piece or None)
            event = decoder.next_event()
            while not isinstance(event, NeedData):
                if isinstance(event, File) and name is None and (event.name in FILE_FIELDS or event.filename):
                    name, writing = event.filename or event.name, True
                    out = open(target, "wb")  # noqa: SIM115 (closed below)
                elif isinstance(event, File | Field):
                    writing = False
                elif isinstance(event, Data) and writing and out is not None:
                    out.write(event.data)
                    if not event.more_data:
                        writing = False
                elif isinstance(event, Epilogue):
                    done = True
                    break
                event = decoder.next_event()
            if not piece:
                break
    except ValueError as exc:
        raise _bad(f"malformed multipart body: {exc}") from None
    finally:
        if out is not None:
            out.close()
    if name is None:
        raise _bad("send the file as a multipart field named 'file' (or as the raw request body)")
    return name
