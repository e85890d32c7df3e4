"""Pure rules engine: campaign documents, business-rules vocabulary, compiled evaluation.

Knows nothing of Flask, SQL or Redis; callers pass an EvaluationContext and
get Effects back.
"""

from __future__ import annotations

from rules.actions import ACTION_PARAMS, LoyaltyActions
from rules.compiler import ContextValues, compile_conditions, compile_document
from rules.context import EvaluationContext
from rules.document import (
    ActionSpec,
    Budget,
    CampaignDocument,
    DocumentInvalid,
    FieldError,
    Rule,
    parse_document,
)
from rules.effects import Effect
from rules.engine import CampaignSpec, RuleSet, campaign_applies, evaluate_reference
from rules.operators import (
    AttributeNumericType,
    DateType,
    LoyaltyBooleanType,
    LoyaltyNumericType,
    LoyaltyStringType,
    export_rules_vocabulary,
)
from rules.variables import LoyaltyVariables, variables_class

__all__ = [
    "ACTION_PARAMS",
    "ActionSpec",
    "AttributeNumericType",
    "Budget",
    "CampaignDocument",
    "CampaignSpec",
    "ContextValues",
    "DateType",
    "DocumentInvalid",
    "Effect",
    "EvaluationContext",
    "FieldError",
    "LoyaltyActions",
    "LoyaltyBooleanType",
    "LoyaltyNumericType",
    "LoyaltyStringType",
    "LoyaltyVariables",
    "Rule",
    "RuleSet",
    "campaign_applies",
    "compile_conditions",
    "compile_document",
    "evaluate_reference",
    "export_rules_vocabulary",
    "parse_document",
    "variables_class",
]
