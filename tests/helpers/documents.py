"""Campaign documents several tests publish."""

from __future__ import annotations

from typing import Any

BASE_EARNING = """
name: Base earning
rules:
  - name: 1 point per 10k
    conditions:
      all:
        - {name: amount, operator: greater_than_or_equal_to, value: 10000}
    actions:
      - {name: award_points_per_amount, params: {points: 1, per: 10000}}
"""


THIRD_TODAY: dict[str, Any] = {
    "name": "Third purchase today",
    "priority": 10,
    "rules": [
        {
            "name": "3rd",
            "conditions": {"all": [{"name": "transactions_today", "operator": "equal_to", "value": 2}]},
            "actions": [{"name": "award_points", "params": {"points": 40}}],
        }
    ],
}

# A welcome bonus on a customer's first transaction with each provider: it lands on the wrong transaction if
# crediting ever takes a customer's transactions out of order.
FIRST_BONUS = 25
FIRST_WITH_PROVIDER: dict[str, Any] = {
    "name": "First time with this provider",
    "priority": 20,
    "rules": [
        {
            "name": "welcome",
            "conditions": {"all": [{"name": "first_transaction_with_provider", "operator": "is_true", "value": None}]},
            "actions": [{"name": "award_points", "params": {"points": FIRST_BONUS}}],
        }
    ],
}
