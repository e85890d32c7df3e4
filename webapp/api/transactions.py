"""Provider transactions: single, batch, status, reversal."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from redis.exceptions import RedisError

from campaigns.accrual.reversals import request_reversal
from campaigns.accrual.transactions import ACCEPTED, ERROR, get_transaction, ingest
from campaigns.clock import utcnow
from campaigns.errors import DomainError
from campaigns.schemas import ReversalIn, parse_batch, parse_transaction, problems_of

from ..extensions import db, db_session, dispatcher
from . import bp
from .auth import calling_provider_id, require, scope_provider_id
from .util import max_future, read_json, require_object, retry_transient

log = logging.getLogger(__name__)


def dispatch(pairs: list[tuple[int, int]]) -> None:
    """Hand committed ids to the workers; if Redis is down the sweeper will find them.

    Ids handed over twice (a replay of a still-queued transaction) are credited once: crediting skips
    what is no longer queued, and credits a customer's older queued transactions first.
    """
    if not pairs:
        return
    try:
        dispatcher().dispatch(pairs)
    except RedisError:
        log.warning("dispatch failed for %s transactions; the sweeper will re-dispatch them", len(pairs))


def _error_item(err: DomainError) -> dict[str, Any]:
    return {
        "code": err.code,
        "message": err.message,
        "fields": [{"path": f.path, "reason": f.reason} for f in err.fields],
    }


@bp.post("/transactions")
@require("provider")
@retry_transient
def create_transaction() -> Any:
    now = utcnow()
    txn = parse_transaction(read_json(), max_future=max_future(), now=now)
    out = ingest(db_session(), calling_provider_id(), [txn], now, look_first=False)[0]
    if out.status == ERROR:
        db.session.rollback()
        assert out.error is not None
        raise out.error
    db.session.commit()
    assert out.txn is not None
    if out.txn["status"] == "queued":  # new, or a replay whose first dispatch may never have happened
        dispatch([(out.txn["id"], out.txn["customer_id"])])
    return out.txn, 202 if out.status == ACCEPTED else 200


@bp.post("/transactions/batch")
@require("provider")
@retry_transient
def create_transactions_batch() -> Any:
    now = utcnow()
    data = read_json()
    items = parse_batch(data if isinstance(data, list) else require_object(data))
    results: list[dict[str, Any] | None] = [None] * len(items)
    valid, where = [], []
    for i, item in enumerate(items):
        try:
            valid.append(parse_transaction(item, prefix=f"transactions[{i}]", max_future=max_future(), now=now))
            where.append(i)
        except DomainError as err:
            results[i] = {"index": i, "status": "error", "error": _error_item(err)}
    outcomes = ingest(db_session(), calling_provider_id(), valid, now) if valid else []
    db.session.commit()
    accepted: list[tuple[int, int]] = []
    waiting: list[tuple[int, int]] = []  # new ones and replays still queued (their first dispatch may be lost)
    for i, out in zip(where, outcomes, strict=True):
        if out.status == ERROR:
            assert out.error is not None
            results[i] = {"index": i, "status": "error", "error": _error_item(out.error)}
            continue
        assert out.txn is not None
        results[i] = {**out.txn, "index": i, "status": out.status, "transaction_status": out.txn["status"]}
        if out.status == ACCEPTED:
            accepted.append((out.txn["id"], out.txn["customer_id"]))
        if out.txn["status"] == "queued":
            waiting.append((out.txn["id"], out.txn["customer_id"]))
    dispatch(sorted(set(waiting)))
    counts = {s: sum(1 for r in results if r and r["status"] == s) for s in ("accepted", "duplicate", "error")}
    return {"results": results, **counts}, 202 if accepted else 200


@bp.get("/transactions/<int:txn_id>")
@require("provider", "staff", action="customers.view")
def show_transaction(txn_id: int) -> Any:
    return get_transaction(db_session(), txn_id, scope_provider_id())


@bp.post("/transactions/<int:txn_id>/reversal")
@require("provider", "staff", action="customers.adjust")
@retry_transient
def reverse_transaction(txn_id: int) -> Any:
    data = require_object(read_json(allow_empty=True))
    try:
        body = ReversalIn.model_validate(data)
    except ValidationError as exc:
        problems = problems_of(exc)
        raise DomainError("validation_error", f"{problems[0].path}: {problems[0].reason}", problems) from None
    view, created = request_reversal(db_session(), txn_id, scope_provider_id(), body, utcnow())
    db.session.commit()
    if not created:
        return view, 200
    return view, 201 if view["status"] == "applied" else 202
