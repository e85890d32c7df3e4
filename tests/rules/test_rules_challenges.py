"""The ``challenge`` key of campaign documents: validation with exact paths, the periods, which step an event
counts toward, the completion reward, and the compiled evaluator agreeing with business-rules."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from rules import (
    CampaignSpec,
    CompiledChallenge,
    DocumentInvalid,
    EvaluationContext,
    Known,
    RuleSet,
    compile_challenges,
    completes,
    count_toward,
    matching_reference,
    parse_document,
    period_key,
    reward_effect,
)
from rules.docs import CHALLENGE_EXAMPLES, ChallengeExample

TOPUP = {"name": "category", "operator": "equal_to", "value": "topup"}
BIG = {"name": "amount", "operator": "greater_than_or_equal_to", "value": 50000}


def doc(**challenge: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "period": "month",
        "steps": [
            {"name": "big top-ups", "count": 2, "conditions": {"all": [TOPUP, BIG]}},
            {"name": "any top-up", "conditions": {"all": [TOPUP]}},
        ],
        "reward": {"award_points": 100},
    }
    base.update(challenge)
    return {"name": "Challenge", "challenge": base}


def errors(document: dict[str, Any], known: Known | None = None) -> list[tuple[str, str]]:
    with pytest.raises(DocumentInvalid) as info:
        parse_document(document, known=known)
    return [(e.path, e.reason) for e in info.value.errors]


def ctx(amount: int = 60000, category: str | None = "topup", when: str = "2027-03-02T10:00:00+07:00", **kw: Any):
    return EvaluationContext(
        Decimal(amount), "VND", kw.pop("provider", "telecom"), category, None, datetime.fromisoformat(when), **kw
    )


def test_a_challenge_document_parses_back_to_itself_and_needs_no_rules() -> None:
    parsed = parse_document(doc())
    assert parsed.rules == () and parsed.raw["rules"] == []
    assert parsed.challenge is not None and parsed.challenge.award_points == 100
    assert [(s.name, s.count) for s in parsed.challenge.steps] == [("big top-ups", 2), ("any top-up", 1)]
    assert parse_document(dict(parsed.raw)).raw == parsed.raw
    granted = parse_document(doc(reward={"grant_reward": "DATA1GB"}), known=Known(rewards=frozenset({"DATA1GB"})))
    assert granted.challenge is not None and granted.challenge.grant_reward == "DATA1GB"
    every = parse_document(doc(steps=[{"name": "anything", "conditions": {"all": []}}], period="campaign"))
    assert every.challenge is not None and every.challenge.steps[0].count == 1


@pytest.mark.parametrize(
    ("challenge", "expected"),
    [
        ({"period": "year"}, [("challenge.period", "'year' is not a challenge period (known: campaign, month, week)")]),
        ({"steps": []}, [("challenge.steps", "must not be empty")]),
        ({"steps": "x"}, [("challenge.steps", "expected a list, got string")]),
        (
            {"steps": [{"name": "a", "conditions": {"all": [TOPUP]}, "count": 0}]},
            [("challenge.steps[0].count", "must be between 1 and 1000")],
        ),
        ({"steps": [{"name": "a"}]}, [("challenge.steps[0].conditions", "required")]),
        (
            {
                "steps": [
                    {"name": "a", "conditions": {"all": [{"name": "amount", "operator": "equal_to", "value": "x"}]}}
                ]
            },
            None,  # the leaf's own error, at its exact path
        ),
        (
            {"steps": [{"name": "a", "conditions": {"all": [TOPUP]}}, {"name": "a", "conditions": {"all": [BIG]}}]},
            [("challenge.steps[1].name", "duplicate step name (also challenge.steps[0])")],
        ),
        ({"reward": {}}, [("challenge.reward", "exactly one of {award_points: ...} or {grant_reward: ...}")]),
        ({"reward": {"award_points": 0}}, [("challenge.reward.award_points", "must be a positive integer")]),
        ({"reward": {"points": 5}}, [("challenge.reward.points", "unknown key")]),
        ({"colour": "red"}, [("challenge.colour", "unknown key")]),
    ],
)
def test_errors_name_their_exact_path(challenge: dict[str, Any], expected: list[tuple[str, str]] | None) -> None:
    found = errors(doc(**challenge))
    if expected is None:
        assert [path for path, _ in found] == ["challenge.steps[0].conditions.all[0].value"]
    else:
        assert found == expected


def test_rewards_and_document_types_are_checked() -> None:
    known = Known(rewards=frozenset({"DATA1GB"}))
    assert errors(doc(reward={"grant_reward": "DATA2GB"}), known)[0][0] == "challenge.reward.grant_reward"
    assert errors({**doc(), "type": "reward"})[0] == ("challenge", "only used by earning documents")
    tier = {"name": "t", "type": "tier", "tiers": [{"code": "a", "name": "A", "rank": 1}], "challenge": {}}
    assert ("challenge", "not used by tier documents") in errors(tier)
    assert errors({"name": "no rules, no challenge"}) == [("rules", "required")]
    assert errors({**doc(), "rules": "x"}) == [("rules", "expected a list, got string")]


def test_periods_follow_the_local_calendar() -> None:
    assert period_key("month", ctx(when="2027-03-31T18:30:00+00:00")) == "2027-04"  # 01:30 on 1 April in Hanoi
    assert period_key("month", ctx(when="2027-03-31T18:30:00+00:00", timezone="UTC")) == "2027-03"
    assert period_key("week", ctx(when="2027-03-07T23:00:00+07:00")) == "2027-W09"  # Sunday
    assert period_key("week", ctx(when="2027-03-08T00:30:00+07:00")) == "2027-W10"  # Monday
    assert period_key("week", ctx(when="2027-01-01T10:00:00+07:00")) == "2026-W53"  # ISO year
    assert period_key("campaign", ctx()) == "campaign"


def test_an_event_counts_once_toward_the_first_step_that_needs_it() -> None:
    spec = CampaignSpec(1, 3, parse_document(doc()))
    challenge = CompiledChallenge.of(spec).challenge
    assert count_toward(challenge, [0, 0], (0, 1)) == 0
    assert count_toward(challenge, [2, 0], (0, 1)) == 1  # the first step is full: the next one it matches
    assert count_toward(challenge, [2, 1], (0, 1)) is None
    assert count_toward(challenge, [0, 0], ()) is None
    assert not completes(challenge, [2, 0]) and completes(challenge, [2, 1]) and completes(challenge, [3, 1])
    points = reward_effect(spec)
    assert (points.kind, points.points, points.campaign_id, points.campaign_version, points.rule_index) == (
        "points",
        100,
        1,
        3,
        -2,
    )
    granted = reward_effect(CampaignSpec(2, 1, parse_document(doc(reward={"grant_reward": "DATA1GB"}))))
    assert (granted.kind, granted.value, granted.points) == ("reward", "DATA1GB", 0)


def test_compiled_steps_agree_with_business_rules() -> None:
    spec = CampaignSpec(
        1,
        1,
        parse_document(
            doc(
                steps=[
                    {"name": "big top-ups", "count": 2, "conditions": {"all": [TOPUP, BIG]}},
                    {
                        "name": "weekend or plan",
                        "conditions": {
                            "any": [
                                {"name": "day_of_week", "operator": "is_in", "value": ["saturday", "sunday"]},
                                {"name": "attributes.plan", "operator": "equal_to", "value": "gold"},
                            ]
                        },
                    },
                    {"name": "anything", "conditions": {"all": []}},
                ]
            )
        ),
    )
    compiled = CompiledChallenge.of(spec)
    seen = set()
    for amount, category, when, plan in itertools.product(
        (0, 49_999, 50_000, 1_000_000),
        ("topup", "parcel", None),
        ("2027-03-06T10:00:00+07:00", "2027-03-08T10:00:00+07:00", "2027-03-07T20:00:00+00:00"),
        ("gold", "silver", None),
    ):
        event = ctx(amount, category, when, attributes={} if plan is None else {"plan": plan})
        assert compiled.matching(event) == matching_reference(spec, event)
        seen.add(compiled.matching(event))
    assert len(seen) > 3  # the grid reaches several combinations of steps


def test_only_published_challenges_are_compiled_and_rules_still_run() -> None:
    plain = CampaignSpec(
        1,
        1,
        parse_document(
            {
                "name": "p",
                "rules": [
                    {
                        "name": "r",
                        "conditions": {"all": [TOPUP]},
                        "actions": [{"name": "award_points", "params": {"points": 5}}],
                    }
                ],
            }
        ),
    )
    both = CampaignSpec(2, 1, parse_document({**doc(), "rules": plain.document.raw["rules"]}))
    assert [c.spec.id for c in compile_challenges([plain, both])] == [2]
    assert [e.points for e in RuleSet([plain, both]).evaluate(ctx())] == [5, 5]
    assert compile_challenges([plain]) == ()


@pytest.mark.parametrize("example", CHALLENGE_EXAMPLES, ids=[e.title for e in CHALLENGE_EXAMPLES])
def test_worked_challenge_examples(example: ChallengeExample) -> None:
    assert example.run() == example.expected
    assert example.run(reference=True) == example.expected


def test_a_challenge_in_a_window_applies_only_there() -> None:
    spec = CampaignSpec(
        1,
        1,
        parse_document({**doc(), "providers": ["telecom"], "starts_at": "2027-03-01T00:00:00+07:00"}),
        published_at=datetime(2027, 2, 1, tzinfo=UTC),
    )
    compiled = CompiledChallenge.of(spec)
    assert compiled.applies(ctx()) and not compiled.applies(ctx(provider="post"))
    assert not compiled.applies(ctx(when="2027-02-28T10:00:00+07:00"))
    assert not compiled.applies(ctx(), received_at=datetime(2027, 1, 1, tzinfo=UTC))
