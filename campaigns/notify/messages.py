"""Customer-facing message templates: their English ids here, their Vietnamese in the catalog (campaigns/i18n.py).

Templates are ``str.format`` strings over a context the sender builds from the
outbox payload and the live books (balance, reward and tier names). A programme
adds or overrides templates with the ``sms_templates`` setting (``{"vi": ..., "en": ...}``).
"""

from __future__ import annotations

from typing import Any

from campaigns.i18n import DEFAULT_LANGUAGE, LANGUAGES, N_, day, language_of, number, translate

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "TEMPLATES",
    "TRANSACTIONAL",
    "day",
    "is_marketing",
    "language_of",
    "number",
    "render",
]

TEMPLATES: dict[str, str] = {
    "points_earned": N_("You earned {points} points. Balance: {balance} points."),
    "points_expiring": N_("{points} of your points expire on {date}. Redeem them before they expire!"),
    "tier_changed": N_("Your membership tier is now {tier}."),
    "reward_granted": N_("You received {reward}. Voucher: {voucher}."),
    "redemption_issued": N_("Redeemed: {reward}. Voucher: {voucher}."),
    "redemption_cancelled": N_("Voucher {voucher} was cancelled and your points were refunded."),
    "otp": N_("Your sign-in code is {code}, valid for 5 minutes. Do not share it."),
    "sms_reply": N_("{text}"),
    "claim_credited": N_("Request #{claim} is resolved: {points} points were added. Balance: {balance} points."),
    "claim_matched": N_(
        "Request #{claim}: transaction {ref} earned {points} points on {date}. Balance: {balance} points."
    ),
    "claim_rejected": N_("Request #{claim} was not accepted: {reason}"),
    "expired_points_converted": N_(
        "{points} of your points about to expire were converted into {reward}. Voucher: {voucher}."
    ),
    "challenge_completed": N_(
        "Congratulations! You completed the challenge {challenge} and earned {points} points. Balance: {balance} "
        "points."
    ),
    "points_paid": N_("You paid {amount} VND with {points} points at {provider}. Balance: {balance} points."),
    "points_sent": N_("You sent {points} points to {to}. Balance: {balance} points."),
    "points_received": N_("You received {points} points from another member. Balance: {balance} points."),
}

# Sent whatever the quiet hours, the daily limit or an opt-out say: the customer asked for them.
# The answers to a customer's claim are transactional too: the customer asked.
TRANSACTIONAL = (
    frozenset({"sms_reply", "otp", "redemption_issued", "redemption_cancelled"})
    | frozenset({"claim_credited", "claim_matched", "claim_rejected"})
    | frozenset({"points_paid", "points_sent"})  # receipts of what the customer just did
)  # expired_points_converted is not: the customer did not ask, so quiet hours and the daily limit apply

# Service messages tell the member what happened to their own account (points credited, received or expiring, a
# tier, a reward earned, a challenge completed, expiring points converted, a code asked for); anything else (a
# campaign's own ``notify`` template) promotes, and goes only to members who granted the ``marketing`` consent
# (campaigns/consent/consents.py).
SERVICE = TRANSACTIONAL | frozenset(
    {
        "points_earned",
        "points_expiring",
        "points_received",
        "tier_changed",
        "reward_granted",
        "challenge_completed",
        "expired_points_converted",
    }
)


def is_marketing(template: str) -> bool:
    return template not in SERVICE


def template_for(name: str, language: str, overrides: dict[str, dict[str, str]] | None = None) -> str | None:
    entry = (overrides or {}).get(name)
    if entry:
        return entry.get(language) or entry.get(DEFAULT_LANGUAGE) or next(iter(entry.values()))
    return translate(language, TEMPLATES[name]) if name in TEMPLATES else None


class _Missing(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render(
    name: str, context: dict[str, Any], language: str, overrides: dict[str, dict[str, str]] | None = None
) -> str:
    """The message text, or ``KeyError`` when no template of that name exists."""
    text = template_for(name, language, overrides)
    if text is None:
        raise KeyError(name)
    return text.format_map(_Missing(context)).strip()
