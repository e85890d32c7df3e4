"""Where customers struggle: SLA breaches and claims by provider, category, channel and region, week by week.

Transactions and breaches come from the ``txn_hourly`` rollup (``campaigns.care.hourly``):
an hour is in it once it ended plus the SLA, so the current hour or so is not
counted yet (the page says up to when). Claims are read from ``claims`` through
``ix_claim_created`` (claims carry a provider and a channel, not a category or
region). Region is the transaction's ``attributes.region``, ``unknown`` when the
provider sent none. Claim descriptions are free text: :func:`reason_of` puts
each in the first matching keyword bucket (English and Vietnamese, accents
ignored) so recurring reasons can be counted.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter as Tally
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns import localdays
from campaigns.care import hourly, sla
from campaigns.catalog import programme
from campaigns.errors import invalid
from campaigns.models import Alert, Claim, Provider, TxnHourly

DIMENSIONS = ("provider", "category", "channel", "region")

# (bucket, keywords); a description goes to the first bucket with a keyword in it.
REASONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("late credit", ("late", "delay", "still waiting", "cham", "tre ", "chua thay", "hours ago")),
    ("wrong amount", ("wrong", "fewer", "less than", "too few", "only got", "sai", "it hon", "khong du", "thieu diem")),
    ("promotion or bonus missing", ("promotion", "promo", "campaign", "bonus", "double", "khuyen mai", "thuong")),
    ("top-up not credited", ("top-up", "topup", "top up", "recharge", "nap tien", "nap the")),
    ("refund or reversal", ("refund", "reversal", "reversed", "returned", "hoan", "tra hang")),
    ("redemption or voucher", ("voucher", "redeem", "redemption", "reward", "doi qua", "doi diem")),
    (
        "points missing",
        ("missing", "not credited", "no points", "never got", "chua cong", "khong duoc cong", "mat diem"),
    ),
)
OTHER = "other"


def _plain(text: str) -> str:
    """Lower case without accents (Vietnamese đ included): keyword matching that ignores how it was typed."""
    text = text.lower().replace("đ", "d")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", text) + " "


def reason_of(description: str) -> str:
    plain = _plain(description or "")
    for bucket, words in REASONS:
        if any(w in plain for w in words):
            return bucket
    return OTHER


def parse_week(value: str | None, today: date) -> date:
    """The Monday of ISO week ``YYYY-Www`` (default: the last full week)."""
    if not value:
        return today - timedelta(days=today.weekday() + 7)
    match = re.fullmatch(r"(\d{4})-W(\d{2})", value.strip())
    if not match:
        raise invalid("week", "use the ISO week form YYYY-Www, e.g. 2027-W09")
    try:
        return date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError:
        raise invalid("week", "no such ISO week") from None


def week_label(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass
class Row:
    """One line of a breakdown: transactions, SLA breaches, rejections and claims."""

    key: str
    transactions: int = 0
    breaches: int = 0
    rejected: int = 0
    claims: int = 0

    @property
    def breach_rate(self) -> float | None:
        return self.breaches / self.transactions if self.transactions else None


@dataclass
class Analytics:
    weeks: list[str]
    rolled_through: datetime | None
    sla_minutes: int
    # dimension -> key -> week -> Row
    series: dict[str, dict[str, dict[str, Row]]] = field(default_factory=dict)
    totals: dict[str, list[Row]] = field(default_factory=dict)  # dimension -> rows over the whole period
    week_totals: list[Row] = field(default_factory=list)
    reasons: list[tuple[str, int]] = field(default_factory=list)
    examples: dict[str, str] = field(default_factory=dict)
    alerts: list[tuple[str, str, int]] = field(default_factory=list)  # (kind, severity, raised)


def _names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Provider.id, Provider.code)).all())


def build(session: Session, start: date, weeks: int) -> Analytics:
    """Breakdowns for ``weeks`` ISO weeks starting on the Monday ``start``, weeks of the programme's local days."""
    tz = programme.load(session).timezone
    last = start + timedelta(weeks=weeks, days=-1)
    lo, hi = localdays.bounds(start, last, tz)
    labels = [week_label(start + timedelta(weeks=i)) for i in range(weeks)]
    a = Analytics(
        weeks=labels, rolled_through=hourly.rolled_through(session), sla_minutes=int(sla.policy(session).minutes)
    )
    names = _names(session)

    def wk(at: datetime | date) -> str:
        d = localdays.day_of(at, tz) if isinstance(at, datetime) else at
        return week_label(d - timedelta(days=d.weekday()))

    series: dict[str, dict[str, dict[str, Row]]] = {d: defaultdict(dict) for d in DIMENSIONS}

    def cell(dim: str, key: str, week: str) -> Row:
        return series[dim][key].setdefault(week, Row(key))

    # one grouped query per dimension: the database adds up the hourly rows (hundreds of thousands over
    # a few weeks at scale) and returns a few hundred day x key sums
    day = localdays.day_case(TxnHourly.hour, start, last, tz).label("d")
    dimensions = {
        "provider": TxnHourly.provider_id,
        "category": TxnHourly.category,
        "channel": TxnHourly.channel,
        "region": TxnHourly.region,
    }
    for dim, column in dimensions.items():
        q = (
            select(
                day,
                column,
                func.sum(TxnHourly.txn_count),
                func.sum(TxnHourly.breaches),
                func.sum(TxnHourly.rejected),
            )
            .where(TxnHourly.hour >= lo, TxnHourly.hour < hi)
            .group_by(day, column)
        )
        for d, value, n, late, rejected in session.execute(q):
            if dim == "provider":
                key = names.get(value, str(value))
            elif dim == "region":
                key = value
            else:
                key = value or "(none)"
            r = cell(dim, key, wk(localdays.ordinal_day(d)))
            r.transactions += int(n or 0)
            r.breaches += int(late or 0)
            r.rejected += int(rejected or 0)
    reasons: Tally[str] = Tally()
    for created, pid, channel, description in session.execute(
        select(Claim.created_at, Claim.provider_id, Claim.channel, Claim.description).where(
            Claim.created_at >= lo, Claim.created_at < hi
        )
    ):
        week = wk(created)
        cell("provider", names.get(pid, "(none)") if pid else "(none)", week).claims += 1
        cell("channel", channel or "(none)", week).claims += 1
        reason = reason_of(description)
        reasons[reason] += 1
        a.examples.setdefault(reason, (description or "")[:160])
    a.series = {dim: dict(keys) for dim, keys in series.items()}
    for dim, keys in a.series.items():
        rows = []
        for key, by_week in keys.items():
            total = Row(key)
            for r in by_week.values():
                total.transactions += r.transactions
                total.breaches += r.breaches
                total.rejected += r.rejected
                total.claims += r.claims
            rows.append(total)
        a.totals[dim] = sorted(rows, key=lambda r: (-r.breaches, -r.claims, r.key))
    for label in labels:
        t = Row(label)
        for weekly in (keys.get(label) for keys in a.series["provider"].values()):
            if weekly is not None:
                t.transactions += weekly.transactions
                t.breaches += weekly.breaches
                t.rejected += weekly.rejected
                t.claims += weekly.claims
        a.week_totals.append(t)
    a.reasons = reasons.most_common()
    a.alerts = [
        (kind, severity, int(n))
        for kind, severity, n in session.execute(
            select(Alert.kind, Alert.severity, func.count())
            .where(Alert.raised_at >= lo, Alert.raised_at < hi)
            .group_by(Alert.kind, Alert.severity)
            .order_by(Alert.kind, Alert.severity)
        )
    ]
    return a


def report_rows(a: Analytics) -> list[list[Any]]:
    """The weekly report as one flat table (section, key, figures): what the CSV holds."""
    out: list[list[Any]] = []
    for t in a.week_totals:
        out.append(["total", t.key, t.transactions, t.breaches, _rate(t), t.rejected, t.claims, ""])
    for dim in DIMENSIONS:
        for r in a.totals.get(dim, []):
            out.append([dim, r.key, r.transactions, r.breaches, _rate(r), r.rejected, r.claims, ""])
    for reason, n in a.reasons:
        out.append(["claim reason", reason, "", "", "", "", n, ""])
    for kind, severity, n in a.alerts:
        out.append(["alerts raised", f"{kind} {severity}", "", "", "", "", "", n])
    return out


REPORT_HEADER = ["section", "key", "transactions", "sla_breaches", "breach_rate", "rejected", "claims", "alerts"]


def _rate(r: Row) -> str:
    return f"{r.breach_rate:.4f}" if r.breach_rate is not None else ""
