"""Everything a worker needs from configuration, compiled once per publication.

Campaign metadata (budgets, limits, return windows), the tier ladder, the
programme settings and the compiled rule set travel together so one batch
never mixes two versions of the programme.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from campaigns.access.providers import provider_codes
from campaigns.catalog import programme
from campaigns.catalog.documents import published_specs
from rules import CampaignSpec, CompiledChallenge, RuleSet, compile_challenges


@dataclass(frozen=True)
class CampaignMeta:
    id: int
    name: str
    version: int
    pending_days: int = 0
    budget: dict[str, int] = field(default_factory=dict)
    limit_count: int | None = None
    limit_period: str | None = None
    points_expiry: dict[str, Any] | None = None  # the campaign's own expiry policy (None: the programme's)
    funding: tuple[tuple[str, int], ...] | None = None  # campaigns.clearing.funding; None: the issuer pays
    rule_limits: dict[int, tuple[int, str]] = field(default_factory=dict)  # rule index -> (count, period)

    @functools.cached_property
    def tracks_usage(self) -> bool:
        """Asked for every award: worked out once per publication (the metadata never changes)."""
        return bool(self.limit_count) or bool(
            {"max_points_per_customer_per_day", "max_points_per_customer"} & set(self.budget)
        )

    @functools.cached_property
    def has_budget(self) -> bool:
        return "max_points" in self.budget or "max_rewards" in self.budget


@dataclass(frozen=True)
class Tier:
    code: str
    name: str
    rank: int
    earn_multiplier: float = 1.0
    benefits: dict[str, Any] = field(default_factory=dict)


@dataclass
class Published:
    ruleset: RuleSet
    campaigns: dict[int, CampaignMeta]
    tier_spec: CampaignSpec | None
    tiers: dict[str, Tier]
    grace_days: int
    settings: programme.Programme
    providers: dict[int, str]
    tier_funding: tuple[tuple[str, int], ...] | None = None  # who pays the tier multipliers' bonus points
    challenges: tuple[CompiledChallenge, ...] = ()  # empty in most programmes: crediting then skips progress work
    experiments: tuple[CampaignSpec, ...] = ()  # the published campaigns holding out a control group
    _without: dict[frozenset[int], RuleSet] = field(default_factory=dict, repr=False)

    @functools.cached_property
    def provider_ids(self) -> dict[str, int]:
        return {code: pid for pid, code in self.providers.items()}

    def rank(self, tier: str | None) -> int:
        return self.tiers[tier].rank if tier in self.tiers else -1

    def without(self, held_out: frozenset[int]) -> RuleSet:
        """The rule set minus the campaigns a control customer is held out of: what they would get had those
        campaigns not existed (stacking and multipliers included), compiled once per set."""
        ruleset = self._without.get(held_out)
        if ruleset is None:
            ruleset = RuleSet(
                [s for s in self.ruleset.campaigns if s.id not in held_out],
                max_points_per_transaction=self.settings.max_points_per_transaction,
            )
            self._without[held_out] = ruleset
        return ruleset


def load(session: Session) -> Published:
    specs = published_specs(session)
    settings = programme.load(session)
    earning = [s for s in specs if s.document.type == "earning"]
    tier_specs = sorted(
        (s for s in specs if s.document.type == "tier"),
        key=lambda s: (s.published_at is not None, s.published_at),
    )
    tier_spec = tier_specs[-1] if tier_specs else None
    metas: dict[int, CampaignMeta] = {}
    for spec in earning:
        raw = spec.document.raw
        limits = (raw.get("limits") or {}).get("per_customer") or {}
        metas[spec.id] = CampaignMeta(
            id=spec.id,
            name=spec.document.name,
            version=spec.version,
            pending_days=int(raw.get("pending_days") or 0),
            budget={k: int(v) for k, v in (raw.get("budget") or {}).items() if v is not None},
            limit_count=limits.get("count"),
            limit_period=limits.get("period"),
            points_expiry=dict(raw["points_expiry"]) if raw.get("points_expiry") else None,
            funding=_funding(raw),
            rule_limits={
                i: (r.limits.per_customer.count, r.limits.per_customer.period)
                for i, r in enumerate(spec.document.rules)
                if r.limits is not None
            },
        )
    tiers: dict[str, Tier] = {}
    grace = 30
    if tier_spec is not None:
        raw = tier_spec.document.raw
        grace = int(raw.get("grace_days", 30))
        for t in raw.get("tiers", []):
            benefits = dict(t.get("benefits") or {})
            tiers[t["code"]] = Tier(
                t["code"], t["name"], int(t["rank"]), float(benefits.get("earn_multiplier", 1)), benefits
            )
    return Published(
        ruleset=RuleSet(earning, max_points_per_transaction=settings.max_points_per_transaction),
        campaigns=metas,
        tier_spec=tier_spec,
        tiers=tiers,
        grace_days=grace,
        settings=settings,
        providers=provider_codes(session),
        tier_funding=_funding(tier_spec.document.raw) if tier_spec is not None else None,
        challenges=compile_challenges(earning),
        experiments=tuple(s for s in earning if s.document.experiment is not None),
    )


def _funding(raw: Any) -> tuple[tuple[str, int], ...] | None:
    funding = raw.get("funding")
    return tuple((str(k), int(v)) for k, v in funding.items()) if funding else None
