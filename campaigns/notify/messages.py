"""Customer-facing message templates in Vietnamese and English, and number/date formatting.

Templates are ``str.format`` strings over a context the sender builds from the
outbox payload and the live books (balance, reward and tier names). A programme
adds or overrides templates with the ``sms_templates`` setting.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"

TEMPLATES: dict[str, dict[str, str]] = {
    "points_earned": {
        "vi": "Bạn vừa nhận {points} điểm. Số dư: {balance} điểm.",
        "en": "You earned {points} points. Balance: {balance} points.",
    },
    "points_expiring": {
        "vi": "{points} điểm của bạn sẽ hết hạn ngày {date}. Hãy đổi quà trước khi hết hạn!",
        "en": "{points} of your points expire on {date}. Redeem them before they expire!",
    },
    "tier_changed": {
        "vi": "Hạng thành viên của bạn nay là {tier}.",
        "en": "Your membership tier is now {tier}.",
    },
    "reward_granted": {
        "vi": "Bạn được tặng {reward}. Mã quà: {voucher}.",
        "en": "You received {reward}. Voucher: {voucher}.",
    },
    "redemption_issued": {
        "vi": "Đổi quà thành công: {reward}. Mã quà: {voucher}.",
        "en": "Redeemed: {reward}. Voucher: {voucher}.",
    },
    "redemption_cancelled": {
        "vi": "Mã quà {voucher} đã được hủy, điểm đã được hoàn lại.",
        "en": "Voucher {voucher} was cancelled and your points were refunded.",
    },
    "otp": {
        "vi": "Mã đăng nhập của bạn là {code}, hiệu lực 5 phút. Không chia sẻ mã này.",
        "en": "Your sign-in code is {code}, valid for 5 minutes. Do not share it.",
    },
    "sms_reply": {"vi": "{text}", "en": "{text}"},
    "claim_credited": {
        "vi": "Yêu cầu #{claim} đã được giải quyết: bạn được cộng {points} điểm. Số dư: {balance} điểm.",
        "en": "Request #{claim} is resolved: {points} points were added. Balance: {balance} points.",
    },
    "claim_matched": {
        "vi": "Yêu cầu #{claim}: giao dịch {ref} đã được cộng {points} điểm ngày {date}. Số dư: {balance} điểm.",
        "en": "Request #{claim}: transaction {ref} earned {points} points on {date}. Balance: {balance} points.",
    },
    "claim_rejected": {
        "vi": "Yêu cầu #{claim} không được chấp nhận: {reason}",
        "en": "Request #{claim} was not accepted: {reason}",
    },
    "expired_points_converted": {
        "vi": "{points} điểm sắp hết hạn của bạn đã được đổi thành {reward}. Mã quà: {voucher}.",
        "en": "{points} of your points about to expire were converted into {reward}. Voucher: {voucher}.",
    },
    "challenge_completed": {
        "vi": "Chúc mừng! Bạn đã hoàn thành thử thách {challenge} và nhận {points} điểm. Số dư: {balance} điểm.",
        "en": "Congratulations! You completed the challenge {challenge} and earned {points} points. "
        "Balance: {balance} points.",
    },
    "points_paid": {
        "vi": "Bạn đã thanh toán {amount}đ bằng {points} điểm tại {provider}. Số dư: {balance} điểm.",
        "en": "You paid {amount} VND with {points} points at {provider}. Balance: {balance} points.",
    },
    "points_sent": {
        "vi": "Bạn đã tặng {points} điểm cho số {to}. Số dư: {balance} điểm.",
        "en": "You sent {points} points to {to}. Balance: {balance} points.",
    },
    "points_received": {
        "vi": "Bạn vừa được tặng {points} điểm. Số dư: {balance} điểm.",
        "en": "You received {points} points from another member. Balance: {balance} points.",
    },
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


def language_of(value: str | None) -> str:
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def number(value: int | float, language: str) -> str:
    """``1.200`` in Vietnamese (dot thousands), ``1,200`` in English."""
    text = f"{int(value):,}"
    return text.replace(",", ".") if language == "vi" else text


def day(value: date | datetime | str, language: str) -> str:
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        value = value.date()
    return value.strftime("%d/%m/%Y") if language == "vi" else value.isoformat()


def template_for(name: str, language: str, overrides: dict[str, dict[str, str]] | None = None) -> str | None:
    for source in (overrides or {}, TEMPLATES):
        entry = source.get(name)
        if entry:
            return entry.get(language) or entry.get(DEFAULT_LANGUAGE) or next(iter(entry.values()))
    return None


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
