"""Customer aggregates, tags, the new actions, multipliers, the cap, tier documents, eligibility, explain, docs."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from rules import (
    ACTION_PARAMS,
    CampaignSpec,
    DocumentInvalid,
    EvaluationContext,
    RuleSet,
    compile_eligibility,
    evaluate_all_reference,
    evaluate_reference,
    evaluate_tier,
    evaluate_tier_reference,
    explain,
    export_rules_vocabulary,
    parse_document,
)
from rules.docs import EXAMPLES, expected_of, render
from rules.document import Known

WHEN = datetime(2027, 1, 25, 10, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def ctx(**overrides: Any) -> EvaluationContext:
    fields: dict[str, Any] = {
        "amount": Decimal("1000000"),
        "currency": "VND",
        "provider": "retail",
        "category": None,
        "channel": None,
        "occurred_at": WHEN,
    }
    fields.update(overrides)
    return EvaluationContext(**fields)


def leaf(name: str, operator: str, value: Any = None) -> dict[str, Any]:
    return {"name": name, "operator": operator, "value": value}


def doc(actions: list[dict[str, Any]], conditions: list[dict[str, Any]] | None = None, **top: Any) -> dict[str, Any]:
    return {
        "name": "c",
        "rules": [
            {
                "name": "r",
                "conditions": {"all": conditions or [leaf("amount", "greater_than_or_equal_to", 0)]},
                "actions": actions,
            }
        ],
        **top,
    }


def spec(campaign_id: int, actions: list[dict[str, Any]], **top: Any) -> CampaignSpec:
    conditions = top.pop("conditions", None)
    return CampaignSpec(id=campaign_id, version=1, document=parse_document(doc(actions, conditions, **top)))


def award(points: int, **params: Any) -> dict[str, Any]:
    return {"name": "award_points", "params": {"points": points, **params}}


def multiply(factor: float) -> dict[str, Any]:
    return {"name": "multiply_points", "params": {"factor": factor}}


def holds(condition: dict[str, Any], context: EvaluationContext) -> bool:
    """One condition through both evaluators, which must agree."""
    s = spec(1, [award(1)], conditions=[condition])
    compiled = bool(RuleSet([s]).evaluate(context))
    assert compiled == bool(evaluate_reference(s, context))
    return compiled


def errors_of(source: Any) -> list[tuple[str, str]]:
    with pytest.raises(DocumentInvalid) as info:
        parse_document(source)
    return [(e.path, e.reason) for e in info.value.errors]


def points(effects: list[Any]) -> list[tuple[int, str, int]]:
    return [(e.campaign_id, e.kind, e.points) for e in effects]


# -- context and variables --------------------------------------------------


def test_context_defaults_and_validation() -> None:
    c = ctx(spend_7d=5, customer_tags=["vip"])
    assert c.spend_7d == Decimal(5) and c.spend_365d == Decimal(0)
    assert c.customer_tags == frozenset({"vip"}) and c.points_today == 0 and c.birthday_month == 0
    with pytest.raises(ValueError, match="birthday_month"):
        ctx(birthday_month=13)
    with pytest.raises(TypeError, match="customer_tags"):
        ctx(customer_tags="vip")
    with pytest.raises(TypeError, match="points_7d"):
        ctx(points_7d=1.5)
    with pytest.raises(ValueError, match="spend_today"):
        ctx(spend_today=Decimal("NaN"))
    with pytest.raises(TypeError, match="first_transaction_with_provider"):
        ctx(first_transaction_with_provider=1)


AGGREGATES = {
    "points_today": 10,
    "points_7d": 70,
    "points_30d": 300,
    "points_365d": 3650,
    "qualifying_points_365d": 2000,
    "spend_today": Decimal("150000.5"),
    "spend_7d": Decimal("700000"),
    "spend_30d": Decimal("3000000"),
    "spend_365d": Decimal("36500000"),
    "transactions_today": 2,
    "transactions_this_month": 9,
    "providers_used_365d": 3,
    "days_since_first_transaction": 400,
}


@pytest.mark.parametrize(("name", "value"), sorted(AGGREGATES.items()))
def test_numeric_aggregates(name: str, value: Any) -> None:
    c = ctx(**AGGREGATES)
    assert holds(leaf(name, "equal_to", float(value) if isinstance(value, Decimal) else value), c)
    assert holds(leaf(name, "greater_than", 0), c)
    assert not holds(leaf(name, "less_than", 0), c)
    assert not holds(leaf(name, "greater_than", 0), ctx())


def test_first_transaction_and_birthday_month() -> None:
    assert holds(leaf("first_transaction_with_provider", "is_true"), ctx(first_transaction_with_provider=True))
    assert holds(leaf("first_transaction_with_provider", "is_false"), ctx())
    assert holds(leaf("days_since_first_transaction", "equal_to", 0), ctx())
    # 2027-01-31T20:00Z is already 1 February in Ho Chi Minh City.
    late = datetime(2027, 1, 31, 20, 0, tzinfo=UTC)
    assert holds(leaf("is_birthday_month", "is_true"), ctx(occurred_at=late, birthday_month=2))
    assert not holds(leaf("is_birthday_month", "is_true"), ctx(occurred_at=late, birthday_month=1))
    assert holds(leaf("is_birthday_month", "is_true"), ctx(occurred_at=late, birthday_month=1, timezone="UTC"))
    assert not holds(leaf("is_birthday_month", "is_true"), ctx(birthday_month=0))
    assert holds(leaf("birthday_month", "equal_to", 7), ctx(birthday_month=7))


@pytest.mark.parametrize(
    ("operator", "value", "tags", "expected"),
    [
        ("contains", "vip", {"vip", "b2b"}, True),
        ("contains", "vi", {"vip"}, False),
        ("contains", "vip", {"VIP"}, False),
        ("does_not_contain", "vip", set(), True),
        ("does_not_contain", "vip", {"vip"}, False),
        ("contains_any", ["staff", "vip"], {"vip"}, True),
        ("contains_any", ["staff", "new"], {"vip"}, False),
        ("contains_all", ["vip", "b2b"], {"vip", "b2b", "x"}, True),
        ("contains_all", ["vip", "b2b"], {"vip"}, False),
        ("contains_none", ["staff", "new"], {"vip"}, True),
        ("contains_none", ["staff", "vip"], {"vip"}, False),
    ],
)
def test_customer_tags(operator: str, value: Any, tags: set[str], expected: bool) -> None:
    assert holds(leaf("customer_tags", operator, value), ctx(customer_tags=tags)) is expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (
            leaf("customer_tags", "contains", "VIP"),
            ("rules[0].conditions.all[0].value", "'VIP' is not a valid tag ([a-z0-9_-]{1,64})"),
        ),
        (
            leaf("customer_tags", "contains", ["vip"]),
            ("rules[0].conditions.all[0].value", "expected a tag string, got list"),
        ),
        (
            leaf("customer_tags", "contains_any", "vip"),
            ("rules[0].conditions.all[0].value", "expected a list of strings, not a single string"),
        ),
        (
            leaf("customer_tags", "contains_any", ["vip", "a b"]),
            ("rules[0].conditions.all[0].value[1]", "'a b' is not a valid tag ([a-z0-9_-]{1,64})"),
        ),
        (
            leaf("customer_tags", "equal_to", "vip"),
            (
                "rules[0].conditions.all[0].operator",
                "'equal_to' is not an operator of tag_set variable 'customer_tags'",
            ),
        ),
        (
            leaf("is_birthday_month", "equal_to", 1),
            (
                "rules[0].conditions.all[0].operator",
                "'equal_to' is not an operator of boolean variable 'is_birthday_month'",
            ),
        ),
    ],
)
def test_bad_new_conditions(condition: dict[str, Any], expected: tuple[str, str]) -> None:
    assert errors_of(doc([award(1)], [condition])) == [expected]


def test_tet_date_range() -> None:
    """Tết 2027: local dates 5-12 February, both included, in the customer's timezone."""
    tet = leaf("local_date", "between", ["2027-02-05", "2027-02-12"])
    hcm = "Asia/Ho_Chi_Minh"
    cases = [
        (datetime(2027, 2, 4, 16, 59, tzinfo=UTC), False),  # 23:59 on the 4th locally
        (datetime(2027, 2, 4, 17, 0, tzinfo=UTC), True),  # midnight on the 5th locally
        (datetime(2027, 2, 12, 16, 59, tzinfo=UTC), True),  # 23:59 on the 12th locally
        (datetime(2027, 2, 12, 17, 0, tzinfo=UTC), False),  # the 13th locally
    ]
    for moment, expected in cases:
        assert holds(tet, ctx(occurred_at=moment, timezone=hcm)) is expected, moment
    assert not holds(tet, ctx(occurred_at=datetime(2027, 2, 4, 17, 0, tzinfo=UTC), timezone="UTC"))
    parsed = parse_document(doc([award(1)], [tet]))
    assert parsed.raw["rules"][0]["conditions"]["all"][0]["value"] == ["2027-02-05", "2027-02-12"]


def test_vocabulary_lists_new_variables_types_and_actions() -> None:
    vocabulary = export_rules_vocabulary()
    variables = {v["name"]: v["field_type"] for v in vocabulary["variables"]}
    for name, value in AGGREGATES.items():
        assert variables[name] == "numeric", name
        assert value is not None
    assert variables["birthday_month"] == "numeric"
    assert variables["is_birthday_month"] == variables["first_transaction_with_provider"] == "boolean"
    assert variables["customer_tags"] == "tag_set"
    operators = {o["name"] for o in vocabulary["variable_type_operators"]["tag_set"]}
    assert {"contains", "does_not_contain", "contains_any"} <= operators
    actions = {a["name"]: {p["name"] for p in a["params"]} for a in vocabulary["actions"]}
    assert actions == {name: set(params) for name, params in ACTION_PARAMS.items()}
    assert actions["award_points_per_amount"] == {
        "points",
        "per",
        "bands",
        "by",
        "rates",
        "max",
        "rounding",
        "feeds",
        "to",
    }


# -- actions, stacking, multipliers, cap --------------------------------------


def both(specs: list[CampaignSpec], c: EvaluationContext, cap: int | None = None) -> list[Any]:
    compiled = RuleSet(specs, max_points_per_transaction=cap).evaluate(c)
    assert compiled == evaluate_all_reference(specs, c, max_points_per_transaction=cap)
    return compiled


def test_gold_multiplier_on_lower_priority_points() -> None:
    base = spec(1, [{"name": "award_points_per_amount", "params": {"points": 1, "per": 10000}}])
    gold = spec(2, [multiply(1.5)], priority=10, conditions=[leaf("customer_tier", "equal_to", "gold")])
    effects = both([base, gold], ctx(customer_tier="gold"))
    assert points(effects) == [(2, "multiplier", 50), (1, "points", 100)]
    assert effects[0].factor == Decimal("1.5") and effects[0].action == "multiply_points"
    assert points(both([base, gold], ctx(customer_tier="silver"))) == [(1, "points", 100)]


def test_multipliers_do_not_multiply_each_other_or_their_own_campaign() -> None:
    specs = [
        spec(1, [award(100)]),
        spec(2, [multiply(2), award(7)], priority=5),
        spec(3, [multiply(1.5)], priority=9),
        spec(4, [award(10, to="referrer")]),
        spec(5, [multiply(3)], priority=-1),
    ]
    effects = both(specs, ctx())
    # order: 3 (p9), 2 (p5), 1, 4 (p0, by id), 5 (p-1)
    assert points(effects) == [
        (3, "multiplier", 53),  # (7 + 100) * 0.5, floor; referrer points excluded
        (2, "multiplier", 100),  # 100 * 1, not its own 7
        (2, "points", 7),
        (1, "points", 100),
        (4, "points", 10),
        (5, "multiplier", 0),  # nothing below it; kept
    ]


def test_zero_point_effects_are_kept_except_points() -> None:
    actions = [
        {"name": "award_points_per_amount", "params": {"points": 1, "per": 10_000_000}},
        {"name": "grant_reward", "params": {"reward": "COFFEE"}},
        {"name": "add_tag", "params": {"tag": "coffee-lover"}},
        {"name": "notify", "params": {"template": "coffee.granted"}},
    ]
    effects = both([spec(1, actions)], ctx())
    assert [(e.kind, e.value, e.points, e.action_index) for e in effects] == [
        ("reward", "COFFEE", 0, 1),
        ("tag", "coffee-lover", 0, 2),
        ("notify", "coffee.granted", 0, 3),
    ]


def test_feeds_and_to_are_carried() -> None:
    effects = both([spec(1, [award(5, feeds="qualifying", to="referrer"), award(3)])], ctx())
    assert [(e.feeds, e.to) for e in effects] == [("qualifying", "referrer"), ("both", "customer")]


def test_exclusive_awards_with_points_or_reward_only() -> None:
    lower = spec(1, [award(10)])
    reward = spec(2, [{"name": "grant_reward", "params": {"reward": "R1"}}], priority=5, stacking="exclusive")
    tag = spec(3, [{"name": "add_tag", "params": {"tag": "t"}}], priority=5, stacking="exclusive")
    mult = spec(4, [multiply(2)], priority=5, stacking="exclusive")
    assert [e.campaign_id for e in both([lower, reward], ctx())] == [2]
    assert [e.campaign_id for e in both([lower, tag], ctx())] == [3, 1]
    assert points(both([lower, mult], ctx())) == [(4, "multiplier", 10), (1, "points", 10)]


def test_cap_trims_in_evaluation_order_after_multipliers() -> None:
    specs = [
        spec(1, [award(100)]),
        spec(2, [multiply(1.5)], priority=10),
        spec(3, [award(30), award(5, to="referrer")], priority=5),
    ]
    effects = both(specs, ctx(), cap=120)
    assert [(e.campaign_id, e.points, e.capped_from, e.to) for e in effects] == [
        (2, 65, None, "customer"),  # (30 + 100) * 0.5 computed before the cap
        (3, 30, None, "customer"),
        (3, 5, None, "referrer"),  # referrer-only points are not capped
        (1, 25, 100, "customer"),
    ]
    effects = both(specs, ctx(), cap=50)
    assert [(e.points, e.capped_from) for e in effects] == [(50, 65), (0, 30), (5, None), (0, 100)]
    assert points(both(specs, ctx(), cap=1000)) == points(both(specs, ctx()))


def test_rule_set_cap_must_be_a_non_negative_integer() -> None:
    for bad in (-1, 1.5, True, "10"):
        with pytest.raises(ValueError, match="max_points_per_transaction"):
            RuleSet([], max_points_per_transaction=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (multiply(1), ("rules[0].actions[0].params.factor", "must be a number greater than 1 and at most 10")),
        (multiply(10.5), ("rules[0].actions[0].params.factor", "must be a number greater than 1 and at most 10")),
        (
            {"name": "multiply_points", "params": {"factor": "2"}},
            ("rules[0].actions[0].params.factor", "expected a number, got string"),
        ),
        (
            award(1, feeds="all"),
            ("rules[0].actions[0].params.feeds", "'all' is not one of both, spendable, qualifying"),
        ),
        (award(1, to="friend"), ("rules[0].actions[0].params.to", "'friend' is not one of customer, referrer, both")),
        (
            {"name": "add_tag", "params": {"tag": "VIP"}},
            ("rules[0].actions[0].params.tag", "'VIP' is not a valid tag ([a-z0-9_-]{1,64})"),
        ),
        (
            {"name": "add_tag", "params": {"tag": "x" * 65}},
            ("rules[0].actions[0].params.tag", f"'{'x' * 60}' is not a valid tag ([a-z0-9_-]{{1,64}})"),
        ),
        (
            {"name": "grant_reward", "params": {"reward": ""}},
            ("rules[0].actions[0].params.reward", "'' is not a valid code ([A-Za-z0-9][A-Za-z0-9_.-]{0,63})"),
        ),
        ({"name": "notify", "params": {}}, ("rules[0].actions[0].params.template", "required by action 'notify'")),
        (
            {"name": "set_tier", "params": {"tier": "gold"}},
            ("rules[0].actions[0].name", "'set_tier' is only valid in tier documents"),
        ),
    ],
)
def test_bad_new_actions(action: dict[str, Any], expected: tuple[str, str]) -> None:
    assert errors_of(doc([action])) == [expected]


# -- document additions -----------------------------------------------------


def test_pending_days_limits_and_budget() -> None:
    parsed = parse_document(
        doc(
            [award(1)],
            pending_days=14,
            limits={"per_customer": {"count": 2, "period": "week"}},
            budget={"max_points": 10, "max_points_per_customer": 5, "max_rewards": 3},
        )
    )
    assert parsed.pending_days == 14
    assert parsed.limits is not None and (parsed.limits.per_customer.count, parsed.limits.per_customer.period) == (
        2,
        "week",
    )
    assert parsed.budget is not None and (parsed.budget.max_points_per_customer, parsed.budget.max_rewards) == (5, 3)
    assert parsed.raw["limits"] == {"per_customer": {"count": 2, "period": "week"}} and parsed.raw["pending_days"] == 14
    assert parse_document(json.loads(json.dumps(parsed.raw))).raw == parsed.raw
    assert "pending_days" not in parse_document(doc([award(1)])).raw


@pytest.mark.parametrize(
    ("top", "expected"),
    [
        ({"pending_days": 366}, [("pending_days", "must be between 0 and 365")]),
        ({"pending_days": "7"}, [("pending_days", "expected an integer, got string")]),
        (
            {"limits": {"per_customer": {"count": 0, "period": "day"}}},
            [("limits.per_customer.count", "must be between 1 and 1000000")],
        ),
        (
            {"limits": {"per_customer": {"count": 1, "period": "fortnight"}}},
            [("limits.per_customer.period", "'fortnight' is not one of day, week, month, year, campaign")],
        ),
        (
            {"limits": {"per_customer": {"period": "day"}, "global": 1}},
            [("limits.global", "unknown key"), ("limits.per_customer.count", "required")],
        ),
        ({"limits": {}}, [("limits.per_customer", "required")]),
        ({"budget": {"max_rewards": 0}}, [("budget.max_rewards", "must be a positive integer")]),
        (
            {"budget": {"max_points_per_customer": 1.5}},
            [("budget.max_points_per_customer", "expected an integer, got number")],
        ),
        ({"grace_days": 30}, [("grace_days", "only used by tier documents")]),
        ({"tiers": []}, [("tiers", "only used by tier documents")]),
    ],
)
def test_bad_document_additions(top: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert errors_of(doc([award(1)], **top)) == expected


def tier_doc(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Tiers",
        "type": "tier",
        "tiers": [
            {"code": "silver", "name": "Silver", "rank": 1, "benefits": {"earn_multiplier": 1.2}},
            {"code": "gold", "name": "Gold", "rank": 2, "benefits": {"earn_multiplier": 1.5, "lounge": True}},
            {"code": "bronze", "name": "Bronze", "rank": 0},
        ],
        "rules": [
            {
                "name": "gold",
                "conditions": {"all": [leaf("qualifying_points_365d", "greater_than_or_equal_to", 20000)]},
                "actions": [{"name": "set_tier", "params": {"tier": "gold"}}],
            },
            {
                "name": "silver",
                "conditions": {"all": [leaf("qualifying_points_365d", "greater_than_or_equal_to", 5000)]},
                "actions": [{"name": "set_tier", "params": {"tier": "silver"}}],
            },
            {
                "name": "vip staff are silver",
                "conditions": {"all": [leaf("customer_tags", "contains", "staff")]},
                "actions": [{"name": "set_tier", "params": {"tier": "silver"}}],
            },
        ],
    }
    data.update(overrides)
    return data


def test_tier_document_and_evaluate_tier() -> None:
    document = parse_document(tier_doc())
    assert document.grace_days == 30 and [t.code for t in document.tiers] == ["silver", "gold", "bronze"]
    gold = document.tier("gold")
    assert gold is not None and gold.earn_multiplier == 1.5 and gold.benefits["lounge"] is True
    assert document.raw["grace_days"] == 30 and parse_document(document.raw).raw == document.raw
    cases = [
        (ctx(), None),
        (ctx(qualifying_points_365d=5000), "silver"),
        (ctx(qualifying_points_365d=25000), "gold"),
        (ctx(qualifying_points_365d=25000, customer_tags={"staff"}), "gold"),
        (ctx(customer_tags={"staff"}), "silver"),
    ]
    for c, expected in cases:
        assert evaluate_tier(document, c) == expected == evaluate_tier_reference(document, c)
    assert RuleSet([CampaignSpec(1, 1, document)]).campaigns == ()
    with pytest.raises(ValueError, match="tier document"):
        evaluate_tier(parse_document(doc([award(1)])), ctx())


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"tiers": [{"code": "Gold", "name": "G", "rank": 1}]},
            ("tiers[0].code", "'Gold' is not a valid tier code ([a-z0-9_-]{1,64})"),
        ),
        (
            {"tiers": [{"code": "gold", "name": "G", "rank": 1}, {"code": "gold", "name": "H", "rank": 2}]},
            ("tiers[1].code", "duplicate tier code (also tiers[0])"),
        ),
        (
            {"tiers": [{"code": "gold", "name": "G", "rank": 1}, {"code": "silver", "name": "S", "rank": 1}]},
            ("tiers[1].rank", "duplicate rank (also tiers[0])"),
        ),
        (
            {"tiers": [{"code": "gold", "name": "G", "rank": 1, "benefits": {"earn_multiplier": 11}}]},
            ("tiers[0].benefits.earn_multiplier", "must be a number between 1 and 10"),
        ),
        (
            {"tiers": [{"code": "gold", "name": "G", "rank": 1, "benefits": {"perks": [1]}}]},
            ("tiers[0].benefits.perks", "expected a string, number, boolean or null, got list"),
        ),
        ({"tiers": [{"code": "gold", "name": "G", "rank": "1"}]}, ("tiers[0].rank", "expected an integer, got string")),
        ({"grace_days": -1}, ("grace_days", "must be between 0 and 3650")),
        ({"providers": ["shop"]}, ("providers", "not used by tier documents")),
    ],
)
def test_bad_tier_documents(overrides: dict[str, Any], expected: tuple[str, str]) -> None:
    data = tier_doc(**overrides)
    if "tiers" in overrides:
        data["rules"] = [{**data["rules"][0], "actions": [{"name": "set_tier", "params": {"tier": "gold"}}]}]
    assert expected in errors_of(data)


def test_tier_rules_only_set_defined_tiers() -> None:
    data = tier_doc()
    data["rules"][0]["actions"] = [{"name": "set_tier", "params": {"tier": "platinum"}}, award(5)]
    assert errors_of(data) == [
        ("rules[0].actions[0].params.tier", "'platinum' is not a tier of this document"),
        ("rules[0].actions[1].name", "'award_points' is not valid in tier documents (only set_tier)"),
    ]
    missing = tier_doc()
    del missing["tiers"]
    assert ("tiers", "required by tier documents") in errors_of(missing)


# -- eligibility ------------------------------------------------------------


def test_compile_eligibility() -> None:
    eligible = compile_eligibility(
        {"all": [leaf("points_365d", "greater_than", 1000), leaf("attributes.kyc", "is_true")]}
    )
    assert eligible(ctx(points_365d=1001, attributes={"kyc": True})) is True
    assert eligible(ctx(points_365d=1001)) is False
    assert eligible.attribute_types == {"kyc": "boolean"}
    with pytest.raises(DocumentInvalid) as info:
        compile_eligibility({"any": [leaf("points_365d", "greater", 1), {"name": "nope", "operator": "is_true"}]})
    assert [(e.path, e.reason) for e in info.value.errors] == [
        ("conditions.any[0].operator", "'greater' is not an operator of numeric variable 'points_365d'"),
        ("conditions.any[1].name", "'nope' is not a variable"),
    ]
    with pytest.raises(DocumentInvalid):
        compile_eligibility("points > 5")


# -- explain ----------------------------------------------------------------


def test_explain_traces_every_leaf() -> None:
    s = CampaignSpec(
        id=7,
        version=2,
        document=parse_document(
            {
                "name": "Traced",
                "providers": ["retail"],
                "rules": [
                    {
                        "name": "either",
                        "conditions": {
                            "any": [
                                leaf("amount", "greater_than", 10),
                                {
                                    "all": [
                                        leaf("customer_tags", "contains", "vip"),
                                        leaf("attributes.plan", "equal_to", "gold"),
                                    ]
                                },
                            ]
                        },
                        "actions": [award(5), {"name": "add_tag", "params": {"tag": "seen"}}],
                    },
                    {
                        "name": "never",
                        "conditions": {"all": [leaf("local_date", "before", "2000-01-01")]},
                        "actions": [award(1)],
                    },
                ],
            }
        ),
    )
    trace = explain(s, ctx(amount=Decimal("12.5"), customer_tags={"vip"}))
    assert trace.applies and trace.reason is None
    first = trace.rules[0]
    assert first.fired and not trace.rules[1].fired
    assert [(c.path, c.variable, c.operator, c.expected, c.actual, c.result) for c in first.conditions] == [
        ("rules[0].conditions.any[0]", "amount", "greater_than", 10, "12.5", True),
        ("rules[0].conditions.any[1].all[0]", "customer_tags", "contains", "vip", ["vip"], True),
        ("rules[0].conditions.any[1].all[1]", "attributes.plan", "equal_to", "gold", "", False),
    ]
    assert trace.rules[1].conditions[0].actual == "2027-01-25"
    assert [(e.kind, e.points) for e in trace.effects] == [("points", 5), ("tag", 0)]
    json.dumps(trace.as_dict())

    other = explain(s, ctx(provider="bank"))
    assert not other.applies and other.reason == "provider 'bank' is not one of retail" and other.effects == ()
    assert other.rules[0].fired


def test_explain_reasons() -> None:
    timed = spec(1, [award(1)], starts_at=(WHEN + timedelta(days=1)).isoformat())
    assert explain(timed, ctx()).reason is not None and "before starts_at" in (explain(timed, ctx()).reason or "")
    ended = spec(1, [award(1)], ends_at=WHEN.isoformat())
    assert "not before ends_at" in (explain(ended, ctx()).reason or "")
    reward = spec(1, [award(1)], type="reward")
    assert explain(reward, ctx()).reason == "type 'reward' is not evaluated per event"
    late = CampaignSpec(1, 1, parse_document(doc([award(1)])), published_at=WHEN)
    assert "after the event was received" in (
        explain(late, ctx(), received_at=WHEN - timedelta(seconds=1)).reason or ""
    )


# -- docs -------------------------------------------------------------------


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.title for e in EXAMPLES])
def test_worked_examples(example: Any) -> None:
    assert expected_of(example) == example.expected
    assert example.run() == evaluate_all_reference(
        example.specs(), example.context(), max_points_per_transaction=example.max_points_per_transaction
    )


def test_docs_are_generated() -> None:
    assert (ROOT / "docs" / "rules.md").read_text(encoding="utf-8") == render(), (
        "run: python -m rules.docs > docs/rules.md"
    )


def test_docs_list_every_variable_operator_and_action() -> None:
    text = render()
    vocabulary = export_rules_vocabulary()
    for variable in vocabulary["variables"]:
        assert f"`{variable['name']}`" in text
    for operators in vocabulary["variable_type_operators"].values():
        for operator in operators:
            assert f"`{operator['name']}`" in text
    for action in ACTION_PARAMS:
        assert f"`{action}`" in text
    assert date(2027, 2, 5).isoformat() in text


# -- compiled-path shortcuts ------------------------------------------------


def test_fast_readers_equal_business_rules_values() -> None:
    from rules.compiler import READERS, ContextValues, _variable_reader
    from rules.variables import VARIABLE_TYPES

    late = datetime(2027, 2, 28, 18, 30, tzinfo=UTC)
    contexts = [
        ctx(),
        ctx(
            **AGGREGATES,
            occurred_at=late,
            birthday_month=3,
            customer_tags={"vip"},
            category="topup",
            customer_tier="gold",
        ),
    ]
    for c in contexts:
        for name in VARIABLE_TYPES:
            assert READERS[name](ContextValues(c)) == _variable_reader(name)(ContextValues(c)), name


def test_cached_effects_are_read_only_values() -> None:
    rule_set = RuleSet(
        [spec(1, [{"name": "award_points_per_amount", "params": {"points": 1, "per": 10000}}, award(3)])]
    )
    first, second = rule_set.evaluate(ctx()), rule_set.evaluate(ctx())
    assert first == second
    with pytest.raises(TypeError, match="read-only"):
        first[0].params["points"] = 99  # type: ignore[index]
    assert json.loads(json.dumps(dict(first[1].params))) == {"points": 3, "feeds": "both", "to": "customer"}
    assert rule_set.evaluate(ctx())[1].params["points"] == 3


# -- issue 16: percentages and the base rung of a ladder ---------------------------


def percent(value: Any, **params: Any) -> dict[str, Any]:
    return {"name": "award_points_percent", "params": {"percent": value, **params}}


@pytest.mark.parametrize(
    ("amount", "params", "expected"),
    [
        ("123500", {}, 3087),  # 3,087.5 rounded down by default
        ("123500", {"rounding": "nearest"}, 3088),  # ties round up
        ("123480", {"rounding": "nearest"}, 3087),  # 3,087.0
        ("123481", {"rounding": "up"}, 3088),  # 3,087.025
        ("400000", {"max": 5000}, 5000),
        ("30", {}, 0),  # 0.75 rounds down to nothing: no effect
        ("30", {"rounding": "up"}, 1),
    ],
)
def test_award_points_percent_rounds_caps_and_agrees_with_business_rules(
    amount: str, params: dict[str, Any], expected: int
) -> None:
    s = spec(1, [percent(0.025, **params)])
    context = ctx(amount=Decimal(amount))
    effects = RuleSet([s]).evaluate(context)
    assert effects == evaluate_reference(s, context)
    assert [e.points for e in effects] == ([expected] if expected else [])
    if expected:
        assert effects[0].kind == "points" and effects[0].params["percent"] == 0.025


def test_award_points_percent_is_an_exact_decimal_share() -> None:
    """0.1 is one tenth, not the binary float just above it: 10 % of 1,000,000 is exactly 100,000."""
    s = spec(1, [percent(0.1, rounding="up")])
    assert [e.points for e in RuleSet([s]).evaluate(ctx(amount=Decimal("1000000")))] == [100000]


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"percent": 2.5}, "must be a decimal share of the amount above 0 and at most 1 (0.025 is 2.5 %)"),
        ({"percent": 0}, "must be a decimal share of the amount above 0 and at most 1 (0.025 is 2.5 %)"),
        ({"percent": "2.5%"}, "expected a number, got string"),
        ({"percent": 0.02, "rounding": "half"}, "'half' is not one of down, nearest, up"),
        ({"percent": 0.02, "max": 0}, "must be a positive integer"),
        ({"percent": 0.02, "per": 100}, "unknown parameter of action 'award_points_percent'"),
    ],
)
def test_award_points_percent_params_are_checked_with_their_path(params: dict[str, Any], reason: str) -> None:
    errors = errors_of(doc([{"name": "award_points_percent", "params": params}]))
    assert len(errors) == 1 and errors[0][1] == reason
    assert errors[0][0].startswith("rules[0].actions[0].params.")


LADDER = [
    {"code": "silver", "name": "Silver", "rank": 1},
    {"code": "gold", "name": "Gold", "rank": 2},
]


def ladder(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"name": "tiers", "type": "tier", "tiers": LADDER, "rules": list(rules)}


def rung(name: str, tier: str, conditions: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "conditions": conditions, "actions": [{"name": "set_tier", "params": {"tier": tier}}]}


GOLD = rung("gold", "gold", {"all": [leaf("qualifying_points_365d", "greater_than_or_equal_to", 20000)]})


def test_the_base_rung_needs_no_dummy_condition() -> None:
    document = parse_document(ladder(rung("everyone", "silver", {"all": []}), GOLD))
    assert document.rules[0].conditions == {"all": []}
    assert parse_document(json.loads(json.dumps(document.raw))).raw == document.raw
    for qualifying, tier in ((0, "silver"), (19999, "silver"), (20000, "gold")):
        context = ctx(qualifying_points_365d=qualifying)
        assert evaluate_tier(document, context) == tier
        assert evaluate_tier_reference(document, context) == tier


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            ladder(rung("everyone", "gold", {"all": []})),
            [
                (
                    "rules[0].conditions.all",
                    "must not be empty: only the rule giving the lowest tier 'silver' may have no conditions"
                    " (this one gives 'gold')",
                )
            ],
        ),
        (ladder(rung("everyone", "silver", {"any": []})), [("rules[0].conditions.any", "must not be empty")]),
        (
            ladder(rung("nested", "silver", {"all": [{"all": []}]})),
            [("rules[0].conditions.all[0].all", "must not be empty")],
        ),
        (
            {**doc([award(1)]), "rules": [{"name": "r", "conditions": {"all": []}, "actions": [award(1)]}]},
            [("rules[0].conditions.all", "must not be empty (only the lowest tier of a ladder may have none)")],
        ),
    ],
)
def test_empty_conditions_stay_refused_elsewhere(source: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert errors_of(source) == expected


# -- issue 16: a campaign's own points expiry -------------------------------------


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("end_of_next_month", {"policy": "end_of_next_month"}),
        ({"policy": "end_of_month_after", "months": 3}, {"policy": "end_of_month_after", "months": 3}),
        ({"policy": "rolling_months"}, {"policy": "rolling_months", "months": 12}),
        ({"policy": "rolling_months", "months": 6}, {"policy": "rolling_months", "months": 6}),
        ("end_of_next_year", {"policy": "end_of_next_year"}),
        ({"policy": "never"}, {"policy": "never"}),
    ],
)
def test_points_expiry_is_normalised_and_parses_back(value: Any, normalised: dict[str, Any]) -> None:
    document = parse_document(doc([award(1)], points_expiry=value))
    assert document.points_expiry == normalised == document.raw["points_expiry"]
    assert parse_document(json.loads(json.dumps(document.raw))).raw == document.raw
    assert parse_document(doc([award(1)])).points_expiry is None  # the programme's policy


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            {"policy": "end_of_month_afte", "months": 2},
            [
                (
                    "points_expiry.policy",
                    "'end_of_month_afte' is not an expiry policy; did you mean 'end_of_month_after'?",
                )
            ],
        ),
        ({"policy": "end_of_month_after"}, [("points_expiry.months", "required by policy 'end_of_month_after'")]),
        ({"policy": "end_of_month_after", "months": 0}, [("points_expiry.months", "must be between 1 and 120")]),
        ({"policy": "rolling_months", "months": "6"}, [("points_expiry.months", "expected an integer, got string")]),
        ({"policy": "never", "months": 2}, [("points_expiry.months", "not used by policy 'never'")]),
        (
            {"months": 2},
            [
                (
                    "points_expiry.policy",
                    "required: one of rolling_months, end_of_next_year, never, end_of_next_month, end_of_month_after",
                )
            ],
        ),
        ({"policy": "never", "days": 3}, [("points_expiry.days", "unknown key")]),
        (12, [("points_expiry", "expected a mapping such as {policy: end_of_next_month}, got integer")]),
    ],
)
def test_points_expiry_errors_name_their_path(value: Any, expected: list[tuple[str, str]]) -> None:
    assert errors_of(doc([award(1)], points_expiry=value)) == expected


def test_points_expiry_is_not_for_tier_documents() -> None:
    source = {**ladder(GOLD), "points_expiry": "never"}
    assert errors_of(source) == [("points_expiry", "not used by tier documents")]


@pytest.mark.parametrize(
    ("earned", "policy", "expires"),
    [
        # 31 March 20:00 UTC is already 1 April in Ho Chi Minh City: the month earned is April
        ("2027-03-31T20:00:00+00:00", {"policy": "end_of_next_month"}, "2027-06-01T00:00:00+07:00"),
        ("2027-03-15T10:00:00+07:00", {"policy": "end_of_next_month"}, "2027-05-01T00:00:00+07:00"),
        ("2027-03-15T10:00:00+07:00", {"policy": "end_of_month_after", "months": 3}, "2027-07-01T00:00:00+07:00"),
        ("2027-11-02T10:00:00+07:00", {"policy": "end_of_month_after", "months": 2}, "2028-02-01T00:00:00+07:00"),
        ("2027-12-31T23:00:00+07:00", {"policy": "end_of_month_after", "months": 1}, "2028-02-01T00:00:00+07:00"),
        ("2027-03-15T10:00:00+07:00", {"policy": "rolling_months", "months": 12}, "2028-03-15T10:00:00+07:00"),
        ("2027-03-15T10:00:00+07:00", {"policy": "never"}, None),
    ],
)
def test_expiry_policies_count_local_calendar_months(earned: str, policy: dict[str, Any], expires: str | None) -> None:
    from campaigns.catalog.programme import expiry_at

    got = expiry_at(policy, datetime.fromisoformat(earned), "Asia/Ho_Chi_Minh")
    assert got == (None if expires is None else datetime.fromisoformat(expires))


# -- issue 16: a banded rate in one action ------------------------------------------


BANDS = [
    {"from": 0, "points": 1, "per": 10000},
    {"from": 500000, "points": 3, "per": 20000},
    {"from": 1000000, "points": 2, "per": 10000},
]


def banded(bands: Any = BANDS, **params: Any) -> dict[str, Any]:
    return {"name": "award_points_per_amount", "params": {"bands": bands, **params}}


@pytest.mark.parametrize(
    ("amount", "params", "expected"),
    [
        ("9999", {}, 0),
        ("499999", {}, 49),
        ("500000", {}, 75),  # the band starts at its from, included
        ("750000", {}, 112),
        ("750000", {"rounding": "nearest"}, 113),
        ("1000000", {}, 200),
        ("5000000", {"max": 300}, 300),
    ],
)
def test_bands_give_the_whole_amount_its_bands_rate(amount: str, params: dict[str, Any], expected: int) -> None:
    s = spec(1, [banded(**params)])
    context = ctx(amount=Decimal(amount))
    effects = RuleSet([s]).evaluate(context)
    assert effects == evaluate_reference(s, context)
    assert [e.points for e in effects] == ([expected] if expected else [])


def test_nothing_below_the_first_band_and_bands_parse_back() -> None:
    s = spec(1, [banded([{"from": 100000, "points": 5, "per": 10000}])])
    assert RuleSet([s]).evaluate(ctx(amount=Decimal("99999"))) == []
    assert [e.points for e in RuleSet([s]).evaluate(ctx(amount=Decimal("100000")))] == [50]
    params = s.document.raw["rules"][0]["actions"][0]["params"]
    assert params == {
        "bands": [{"from": 100000, "points": 5, "per": 10000}],
        "max": None,
        "rounding": "down",
        "feeds": "both",
        "to": "customer",
    }
    assert parse_document(json.loads(json.dumps(s.document.raw))).raw == s.document.raw
    plain = parse_document(doc([{"name": "award_points_per_amount", "params": {"points": 1, "per": 10000}}]))
    assert "bands" not in plain.raw["rules"][0]["actions"][0]["params"]


P = "rules[0].actions[0].params"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"bands": BANDS, "points": 1},
            [(f"{P}.points", "not used with bands (each band has its own points and per)")],
        ),
        (
            {"max": 5},
            [
                (f"{P}.points", "required by action 'award_points_per_amount' (or bands)"),
                (f"{P}.per", "required by action 'award_points_per_amount' (or bands)"),
            ],
        ),
        ({"bands": []}, [(f"{P}.bands", "must have 1 to 50 bands")]),
        ({"bands": {"from": 0}}, [(f"{P}.bands", "expected a list of {from, points, per}, got mapping")]),
        ({"bands": [{"from": 0, "points": 1}]}, [(f"{P}.bands[0].per", "required in a band")]),
        (
            {"bands": [{"from": -1, "points": 1, "per": 1}]},
            [(f"{P}.bands[0].from", "must be a number from 0 to 1000000000000")],
        ),
        (
            {"bands": [{"from": 0, "points": 1.5, "per": 1}]},
            [(f"{P}.bands[0].points", "expected an integer, got number")],
        ),
        ({"bands": [{"from": 0, "points": 1, "per": 1, "upto": 9}]}, [(f"{P}.bands[0].upto", "unknown key of a band")]),
        (
            {"bands": [BANDS[1], BANDS[0]]},
            [(f"{P}.bands[1].from", "must be greater than the previous band's from (500000)")],
        ),
    ],
)
def test_bands_are_checked_with_their_path(params: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert errors_of(doc([{"name": "award_points_per_amount", "params": params}])) == expected


# -- issue 16: a rate table keyed by a string variable ------------------------------


CARD = {"food": {"points": 3, "per": 10000}, "fuel": {"points": 1, "per": 20000}}


def keyed(by: str = "attributes.merchant_group", rates: Any = CARD, **params: Any) -> dict[str, Any]:
    return {"name": "award_points_per_amount", "params": {"by": by, "rates": rates, **params}}


@pytest.mark.parametrize(
    ("attributes", "default", "expected"),
    [
        ({"merchant_group": "food"}, {}, 60),
        ({"merchant_group": "fuel"}, {}, 10),
        ({"merchant_group": "pharmacy"}, {}, 0),  # no default rate: nothing
        ({"merchant_group": "pharmacy"}, {"points": 1, "per": 10000}, 20),
        ({}, {"points": 1, "per": 10000}, 20),  # missing: the default
        ({"merchant_group": 5}, {"points": 1, "per": 10000}, 20),  # not a string: the default
        ({"merchant_group": "Food"}, {}, 0),  # exact match only
    ],
)
def test_rates_keyed_by_an_attribute(attributes: dict[str, Any], default: dict[str, Any], expected: int) -> None:
    s = spec(1, [keyed(**default)])
    context = ctx(amount=Decimal("200000"), attributes=attributes)
    effects = RuleSet([s]).evaluate(context)
    assert effects == evaluate_reference(s, context)
    assert [e.points for e in effects] == ([expected] if expected else [])


@pytest.mark.parametrize(
    ("customer_attributes", "expected"),
    [({"segment": "food"}, [60]), ({"segment": "other"}, [20]), ({}, [20]), ({"segment": True}, [20])],
)
def test_rates_keyed_by_a_customer_attribute(customer_attributes: dict[str, Any], expected: list[int]) -> None:
    """by: customer.<name> reads the customer's attribute, not the transaction's; both evaluators agree."""
    s = spec(1, [keyed("customer.segment", points=1, per=10000)])
    context = ctx(amount=Decimal("200000"), customer_attributes=customer_attributes, attributes={"segment": "fuel"})
    effects = RuleSet([s]).evaluate(context)
    assert effects == evaluate_reference(s, context)
    assert [e.points for e in effects] == expected


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        ("customer.segment", None),
        (
            "customer.segmnt",
            "'segmnt' is not a declared customer attribute (setting customer_attributes); did you mean 'segment'?",
        ),
        ("customer.vip", "customer attribute 'vip' is declared boolean; rates are keyed by a string"),
        ("customer.score", "customer attribute 'score' is declared numeric; rates are keyed by a string"),
    ],
)
def test_rates_keyed_by_a_customer_attribute_need_a_declared_string(by: str, expected: str | None) -> None:
    known = Known(customer_attributes={"segment": "string", "vip": "boolean", "score": "numeric"})
    source = doc([keyed(by, points=1, per=10000)])
    if expected is None:
        assert parse_document(source, known=known).rules[0].actions[0].params["by"] == by
        return
    with pytest.raises(DocumentInvalid) as info:
        parse_document(source, known=known)
    assert [(e.path, e.reason) for e in info.value.errors] == [(f"{P}.by", expected)]
    assert parse_document(source).rules[0].actions[0].params["by"] == by  # without the declarations: the name alone


def test_rates_keyed_by_a_fixed_variable_and_the_local_day() -> None:
    by_category = spec(1, [keyed("category", {"topup": {"points": 2, "per": 10000}})])
    for category, expected in (("topup", [40]), (None, []), ("grocery", [])):
        context = ctx(amount=Decimal("200000"), category=category)
        assert [e.points for e in RuleSet([by_category]).evaluate(context)] == expected
        assert RuleSet([by_category]).evaluate(context) == evaluate_reference(by_category, context)
    weekend = spec(2, [keyed("day_of_week", {"sunday": {"points": 2, "per": 10000}}, points=1, per=10000)])
    sunday_in_hanoi = datetime(2027, 1, 23, 18, 0, tzinfo=UTC)  # Saturday in UTC, Sunday 01:00 in Ho Chi Minh City
    assert [
        e.points for e in RuleSet([weekend]).evaluate(ctx(amount=Decimal("100000"), occurred_at=sunday_in_hanoi))
    ] == [20]
    saturday = ctx(amount=Decimal("100000"), occurred_at=sunday_in_hanoi, timezone="UTC")
    assert [e.points for e in RuleSet([weekend]).evaluate(saturday)] == [10]
    assert parse_document(json.loads(json.dumps(weekend.document.raw))).raw == weekend.document.raw


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"by": "category"}, [(f"{P}.rates", "by and rates go together (rates for each value of the variable by)")]),
        ({"rates": CARD}, [(f"{P}.by", "by and rates go together (rates for each value of the variable by)")]),
        (
            {"by": "amount", "rates": CARD},
            [
                (
                    f"{P}.by",
                    "'amount' is not a string variable to key rates by (provider, category, channel, customer_tier,"
                    " event_type, currency, day_of_week, attributes.<key>, customer.<name>)",
                )
            ],
        ),
        ({"by": "category", "rates": {"food": {"points": 1}}}, [(f"{P}.rates.food.per", "required in a rate")]),
        (
            {"by": "category", "rates": {"a b": {"points": 0, "per": 1}}},
            [(f"{P}.rates['a b'].points", "must be a positive integer")],
        ),
        ({"by": "category", "rates": {}}, [(f"{P}.rates", "must have 1 to 1000 rates")]),
        (
            {"by": "category", "rates": CARD, "points": 1},
            [(f"{P}.per", "points and per go together (the rate for any other value)")],
        ),
        (
            {"by": "category", "rates": CARD, "bands": BANDS},
            [
                (f"{P}.by", "not used with bands (each band has its own points and per)"),
                (f"{P}.rates", "not used with bands (each band has its own points and per)"),
            ],
        ),
        (
            {"by": "day_of_week", "rates": {"sundy": {"points": 1, "per": 1}}},
            [(f"{P}.rates.sundy", "'sundy' is not a day; did you mean 'sunday'?")],
        ),
    ],
)
def test_rate_tables_are_checked_with_their_path(params: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert errors_of(doc([{"name": "award_points_per_amount", "params": params}])) == expected
