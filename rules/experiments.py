"""Holdout experiments: which customers a campaign holds out, and how large the measured difference is.

Pure functions: the assignment is a hash (the crediting hot path pays no query for it) and the interval is
Welch's t interval on per-customer values, with the Student t quantile computed here (no scipy).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Group = Literal["treated", "control"]
GROUPS: tuple[Group, ...] = ("treated", "control")


def group_of(campaign_key: int | str, customer_id: int, control_share: int) -> Group:
    """Stable assignment: hash of (campaign, customer) mod 100 below ``control_share`` is control.

    blake2b rather than ``hash()``: the same customer lands in the same group in every process and release.
    """
    digest = hashlib.blake2b(f"{campaign_key}:{customer_id}".encode(), digest_size=8).digest()
    return "control" if int.from_bytes(digest, "big") % 100 < control_share else "treated"


@dataclass(frozen=True, slots=True)
class Interval:
    """Difference of means (treated - control) and its confidence interval (None: too few customers)."""

    difference: float
    low: float | None
    high: float | None
    df: float | None


def _mean_var(values: Sequence[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    return mean, (sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0)


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom."""
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t (bisection on ``t_cdf``; 0.5 < p < 1)."""
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        high *= 2.0
    for _ in range(200):
        mid = (low + high) / 2.0
        if t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
        if high - low < 1e-12:
            break
    return (low + high) / 2.0


def welch_interval(treated: Sequence[float], control: Sequence[float], confidence: float = 0.95) -> Interval:
    """Welch's t interval for mean(treated) - mean(control); bounds are None while a group has < 2 values."""
    if not treated or not control:
        return Interval(0.0, None, None, None)
    mt, vt = _mean_var(treated)
    mc, vc = _mean_var(control)
    diff = mt - mc
    if len(treated) < 2 or len(control) < 2:
        return Interval(diff, None, None, None)
    at, ac = vt / len(treated), vc / len(control)
    se2 = at + ac
    if se2 == 0:
        return Interval(diff, diff, diff, None)
    df = se2 * se2 / (at * at / (len(treated) - 1) + ac * ac / (len(control) - 1))
    half = t_quantile(1 - (1 - confidence) / 2, df) * math.sqrt(se2)
    return Interval(diff, diff - half, diff + half, df)
