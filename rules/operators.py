"""Our business-rules types: its vocabulary, extended by subclassing.

business-rules stays the reference semantics, so every type here subclasses
one of its types (or BaseType) and adds operators with ``@type_operator``; no
fork and no monkey-patching. Each ``_assert_valid_value_and_cast`` is a
staticmethod so the compiler can reuse the very same casts.

Guards against business-rules' sharp edges:

* strings: ``None`` becomes ``""`` but ``0`` becomes ``"0"`` (business-rules
  turns every falsy value into ``""``); sequences are refused, so a string can
  never be iterated letter by letter the way ``SelectType`` does on Python 3.
  ``is_in``/``not_in`` compare whole strings against a list of strings.
* attribute numbers: a missing or non-numeric attribute makes every numeric
  condition false (including ``not_equal_to``) instead of raising.
* booleans: a value is true only when it is the boolean ``True``; a missing
  attribute is false.
* tag sets: business-rules' SelectType/SelectMultipleType iterate whatever
  they are given (a string letter by letter) and compare case-insensitively;
  ``TagSetType`` holds a frozenset of exact tags and refuses bare strings.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from business_rules.fields import (
    FIELD_NUMERIC,
    FIELD_SELECT_MULTIPLE,
    FIELD_TEXT,
)
from business_rules.operators import (
    BaseType,
    BooleanType,
    NumericType,
    StringType,
    export_type,
    type_operator,
)
from business_rules.utils import float_to_decimal

FIELD_NUMERIC_RANGE = "numeric_range"
FIELD_DATE = "date"
FIELD_DATE_RANGE = "date_range"
FIELD_TAG = "tag"
FIELD_TAG_LIST = "tag_list"

EPSILON: Decimal = NumericType.EPSILON
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
TAG = re.compile(r"[a-z0-9_-]{1,64}")


def to_text(value: Any) -> str:
    """Cast a variable value to a string without business-rules' ``value or ""`` trap."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    raise AssertionError(f"{value!r} is not a valid string type.")


def to_text_list(values: Any) -> list[str]:
    """A list of whole strings; a bare string is refused (it would match letter by letter)."""
    if isinstance(values, str) or not isinstance(values, list | tuple):
        # business-rules signals bad operator input with AssertionError; keep that contract.
        raise AssertionError(f"{values!r} is not a list of strings.")
    if not all(isinstance(v, str) for v in values):
        raise AssertionError(f"{values!r} is not a list of strings.")
    return list(values)


def to_attribute_number(value: Any) -> Decimal | None:
    """Attribute values come from providers: anything not a finite number counts as missing."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return float_to_decimal(value) if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    return None


def to_flag(value: Any) -> bool:
    """Only the boolean True is true, so "false" or 1 from a provider cannot sneak in."""
    return value is True


def to_date(value: Any) -> date:
    """A calendar date, from a date or an ISO ``YYYY-MM-DD`` string."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise AssertionError(f"{value!r} is not a valid date type.")


def to_tags(value: Any) -> frozenset[str]:
    """A set of whole tags; a bare string is refused (it would be a set of letters)."""
    if isinstance(value, frozenset):
        return value
    if isinstance(value, set | list | tuple) and all(isinstance(v, str) for v in value):
        return frozenset(value)
    raise AssertionError(f"{value!r} is not a valid tag set.")


def to_tag(value: Any) -> str:
    """One tag operand: a string, compared exactly."""
    if not isinstance(value, str):
        raise AssertionError(f"{value!r} is not a tag.")
    return value


def to_tag_list(values: Any) -> frozenset[str]:
    """A list of tag operands (never a bare string)."""
    return frozenset(to_text_list(values))


def bounds(values: Any) -> tuple[Any, Any]:
    """The [low, high] pair of a ``between`` operator."""
    if not isinstance(values, list | tuple) or len(values) != 2:
        raise AssertionError(f"{values!r} is not a [low, high] pair.")
    return values[0], values[1]


@export_type
class LoyaltyStringType(StringType):
    """business-rules' StringType plus not_equal_to, is_in and not_in."""

    name = "string"
    _assert_valid_value_and_cast = staticmethod(to_text)

    @type_operator(FIELD_TEXT)
    def not_equal_to(self, other_string: str) -> bool:
        return self.value != other_string

    @type_operator(FIELD_SELECT_MULTIPLE, assert_type_for_arguments=False)
    def is_in(self, values: Sequence[str]) -> bool:
        return self.value in to_text_list(values)

    @type_operator(FIELD_SELECT_MULTIPLE, assert_type_for_arguments=False)
    def not_in(self, values: Sequence[str]) -> bool:
        return self.value not in to_text_list(values)


@export_type
class LoyaltyNumericType(NumericType):
    """business-rules' NumericType (Decimal, EPSILON) plus not_equal_to and between."""

    name = "numeric"

    @type_operator(FIELD_NUMERIC)
    def not_equal_to(self, other_numeric: Decimal) -> bool:
        return not self.equal_to(other_numeric)

    @type_operator(FIELD_NUMERIC_RANGE, assert_type_for_arguments=False)
    def between(self, low_high: Sequence[Any]) -> bool:
        low, high = bounds(low_high)
        return self.greater_than_or_equal_to(low) and self.less_than_or_equal_to(high)


class AttributeNumericType(LoyaltyNumericType):
    """Numeric type of ``attributes.<key>``: a missing or non-numeric value makes every operator false."""

    _assert_valid_value_and_cast = staticmethod(to_attribute_number)

    @type_operator(FIELD_NUMERIC)
    def equal_to(self, other_numeric: Decimal) -> bool:
        return self.value is not None and super().equal_to(other_numeric)

    @type_operator(FIELD_NUMERIC)
    def not_equal_to(self, other_numeric: Decimal) -> bool:
        return self.value is not None and super().not_equal_to(other_numeric)

    @type_operator(FIELD_NUMERIC)
    def greater_than(self, other_numeric: Decimal) -> bool:
        return self.value is not None and super().greater_than(other_numeric)

    @type_operator(FIELD_NUMERIC)
    def greater_than_or_equal_to(self, other_numeric: Decimal) -> bool:
        return self.value is not None and super().greater_than_or_equal_to(other_numeric)

    @type_operator(FIELD_NUMERIC)
    def less_than(self, other_numeric: Decimal) -> bool:
        return self.value is not None and super().less_than(other_numeric)

    @type_operator(FIELD_NUMERIC)
    def less_than_or_equal_to(self, other_numeric: Decimal) -> bool:
        return self.value is not None and super().less_than_or_equal_to(other_numeric)

    @type_operator(FIELD_NUMERIC_RANGE, assert_type_for_arguments=False)
    def between(self, low_high: Sequence[Any]) -> bool:
        return self.value is not None and super().between(low_high)


@export_type
class LoyaltyBooleanType(BooleanType):
    """business-rules' BooleanType, but a missing value is false instead of an error."""

    name = "boolean"
    _assert_valid_value_and_cast = staticmethod(to_flag)


@export_type
class DateType(BaseType):
    """Calendar dates (the local date of the event); values are ISO ``YYYY-MM-DD`` strings."""

    name = "date"
    _assert_valid_value_and_cast = staticmethod(to_date)

    @type_operator(FIELD_DATE)
    def equal_to(self, other_date: date) -> bool:
        return self.value == other_date

    @type_operator(FIELD_DATE)
    def before(self, other_date: date) -> bool:
        return self.value < other_date

    @type_operator(FIELD_DATE)
    def after(self, other_date: date) -> bool:
        return self.value > other_date

    @type_operator(FIELD_DATE)
    def on_or_before(self, other_date: date) -> bool:
        return self.value <= other_date

    @type_operator(FIELD_DATE)
    def on_or_after(self, other_date: date) -> bool:
        return self.value >= other_date

    @type_operator(FIELD_DATE_RANGE, assert_type_for_arguments=False)
    def between(self, low_high: Sequence[Any]) -> bool:
        low, high = bounds(low_high)
        return to_date(low) <= self.value <= to_date(high)


@export_type
class TagSetType(BaseType):
    """A customer's tags: a frozenset of exact strings (select-multiple without its quirks)."""

    name = "tag_set"
    _assert_valid_value_and_cast = staticmethod(to_tags)

    @type_operator(FIELD_TAG, assert_type_for_arguments=False)
    def contains(self, tag: str) -> bool:
        return to_tag(tag) in self.value

    @type_operator(FIELD_TAG, assert_type_for_arguments=False)
    def does_not_contain(self, tag: str) -> bool:
        return to_tag(tag) not in self.value

    @type_operator(FIELD_TAG_LIST, assert_type_for_arguments=False)
    def contains_any(self, tags: Sequence[str]) -> bool:
        return not self.value.isdisjoint(to_tag_list(tags))

    @type_operator(FIELD_TAG_LIST, assert_type_for_arguments=False)
    def contains_all(self, tags: Sequence[str]) -> bool:
        return self.value.issuperset(to_tag_list(tags))

    @type_operator(FIELD_TAG_LIST, assert_type_for_arguments=False)
    def contains_none(self, tags: Sequence[str]) -> bool:
        return self.value.isdisjoint(to_tag_list(tags))


EXPORTED_TYPES: tuple[type[BaseType], ...] = (
    LoyaltyStringType,
    LoyaltyNumericType,
    LoyaltyBooleanType,
    DateType,
    TagSetType,
)
TYPES_BY_NAME: dict[str, type[BaseType]] = {cls.name: cls for cls in EXPORTED_TYPES}
ATTRIBUTE_TYPES: dict[str, type[BaseType]] = {
    "numeric": AttributeNumericType,
    "string": LoyaltyStringType,
    "boolean": LoyaltyBooleanType,
}


def operators_of(type_name: str) -> dict[str, str]:
    """Operator name -> input type (business-rules field) of one exported type."""
    cls = TYPES_BY_NAME[type_name]
    return {op["name"]: op["input_type"] for op in cls.get_all_operators()}


OPERATORS: dict[str, dict[str, str]] = {name: operators_of(name) for name in TYPES_BY_NAME}
