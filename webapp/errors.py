"""One JSON error shape everywhere: ``{"error": {"code", "message", "fields": [{"path", "reason"}]}}``."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from campaigns.db import error_code, is_transient
from campaigns.errors import DomainError, FieldProblem

log = logging.getLogger(__name__)

# MySQL client/server errors that mean "cannot talk to the database" (not "the statement failed").
CONNECTION_ERRORS = {
    1040,
    1042,
    1043,
    1047,
    1053,
    1077,
    1080,
    1152,
    1159,
    1160,
    1161,
    2002,
    2003,
    2005,
    2006,
    2013,
    2055,
}

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


def error_body(code: str, message: str, fields: list[FieldProblem] | None = None) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "fields": [_field(f) for f in fields or []],
        }
    }


def _field(f: FieldProblem) -> dict[str, Any]:
    """``{path, reason}``, plus ``line`` and ``column`` for a problem located in a submitted document."""
    out: dict[str, Any] = {"path": f.path, "reason": f.reason}
    if f.line is not None:
        out.update(line=f.line, column=f.column)
    return out


def error_response(status: int, code: str, message: str, fields: list[FieldProblem] | None = None) -> Response:
    resp = jsonify(error_body(code, message, fields))
    resp.status_code = status
    return resp


def _html() -> bool:
    """Staff pages get HTML error pages; the API, the gateways' channel endpoints and the health check keep
    the JSON shape."""
    return not request.path.startswith(("/api/", "/channels/", "/healthz"))


def html_error(status: int, message: str) -> Any:
    return render_template("error.html", status=status, message=message), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(err: DomainError) -> Any:
        retry_after = getattr(err, "retry_after", None)
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        if _html():
            body, status = html_error(err.status, err.message)
            return body, status, headers
        resp = error_response(err.status, err.code, err.message, err.fields)
        resp.headers.update(headers)
        return resp

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException) -> Any:
        status = err.code or 500
        message = err.description or err.name
        if _html():
            return html_error(status, message)
        if status == 413:  # the limit of this request (file uploads have their own)
            limit = request.max_content_length if request else app.config["MAX_CONTENT_LENGTH"]
            message = f"request body is larger than {limit} bytes"
        resp = error_response(status, HTTP_CODES.get(status, "error"), message)
        if status == 405 and err.get_headers():
            for k, v in err.get_headers():
                if k.lower() == "allow":
                    resp.headers["Allow"] = v
        return resp

    def _unavailable(err: Exception) -> Response:
        orig = getattr(err, "orig", None)
        log.error("database unavailable: %s %s", err.__class__.__name__, getattr(orig, "args", ""))
        detail = f" ({err.__class__.__name__}: {str(err)[:200]})" if app.testing else ""
        resp = error_response(
            503, "unavailable", f"the database is unreachable; nothing was stored, retry later{detail}"
        )
        resp.headers["Retry-After"] = "5"
        return resp

    @app.errorhandler(OperationalError)
    def _operational(err: OperationalError) -> Response:
        code = error_code(err)
        if is_transient(err):
            resp = error_response(503, "busy", "the database is busy with the same records; nothing was stored, retry")
            resp.headers["Retry-After"] = "1"
            return resp
        if code in CONNECTION_ERRORS or err.connection_invalidated:
            return _unavailable(err)
        log.exception("database error %s", code)  # e.g. 1054: schema and code disagree; not an outage
        detail = f": {err.orig}" if app.testing else ""
        return error_response(500, "internal_error", f"unexpected database error{detail}")

    @app.errorhandler(PoolTimeout)
    def _pool(err: PoolTimeout) -> Response:
        return _unavailable(err)

    @app.errorhandler(DBAPIError)
    def _dbapi(err: DBAPIError) -> Response:
        if err.connection_invalidated:
            return _unavailable(err)
        log.exception("database error")
        detail = f": {err.orig}" if app.testing else ""
        return error_response(500, "internal_error", f"unexpected database error{detail}")

    @app.errorhandler(Exception)
    def _unexpected(err: Exception) -> Any:
        log.exception("unhandled error")
        detail = f": {err!r}" if app.testing else ""
        if _html():
            return html_error(500, f"Something went wrong; it has been logged{detail}.")
        return error_response(500, "internal_error", f"unexpected error; it has been logged{detail}")
