"""Effects: what a campaign wants to happen, never the happening itself.

Rules only record intents; the accrual service applies them in one database
transaction. Keeping actions side-effect free is what lets the compiled
evaluator (reads each variable once) agree with business-rules (re-reads per
condition).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

KINDS = ("points", "multiplier", "reward", "tag", "tier", "notify")
FEEDS = ("both", "spendable", "qualifying")
RECIPIENTS = ("customer", "referrer", "both")


class FrozenParams(dict[str, Any]):
    """Action params shared by cached Effects: still a dict (JSON, pickle, ==) but read-only."""

    __slots__ = ()

    def _read_only(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("Effect params are read-only")

    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenParams, (dict(self),))


@dataclass(frozen=True, slots=True)
class Effect:
    """One action of one fired rule; (campaign, rule_index, action_index) identifies it.

    ``kind`` says what the caller must do with it: credit ``points`` (kinds
    points and multiplier; ``feeds`` says which balances, ``to`` who gets
    them), grant reward ``value``, add tag ``value``, move to tier ``value``,
    or send notification template ``value``. ``capped_from`` is set when the
    programme-wide per-transaction cap cut ``points`` down from that number.
    """

    campaign_id: int
    campaign_version: int
    rule_index: int
    rule_name: str
    action_index: int
    action: str
    points: int
    params: Mapping[str, Any]
    kind: str = "points"
    feeds: str = "both"
    to: str = "customer"
    value: str | None = None
    factor: Decimal | None = None
    capped_from: int | None = None
