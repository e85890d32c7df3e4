"""Evaluate published campaigns against one context.

Order of evaluation (both paths):

1. Only campaigns with ``type == "earning"`` are evaluated here (tier
   documents go through ``rules.tiers.evaluate_tier``).
2. A campaign applies when ``ctx.provider`` is in its ``providers`` (or it
   has none), ``starts_at <= ctx.occurred_at < ends_at`` (each bound
   optional) and, when ``received_at`` is given and the campaign has a
   ``published_at``, ``published_at <= received_at`` (a campaign published
   after the transaction arrived does not apply to it, even on a retry).
3. Campaigns run by ``priority`` descending, then campaign ``id`` ascending.
4. Within a campaign every rule whose conditions hold fires, in document
   order (``run_all`` with ``stop_on_first_trigger=False``); a fired rule's
   actions run in order, each producing one Effect.
5. ``points`` effects with 0 points are dropped; every other kind is kept
   (a multiplier, reward, tag or notification is an intent of its own).
6. Stacking: once an ``exclusive`` campaign has *awarded* (produced a
   ``points`` effect with points > 0, or a ``reward`` effect), no
   lower-ordered campaign runs; its own effects are kept.
7. Multipliers: a ``multiplier`` effect of the campaign at position i gets
   ``floor(S * (factor - 1))`` points, where S is the sum of the points of the
   ``points`` effects, for the customer (``to`` customer or both), of the
   campaigns that ran *after* i (lower in the order). Multipliers never
   multiply each other, nor their own campaign's points; a multiplier with
   nothing below it keeps 0 points.
8. Cap: with ``max_points_per_transaction``, customer points (``points`` and
   ``multiplier`` effects, ``to`` customer or both) are kept in evaluation
   order until the cap is reached; the effect that crosses it is cut to what
   is left and every later one to 0, each cut effect recording the points it
   had in ``capped_from``. Multipliers are computed (7) before the cap.
   Effects ``to`` the referrer only are neither multiplied nor capped.

``RuleSet.evaluate`` is the production path (compiled closures);
``evaluate_reference`` runs one campaign through business-rules (``run_reference``)
and ``evaluate_all_reference`` applies steps 2-8 to its results; the
property tests compare them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from business_rules.engine import check_conditions_recursively, do_actions

from rules.actions import AMOUNT_ACTIONS, LoyaltyActions, is_award, is_kept
from rules.compiler import READERS, CompiledAction, CompiledRule, ContextValues, compile_document
from rules.context import EvaluationContext
from rules.document import CampaignDocument, Rule
from rules.effects import Effect, FrozenParams
from rules.variables import VARIABLE_TYPES, variables_class


@dataclass(frozen=True)
class CampaignSpec:
    """One published campaign version as the engine sees it."""

    id: int
    version: int
    document: CampaignDocument
    published_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.published_at is not None and self.published_at.utcoffset() is None:
            raise ValueError("published_at must be timezone-aware")


_NO_CONTEXT = EvaluationContext(Decimal(0), "", "", None, None, datetime(2000, 1, 1, tzinfo=UTC), timezone="UTC")


def why_not_applies(spec: CampaignSpec, ctx: EvaluationContext, received_at: datetime | None = None) -> str | None:
    """Steps 1-2 of the module docstring: None when the campaign is in play, else the reason it is not."""
    document = spec.document
    if document.type != "earning":
        return f"type {document.type!r} is not evaluated per event"
    if document.providers is not None and ctx.provider not in document.providers:
        return f"provider {ctx.provider!r} is not one of {', '.join(sorted(document.providers))}"
    if document.starts_at is not None and ctx.occurred_at < document.starts_at:
        return f"occurred at {ctx.occurred_at.isoformat()}, before starts_at {document.starts_at.isoformat()}"
    if document.ends_at is not None and ctx.occurred_at >= document.ends_at:
        return f"occurred at {ctx.occurred_at.isoformat()}, not before ends_at {document.ends_at.isoformat()}"
    published_at = spec.published_at
    if received_at is not None and published_at is not None and published_at > received_at:
        return f"published at {published_at.isoformat()}, after the event was received at {received_at.isoformat()}"
    return None


def campaign_applies(spec: CampaignSpec, ctx: EvaluationContext, received_at: datetime | None = None) -> bool:
    """Steps 1-2 of the module docstring: is this campaign in play for this context at all?"""
    return why_not_applies(spec, ctx, received_at) is None


def settle(effects: Sequence[Effect], max_points_per_transaction: int | None = None) -> list[Effect]:
    """Steps 7-8: fill in multiplier points, then apply the per-transaction cap.

    ``effects`` must be in evaluation order, one contiguous run per campaign.
    """
    result = list(effects)
    if any(e.kind == "multiplier" for e in result):
        below = 0
        current: int | None = None
        pending = 0
        for i in range(len(result) - 1, -1, -1):
            effect = result[i]
            if effect.campaign_id != current:
                below += pending
                pending = 0
                current = effect.campaign_id
            if effect.kind == "points" and effect.to != "referrer":
                pending += effect.points
            elif effect.kind == "multiplier" and effect.factor is not None:
                numerator, denominator = (effect.factor - 1).as_integer_ratio()
                extra = below * numerator // denominator
                if extra != effect.points:
                    result[i] = replace(effect, points=extra)
    if max_points_per_transaction is not None:
        left = max_points_per_transaction
        for i, effect in enumerate(result):
            if effect.points > 0 and effect.to != "referrer" and effect.kind in ("points", "multiplier"):
                if effect.points <= left:
                    left -= effect.points
                else:
                    result[i] = replace(effect, points=left, capped_from=effect.points)
                    left = 0
    return result


_EFFECT_CACHE_SIZE = 1024


class _Action:
    """One action of one campaign with its Effects built ahead of time.

    Effects are immutable values (frozen, read-only params), so
    the same object can be returned by every evaluation: building a frozen
    dataclass costs more than evaluating a whole campaign. A constant action
    has one Effect; a per-amount action keeps one per points value seen.
    """

    __slots__ = ("awards", "cache", "constant", "head", "points", "tail")

    def __init__(self, spec: CampaignSpec, rule: CompiledRule, action: CompiledAction) -> None:
        params = FrozenParams(action.params)
        self.head = (spec.id, spec.version, rule.index, rule.name, action.index, action.name)
        self.tail = (params, action.kind, action.feeds, action.to, action.value, action.factor)
        self.points = action.points
        self.cache: dict[int, Effect] = {}
        self.awards = action.kind in ("points", "reward")
        self.constant: Effect | None = None
        if action.name not in AMOUNT_ACTIONS:
            self.constant = self.make(action.points(_NO_CONTEXT))

    def make(self, points: int) -> Effect:
        effect = Effect(*self.head, points, *self.tail)
        if len(self.cache) < _EFFECT_CACHE_SIZE:
            self.cache[points] = effect
        return effect


@dataclass(frozen=True, slots=True)
class _Rule:
    predicate: Callable[[ContextValues], Any]
    actions: tuple[_Action, ...]


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A campaign ready to run: bounds in UTC so comparisons take datetime's fast path."""

    spec: CampaignSpec
    rules: tuple[_Rule, ...]
    exclusive: bool
    starts_at: datetime | None
    ends_at: datetime | None
    published_at: datetime | None
    windowed: bool

    @classmethod
    def of(cls, spec: CampaignSpec) -> _Compiled:
        document = spec.document
        return cls(
            spec=spec,
            rules=tuple(
                _Rule(rule.predicate, tuple(_Action(spec, rule, action) for action in rule.actions))
                for rule in compile_document(document)
            ),
            exclusive=document.stacking == "exclusive",
            starts_at=_utc(document.starts_at),
            ends_at=_utc(document.ends_at),
            published_at=_utc(spec.published_at),
            windowed=not (document.starts_at is None and document.ends_at is None and spec.published_at is None),
        )


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


def _fixed_keys(specs: Iterable[CampaignSpec]) -> set[str]:
    """The fixed variables a set of campaigns reads: cheaper to fill up front than one __missing__ call each.

    Attributes stay lazy: their casts can raise, and must only do so when a
    condition actually reaches them, as in business-rules.
    """
    keys: set[str] = set()

    def walk(node: Mapping[str, Any]) -> None:
        for group in ("all", "any"):
            for child in node.get(group, ()):
                walk(child)
        if "name" in node and node["name"] in VARIABLE_TYPES:
            keys.add(node["name"])

    for spec in specs:
        for rule in spec.document.rules:
            walk(rule.conditions)
    return keys


class RuleSet:
    """All published campaigns compiled once; evaluate() is the production path.

    ``max_points_per_transaction`` is the programme-wide cap of step 8 (None: no cap).
    """

    def __init__(self, campaigns: Iterable[CampaignSpec], *, max_points_per_transaction: int | None = None) -> None:
        if max_points_per_transaction is not None and (
            isinstance(max_points_per_transaction, bool)
            or not isinstance(max_points_per_transaction, int)
            or max_points_per_transaction < 0
        ):
            raise ValueError("max_points_per_transaction must be a non-negative integer or None")
        specs = [spec for spec in campaigns if spec.document.type == "earning"]
        ids = [spec.id for spec in specs]
        if len(ids) != len(set(ids)):
            raise ValueError("a RuleSet holds one version per campaign id")
        specs.sort(key=lambda spec: (-spec.document.priority, spec.id))
        self._campaigns = tuple(_Compiled.of(spec) for spec in specs)
        self._by_provider: dict[str, tuple[_Compiled, ...]] = {}
        self.max_points_per_transaction = max_points_per_transaction
        self._prefill = tuple((key, READERS[key]) for key in sorted(_fixed_keys(specs)))
        has_multipliers = any(a.tail[1] == "multiplier" for c in self._campaigns for r in c.rules for a in r.actions)
        self._settles = has_multipliers or max_points_per_transaction is not None

    @property
    def campaigns(self) -> tuple[CampaignSpec, ...]:
        """The earning campaigns in evaluation order."""
        return tuple(c.spec for c in self._campaigns)

    def _for_provider(self, provider: str) -> tuple[_Compiled, ...]:
        """Campaigns open to one provider, in order; cached because providers are few."""
        found = self._by_provider.get(provider)
        if found is None:
            found = tuple(
                c for c in self._campaigns if c.spec.document.providers is None or provider in c.spec.document.providers
            )
            if len(self._by_provider) < 10_000:
                self._by_provider[provider] = found
        return found

    def evaluate(self, ctx: EvaluationContext, *, received_at: datetime | None = None) -> list[Effect]:
        """The Effects of every applicable campaign, in the order of the module docstring."""
        values = ContextValues(ctx)
        for key, read in self._prefill:
            values[key] = read(values)
        occurred_at: datetime | None = None
        received: datetime | None = None
        effects: list[Effect] = []
        for campaign in self._for_provider(ctx.provider):
            if campaign.windowed:
                if occurred_at is None:
                    occurred_at = ctx.occurred_at.astimezone(UTC)
                    received = _utc(received_at)
                if campaign.starts_at is not None and occurred_at < campaign.starts_at:
                    continue
                if campaign.ends_at is not None and occurred_at >= campaign.ends_at:
                    continue
                if received is not None and campaign.published_at is not None and campaign.published_at > received:
                    continue
            awarded = False
            for rule in campaign.rules:
                if not rule.predicate(values):
                    continue
                for action in rule.actions:
                    effect = action.constant
                    if effect is None:
                        points = action.points(ctx)
                        if points <= 0:
                            continue
                        effect = action.cache.get(points) or action.make(points)
                    if action.awards:
                        awarded = True
                    effects.append(effect)
            if awarded and campaign.exclusive:
                break
        if self._settles:
            return settle(effects, self.max_points_per_transaction)
        return effects


def holds_reference(conditions: Mapping[str, Any], variables: Any) -> bool:
    """business-rules' check of a rule's conditions, plus the one shape it asserts on that documents allow:
    a rule's empty ``all`` (the base rung of a ladder), true like Python's ``all([])``."""
    if conditions == {"all": []}:
        return True
    return bool(check_conditions_recursively(conditions, variables))


def run_reference(rule: Rule, variables: Any, actions: LoyaltyActions) -> None:
    """business_rules.engine.run for one rule, with holds_reference for its conditions."""
    if holds_reference(rule.conditions, variables):
        do_actions(rule.as_business_rule()["actions"], actions)


def evaluate_reference(
    spec: CampaignSpec, ctx: EvaluationContext, *, received_at: datetime | None = None
) -> list[Effect]:
    """Same campaign through business-rules' check_conditions_recursively and do_actions (the reference).

    Applies the same campaign filter (steps 1-2) and step 5, so its result is
    comparable with ``RuleSet([spec]).evaluate``.
    """
    if not campaign_applies(spec, ctx, received_at):
        return []
    document = spec.document
    variables = variables_class(document.attribute_types)(ctx)
    actions = LoyaltyActions(ctx, campaign_id=spec.id, campaign_version=spec.version)
    for index, rule in enumerate(document.rules):
        actions.start_rule(index, rule.name)
        run_reference(rule, variables, actions)
    return [effect for effect in actions.effects if is_kept(effect)]


def evaluate_all_reference(
    specs: Iterable[CampaignSpec],
    ctx: EvaluationContext,
    *,
    received_at: datetime | None = None,
    max_points_per_transaction: int | None = None,
) -> list[Effect]:
    """Steps 1-8 around business-rules: what ``RuleSet(specs, ...).evaluate`` must return."""
    ordered = sorted((s for s in specs if s.document.type == "earning"), key=lambda s: (-s.document.priority, s.id))
    effects: list[Effect] = []
    for spec in ordered:
        produced = evaluate_reference(spec, ctx, received_at=received_at)
        effects.extend(produced)
        if spec.document.stacking == "exclusive" and any(is_award(e) for e in produced):
            break
    return settle(effects, max_points_per_transaction)
