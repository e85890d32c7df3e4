"""Pure rules engine: campaign documents, business-rules vocabulary, compiled evaluation.

Knows nothing of Flask, SQL or Redis; callers pass an EvaluationContext and
get Effects back.
"""

from __future__ import annotations

from rules.actions import ACTION_PARAMS, LoyaltyActions
from rules.challenges import (
    CompiledChallenge,
    compile_challenges,
    completes,
    count_toward,
    matching_reference,
    period_key,
    period_key_at,
    reward_effect,
)
from rules.compiler import ContextValues, Eligibility, compile_conditions, compile_document, compile_eligibility
from rules.context import EvaluationContext
from rules.document import (
    ActionSpec,
    Budget,
    CampaignDocument,
    Challenge,
    ChallengeStep,
    CustomerLimit,
    DocumentInvalid,
    FieldError,
    Known,
    Limits,
    Rule,
    TierSpec,
    parse_document,
)
from rules.effects import Effect
from rules.engine import (
    CampaignSpec,
    RuleSet,
    campaign_applies,
    evaluate_all_reference,
    evaluate_reference,
    settle,
    why_not_applies,
)
from rules.explain import CampaignTrace, ConditionTrace, RuleTrace, explain
from rules.operators import (
    AttributeNumericType,
    DateType,
    LoyaltyBooleanType,
    LoyaltyNumericType,
    LoyaltyStringType,
    TagSetType,
)
from rules.tiers import evaluate_tier, evaluate_tier_reference
from rules.variables import LoyaltyVariables, variables_class
from rules.vocabulary import export_rules_vocabulary

__all__ = [
    "ACTION_PARAMS",
    "ActionSpec",
    "AttributeNumericType",
    "Budget",
    "CampaignDocument",
    "CampaignSpec",
    "CampaignTrace",
    "Challenge",
    "ChallengeStep",
    "CompiledChallenge",
    "ConditionTrace",
    "ContextValues",
    "CustomerLimit",
    "DateType",
    "DocumentInvalid",
    "Effect",
    "Eligibility",
    "EvaluationContext",
    "FieldError",
    "Known",
    "Limits",
    "LoyaltyActions",
    "LoyaltyBooleanType",
    "LoyaltyNumericType",
    "LoyaltyStringType",
    "LoyaltyVariables",
    "Rule",
    "RuleSet",
    "RuleTrace",
    "TagSetType",
    "TierSpec",
    "campaign_applies",
    "compile_challenges",
    "compile_conditions",
    "compile_document",
    "compile_eligibility",
    "completes",
    "count_toward",
    "evaluate_all_reference",
    "evaluate_reference",
    "evaluate_tier",
    "evaluate_tier_reference",
    "explain",
    "export_rules_vocabulary",
    "matching_reference",
    "parse_document",
    "period_key",
    "period_key_at",
    "reward_effect",
    "settle",
    "variables_class",
    "why_not_applies",
]
