"""business-rules variables over an EvaluationContext.

Besides the fixed variables, a condition may name ``attributes.<key>``: a
provider-supplied attribute of the transaction whose type (numeric, string or boolean) is
inferred when the document is validated; and ``customer.<name>``: a customer-level attribute
(set through the customers API or an import), typed by the programme's ``customer_attributes``
declaration (inferred like a transaction attribute when the validator is given none). For the business-rules reference
path we generate one LoyaltyVariables subclass per set of attribute types,
with the dotted names set via ``setattr`` (``getattr`` finds them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

from business_rules.operators import BaseType
from business_rules.variables import BaseVariables, rule_variable

from rules.context import AttributeValue, EvaluationContext
from rules.operators import (
    ATTRIBUTE_TYPES,
    DateType,
    LoyaltyBooleanType,
    LoyaltyNumericType,
    LoyaltyStringType,
    TagSetType,
)

ATTRIBUTE_PREFIX = "attributes."
CUSTOMER_PREFIX = "customer."
ATTRIBUTE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
DAY_NAMES = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)


class LoyaltyVariables(BaseVariables):
    """The fixed vocabulary of variables; values are computed from the context on each call."""

    def __init__(self, ctx: EvaluationContext) -> None:
        self._ctx = ctx

    @property
    def context(self) -> EvaluationContext:
        return self._ctx

    def _local_time(self) -> datetime:
        return self._ctx.local_time()

    @rule_variable(LoyaltyNumericType)
    def amount(self) -> Decimal:
        return self._ctx.amount

    @rule_variable(LoyaltyStringType)
    def currency(self) -> str:
        return self._ctx.currency

    @rule_variable(LoyaltyStringType)
    def provider(self) -> str:
        return self._ctx.provider

    @rule_variable(LoyaltyStringType)
    def category(self) -> str | None:
        return self._ctx.category

    @rule_variable(LoyaltyStringType)
    def channel(self) -> str | None:
        return self._ctx.channel

    @rule_variable(LoyaltyStringType, label="Event Type (purchase, referral, app_login, account_anniversary, ...)")
    def event_type(self) -> str:
        return self._ctx.event_type

    @rule_variable(LoyaltyStringType, label="Day Of Week (monday..sunday)")
    def day_of_week(self) -> str:
        return DAY_NAMES[self._local_time().weekday()]

    @rule_variable(LoyaltyNumericType, label="Day Of Week Number (1 = Monday)")
    def day_of_week_number(self) -> int:
        return self._local_time().isoweekday()

    @rule_variable(LoyaltyNumericType, label="Hour (0-23, local)")
    def hour(self) -> int:
        return self._local_time().hour

    @rule_variable(DateType, label="Local Date")
    def local_date(self) -> date:
        return self._local_time().date()

    @rule_variable(LoyaltyStringType)
    def customer_tier(self) -> str | None:
        return self._ctx.customer_tier

    @rule_variable(LoyaltyNumericType)
    def lifetime_points(self) -> int:
        return self._ctx.lifetime_points

    @rule_variable(LoyaltyNumericType, label="Points Today (before this event)")
    def points_today(self) -> int:
        return self._ctx.points_today

    @rule_variable(LoyaltyNumericType, label="Points Last 7 Days (before this event)")
    def points_7d(self) -> int:
        return self._ctx.points_7d

    @rule_variable(LoyaltyNumericType, label="Points Last 30 Days (before this event)")
    def points_30d(self) -> int:
        return self._ctx.points_30d

    @rule_variable(LoyaltyNumericType, label="Points Last 365 Days (before this event)")
    def points_365d(self) -> int:
        return self._ctx.points_365d

    @rule_variable(LoyaltyNumericType, label="Qualifying Points Last 365 Days")
    def qualifying_points_365d(self) -> int:
        return self._ctx.qualifying_points_365d

    @rule_variable(LoyaltyNumericType, label="Spend Today (before this event)")
    def spend_today(self) -> Decimal:
        return self._ctx.spend_today

    @rule_variable(LoyaltyNumericType, label="Spend Last 7 Days (before this event)")
    def spend_7d(self) -> Decimal:
        return self._ctx.spend_7d

    @rule_variable(LoyaltyNumericType, label="Spend Last 30 Days (before this event)")
    def spend_30d(self) -> Decimal:
        return self._ctx.spend_30d

    @rule_variable(LoyaltyNumericType, label="Spend Last 365 Days (before this event)")
    def spend_365d(self) -> Decimal:
        return self._ctx.spend_365d

    @rule_variable(LoyaltyNumericType, label="Transactions Today (before this event)")
    def transactions_today(self) -> int:
        return self._ctx.transactions_today

    @rule_variable(LoyaltyNumericType, label="Transactions This Month (before this event)")
    def transactions_this_month(self) -> int:
        return self._ctx.transactions_this_month

    @rule_variable(LoyaltyNumericType, label="Providers Used Last 365 Days")
    def providers_used_365d(self) -> int:
        return self._ctx.providers_used_365d

    @rule_variable(LoyaltyNumericType, label="Days Since First Transaction (0 = first ever)")
    def days_since_first_transaction(self) -> int:
        return self._ctx.days_since_first_transaction

    @rule_variable(LoyaltyBooleanType, label="First Transaction With This Provider")
    def first_transaction_with_provider(self) -> bool:
        return self._ctx.first_transaction_with_provider

    @rule_variable(LoyaltyNumericType, label="Birthday Month (1-12, 0 = unknown)")
    def birthday_month(self) -> int:
        return self._ctx.birthday_month

    @rule_variable(LoyaltyBooleanType, label="Is Birthday Month (local month of the event)")
    def is_birthday_month(self) -> bool:
        month = self._ctx.birthday_month
        return month != 0 and self._local_time().month == month

    @rule_variable(
        LoyaltyNumericType, label="Months Of Service (whole months since member_since or the first transaction)"
    )
    def months_of_service(self) -> int:
        return self._ctx.months_of_service

    @rule_variable(LoyaltyNumericType, label="Months With Provider (whole months since the first transaction with it)")
    def months_with_provider(self) -> int:
        return self._ctx.months_with_provider

    @rule_variable(TagSetType, label="Customer Tags")
    def customer_tags(self) -> frozenset[str]:
        return self._ctx.customer_tags


def variable_types() -> dict[str, type[BaseType]]:
    """Fixed variable name -> its business-rules type."""
    return {
        name: member.field_type
        for name, member in vars(LoyaltyVariables).items()
        if getattr(member, "is_rule_variable", False)
    }


VARIABLE_TYPES: dict[str, type[BaseType]] = variable_types()


def attribute_variable(key: str, type_name: str) -> Callable[[LoyaltyVariables], AttributeValue]:
    """A rule variable reading ``ctx.attributes[key]``, typed as inferred at validation."""

    def read(self: LoyaltyVariables) -> AttributeValue:
        return self.context.attributes.get(key)

    read.__name__ = f"attribute_{key}"
    return rule_variable(ATTRIBUTE_TYPES[type_name], label=f"Attribute {key}")(read)


def customer_variable(name: str, type_name: str) -> Callable[[LoyaltyVariables], AttributeValue]:
    """A rule variable reading ``ctx.customer_attributes[name]``, typed as declared by the programme."""

    def read(self: LoyaltyVariables) -> AttributeValue:
        return self.context.customer_attributes.get(name)

    read.__name__ = f"customer_{name}"
    return rule_variable(ATTRIBUTE_TYPES[type_name], label=f"Customer {name}")(read)


@lru_cache(maxsize=1024)
def _variables_class(
    attribute_types: tuple[tuple[str, str], ...],
) -> type[LoyaltyVariables]:
    """Keys are bare transaction attribute keys, or ``customer.<name>`` (a dot never occurs in a bare key)."""
    cls = type("DocumentVariables", (LoyaltyVariables,), {})
    for key, type_name in attribute_types:
        if key.startswith(CUSTOMER_PREFIX):
            setattr(cls, key, customer_variable(key[len(CUSTOMER_PREFIX) :], type_name))
        else:
            setattr(cls, ATTRIBUTE_PREFIX + key, attribute_variable(key, type_name))
    return cls


def variables_class(attribute_types: Mapping[str, str]) -> type[LoyaltyVariables]:
    """The LoyaltyVariables subclass that also knows a document's ``attributes.<key>`` variables."""
    return _variables_class(tuple(sorted(attribute_types.items())))
