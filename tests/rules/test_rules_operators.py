"""Each operator, through our business-rules types and through both evaluators."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from business_rules.operators import SelectType, StringType

from rules import (
    CampaignSpec,
    DateType,
    EvaluationContext,
    LoyaltyNumericType,
    LoyaltyStringType,
    RuleSet,
    evaluate_reference,
    parse_document,
)
from rules.operators import AttributeNumericType, LoyaltyBooleanType

WHEN = datetime(2027, 1, 31, 20, 30, tzinfo=UTC)  # Monday 2027-02-01 03:30 in Ho Chi Minh City


def ctx(**overrides: Any) -> EvaluationContext:
    fields: dict[str, Any] = {
        "amount": Decimal("100"),
        "currency": "VND",
        "provider": "telecom",
        "category": "grocery",
        "channel": "app",
        "occurred_at": WHEN,
    }
    fields.update(overrides)
    return EvaluationContext(**fields)


def holds(condition: dict[str, Any], context: EvaluationContext) -> bool:
    """Whether one condition holds, asserting the compiled and reference paths agree."""
    document = parse_document(
        {
            "name": "probe",
            "rules": [
                {
                    "name": "r",
                    "conditions": {"all": [condition]},
                    "actions": [{"name": "award_points", "params": {"points": 1}}],
                }
            ],
        }
    )
    spec = CampaignSpec(id=1, version=1, document=document)
    compiled = RuleSet([spec]).evaluate(context)
    assert compiled == evaluate_reference(spec, context)
    return bool(compiled)


def cond(name: str, operator: str, value: Any = None) -> dict[str, Any]:
    return {"name": name, "operator": operator, "value": value}


# -- strings -----------------------------------------------------------------


def test_none_string_is_empty() -> None:
    c = ctx(category=None)
    assert holds(cond("category", "equal_to", ""), c)
    assert not holds(cond("category", "non_empty"), c)
    assert holds(cond("category", "not_equal_to", "grocery"), c)
    assert holds(cond("category", "not_in", ["grocery"]), c)


def test_zero_is_not_the_empty_string() -> None:
    assert StringType(0).value == ""
    assert LoyaltyStringType(0).value == "0"
    assert holds(cond("attributes.code", "equal_to", "0"), ctx(attributes={"code": 0}))
    assert holds(cond("attributes.code", "equal_to", "true"), ctx(attributes={"code": True}))
    assert holds(cond("attributes.code", "equal_to", ""), ctx(attributes={}))


def test_sequences_are_not_strings() -> None:
    with pytest.raises(AssertionError):
        LoyaltyStringType(["g", "r"])


def test_is_in_matches_whole_strings_only() -> None:
    assert SelectType("grocery").contains("g")  # the Python 3 trap we avoid
    assert not LoyaltyStringType("g").is_in(["grocery"])
    assert LoyaltyStringType("grocery").is_in(["grocery", "pharmacy"])
    with pytest.raises(AssertionError):
        LoyaltyStringType("g").is_in("grocery")
    assert holds(cond("category", "is_in", ["grocery"]), ctx())
    assert not holds(cond("category", "is_in", ["grocery"]), ctx(category="g"))
    assert not holds(cond("category", "is_in", ["g", "r"]), ctx())
    assert holds(cond("category", "not_in", ["grocery"]), ctx(category="g"))
    assert not holds(cond("category", "is_in", ["Grocery"]), ctx())


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("equal_to", "grocery", True),
        ("equal_to", "Grocery", False),
        ("not_equal_to", "grocery", False),
        ("equal_to_case_insensitive", "GROCERY", True),
        ("starts_with", "gro", True),
        ("ends_with", "ery", True),
        ("contains", "g", True),
        ("contains", "x", False),
        ("matches_regex", "^gr.c", True),
        ("matches_regex", "^rocery", False),
        ("non_empty", None, True),
    ],
)
def test_string_operators(operator: str, value: Any, expected: bool) -> None:
    assert holds(cond("category", operator, value), ctx()) is expected


# -- numbers -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("equal_to", 100.0000005, True),
        ("equal_to", 100.000001, True),
        ("equal_to", 100.000002, False),
        ("not_equal_to", 100.0000005, False),
        ("not_equal_to", 100.000002, True),
        ("greater_than", 99.9999995, False),
        ("greater_than", 99.999998, True),
        ("greater_than_or_equal_to", 100.0000009, True),
        ("greater_than_or_equal_to", 100.000002, False),
        ("less_than", 100.0000005, False),
        ("less_than", 100.000002, True),
        ("less_than_or_equal_to", 99.9999995, True),
        ("less_than_or_equal_to", 99.999998, False),
        ("between", [100, 200], True),
        ("between", [0, 100], True),
        ("between", [100.0000009, 200], True),
        ("between", [100.000002, 200], False),
        ("between", [0, 99.999998], False),
        ("between", [0.5, 99.9999995], True),
    ],
)
def test_numeric_operators_use_epsilon(operator: str, value: Any, expected: bool) -> None:
    assert getattr(LoyaltyNumericType(Decimal("100")), operator)(value) is expected
    assert holds(cond("amount", operator, value), ctx()) is expected


def test_numeric_type_refuses_none() -> None:
    with pytest.raises(AssertionError):
        LoyaltyNumericType(None)
    with pytest.raises(ValueError, match="finite Decimal"):
        ctx(amount=Decimal("Infinity"))
    with pytest.raises(ValueError, match="finite Decimal"):
        ctx(amount=None)


@pytest.mark.parametrize("value", [None, "12", True, float("nan"), float("inf"), [12]])
@pytest.mark.parametrize(
    ("operator", "operand"),
    [
        ("equal_to", 12),
        ("not_equal_to", 12),
        ("greater_than", 0),
        ("greater_than_or_equal_to", 0),
        ("less_than", 100),
        ("less_than_or_equal_to", 100),
        ("between", [0, 100]),
    ],
)
def test_missing_or_non_numeric_attribute_is_false(value: Any, operator: str, operand: Any) -> None:
    attributes = {} if value is None else {"n": value}
    assert not holds(cond("attributes.n", operator, operand), ctx(attributes=attributes))
    assert getattr(AttributeNumericType(value), operator)(operand) is False


def test_numeric_attribute_values() -> None:
    assert holds(cond("attributes.n", "equal_to", 1.5), ctx(attributes={"n": 1.5}))
    assert holds(cond("attributes.n", "greater_than", 10), ctx(attributes={"n": 11}))
    assert holds(cond("attributes.n", "not_equal_to", 10), ctx(attributes={"n": 11}))
    assert holds(cond("attributes.n", "between", [1, 3]), ctx(attributes={"n": 3}))


def test_derived_time_variables() -> None:
    c = ctx()
    assert holds(cond("day_of_week", "equal_to", "monday"), c)
    assert holds(cond("day_of_week_number", "equal_to", 1), c)
    assert holds(cond("hour", "equal_to", 3), c)
    assert holds(cond("local_date", "equal_to", "2027-02-01"), c)
    utc = ctx(timezone="UTC")
    assert holds(cond("day_of_week", "equal_to", "sunday"), utc)
    assert holds(cond("day_of_week_number", "equal_to", 7), utc)
    assert holds(cond("hour", "between", [20, 20]), utc)


# -- booleans and dates ------------------------------------------------------


@pytest.mark.parametrize(
    ("attributes", "is_true"),
    [({"vip": True}, True), ({"vip": False}, False), ({}, False), ({"vip": "true"}, False), ({"vip": 1}, False)],
)
def test_boolean_attributes(attributes: dict[str, Any], is_true: bool) -> None:
    assert holds(cond("attributes.vip", "is_true"), ctx(attributes=attributes)) is is_true
    assert holds(cond("attributes.vip", "is_false"), ctx(attributes=attributes)) is not is_true
    assert LoyaltyBooleanType(attributes.get("vip")).is_true() is is_true


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("equal_to", "2027-02-01", True),
        ("equal_to", "2027-01-31", False),
        ("before", "2027-02-01", False),
        ("before", "2027-02-02", True),
        ("after", "2027-01-31", True),
        ("after", "2027-02-01", False),
        ("on_or_before", "2027-02-01", True),
        ("on_or_after", "2027-02-01", True),
        ("on_or_after", "2027-02-02", False),
        ("between", ["2027-02-01", "2027-02-01"], True),
        ("between", ["2027-01-01", "2027-01-31"], False),
        ("between", ["2027-02-01", "2027-03-01"], True),
    ],
)
def test_date_operators(operator: str, value: Any, expected: bool) -> None:
    assert getattr(DateType(date(2027, 2, 1)), operator)(value) is expected
    assert holds(cond("local_date", operator, value), ctx()) is expected


def test_date_type_refuses_datetimes_and_bad_strings() -> None:
    for bad in (datetime(2027, 1, 1, tzinfo=UTC), "2027-1-1", "20270101", None):
        with pytest.raises(AssertionError):
            DateType(bad)
