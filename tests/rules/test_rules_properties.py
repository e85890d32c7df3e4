"""Property tests: the compiled evaluator agrees with business-rules, and parsing never crashes."""

from __future__ import annotations

import itertools
import math
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules import (
    CampaignDocument,
    CampaignSpec,
    DocumentInvalid,
    EvaluationContext,
    RuleSet,
    evaluate_reference,
    parse_document,
)
from rules.operators import OPERATORS
from rules.variables import VARIABLE_TYPES

BASE = datetime(2027, 1, 20, tzinfo=UTC)
ZONES = ("Asia/Ho_Chi_Minh", "UTC", "America/New_York", "Asia/Kolkata")
PROVIDERS = ("telecom", "bank", "retail")
STRINGS = ("", "g", "grocery", "Grocery", "topup", "app", "sms", "VND", "gold", "monday", "sunday", "purchase", "0")
REGEXES = ("^g", "ery$", "o+", "^(app|web)$", "[0-9]", "^$")
THRESHOLDS = (0, 3, 12, 100000)
OFFSETS = ("0", "0.0000005", "0.000001", "0.0000015", "-0.0000005", "-0.000001", "0.5")
NEAR = tuple(Decimal(t) + Decimal(o) for t in THRESHOLDS for o in OFFSETS)  # straddle NumericType.EPSILON
ATTRIBUTE_KEYS = ("plan", "n", "vip")
ATTRIBUTE_VALUES = (None, "", "gold", "12", "true", 0, 12, 12.0000005, 1.5, -3, True, False, math.nan, math.inf, 100000)
CONTEXTS_PER_EXAMPLE = 40
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

near = st.sampled_from([int(n) if n == n.to_integral_value() else float(n) for n in NEAR])
numbers = st.one_of(
    near,
    near,
    near,
    st.integers(-10, 200_000),
    st.floats(-10, 200_000, allow_nan=False, allow_infinity=False),
)
strings = st.one_of(st.sampled_from(STRINGS), st.text(max_size=4))
dates = st.dates(min_value=date(2027, 1, 15), max_value=date(2027, 3, 5))


@st.composite
def operand(draw: st.DrawFn, type_name: str, operator: str) -> Any:
    """A valid value for one operator of one type."""
    if operator in ("non_empty", "is_true", "is_false"):
        return None
    if type_name == "numeric":
        if operator == "between":
            return sorted([draw(numbers), draw(numbers)])
        return draw(numbers)
    if type_name == "date":
        if operator == "between":
            return [d.isoformat() for d in sorted([draw(dates), draw(dates)])]
        return draw(dates).isoformat()
    if operator in ("is_in", "not_in"):
        return draw(st.lists(strings, min_size=1, max_size=4))
    if operator == "matches_regex":
        return draw(st.sampled_from(REGEXES))
    return draw(strings)


@st.composite
def leaf(draw: st.DrawFn, attribute_types: dict[str, str]) -> dict[str, Any]:
    attributes = [f"attributes.{key}" for key in attribute_types]
    names = sorted(VARIABLE_TYPES) + attributes * 2 + ["amount"] * 4 + ["lifetime_points", "hour"]
    name = draw(st.sampled_from(names))
    if name.startswith("attributes."):
        type_name = attribute_types[name.removeprefix("attributes.")]
    else:
        type_name = VARIABLE_TYPES[name].name
    operators = sorted(OPERATORS[type_name])
    if type_name == "string" and name.startswith("attributes."):
        operators = [op for op in operators if op not in ("equal_to", "not_equal_to")] + ["equal_to"]
    operator = draw(st.sampled_from(operators))
    value = draw(operand(type_name, operator))
    condition = {"name": name, "operator": operator, "value": value}
    if value is None and draw(st.booleans()):
        del condition["value"]
    return condition


@st.composite
def tree(draw: st.DrawFn, leaves: list[dict[str, Any]], top: bool = True) -> dict[str, Any]:
    """Group 2-4 leaves into a random nesting of all/any (a lone leaf is sometimes wrapped)."""
    if len(leaves) == 1:
        if top or draw(st.booleans()):
            return {draw(st.sampled_from(["all", "any"])): leaves}
        return leaves[0]
    cuts = sorted(draw(st.sets(st.integers(1, len(leaves) - 1), min_size=1)))
    bounds = [0, *cuts, len(leaves)]
    children = [draw(tree(leaves[a:b], top=False)) for a, b in itertools.pairwise(bounds)]
    return {draw(st.sampled_from(["all", "any"])): children}


@st.composite
def action(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        return {"name": "award_points", "params": {"points": draw(st.integers(1, 1000))}}
    params: dict[str, Any] = {
        "points": draw(st.integers(1, 10)),
        "per": draw(st.sampled_from([1, 1000, 10000, 0.1, 2.5, 33333])),
    }
    if draw(st.booleans()):
        params["max"] = draw(st.integers(1, 500))
    if draw(st.booleans()):
        params["rounding"] = draw(st.sampled_from(["down", "nearest", "up"]))
    return {"name": "award_points_per_amount", "params": params}


@st.composite
def document(draw: st.DrawFn) -> dict[str, Any]:
    attribute_types = {
        key: draw(st.sampled_from(["numeric", "string", "boolean"]))
        for key in draw(st.sets(st.sampled_from(ATTRIBUTE_KEYS)))
    }
    rules = []
    for i in range(draw(st.integers(1, 3))):
        leaves = draw(st.lists(leaf(attribute_types), min_size=2, max_size=4))
        rules.append(
            {
                "name": f"rule {i}",
                "conditions": draw(tree(leaves)),
                "actions": draw(st.lists(action(), min_size=1, max_size=2)),
            }
        )
    doc: dict[str, Any] = {
        "name": "generated",
        "rules": rules,
        "priority": draw(st.integers(-2, 2)),
        "stacking": draw(st.sampled_from(["stackable", "exclusive"])),
    }
    if draw(st.booleans()):
        doc["providers"] = sorted(draw(st.sets(st.sampled_from(PROVIDERS), min_size=1)))
    if draw(st.booleans()):
        start = BASE + timedelta(days=draw(st.integers(0, 20)))
        doc["starts_at"] = start.isoformat()
        doc["ends_at"] = (start + timedelta(days=draw(st.integers(1, 30)))).isoformat()
    return doc


STRING_FIELDS = ("currency", "provider", "category", "channel", "customer_tier", "event_type")
STRING_POOLS: dict[str, tuple[str | None, ...]] = {
    "currency": ("VND", "USD", ""),
    "provider": PROVIDERS,
    "category": (None, "grocery", "g", "topup", "", "Grocery"),
    "channel": (None, "web", "app", "ussd", "sms", "pos"),
    "customer_tier": (None, "gold", "silver"),
    "event_type": ("purchase", "refund"),
}
EPSILONS = tuple(
    Decimal(o) for o in ("0", "0.0000005", "0.000001", "0.0000015", "-0.0000005", "-0.000001", "-0.0000015")
)


def operands(docs: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Every value the documents compare each variable with, so contexts can land on and around them."""
    found: dict[str, list[Any]] = {}

    def walk(node: dict[str, Any]) -> None:
        for key in ("all", "any"):
            for child in node.get(key, ()):
                walk(child)
        if "name" in node and node.get("value") is not None:
            value = node["value"]
            found.setdefault(node["name"], []).extend(value if isinstance(value, list) else [value])

    for doc in docs:
        for rule in doc["rules"]:
            walk(rule["conditions"])
    return found


def near_number(rng: random.Random, value: Any) -> Decimal:
    exact = Decimal(value) if rng.random() < 0.5 else Decimal(repr(value))
    return exact + rng.choice(EPSILONS)


def near_string(rng: random.Random, value: Any) -> str:
    text = str(value)
    return rng.choice([text, text.upper(), text.capitalize(), text[:1], text + "x", "x" + text])


def random_context(rng: random.Random, known: dict[str, list[Any]]) -> EvaluationContext:
    """A context whose values often sit exactly on, just around, or far from the documents' operands."""

    def pick(name: str, pool: tuple[Any, ...], near: Any) -> Any:
        values = known.get(name)
        return near(rng, rng.choice(values)) if values and rng.random() < 0.7 else rng.choice(pool)

    amount = pick("amount", NEAR, near_number)
    strings = {field: pick(field, STRING_POOLS[field], near_string) for field in STRING_FIELDS}
    for field in ("currency", "provider", "event_type"):
        strings[field] = strings[field] or STRING_POOLS[field][0]
    zone = rng.choice(ZONES)
    day = pick("local_date", (None,), lambda r, v: date.fromisoformat(v) + timedelta(days=r.choice([-1, 0, 0, 1])))
    if not isinstance(day, date):
        day = date(2027, 1, 20) + timedelta(days=rng.randrange(45))
    hour = int(pick("hour", tuple(range(24)), lambda r, v: min(max(round(v) + r.choice([-1, 0, 0, 1]), 0), 23)))
    local = datetime(day.year, day.month, day.day, hour, rng.randrange(60), tzinfo=ZoneInfo(zone))
    attributes: dict[str, Any] = {}
    for key in ATTRIBUTE_KEYS:
        values = known.get(f"attributes.{key}")
        if values and rng.random() < 0.6:
            value = rng.choice(values)
            attributes[key] = (
                float(near_number(rng, value)) if isinstance(value, int | float) else near_string(rng, value)
            )
        elif (value := rng.choice(ATTRIBUTE_VALUES)) is not None or rng.random() < 0.5:
            attributes[key] = value
    lifetime = pick("lifetime_points", THRESHOLDS, lambda r, v: max(round(v) + r.choice([-1, 0, 1]), 0))
    return EvaluationContext(
        amount=amount,
        occurred_at=local.astimezone(UTC) if rng.random() < 0.5 else local,
        lifetime_points=int(lifetime),
        attributes=attributes,
        timezone=zone,
        **strings,
    )


def stacked_reference(specs: list[CampaignSpec], ctx: EvaluationContext) -> list[Any]:
    """The engine's order and stacking rule, applied to business-rules' per-campaign results."""
    effects: list[Any] = []
    for spec in sorted(specs, key=lambda s: (-s.document.priority, s.id)):
        produced = evaluate_reference(spec, ctx)
        effects.extend(produced)
        if produced and spec.document.stacking == "exclusive":
            break
    return effects


@SETTINGS
@given(st.lists(document(), min_size=1, max_size=3), st.integers(0, 2**32))
def test_compiled_agrees_with_business_rules(documents: list[dict[str, Any]], seed: int) -> None:
    """Contexts come from a seeded Random: cheap, so each example checks many of them."""
    rng = random.Random(seed)
    specs = [CampaignSpec(id=i + 1, version=1, document=parse_document(d)) for i, d in enumerate(documents)]
    rule_sets = [RuleSet([spec]) for spec in specs]
    combined = RuleSet(specs)
    known = operands(documents)
    for _ in range(CONTEXTS_PER_EXAMPLE):
        ctx = random_context(rng, known)
        for spec, rule_set in zip(specs, rule_sets, strict=True):
            assert rule_set.evaluate(ctx) == evaluate_reference(spec, ctx)
        assert combined.evaluate(ctx) == stacked_reference(specs, ctx)


@SETTINGS
@given(document())
def test_raw_parses_back_to_itself(doc: dict[str, Any]) -> None:
    parsed = parse_document(doc)
    assert parse_document(dict(parsed.raw)).raw == parsed.raw


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=30,
)


def assert_only_document_invalid(source: Any, **kwargs: Any) -> None:
    try:
        result = parse_document(source, **kwargs)
    except DocumentInvalid as exc:
        assert exc.errors
        assert all(error.path and error.reason for error in exc.errors)
    else:
        assert isinstance(result, CampaignDocument)


@SETTINGS
@given(json_like)
def test_parse_arbitrary_data(data: Any) -> None:
    assert_only_document_invalid(data)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths(value, (*prefix, index))
    return found


@SETTINGS
@given(document(), st.data())
def test_parse_mutated_documents(doc: dict[str, Any], data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(paths(doc)[1:]))
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if isinstance(parent, dict) and data.draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(json_like)
    assert_only_document_invalid(doc)


@SETTINGS
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)), st.sampled_from([None, "json", "yaml"]))
def test_parse_arbitrary_text(source: str | bytes, fmt: str | None) -> None:
    assert_only_document_invalid(source, fmt=fmt)
