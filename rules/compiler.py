"""Compile validated condition trees into plain Python closures.

The semantics are business-rules' with our types, expression for expression:
each variable is cast with its type's own ``_assert_valid_value_and_cast``,
numbers are compared as Decimals with the same ``NumericType.EPSILON``
expressions (same rounding), strings via ``to_text`` (None -> ""), and
all/any short-circuit left to right. The one difference is speed: a variable
is read and cast once per context (``ContextValues``, shared by every campaign
of a RuleSet) instead of once per condition. That is only equivalent because
actions never change the context (see rules.effects).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from business_rules.operators import NumericType

from rules.actions import per_to_decimal, points_per_amount
from rules.context import EvaluationContext
from rules.document import CampaignDocument
from rules.operators import ATTRIBUTE_TYPES, EPSILON, to_date, to_text
from rules.variables import ATTRIBUTE_PREFIX, VARIABLE_TYPES, LoyaltyVariables

Test = Callable[[Any], Any]
Predicate = Callable[["ContextValues"], Any]
PointsFn = Callable[[EvaluationContext], int]
Reader = Callable[["ContextValues"], Any]


def _variable_reader(name: str) -> Reader:
    method = getattr(LoyaltyVariables, name)
    cast = VARIABLE_TYPES[name]._assert_valid_value_and_cast
    return lambda values: cast(method(values.variables))


def _attribute_reader(key: str) -> Reader:
    name, _, type_name = key.partition("#")
    attribute = name[len(ATTRIBUTE_PREFIX) :]
    cast = ATTRIBUTE_TYPES[type_name]._assert_valid_value_and_cast
    return lambda values: cast(values.ctx.attributes.get(attribute))


_READERS: dict[str, Reader] = {name: _variable_reader(name) for name in VARIABLE_TYPES}


class ContextValues(dict[str, Any]):
    """The cast variable values of one context, each computed on first use.

    Keys are variable names; an attribute's key also carries its inferred type
    (``attributes.plan#string``) because two documents may type it differently.
    Values come from LoyaltyVariables and the types' own casts, exactly as
    business-rules computes them.
    """

    __slots__ = ("ctx", "variables")

    def __init__(self, ctx: EvaluationContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.variables = LoyaltyVariables(ctx)

    def __missing__(self, key: str) -> Any:
        value = self[key] = _READERS[key](self)
        return value


@dataclass(frozen=True, slots=True)
class CompiledAction:
    index: int
    name: str
    params: Mapping[str, Any]
    points: PointsFn


@dataclass(frozen=True, slots=True)
class CompiledRule:
    index: int
    name: str
    predicate: Predicate
    actions: tuple[CompiledAction, ...]


def _number(value: Any) -> Decimal:
    return NumericType._assert_valid_value_and_cast(value)


def _numeric_test(operator: str, value: Any) -> Test:
    e = EPSILON
    if operator == "between":
        low, high = _number(value[0]), _number(value[1])
        return lambda v: ((v - low) > e or abs(v - low) <= e) and ((high - v) > e or abs(v - high) <= e)
    b = _number(value)
    tests: dict[str, Test] = {
        "equal_to": lambda v: abs(v - b) <= e,
        "not_equal_to": lambda v: not abs(v - b) <= e,
        "greater_than": lambda v: (v - b) > e,
        "greater_than_or_equal_to": lambda v: (v - b) > e or abs(v - b) <= e,
        "less_than": lambda v: (b - v) > e,
        "less_than_or_equal_to": lambda v: (b - v) > e or abs(v - b) <= e,
    }
    return tests[operator]


def _string_test(operator: str, value: Any) -> Test:
    if operator in ("is_in", "not_in"):
        members = frozenset(value)
        return (lambda v: v in members) if operator == "is_in" else (lambda v: v not in members)
    if operator == "non_empty":
        return bool
    s = to_text(value)
    if operator == "matches_regex":
        pattern = re.compile(s)
        return lambda v: pattern.search(v) is not None
    lowered = s.lower()
    tests: dict[str, Test] = {
        "equal_to": lambda v: v == s,
        "not_equal_to": lambda v: v != s,
        "equal_to_case_insensitive": lambda v: v.lower() == lowered,
        "starts_with": lambda v: v.startswith(s),
        "ends_with": lambda v: v.endswith(s),
        "contains": lambda v: s in v,
    }
    return tests[operator]


def _boolean_test(operator: str, value: Any) -> Test:
    return (lambda v: v) if operator == "is_true" else (lambda v: not v)


def _date_test(operator: str, value: Any) -> Test:
    if operator == "between":
        low, high = to_date(value[0]), to_date(value[1])
        return lambda v: low <= v <= high
    d = to_date(value)
    tests: dict[str, Test] = {
        "equal_to": lambda v: v == d,
        "before": lambda v: v < d,
        "after": lambda v: v > d,
        "on_or_before": lambda v: v <= d,
        "on_or_after": lambda v: v >= d,
    }
    return tests[operator]


_TESTS: dict[str, Callable[[str, Any], Test]] = {
    "numeric": _numeric_test,
    "string": _string_test,
    "boolean": _boolean_test,
    "date": _date_test,
}


def _leaf(condition: Mapping[str, Any], attribute_types: Mapping[str, str]) -> Predicate:
    name: str = condition["name"]
    if name.startswith(ATTRIBUTE_PREFIX):
        type_name = attribute_types[name[len(ATTRIBUTE_PREFIX) :]]
        key = f"{name}#{type_name}"
        if key not in _READERS:
            _READERS[key] = _attribute_reader(key)
    else:
        type_name = VARIABLE_TYPES[name].name
        key = name
    test = _TESTS[type_name](condition["operator"], condition["value"])
    if key != name and type_name == "numeric":
        return lambda values: (v := values[key]) is not None and test(v)
    return lambda values: test(values[key])


def _all(predicates: Sequence[Predicate]) -> Predicate:
    """Left-to-right, short-circuit; unrolled for the usual sizes to avoid a generator per call."""
    if len(predicates) == 1:
        return predicates[0]
    if len(predicates) == 2:
        a, b = predicates
        return lambda values: a(values) and b(values)
    if len(predicates) == 3:
        a, b, c = predicates
        return lambda values: a(values) and b(values) and c(values)
    if len(predicates) == 4:
        a, b, c, d = predicates
        return lambda values: a(values) and b(values) and c(values) and d(values)
    return lambda values: all(predicate(values) for predicate in predicates)


def _any(predicates: Sequence[Predicate]) -> Predicate:
    """Left-to-right, short-circuit; unrolled like _all."""
    if len(predicates) == 1:
        return predicates[0]
    if len(predicates) == 2:
        a, b = predicates
        return lambda values: a(values) or b(values)
    if len(predicates) == 3:
        a, b, c = predicates
        return lambda values: a(values) or b(values) or c(values)
    if len(predicates) == 4:
        a, b, c, d = predicates
        return lambda values: a(values) or b(values) or c(values) or d(values)
    return lambda values: any(predicate(values) for predicate in predicates)


def compile_conditions(node: Mapping[str, Any], attribute_types: Mapping[str, str]) -> Predicate:
    """One validated business-rules condition tree as a closure over ContextValues."""
    if "all" in node:
        return _all([compile_conditions(child, attribute_types) for child in node["all"]])
    if "any" in node:
        return _any([compile_conditions(child, attribute_types) for child in node["any"]])
    return _leaf(node, attribute_types)


def _constant_points(points: int, ctx: EvaluationContext) -> int:
    return points


def _amount_points(
    points: int,
    per: Decimal,
    max_points: int | None,
    rounding: str,
    ctx: EvaluationContext,
) -> int:
    return points_per_amount(ctx.amount, points, per, max_points, rounding)


def _compile_action(index: int, name: str, params: Mapping[str, Any]) -> CompiledAction:
    if name == "award_points":
        fn: PointsFn = partial(_constant_points, params["points"])
    elif name == "award_points_per_amount":
        fn = partial(
            _amount_points,
            params["points"],
            per_to_decimal(params["per"]),
            params["max"],
            params["rounding"],
        )
    else:
        raise ValueError(f"no compiler for action {name!r}")
    return CompiledAction(index=index, name=name, params=dict(params), points=fn)


def compile_document(document: CampaignDocument) -> tuple[CompiledRule, ...]:
    """Every rule of a validated document, in order, ready for RuleSet."""
    return tuple(
        CompiledRule(
            index=i,
            name=rule.name,
            predicate=compile_conditions(rule.conditions, document.attribute_types),
            actions=tuple(_compile_action(j, a.name, a.params) for j, a in enumerate(rule.actions)),
        )
        for i, rule in enumerate(document.rules)
    )
