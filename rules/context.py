"""The evaluation context: everything a rule may look at for one event.

It is validated on construction so that both evaluators (compiled and
business-rules) only ever see well-formed values: a non-finite or missing
amount would make them raise different errors mid-evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

AttributeValue = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class EvaluationContext:
    """One transaction (or other event) as the rules see it."""

    amount: Decimal
    currency: str
    provider: str
    category: str | None
    channel: str | None
    occurred_at: datetime
    customer_tier: str | None = None
    lifetime_points: int = 0
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)
    event_type: str = "purchase"
    timezone: str = "Asia/Ho_Chi_Minh"

    def __post_init__(self) -> None:
        amount = self.amount
        if isinstance(amount, int) and not isinstance(amount, bool):
            amount = Decimal(amount)
            object.__setattr__(self, "amount", amount)
        if not isinstance(amount, Decimal) or not amount.is_finite():
            raise ValueError(f"amount must be a finite Decimal, got {self.amount!r}")
        for name in ("currency", "provider", "event_type"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"{name} must be a string")
        for name in ("category", "channel", "customer_tier"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{name} must be a string or None")
        if isinstance(self.lifetime_points, bool) or not isinstance(self.lifetime_points, int):
            raise TypeError("lifetime_points must be an integer")
        if not isinstance(self.occurred_at, datetime) or self.occurred_at.utcoffset() is None:
            raise ValueError("occurred_at must be a timezone-aware datetime")
        if not isinstance(self.attributes, Mapping):
            raise TypeError("attributes must be a mapping")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
            raise ValueError(f"unknown timezone {self.timezone!r}") from exc

    def local_time(self) -> datetime:
        """occurred_at in the context's timezone, which is where 'Monday' and '9 o'clock' mean something."""
        return self.occurred_at.astimezone(ZoneInfo(self.timezone))
