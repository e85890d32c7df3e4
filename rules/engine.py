"""Evaluate published campaigns against one context.

Order of evaluation (both paths):

1. Only campaigns with ``type == "earning"`` are evaluated here.
2. A campaign applies when ``ctx.provider`` is in its ``providers`` (or it
   has none), ``starts_at <= ctx.occurred_at < ends_at`` (each bound
   optional) and, when ``received_at`` is given and the campaign has a
   ``published_at``, ``published_at <= received_at`` (a campaign published
   after the transaction arrived does not apply to it, even on a retry).
3. Campaigns run by ``priority`` descending, then campaign ``id`` ascending.
4. Within a campaign every rule whose conditions hold fires, in document
   order (``run_all`` with ``stop_on_first_trigger=False``); a fired rule's
   actions run in order.
5. Effects with 0 points are dropped.
6. Stacking: once an ``exclusive`` campaign has produced an effect with
   points > 0, no lower-ordered campaign runs (its own effects are kept).

``RuleSet.evaluate`` is the production path (compiled closures);
``evaluate_reference`` runs one campaign through ``business_rules.run_all``
and is what the property tests compare it with.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from business_rules.engine import run_all

from rules.actions import LoyaltyActions
from rules.compiler import CompiledRule, ContextValues, compile_document
from rules.context import EvaluationContext
from rules.document import CampaignDocument
from rules.effects import Effect
from rules.variables import variables_class


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


def campaign_applies(spec: CampaignSpec, ctx: EvaluationContext, received_at: datetime | None = None) -> bool:
    """Steps 1-2 of the module docstring: is this campaign in play for this context at all?"""
    document = spec.document
    if document.type != "earning":
        return False
    if document.providers is not None and ctx.provider not in document.providers:
        return False
    if document.starts_at is not None and ctx.occurred_at < document.starts_at:
        return False
    if document.ends_at is not None and ctx.occurred_at >= document.ends_at:
        return False
    published_at = spec.published_at
    return received_at is None or published_at is None or published_at <= received_at


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A campaign ready to run: bounds in UTC so comparisons take datetime's fast path."""

    spec: CampaignSpec
    rules: tuple[CompiledRule, ...]
    exclusive: bool
    starts_at: datetime | None
    ends_at: datetime | None
    published_at: datetime | None

    @classmethod
    def of(cls, spec: CampaignSpec) -> _Compiled:
        document = spec.document
        return cls(
            spec=spec,
            rules=compile_document(document),
            exclusive=document.stacking == "exclusive",
            starts_at=_utc(document.starts_at),
            ends_at=_utc(document.ends_at),
            published_at=_utc(spec.published_at),
        )


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


class RuleSet:
    """All published campaigns compiled once; evaluate() is the production path."""

    def __init__(self, campaigns: Iterable[CampaignSpec]) -> None:
        specs = [spec for spec in campaigns if spec.document.type == "earning"]
        ids = [spec.id for spec in specs]
        if len(ids) != len(set(ids)):
            raise ValueError("a RuleSet holds one version per campaign id")
        specs.sort(key=lambda spec: (-spec.document.priority, spec.id))
        self._campaigns = tuple(_Compiled.of(spec) for spec in specs)
        self._by_provider: dict[str, tuple[_Compiled, ...]] = {}

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
        occurred_at = ctx.occurred_at.astimezone(UTC)
        received = _utc(received_at)
        effects: list[Effect] = []
        for campaign in self._for_provider(ctx.provider):
            if campaign.starts_at is not None and occurred_at < campaign.starts_at:
                continue
            if campaign.ends_at is not None and occurred_at >= campaign.ends_at:
                continue
            if received is not None and campaign.published_at is not None and campaign.published_at > received:
                continue
            spec = campaign.spec
            produced = False
            for rule in campaign.rules:
                if not rule.predicate(values):
                    continue
                for action in rule.actions:
                    points = action.points(ctx)
                    if points > 0:
                        effects.append(
                            Effect(
                                spec.id,
                                spec.version,
                                rule.index,
                                rule.name,
                                action.index,
                                action.name,
                                points,
                                dict(action.params),
                            )
                        )
                        produced = True
            if produced and campaign.exclusive:
                break
        return effects


def evaluate_reference(spec: CampaignSpec, ctx: EvaluationContext) -> list[Effect]:
    """Same campaign through business_rules.engine.run_all (the reference semantics).

    Applies the same campaign filter (steps 1-2, without received_at) and drops
    0-point effects, so its result is comparable with ``RuleSet([spec]).evaluate``.
    """
    if not campaign_applies(spec, ctx):
        return []
    document = spec.document
    variables = variables_class(document.attribute_types)(ctx)
    actions = LoyaltyActions(ctx, campaign_id=spec.id, campaign_version=spec.version)
    for index, rule in enumerate(document.rules):
        actions.start_rule(index, rule.name)
        run_all([rule.as_business_rule()], variables, actions, stop_on_first_trigger=False)
    return [effect for effect in actions.effects if effect.points > 0]
