"""Warnings for the open sets a document names: categories and transaction attribute values.

Closed sets (providers, tiers, rewards, channels, days) are errors with a suggestion (rules.document). A category
or an ``attributes.<key>`` value may be new tomorrow, so one never seen is only a warning: probably a typo, but
maybe the first day of a new product. "Seen" means in the most recent transactions received in the last 90 days
(at most ``SAMPLE`` of them, read newest first by primary key: a bounded read, whatever the size of the table).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.clock import utcnow
from campaigns.models import Transaction
from rules import CampaignDocument

WINDOW = timedelta(days=90)
SAMPLE = 50_000
EQUALITY = frozenset({"equal_to", "not_equal_to", "is_in", "not_in"})
ATTRIBUTE_PREFIX = "attributes."


def _leaves(node: Mapping[str, Any], path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for key in ("all", "any"):
        if key in node:
            for i, child in enumerate(node[key]):
                yield from _leaves(child, f"{path}.{key}[{i}]")
    if "name" in node:
        yield path, node


def _named(doc: CampaignDocument) -> list[tuple[str, str, Any]]:
    """(value path, variable name, value) of every equality leaf on a category or a string attribute."""
    out = []
    for r, rule in enumerate(doc.rules):
        for path, leaf in _leaves(rule.conditions, f"rules[{r}].conditions"):
            name = leaf["name"]
            if leaf["operator"] not in EQUALITY:
                continue
            if name == "category" or (
                name.startswith(ATTRIBUTE_PREFIX) and doc.attribute_types.get(name[len(ATTRIBUTE_PREFIX) :]) == "string"
            ):
                out.append((f"{path}.value", name, leaf["value"]))
    return out


def seen_values(session: Session, names: set[str], now: datetime | None = None) -> dict[str, set[str]]:
    """The values each named variable (``category``, ``attributes.<key>``) took in recent transactions."""
    since = (now or utcnow()) - WINDOW
    seen: dict[str, set[str]] = {name: set() for name in names}
    keys = {name[len(ATTRIBUTE_PREFIX) :]: name for name in names if name.startswith(ATTRIBUTE_PREFIX)}
    rows = session.execute(
        select(Transaction.category, Transaction.attributes, Transaction.received_at)
        .order_by(Transaction.id.desc())
        .limit(SAMPLE)
    )
    for category, attributes, received_at in rows:
        if received_at < since:
            break  # newest first: everything further is older still
        if "category" in seen and category is not None:
            seen["category"].add(category)
        for key, name in keys.items():
            value = (attributes or {}).get(key)
            if isinstance(value, str):
                seen[name].add(value)
    return seen


def warnings(session: Session, doc: CampaignDocument, now: datetime | None = None) -> list[dict[str, str]]:
    """``[{"path", "reason"}]`` for every compared value no recent transaction carried (no query if none is)."""
    named = _named(doc)
    if not named:
        return []
    seen = seen_values(session, {name for _path, name, _value in named}, now)
    out = []
    for path, name, value in named:
        items = [(path, value)] if isinstance(value, str) else [(f"{path}[{i}]", v) for i, v in enumerate(value)]
        for item_path, item in items:
            if not isinstance(item, str) or not item or item in seen[name]:
                continue
            known = sorted(seen[name])
            close = difflib.get_close_matches(item, known, n=1, cutoff=0.6)
            if close:
                hint = f"; did you mean {close[0]!r}?"
            else:
                hint = f" (seen: {', '.join(known[:12])})" if known else " (none seen)"
            what = "a category" if name == "category" else f"a value of {name}"
            out.append({"path": item_path, "reason": f"{item!r} is not {what} seen in the last 90 days{hint}"})
    return out
