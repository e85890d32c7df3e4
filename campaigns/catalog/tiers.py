"""The published tier ladder, read: display names, the entry tier, the next tier and its threshold.

Notifications, SMS keywords and the customer views ask these questions; the answers come from the
published ``type: tier`` document (``ladder.py`` is the editor's side of the same document).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.i18n import DEFAULT_LANGUAGE, localized
from campaigns.models import Campaign, CampaignVersion


def _thresholds(node: Any, variable: str) -> list[float]:
    """``>=``/``>`` thresholds on one variable anywhere in a condition tree."""
    if isinstance(node, dict):
        if node.get("name") == variable and node.get("operator") in ("greater_than_or_equal_to", "greater_than"):
            value = node.get("value")
            return [float(value)] if isinstance(value, int | float) and not isinstance(value, bool) else []
        return [t for child in node.get("all", []) + node.get("any", []) for t in _thresholds(child, variable)]
    return []


def _tier_document(session: Session) -> dict[str, Any] | None:
    return session.scalar(
        select(CampaignVersion.document)
        .join(Campaign, Campaign.id == CampaignVersion.campaign_id)
        .where(Campaign.type == "tier", Campaign.status == "published", CampaignVersion.status == "published")
        .order_by(CampaignVersion.published_at.desc())
        .limit(1)
    )


def tier_names(session: Session, language: str | None = None) -> dict[str, str]:
    """Tier code -> display name from the published tier ladder, in ``language`` (a name may be
    ``{vi: ..., en: ...}``; without a language, the programme's default)."""
    doc = _tier_document(session) or {}
    lang = language or DEFAULT_LANGUAGE
    return {t["code"]: localized(t.get("name"), lang) or t["code"] for t in doc.get("tiers", [])}


def entry_tier(session: Session) -> str | None:
    """The lowest rank of the published ladder (everyone's first tier)."""
    doc = _tier_document(session) or {}
    ladder = sorted(doc.get("tiers", []), key=lambda t: t.get("rank", 0))
    return ladder[0]["code"] if ladder else None


def next_tier(session: Session, tier: str | None) -> tuple[dict[str, Any], int] | None:
    """The tier above ``tier`` in the published ladder and the ``qualifying_points_365d`` it needs.

    None at the top of the ladder, or when no rule reaches the next tier through that threshold.
    """
    doc = _tier_document(session)
    if not doc or not doc.get("tiers"):
        return None
    ladder = sorted(doc["tiers"], key=lambda t: t.get("rank", 0))
    ranks = [t["code"] for t in ladder]
    position = ranks.index(tier) if tier in ranks else -1
    if position + 1 >= len(ladder):
        return None
    target = ladder[position + 1]
    needs = [
        t
        for rule in doc.get("rules", [])
        if any(a.get("params", {}).get("tier") == target["code"] for a in rule.get("actions", []))
        for t in _thresholds(rule.get("conditions", {}), "qualifying_points_365d")
    ]
    if not needs:
        return None
    return target, int(min(needs))
