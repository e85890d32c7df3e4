"""Statements and the liability roll-forward: queries over point lots, lot consumptions and the ledger.

Every figure is a sum over rows that already exist for the balance: a lot is
points issued by its funder, a consumption is points leaving that funder's
liability (redeemed, expired, clawed back; a cancelled redemption's restore is
a negative consumption), and a ``redemption`` ledger entry names the provider
that fulfilled it. An event belongs to the month (programme time zone) in
which it was written.

Pricing (integer VND, so nothing is ever rounded): points issued, clawed back
or left open are valued at the funder's ``issue_cost`` in force when the lot
was issued (a clawback gives back exactly what was charged); a redemption is
reimbursed at the fulfilling provider's ``redemption_rate`` in force when it
was made, and its cancellation reverses that same amount.

A points payment at a provider's checkout is reimbursed to that provider like
a redemption it fulfilled, and its refunds reverse that amount; a transfer fee
is a redemption by the programme. Points moved between members by a transfer
keep their funder: neither side is a movement of any funder's liability.

A refund of a transaction earned in an earlier month, or the cancellation of
a redemption made in an earlier month, is a *prior-period adjustment*: it is
listed on its own line naming its origin instead of inside this month's
issued / redeemed figures. Signs are the party's view: positive means the
programme pays the provider; ``net`` = receivable - owed + adjustments, and the
programme's line is minus the sum of the providers' (its margin, breakage
included), so a statement always sums to 0.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from campaigns.catalog import programme
from campaigns.clearing import PROGRAMME
from campaigns.clearing.rates import RateBook
from campaigns.errors import invalid
from campaigns.models import LedgerEntry, LotConsumption, PointLot, Provider

CLAWBACK_KINDS = ("reversal", "adjustment", "debt_recovery")
# Reimbursed like a redemption: a points payment to the provider at whose checkout it was made, a transfer fee
# to the programme (a redemption by the programme); each has its reversal, which takes that amount back.
REIMBURSED_KINDS = ("redemption", "payment", "transfer_fee")
REIMBURSE_REVERSALS = ("redemption_cancel", "payment_refund", "transfer_fee_refund")
REDEEM_KINDS = (*REIMBURSED_KINDS, *REIMBURSE_REVERSALS)
PRIOR_KINDS = ("reversal", *REIMBURSE_REVERSALS)
# Points moved between members by a transfer (and its reversal): the same funder keeps the same liability, so
# neither the taking from the sender's lots nor the recipient's mirrored lots (moved_from_lot_id) is a movement.
MOVE_KINDS = ("transfer_out", "transfer_reversed")
ISSUED = PointLot.moved_from_lot_id.is_(None)


def zone(session: Session) -> ZoneInfo:
    return ZoneInfo(programme.load(session).timezone)


def month_bounds(period: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """``YYYY-MM`` -> its first instant and the first instant of the next month, in the programme's zone."""
    try:
        year, month = (int(p) for p in period.split("-"))
        first = date(year, month, 1)
    except ValueError:
        raise invalid("period", f"{period!r} is not a month (YYYY-MM)") from None
    if len(period) != 7 or not 2000 <= year <= 2999:
        raise invalid("period", f"{period!r} is not a month (YYYY-MM) between 2000 and 2999")
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return datetime.combine(first, time(), tz), datetime.combine(nxt, time(), tz)


def next_period(period: str) -> str:
    """``2026-12`` -> ``2027-01``."""
    year, month = (int(p) for p in period.split("-"))
    return f"{year + (month == 12):04d}-{month % 12 + 1:02d}"


def month_of(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m")


def _segment(column: Any, book: RateBook) -> ColumnElement[Any]:
    """The price segment of a time column: how many rate changes happened at or before it."""
    if not book.boundaries:  # still an expression of the column: GROUP BY reads a bare literal as a position
        return case((column.is_(None), 0), else_=0)
    whens = [(column < b, i) for i, b in enumerate(book.boundaries)]
    return case(*whens, else_=len(book.boundaries))


@dataclass
class Figures:
    """Points and VND of one movement for one funder."""

    points: int = 0
    value: int = 0

    def add(self, points: int, rate: int) -> None:
        self.points += points
        self.value += points * rate


@dataclass
class Movements:
    """What moved in a time range, per funder (liability side) and per fulfilling provider."""

    issued: dict[int, Figures] = field(default_factory=lambda: defaultdict(Figures))
    clawed_back: dict[int, Figures] = field(default_factory=lambda: defaultdict(Figures))
    redeemed_liability: dict[int, Figures] = field(default_factory=lambda: defaultdict(Figures))
    expired: dict[int, Figures] = field(default_factory=lambda: defaultdict(Figures))
    # statement-only: this period's own clawbacks and redemption restores (prior-period ones are adjustments)
    clawed_back_current: dict[int, Figures] = field(default_factory=lambda: defaultdict(Figures))
    reimbursed: dict[int, Figures] = field(default_factory=lambda: defaultdict(Figures))  # fulfiller -> redeemed
    reversed_reimbursement: dict[int, Figures] = field(default_factory=lambda: defaultdict(Figures))
    adjustments: list[dict[str, Any]] = field(default_factory=list)


def movements(session: Session, start: datetime | None, end: datetime, book: RateBook, tz: ZoneInfo) -> Movements:
    """Everything written in ``[start, end)`` (``start`` None: since the beginning), priced."""
    m = Movements()
    lot_seg = _segment(PointLot.created_at, book)

    def within(col: Any) -> Any:
        return and_(col >= start, col < end) if start is not None else col < end

    for funder, seg, pts, recovered in session.execute(
        select(PointLot.funder_id, lot_seg, func.sum(PointLot.points), func.sum(PointLot.recovered))
        .where(within(PointLot.created_at), ISSUED)
        .group_by(PointLot.funder_id, lot_seg)
    ):
        issue = book.in_segment(funder, seg)[0]
        m.issued[funder].add(int(pts), issue)
        if recovered:
            m.clawed_back[funder].add(int(recovered), issue)
            m.clawed_back_current[funder].add(int(recovered), issue)

    origin = aliased(LedgerEntry)
    prior = and_(LedgerEntry.kind.in_(PRIOR_KINDS), origin.created_at < start) if start is not None else literal(False)
    prior_col = case((prior, 1), else_=0)
    for funder, seg, kind, is_prior, pts in session.execute(
        select(PointLot.funder_id, lot_seg, LedgerEntry.kind, prior_col, func.sum(LotConsumption.points))
        .select_from(LotConsumption)
        .join(LedgerEntry, LedgerEntry.id == LotConsumption.entry_id)
        .join(PointLot, PointLot.id == LotConsumption.lot_id)
        .outerjoin(origin, origin.id == LedgerEntry.reverses_entry_id)
        .where(within(LedgerEntry.created_at), LedgerEntry.kind.not_in(MOVE_KINDS))
        .group_by(PointLot.funder_id, lot_seg, LedgerEntry.kind, prior_col)
    ):
        issue = book.in_segment(funder, seg)[0]
        pts = int(pts)
        if kind in CLAWBACK_KINDS:
            m.clawed_back[funder].add(pts, issue)
            if not is_prior:
                m.clawed_back_current[funder].add(pts, issue)
        elif kind in REDEEM_KINDS:
            m.redeemed_liability[funder].add(pts, issue)
        elif kind == "expiry":
            m.expired[funder].add(pts, issue)
        else:  # a consumption by an entry kind this module does not know: counted, and visible
            m.clawed_back[funder].add(pts, issue)
            m.clawed_back_current[funder].add(pts, issue)

    entry_seg = _segment(LedgerEntry.created_at, book)
    for fulfiller, seg, pts in session.execute(
        select(LedgerEntry.provider_id, entry_seg, func.sum(-LedgerEntry.points))
        .where(LedgerEntry.kind.in_(REIMBURSED_KINDS), within(LedgerEntry.created_at))
        .group_by(LedgerEntry.provider_id, entry_seg)
    ):
        party = fulfiller or PROGRAMME
        m.reimbursed[party].add(int(pts), book.in_segment(party, seg)[1])
    origin_seg = _segment(origin.created_at, book)
    for fulfiller, seg, is_prior, pts, entry_id, redemption_id, made_at, kind, origin_key in session.execute(
        select(
            LedgerEntry.provider_id,
            origin_seg,
            prior_col,
            LedgerEntry.points,
            LedgerEntry.id,
            LedgerEntry.redemption_id,
            origin.created_at,
            LedgerEntry.kind,
            origin.entry_key,
        )
        .join(origin, origin.id == LedgerEntry.reverses_entry_id)
        .where(LedgerEntry.kind.in_(REIMBURSE_REVERSALS), within(LedgerEntry.created_at))
    ):
        party = fulfiller or PROGRAMME
        rate = book.in_segment(party, seg)[1]
        if is_prior:
            month = month_of(made_at, tz)
            if kind == "payment_refund":  # the payment's entry key is pay:<payment id>
                what = f"point payment {origin_key.partition(':')[2]} of {month} refunded (entry {entry_id})"
            elif kind == "transfer_fee_refund":
                what = f"transfer fee of {month} refunded (entry {entry_id})"
            else:
                what = f"redemption {redemption_id} of {month} cancelled (entry {entry_id})"
            m.adjustments.append(
                {
                    "party_id": party,
                    "kind": "payment_refunded" if kind == "payment_refund" else "redemption_cancelled",
                    "points": int(pts),
                    "amount": -int(pts) * rate,
                    "origin": what,
                }
            )
        else:
            m.reversed_reimbursement[party].add(int(pts), rate)
    if start is not None:
        for funder, seg, pts, entry_id, txn_id, earned_at in session.execute(
            select(
                PointLot.funder_id,
                lot_seg,
                func.sum(LotConsumption.points),
                LedgerEntry.id,
                LedgerEntry.transaction_id,
                origin.created_at,
            )
            .select_from(LotConsumption)
            .join(LedgerEntry, LedgerEntry.id == LotConsumption.entry_id)
            .join(PointLot, PointLot.id == LotConsumption.lot_id)
            .join(origin, origin.id == LedgerEntry.reverses_entry_id)
            .where(LedgerEntry.kind == "reversal", within(LedgerEntry.created_at), origin.created_at < start)
            .group_by(PointLot.funder_id, lot_seg, LedgerEntry.id, LedgerEntry.transaction_id, origin.created_at)
        ):
            issue = book.in_segment(funder, seg)[0]
            m.adjustments.append(
                {
                    "party_id": funder,
                    "kind": "clawed_back",
                    "points": int(pts),
                    "amount": int(pts) * issue,
                    "origin": f"refund of transaction {txn_id} earned in {month_of(earned_at, tz)} (entry {entry_id})",
                }
            )
    m.adjustments.sort(key=lambda a: (a["party_id"], a["origin"]))
    return m


def party_codes(session: Session) -> dict[int, str]:
    return {PROGRAMME: "programme", **dict(session.execute(select(Provider.id, Provider.code)).all())}


def statement_lines(session: Session, start: datetime, end: datetime, tz: ZoneInfo) -> list[dict[str, Any]]:
    """Every line of a month's statements: per provider, then the programme's, summing to 0."""
    book = RateBook.load(session)
    m = movements(session, start, end, book, tz)
    providers = sorted(session.scalars(select(Provider.id)))
    lines: list[dict[str, Any]] = []
    total = 0

    def line(
        party: int, kind: str, points: int = 0, amount: int = 0, value: int = 0, origin: str | None = None
    ) -> None:
        lines.append(
            {"party_id": party, "kind": kind, "points": points, "amount": amount, "value": value, "origin": origin}
        )

    for pid in providers:
        issued, clawed = m.issued.get(pid, Figures()), m.clawed_back_current.get(pid, Figures())
        redeemed, cancelled = m.reimbursed.get(pid, Figures()), m.reversed_reimbursement.get(pid, Figures())
        line(pid, "issued", issued.points, -issued.value)
        line(pid, "clawed_back", clawed.points, clawed.value)
        line(pid, "redeemed", redeemed.points, redeemed.value)
        line(pid, "redemption_cancelled", cancelled.points, -cancelled.value)
        adjustments = [a for a in m.adjustments if a["party_id"] == pid]
        for a in adjustments:
            line(pid, f"adjustment:{a['kind']}", a["points"], a["amount"], origin=a["origin"])
        expired = m.expired.get(pid, Figures())
        line(pid, "expired", expired.points, 0, expired.value)  # breakage: the programme keeps it
        net = redeemed.value - cancelled.value - issued.value + clawed.value + sum(a["amount"] for a in adjustments)
        line(pid, "net", 0, net)
        total += net
    p_issued, p_redeemed = m.issued.get(PROGRAMME, Figures()), m.reimbursed.get(PROGRAMME, Figures())
    line(PROGRAMME, "issued", p_issued.points, 0, p_issued.value)
    line(PROGRAMME, "redeemed", p_redeemed.points, 0, p_redeemed.value)
    for a in (a for a in m.adjustments if a["party_id"] == PROGRAMME):
        line(PROGRAMME, f"adjustment:{a['kind']}", a["points"], 0, -a["amount"], origin=a["origin"])
    breakage = sum((f.points for f in m.expired.values()), 0), sum((f.value for f in m.expired.values()), 0)
    line(PROGRAMME, "breakage", breakage[0], 0, breakage[1])
    line(PROGRAMME, "net", 0, -total)  # its margin: what the providers owe it net; every statement sums to 0
    return lines


def group(lines: list[dict[str, Any]], codes: dict[int, str]) -> list[dict[str, Any]]:
    """Lines -> one statement per party with its named figures (the API and UI shape)."""
    by_party: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for ln in lines:
        by_party[ln["party_id"]].append(ln)
    out = []
    for party in sorted(by_party, key=lambda p: (p == PROGRAMME, codes.get(p, str(p)))):
        rows = by_party[party]
        fig = {ln["kind"]: ln for ln in rows if not ln["kind"].startswith("adjustment")}
        adjustments = [
            {
                "kind": ln["kind"].split(":", 1)[1],
                "points": ln["points"],
                "amount": ln["amount"],
                "origin": ln["origin"],
            }
            for ln in rows
            if ln["kind"].startswith("adjustment")
        ]
        net = fig.get("net", {}).get("amount", 0)
        if party == PROGRAMME:
            out.append(
                {
                    "party": "programme",
                    "points_funded": fig.get("issued", {}).get("points", 0),
                    "points_funded_value": fig.get("issued", {}).get("value", 0),
                    "points_redeemed_through_programme": fig.get("redeemed", {}).get("points", 0),
                    "breakage_points": fig.get("breakage", {}).get("points", 0),
                    "breakage_value": fig.get("breakage", {}).get("value", 0),
                    "adjustments": adjustments,
                    "net": net,
                    "margin": net,  # what the programme keeps: providers owe it, breakage included
                }
            )
            continue
        issued, clawed = fig.get("issued", {}), fig.get("clawed_back", {})
        redeemed, cancelled = fig.get("redeemed", {}), fig.get("redemption_cancelled", {})
        out.append(
            {
                "party": codes.get(party, str(party)),
                "points_funded": {"issued": issued.get("points", 0), "clawed_back": clawed.get("points", 0)},
                "amount_owed": -(issued.get("amount", 0) + clawed.get("amount", 0)),
                "points_redeemed": {"redeemed": redeemed.get("points", 0), "cancelled": cancelled.get("points", 0)},
                "amount_receivable": redeemed.get("amount", 0) + cancelled.get("amount", 0),
                "adjustments": adjustments,
                "adjustments_total": sum(a["amount"] for a in adjustments),
                "expired_points": fig.get("expired", {}).get("points", 0),
                "expired_value": fig.get("expired", {}).get("value", 0),
                "net": net,
            }
        )
    return out


def rollforward(session: Session, start: datetime, end: datetime, tz: ZoneInfo) -> list[dict[str, Any]]:
    """Per funder, points and VND at issue cost: opening + issued - clawed back - redeemed - expired = closing."""
    book = RateBook.load(session)
    before = movements(session, None, start, book, tz)
    during = movements(session, start, end, book, tz)
    codes = party_codes(session)
    funders = (
        set(before.issued)
        | set(during.issued)
        | set(during.redeemed_liability)
        | set(during.expired)
        | set(during.clawed_back)
    )
    out = []
    for f in sorted(funders, key=lambda f: (f == PROGRAMME, codes.get(f, str(f)))):
        opening = _open(before, f)
        i, c = during.issued.get(f, Figures()), during.clawed_back.get(f, Figures())
        r, x = during.redeemed_liability.get(f, Figures()), during.expired.get(f, Figures())
        closing = Figures(
            opening.points + i.points - c.points - r.points - x.points,
            opening.value + i.value - c.value - r.value - x.value,
        )
        out.append(
            {
                "funder": codes.get(f, str(f)) if f is not None else None,
                "opening": {"points": opening.points, "value": opening.value},
                "issued": {"points": i.points, "value": i.value},
                "clawed_back": {"points": c.points, "value": c.value},
                "redeemed": {"points": r.points, "value": r.value},
                "expired": {"points": x.points, "value": x.value},
                "closing": {"points": closing.points, "value": closing.value},
            }
        )
    return out


def _open(m: Movements, funder: int) -> Figures:
    i, c = m.issued.get(funder, Figures()), m.clawed_back.get(funder, Figures())
    r, x = m.redeemed_liability.get(funder, Figures()), m.expired.get(funder, Figures())
    return Figures(i.points - c.points - r.points - x.points, i.value - c.value - r.value - x.value)


def open_lots(session: Session) -> dict[int | None, int]:
    """Points still open (pending or available) per funder: what the closing liability must equal."""
    return {
        f: int(p)
        for f, p in session.execute(
            select(PointLot.funder_id, func.sum(PointLot.remaining)).group_by(PointLot.funder_id)
        ).all()
    }


def as_of_bounds(as_of: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The month-to-date of ``as_of``: from the first of its month to the end of that day."""
    return datetime.combine(as_of.replace(day=1), time(), tz), datetime.combine(as_of + timedelta(days=1), time(), tz)


def breakage_estimate(session: Session, until: datetime, tz: ZoneInfo) -> dict[str, Any]:
    """The share of today's open points expected to expire, from closed earn-month cohorts (IFRS 15).

    A cohort is the points issued in one month (programme time zone); it is
    closed once none of its points is open any more. Its breakage rate is
    expired / (expired + redeemed); the estimate applies the rate of all closed
    cohorts together to the points open now (floored to a whole point).
    """
    first = session.scalar(select(func.min(PointLot.created_at)).where(PointLot.created_at < until))
    open_now = sum(v for v in open_lots(session).values())
    if first is None:
        return {"rate": None, "open_points": open_now, "expected_to_expire": None, "cohorts": []}
    starts: list[datetime] = []
    day = first.astimezone(tz).date().replace(day=1)
    while datetime.combine(day, time(), tz) < until:
        starts.append(datetime.combine(day, time(), tz))
        day = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    whens = [(PointLot.created_at < s, i - 1) for i, s in enumerate(starts[1:], 1)]
    cohort = case(*whens, else_=len(starts) - 1) if whens else case((PointLot.created_at.is_(None), 0), else_=0)
    stats: dict[int, dict[str, int]] = defaultdict(lambda: {"issued": 0, "open": 0, "expired": 0, "redeemed": 0})
    for c, issued, remaining in session.execute(
        select(
            cohort,
            func.sum(case((ISSUED, PointLot.points - PointLot.recovered), else_=0)),  # moved lots: issued once
            func.sum(PointLot.remaining),
        )
        .where(PointLot.created_at < until)
        .group_by(cohort)
    ):
        stats[int(c)]["issued"], stats[int(c)]["open"] = int(issued), int(remaining)
    for c, kind, pts in session.execute(
        select(cohort, LedgerEntry.kind, func.sum(LotConsumption.points))
        .select_from(LotConsumption)
        .join(LedgerEntry, LedgerEntry.id == LotConsumption.entry_id)
        .join(PointLot, PointLot.id == LotConsumption.lot_id)
        .where(PointLot.created_at < until, LedgerEntry.kind.in_(("expiry", *REDEEM_KINDS)))
        .group_by(cohort, LedgerEntry.kind)
    ):
        stats[int(c)]["expired" if kind == "expiry" else "redeemed"] += int(pts)
    cohorts: list[dict[str, Any]] = [
        {"month": starts[c].strftime("%Y-%m"), **s, "closed": s["open"] == 0 and c < len(starts) - 1}
        for c, s in sorted(stats.items())
    ]
    expired = sum(c["expired"] for c in cohorts if c["closed"])
    used = expired + sum(c["redeemed"] for c in cohorts if c["closed"])
    rate = expired / used if used else None
    return {
        "rate": round(rate, 4) if rate is not None else None,
        "open_points": open_now,
        "expected_to_expire": int(open_now * expired // used) if used else None,
        "cohorts": cohorts,
    }


DRILL_KINDS = ("issued", "clawed_back", "redeemed", "redemption_cancelled", "expired", "adjustment")


def entries_behind(
    session: Session, start: datetime, end: datetime, party: int, kind: str, *, limit: int = 1000
) -> list[dict[str, Any]]:
    """The ledger lines behind one figure of a party's statement (``kind`` of :data:`DRILL_KINDS`).

    Points are those the figure counts from each entry (a split earning counts
    only its share for this funder).
    """
    if kind not in DRILL_KINDS:
        raise invalid("kind", f"{kind!r} is not one of {', '.join(DRILL_KINDS)}")
    origin = aliased(LedgerEntry)
    in_range = and_(LedgerEntry.created_at >= start, LedgerEntry.created_at < end)
    cols = (
        LedgerEntry.id,
        LedgerEntry.created_at,
        LedgerEntry.customer_id,
        LedgerEntry.kind,
        LedgerEntry.transaction_id,
        LedgerEntry.redemption_id,
        LedgerEntry.campaign_id,
        LedgerEntry.note,
    )
    if kind == "issued":
        q = (
            select(*cols, PointLot.points)
            .join(PointLot, PointLot.entry_id == LedgerEntry.id)
            .where(PointLot.funder_id == party, PointLot.created_at >= start, PointLot.created_at < end, ISSUED)
        )
    elif kind in ("redeemed", "redemption_cancelled"):
        fulfiller = LedgerEntry.provider_id == party if party else LedgerEntry.provider_id.is_(None)
        q = select(*cols, func.abs(LedgerEntry.points)).where(fulfiller, in_range)
        if kind == "redeemed":
            q = q.where(LedgerEntry.kind.in_(REIMBURSED_KINDS))
        else:
            q = q.join(origin, origin.id == LedgerEntry.reverses_entry_id).where(
                LedgerEntry.kind.in_(REIMBURSE_REVERSALS), origin.created_at >= start
            )
    else:
        q = (
            select(*cols, func.sum(LotConsumption.points))
            .join(LotConsumption, LotConsumption.entry_id == LedgerEntry.id)
            .join(PointLot, PointLot.id == LotConsumption.lot_id)
            .outerjoin(origin, origin.id == LedgerEntry.reverses_entry_id)
            .where(PointLot.funder_id == party, in_range, LedgerEntry.kind.not_in(MOVE_KINDS))
            .group_by(*cols)
        )
        if kind == "expired":
            q = q.where(LedgerEntry.kind == "expiry")
        elif kind == "clawed_back":
            q = q.where(
                LedgerEntry.kind.in_(CLAWBACK_KINDS),
                or_(LedgerEntry.kind.not_in(PRIOR_KINDS), origin.created_at.is_(None), origin.created_at >= start),
            )
        else:
            q = q.where(LedgerEntry.kind.in_(PRIOR_KINDS), origin.created_at < start)
    rows = list(session.execute(q.order_by(LedgerEntry.id).limit(limit)).all())
    if kind == "clawed_back":  # debt repaid out of a new earning: its lot was born partly clawed back
        rows += session.execute(
            select(*cols, PointLot.recovered)
            .join(PointLot, PointLot.entry_id == LedgerEntry.id)
            .where(PointLot.funder_id == party, PointLot.recovered > 0, in_range)
            .order_by(LedgerEntry.id)
            .limit(limit)
        ).all()
        rows.sort(key=lambda r: r[0])
    keys = ("entry_id", "at", "customer_id", "entry_kind", "transaction_id", "redemption_id", "campaign_id", "note")
    return [{**dict(zip(keys, row[:-1], strict=True)), "points": int(row[-1])} for row in rows]
