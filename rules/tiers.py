"""Tier documents: which tier a customer qualifies for, given their aggregates.

A tier document lists its tiers (code, name, unique rank, benefits) and rules
whose only actions are ``set_tier``. The customer qualifies for the
highest-rank tier named by any rule that fires; None when no rule fires.
Providers and campaign windows do not exist for tier documents (validation
refuses them), and ``grace_days`` (how long a customer keeps a tier after no
longer qualifying) is applied by the caller, which knows the tier history.
"""

from __future__ import annotations

from rules.actions import LoyaltyActions
from rules.compiler import CompiledRule, ContextValues, compile_document
from rules.context import EvaluationContext
from rules.document import CampaignDocument
from rules.engine import run_reference
from rules.variables import variables_class

_CACHE_SIZE = 256
_compiled: dict[int, tuple[CampaignDocument, tuple[CompiledRule, ...], dict[str, int]]] = {}


def _require_tier(document: CampaignDocument) -> dict[str, int]:
    if document.type != "tier":
        raise ValueError(f"expected a tier document, got type {document.type!r}")
    return {tier.code: tier.rank for tier in document.tiers}


def _best(codes: list[str], ranks: dict[str, int]) -> str | None:
    return max(codes, key=ranks.__getitem__) if codes else None


def _compile(document: CampaignDocument) -> tuple[tuple[CompiledRule, ...], dict[str, int]]:
    """Compiled once per document object; the entry keeps the document alive so its id is never reused."""
    entry = _compiled.get(id(document))
    if entry is None or entry[0] is not document:
        ranks = _require_tier(document)
        if len(_compiled) >= _CACHE_SIZE:
            _compiled.clear()
        entry = _compiled[id(document)] = (document, compile_document(document), ranks)
    return entry[1], entry[2]


def evaluate_tier(document: CampaignDocument, ctx: EvaluationContext) -> str | None:
    """The code of the highest-rank tier whose rule fired, or None (compiled path)."""
    rules, ranks = _compile(document)
    values = ContextValues(ctx)
    codes = [action.value for rule in rules if rule.predicate(values) for action in rule.actions]
    return _best([code for code in codes if code is not None], ranks)


def evaluate_tier_reference(document: CampaignDocument, ctx: EvaluationContext) -> str | None:
    """Same through business-rules (rules.engine.run_reference); the property tests compare the two."""
    ranks = _require_tier(document)
    variables = variables_class(document.attribute_types)(ctx)
    actions = LoyaltyActions(ctx, campaign_id=0, campaign_version=0)
    for index, rule in enumerate(document.rules):
        actions.start_rule(index, rule.name)
        run_reference(rule, variables, actions)
    return _best([e.value for e in actions.effects if e.kind == "tier" and e.value is not None], ranks)
