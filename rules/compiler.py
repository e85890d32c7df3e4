"""Compile validated condition trees into plain Python closures.

The semantics are business-rules' with our types, expression for expression:
each variable is cast with its type's own ``_assert_valid_value_and_cast``,
numbers are compared as Decimals with the same ``NumericType.EPSILON``
expressions (same rounding), strings via ``to_text`` (None -> ""), and
all/any short-circuit left to right. The one difference is speed: a variable
is read and cast once per context (``ContextValues``, shared by every campaign
of a RuleSet) instead of once per condition. That is only equivalent because
actions never change the context (see rules.effects).

Where it is cheap and provably the same, work is skipped:

* Context fields that the context already validated (Decimal amount, int
  aggregates, bools, frozenset tags, required strings) are read as they are:
  the cast would return them unchanged, except ints, which business-rules
  turns into ``Decimal(n)``. Decimal arithmetic converts an int operand
  exactly, so ``n - b`` equals ``Decimal(n) - b`` and every comparison agrees.
* ``x > e or abs(x) <= e`` (business-rules' ``>=`` and ``<=``) is written
  ``x >= -e``: the same set of x, one Decimal comparison instead of three.
* The read and the test of a leaf are one closure, not two calls.

The property tests in tests/rules prove both evaluators agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from operator import attrgetter
from typing import Any

from business_rules.operators import NumericType

from rules.actions import (
    ACTION_KINDS,
    ROUNDING_MODES,
    VALUE_PARAMS,
    Band,
    Rates,
    bands_to_decimal,
    factor_to_decimal,
    per_to_decimal,
    points_banded,
    points_keyed,
    rates_to_decimal,
)
from rules.context import EvaluationContext
from rules.document import CampaignDocument, validate_conditions
from rules.operators import (
    ATTRIBUTE_TYPES,
    EPSILON,
    DateType,
    LoyaltyBooleanType,
    LoyaltyNumericType,
    LoyaltyStringType,
    TagSetType,
    to_date,
    to_text,
)
from rules.variables import ATTRIBUTE_PREFIX, CUSTOMER_PREFIX, DAY_NAMES, VARIABLE_TYPES, LoyaltyVariables

Test = Callable[[Any], Any]
Predicate = Callable[["ContextValues"], Any]
PointsFn = Callable[[EvaluationContext], int]
Reader = Callable[["ContextValues"], Any]


def _variable_reader(name: str) -> Reader:
    """The general path: business-rules' own variable method and cast."""
    method = getattr(LoyaltyVariables, name)
    cast = VARIABLE_TYPES[name]._assert_valid_value_and_cast
    return lambda values: cast(method(LoyaltyVariables(values.ctx)))


_OPTIONAL_STRINGS = frozenset({"category", "channel", "customer_tier"})
_AS_IS_TYPES = (LoyaltyNumericType, LoyaltyBooleanType, TagSetType)
_CALENDAR: dict[str, Reader] = {
    "day_of_week": lambda values: DAY_NAMES[values.ctx.local_time().weekday()],
    "day_of_week_number": lambda values: values.ctx.local_time().isoweekday(),
    "hour": lambda values: values.ctx.local_time().hour,
    "local_date": lambda values: values.ctx.local_time().date(),
    "is_birthday_month": lambda values: (
        values.ctx.birthday_month != 0 and values.ctx.local_time().month == values.ctx.birthday_month
    ),
}


def _fast_reader(name: str) -> Reader:
    """A reader equal to _variable_reader for every operator, without its three calls (module docstring)."""
    if name in _CALENDAR:
        return _CALENDAR[name]
    if name in EvaluationContext.__dataclass_fields__:
        field_type = VARIABLE_TYPES[name]
        if name in _OPTIONAL_STRINGS:
            getter = attrgetter(name)
            return lambda values: getter(values.ctx) or ""
        if field_type is LoyaltyStringType or issubclass(field_type, _AS_IS_TYPES):
            return attrgetter(f"ctx.{name}")
    return _variable_reader(name)


def _attribute_reader(key: str) -> Reader:
    name, _, type_name = key.partition("#")
    cast = ATTRIBUTE_TYPES[type_name]._assert_valid_value_and_cast
    if name.startswith(CUSTOMER_PREFIX):
        customer = name[len(CUSTOMER_PREFIX) :]
        return lambda values: cast(values.ctx.customer_attributes.get(customer))
    attribute = name[len(ATTRIBUTE_PREFIX) :]
    return lambda values: cast(values.ctx.attributes.get(attribute))


READERS: dict[str, Reader] = {name: _fast_reader(name) for name in VARIABLE_TYPES}


class ContextValues(dict[str, Any]):
    """The cast variable values of one context, each computed on first use.

    Keys are variable names; an attribute's key also carries its inferred type
    (``attributes.plan#string``) because two documents may type it differently.
    """

    __slots__ = ("ctx",)
    ctx: EvaluationContext

    def __init__(self, ctx: EvaluationContext) -> None:
        super().__init__()
        self.ctx = ctx

    @property
    def variables(self) -> LoyaltyVariables:
        return LoyaltyVariables(self.ctx)

    def __missing__(self, key: str) -> Any:
        value = self[key] = READERS[key](self)
        return value


@dataclass(frozen=True, slots=True)
class CompiledAction:
    """One action; ``points`` computes its points (0 for non-points kinds) from the context."""

    index: int
    name: str
    params: Mapping[str, Any]
    points: PointsFn
    kind: str = "points"
    feeds: str = "both"
    to: str = "customer"
    value: str | None = None
    factor: Decimal | None = None


@dataclass(frozen=True, slots=True)
class CompiledRule:
    index: int
    name: str
    predicate: Predicate
    actions: tuple[CompiledAction, ...]


def _number(value: Any) -> Decimal:
    return NumericType._assert_valid_value_and_cast(value)


def _numeric_leaf(key: str, operator: str, value: Any) -> Predicate:
    e = EPSILON
    m = -EPSILON
    if operator == "between":
        low, high = _number(value[0]), _number(value[1])

        def between(values: ContextValues) -> bool:
            v = values[key]
            return v - low >= m and high - v >= m

        return between
    b = _number(value)
    leaves: dict[str, Predicate] = {
        "equal_to": lambda values: abs(values[key] - b) <= e,
        "not_equal_to": lambda values: abs(values[key] - b) > e,
        "greater_than": lambda values: values[key] - b > e,
        "greater_than_or_equal_to": lambda values: values[key] - b >= m,
        "less_than": lambda values: b - values[key] > e,
        "less_than_or_equal_to": lambda values: b - values[key] >= m,
    }
    return leaves[operator]


def _string_leaf(key: str, operator: str, value: Any) -> Predicate:
    if operator in ("is_in", "not_in"):
        members = frozenset(value)
        if operator == "is_in":
            return lambda values: values[key] in members
        return lambda values: values[key] not in members
    if operator == "non_empty":
        return lambda values: values[key] != ""
    s = to_text(value)
    if operator == "matches_regex":
        search = re.compile(s).search
        return lambda values: search(values[key]) is not None
    lowered = s.lower()
    leaves: dict[str, Predicate] = {
        "equal_to": lambda values: values[key] == s,
        "not_equal_to": lambda values: values[key] != s,
        "equal_to_case_insensitive": lambda values: values[key].lower() == lowered,
        "starts_with": lambda values: values[key].startswith(s),
        "ends_with": lambda values: values[key].endswith(s),
        "contains": lambda values: s in values[key],
    }
    return leaves[operator]


def _boolean_leaf(key: str, operator: str, value: Any) -> Predicate:
    if operator == "is_true":
        return lambda values: values[key]
    return lambda values: not values[key]


def _date_leaf(key: str, operator: str, value: Any) -> Predicate:
    if operator == "between":
        low, high = to_date(value[0]), to_date(value[1])
        return lambda values: low <= values[key] <= high
    d = to_date(value)
    leaves: dict[str, Predicate] = {
        "equal_to": lambda values: values[key] == d,
        "before": lambda values: values[key] < d,
        "after": lambda values: values[key] > d,
        "on_or_before": lambda values: values[key] <= d,
        "on_or_after": lambda values: values[key] >= d,
    }
    return leaves[operator]


def _tag_set_leaf(key: str, operator: str, value: Any) -> Predicate:
    if operator in ("contains", "does_not_contain"):
        tag = value
        if operator == "contains":
            return lambda values: tag in values[key]
        return lambda values: tag not in values[key]
    tags = frozenset(value)
    leaves: dict[str, Predicate] = {
        "contains_any": lambda values: not values[key].isdisjoint(tags),
        "contains_all": lambda values: values[key] >= tags,
        "contains_none": lambda values: values[key].isdisjoint(tags),
    }
    return leaves[operator]


_LEAVES: dict[str, Callable[[str, str, Any], Predicate]] = {
    LoyaltyNumericType.name: _numeric_leaf,
    LoyaltyStringType.name: _string_leaf,
    LoyaltyBooleanType.name: _boolean_leaf,
    DateType.name: _date_leaf,
    TagSetType.name: _tag_set_leaf,
}


def leaf_key(name: str, attribute_types: Mapping[str, str]) -> tuple[str, str]:
    """(ContextValues key, type name) of a leaf's variable; registers attribute readers on first sight."""
    if name.startswith((ATTRIBUTE_PREFIX, CUSTOMER_PREFIX)):
        type_name = attribute_types[name if name.startswith(CUSTOMER_PREFIX) else name[len(ATTRIBUTE_PREFIX) :]]
        key = f"{name}#{type_name}"
        if key not in READERS:
            READERS[key] = _attribute_reader(key)
        return key, type_name
    return name, VARIABLE_TYPES[name].name


def compile_leaf(condition: Mapping[str, Any], attribute_types: Mapping[str, str]) -> Predicate:
    """One validated leaf condition as a closure over ContextValues."""
    name: str = condition["name"]
    key, type_name = leaf_key(name, attribute_types)
    test = _LEAVES[type_name](key, condition["operator"], condition["value"])
    if key != name and type_name == "numeric":
        # A missing or non-numeric attribute makes every numeric operator false (AttributeNumericType).
        return lambda values: values[key] is not None and test(values)
    return test


def _all(predicates: Sequence[Predicate]) -> Predicate:
    """Left-to-right, short-circuit; unrolled for the usual sizes to avoid a generator per call.

    An empty list (only a rule's ``all: []``, the base rung of a ladder) is always true, as in
    rules.engine.holds_reference."""
    if not predicates:
        return lambda values: True
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
    return compile_leaf(node, attribute_types)


class Eligibility:
    """A compiled stand-alone condition tree: ``eligibility(ctx) -> bool``."""

    __slots__ = ("attribute_types", "conditions", "predicate")

    def __init__(self, conditions: Mapping[str, Any], attribute_types: Mapping[str, str]) -> None:
        self.conditions = conditions
        self.attribute_types = dict(attribute_types)
        self.predicate = compile_conditions(conditions, attribute_types)

    def __call__(self, ctx: EvaluationContext) -> bool:
        return bool(self.predicate(ContextValues(ctx)))


def compile_eligibility(conditions: Any) -> Eligibility:
    """Validate (DocumentInvalid with paths under ``conditions``) and compile e.g. a reward's eligibility rule."""
    normalised, attribute_types = validate_conditions(conditions)
    return Eligibility(normalised, attribute_types)


def _constant_points(points: int, ctx: EvaluationContext) -> int:
    return points


def _amount_points(points: int, per: Decimal, max_points: int | None, rounding: str) -> PointsFn:
    """points_per_amount with its constants hoisted; the same Decimal expression, so the same rounding."""
    dp = Decimal(points)
    mode = ROUNDING_MODES[rounding]

    def earn(ctx: EvaluationContext) -> int:
        value = int((dp * (ctx.amount / per)).to_integral_value(rounding=mode))
        if value < 0:
            return 0
        return value if max_points is None or value <= max_points else max_points

    return earn


def _banded_points(bands: tuple[Band, ...], max_points: int | None, rounding: str, ctx: EvaluationContext) -> int:
    return points_banded(ctx.amount, bands, max_points, rounding)


def _keyed_points(
    by: str,
    rates: Rates,
    default: tuple[int, Decimal] | None,
    max_points: int | None,
    rounding: str,
    ctx: EvaluationContext,
) -> int:
    return points_keyed(ctx, by, rates, default, max_points, rounding)


def _percent_points(percent: Decimal, max_points: int | None, rounding: str) -> PointsFn:
    """points_percent with its constants hoisted; the same Decimal expression, so the same rounding."""
    mode = ROUNDING_MODES[rounding]

    def earn(ctx: EvaluationContext) -> int:
        value = int((ctx.amount * percent).to_integral_value(rounding=mode))
        if value < 0:
            return 0
        return value if max_points is None or value <= max_points else max_points

    return earn


def _compile_action(index: int, name: str, params: Mapping[str, Any]) -> CompiledAction:
    kind = ACTION_KINDS.get(name)
    if kind is None:
        raise ValueError(f"no compiler for action {name!r}")
    extra: dict[str, Any] = {}
    if name == "award_points":
        fn: PointsFn = partial(_constant_points, params["points"])
    elif name == "award_points_per_amount" and params.get("bands") is not None:
        fn = partial(_banded_points, bands_to_decimal(params["bands"]), params["max"], params["rounding"])
    elif name == "award_points_per_amount" and params.get("by") is not None:
        default = None if params["points"] is None else (params["points"], per_to_decimal(params["per"]))
        rates = rates_to_decimal(params["rates"])
        fn = partial(_keyed_points, params["by"], rates, default, params["max"], params["rounding"])
    elif name == "award_points_per_amount":
        fn = _amount_points(params["points"], per_to_decimal(params["per"]), params["max"], params["rounding"])
    elif name == "award_points_percent":
        fn = _percent_points(per_to_decimal(params["percent"]), params["max"], params["rounding"])
    else:
        fn = partial(_constant_points, 0)
    if kind == "points":
        extra = {"feeds": params["feeds"], "to": params["to"]}
    elif kind == "multiplier":
        extra = {"factor": factor_to_decimal(params["factor"])}
    else:
        extra = {"value": params[VALUE_PARAMS[name]]}
    return CompiledAction(index=index, name=name, params=dict(params), points=fn, kind=kind, **extra)


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
