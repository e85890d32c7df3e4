"""Bulk transaction files over HTTP: upload (streamed to disk), status, error report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Response, request, stream_with_context

from campaigns.errors import invalid
from campaigns.imports import runner as imports
from campaigns.imports.files import FORMATS, FileProblem, inspect
from workers.imports import start

from ..extensions import db, db_session, dispatcher, runtime, settings
from . import bp
from .auth import principal, require, scope_provider_id
from .uploads import save_upload


@bp.post("/imports")
@require("provider")
def create_import() -> Any:
    """Stream the file to disk, check its head (422 naming the line), then run it: inline when small,
    else as an RQ job (or a thread without Redis); answers 202 with the import's status."""
    fmt = request.args.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise invalid("format", f"must be one of {', '.join(FORMATS)}")
    conf = settings()
    path, name = save_upload(Path(conf.import_dir), conf.max_import_bytes)
    try:
        info = inspect(path, imports.TRANSACTIONS, fmt)
    except FileProblem:
        path.unlink(missing_ok=True)
        raise
    rec = imports.create_import(
        db_session(),
        kind=imports.TRANSACTIONS,
        info=info,
        file_name=name,
        provider_id=principal().provider_id,
        source="api",
        stored_path=str(path),
    )
    db.session.commit()
    rt = runtime()
    start(rt, rec.id, dispatcher().dispatch, inline=info.size <= conf.import_inline_bytes)
    db.session.refresh(rec)
    resp = imports.view(db_session(), rec)
    return resp, 202, {"Location": f"/api/v1/imports/{rec.id}"}


@bp.get("/imports")
@require("provider", "staff")
def list_imports() -> Any:
    return {"imports": [imports.view(db_session(), r) for r in imports.list_imports(db_session(), scope_provider_id())]}


@bp.get("/imports/<int:import_id>")
@require("provider", "staff")
def show_import(import_id: int) -> Any:
    return imports.view(db_session(), imports.get_import(db_session(), import_id, scope_provider_id()))


@bp.get("/imports/<int:import_id>/errors.csv")
@require("provider", "staff")
def import_errors(import_id: int) -> Response:
    rec = imports.get_import(db_session(), import_id, scope_provider_id())
    factory = runtime().session_factory
    body = stream_with_context(imports.error_report(factory, rec.id, rec.kind))
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="import-{rec.id}-errors.csv"'},
    )
