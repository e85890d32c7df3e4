"""Property tests: the compiled evaluator agrees with business-rules, and parsing never crashes."""

from __future__ import annotations

import itertools
import math
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from business_rules.engine import check_conditions_recursively
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules import (
    CampaignDocument,
    CampaignSpec,
    DocumentInvalid,
    Effect,
    EvaluationContext,
    RuleSet,
    compile_eligibility,
    evaluate_all_reference,
    evaluate_reference,
    evaluate_tier,
    evaluate_tier_reference,
    parse_document,
    variables_class,
)
from rules.document import BOUNDED_VARIABLES, EQUALITY_OPERATORS
from rules.engine import holds_reference
from rules.operators import OPERATORS
from rules.variables import DAY_NAMES, VARIABLE_TYPES

BASE = datetime(2027, 1, 20, tzinfo=UTC)
ZONES = ("Asia/Ho_Chi_Minh", "UTC", "America/New_York", "Asia/Kolkata")
PROVIDERS = ("telecom", "bank", "retail")
STRINGS = ("", "g", "grocery", "Grocery", "topup", "app", "sms", "VND", "gold", "monday", "sunday", "purchase", "0")
REGEXES = ("^g", "ery$", "o+", "^(app|web)$", "[0-9]", "^$")
THRESHOLDS = (0, 3, 12, 100000)
OFFSETS = ("0", "0.0000005", "0.000001", "0.0000015", "-0.0000005", "-0.000001", "0.5")
NEAR = tuple(Decimal(t) + Decimal(o) for t in THRESHOLDS for o in OFFSETS)  # straddle NumericType.EPSILON
ATTRIBUTE_KEYS = ("plan", "n", "vip")
ATTRIBUTE_PREFIXES = ("attributes.", "customer.")  # a transaction's attributes and the customer's (same typing)
ATTRIBUTE_VALUES = (None, "", "gold", "12", "true", 0, 12, 12.0000005, 1.5, -3, True, False, math.nan, math.inf, 100000)
TAGS = ("vip", "staff", "new", "churn-risk", "b2b", "x_1")
CAPS = (None, None, 0, 1, 30, 500, 5000)
CONTEXTS_PER_EXAMPLE = 40
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEWER = settings(SETTINGS, max_examples=100)  # single-tree checks; keeps tests/rules well under 30 s

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
    if type_name == "tag_set":
        if operator in ("contains", "does_not_contain"):
            return draw(st.sampled_from(TAGS))
        return draw(st.lists(st.sampled_from(TAGS), min_size=1, max_size=3))
    if operator in ("is_in", "not_in"):
        return draw(st.lists(strings, min_size=1, max_size=4))
    if operator == "matches_regex":
        return draw(st.sampled_from(REGEXES))
    return draw(strings)


@st.composite
def leaf(draw: st.DrawFn, attribute_types: dict[str, str]) -> dict[str, Any]:
    attributes = [f"{prefix}{key}" for key in attribute_types for prefix in ATTRIBUTE_PREFIXES]
    names = sorted(VARIABLE_TYPES) + attributes * 2 + ["amount"] * 4 + ["lifetime_points", "hour"]
    name = draw(st.sampled_from(names))
    prefix = next((p for p in ATTRIBUTE_PREFIXES if name.startswith(p)), None)
    type_name = attribute_types[name.removeprefix(prefix)] if prefix is not None else VARIABLE_TYPES[name].name
    operators = sorted(OPERATORS[type_name])
    if type_name == "string" and prefix is not None:
        operators = [op for op in operators if op not in ("equal_to", "not_equal_to")] + ["equal_to"]
    operator = draw(st.sampled_from(operators))
    value = draw(operand(type_name, operator))
    if name in BOUNDED_VARIABLES and value is not None:  # a value outside the range is refused (never matches)
        low, high, _ = BOUNDED_VARIABLES[name]
        low += operator == "less_than"
        high -= operator == "greater_than"
        inside = st.integers(low, high)
        value = sorted([draw(inside), draw(inside)]) if operator == "between" else draw(inside)
    if name == "day_of_week" and operator in EQUALITY_OPERATORS:
        days = st.sampled_from(DAY_NAMES)
        value = draw(st.lists(days, min_size=1, max_size=4)) if operator in ("is_in", "not_in") else draw(days)
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


def routing(draw: st.DrawFn, params: dict[str, Any]) -> dict[str, Any]:
    """Sometimes say which balances the points feed and who receives them."""
    if draw(st.integers(0, 3)) == 0:
        params["feeds"] = draw(st.sampled_from(["both", "spendable", "qualifying"]))
    if draw(st.integers(0, 3)) == 0:
        params["to"] = draw(st.sampled_from(["customer", "referrer", "both"]))
    return params


@st.composite
def action(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return {
            "name": "multiply_points",
            "params": {"factor": draw(st.sampled_from([1.5, 2, 3, 1.25, 1.1, 10, 1.333]))},
        }
    if kind == 1:
        return {"name": "grant_reward", "params": {"reward": draw(st.sampled_from(["COFFEE", "voucher-50k"]))}}
    if kind == 2:
        name, param = draw(st.sampled_from([("add_tag", "tag"), ("notify", "template")]))
        return {"name": name, "params": {param: draw(st.sampled_from(TAGS))}}
    if kind < 5:
        return {"name": "award_points", "params": routing(draw, {"points": draw(st.integers(1, 1000))})}
    if kind == 5:
        percent: dict[str, Any] = {"percent": draw(st.sampled_from([0.025, 0.1, 1, 0.001, 0.333, 0.005]))}
        if draw(st.booleans()):
            percent["max"] = draw(st.integers(1, 500))
        if draw(st.booleans()):
            percent["rounding"] = draw(st.sampled_from(["down", "nearest", "up"]))
        return {"name": "award_points_percent", "params": routing(draw, percent)}
    params: dict[str, Any] = {
        "points": draw(st.integers(1, 10)),
        "per": draw(st.sampled_from([1, 1000, 10000, 0.1, 2.5, 33333])),
    }
    if draw(st.integers(0, 2)) == 0:  # the same action with bands instead of one rate
        starts = sorted(draw(st.sets(st.sampled_from([0, 0.5, 10, 999.99, 1000, 5000, 10**6]), min_size=1, max_size=4)))
        rates = st.sampled_from([1, 1000, 10000, 0.1, 2.5, 33333])
        params = {"bands": [{"from": f, "points": draw(st.integers(1, 10)), "per": draw(rates)} for f in starts]}
    elif draw(st.integers(0, 2)) == 0:  # or a rate table keyed by a string variable, with or without a default
        by = draw(st.sampled_from(["category", "channel", "provider", "day_of_week", "event_type", "attributes.plan"]))
        keys = {"provider": PROVIDERS, "day_of_week": DAY_NAMES}.get(by, tuple(k for k in STRINGS if k))
        rate = st.fixed_dictionaries({"points": st.integers(1, 10), "per": st.sampled_from([1, 1000, 0.1, 2.5])})
        table = draw(st.dictionaries(st.sampled_from(keys), rate, min_size=1, max_size=3))
        params = {**(params if draw(st.booleans()) else {}), "by": by, "rates": table}
    if draw(st.booleans()):
        params["max"] = draw(st.integers(1, 500))
    if draw(st.booleans()):
        params["rounding"] = draw(st.sampled_from(["down", "nearest", "up"]))
    return {"name": "award_points_per_amount", "params": routing(draw, params)}


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
    if draw(st.integers(0, 4)) == 0:
        doc["pending_days"] = draw(st.integers(0, 365))
        doc["limits"] = {"per_customer": {"count": draw(st.integers(1, 5)), "period": "day"}}
        doc["budget"] = {"max_rewards": draw(st.integers(1, 100))}
    return doc


@st.composite
def tier_document(draw: st.DrawFn) -> dict[str, Any]:
    """A tier programme: 1-4 tiers with shuffled ranks, rules naming them."""
    codes = draw(
        st.lists(st.sampled_from(["bronze", "silver", "gold", "platinum"]), min_size=1, max_size=4, unique=True)
    )
    ranks = draw(st.permutations(range(len(codes))))
    base = draw(document())
    rules = [
        {**rule, "actions": [{"name": "set_tier", "params": {"tier": draw(st.sampled_from(codes))}}]}
        for rule in base["rules"]
    ]
    tier_values = st.sampled_from([*codes, ""])  # "" is "no tier yet"; other codes are refused (never match)

    def ladder_only(node: dict[str, Any]) -> None:
        for children in (node.get("all"), node.get("any")):
            for child in children or ():
                ladder_only(child)
        if node.get("name") == "customer_tier" and node.get("operator") in EQUALITY_OPERATORS:
            many = node["operator"] in ("is_in", "not_in")
            node["value"] = draw(st.lists(tier_values, min_size=1, max_size=3)) if many else draw(tier_values)

    for rule in rules:
        ladder_only(rule["conditions"])
    if draw(st.booleans()):  # the base rung: everyone starts at the lowest tier, no dummy condition
        lowest = codes[ranks.index(0)]
        rules.insert(
            0,
            {"name": "base", "conditions": {"all": []}, "actions": [{"name": "set_tier", "params": {"tier": lowest}}]},
        )
    return {
        "name": "tiers",
        "type": "tier",
        "tiers": [
            {"code": c, "name": c.title(), "rank": r, "benefits": {"earn_multiplier": 1 + r / 2}}
            for c, r in zip(codes, ranks, strict=True)
        ],
        "rules": rules,
    }


STRING_FIELDS = ("currency", "provider", "category", "channel", "customer_tier", "event_type")
INT_FIELDS = (
    "points_today",
    "points_7d",
    "points_30d",
    "points_365d",
    "qualifying_points_365d",
    "transactions_today",
    "transactions_this_month",
    "providers_used_365d",
    "days_since_first_transaction",
    "months_of_service",
    "months_with_provider",
)
SPEND_FIELDS = ("spend_today", "spend_7d", "spend_30d", "spend_365d")
STRING_POOLS: dict[str, tuple[str | None, ...]] = {
    "currency": ("VND", "USD", ""),
    "provider": PROVIDERS,
    "category": (None, "grocery", "g", "topup", "", "Grocery"),
    "channel": (None, "web", "app", "ussd", "sms", "pos"),
    "customer_tier": (None, "gold", "silver"),
    "event_type": ("purchase", "referral", "app_login", "account_anniversary", "survey_completed"),
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
    customer_attributes: dict[str, Any] = {}
    for prefix, target in zip(ATTRIBUTE_PREFIXES, (attributes, customer_attributes), strict=True):
        for key in ATTRIBUTE_KEYS:
            values = known.get(f"{prefix}{key}")
            if values and rng.random() < 0.6:
                value = rng.choice(values)
                target[key] = (
                    float(near_number(rng, value)) if isinstance(value, int | float) else near_string(rng, value)
                )
            elif (value := rng.choice(ATTRIBUTE_VALUES)) is not None or rng.random() < 0.5:
                target[key] = value
    lifetime = pick("lifetime_points", THRESHOLDS, lambda r, v: max(round(v) + r.choice([-1, 0, 1]), 0))
    near_int = lambda r, v: max(round(v) + r.choice([-1, 0, 1]), 0)  # noqa: E731
    aggregates: dict[str, Any] = {name: int(pick(name, THRESHOLDS, near_int)) for name in INT_FIELDS}
    aggregates.update({name: pick(name, NEAR, near_number) for name in SPEND_FIELDS})
    tags = {tag for tag in TAGS if rng.random() < 0.3}
    return EvaluationContext(
        amount=amount,
        occurred_at=local.astimezone(UTC) if rng.random() < 0.5 else local,
        lifetime_points=int(lifetime),
        attributes=attributes,
        customer_attributes=customer_attributes,
        timezone=zone,
        first_transaction_with_provider=rng.random() < 0.5,
        birthday_month=rng.choice((0, 1, 2, 3, 12)),
        customer_tags=frozenset(tags) if rng.random() < 0.8 else tags,
        **aggregates,
        **strings,
    )


def stacked_reference(specs: list[CampaignSpec], ctx: EvaluationContext, cap: int | None) -> list[Effect]:
    """The engine's order, stacking, multipliers and cap, written out naively over business-rules' results.

    Independent of rules.engine.settle on purpose: quadratic, Fractions, no shared code.
    """
    runs: list[list[Effect]] = []
    for spec in sorted(specs, key=lambda s: (-s.document.priority, s.id)):
        produced = evaluate_reference(spec, ctx)
        runs.append(produced)
        awarded = any((e.kind == "points" and e.points > 0) or e.kind == "reward" for e in produced)
        if awarded and spec.document.stacking == "exclusive":
            break
    settled: list[Effect] = []
    for i, run in enumerate(runs):
        for effect in run:
            if effect.kind == "multiplier":
                below = sum(
                    e.points for later in runs[i + 1 :] for e in later if e.kind == "points" and e.to != "referrer"
                )
                extra = math.floor(below * (Fraction(str(effect.factor)) - 1))
                effect = Effect(**{**{f: getattr(effect, f) for f in Effect.__dataclass_fields__}, "points": extra})
            settled.append(effect)
    if cap is None:
        return settled
    capped: list[Effect] = []
    used = 0
    for effect in settled:
        if effect.kind in ("points", "multiplier") and effect.to != "referrer" and effect.points > 0:
            kept = min(effect.points, cap - used)
            used += kept
            if kept < effect.points:
                fields = {f: getattr(effect, f) for f in Effect.__dataclass_fields__}
                effect = Effect(**{**fields, "points": kept, "capped_from": effect.points})
        capped.append(effect)
    return capped


@pytest.mark.slow  # hypothesis: hundreds of generated documents
@SETTINGS
@given(st.lists(document(), min_size=1, max_size=3), st.sampled_from(CAPS), st.integers(0, 2**32))
def test_compiled_agrees_with_business_rules(documents: list[dict[str, Any]], cap: int | None, seed: int) -> None:
    """Contexts come from a seeded Random: cheap, so each example checks many of them."""
    rng = random.Random(seed)
    specs = [CampaignSpec(id=i + 1, version=1, document=parse_document(d)) for i, d in enumerate(documents)]
    rule_sets = [RuleSet([spec]) for spec in specs]
    combined = RuleSet(specs, max_points_per_transaction=cap)
    known = operands(documents)
    for _ in range(CONTEXTS_PER_EXAMPLE):
        ctx = random_context(rng, known)
        for spec, rule_set in zip(specs, rule_sets, strict=True):
            assert rule_set.evaluate(ctx) == evaluate_reference(spec, ctx)
        expected = stacked_reference(specs, ctx, cap)
        assert combined.evaluate(ctx) == expected
        assert evaluate_all_reference(specs, ctx, max_points_per_transaction=cap) == expected


@FEWER
@given(tier_document(), st.integers(0, 2**32))
def test_evaluate_tier_agrees_with_business_rules(doc: dict[str, Any], seed: int) -> None:
    rng = random.Random(seed)
    document = parse_document(doc)
    known = operands([doc])
    ranks = {t.code: t.rank for t in document.tiers}
    for _ in range(CONTEXTS_PER_EXAMPLE // 2):
        ctx = random_context(rng, known)
        tier = evaluate_tier(document, ctx)
        assert tier == evaluate_tier_reference(document, ctx)
        fired = [
            a.params["tier"]
            for r in document.rules
            if holds_reference(r.conditions, variables_class(document.attribute_types)(ctx))
            for a in r.actions
        ]
        assert tier == (max(fired, key=ranks.__getitem__) if fired else None)


@FEWER
@given(document(), st.integers(0, 2**32))
def test_eligibility_agrees_with_business_rules(doc: dict[str, Any], seed: int) -> None:
    rng = random.Random(seed)
    conditions = doc["rules"][0]["conditions"]
    eligibility = compile_eligibility(conditions)
    variables = variables_class(eligibility.attribute_types)
    known = operands([doc])
    for _ in range(CONTEXTS_PER_EXAMPLE // 2):
        ctx = random_context(rng, known)
        assert eligibility(ctx) is bool(check_conditions_recursively(eligibility.conditions, variables(ctx)))


@pytest.mark.slow  # hypothesis: hundreds of generated documents
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


@pytest.mark.slow  # hypothesis: hundreds of generated documents
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
