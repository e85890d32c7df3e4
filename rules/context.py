"""The evaluation context: everything a rule may look at for one event.

It is validated on construction so that both evaluators (compiled and
business-rules) only ever see well-formed values: a non-finite or missing
amount would make them raise different errors mid-evaluation.

Customer aggregates (points, spend, counts over rolling windows) are computed
by the caller from its own stores; the engine only reads them. They describe
the customer *before* this event, so a rule never sees its own effect.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

AttributeValue = str | int | float | bool | None

INT_FIELDS = (
    "lifetime_points",
    "points_today",
    "points_7d",
    "points_30d",
    "points_365d",
    "qualifying_points_365d",
    "transactions_today",
    "transactions_this_month",
    "providers_used_365d",
    "days_since_first_transaction",
    "birthday_month",
    "months_of_service",
    "months_with_provider",
)
DECIMAL_FIELDS = ("amount", "spend_today", "spend_7d", "spend_30d", "spend_365d")
ZERO = Decimal(0)


def _tags(value: Iterable[str]) -> frozenset[str]:
    """A bare string is refused: it would become a set of its letters."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise TypeError("customer_tags must be a set of strings")
    tags = value if isinstance(value, frozenset) else frozenset(value)
    if not all(isinstance(tag, str) for tag in tags):
        raise TypeError("customer_tags must be a set of strings")
    return tags


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
    points_today: int = 0
    points_7d: int = 0
    points_30d: int = 0
    points_365d: int = 0
    qualifying_points_365d: int = 0
    spend_today: Decimal = ZERO
    spend_7d: Decimal = ZERO
    spend_30d: Decimal = ZERO
    spend_365d: Decimal = ZERO
    transactions_today: int = 0
    transactions_this_month: int = 0
    providers_used_365d: int = 0
    days_since_first_transaction: int = 0
    first_transaction_with_provider: bool = False
    birthday_month: int = 0
    customer_tags: frozenset[str] = frozenset()
    customer_attributes: Mapping[str, AttributeValue] = field(default_factory=dict)
    months_of_service: int = 0
    months_with_provider: int = 0
    _local: datetime = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self._plainly_valid():
            self._check()
        object.__setattr__(self, "customer_tags", _tags(self.customer_tags))
        if not isinstance(self.occurred_at, datetime) or self.occurred_at.utcoffset() is None:
            raise ValueError("occurred_at must be a timezone-aware datetime")
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
            raise ValueError(f"unknown timezone {self.timezone!r}") from exc
        object.__setattr__(self, "_local", self.occurred_at.astimezone(zone))

    def _plainly_valid(self) -> bool:
        """The contexts crediting builds, thousands a second: every field of its exact type and in range, checked
        in one expression. Anything else goes through :meth:`_check`, which converts or names the problem."""
        d, i, s = Decimal, int, str
        return (
            type(self.amount) is d
            and self.amount.is_finite()
            and type(self.spend_today) is d
            and type(self.spend_7d) is d
            and type(self.spend_30d) is d
            and type(self.spend_365d) is d
            and self.spend_today.is_finite()
            and self.spend_7d.is_finite()
            and self.spend_30d.is_finite()
            and self.spend_365d.is_finite()
            and type(self.currency) is s
            and type(self.provider) is s
            and type(self.event_type) is s
            and (self.category is None or type(self.category) is s)
            and (self.channel is None or type(self.channel) is s)
            and (self.customer_tier is None or type(self.customer_tier) is s)
            and type(self.lifetime_points) is i
            and type(self.points_today) is i
            and type(self.points_7d) is i
            and type(self.points_30d) is i
            and type(self.points_365d) is i
            and type(self.qualifying_points_365d) is i
            and type(self.transactions_today) is i
            and type(self.transactions_this_month) is i
            and type(self.providers_used_365d) is i
            and type(self.days_since_first_transaction) is i
            and type(self.birthday_month) is i
            and type(self.months_of_service) is i
            and type(self.months_with_provider) is i
            and 0 <= self.birthday_month <= 12
            and self.days_since_first_transaction >= 0
            and self.months_of_service >= 0
            and self.months_with_provider >= 0
            and type(self.first_transaction_with_provider) is bool
            and isinstance(self.attributes, Mapping)
            and isinstance(self.customer_attributes, Mapping)
        )

    def _check(self) -> None:
        for name in DECIMAL_FIELDS:
            value = getattr(self, name)
            if isinstance(value, int) and not isinstance(value, bool):
                value = Decimal(value)
                object.__setattr__(self, name, value)
            if not isinstance(value, Decimal) or not value.is_finite():
                raise ValueError(f"{name} must be a finite Decimal, got {getattr(self, name)!r}")
        for name in ("currency", "provider", "event_type"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"{name} must be a string")
        for name in ("category", "channel", "customer_tier"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{name} must be a string or None")
        for name in INT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an integer")
        if not 0 <= self.birthday_month <= 12:
            raise ValueError("birthday_month must be 1..12, or 0 when unknown")
        if self.days_since_first_transaction < 0:
            raise ValueError("days_since_first_transaction must not be negative")
        if not isinstance(self.first_transaction_with_provider, bool):
            raise TypeError("first_transaction_with_provider must be a boolean")
        for name in ("attributes", "customer_attributes"):
            if not isinstance(getattr(self, name), Mapping):
                raise TypeError(f"{name} must be a mapping")
        if self.months_of_service < 0 or self.months_with_provider < 0:
            raise ValueError("months_of_service and months_with_provider must not be negative")

    def local_time(self) -> datetime:
        """occurred_at in the context's timezone, which is where 'Monday' and '9 o'clock' mean something.

        Computed once at construction: every calendar variable of every campaign needs it.
        """
        return self._local
