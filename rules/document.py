"""Campaign documents: parse JSON or YAML and validate with exact error paths.

business-rules only checks a rule when it runs (with ``assert``, after earlier
rules have acted) and looks operators and actions up with plain ``getattr``.
So every document is validated here, completely, before it can be published:
all errors are collected, each with a path such as
``rules[0].conditions.all[1].operator`` and a reason.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import yaml
from business_rules.fields import (
    FIELD_NO_INPUT,
    FIELD_NUMERIC,
    FIELD_SELECT_MULTIPLE,
    FIELD_TEXT,
)

from rules.actions import ACTION_PARAMS, MAX_FACTOR, TIER_ACTIONS, TIER_CODE, _kind
from rules.operators import (
    FIELD_DATE,
    FIELD_DATE_RANGE,
    FIELD_NUMERIC_RANGE,
    FIELD_TAG,
    FIELD_TAG_LIST,
    ISO_DATE,
    OPERATORS,
    TAG,
)
from rules.variables import ATTRIBUTE_KEY, ATTRIBUTE_PREFIX, CUSTOMER_PREFIX, DAY_NAMES, VARIABLE_TYPES

MAX_SOURCE_BYTES = 256 * 1024
MAX_CONDITION_DEPTH = 10
MAX_RULES = 200
MAX_ACTIONS = 20
MAX_NAME = 200
LABEL_LANGUAGES = ("vi", "en")  # the languages of customer-facing names (campaigns.i18n.LANGUAGES)
MAX_TEXT_VALUE = 1000
MAX_LIST_VALUE = 1000
MAX_REGEX = 300
MAX_PRIORITY = 1_000_000_000
CAMPAIGN_TYPES = ("earning", "tier", "reward")
STACKING = ("stackable", "exclusive")
BUDGET_KEYS = ("max_points", "max_points_per_customer_per_day", "max_points_per_customer", "max_rewards")
LIMIT_PERIODS = ("day", "week", "month", "year", "campaign")
MAX_LIMIT_COUNT = 1_000_000
MAX_PENDING_DAYS = 365
MAX_GRACE_DAYS = 3650
DEFAULT_GRACE_DAYS = 30
MAX_TIERS = 50
TOP_KEYS = (
    "name",
    "type",
    "providers",
    "starts_at",
    "ends_at",
    "priority",
    "stacking",
    "budget",
    "funding",
    "pending_days",
    "limits",
    "points_expiry",
    "experiment",
    "tiers",
    "grace_days",
    "rules",
    "challenge",
)
TIER_ONLY_KEYS = ("tiers", "grace_days")
NOT_FOR_TIERS = (
    "providers",
    "starts_at",
    "ends_at",
    "stacking",
    "budget",
    "pending_days",
    "limits",
    "points_expiry",
    "challenge",
    "experiment",
)
CHALLENGE_PERIODS = ("month", "week", "campaign")  # local calendar month, ISO week, or the campaign's whole life
CHALLENGE_REWARDS = ("award_points", "grant_reward")
MAX_CHALLENGE_STEPS = 20
MAX_STEP_COUNT = 1000
# When the points of a campaign's awards expire: the programme setting's policies plus two month-end ones.
EXPIRY_POLICIES = ("rolling_months", "end_of_next_year", "never", "end_of_next_month", "end_of_month_after")
EXPIRY_MONTHS = ("rolling_months", "end_of_month_after")  # the policies that take ``months``
MAX_EXPIRY_MONTHS = 120
PROVIDER_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NUMERIC_ONLY = frozenset(OPERATORS["numeric"]) - frozenset(OPERATORS["string"])
BOOLEAN_OPERATORS = frozenset(OPERATORS["boolean"])


# Numeric variables whose every value lies in a closed range: a comparison outside it can never match.
BOUNDED_VARIABLES: dict[str, tuple[int, int, str]] = {
    "hour": (0, 23, "hours are 0-23"),
    "day_of_week_number": (1, 7, "days are numbered 1 (Monday) to 7 (Sunday)"),
    "birthday_month": (0, 12, "months are 1-12 (0 = unknown)"),
}
EQUALITY_OPERATORS = frozenset({"equal_to", "not_equal_to", "is_in", "not_in"})


@dataclass(frozen=True, slots=True)
class Known:
    """The programme's closed sets a document may name, as the catalog knows them (None: not checked).

    The engine is pure, so the caller (the catalog service) reads them from the database; a code outside
    them makes a condition that can never match, which is an error rather than a silent no-op.
    """

    providers: frozenset[str] | None = None
    tiers: frozenset[str] | None = None
    rewards: frozenset[str] | None = None
    channels: frozenset[str] | None = None
    customer_attributes: Mapping[str, str] | None = None  # the programme's declared ``customer.<name>`` types


def _not_in_set(value: str, choices: frozenset[str] | tuple[str, ...], what: str) -> str:
    """``'saturdy' is not a day; did you mean 'saturday'?`` (the suggestion only when one is close)."""
    close = difflib.get_close_matches(value, sorted(choices), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(sorted(choices)[:12]) or 'none'})"
    return f"{_short(value)} is not {what}{hint}"


@dataclass(frozen=True, slots=True)
class FieldError:
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class DocumentInvalid(ValueError):
    """Every problem found in a document, so an editor can show them all at once."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


@dataclass(frozen=True, slots=True)
class Budget:
    """Spending limits; enforced by the caller, which holds the counters."""

    max_points: int | None = None
    max_points_per_customer_per_day: int | None = None
    max_points_per_customer: int | None = None
    max_rewards: int | None = None


@dataclass(frozen=True, slots=True)
class CustomerLimit:
    """How many times one customer may be awarded by this campaign per period; enforced by the caller."""

    count: int
    period: str


@dataclass(frozen=True, slots=True)
class Limits:
    per_customer: CustomerLimit


@dataclass(frozen=True, slots=True)
class Experiment:
    """A holdout: ``control_share`` percent of customers are evaluated but not awarded (rules.experiments)."""

    control_share: int


@dataclass(frozen=True, slots=True)
class TierSpec:
    """One tier of a tier programme; a higher rank is a better tier."""

    code: str
    name: str | Mapping[str, str]  # a plain string, or {vi: ..., en: ...}
    rank: int
    benefits: Mapping[str, Any]

    @property
    def earn_multiplier(self) -> float:
        return self.benefits.get("earn_multiplier", 1)


@dataclass(frozen=True, slots=True)
class ActionSpec:
    name: str
    params: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Rule:
    """One validated rule; ``conditions`` is the business-rules tree (do not mutate it)."""

    name: str
    conditions: Mapping[str, Any]
    actions: tuple[ActionSpec, ...]
    limits: Limits | None = None  # awards of this rule per customer and period; enforced by the caller

    def as_business_rule(self) -> dict[str, Any]:
        """The rule in the exact shape ``business_rules.engine.run_all`` expects."""
        return {
            "conditions": self.conditions,
            "actions": [{"name": a.name, "params": dict(a.params)} for a in self.actions],
        }


@dataclass(frozen=True, slots=True)
class ChallengeStep:
    """One step of a challenge: ``count`` events meeting ``conditions`` (a business-rules tree)."""

    name: str
    conditions: Mapping[str, Any]
    count: int


@dataclass(frozen=True, slots=True)
class Challenge:
    """A multi-step goal per customer and period, rewarded once on completion (by the caller, which keeps progress).

    The reward is ``award_points`` points or the reward ``grant_reward`` (exactly one is set).
    """

    period: str
    steps: tuple[ChallengeStep, ...]
    award_points: int | None = None
    grant_reward: str | None = None


@dataclass(frozen=True, slots=True)
class CampaignDocument:
    """A validated, normalised campaign; ``raw`` is its JSON-serialisable form (parses back to itself)."""

    name: str
    type: str
    providers: frozenset[str] | None
    starts_at: datetime | None
    ends_at: datetime | None
    priority: int
    stacking: str
    budget: Budget | None
    rules: tuple[Rule, ...]
    attribute_types: Mapping[str, str]
    raw: Mapping[str, Any]
    pending_days: int = 0
    limits: Limits | None = None
    tiers: tuple[TierSpec, ...] = ()
    grace_days: int | None = None
    points_expiry: Mapping[str, Any] | None = None  # None: the programme's policy
    challenge: Challenge | None = None
    experiment: Experiment | None = None
    label: str | Mapping[str, str] | None = None  # the customer-facing name as written: a string or {vi, en}

    def name_in(self, language: str) -> str:
        """The campaign's name for a reader of ``language`` (``name`` itself when it has one name)."""
        return label_in(self.label if self.label is not None else self.name, language)

    def known_names(self) -> list[str]:
        """The names this campaign may be stored under: ``name`` first, then its other languages' names."""
        others = [str(v) for v in self.label.values()] if isinstance(self.label, Mapping) else []
        return [self.name, *(n for n in others if n != self.name)]

    def tier(self, code: str) -> TierSpec | None:
        """The tier named ``code`` in a tier document."""
        return next((t for t in self.tiers if t.code == code), None)


def identity_name(label: Any) -> str:
    """The name a campaign is known by (stored, matched on import): a plain name, else its Vietnamese one (the
    programme's first language), else its English one. ``{vi: Tết x2, en: Tet x2}`` is the campaign "Tết x2"."""
    if isinstance(label, Mapping):
        return str(next((label[k] for k in LABEL_LANGUAGES if isinstance(label.get(k), str)), ""))
    return label if isinstance(label, str) else ""


def label_in(label: Any, language: str) -> str:
    """A name written as a string or ``{vi, en}`` in ``language``, falling back to the other language."""
    if isinstance(label, Mapping):
        first = label.get(language) or next((label[k] for k in LABEL_LANGUAGES if label.get(k)), "")
        return str(first)
    return str(label) if label is not None else ""


class _NoAliasLoader(yaml.SafeLoader):
    """safe_load without aliases (expansion bombs) and without silently repeated keys."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases are not allowed", event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                marker = (key_node.tag, key_node.value)
                if marker in seen:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"duplicate key {key_node.value[:60]!r}",
                        key_node.start_mark,
                    )
                seen.add(marker)
        return super().construct_mapping(node, deep)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key[:60]!r}")
        result[key] = value
    return result


def _load_json(text: str) -> Any:
    return json.loads(text, object_pairs_hook=_no_duplicates)


def _load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_NoAliasLoader)


def load_yaml(text: str) -> Any:
    """YAML as documents read it (safe tags only, no aliases, no repeated keys), for other YAML inputs.

    Raises ``yaml.YAMLError`` (or ``RecursionError`` for absurd nesting)."""
    return _load_yaml(text)


def _yaml_reason(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"invalid YAML: {exc.problem} at line {mark.line + 1}, column {mark.column + 1}"
    return f"invalid YAML: {exc}"


def _json_reason(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
    return f"invalid JSON: {exc}"


# "\ud83c\udf89" is one emoji written as a UTF-16 pair: JSON joins the halves, YAML keeps them apart, and
# a lone half can be stored by no UTF-8 column.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _join_surrogates(value: Any, path: str) -> Any:
    if isinstance(value, str):
        if not any("\ud800" <= ch <= "\udfff" for ch in value):
            return value
        try:
            return value.encode("utf-16", "surrogatepass").decode("utf-16")
        except UnicodeDecodeError:
            raise DocumentInvalid([FieldError(path or "$", "contains half of a UTF-16 surrogate pair")]) from None
    if isinstance(value, dict):
        return {
            _join_surrogates(k, path): _join_surrogates(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_join_surrogates(v, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def _load(source: str | bytes, fmt: str | None) -> Any:
    """Text to data; any failure becomes a DocumentInvalid at path ``$``."""
    if fmt not in (None, "json", "yaml"):
        raise ValueError(f"unknown document format {fmt!r}")
    size = len(source) if isinstance(source, bytes) else len(source.encode("utf-8", "replace"))
    if size > MAX_SOURCE_BYTES:
        raise DocumentInvalid([FieldError("$", f"document is larger than {MAX_SOURCE_BYTES} bytes")])
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise DocumentInvalid([FieldError("$", "document is not valid UTF-8")]) from None
    try:
        if fmt == "json":
            data = _load_json(source)
        elif fmt == "yaml":
            data = _load_yaml(source)
        else:
            try:
                data = _load_json(source)
            except (ValueError, RecursionError):
                data = _load_yaml(source)
    except yaml.YAMLError as exc:
        raise DocumentInvalid([FieldError("$", _yaml_reason(exc))]) from None
    except ValueError as exc:
        raise DocumentInvalid([FieldError("$", _json_reason(exc))]) from None
    except RecursionError:
        raise DocumentInvalid([FieldError("$", "document is nested too deeply")]) from None
    return _join_surrogates(data, "") if _SURROGATE_ESCAPE.search(source) else data


def load_source(source: str | bytes, fmt: str | None = None) -> Any:
    """The data of a document's text, loaded as ``parse_document`` loads it (raises DocumentInvalid)."""
    return _load(source, fmt)


def parse_document(
    source: str | bytes | Mapping[str, Any], *, fmt: str | None = None, known: Known | None = None
) -> CampaignDocument:
    """Parse (JSON, YAML or an already-loaded mapping) and validate a campaign document.

    Raises DocumentInvalid listing every error found. ``fmt`` is "json", "yaml"
    or None (try JSON, then YAML). ``known`` adds the programme's provider, tier,
    reward and channel codes to the closed sets checked (day names and hours always are).
    """
    data = _load(source, fmt) if isinstance(source, str | bytes) else source
    validator = _Validator(known or Known())
    document = validator.document(data)
    if validator.errors or document is None:
        raise DocumentInvalid(validator.errors or [FieldError("$", "invalid document")])
    return document


def validate_conditions(conditions: Any, path: str = "conditions") -> tuple[dict[str, Any], dict[str, str]]:
    """A stand-alone condition tree (e.g. reward eligibility), validated like a rule's.

    Returns the normalised tree and its attribute types; raises DocumentInvalid
    with paths under ``path``.
    """
    validator = _Validator()
    normalised = validator.condition(conditions, path, 0)
    if validator.errors or normalised is None:
        raise DocumentInvalid(validator.errors or [FieldError(path, "invalid conditions")])
    return normalised, {key: kind for key, (kind, _) in validator.attribute_types.items()}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _join(path: str, key: Any) -> str:
    if isinstance(key, str) and IDENTIFIER.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{_short(key)}]" if path else f"[{_short(key)}]"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_MISSING = object()


def _challenge_of(raw: Mapping[str, Any] | None) -> Challenge | None:
    if raw is None:
        return None
    reward = raw["reward"]
    return Challenge(
        period=raw["period"],
        steps=tuple(ChallengeStep(s["name"], s["conditions"], s["count"]) for s in raw["steps"]),
        award_points=reward.get("award_points"),
        grant_reward=reward.get("grant_reward"),
    )


def _is_always(conditions: Any) -> bool:
    """A rule's ``conditions: {all: []}``: always true (business-rules itself asserts a group is non-empty)."""
    return isinstance(conditions, Mapping) and len(conditions) == 1 and conditions.get("all", None) == []


def validate_expiry(value: Any) -> dict[str, Any]:
    """A ``points_expiry`` policy on its own (the programme setting), checked exactly as a campaign's.

    Returns the normalised ``{policy, months}``; raises DocumentInvalid with paths under ``points_expiry``.
    """
    validator = _Validator()
    normalised = validator.points_expiry(value)
    if validator.errors or normalised is None:
        raise DocumentInvalid(validator.errors or [FieldError("points_expiry", "invalid policy")])
    return normalised


class _Validator:
    """Walks one document, appending FieldErrors and building the normalised form."""

    def __init__(self, known: Known | None = None) -> None:
        self.known = known or Known()
        self.errors: list[FieldError] = []
        self.attribute_types: dict[str, tuple[str, str]] = {}
        self.kind = "earning"
        self.tier_codes: frozenset[str] | None = None
        self.tier_ranks: dict[str, int] = {}

    def error(self, path: str, reason: str) -> None:
        self.errors.append(FieldError(path, reason))

    def unknown_keys(self, data: Mapping[Any, Any], allowed: tuple[str, ...], path: str) -> None:
        for key in data:
            if key not in allowed:
                self.error(_join(path, key), "unknown key")

    def document(self, data: Any) -> CampaignDocument | None:
        if not isinstance(data, Mapping):
            self.error("$", f"expected a mapping, got {_kind(data)}")
            return None
        self.unknown_keys(data, TOP_KEYS, "")
        raw: dict[str, Any] = {}
        label = self.label(data.get("name", _MISSING), "name", required=True)
        name = identity_name(label)
        kind = self.choice(data.get("type", "earning"), "type", CAMPAIGN_TYPES)
        self.kind = kind
        for key in NOT_FOR_TIERS if kind == "tier" else TIER_ONLY_KEYS:
            if key in data:
                self.error(key, f"not used by {kind} documents" if kind == "tier" else "only used by tier documents")
        providers = self.providers(data.get("providers", _MISSING))
        starts_at = self.timestamp(data.get("starts_at", _MISSING), "starts_at")
        ends_at = self.timestamp(data.get("ends_at", _MISSING), "ends_at")
        if starts_at is not None and ends_at is not None and ends_at <= starts_at:
            self.error("ends_at", "must be after starts_at")
        priority = self.priority(data.get("priority", 0))
        stacking = self.choice(data.get("stacking", "stackable"), "stacking", STACKING)
        budget = self.budget(data.get("budget", _MISSING))
        funding = self.funding(data.get("funding", _MISSING))
        pending_days = self.bounded_int(data.get("pending_days", 0), "pending_days", 0, MAX_PENDING_DAYS)
        limits = self.limits(data.get("limits", _MISSING))
        points_expiry = self.points_expiry(data.get("points_expiry", _MISSING)) if kind != "tier" else None
        experiment = self.experiment(data.get("experiment", _MISSING)) if kind != "tier" else None
        tiers: list[dict[str, Any]] = []
        grace_days = None
        if kind == "tier":
            tiers = self.tiers(data.get("tiers", _MISSING))
            self.tier_codes = frozenset(t["code"] for t in tiers)
            self.tier_ranks = {t["code"]: t["rank"] for t in tiers if isinstance(t["rank"], int)}
            grace_days = self.bounded_int(data.get("grace_days", DEFAULT_GRACE_DAYS), "grace_days", 0, MAX_GRACE_DAYS)
        challenge = self.challenge(data.get("challenge", _MISSING)) if kind == "earning" else None
        if "challenge" in data and kind == "reward":
            self.error("challenge", "only used by earning documents")
        with_challenge = "challenge" in data and kind == "earning"
        rules = self.rules(data.get("rules", [] if with_challenge else _MISSING), may_be_empty=with_challenge)
        if self.errors:
            return None
        raw["name"] = label
        raw["type"] = kind
        if providers is not None:
            raw["providers"] = list(providers)
        if starts_at is not None:
            raw["starts_at"] = starts_at.isoformat()
        if ends_at is not None:
            raw["ends_at"] = ends_at.isoformat()
        raw["priority"] = priority
        if kind != "tier":
            raw["stacking"] = stacking
        if budget is not None:
            raw["budget"] = dict(budget)
        if funding is not None:
            raw["funding"] = funding
        if pending_days:
            raw["pending_days"] = pending_days
        if limits is not None:
            raw["limits"] = {"per_customer": dict(limits)}
        if points_expiry is not None:
            raw["points_expiry"] = points_expiry
        if experiment is not None:
            raw["experiment"] = {"control_share": experiment}
        if kind == "tier":
            raw["tiers"] = tiers
            raw["grace_days"] = grace_days
        if challenge is not None:
            raw["challenge"] = challenge
        raw["rules"] = rules
        return CampaignDocument(
            name=name,
            type=kind,
            providers=frozenset(providers) if providers is not None else None,
            starts_at=starts_at,
            ends_at=ends_at,
            priority=priority,
            stacking=stacking,
            budget=Budget(**budget) if budget is not None else None,
            rules=tuple(
                Rule(
                    name=r["name"],
                    conditions=r["conditions"],
                    actions=tuple(ActionSpec(a["name"], a["params"]) for a in r["actions"]),
                    limits=Limits(CustomerLimit(**r["limits"]["per_customer"])) if "limits" in r else None,
                )
                for r in rules
            ),
            attribute_types={key: kind for key, (kind, _) in self.attribute_types.items()},
            raw=raw,
            pending_days=pending_days,
            limits=Limits(CustomerLimit(**limits)) if limits is not None else None,
            tiers=tuple(TierSpec(t["code"], t["name"], t["rank"], t["benefits"]) for t in tiers),
            grace_days=grace_days,
            points_expiry=points_expiry,
            challenge=_challenge_of(challenge),
            experiment=Experiment(experiment) if experiment is not None else None,
            label=label,
        )

    def challenge(self, value: Any) -> dict[str, Any] | None:
        """``{period, steps: [{name, conditions, count}], reward: {award_points: N} | {grant_reward: CODE}}``."""
        if value is _MISSING:
            return None
        if not isinstance(value, Mapping):
            self.error("challenge", f"expected a mapping, got {_kind(value)}")
            return None
        before = len(self.errors)
        self.unknown_keys(value, ("period", "steps", "reward"), "challenge")
        period = value.get("period", _MISSING)
        if period is _MISSING:
            self.error("challenge.period", f"required: one of {', '.join(CHALLENGE_PERIODS)}")
        elif not isinstance(period, str) or period not in CHALLENGE_PERIODS:
            self.error("challenge.period", _not_in_set(str(period), CHALLENGE_PERIODS, "a challenge period"))
        steps = self.challenge_steps(value.get("steps", _MISSING))
        reward = self.challenge_reward(value.get("reward", _MISSING))
        if len(self.errors) != before:
            return None
        return {"period": period, "steps": steps, "reward": reward}

    def challenge_steps(self, value: Any) -> list[dict[str, Any]]:
        if value is _MISSING:
            self.error("challenge.steps", "required")
            return []
        if not isinstance(value, list | tuple):
            self.error("challenge.steps", f"expected a list, got {_kind(value)}")
            return []
        if not value:
            self.error("challenge.steps", "must not be empty")
            return []
        if len(value) > MAX_CHALLENGE_STEPS:
            self.error("challenge.steps", f"must have at most {MAX_CHALLENGE_STEPS} steps")
            return []
        names: dict[str, int] = {}
        result = []
        for i, step in enumerate(value):
            path = f"challenge.steps[{i}]"
            if not isinstance(step, Mapping):
                self.error(path, f"expected a mapping, got {_kind(step)}")
                continue
            self.unknown_keys(step, ("name", "conditions", "count"), path)
            name = self.text(step.get("name", _MISSING), f"{path}.name", required=True)
            if isinstance(name, str) and name.strip() and len(name) <= MAX_NAME:
                if name in names:
                    self.error(f"{path}.name", f"duplicate step name (also challenge.steps[{names[name]}])")
                else:
                    names[name] = i
            conditions: dict[str, Any] | None = None
            if "conditions" not in step:
                self.error(f"{path}.conditions", "required")
            elif _is_always(step["conditions"]):
                conditions = {"all": []}  # every event counts
            else:
                conditions = self.condition(step["conditions"], f"{path}.conditions", 0)
            count = step.get("count", 1)
            self.bounded_int(count, f"{path}.count", 1, MAX_STEP_COUNT)
            result.append({"name": name, "conditions": conditions, "count": count})
        return result

    def challenge_reward(self, value: Any) -> dict[str, Any] | None:
        choices = " or ".join(f"{{{k}: ...}}" for k in CHALLENGE_REWARDS)
        if value is _MISSING:
            self.error("challenge.reward", f"required: {choices}")
            return None
        if not isinstance(value, Mapping):
            self.error("challenge.reward", f"expected a mapping ({choices}), got {_kind(value)}")
            return None
        self.unknown_keys(value, CHALLENGE_REWARDS, "challenge.reward")
        given = [k for k in CHALLENGE_REWARDS if k in value]
        if len(given) != 1:
            if not set(value) - set(CHALLENGE_REWARDS):
                self.error("challenge.reward", f"exactly one of {choices}")
            return None
        key = given[0]
        item = value[key]
        if key == "award_points":
            reason = ACTION_PARAMS["award_points"]["points"].check(item)
        else:
            reason = ACTION_PARAMS["grant_reward"]["reward"].check(item)
            rewards = self.known.rewards
            if reason is None and rewards is not None and item not in rewards:
                reason = _not_in_set(item, rewards, "a reward of the catalog")
        if isinstance(reason, tuple):
            reason = reason[1]
        if reason is not None:
            self.error(f"challenge.reward.{key}", reason)
            return None
        return {key: item}

    def text(self, value: Any, path: str, *, required: bool) -> Any:
        if value is _MISSING:
            if required:
                self.error(path, "required")
            return None
        if not isinstance(value, str):
            self.error(path, f"expected a string, got {_kind(value)}")
        elif not value.strip():
            self.error(path, "must not be empty")
        elif len(value) > MAX_NAME:
            self.error(path, f"must be at most {MAX_NAME} characters")
        return value

    def label(self, value: Any, path: str, *, required: bool) -> Any:
        """A customer-facing name: a plain string (the same in both languages) or ``{vi: ..., en: ...}``."""
        if not isinstance(value, Mapping):
            return self.text(value, path, required=required)
        if not value:
            self.error(path, "must name at least one language (vi, en)")
        for language, text in value.items():
            if language not in LABEL_LANGUAGES:
                self.error(_join(path, str(language)), "unknown language; known: vi, en")
            else:
                self.text(text, _join(path, language), required=True)
        return dict(value)

    def choice(self, value: Any, path: str, allowed: tuple[str, ...]) -> Any:
        if not isinstance(value, str):
            self.error(path, f"expected a string, got {_kind(value)}")
        elif value not in allowed:
            self.error(path, f"{_short(value)} is not one of {', '.join(allowed)}")
        return value

    def providers(self, value: Any) -> list[str] | None:
        if value is _MISSING:
            return None
        if not isinstance(value, list | tuple):
            self.error("providers", f"expected a list of provider codes, got {_kind(value)}")
            return None
        if not value:
            self.error("providers", "must not be empty (omit it to apply to all providers)")
        seen: set[str] = set()
        for i, code in enumerate(value):
            path = f"providers[{i}]"
            if not isinstance(code, str):
                self.error(path, f"expected a string, got {_kind(code)}")
            elif not PROVIDER_CODE.fullmatch(code):
                self.error(path, f"{_short(code)} is not a valid provider code")
            elif code in seen:
                self.error(path, f"duplicate provider {code!r}")
            elif self.known.providers is not None and code not in self.known.providers:
                self.error(path, _not_in_set(code, self.known.providers, "a provider"))
            else:
                seen.add(code)
        return list(value)

    def timestamp(self, value: Any, path: str) -> datetime | None:
        if value is _MISSING:
            return None
        moment: datetime | None = None
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                self.error(path, f"{_short(value)} is not an ISO 8601 date-time")
                return None
        else:
            self.error(path, f"expected an ISO 8601 date-time string, got {_kind(value)}")
            return None
        if moment.utcoffset() is None:
            self.error(path, "must include a UTC offset, e.g. 2027-01-20T00:00:00+07:00")
            return None
        return moment

    def priority(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            self.error("priority", f"expected an integer, got {_kind(value)}")
        elif abs(value) > MAX_PRIORITY:
            self.error("priority", f"must be between -{MAX_PRIORITY} and {MAX_PRIORITY}")
        return value

    def budget(self, value: Any) -> dict[str, int] | None:
        if value is _MISSING:
            return None
        if not isinstance(value, Mapping):
            self.error("budget", f"expected a mapping, got {_kind(value)}")
            return None
        self.unknown_keys(value, BUDGET_KEYS, "budget")
        result: dict[str, int] = {}
        for key in BUDGET_KEYS:
            if key not in value:
                continue
            limit = value[key]
            if isinstance(limit, bool) or not isinstance(limit, int):
                self.error(f"budget.{key}", f"expected an integer, got {_kind(limit)}")
            elif limit <= 0:
                self.error(f"budget.{key}", "must be a positive integer")
            else:
                result[key] = limit
        return result

    def funding(self, value: Any) -> dict[str, int] | None:
        """Who pays for the points: ``issuer``, ``programme`` or provider codes, whole percentages summing to 100."""
        if value is _MISSING:
            return None
        if not isinstance(value, Mapping):
            self.error("funding", f"expected a mapping of funder to percentage, got {_kind(value)}")
            return None
        if not value:
            self.error("funding", "must name at least one funder (omit it: the issuer pays 100)")
            return None
        result: dict[str, int] = {}
        total, ok = 0, True
        for funder, pct in value.items():
            path = f"funding.{funder}"
            if not isinstance(funder, str) or not PROVIDER_CODE.fullmatch(funder):
                self.error(path, f"{_short(funder)} is not issuer, programme or a provider code")
                ok = False
            elif isinstance(pct, bool) or not isinstance(pct, int):
                self.error(path, f"expected a whole percentage, got {_kind(pct)}")
                ok = False
            elif not 1 <= pct <= 100:
                self.error(path, "must be between 1 and 100")
                ok = False
            elif (
                funder not in ("issuer", "programme")
                and self.known.providers is not None
                and funder not in self.known.providers
            ):
                # an unknown funder would silently fall back to the programme paying
                self.error(path, _not_in_set(funder, self.known.providers, "a provider"))
                ok = False
            else:
                result[funder] = pct
                total += pct
        if ok and total != 100:
            self.error("funding", f"percentages must sum to 100, got {total}")
        return result

    def bounded_int(self, value: Any, path: str, low: int, high: int) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(path, f"expected an integer, got {_kind(value)}")
        elif not low <= value <= high:
            self.error(path, f"must be between {low} and {high}")
        return value

    def limits(self, value: Any, path: str = "limits") -> dict[str, Any] | None:
        """``{per_customer: {count, period}}`` on the campaign, or under ``path`` on one rule."""
        if value is _MISSING:
            return None
        if not isinstance(value, Mapping):
            self.error(path, f"expected a mapping, got {_kind(value)}")
            return None
        self.unknown_keys(value, ("per_customer",), path)
        per_customer = value.get("per_customer", _MISSING)
        if per_customer is _MISSING:
            self.error(f"{path}.per_customer", "required")
            return None
        if not isinstance(per_customer, Mapping):
            self.error(f"{path}.per_customer", f"expected a mapping, got {_kind(per_customer)}")
            return None
        self.unknown_keys(per_customer, ("count", "period"), f"{path}.per_customer")
        if "count" not in per_customer:
            self.error(f"{path}.per_customer.count", "required")
        else:
            self.bounded_int(per_customer["count"], f"{path}.per_customer.count", 1, MAX_LIMIT_COUNT)
        if "period" not in per_customer:
            self.error(f"{path}.per_customer.period", "required")
        else:
            self.choice(per_customer["period"], f"{path}.per_customer.period", LIMIT_PERIODS)
        return {"count": per_customer.get("count"), "period": per_customer.get("period")}

    def experiment(self, value: Any) -> int | None:
        """``{control_share: N}``: a whole percentage 1-99 of customers held out as the control group."""
        if value is _MISSING:
            return None
        if not isinstance(value, Mapping):
            self.error("experiment", f"expected a mapping such as {{control_share: 10}}, got {_kind(value)}")
            return None
        self.unknown_keys(value, ("control_share",), "experiment")
        share = value.get("control_share", _MISSING)
        if share is _MISSING:
            self.error("experiment.control_share", "required: a whole percentage between 1 and 99")
            return None
        before = len(self.errors)
        if isinstance(share, bool) or not isinstance(share, int):
            self.error("experiment.control_share", f"expected a whole percentage, got {_kind(share)}")
        elif not 0 < share < 100:
            self.error("experiment.control_share", "must be between 1 and 99 (a share of the customers)")
        return share if len(self.errors) == before else None

    def points_expiry(self, value: Any) -> dict[str, Any] | None:
        """``{policy, months}``; a bare policy name is accepted for the policies without months."""
        if value is _MISSING:
            return None
        if isinstance(value, str):
            value = {"policy": value}
        if not isinstance(value, Mapping):
            self.error("points_expiry", f"expected a mapping such as {{policy: end_of_next_month}}, got {_kind(value)}")
            return None
        self.unknown_keys(value, ("policy", "months"), "points_expiry")
        policy = value.get("policy", _MISSING)
        if policy is _MISSING:
            self.error("points_expiry.policy", f"required: one of {', '.join(EXPIRY_POLICIES)}")
            return None
        if not isinstance(policy, str):
            self.error("points_expiry.policy", f"expected a string, got {_kind(policy)}")
            return None
        if policy not in EXPIRY_POLICIES:
            self.error("points_expiry.policy", _not_in_set(policy, EXPIRY_POLICIES, "an expiry policy"))
            return None
        if policy not in EXPIRY_MONTHS:
            if "months" in value:
                self.error("points_expiry.months", f"not used by policy {policy!r}")
                return None
            return {"policy": policy}
        months = value.get("months", 12 if policy == "rolling_months" else _MISSING)  # 12: as the programme
        if months is _MISSING:
            self.error("points_expiry.months", f"required by policy {policy!r}")
            return None
        before = len(self.errors)
        self.bounded_int(months, "points_expiry.months", 1, MAX_EXPIRY_MONTHS)
        return {"policy": policy, "months": months} if len(self.errors) == before else None

    def tiers(self, value: Any) -> list[dict[str, Any]]:
        if value is _MISSING:
            self.error("tiers", "required by tier documents")
            return []
        if not isinstance(value, list | tuple):
            self.error("tiers", f"expected a list, got {_kind(value)}")
            return []
        if not value:
            self.error("tiers", "must not be empty")
        elif len(value) > MAX_TIERS:
            self.error("tiers", f"must have at most {MAX_TIERS} tiers")
            return []
        codes: dict[str, int] = {}
        ranks: dict[int, int] = {}
        result = []
        for i, tier in enumerate(value):
            path = f"tiers[{i}]"
            if not isinstance(tier, Mapping):
                self.error(path, f"expected a mapping, got {_kind(tier)}")
                continue
            self.unknown_keys(tier, ("code", "name", "rank", "benefits"), path)
            code = tier.get("code", _MISSING)
            if code is _MISSING:
                self.error(f"{path}.code", "required")
            elif not isinstance(code, str) or not TIER_CODE.fullmatch(code):
                self.error(f"{path}.code", f"{_short(code)} is not a valid tier code ({TIER_CODE.pattern})")
            elif code in codes:
                self.error(f"{path}.code", f"duplicate tier code (also tiers[{codes[code]}])")
            else:
                codes[code] = i
            name = self.label(tier.get("name", _MISSING), f"{path}.name", required=True)
            rank = tier.get("rank", _MISSING)
            if rank is _MISSING:
                self.error(f"{path}.rank", "required")
            elif isinstance(rank, bool) or not isinstance(rank, int):
                self.error(f"{path}.rank", f"expected an integer, got {_kind(rank)}")
            elif abs(rank) > MAX_PRIORITY:
                self.error(f"{path}.rank", f"must be between -{MAX_PRIORITY} and {MAX_PRIORITY}")
            elif rank in ranks:
                self.error(f"{path}.rank", f"duplicate rank (also tiers[{ranks[rank]}])")
            else:
                ranks[rank] = i
            benefits = self.benefits(tier.get("benefits", {}), f"{path}.benefits")
            result.append({"code": code, "name": name, "rank": rank, "benefits": benefits})
        return result

    def benefits(self, value: Any, path: str) -> dict[str, Any]:
        """earn_multiplier is checked; other benefits are free scalars the caller interprets."""
        if not isinstance(value, Mapping):
            self.error(path, f"expected a mapping, got {_kind(value)}")
            return {}
        result: dict[str, Any] = {}
        for key, item in value.items():
            item_path = _join(path, key)
            if not isinstance(key, str) or not IDENTIFIER.fullmatch(key) or len(key) > 64:
                self.error(item_path, "benefit names are identifiers ([A-Za-z_][A-Za-z0-9_]*, at most 64)")
            elif key == "earn_multiplier":
                if not _is_number(item) or not math.isfinite(item) or not 1 <= item <= MAX_FACTOR:
                    self.error(item_path, f"must be a number between 1 and {MAX_FACTOR}")
                else:
                    result[key] = item
            elif item is None or isinstance(item, int | str) or (isinstance(item, float) and math.isfinite(item)):
                if isinstance(item, str) and len(item) > MAX_TEXT_VALUE:
                    self.error(item_path, f"must be at most {MAX_TEXT_VALUE} characters")
                else:
                    result[key] = item
            else:
                self.error(item_path, f"expected a string, number, boolean or null, got {_kind(item)}")
        return result

    def rules(self, value: Any, *, may_be_empty: bool = False) -> list[dict[str, Any]]:
        """``may_be_empty``: a challenge's campaign may reward only through its challenge."""
        if value is _MISSING:
            self.error("rules", "required")
            return []
        if not isinstance(value, list | tuple):
            self.error("rules", f"expected a list, got {_kind(value)}")
            return []
        if not value and not may_be_empty:
            self.error("rules", "must not be empty")
        elif len(value) > MAX_RULES:
            self.error("rules", f"must have at most {MAX_RULES} rules")
            return []
        names: dict[str, int] = {}
        result = []
        for i, rule in enumerate(value):
            normalised = self.rule(rule, f"rules[{i}]", names, i)
            if normalised is not None:
                result.append(normalised)
        return result

    def rule(self, value: Any, path: str, names: dict[str, int], index: int) -> dict[str, Any] | None:
        if not isinstance(value, Mapping):
            self.error(path, f"expected a mapping, got {_kind(value)}")
            return None
        self.unknown_keys(value, ("name", "conditions", "actions", "limits"), path)
        name = self.text(value.get("name", _MISSING), f"{path}.name", required=True)
        if isinstance(name, str) and name.strip() and len(name) <= MAX_NAME:
            if name in names:
                self.error(f"{path}.name", f"duplicate rule name (also rules[{names[name]}])")
            else:
                names[name] = index
        conditions: Any = None
        base_rung = _is_always(value.get("conditions"))
        if "conditions" not in value:
            self.error(f"{path}.conditions", "required")
        elif base_rung and self.kind != "tier":
            self.error(f"{path}.conditions.all", "must not be empty (only the lowest tier of a ladder may have none)")
        elif base_rung:
            conditions = {"all": []}
        else:
            conditions = self.condition(value["conditions"], f"{path}.conditions", 0)
        actions = self.actions(value.get("actions", _MISSING), f"{path}.actions")
        if base_rung and self.kind == "tier":
            self.base_rung(actions, f"{path}.conditions.all")
        rule = {"name": name, "conditions": conditions, "actions": actions}
        if "limits" in value:
            if self.kind == "tier":
                self.error(f"{path}.limits", "not used by tier documents")
            limits = self.limits(value["limits"], f"{path}.limits")
            if limits is not None:
                rule["limits"] = {"per_customer": limits}
        return rule

    def base_rung(self, actions: list[dict[str, Any]], path: str) -> None:
        """``all: []`` (always true) is only for the first rung of a ladder: everyone starts at the lowest tier."""
        base = min(self.tier_ranks, key=self.tier_ranks.__getitem__) if self.tier_ranks else None
        if base is None:
            return  # the tiers themselves are wrong, and say so
        for action in actions:
            tier = action["params"].get("tier")
            if tier != base:
                self.error(
                    path,
                    f"must not be empty: only the rule giving the lowest tier {base!r} may have no conditions"
                    f" (this one gives {_short(tier)})",
                )
                return

    def condition(self, node: Any, path: str, depth: int) -> dict[str, Any] | None:
        if not isinstance(node, Mapping):
            self.error(path, f"expected a mapping, got {_kind(node)}")
            return None
        groups = [key for key in ("all", "any") if key in node]
        if not groups:
            return self.leaf(node, path)
        if len(node) != 1:
            self.error(path, "a condition group must have exactly one key, 'all' or 'any'")
            return None
        key = groups[0]
        items = node[key]
        if depth >= MAX_CONDITION_DEPTH:
            self.error(path, f"conditions are nested deeper than {MAX_CONDITION_DEPTH} levels")
            return None
        if not isinstance(items, list | tuple):
            self.error(f"{path}.{key}", f"expected a list of conditions, got {_kind(items)}")
            return None
        if not items:
            self.error(f"{path}.{key}", "must not be empty")
            return None
        children = [self.condition(c, f"{path}.{key}[{i}]", depth + 1) for i, c in enumerate(items)]
        if any(c is None for c in children):
            return None
        return {key: children}

    def leaf(self, node: Mapping[Any, Any], path: str) -> dict[str, Any] | None:
        self.unknown_keys(node, ("name", "operator", "value"), path)
        name = node.get("name", _MISSING)
        operator = node.get("operator", _MISSING)
        value = node.get("value", _MISSING)
        ok = True
        if name is _MISSING:
            self.error(f"{path}.name", "required")
            ok = False
        elif not isinstance(name, str):
            self.error(f"{path}.name", f"expected a string, got {_kind(name)}")
            ok = False
        if operator is _MISSING:
            self.error(f"{path}.operator", "required")
            return None
        if not isinstance(operator, str):
            self.error(f"{path}.operator", f"expected a string, got {_kind(operator)}")
            return None
        if not ok:
            return None
        type_name = self.variable_type(name, operator, value, path)
        if type_name is None:
            return None
        operators = OPERATORS[type_name]
        if operator not in operators:
            self.error(
                f"{path}.operator",
                f"{_short(operator)} is not an operator of {type_name} variable {_short(name)}",
            )
            return None
        normalised = self.value(value, operators[operator], operator, f"{path}.value")
        if normalised is _MISSING:
            return None
        if not self.can_match(name, operator, normalised, f"{path}.value"):
            return None
        if name.startswith((ATTRIBUTE_PREFIX, CUSTOMER_PREFIX)):
            key = name if name.startswith(CUSTOMER_PREFIX) else name[len(ATTRIBUTE_PREFIX) :]
            previous = self.attribute_types.setdefault(key, (type_name, path))
            if previous[0] != type_name:
                self.error(
                    f"{path}.name",
                    f"attribute {_short(name)} is used as {type_name} here but as {previous[0]} at {previous[1]}",
                )
                return None
        return {"name": name, "operator": operator, "value": normalised}

    def closed_set(self, name: str) -> tuple[frozenset[str] | tuple[str, ...], str] | None:
        """The closed set of values a string variable can take, and what to call one, if known."""
        if name == "day_of_week":
            return DAY_NAMES, "a day"
        if name == "provider" and self.known.providers is not None:
            return self.known.providers, "a provider"
        if name == "customer_tier":
            codes = self.tier_codes if self.tier_codes is not None else self.known.tiers
            if codes is not None:
                return codes | {""}, "a tier of the ladder"  # "": no tier yet
        if name == "channel" and self.known.channels is not None:
            return self.known.channels, "a channel of the programme"
        return None

    def can_match(self, name: str, operator: str, value: Any, path: str) -> bool:
        """Refuse a comparison that no value of a closed set or range can ever satisfy."""
        bounded = BOUNDED_VARIABLES.get(name)
        if bounded is not None:
            low, high, why = bounded
            never = {
                "equal_to": lambda v: not (low <= v <= high) or v != int(v),
                "greater_than": lambda v: v >= high,
                "greater_than_or_equal_to": lambda v: v > high,
                "less_than": lambda v: v <= low,
                "less_than_or_equal_to": lambda v: v < low,
                "between": lambda v: v[1] < low or v[0] > high or v[0] > v[1],
            }.get(operator)
            if never is not None and never(value):
                self.error(path, f"{_short(value)} can never match {name!r}: {why}")
                return False
            return True
        closed = self.closed_set(name)
        if closed is None or operator not in EQUALITY_OPERATORS:
            return True
        choices, what = closed
        ok = True
        items = [(path, value)] if isinstance(value, str) else [(f"{path}[{i}]", v) for i, v in enumerate(value)]
        for item_path, item in items:
            if isinstance(item, str) and item not in choices:
                self.error(item_path, _not_in_set(item, choices, what))
                ok = False
        return ok

    def variable_type(self, name: str, operator: str, value: Any, path: str) -> str | None:
        if name.startswith(CUSTOMER_PREFIX):
            return self.customer_type(name, operator, value, path)
        if name.startswith(ATTRIBUTE_PREFIX):
            if not ATTRIBUTE_KEY.fullmatch(name[len(ATTRIBUTE_PREFIX) :]):
                self.error(
                    f"{path}.name",
                    f"{_short(name)} is not a valid attribute name"
                    " (attributes.<key>, key: [A-Za-z_][A-Za-z0-9_]{0,63})",
                )
                return None
            if operator in BOOLEAN_OPERATORS:
                return "boolean"
            if operator in NUMERIC_ONLY or (operator in OPERATORS["numeric"] and _is_number(value)):
                return "numeric"
            return "string"
        variable_type = VARIABLE_TYPES.get(name)
        if variable_type is None:
            self.error(f"{path}.name", f"{_short(name)} is not a variable")
            return None
        return variable_type.name

    def customer_type(self, name: str, operator: str, value: Any, path: str) -> str | None:
        """The declared type of ``customer.<name>``; inferred like a transaction attribute when none is known."""
        key = name[len(CUSTOMER_PREFIX) :]
        if not ATTRIBUTE_KEY.fullmatch(key):
            self.error(
                f"{path}.name",
                f"{_short(name)} is not a valid customer attribute name"
                " (customer.<name>, name: [A-Za-z_][A-Za-z0-9_]{0,63})",
            )
            return None
        declared = self.known.customer_attributes
        if declared is None:
            if operator in BOOLEAN_OPERATORS:
                return "boolean"
            if operator in NUMERIC_ONLY or (operator in OPERATORS["numeric"] and _is_number(value)):
                return "numeric"
            return "string"
        if key not in declared:
            self.error(
                f"{path}.name",
                _not_in_set(key, frozenset(declared), "a declared customer attribute (setting customer_attributes)"),
            )
            return None
        return declared[key]

    def value(self, value: Any, input_type: str, operator: str, path: str) -> Any:
        """The normalised value, or _MISSING after recording why it is wrong."""
        if input_type == FIELD_NO_INPUT:
            if value is not _MISSING and value is not None:
                self.error(path, f"operator {operator!r} takes no value")
                return _MISSING
            return None
        if value is _MISSING:
            self.error(path, f"required by operator {operator!r}")
            return _MISSING
        if input_type == FIELD_NUMERIC:
            return self.number(value, path)
        if input_type == FIELD_NUMERIC_RANGE:
            return self.pair(value, path, self.number)
        if input_type == FIELD_TEXT:
            return self.string(value, path, regex=operator == "matches_regex")
        if input_type == FIELD_SELECT_MULTIPLE:
            return self.string_list(value, path)
        if input_type == FIELD_DATE:
            return self.date(value, path)
        if input_type == FIELD_DATE_RANGE:
            return self.pair(value, path, self.date)
        if input_type == FIELD_TAG:
            return self.tag(value, path)
        if input_type == FIELD_TAG_LIST:
            return self.tag_list(value, path)
        self.error(path, f"unsupported input type {input_type!r}")
        return _MISSING

    def number(self, value: Any, path: str) -> Any:
        if not _is_number(value):
            self.error(path, f"expected a number, got {_kind(value)}")
            return _MISSING
        if isinstance(value, float) and not math.isfinite(value):
            self.error(path, "must be a finite number")
            return _MISSING
        return value

    def string(self, value: Any, path: str, *, regex: bool) -> Any:
        if not isinstance(value, str):
            self.error(path, f"expected a string, got {_kind(value)}")
            return _MISSING
        if len(value) > (MAX_REGEX if regex else MAX_TEXT_VALUE):
            self.error(
                path,
                f"must be at most {MAX_REGEX if regex else MAX_TEXT_VALUE} characters",
            )
            return _MISSING
        if regex:
            try:
                re.compile(value)
            except (re.error, RecursionError, OverflowError) as exc:
                self.error(path, f"invalid regular expression: {exc}")
                return _MISSING
        return value

    def string_list(self, value: Any, path: str) -> Any:
        if isinstance(value, str):
            self.error(path, "expected a list of strings, not a single string")
            return _MISSING
        if not isinstance(value, list | tuple):
            self.error(path, f"expected a list of strings, got {_kind(value)}")
            return _MISSING
        if not value:
            self.error(path, "must not be empty")
            return _MISSING
        if len(value) > MAX_LIST_VALUE:
            self.error(path, f"must have at most {MAX_LIST_VALUE} items")
            return _MISSING
        ok = True
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.error(f"{path}[{i}]", f"expected a string, got {_kind(item)}")
                ok = False
            elif len(item) > MAX_TEXT_VALUE:
                self.error(f"{path}[{i}]", f"must be at most {MAX_TEXT_VALUE} characters")
                ok = False
        return list(value) if ok else _MISSING

    def tag(self, value: Any, path: str) -> Any:
        if not isinstance(value, str):
            self.error(path, f"expected a tag string, got {_kind(value)}")
            return _MISSING
        if not TAG.fullmatch(value):
            self.error(path, f"{_short(value)} is not a valid tag ({TAG.pattern})")
            return _MISSING
        return value

    def tag_list(self, value: Any, path: str) -> Any:
        items = self.string_list(value, path)
        if items is _MISSING:
            return _MISSING
        tags = [self.tag(item, f"{path}[{i}]") for i, item in enumerate(items)]
        return _MISSING if _MISSING in tags else tags

    def date(self, value: Any, path: str) -> Any:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, str) and ISO_DATE.fullmatch(value):
            try:
                return date.fromisoformat(value).isoformat()
            except ValueError:
                pass
        self.error(path, f"expected a date 'YYYY-MM-DD', got {_short(value)}")
        return _MISSING

    def pair(self, value: Any, path: str, check: Callable[[Any, str], Any]) -> Any:
        if not isinstance(value, list | tuple) or len(value) != 2:
            self.error(path, f"expected a [low, high] list of two values, got {_short(value)}")
            return _MISSING
        low = check(value[0], f"{path}[0]")
        high = check(value[1], f"{path}[1]")
        if low is _MISSING or high is _MISSING:
            return _MISSING
        if not low <= high:
            self.error(path, "low bound is greater than high bound")
            return _MISSING
        return [low, high]

    def actions(self, value: Any, path: str) -> list[dict[str, Any]]:
        if value is _MISSING:
            self.error(path, "required")
            return []
        if not isinstance(value, list | tuple):
            self.error(path, f"expected a list, got {_kind(value)}")
            return []
        if not value:
            self.error(path, "must not be empty")
            return []
        if len(value) > MAX_ACTIONS:
            self.error(path, f"must have at most {MAX_ACTIONS} actions")
            return []
        return [a for i, item in enumerate(value) if (a := self.action(item, f"{path}[{i}]")) is not None]

    def action(self, value: Any, path: str) -> dict[str, Any] | None:
        if not isinstance(value, Mapping):
            self.error(path, f"expected a mapping, got {_kind(value)}")
            return None
        self.unknown_keys(value, ("name", "params"), path)
        name = value.get("name", _MISSING)
        if name is _MISSING:
            self.error(f"{path}.name", "required")
            return None
        if not isinstance(name, str):
            self.error(f"{path}.name", f"expected a string, got {_kind(name)}")
            return None
        schema = ACTION_PARAMS.get(name)
        if schema is None:
            self.error(f"{path}.name", f"{_short(name)} is not an action")
            return None
        if self.kind == "tier" and name not in TIER_ACTIONS:
            self.error(f"{path}.name", f"{_short(name)} is not valid in tier documents (only set_tier)")
            return None
        if self.kind != "tier" and name in TIER_ACTIONS:
            self.error(f"{path}.name", f"{_short(name)} is only valid in tier documents")
            return None
        params = value.get("params", {})
        if not isinstance(params, Mapping):
            self.error(f"{path}.params", f"expected a mapping, got {_kind(params)}")
            return None
        ok = True
        for key in params:
            if key not in schema:
                self.error(
                    _join(f"{path}.params", key),
                    f"unknown parameter of action {name!r}",
                )
                ok = False
        normalised: dict[str, Any] = {}
        for key, spec in schema.items():
            if key not in params:
                if spec.required:
                    self.error(f"{path}.params.{key}", f"required by action {name!r}")
                    ok = False
                normalised[key] = spec.default
                continue
            reason = spec.check(params[key])
            if reason is None and name == "set_tier" and params[key] not in (self.tier_codes or ()):
                reason = f"{_short(params[key])} is not a tier of this document"
            rewards = self.known.rewards
            if reason is None and name == "grant_reward" and rewards is not None and params[key] not in rewards:
                reason = _not_in_set(params[key], rewards, "a reward of the catalog")
            if isinstance(reason, tuple):
                self.error(f"{path}.params.{key}{reason[0]}", reason[1])
                ok = False
            elif reason is not None:
                self.error(f"{path}.params.{key}", reason)
                ok = False
            normalised[key] = params[key]
        if name == "award_points_per_amount" and not self.rate_or_bands(normalised, f"{path}.params"):
            ok = False
        if ok and name == "award_points_per_amount":  # one form each: a rate, bands, or rates by a variable
            if normalised["bands"] is not None:
                del normalised["points"], normalised["per"], normalised["by"], normalised["rates"]
                normalised["bands"] = [
                    {"from": b["from"], "points": b["points"], "per": b["per"]} for b in params["bands"]
                ]
            elif normalised["by"] is not None:
                del normalised["bands"]
                normalised["rates"] = {k: {"points": r["points"], "per": r["per"]} for k, r in params["rates"].items()}
            else:
                del normalised["bands"], normalised["by"], normalised["rates"]
        return {"name": name, "params": normalised} if ok else None

    def customer_key(self, by: str, path: str) -> bool:
        """A rate table keyed by ``customer.<name>`` needs a declared string attribute (when the catalog says)."""
        declared = self.known.customer_attributes
        if declared is None:
            return True
        key = by[len(CUSTOMER_PREFIX) :]
        if key not in declared:
            what = "a declared customer attribute (setting customer_attributes)"
            self.error(path, _not_in_set(key, frozenset(declared), what))
            return False
        if declared[key] != "string":
            self.error(path, f"customer attribute {key!r} is declared {declared[key]}; rates are keyed by a string")
            return False
        return True

    def rate_or_bands(self, params: dict[str, Any], path: str) -> bool:
        """award_points_per_amount takes ``points`` and ``per``, or ``bands`` (each with its own), or ``by`` and
        ``rates`` (with ``points`` and ``per`` as the optional rate for any other value)."""
        if params.get("bands") is not None:
            extra = [key for key in ("points", "per", "by", "rates") if params.get(key) is not None]
            for key in extra:
                self.error(f"{path}.{key}", "not used with bands (each band has its own points and per)")
            return not extra
        by, rates = params.get("by"), params.get("rates")
        if by is not None or rates is not None:
            if by is None or rates is None:
                missing = "by" if by is None else "rates"
                self.error(f"{path}.{missing}", "by and rates go together (rates for each value of the variable by)")
                return False
            if (params.get("points") is None) != (params.get("per") is None):
                missing = "points" if params.get("points") is None else "per"
                self.error(f"{path}.{missing}", "points and per go together (the rate for any other value)")
                return False
            if by.startswith(CUSTOMER_PREFIX) and not self.customer_key(by, f"{path}.by"):
                return False
            closed = self.closed_set(by)
            ok = True
            if closed is not None:
                choices, what = closed
                for key in rates:
                    if key not in choices:
                        self.error(_join(f"{path}.rates", key), _not_in_set(key, choices, what))
                        ok = False
            return ok
        absent = [key for key in ("points", "per") if params.get(key) is None]
        for key in absent:
            self.error(f"{path}.{key}", "required by action 'award_points_per_amount' (or bands)")
        return not absent
