"""The tier ladder as a form: read a ``type: tier`` document into rows, write rows back into a document.

The ladder is an ordinary campaign document (see docs/rules.md, "Tier documents"), so saving goes
through ``catalog.import_document`` (the same validation as the API and the editor) and creates a
new draft version, published through the usual versioning flow. Each tier gets one *editable*
rule: the first rule whose only action is ``set_tier`` to that tier and whose conditions are one
flat ``all``/``any`` list. Every other rule, benefit and top-level key is carried over unchanged.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns.catalog import documents as catalog
from campaigns.errors import DomainError
from campaigns.i18n import localized
from campaigns.models import Campaign, CampaignVersion, Customer

DEFAULT_NAME = "Membership tiers"
MAX_CONDITIONS = 8


@dataclass
class Condition:
    variable: str = ""
    operator: str = "greater_than_or_equal_to"
    value: str = ""


@dataclass
class TierRow:
    code: str = ""
    name: str = ""  # Vietnamese, or the one name of both languages
    name_en: str = ""  # English when it differs: the tier's name is then {vi: name, en: name_en}
    rank: str = ""
    multiplier: str = ""
    match: str = "any"
    conditions: list[Condition] = field(default_factory=list)
    original: str = ""  # the code this row had in the base version ('' for a new tier)
    rule_name: str = ""
    customers: int = 0
    remove: bool = False

    @property
    def thresholds(self) -> str:
        parts = [f"{c.variable} {_OPS.get(c.operator, c.operator)} {c.value}" for c in self.conditions if c.variable]
        return f" {self.match} ".join(parts) if parts else ""


_OPS = {
    "greater_than_or_equal_to": "≥",
    "greater_than": ">",
    "less_than": "<",
    "less_than_or_equal_to": "≤",
    "equal_to": "=",
    "not_equal_to": "≠",
}


@dataclass
class Ladder:
    campaign: Campaign | None
    version: CampaignVersion | None
    name: str
    grace_days: str
    tiers: list[TierRow]
    other_rules: list[dict[str, Any]]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _value(text: str) -> Any:
    text = text.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if text.startswith(("[", "{")):
        try:
            return json.loads(text)
        except ValueError:
            return text
    cleaned = text.replace(",", "").replace("_", "")
    if re.fullmatch(r"-?\d+", cleaned):
        return int(cleaned)
    try:
        return float(cleaned)
    except ValueError:
        return text


def _flat(conditions: Any) -> tuple[str, list[dict[str, Any]]] | None:
    if not isinstance(conditions, dict) or len(conditions) != 1:
        return None
    match, items = next(iter(conditions.items()))
    if match not in ("all", "any") or not isinstance(items, list) or len(items) > MAX_CONDITIONS:
        return None
    if not all(isinstance(c, dict) and "name" in c and "operator" in c for c in items):
        return None
    return match, items


def _editable_rule(rule: Any) -> tuple[str, str, list[dict[str, Any]]] | None:
    """(tier code, match, conditions) when the rule fits the form."""
    if not isinstance(rule, dict):
        return None
    actions = rule.get("actions") or []
    if len(actions) != 1 or not isinstance(actions[0], dict) or actions[0].get("name") != "set_tier":
        return None
    tier = (actions[0].get("params") or {}).get("tier")
    flat = _flat(rule.get("conditions"))
    if not isinstance(tier, str) or flat is None:
        return None
    return tier, flat[0], flat[1]


def tier_campaign(session: Session) -> tuple[Campaign | None, CampaignVersion | None]:
    """The ladder: the published tier campaign (else the newest tier draft) and its latest version."""
    campaign = session.scalar(
        select(Campaign)
        .where(Campaign.type == "tier", Campaign.status != "archived")
        .order_by((Campaign.status == "published").desc(), Campaign.updated_at.desc(), Campaign.id.desc())
        .limit(1)
    )
    if campaign is None:
        return None, None
    version = session.scalar(
        select(CampaignVersion).where(
            CampaignVersion.campaign_id == campaign.id, CampaignVersion.version == campaign.latest_version
        )
    )
    return campaign, version


def from_document(doc: dict[str, Any] | None) -> tuple[list[TierRow], list[dict[str, Any]]]:
    doc = doc or {}
    rows: dict[str, TierRow] = {}
    ordered = []
    for t in sorted(doc.get("tiers") or [], key=lambda t: t.get("rank", 0)):
        benefits = t.get("benefits") or {}
        names = t.get("name")
        row = TierRow(
            code=str(t.get("code", "")),
            name=localized(names, "vi"),
            name_en=str(names.get("en", "")) if isinstance(names, dict) else "",
            rank=_text(t.get("rank")),
            multiplier=_text(benefits.get("earn_multiplier")),
            original=str(t.get("code", "")),
        )
        rows[row.code] = row
        ordered.append(row)
    others = []
    for rule in doc.get("rules") or []:
        editable = _editable_rule(rule)
        owner = rows.get(editable[0]) if editable else None
        if editable is None or owner is None or owner.rule_name:
            others.append(rule)
            continue
        owner.rule_name = str(rule.get("name") or owner.name)
        owner.match = editable[1]
        owner.conditions = [
            Condition(str(c.get("name", "")), str(c.get("operator", "")), _text(c.get("value"))) for c in editable[2]
        ]
    return ordered, others


def load(session: Session) -> Ladder:
    campaign, version = tier_campaign(session)
    doc = version.document if version is not None else None
    rows, others = from_document(doc)
    counts = dict(session.execute(select(Customer.tier, func.count()).group_by(Customer.tier)).all())
    for r in rows:
        r.customers = int(counts.get(r.code, 0))
    return Ladder(
        campaign=campaign,
        version=version,
        name=campaign.name if campaign else DEFAULT_NAME,
        grace_days=_text((doc or {}).get("grace_days", 30)),
        tiers=rows,
        other_rules=others,
    )


def rows_from_form(form: Any) -> tuple[str, list[TierRow]]:
    """The submitted rows (``t{i}-code``, ``t{i}-c{j}-var``...) in form order, blank ones dropped."""
    rows = []
    for i in range(int(form.get("tier_count", 0) or 0)):
        p = f"t{i}-"
        row = TierRow(
            code=form.get(p + "code", "").strip(),
            name=form.get(p + "name", "").strip(),
            name_en=form.get(p + "name_en", "").strip(),
            rank=form.get(p + "rank", "").strip(),
            multiplier=form.get(p + "mult", "").strip(),
            match=form.get(p + "match", "any") if form.get(p + "match") in ("all", "any") else "any",
            original=form.get(p + "orig", "").strip(),
            rule_name=form.get(p + "rule", "").strip(),
            remove=form.get(p + "remove") == "1",
        )
        for j in range(MAX_CONDITIONS):
            var = form.get(f"{p}c{j}-var", "").strip()
            if var:
                row.conditions.append(
                    Condition(var, form.get(f"{p}c{j}-op", "").strip(), form.get(f"{p}c{j}-val", "").strip())
                )
        rows.append(row)
    return form.get("grace_days", "").strip(), rows


def to_document(
    base: dict[str, Any] | None, name: str, grace: str, rows: list[TierRow]
) -> tuple[dict[str, Any], dict[int, int], dict[int, int]]:
    """The document, plus which form row each ``tiers[k]`` and ``rules[k]`` came from (to place errors)."""
    base = base or {}
    doc: dict[str, Any] = {k: v for k, v in base.items() if k not in ("tiers", "rules", "name", "type", "grace_days")}
    doc = {"name": name, "type": "tier", **doc}
    doc["grace_days"] = _value(grace) if grace else 30
    old = {t.get("code"): t for t in base.get("tiers") or []}
    _, others = from_document(base)
    tiers: list[dict[str, Any]] = []
    rules: list[dict[str, Any]] = []
    tier_of: dict[int, int] = {}
    rule_of: dict[int, int] = {}
    for i, r in enumerate(rows):
        if r.remove or not (r.code or r.name or r.rank):
            continue
        benefits = {k: v for k, v in (old.get(r.original, {}).get("benefits") or {}).items() if k != "earn_multiplier"}
        if r.multiplier:
            benefits = {"earn_multiplier": _value(r.multiplier), **benefits}
        label: str | dict[str, str] = {"vi": r.name, "en": r.name_en} if r.name_en else r.name
        tier: dict[str, Any] = {"code": r.code, "name": label, "rank": _value(r.rank) if r.rank else None}
        if benefits:
            tier["benefits"] = benefits
        tier_of[len(tiers)] = i
        tiers.append(tier)
        if r.conditions:
            rule_of[len(rules)] = i
            rules.append(
                {
                    "name": r.rule_name or r.name or r.code,
                    "conditions": {
                        r.match: [
                            {"name": c.variable, "operator": c.operator, "value": _value(c.value)} for c in r.conditions
                        ]
                    },
                    "actions": [{"name": "set_tier", "params": {"tier": r.code}}],
                }
            )
    doc["tiers"] = tiers
    doc["rules"] = rules + others
    return doc, tier_of, rule_of


_TIER_PATH = re.compile(r"^tiers\[(\d+)\](?:\.(\w+))?(?:\.(\w+))?")
_RULE_PATH = re.compile(r"^rules\[(\d+)\](?:\.conditions\.(?:all|any)\[(\d+)\](?:\.(\w+))?)?")
_FIELD = {"code": "code", "name": "name", "rank": "rank", "benefits": "mult"}
_COND_FIELD = {"name": "var", "operator": "op", "value": "val"}


def place_errors(
    problems: list[tuple[str, str]], tier_of: dict[int, int], rule_of: dict[int, int]
) -> tuple[dict[str, str], list[str]]:
    """Map validation paths to form fields (``t2-rank``, ``t1-c0-val``); the rest stay general."""
    fields: dict[str, str] = {}
    general: list[str] = []
    for path, reason in problems:
        key = None
        if path == "grace_days":
            key = "grace_days"
        elif m := _TIER_PATH.match(path):
            i = tier_of.get(int(m.group(1)))
            if i is not None:
                name_en = m.group(2) == "name" and m.group(3) == "en"
                key = f"t{i}-name_en" if name_en else f"t{i}-{_FIELD.get(m.group(2) or '', 'code')}"
        elif m := _RULE_PATH.match(path):
            i = rule_of.get(int(m.group(1)))
            if i is not None and m.group(2) is not None:
                key = f"t{i}-c{m.group(2)}-{_COND_FIELD.get(m.group(3) or '', 'var')}"
            elif i is not None:
                key = f"t{i}-code"
        if key and key not in fields:
            fields[key] = reason
        else:
            general.append(f"{path}: {reason}")
    return fields, general


class LadderInvalid(DomainError):
    def __init__(self, fields: dict[str, str], general: list[str], rows: list[TierRow]) -> None:
        super().__init__("invalid_document", "the tier ladder has errors", [], 422)
        self.field_errors, self.general, self.rows = fields, general, rows


def save(session: Session, form: Any, *, author: str) -> CampaignVersion:
    """Validate and store the submitted ladder as the next draft version of the tier campaign."""
    campaign, version = tier_campaign(session)
    base = version.document if version is not None else None
    name = campaign.name if campaign else (form.get("name", "").strip() or DEFAULT_NAME)
    grace, rows = rows_from_form(form)
    doc, tier_of, rule_of = to_document(base, name, grace, rows)
    source = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
    try:
        return catalog.import_document(session, source, fmt="yaml", author=author)
    except DomainError as err:
        if err.code != "invalid_document":
            raise
        fields, general = place_errors([(f.path, f.reason) for f in err.fields], tier_of, rule_of)
        raise LadderInvalid(fields, general, rows) from None
