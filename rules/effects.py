"""Effects: what a campaign wants to happen, never the happening itself.

Rules only record intents; the accrual service applies them in one database
transaction. Keeping actions side-effect free is what lets the compiled
evaluator (reads each variable once) agree with business-rules (re-reads per
condition).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Effect:
    """One action of one fired rule; (campaign, rule_index, action_index) identifies it."""

    campaign_id: int
    campaign_version: int
    rule_index: int
    rule_name: str
    action_index: int
    action: str
    points: int
    params: Mapping[str, Any]
