"""Heavy reads on the MariaDB replica (``LOYALTY_DATABASE_REPLICA_URL``): the per-request choice, its headers and the
"data as of" notice. The routing and the lag measurement are ``campaigns.db.ReadReplica``'s; this is the Flask glue.

A view that serves a dashboard, an analytics page, a report, a simulation replay or an export reads through
:func:`read_session` instead of ``db_session()``. Its response then carries ``X-Data-Source`` (``replica`` or
``primary``), ``X-Data-As-Of`` (ISO 8601, UTC), ``X-Data-Lag-Seconds`` and ``X-Data-Reason`` (why that source); a
page served from the replica more than ``LOYALTY_REPLICA_NOTICE_SECONDS`` behind says so above its content.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, g
from sqlalchemy.orm import Session

from campaigns.db import Freshness, ReadReplica

from .extensions import db, db_session, settings

_REPLICA = "loyalty.replica"


def init_replica(app: Flask) -> None:
    """Build the replica's engine when configured (nothing changes when it is not) and hook the request cycle."""
    app.jinja_env.globals.update(data_freshness=stale_notice)
    conf = app.config["LOYALTY"]
    with app.app_context():
        replica = ReadReplica.from_settings(conf, db.engine)
    if replica is None:
        return
    app.extensions[_REPLICA] = replica

    @app.after_request
    def _freshness_headers(resp: Response) -> Response:
        fresh = freshness()
        if fresh is not None:
            resp.headers["X-Data-Source"] = fresh.source
            resp.headers["X-Data-As-Of"] = fresh.as_of.isoformat(timespec="seconds")
            resp.headers["X-Data-Lag-Seconds"] = str(round(fresh.lag_seconds))
            resp.headers["X-Data-Reason"] = fresh.reason
        return resp

    @app.teardown_appcontext
    def _close_replica_session(_exc: BaseException | None) -> None:
        routed = g.pop("loyalty_read", None)
        if routed is not None and routed[0] is not None:
            routed[0].close()


def replica() -> ReadReplica | None:
    found: ReadReplica | None = current_app.extensions.get(_REPLICA)
    return found


def read_session() -> Session:
    """The session for this request's heavy reads: the replica's when it is within the lag bound, else the primary's.

    Decided once per request (the first call measures the replica), so a page's figures all come from one place.
    Only for reads: the replica session is read-only, and commits and rollbacks of the request's own session do not
    touch it.
    """
    rr = replica()
    if rr is None:
        return db_session()
    if "loyalty_read" not in g:
        g.loyalty_read = rr.route()
    session: Session | None = g.loyalty_read[0]
    return session if session is not None else db_session()


def freshness() -> Freshness | None:
    """How this request's heavy reads were served (None: it made none, or no replica is configured)."""
    routed = g.get("loyalty_read")
    return routed[1] if routed is not None else None


def stale_notice() -> Freshness | None:
    """The freshness to announce on the page: served from the replica more than the notice threshold behind."""
    fresh = freshness()
    if fresh is not None and fresh.on_replica and fresh.lag_seconds > settings().replica_notice_seconds:
        return fresh
    return None
