"""The vocabulary an editor offers: every variable, action and the operators of each exported type.

It sits above operators, actions and variables (actions and variables are built on the operator
types), so none of them has to import the others at call time to list it.
"""

from __future__ import annotations

from typing import Any

from rules.actions import LoyaltyActions
from rules.operators import EXPORTED_TYPES
from rules.variables import LoyaltyVariables


def export_rules_vocabulary() -> dict[str, Any]:
    """What ``business_rules.export_rule_data`` returns, but with our types.

    export_rule_data only looks for exported types in business_rules.operators,
    so it would list its own string/numeric types and miss ours. ``attributes.<key>``
    variables are per document and not listed.
    """
    return {
        "variables": LoyaltyVariables.get_all_variables(),
        "actions": LoyaltyActions.get_all_actions(),
        "variable_type_operators": {cls.name: cls.get_all_operators() for cls in EXPORTED_TYPES},
    }
