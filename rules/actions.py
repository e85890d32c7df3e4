"""business-rules actions that only collect Effects.

An action never touches the context or any store: it appends an Effect. The
parameter schema lives here too (``ACTION_PARAMS``) because business-rules
does not type-check params at all (``"points": "5"`` would pass); documents
are checked against it before they can be published.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from business_rules.actions import BaseActions, rule_action
from business_rules.fields import FIELD_NUMERIC, FIELD_SELECT, FIELD_SELECT_MULTIPLE, FIELD_TEXT

from rules.context import EvaluationContext
from rules.effects import FEEDS, RECIPIENTS, Effect
from rules.operators import TAG
from rules.variables import ATTRIBUTE_KEY, ATTRIBUTE_PREFIX, CUSTOMER_PREFIX, DAY_NAMES

MAX_POINTS = 1_000_000_000
MAX_PER = 1_000_000_000_000
MAX_FACTOR = 10
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # a key written .key in a path (as rules.document does)
CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
TIER_CODE = TAG
ROUNDING_MODES: dict[str, str] = {
    "down": ROUND_FLOOR,
    "nearest": ROUND_HALF_UP,
    "up": ROUND_CEILING,
}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, Mapping):
        return "mapping"
    return type(value).__name__


def check_points(value: Any) -> str | None:
    """Points are whole, positive and bounded (the ledger stores integers)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return f"expected an integer, got {_kind(value)}"
    if value <= 0:
        return "must be a positive integer"
    if value > MAX_POINTS:
        return f"must be at most {MAX_POINTS}"
    return None


def check_per(value: Any) -> str | None:
    """``per`` divides the amount, so it must be a positive finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"expected a number, got {_kind(value)}"
    if not math.isfinite(value) or value <= 0:
        return "must be a positive number"
    if value > MAX_PER:
        return f"must be at most {MAX_PER}"
    return None


def check_percent(value: Any) -> str | None:
    """A share of the amount written as a decimal: 0.025 is 2.5 %; above 1 would give more than the amount."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"expected a number, got {_kind(value)}"
    if not math.isfinite(value) or not 0 < value <= 1:
        return "must be a decimal share of the amount above 0 and at most 1 (0.025 is 2.5 %)"
    return None


def check_max(value: Any) -> str | None:
    """``max`` is an optional cap; null means uncapped."""
    return None if value is None else check_points(value)


MAX_BANDS = 50
Problem = str | tuple[str, str]  # a reason, or (sub-path, reason) for a problem inside a structured parameter


def check_optional_points(value: Any) -> str | None:
    """``points`` of award_points_per_amount: null when the action has ``bands`` instead."""
    return None if value is None else check_points(value)


def check_optional_per(value: Any) -> str | None:
    return None if value is None else check_per(value)


def check_bands(value: Any) -> Problem | None:
    """``[{from, points, per}, ...]`` with ``from`` strictly ascending: the whole amount earns its band's rate."""
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        return f"expected a list of {{from, points, per}}, got {_kind(value)}"
    if not 1 <= len(value) <= MAX_BANDS:
        return f"must have 1 to {MAX_BANDS} bands"
    previous: float | None = None
    for i, band in enumerate(value):
        if not isinstance(band, Mapping):
            return f"[{i}]", f"expected a mapping {{from, points, per}}, got {_kind(band)}"
        for key in band:
            if key not in ("from", "points", "per"):
                return f"[{i}].{key}" if isinstance(key, str) else f"[{i}]", "unknown key of a band"
        for key, check in (("from", check_band_from), ("points", check_points), ("per", check_per)):
            if key not in band:
                return f"[{i}].{key}", "required in a band"
            reason = check(band[key])
            if reason is not None:
                return f"[{i}].{key}", reason
        if previous is not None and not band["from"] > previous:
            return f"[{i}].from", f"must be greater than the previous band's from ({previous})"
        previous = band["from"]
    return None


def check_band_from(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"expected a number, got {_kind(value)}"
    if not math.isfinite(value) or not 0 <= value <= MAX_PER:
        return f"must be a number from 0 to {MAX_PER}"
    return None


MAX_RATES = 1000
KEY_VARIABLES = ("provider", "category", "channel", "customer_tier", "event_type", "currency", "day_of_week")


def check_by(value: Any) -> str | None:
    """The string variable a rate table is keyed by: one of KEY_VARIABLES, ``attributes.<key>`` or
    ``customer.<name>`` (whether that customer attribute is declared as a string is the validator's check)."""
    if value is None:
        return None
    if not isinstance(value, str):
        return f"expected a string variable name, got {_kind(value)}"
    for prefix in (ATTRIBUTE_PREFIX, CUSTOMER_PREFIX):
        if value.startswith(prefix) and ATTRIBUTE_KEY.fullmatch(value[len(prefix) :]):
            return None
    if value not in KEY_VARIABLES:
        known = ", ".join(KEY_VARIABLES)
        return f"{value[:60]!r} is not a string variable to key rates by ({known}, attributes.<key>, customer.<name>)"
    return None


def check_rates(value: Any) -> Problem | None:
    """``{value: {points, per}}``: the rate for each value of the ``by`` variable."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        return f"expected a mapping of values to {{points, per}}, got {_kind(value)}"
    if not 1 <= len(value) <= MAX_RATES:
        return f"must have 1 to {MAX_RATES} rates"
    for key, rate in value.items():
        where = (f".{key}" if IDENTIFIER.fullmatch(key) else f"[{key[:60]!r}]") if isinstance(key, str) else ""
        if not isinstance(key, str) or not key or len(key) > 200:
            return where, "a rate's value is a non-empty string of at most 200 characters"
        if not isinstance(rate, Mapping):
            return where, f"expected a mapping {{points, per}}, got {_kind(rate)}"
        for name in rate:
            if name not in ("points", "per"):
                return f"{where}.{name}" if isinstance(name, str) else where, "unknown key of a rate"
        for name, check in (("points", check_points), ("per", check_per)):
            if name not in rate:
                return f"{where}.{name}", "required in a rate"
            reason = check(rate[name])
            if reason is not None:
                return f"{where}.{name}", reason
    return None


def check_rounding(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"expected a string, got {_kind(value)}"
    if value not in ROUNDING_MODES:
        return f"{value[:60]!r} is not one of {', '.join(ROUNDING_MODES)}"
    return None


def _one_of(allowed: tuple[str, ...]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return f"expected a string, got {_kind(value)}"
        if value not in allowed:
            return f"{value[:60]!r} is not one of {', '.join(allowed)}"
        return None

    return check


def check_factor(value: Any) -> str | None:
    """A multiplier must add something (> 1) and stay sane (<= 10)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"expected a number, got {_kind(value)}"
    if not math.isfinite(value) or not 1 < value <= MAX_FACTOR:
        return f"must be a number greater than 1 and at most {MAX_FACTOR}"
    return None


def _pattern(regex: re.Pattern[str], what: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return f"expected a string, got {_kind(value)}"
        if not regex.fullmatch(value):
            return f"{value[:60]!r} is not a valid {what} ({regex.pattern})"
        return None

    return check


check_feeds = _one_of(FEEDS)
check_to = _one_of(RECIPIENTS)
check_code = _pattern(CODE, "code")
check_tag = _pattern(TAG, "tag")
check_tier = _pattern(TIER_CODE, "tier code")


@dataclass(frozen=True, slots=True)
class Param:
    """One action parameter: a checker returning the reason it is wrong, and its default."""

    check: Callable[[Any], Problem | None]
    required: bool = True
    default: Any = None


ACTION_PARAMS: dict[str, dict[str, Param]] = {
    "award_points": {
        "points": Param(check_points),
        "feeds": Param(check_feeds, required=False, default="both"),
        "to": Param(check_to, required=False, default="customer"),
    },
    "award_points_per_amount": {
        "points": Param(check_optional_points, required=False, default=None),  # required unless bands
        "per": Param(check_optional_per, required=False, default=None),  # required unless bands
        "bands": Param(check_bands, required=False, default=None),
        "by": Param(check_by, required=False, default=None),
        "rates": Param(check_rates, required=False, default=None),
        "max": Param(check_max, required=False, default=None),
        "rounding": Param(check_rounding, required=False, default="down"),
        "feeds": Param(check_feeds, required=False, default="both"),
        "to": Param(check_to, required=False, default="customer"),
    },
    "award_points_percent": {
        "percent": Param(check_percent),
        "max": Param(check_max, required=False, default=None),
        "rounding": Param(check_rounding, required=False, default="down"),
        "feeds": Param(check_feeds, required=False, default="both"),
        "to": Param(check_to, required=False, default="customer"),
    },
    "multiply_points": {"factor": Param(check_factor)},
    "grant_reward": {"reward": Param(check_code)},
    "add_tag": {"tag": Param(check_tag)},
    "notify": {"template": Param(check_code)},
    "set_tier": {"tier": Param(check_tier)},
}
ACTION_KINDS: dict[str, str] = {
    "award_points": "points",
    "award_points_per_amount": "points",
    "award_points_percent": "points",
    "multiply_points": "multiplier",
    "grant_reward": "reward",
    "add_tag": "tag",
    "notify": "notify",
    "set_tier": "tier",
}
VALUE_PARAMS: dict[str, str] = {"grant_reward": "reward", "add_tag": "tag", "notify": "template", "set_tier": "tier"}
TIER_ACTIONS = frozenset({"set_tier"})
AMOUNT_ACTIONS = frozenset({"award_points_per_amount", "award_points_percent"})  # points depend on the amount


def per_to_decimal(per: float) -> Decimal:
    """``per: 0.1`` means one tenth, not the binary float's 0.1000000000000000055..."""
    return Decimal(per) if isinstance(per, int) else Decimal(repr(per))


factor_to_decimal = per_to_decimal


def is_award(effect: Effect) -> bool:
    """What makes an exclusive campaign stop the ones after it: points > 0 or a reward."""
    return (effect.kind == "points" and effect.points > 0) or effect.kind == "reward"


def is_kept(effect: Effect) -> bool:
    """Only 'points' effects that came to 0 are dropped; a multiplier, reward or tag is an intent on its own."""
    return effect.kind != "points" or effect.points > 0


def points_per_amount(amount: Decimal, points: int, per: Decimal, max_points: int | None, rounding: str) -> int:
    """points * (amount / per), rounded as asked, never negative, capped at max_points."""
    value = (Decimal(points) * (amount / per)).to_integral_value(rounding=ROUNDING_MODES[rounding])
    result = max(int(value), 0)
    if max_points is not None:
        result = min(result, max_points)
    return result


Band = tuple[Decimal, int, Decimal]  # (from, points, per)


def bands_to_decimal(bands: Any) -> tuple[Band, ...]:
    """Validated ``bands`` as exact (from, points, per), highest ``from`` first (the first one that fits wins)."""
    return tuple((per_to_decimal(b["from"]), b["points"], per_to_decimal(b["per"])) for b in reversed(bands))


def band_for(amount: Decimal, bands: tuple[Band, ...]) -> Band | None:
    """The band the amount falls in (the highest ``from`` not above it); None below the first band."""
    return next((band for band in bands if band[0] <= amount), None)


def points_banded(amount: Decimal, bands: tuple[Band, ...], max_points: int | None, rounding: str) -> int:
    """The whole amount at its band's rate: points_per_amount with that band's points and per; 0 below them all."""
    band = band_for(amount, bands)
    if band is None:
        return 0
    return points_per_amount(amount, band[1], band[2], max_points, rounding)


def key_of(ctx: EvaluationContext, by: str) -> str | None:
    """The value a rate table is looked up by: the string variable's value, None when missing or not a string."""
    if by.startswith(ATTRIBUTE_PREFIX):
        value = ctx.attributes.get(by[len(ATTRIBUTE_PREFIX) :])
        return value if isinstance(value, str) else None
    if by.startswith(CUSTOMER_PREFIX):
        value = ctx.customer_attributes.get(by[len(CUSTOMER_PREFIX) :])
        return value if isinstance(value, str) else None
    if by == "day_of_week":
        return DAY_NAMES[ctx.local_time().weekday()]
    value = getattr(ctx, by)
    return value if isinstance(value, str) and value else None


Rates = Mapping[str, tuple[int, Decimal]]


def rates_to_decimal(rates: Mapping[str, Mapping[str, Any]]) -> dict[str, tuple[int, Decimal]]:
    return {key: (rate["points"], per_to_decimal(rate["per"])) for key, rate in rates.items()}


def points_keyed(
    ctx: EvaluationContext,
    by: str,
    rates: Rates,
    default: tuple[int, Decimal] | None,
    max_points: int | None,
    rounding: str,
) -> int:
    """points_per_amount at the rate of the ``by`` variable's value; the default rate (or 0) for any other value."""
    key = key_of(ctx, by)
    rate = rates.get(key, default) if key is not None else default
    if rate is None:
        return 0
    return points_per_amount(ctx.amount, rate[0], rate[1], max_points, rounding)


def points_percent(amount: Decimal, percent: Decimal, max_points: int | None, rounding: str) -> int:
    """amount * percent, rounded as asked, never negative, capped at max_points."""
    value = (amount * percent).to_integral_value(rounding=ROUNDING_MODES[rounding])
    result = max(int(value), 0)
    if max_points is not None:
        result = min(result, max_points)
    return result


class LoyaltyActions(BaseActions):
    """Collects the Effects of one campaign; ``start_rule`` tells it which rule is running."""

    def __init__(self, ctx: EvaluationContext, *, campaign_id: int, campaign_version: int) -> None:
        self._ctx = ctx
        self._campaign_id = campaign_id
        self._campaign_version = campaign_version
        self._rule_index = 0
        self._rule_name = ""
        self._action_index = 0
        self.effects: list[Effect] = []

    def start_rule(self, rule_index: int, rule_name: str) -> None:
        self._rule_index = rule_index
        self._rule_name = rule_name
        self._action_index = 0

    def _collect(self, action: str, points: int, params: dict[str, Any], **extra: Any) -> None:
        self.effects.append(
            Effect(
                campaign_id=self._campaign_id,
                campaign_version=self._campaign_version,
                rule_index=self._rule_index,
                rule_name=self._rule_name,
                action_index=self._action_index,
                action=action,
                points=points,
                params=params,
                kind=ACTION_KINDS[action],
                **extra,
            )
        )
        self._action_index += 1

    @rule_action(params={"points": FIELD_NUMERIC, "feeds": FIELD_SELECT, "to": FIELD_SELECT})
    def award_points(self, points: int, feeds: str = "both", to: str = "customer") -> None:
        params = {"points": points, "feeds": feeds, "to": to}
        self._collect("award_points", points, params, feeds=feeds, to=to)

    @rule_action(
        params={
            "points": FIELD_NUMERIC,
            "per": FIELD_NUMERIC,
            "bands": FIELD_SELECT_MULTIPLE,
            "by": FIELD_SELECT,
            "rates": FIELD_SELECT_MULTIPLE,
            "max": FIELD_NUMERIC,
            "rounding": FIELD_SELECT,
            "feeds": FIELD_SELECT,
            "to": FIELD_SELECT,
        }
    )
    def award_points_per_amount(
        self,
        points: int | None = None,
        per: float | None = None,
        bands: list[dict[str, Any]] | None = None,
        by: str | None = None,
        rates: dict[str, dict[str, Any]] | None = None,
        max: int | None = None,
        rounding: str = "down",
        feeds: str = "both",
        to: str = "customer",
    ) -> None:
        rate: dict[str, Any]
        if bands is not None:
            earned = points_banded(self._ctx.amount, bands_to_decimal(bands), max, rounding)
            rate = {"bands": bands}
        elif by is not None and rates is not None:
            default = None if points is None or per is None else (points, per_to_decimal(per))
            earned = points_keyed(self._ctx, by, rates_to_decimal(rates), default, max, rounding)
            rate = {"points": points, "per": per, "by": by, "rates": rates}
        else:
            assert points is not None and per is not None  # the validator requires them without bands or rates
            earned = points_per_amount(self._ctx.amount, points, per_to_decimal(per), max, rounding)
            rate = {"points": points, "per": per}
        params = {**rate, "max": max, "rounding": rounding, "feeds": feeds, "to": to}
        self._collect("award_points_per_amount", earned, params, feeds=feeds, to=to)

    @rule_action(
        params={
            "percent": FIELD_NUMERIC,
            "max": FIELD_NUMERIC,
            "rounding": FIELD_SELECT,
            "feeds": FIELD_SELECT,
            "to": FIELD_SELECT,
        }
    )
    def award_points_percent(
        self,
        percent: float,
        max: int | None = None,
        rounding: str = "down",
        feeds: str = "both",
        to: str = "customer",
    ) -> None:
        earned = points_percent(self._ctx.amount, per_to_decimal(percent), max, rounding)
        params = {"percent": percent, "max": max, "rounding": rounding, "feeds": feeds, "to": to}
        self._collect("award_points_percent", earned, params, feeds=feeds, to=to)

    @rule_action(params={"factor": FIELD_NUMERIC})
    def multiply_points(self, factor: float) -> None:
        """Points are 0 here: the engine fills them in once every campaign has run."""
        self._collect("multiply_points", 0, {"factor": factor}, factor=factor_to_decimal(factor))

    @rule_action(params={"reward": FIELD_TEXT})
    def grant_reward(self, reward: str) -> None:
        self._collect("grant_reward", 0, {"reward": reward}, value=reward)

    @rule_action(params={"tag": FIELD_TEXT})
    def add_tag(self, tag: str) -> None:
        self._collect("add_tag", 0, {"tag": tag}, value=tag)

    @rule_action(params={"template": FIELD_TEXT})
    def notify(self, template: str) -> None:
        self._collect("notify", 0, {"template": template}, value=template)

    @rule_action(params={"tier": FIELD_SELECT})
    def set_tier(self, tier: str) -> None:
        self._collect("set_tier", 0, {"tier": tier}, value=tier)
