"""Small helpers shared by the staff pages."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from flask import Response, render_template

from campaigns.errors import DomainError


def html_error(err: DomainError) -> tuple[str, int]:
    return render_template("error.html", status=err.status, message=err.message), err.status


def csv_response(filename: str, header: list[str], rows: Iterable[list[Any]]) -> Response:
    """CSV with formula injection defused (cells starting with = + - @ are prefixed with ')."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    resp = Response(buf.getvalue(), mimetype="text/csv")
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        try:
            float(value)
            return value
        except ValueError:
            return "'" + value
    return value
