"""Benchmark: compiled RuleSet.evaluate vs business-rules run_all, same 20 campaigns.

Run from the repository root: .venv/bin/python -m bench.rules_eval [contexts]
Builds 20 stackable earning campaigns of 2-4 conditions each and evaluates
the same random contexts through both paths (best of 3), checking they agree.
A second scenario ("aggregates") uses the customer aggregates, tags,
multipliers, rewards and a per-transaction cap, checked against
evaluate_all_reference.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from rules import (
    CampaignSpec,
    EvaluationContext,
    RuleSet,
    evaluate_all_reference,
    evaluate_reference,
    parse_document,
)

PROVIDERS = ["telecom", "bank", "retail", "fuel"]
CATEGORIES = ["topup", "grocery", "fuel", "bill", "transfer", "pharmacy"]
CHANNELS = ["web", "app", "ussd", "sms", "pos"]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
TAGS = ["vip", "staff", "new", "b2b", "churn-risk"]
CAP = 500


def condition(rng: random.Random) -> dict[str, Any]:
    kind = rng.randrange(8)
    if kind == 0:
        return {"name": "category", "operator": "equal_to", "value": rng.choice(CATEGORIES)}
    if kind == 1:
        return {"name": "amount", "operator": "greater_than_or_equal_to", "value": rng.choice([10000, 50000, 100000])}
    if kind == 2:
        return {"name": "channel", "operator": "is_in", "value": rng.sample(CHANNELS, 2)}
    if kind == 3:
        return {"name": "day_of_week", "operator": "is_in", "value": rng.sample(DAYS, 2)}
    if kind == 4:
        return {"name": "hour", "operator": "between", "value": [rng.randrange(0, 12), rng.randrange(12, 24)]}
    if kind == 5:
        return {"name": "customer_tier", "operator": "not_equal_to", "value": "bronze"}
    if kind == 6:
        return {"name": "attributes.plan", "operator": "equal_to", "value": rng.choice(["prepaid", "postpaid"])}
    return {"name": "lifetime_points", "operator": "less_than", "value": rng.choice([1000, 10000, 100000])}


def campaigns(rng: random.Random, count: int = 20) -> list[CampaignSpec]:
    specs = []
    for i in range(count):
        leaves = [condition(rng) for _ in range(rng.randint(2, 4))]
        conditions = {"all": leaves} if rng.random() < 0.7 else {"all": [leaves[0], {"any": leaves[1:]}]}
        document = {
            "name": f"campaign {i}",
            "providers": rng.sample(PROVIDERS, 2),
            "priority": rng.randrange(5),
            "rules": [
                {
                    "name": "main",
                    "conditions": conditions,
                    "actions": [{"name": "award_points_per_amount", "params": {"points": 1, "per": 10000}}],
                }
            ],
        }
        specs.append(CampaignSpec(id=i + 1, version=1, document=parse_document(document)))
    return specs


def aggregate_condition(rng: random.Random) -> dict[str, Any]:
    kind = rng.randrange(6)
    if kind == 0:
        return {"name": "points_30d", "operator": "greater_than", "value": rng.choice([100, 1000, 5000])}
    if kind == 1:
        return {"name": "spend_7d", "operator": "less_than", "value": rng.choice([500000, 2000000])}
    if kind == 2:
        return {"name": "customer_tags", "operator": "contains_any", "value": rng.sample(TAGS, 2)}
    if kind == 3:
        return {"name": "is_birthday_month", "operator": "is_true", "value": None}
    if kind == 4:
        return {"name": "local_date", "operator": "between", "value": ["2027-02-05", "2027-02-12"]}
    return condition(rng)


def aggregate_campaigns(rng: random.Random, count: int = 20) -> list[CampaignSpec]:
    specs = []
    for i in range(count):
        leaves = [aggregate_condition(rng) for _ in range(rng.randint(1, 3))]
        if i % 7 == 0:
            actions = [{"name": "multiply_points", "params": {"factor": rng.choice([1.5, 2])}}]
        elif i % 5 == 0:
            actions = [
                {"name": "grant_reward", "params": {"reward": f"R{i}"}},
                {"name": "add_tag", "params": {"tag": "rewarded"}},
            ]
        else:
            actions = [{"name": "award_points_per_amount", "params": {"points": 1, "per": 10000}}]
        document = {
            "name": f"campaign {i}",
            "providers": rng.sample(PROVIDERS, 3),
            "priority": rng.randrange(5) + (10 if i % 7 == 0 else 0),
            "rules": [{"name": "main", "conditions": {"all": leaves}, "actions": actions}],
        }
        specs.append(CampaignSpec(id=i + 1, version=1, document=parse_document(document)))
    return specs


def contexts(rng: random.Random, count: int) -> list[EvaluationContext]:
    start = datetime(2027, 1, 1, tzinfo=UTC)
    extra = random.Random(11)  # the aggregates draw from their own stream: the basic contexts stay as they were
    return [
        EvaluationContext(
            amount=Decimal(rng.randrange(1000, 500_000)),
            currency="VND",
            provider=rng.choice(PROVIDERS),
            category=rng.choice(CATEGORIES),
            channel=rng.choice(CHANNELS),
            occurred_at=start + timedelta(minutes=rng.randrange(60 * 24 * 60)),
            customer_tier=rng.choice([None, "bronze", "silver", "gold"]),
            lifetime_points=rng.randrange(200_000),
            attributes={"plan": rng.choice(["prepaid", "postpaid"])},
            points_30d=extra.randrange(10_000),
            spend_7d=Decimal(extra.randrange(3_000_000)),
            customer_tags=frozenset(extra.sample(TAGS, extra.randrange(3))),
            birthday_month=extra.randrange(13),
        )
        for _ in range(count)
    ]


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    rng = random.Random(7)
    specs = campaigns(rng)
    ctxs = contexts(rng, count)
    rule_set = RuleSet(specs)
    ordered = rule_set.campaigns

    def timed(run: Any) -> tuple[list[Any], float]:
        """Best of three runs: the machine is shared, the minimum is the least disturbed."""
        best = float("inf")
        for _ in range(3):
            began = time.perf_counter()
            result = run()
            best = min(best, time.perf_counter() - began)
        return result, best

    compiled, compiled_s = timed(lambda: [rule_set.evaluate(ctx) for ctx in ctxs])
    reference, reference_s = timed(
        lambda: [[e for spec in ordered for e in evaluate_reference(spec, ctx)] for ctx in ctxs]
    )
    assert compiled == reference, "compiled and business-rules results differ"
    report("basic", specs, count, compiled, compiled_s, reference_s)

    specs = aggregate_campaigns(rng)
    rule_set = RuleSet(specs, max_points_per_transaction=CAP)
    compiled, compiled_s = timed(lambda: [rule_set.evaluate(ctx) for ctx in ctxs])
    reference, reference_s = timed(
        lambda: [evaluate_all_reference(specs, ctx, max_points_per_transaction=CAP) for ctx in ctxs]
    )
    assert compiled == reference, "compiled and business-rules results differ (aggregates)"
    report("aggregates", specs, count, compiled, compiled_s, reference_s)


def report(
    scenario: str, specs: list[CampaignSpec], count: int, compiled: list[Any], compiled_s: float, reference_s: float
) -> None:
    conditions = sum(len(str(s.document.rules[0].conditions).split("'operator'")) - 1 for s in specs)
    effects = sum(len(e) for e in compiled)
    print(
        f"[{scenario}] {len(specs)} campaigns, {conditions} conditions, {count} contexts, {effects} effects (identical)"
    )
    for label, seconds in (("compiled RuleSet.evaluate", compiled_s), ("business-rules run_all", reference_s)):
        print(f"{label:<26}: {count / seconds:>10,.0f} contexts/s ({seconds * 1e6 / count:.1f} us each)")
    print(f"speed-up                  : {reference_s / compiled_s:.1f}x")


if __name__ == "__main__":
    main()
