"""Settlement periods: a month is closed once, after it ended; its statements are stored and never change.

Anything that happens later about a closed month (a refund of a transaction
earned then, the cancellation of a redemption made then) is written when it
happens, so it belongs to the month that is still open, where the statement
shows it as a prior-period adjustment naming its origin. A month's figures
are thus final at its close, and ``flask ledger check`` proves that the stored
lines still equal a recomputation from the ledger.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaigns.clearing import PROGRAMME, rates, statements
from campaigns.errors import conflict, invalid, not_found
from campaigns.models import AuditEvent, SettlementLine, SettlementPeriod, utcnow

LINE_FIELDS = ("party_id", "kind", "points", "amount", "value", "origin")


def close(session: Session, period: str, *, actor: str, now: datetime | None = None) -> dict[str, Any]:
    """Compute and store the month's statements; refused twice, before the month ended, or out of order."""
    now = now or utcnow()
    tz = statements.zone(session)
    start, end = statements.month_bounds(period, tz)
    if end > now:
        raise conflict("period_not_ended", f"{period} has not ended yet: it can be closed from {end.isoformat()}")
    if session.get(SettlementPeriod, period) is not None:
        raise conflict("already_closed", f"{period} is already closed; its statements never change")
    later = session.scalar(select(SettlementPeriod.period).where(SettlementPeriod.period > period).limit(1))
    if later is not None:
        raise conflict("out_of_order", f"{later} is closed already: months close in order")
    last = session.scalar(select(func.max(SettlementPeriod.period)))
    if last is not None and period != (expected := statements.next_period(last)):
        # a skipped month's activity would belong to no statement: nobody would ever be invoiced for it
        raise conflict("out_of_order", f"{expected} is still open: close it before {period} (months close in order)")
    lines = statements.statement_lines(session, start, end, tz)
    try:
        with session.begin_nested():
            session.add(SettlementPeriod(period=period, starts_at=start, ends_at=end, closed_at=now, closed_by=actor))
            session.flush()
    except IntegrityError:
        raise conflict("already_closed", f"{period} is already closed; its statements never change") from None
    session.add_all(SettlementLine(period=period, **ln) for ln in lines)
    net = {ln["party_id"]: ln["amount"] for ln in lines if ln["kind"] == "net"}
    session.add(
        AuditEvent(
            actor=actor,
            action="settlement.closed",
            object_type="settlement_period",
            object_id=period,
            details={"lines": len(lines), "net": {str(k): v for k, v in net.items()}},
            at=now,
        )
    )
    session.flush()
    return statement(session, period)


def stored_lines(session: Session, period: str) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(SettlementLine).where(SettlementLine.period == period).order_by(SettlementLine.id)
    ).all()
    return [{f: getattr(r, f) for f in LINE_FIELDS} for r in rows]


def statement(session: Session, period: str, *, provider_id: int | None = None) -> dict[str, Any]:
    """A month's statements: stored if it is closed, computed live (provisional) if it is open.

    ``provider_id``: only that provider's statement (what a provider key sees).
    """
    tz = statements.zone(session)
    start, end = statements.month_bounds(period, tz)
    closed = session.get(SettlementPeriod, period)
    lines = stored_lines(session, period) if closed else statements.statement_lines(session, start, end, tz)
    if provider_id is not None:
        lines = [ln for ln in lines if ln["party_id"] == provider_id]
    codes = statements.party_codes(session)
    return {
        "period": period,
        "status": "closed" if closed else "open",
        "starts_at": start,
        "ends_at": end,
        "closed_at": closed.closed_at if closed else None,
        "closed_by": closed.closed_by if closed else None,
        "statements": statements.group(lines, codes),
        "total": sum(ln["amount"] for ln in lines if ln["kind"] == "net") if provider_id is None else None,
        "lines": [{**ln, "party": codes.get(ln["party_id"], str(ln["party_id"]))} for ln in lines],
    }


def as_csv(view: dict[str, Any]) -> str:
    """Every line of a statement view, one per row (what finance loads into its own books)."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["period", "status", "party", "kind", "points", "amount_vnd", "value_vnd", "origin"])
    for ln in view["lines"]:
        w.writerow(
            [
                view["period"],
                view["status"],
                ln["party"],
                ln["kind"],
                ln["points"],
                ln["amount"],
                ln["value"],
                ln["origin"] or "",
            ]
        )
    return out.getvalue()


def liability(session: Session, as_of: Any) -> dict[str, Any]:
    """The roll-forward of the month to ``as_of`` (end of that day), per funder, in points and VND."""
    tz = statements.zone(session)
    if as_of is None:
        day = utcnow().astimezone(tz).date()
    else:
        try:
            day = date.fromisoformat(str(as_of))
        except ValueError:
            raise invalid("as_of", f"{as_of!r} is not a date (YYYY-MM-DD)") from None
        if not 2000 <= day.year <= 2999:
            raise invalid("as_of", "must be a date between 2000 and 2999")
    start, end = statements.as_of_bounds(day, tz)
    rows = statements.rollforward(session, start, end, tz)
    return {
        "as_of": day.isoformat(),
        "from": start,
        "until": end,
        "funders": rows,
        "total": {
            "closing_points": sum(r["closing"]["points"] for r in rows),
            "closing_value": sum(r["closing"]["value"] for r in rows),
        },
        "breakage_estimate": statements.breakage_estimate(session, end, tz),
    }


def entries(session: Session, period: str, party: str, kind: str, provider_id: int | None) -> dict[str, Any]:
    """The ledger lines behind ``kind`` on ``party``'s statement of ``period`` (a provider: its own only)."""
    tz = statements.zone(session)
    start, end = statements.month_bounds(period, tz)
    if not party:
        if provider_id is None:
            raise invalid("party", "name the provider code (or programme) whose figure to open")
        party = statements.party_codes(session)[provider_id]  # a provider opens its own figures
    pid = rates.party_id(session, party)
    if provider_id is not None and pid != provider_id:
        raise not_found(f"provider '{party}'")
    kind = kind or "issued"
    rows = statements.entries_behind(session, start, end, pid, kind)
    return {"period": period, "party": party, "kind": kind, "points": sum(r["points"] for r in rows), "entries": rows}


def entries_csv(view: dict[str, Any]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    keys = ("entry_id", "at", "customer_id", "entry_kind", "transaction_id", "redemption_id", "campaign_id", "points")
    w.writerow(["period", "party", "figure", *keys, "note"])
    for r in view["entries"]:
        w.writerow([view["period"], view["party"], view["kind"], *(r[k] for k in keys), r["note"] or ""])
    return out.getvalue()


__all__ = ["PROGRAMME", "as_csv", "close", "liability", "statement", "stored_lines"]
