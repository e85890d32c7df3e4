"""Who may do what: the one table of function permissions by role.

Every staff UI route and every management-API endpoint names one action from
``ACTIONS``; a role may perform it when the action is in its row of
``PERMISSIONS``. Data permissions (a ``provider`` user sees only its
provider's data) are applied by the services through ``Scope``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ROLES = ("admin", "marketer", "analyst", "care", "provider", "finance")

ACTIONS: dict[str, str] = {
    "dashboard.view": "See the dashboard (a provider user sees its own provider's figures)",
    "campaigns.view": "List and read campaigns, versions and diffs (a provider user: campaigns that target it)",
    "campaigns.export": "Download the campaign list as CSV",
    "campaigns.edit": "Write drafts, validate and simulate documents",
    "campaigns.review": "Approve or reject a version submitted for review",
    "campaigns.publish": "Publish, roll back and archive campaigns",
    "audit.view": "Read the audit log",
    "customers.view": "Find customers and see their 360 view (a provider user: customers it dealt with)",
    "customers.export": "Download a customer's ledger as CSV",
    "customers.adjust": "Manual point adjustments (care within a limit, admin unlimited)",
    "customers.merge": "Merge two customers into one (identities, ledger and history move; audited)",
    "customers.unmerge": "Reverse a merge (the moved rows go back to the original customer)",
    "customers.personal_export": "Download everything held about a person as one JSON document (audited)",
    "customers.reveal": "See a masked phone number or national ID in full, with a stated reason (audited)",
    "customers.erase": "Request the erasure of a person, or approve another admin's request (audited)",
    "customers.consent": "Record a consent from a signed paper form (a provider user: customers it dealt with)",
    "customers.attributes": "Set a customer's attributes and tags (a provider user: customers it dealt with)",
    "users.manage": "Create staff users, change roles, unlock accounts",
    "providers.manage": "Create providers; create, rotate and revoke their API keys",
    "settings.manage": "Programme settings",
    "rewards.view": "Read the rewards catalog",
    "rewards.manage": "Create and change rewards",
    "webhooks.view": "See webhook deliveries and their status (a provider user: its own)",
    "webhooks.replay": "Send a webhook delivery again",
    "care.view": "See the care centre: SLA, alerts and the claims queue (a provider user: its own)",
    "alerts.manage": "Acknowledge and resolve alerts (a provider user: its own provider's)",
    "claims.work": "Assign, investigate, resolve or reject missing-points claims (a provider user: its own queue)",
    "reports.view": "Analytics and the weekly care report (HTML and CSV)",
    "finance.view": "Settlement statements, the liability roll-forward and rate history (a provider user: its own)",
    "finance.rates": "Set a provider's issue cost and redemption rate (dated; never in the past)",
    "finance.close": "Close a settlement month: its statements are stored and never change",
    "account.self": "Change one's own password and manage one's own API tokens",
}

_ALL = frozenset(ACTIONS)

PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": _ALL,
    "marketer": frozenset(
        {
            "dashboard.view",
            "campaigns.view",
            "campaigns.export",
            "campaigns.edit",
            "campaigns.review",
            "campaigns.publish",
            "audit.view",
            "rewards.view",
            "rewards.manage",
            "care.view",
            "reports.view",
            "account.self",
        }
    ),
    "analyst": frozenset(
        {
            "dashboard.view",
            "campaigns.view",
            "campaigns.export",
            "audit.view",
            "rewards.view",
            "care.view",
            "reports.view",
            "account.self",
        }
    ),
    "care": frozenset(
        {
            "dashboard.view",
            "customers.view",
            "customers.export",
            "customers.adjust",
            "customers.merge",
            "customers.personal_export",
            "customers.reveal",
            "customers.consent",
            "customers.attributes",
            "rewards.view",
            "care.view",
            "alerts.manage",
            "claims.work",
            "reports.view",
            "account.self",
        }
    ),
    "provider": frozenset(
        {
            "dashboard.view",
            "campaigns.view",
            "customers.view",
            "customers.export",
            "customers.consent",
            "customers.attributes",
            "rewards.view",
            "webhooks.view",
            "webhooks.replay",
            "care.view",
            "alerts.manage",
            "claims.work",
            "account.self",
            "finance.view",
        }
    ),
    # reads everything money, sets rates, closes periods; cannot edit campaigns or customers
    "finance": frozenset(
        {
            "dashboard.view",
            "campaigns.view",
            "audit.view",
            "rewards.view",
            "reports.view",
            "finance.view",
            "finance.rates",
            "finance.close",
            "account.self",
        }
    ),
}


def check_tables(permissions: dict[str, frozenset[str]], roles: Iterable[str], known: frozenset[str]) -> None:
    """Every role has a permission set and grants only known actions; checked at import (survives python -O)."""
    if set(permissions) != set(roles):
        raise RuntimeError(f"roles and permission sets differ: {sorted(set(permissions) ^ set(roles))}")
    unknown = sorted(a for granted in permissions.values() for a in granted - known)
    if unknown:
        raise RuntimeError(f"permissions grant unknown actions: {unknown}")


check_tables(PERMISSIONS, ROLES, _ALL)


def allowed(role: str | None, action: str) -> bool:
    if action not in ACTIONS:
        raise KeyError(f"unknown action {action!r}")
    return role is not None and action in PERMISSIONS.get(role, frozenset())


@dataclass(frozen=True, slots=True)
class Scope:
    """The data a caller may see: every provider (``provider_id`` None) or one."""

    role: str
    provider_id: int | None = None
    provider_code: str | None = None

    @property
    def limited(self) -> bool:
        return self.provider_id is not None


UNLIMITED = Scope("admin")
