"""Small robust statistics of the care centre (pure): median, nearest-rank percentile, modified z-score.

The early warnings score a window against its baseline with them; the hourly rollup takes the
velocity percentiles with them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MAD_SCALE = 1.4826  # makes the MAD a consistent estimator of the standard deviation under normality


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        raise ValueError("median of nothing")
    mid = n // 2
    return float(ordered[mid]) if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (an observed value; 0 for no values)."""
    if not values:
        return 0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class RobustScore:
    z: float
    median: float
    scale: float


def robust_z(x: float, baseline: Sequence[float]) -> RobustScore:
    """Modified z-score of ``x`` against ``baseline``: median and MAD, with noise floors on the scale."""
    med = median(baseline)
    mad = median([abs(b - med) for b in baseline])
    scale = max(MAD_SCALE * mad, math.sqrt(med), 0.1 * med, 1.0)
    return RobustScore((x - med) / scale, med, scale)
