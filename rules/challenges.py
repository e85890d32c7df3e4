"""Challenges: which step of a campaign's ``challenge`` an event counts toward, in which period.

Pure, like the rest of the engine: the caller keeps each customer's progress
(counts per step for one period) and asks ``count_toward`` which step one
event advances and ``completes`` whether that finished the challenge, then
applies ``reward_effect`` once. Step conditions run through the compiled
evaluator (``CompiledChallenge.matching``) in production; ``matching_reference``
runs them through business-rules and the tests hold the two equal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rules.compiler import ContextValues, compile_conditions
from rules.context import EvaluationContext
from rules.document import Challenge
from rules.effects import Effect, FrozenParams
from rules.engine import CampaignSpec, campaign_applies, holds_reference
from rules.variables import variables_class

CHALLENGE_RULE_INDEX = -2  # the completion reward's rule index in Effects and ledger keys (-1: tier bonus)
WHOLE_CAMPAIGN = "campaign"


def period_key(period: str, ctx: EvaluationContext) -> str:
    """The period an event falls in, by its local time: ``2027-03`` (month), ``2027-W09`` (ISO week) or ``campaign``."""
    return period_key_at(period, ctx.local_time())


def period_key_at(period: str, local: datetime) -> str:
    """``period_key`` of a moment already in the customer's local time (e.g. now, for showing progress)."""
    if period == "month":
        return f"{local.year:04d}-{local.month:02d}"
    if period == "week":
        year, week, _ = local.isocalendar()
        return f"{year:04d}-W{week:02d}"
    return WHOLE_CAMPAIGN


def count_toward(challenge: Challenge, counts: Sequence[int], matched: Sequence[int]) -> int | None:
    """The step this event counts toward: the first matched step (document order) still short of its count.

    An event counts once per challenge, so one purchase cannot tick two steps; None when it adds nothing.
    """
    for index in matched:
        if counts[index] < challenge.steps[index].count:
            return index
    return None


def completes(challenge: Challenge, counts: Sequence[int]) -> bool:
    return all(counts[i] >= step.count for i, step in enumerate(challenge.steps))


def reward_effect(spec: CampaignSpec) -> Effect:
    """The completion reward as an Effect, applied by the caller like any other (ledger, lots, funding, grant)."""
    challenge = spec.document.challenge
    assert challenge is not None
    head = (spec.id, spec.version, CHALLENGE_RULE_INDEX, f"challenge completed: {spec.document.name}", 0)
    if challenge.grant_reward is not None:
        code = challenge.grant_reward
        return Effect(*head, "grant_reward", 0, FrozenParams({"reward": code}), kind="reward", value=code)
    points = challenge.award_points or 0
    return Effect(*head, "award_points", points, FrozenParams({"points": points}))


def matching_reference(spec: CampaignSpec, ctx: EvaluationContext) -> tuple[int, ...]:
    """The steps whose conditions hold, through business-rules (the reference evaluator)."""
    challenge = spec.document.challenge
    if challenge is None:
        return ()
    variables = variables_class(spec.document.attribute_types)(ctx)
    return tuple(i for i, step in enumerate(challenge.steps) if holds_reference(step.conditions, variables))


@dataclass(frozen=True, slots=True)
class CompiledChallenge:
    """One published challenge campaign, its step conditions compiled once per publication."""

    spec: CampaignSpec
    challenge: Challenge
    predicates: tuple[Callable[[ContextValues], Any], ...]

    @classmethod
    def of(cls, spec: CampaignSpec) -> CompiledChallenge:
        challenge = spec.document.challenge
        assert challenge is not None
        types = spec.document.attribute_types
        return cls(spec, challenge, tuple(compile_conditions(s.conditions, types) for s in challenge.steps))

    def applies(self, ctx: EvaluationContext, received_at: datetime | None = None) -> bool:
        """The campaign's own filter (providers, starts_at/ends_at, published before receipt)."""
        return campaign_applies(self.spec, ctx, received_at)

    def matching(self, ctx: EvaluationContext) -> tuple[int, ...]:
        values = ContextValues(ctx)
        return tuple(i for i, predicate in enumerate(self.predicates) if predicate(values))


def compile_challenges(specs: Sequence[CampaignSpec]) -> tuple[CompiledChallenge, ...]:
    """The challenges among published campaigns (usually none: the caller then skips all progress work)."""
    return tuple(CompiledChallenge.of(s) for s in specs if s.document.type == "earning" and s.document.challenge)
