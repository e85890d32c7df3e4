"""RuleSet: campaign filter, order, stacking, actions; and the exported vocabulary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from business_rules.actions import BaseActions

from rules import (
    ACTION_PARAMS,
    CampaignSpec,
    EvaluationContext,
    LoyaltyActions,
    RuleSet,
    evaluate_reference,
    export_rules_vocabulary,
    parse_document,
)

WHEN = datetime(2027, 1, 25, 10, 0, tzinfo=UTC)


def ctx(**overrides: Any) -> EvaluationContext:
    fields: dict[str, Any] = {
        "amount": Decimal("155000"),
        "currency": "VND",
        "provider": "telecom",
        "category": "topup",
        "channel": "app",
        "occurred_at": WHEN,
    }
    fields.update(overrides)
    return EvaluationContext(**fields)


def campaign(
    campaign_id: int,
    *,
    points: int = 10,
    actions: list[dict[str, Any]] | None = None,
    published_at: datetime | None = None,
    **top: Any,
) -> CampaignSpec:
    document = {
        "name": f"c{campaign_id}",
        "rules": [
            {
                "name": "any purchase",
                "conditions": {"all": [{"name": "amount", "operator": "greater_than", "value": 0}]},
                "actions": actions or [{"name": "award_points", "params": {"points": points}}],
            }
        ],
        **top,
    }
    return CampaignSpec(id=campaign_id, version=1, document=parse_document(document), published_at=published_at)


def ids(effects: list[Any]) -> list[int]:
    return [e.campaign_id for e in effects]


def test_order_is_priority_then_id() -> None:
    specs = [campaign(3), campaign(1), campaign(2, priority=5), campaign(4, priority=-1)]
    assert ids(RuleSet(specs).evaluate(ctx())) == [2, 1, 3, 4]


def test_exclusive_stops_lower_campaigns_once_it_awards() -> None:
    specs = [campaign(1, priority=10, stacking="exclusive"), campaign(2), campaign(3, priority=20)]
    assert ids(RuleSet(specs).evaluate(ctx())) == [3, 1]
    zero = campaign(
        1,
        priority=10,
        stacking="exclusive",
        actions=[{"name": "award_points_per_amount", "params": {"points": 1, "per": 1_000_000}}],
    )
    assert ids(RuleSet([zero, campaign(2)]).evaluate(ctx())) == [2]


def test_campaign_filter() -> None:
    specs = [
        campaign(1, providers=["bank"]),
        campaign(2, providers=["bank", "telecom"]),
        campaign(3, starts_at=WHEN.isoformat()),
        campaign(4, ends_at=WHEN.isoformat()),
        campaign(5, starts_at=(WHEN + timedelta(seconds=1)).isoformat()),
        campaign(6, ends_at=(WHEN + timedelta(seconds=1)).isoformat()),
        campaign(7, type="reward"),
        campaign(8, published_at=WHEN + timedelta(minutes=5)),
    ]
    rule_set = RuleSet(specs)
    assert [s.id for s in rule_set.campaigns] == [1, 2, 3, 4, 5, 6, 8]
    assert ids(rule_set.evaluate(ctx())) == [2, 3, 6, 8]
    assert ids(rule_set.evaluate(ctx(), received_at=WHEN)) == [2, 3, 6]
    assert ids(rule_set.evaluate(ctx(), received_at=WHEN + timedelta(minutes=5))) == [2, 3, 6, 8]
    for spec in specs:
        assert evaluate_reference(spec, ctx()) == RuleSet([spec]).evaluate(ctx())


def test_every_matching_rule_fires_with_actions_in_order() -> None:
    document = parse_document(
        {
            "name": "multi",
            "rules": [
                {
                    "name": "big",
                    "conditions": {"all": [{"name": "amount", "operator": "greater_than", "value": 100000}]},
                    "actions": [
                        {"name": "award_points", "params": {"points": 5}},
                        {"name": "award_points_per_amount", "params": {"points": 1, "per": 10000, "max": 12}},
                    ],
                },
                {
                    "name": "never",
                    "conditions": {"all": [{"name": "channel", "operator": "equal_to", "value": "sms"}]},
                    "actions": [{"name": "award_points", "params": {"points": 1}}],
                },
                {
                    "name": "app",
                    "conditions": {"any": [{"name": "channel", "operator": "equal_to", "value": "app"}]},
                    "actions": [{"name": "award_points", "params": {"points": 2}}],
                },
            ],
        }
    )
    spec = CampaignSpec(id=9, version=3, document=document)
    effects = RuleSet([spec]).evaluate(ctx())
    assert effects == evaluate_reference(spec, ctx())
    assert [(e.rule_index, e.rule_name, e.action_index, e.action, e.points) for e in effects] == [
        (0, "big", 0, "award_points", 5),
        (0, "big", 1, "award_points_per_amount", 12),
        (2, "app", 0, "award_points", 2),
    ]
    assert all(e.campaign_version == 3 for e in effects)
    assert effects[1].params == {
        "points": 1,
        "per": 10000,
        "max": 12,
        "rounding": "down",
        "feeds": "both",
        "to": "customer",
    }


@pytest.mark.parametrize(
    ("params", "amount", "points"),
    [
        ({"points": 1, "per": 10000}, "155000", 15),
        ({"points": 1, "per": 10000, "rounding": "nearest"}, "155000", 16),
        ({"points": 1, "per": 10000, "rounding": "nearest"}, "154999", 15),
        ({"points": 1, "per": 10000, "rounding": "up"}, "150001", 16),
        ({"points": 3, "per": 0.1}, "0.3", 9),
        ({"points": 2, "per": 1000, "max": 100}, "1000000", 100),
        ({"points": 1, "per": 10000}, "9999", 0),
        ({"points": 1, "per": 10000, "rounding": "up"}, "-5", 0),
    ],
)
def test_award_points_per_amount(params: dict[str, Any], amount: str, points: int) -> None:
    spec = campaign(1, actions=[{"name": "award_points_per_amount", "params": params}])
    c = ctx(amount=Decimal(amount))
    actions = LoyaltyActions(c, campaign_id=1, campaign_version=1)
    actions.award_points_per_amount(**spec.document.rules[0].actions[0].params)
    assert actions.effects[0].points == points
    effects = RuleSet([spec]).evaluate(c)
    assert [e.points for e in effects] == ([points] if points and Decimal(amount) > 0 else [])


def test_actions_only_collect() -> None:
    c = ctx(attributes={"plan": "gold"})
    before = (c.amount, dict(c.attributes))
    actions = LoyaltyActions(c, campaign_id=1, campaign_version=1)
    actions.start_rule(2, "r")
    actions.award_points(points=7)
    assert (c.amount, dict(c.attributes)) == before
    assert actions.effects[0].rule_index == 2 and actions.effects[0].points == 7


def test_duplicate_campaign_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="one version per campaign"):
        RuleSet([campaign(1), campaign(1)])


def test_context_validation() -> None:
    assert ctx(amount=5).amount == Decimal(5)
    with pytest.raises(ValueError, match="timezone-aware"):
        ctx(occurred_at=datetime(2027, 1, 1))
    with pytest.raises(ValueError, match="unknown timezone"):
        ctx(timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="finite Decimal"):
        ctx(amount=1.5)
    with pytest.raises(TypeError):
        ctx(lifetime_points=True)


def test_vocabulary_exports_our_types() -> None:
    vocabulary = export_rules_vocabulary()
    assert set(vocabulary) == {"variables", "actions", "variable_type_operators"}
    operators = {t: {o["name"] for o in ops} for t, ops in vocabulary["variable_type_operators"].items()}
    assert {"not_equal_to", "is_in", "not_in", "contains"} <= operators["string"]
    assert {"not_equal_to", "between", "greater_than"} <= operators["numeric"]
    assert operators["boolean"] == {"is_true", "is_false"}
    assert operators["date"] == {"equal_to", "before", "after", "on_or_before", "on_or_after", "between"}
    variables = {v["name"]: v["field_type"] for v in vocabulary["variables"]}
    assert variables["local_date"] == "date" and variables["day_of_week"] == "string"
    assert variables["hour"] == variables["day_of_week_number"] == variables["lifetime_points"] == "numeric"
    actions = {a["name"] for a in vocabulary["actions"]}
    assert actions == set(ACTION_PARAMS)
    assert not any(a["name"] in {"start_rule", "get_all_actions"} for a in vocabulary["actions"])
    assert issubclass(LoyaltyActions, BaseActions)


def test_the_quick_context_check_refuses_whatever_the_full_check_refuses() -> None:
    """Crediting's contexts take a one-expression check; each field set to each kind of wrong value must still be
    refused (the full check then names it), and ints for Decimal fields still become Decimals."""
    import dataclasses

    from rules.context import DECIMAL_FIELDS, INT_FIELDS

    good: dict[str, Any] = {
        "amount": Decimal(100),
        "currency": "VND",
        "provider": "telecom",
        "category": "topup",
        "channel": "app",
        "occurred_at": datetime(2026, 12, 4, tzinfo=UTC),
        "customer_tier": "gold",
    }
    base = EvaluationContext(**good)
    wrong: list[object] = [None, True, 1.5, "7", -1, 13, Decimal("NaN"), Decimal("Infinity"), [], {}]
    names = [f.name for f in dataclasses.fields(EvaluationContext) if f.init and f.name not in ("timezone",)]
    refused = 0
    for name in names:
        for value in wrong:
            fields = {**good, name: value}
            try:
                made = EvaluationContext(**fields)
            except (TypeError, ValueError):
                refused += 1
                continue
            # accepted: the full check accepts it too, and it holds what the full check would have made of it
            made._check()
            if name in DECIMAL_FIELDS:
                assert isinstance(getattr(made, name), Decimal)
            if name in INT_FIELDS:
                assert type(getattr(made, name)) is int
    assert refused > len(names) * 4
    assert EvaluationContext(**{**good, "amount": 100}).amount == Decimal(100)
    assert base._plainly_valid()
