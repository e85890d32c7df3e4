"""Explain one campaign against one context, for the marketer's simulation screen.

Every leaf condition is evaluated (no short-circuit) so the trace shows all
of them, but ``fired`` is the rule's real result (the compiled predicate,
same semantics as business-rules). Rules are traced even when the campaign
does not apply (``applies`` False with the reason), so a marketer sees what
would have happened; ``effects`` is then empty. Effects are the campaign's
own, as if it ran alone: multipliers need the campaigns below them and the
programme cap needs all of them, so those are only settled by
``RuleSet.evaluate``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from rules.compiler import ContextValues, compile_document, compile_leaf, leaf_key
from rules.context import EvaluationContext
from rules.effects import Effect
from rules.engine import CampaignSpec, RuleSet, why_not_applies


@dataclass(frozen=True, slots=True)
class ConditionTrace:
    """One leaf: where it is, what it compared, and what came out."""

    path: str
    variable: str
    operator: str
    expected: Any
    actual: Any
    result: bool


@dataclass(frozen=True, slots=True)
class RuleTrace:
    index: int
    name: str
    fired: bool
    conditions: tuple[ConditionTrace, ...]


@dataclass(frozen=True, slots=True)
class CampaignTrace:
    campaign_id: int
    campaign_version: int
    name: str
    applies: bool
    reason: str | None
    rules: tuple[RuleTrace, ...]
    effects: tuple[Effect, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable form for the simulation API."""
        return {
            "campaign_id": self.campaign_id,
            "campaign_version": self.campaign_version,
            "name": self.name,
            "applies": self.applies,
            "reason": self.reason,
            "rules": [
                {
                    "index": r.index,
                    "name": r.name,
                    "fired": r.fired,
                    "conditions": [
                        {
                            "path": c.path,
                            "variable": c.variable,
                            "operator": c.operator,
                            "expected": c.expected,
                            "actual": c.actual,
                            "result": c.result,
                        }
                        for c in r.conditions
                    ],
                }
                for r in self.rules
            ],
            "effects": [effect_as_dict(e) for e in self.effects],
        }


def json_value(value: Any) -> Any:
    """A variable value as JSON: exact integers stay integers, other Decimals become strings (no float rounding)."""
    if isinstance(value, bool) or value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, frozenset | set):
        return sorted(value)
    return str(value)


def effect_as_dict(effect: Effect) -> dict[str, Any]:
    return {
        "campaign_id": effect.campaign_id,
        "campaign_version": effect.campaign_version,
        "rule_index": effect.rule_index,
        "rule_name": effect.rule_name,
        "action_index": effect.action_index,
        "action": effect.action,
        "kind": effect.kind,
        "points": effect.points,
        "feeds": effect.feeds,
        "to": effect.to,
        "value": effect.value,
        "factor": json_value(effect.factor),
        "capped_from": effect.capped_from,
        "params": dict(effect.params),
    }


def _leaves(node: Mapping[str, Any], path: str) -> list[tuple[str, Mapping[str, Any]]]:
    for key in ("all", "any"):
        if key in node:
            return [leaf for i, child in enumerate(node[key]) for leaf in _leaves(child, f"{path}.{key}[{i}]")]
    return [(path, node)]


def explain(spec: CampaignSpec, ctx: EvaluationContext, *, received_at: datetime | None = None) -> CampaignTrace:
    """Trace every rule and leaf of one campaign for one context (see the module docstring)."""
    document = spec.document
    reason = why_not_applies(spec, ctx, received_at)
    values = ContextValues(ctx)
    compiled = compile_document(document)
    rules = []
    for index, (rule, compiled_rule) in enumerate(zip(document.rules, compiled, strict=True)):
        traces = []
        for path, leaf in _leaves(rule.conditions, f"rules[{index}].conditions"):
            key, _ = leaf_key(leaf["name"], document.attribute_types)
            traces.append(
                ConditionTrace(
                    path=path,
                    variable=leaf["name"],
                    operator=leaf["operator"],
                    expected=leaf["value"],
                    actual=json_value(values[key]),
                    result=bool(compile_leaf(leaf, document.attribute_types)(values)),
                )
            )
        rules.append(RuleTrace(index, rule.name, bool(compiled_rule.predicate(values)), tuple(traces)))
    effects: tuple[Effect, ...] = ()
    if reason is None:
        effects = tuple(RuleSet([spec]).evaluate(ctx, received_at=received_at))
    return CampaignTrace(spec.id, spec.version, document.name, reason is None, reason, tuple(rules), effects)
