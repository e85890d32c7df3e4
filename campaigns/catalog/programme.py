"""Programme-wide settings: points expiry, negative balances, a cap per transaction.

Stored in the ``settings`` table so an operator changes them without a deploy;
each change is audited and bumps the publication counter so workers reload.
"""

from __future__ import annotations

import calendar
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from campaigns.clock import utcnow
from campaigns.errors import invalid
from campaigns.i18n import LANGUAGES, N_
from campaigns.models import AuditEvent, Counter, DailyStat, Reward, Setting, SlaDaily
from campaigns.publication import bump_publication
from rules.document import DocumentInvalid, validate_expiry
from rules.variables import ATTRIBUTE_KEY

DEFAULTS: dict[str, Any] = {
    "points_expiry": {"policy": "rolling_months", "months": 12},
    "allow_negative_balance": False,
    "max_points_per_transaction": None,
    "timezone": "Asia/Ho_Chi_Minh",
    "language": "vi",  # the staff console's language for users who chose none (vi | en)
    "point_value": 1,
    "min_redemption_points": None,  # the cheapest redemption (and points payment) allowed (null: no minimum)
    # point transfers between members (campaigns/accounts/transfers.py): the smallest transfer, the most a member
    # may send per local day and per local month (null: no limit), and a fee in points the sender pays on top
    "point_transfers": {"min_points": 1, "max_points_per_day": None, "max_points_per_month": None, "fee_points": 0},
    # customer notifications (SMS)
    "notify_points_threshold": 50,  # a "points earned" SMS when one transaction earns at least this (null: never)
    "sms_daily_limit": 3,  # notifications per customer per local day (replies, codes and vouchers not counted)
    "quiet_hours": {"start": "21:00", "end": "08:00"},  # local time; notifications wait until the end (null: none)
    "sms_templates": {},  # {"template": {"vi": "...", "en": "..."}}: adds or overrides message templates
    # accrual SLA (care centre): minutes from receipt to credit; a warning at warning_percent of it; critical
    # once the oldest waits critical_factor times the SLA or critical_count transactions of a provider are over it
    "accrual_sla": {"minutes": 15, "warning_percent": 80, "critical_factor": 2, "critical_count": 100},
    # missing-points claims: hours allowed in each state; warning once warning_share of it has passed,
    # critical once critical_factor times it has passed (campaigns/care/claims.py)
    "claim_deadlines": {"open": 4, "assigned": 24, "investigating": 72, "warning_share": 0.75, "critical_factor": 2},
    # number lifecycle (campaigns/customers/numbers.py): days a released number is refused everywhere, and hours
    # spending through a SIM-swapped number is held
    "number_quarantine_days": 90,
    "sim_swap_hold_hours": 48,
    # clearing's early warnings (campaigns/care/clearing_warnings.py): a provider funding over last_month_factor x last
    # month (from min_points) or over budget_share of budgets[code] points a month; a month unclosed unclosed_days
    "clearing_warnings": {
        "last_month_factor": 1.5,
        "min_points": 1000,
        "budget_share": 0.9,
        "budgets": {},
        "unclosed_days": 5,
    },
    # what happens to points about to expire (campaigns/accounts/lifecycle.py): written off, or, for a customer
    # who has not redeemed for after_months_without_redemption months, converted into the reward `offer`
    # (points expiring within within_days days, at least its cost; once)
    "expired_points": {"action": "write_off"},
    # the person's rights (campaigns/privacy/retention.py): days one-time codes, inbound SMS, USSD session logs
    # and the bodies of sent messages are kept; the lifecycle job deletes (bodies: blanks) older ones
    "retention": {"otp_codes_days": 30, "inbound_sms_days": 180, "ussd_sessions_days": 90, "message_bodies_days": 90},
    # consent by purpose (campaigns/consent/consents.py): the text a person is shown for each purpose and its
    # version, kept with every grant or withdrawal; change the version whenever the text changes
    "consent_texts": {
        "cross_provider_sharing": {
            "version": "2026-12-v1",
            "vi": "Tôi đồng ý để các đối tác khác của chương trình (ngoài đối tác tôi đang giao dịch) xem lịch sử "
            "giao dịch và tích điểm của tôi.",
            "en": "I agree that the programme's other partners (besides the one I deal with) may see my transactions "
            "and points history.",
        },
        "marketing": {
            "version": "2026-12-v1",
            "vi": "Tôi đồng ý nhận tin nhắn và thông báo quảng cáo, khuyến mãi. Tin dịch vụ (mã đăng nhập, cộng "
            "điểm, đổi quà) vẫn được gửi.",
            "en": "I agree to receive promotional messages and notifications. Service messages (sign-in codes, "
            "points credited, redemptions) are sent anyway.",
        },
        "profiling": {
            "version": "2026-12-v1",
            "vi": "Tôi đồng ý để chương trình phân tích hành vi giao dịch của tôi để chọn ưu đãi riêng cho tôi.",
            "en": "I agree that the programme may analyse my behaviour to choose offers for me.",
        },
    },
    # customer-level attributes providers may set ({"vip": "boolean", "segment": "string", "score": "numeric"}):
    # the types rules read ``customer.<name>`` as, and the only names the customers API accepts
    "customer_attributes": {},
}
EXPIRY_POLICIES = ("rolling_months", "end_of_next_year", "never")
EXPIRED_POINTS_ACTIONS = ("write_off", "convert_to_offer")
CONVERSION_DEFAULT_WITHIN_DAYS = 1  # the lifecycle runs every few minutes; a day leaves room for an outage
CUSTOMER_ATTRIBUTE_TYPES = ("boolean", "string", "numeric")
MAX_CUSTOMER_ATTRIBUTES = 100


@dataclass(frozen=True)
class Programme:
    points_expiry: dict[str, Any]
    allow_negative_balance: bool
    max_points_per_transaction: int | None
    timezone: str
    point_value: float = 1
    min_redemption_points: int | None = None
    notify_points_threshold: int | None = 50
    sms_daily_limit: int | None = 3
    quiet_hours: dict[str, str] | None = None
    sms_templates: dict[str, dict[str, str]] | None = None
    accrual_sla: dict[str, Any] | None = None
    claim_deadlines: dict[str, float] | None = None
    number_quarantine_days: int = 90
    sim_swap_hold_hours: int = 48
    clearing_warnings: dict[str, Any] | None = None
    expired_points: dict[str, Any] | None = None
    retention: dict[str, int] | None = None
    consent_texts: dict[str, dict[str, str]] | None = None
    point_transfers: dict[str, Any] | None = None

    def transfer_rules(self) -> dict[str, Any]:
        """The transfer limits with every field present (a stored value may predate a field)."""
        return {**DEFAULTS["point_transfers"], **(self.point_transfers or {})}

    customer_attributes: dict[str, str] | None = None
    language: str = "vi"

    def expiry_for(self, earned_at: datetime, policy: Mapping[str, Any] | None = None) -> datetime | None:
        """When points earned at ``earned_at`` expire: under ``policy`` (a campaign's ``points_expiry``)
        when given, else under the programme's."""
        return expiry_at(policy or self.points_expiry, earned_at, self.timezone)


def _month_start(local: datetime, months_ahead: int, zone: ZoneInfo) -> datetime:
    """Local midnight of the first day ``months_ahead`` months after ``local``'s month."""
    year, month = divmod(local.month - 1 + months_ahead, 12)
    return datetime(local.year + year, month + 1, 1, tzinfo=zone)


def expiry_at(policy: Mapping[str, Any], earned_at: datetime, timezone: str) -> datetime | None:
    """One rule for every expiry policy, so a campaign's and the programme's can never drift apart.

    The month-end policies count local calendar months (the programme's time zone): points earned on
    15 March expire at the end of April (``end_of_next_month``) or of June (``end_of_month_after``, 3).
    """
    name = policy.get("policy")
    if name == "never":
        return None
    zone = ZoneInfo(timezone)
    if name == "end_of_next_year":
        local = earned_at.astimezone(zone)
        end = datetime(local.year + 2, 1, 1, tzinfo=zone)
        return end.astimezone(earned_at.tzinfo)
    if name in ("end_of_next_month", "end_of_month_after"):
        months = 1 if name == "end_of_next_month" else int(policy["months"])
        return _month_start(earned_at.astimezone(zone), months + 1, zone).astimezone(earned_at.tzinfo)
    months = int(policy.get("months", 12))
    year, month = divmod(earned_at.month - 1 + months, 12)
    year += earned_at.year
    month += 1
    day = min(earned_at.day, calendar.monthrange(year, month)[1])
    return earned_at.replace(year=year, month=month, day=day)


def _hhmm(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        return False
    h, m = value[:2], value[3:]
    return h.isdigit() and m.isdigit() and int(h) < 24 and int(m) < 60


SLA_LIMITS: dict[str, tuple[type, float, float, str]] = {
    "minutes": (int, 1, 1440, N_("an integer number of minutes from 1 to 1440")),
    "warning_percent": (int, 1, 99, N_("an integer percentage of the SLA from 1 to 99")),
    "critical_factor": (float, 1.1, 100, N_("a multiple of the SLA from 1.1 to 100 (e.g. 2: twice the SLA)")),
    "critical_count": (int, 1, 10_000_000, N_("a positive integer (transactions over the SLA at once)")),
}


def _validate_sla(value: Any) -> None:
    """Every field is required so a stored SLA is always complete; types are checked before ranges."""
    if not isinstance(value, dict):
        raise invalid("value", "must be an object with " + ", ".join(SLA_LIMITS))
    unknown = set(value) - set(SLA_LIMITS)
    if unknown:
        raise invalid(f"value.{sorted(unknown)[0]}", f"unknown field; known: {', '.join(SLA_LIMITS)}")
    for name, (kind, low, high, reason) in SLA_LIMITS.items():
        if name not in value:
            raise invalid(f"value.{name}", f"is required: {reason}")
        v = value[name]
        numeric = (int, float) if kind is float else (int,)
        if isinstance(v, bool) or not isinstance(v, numeric) or not low <= v <= high:
            raise invalid(f"value.{name}", f"must be {reason}")


def load(session: Session) -> Programme:
    values = dict(DEFAULTS)
    values.update({k: v for k, v in session.execute(select(Setting.key, Setting.value)).all() if k in DEFAULTS})
    return Programme(**values)


def local_today(session: Session, now: datetime | None = None) -> date:
    """Today in the programme's time zone: the last day of a dashboard, SLA or analytics period."""
    at = (now or utcnow()).astimezone(ZoneInfo(load(session).timezone))
    return at.date()


def validate(key: str, value: Any) -> Any:
    if key not in DEFAULTS:
        raise invalid("key", f"unknown setting; known: {', '.join(sorted(DEFAULTS))}")
    if key == "points_expiry":
        try:
            value = validate_expiry(value)
        except DocumentInvalid as exc:
            first = exc.errors[0]
            raise invalid("value" + first.path.removeprefix("points_expiry"), first.reason) from None
    elif key == "allow_negative_balance":
        if not isinstance(value, bool):
            raise invalid("value", "must be true or false")
    elif key == "max_points_per_transaction":
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
            raise invalid("value", "must be a positive integer or null")
    elif key == "point_value":
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise invalid("value", "must be a non-negative number (currency units one point costs)")
    elif key in ("number_quarantine_days", "sim_swap_hold_hours"):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 3650:
            raise invalid("value", "must be an integer from 0 to 3650")
    elif key in ("notify_points_threshold", "sms_daily_limit", "min_redemption_points"):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise invalid("value", "must be a non-negative integer or null")
    elif key == "quiet_hours":
        if value is not None:
            if not isinstance(value, dict) or set(value) != {"start", "end"}:
                raise invalid("value", 'must be {"start": "HH:MM", "end": "HH:MM"} or null')
            for part in ("start", "end"):
                if not _hhmm(value[part]):
                    raise invalid(f"value.{part}", "must be a time as HH:MM, e.g. 21:00")
    elif key == "sms_templates":
        if not isinstance(value, dict) or not all(
            isinstance(t, dict) and t and all(lang in ("vi", "en") and isinstance(x, str) for lang, x in t.items())
            for t in value.values()
        ):
            raise invalid("value", 'must map template names to {"vi": "...", "en": "..."}')
        for name, texts in value.items():
            for lang, text in texts.items():
                problem = _template_problem(text)
                if problem:
                    raise invalid(f"value.{name}.{lang}", problem)
    elif key == "accrual_sla":
        _validate_sla(value)
    elif key == "claim_deadlines":
        known = set(DEFAULTS["claim_deadlines"])
        if not isinstance(value, dict) or not set(value) <= known:
            raise invalid("value", f"must be an object with some of: {', '.join(sorted(known))}")
        for part, number in value.items():
            if isinstance(number, bool) or not isinstance(number, int | float) or number <= 0:
                raise invalid(f"value.{part}", "must be a positive number")
        if not value.get("warning_share", 0.5) < 1:
            raise invalid("value.warning_share", "must be below 1 (a share of the time allowed)")
        if not value.get("critical_factor", 2) > 1:
            raise invalid("value.critical_factor", "must be above 1 (a multiple of the time allowed)")
        value = {**DEFAULTS["claim_deadlines"], **value}
    elif key == "clearing_warnings":
        known = set(DEFAULTS["clearing_warnings"])
        if not isinstance(value, dict) or not set(value) <= known:
            raise invalid("value", f"must be an object with some of: {', '.join(sorted(known))}")
        for part, number in value.items():
            if part == "budgets":
                if not isinstance(number, dict) or not all(
                    isinstance(b, int) and not isinstance(b, bool) and b > 0 for b in number.values()
                ):
                    raise invalid("value.budgets", "must map provider codes to positive whole points per month")
            elif isinstance(number, bool) or not isinstance(number, int | float) or number <= 0:
                raise invalid(f"value.{part}", "must be a positive number")
        value = {**DEFAULTS["clearing_warnings"], **value}
    elif key == "expired_points":
        value = _validate_expired_points(value)
    elif key == "retention":
        known = set(DEFAULTS["retention"])
        if not isinstance(value, dict) or not set(value) <= known:
            raise invalid("value", f"must be an object with some of: {', '.join(sorted(known))}")
        for part, days in value.items():
            if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3650:
                raise invalid(f"value.{part}", "must be a whole number of days from 1 to 3650")
        value = {**DEFAULTS["retention"], **value}
    elif key == "consent_texts":
        value = _validate_consent_texts(value)
    elif key == "point_transfers":
        known = DEFAULTS["point_transfers"]
        if not isinstance(value, dict) or not set(value) <= set(known):
            raise invalid("value", f"must be an object with some of: {', '.join(known)}")
        for part, number in value.items():
            nullable = part.startswith("max_")
            if number is None and nullable:
                continue
            low = 1 if part != "fee_points" else 0
            if isinstance(number, bool) or not isinstance(number, int) or not low <= number <= 10**12:
                kind = "a positive whole number of points" if low else "a whole number of points, 0 or more"
                raise invalid(f"value.{part}", f"must be {kind}" + (" or null" if nullable else ""))
        value = {**known, **value}
    elif key == "customer_attributes":
        if not isinstance(value, dict) or len(value) > MAX_CUSTOMER_ATTRIBUTES:
            raise invalid("value", f"must map up to {MAX_CUSTOMER_ATTRIBUTES} attribute names to a type")
        for name, kind in value.items():
            if not ATTRIBUTE_KEY.fullmatch(name):
                raise invalid(f"value.{name}", "not a valid attribute name ([A-Za-z_][A-Za-z0-9_]{0,63})")
            if kind not in CUSTOMER_ATTRIBUTE_TYPES:
                raise invalid(f"value.{name}", f"must be one of {', '.join(CUSTOMER_ATTRIBUTE_TYPES)}")
    elif key == "language":
        if value not in LANGUAGES:
            raise invalid("value", f"must be one of {', '.join(LANGUAGES)}")
    elif key == "timezone":
        try:
            ZoneInfo(value)
        except Exception:
            raise invalid("value", "must be an IANA time zone such as Asia/Ho_Chi_Minh") from None
    return value


def _validate_expired_points(value: Any) -> dict[str, Any]:
    """The shape only; that ``offer`` is a known reward is checked against the catalogue in ``set_value``."""
    if not isinstance(value, dict) or value.get("action") not in EXPIRED_POINTS_ACTIONS:
        raise invalid("value.action", f"must be one of {', '.join(EXPIRED_POINTS_ACTIONS)}")
    if value["action"] == "write_off":
        if set(value) != {"action"}:
            raise invalid(f"value.{sorted(set(value) - {'action'})[0]}", "write_off takes no other field")
        return {"action": "write_off"}
    known = {"action", "after_months_without_redemption", "offer", "within_days"}
    unknown = set(value) - known
    if unknown:
        raise invalid(f"value.{sorted(unknown)[0]}", f"unknown field; known: {', '.join(sorted(known))}")
    months = value.get("after_months_without_redemption")
    if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= 120:
        raise invalid("value.after_months_without_redemption", "is required: an integer number of months from 1 to 120")
    offer = value.get("offer")
    if not isinstance(offer, str) or not offer.strip():
        raise invalid("value.offer", "is required: the code of a reward")
    within = value.get("within_days", CONVERSION_DEFAULT_WITHIN_DAYS)
    if isinstance(within, bool) or not isinstance(within, int) or not 1 <= within <= 90:
        raise invalid("value.within_days", "must be an integer number of days from 1 to 90")
    return {
        "action": "convert_to_offer",
        "after_months_without_redemption": months,
        "offer": offer.strip(),
        "within_days": within,
    }


def _validate_consent_texts(value: Any) -> dict[str, dict[str, str]]:
    """Every purpose keeps a version and both languages; a purpose left out keeps today's text."""
    known = DEFAULTS["consent_texts"]
    if not isinstance(value, dict) or not set(value) <= set(known):
        raise invalid("value", f"must be an object with some of: {', '.join(known)}")
    for purpose, entry in value.items():
        if not isinstance(entry, dict) or set(entry) != {"version", "vi", "en"}:
            raise invalid(f"value.{purpose}", 'must be {"version": "...", "vi": "...", "en": "..."}')
        for part, text in entry.items():
            limit = 32 if part == "version" else 2000
            if not isinstance(text, str) or not text.strip() or len(text) > limit:
                raise invalid(f"value.{purpose}.{part}", f"must be a non-empty text of at most {limit} characters")
    return {**known, **value}


def below_minimum(session: Session, points: int) -> int | None:
    """The programme's minimum redemption if ``points`` is below it, else None (one rule for every path)."""
    minimum = load(session).min_redemption_points
    return minimum if minimum and points < minimum else None


def set_value(session: Session, key: str, value: Any, *, actor: str) -> None:
    value = validate(key, value)
    if key == "expired_points" and value["action"] == "convert_to_offer":
        cost = session.scalar(select(Reward.cost).where(Reward.code == value["offer"]))
        if cost is None:
            raise invalid("value.offer", f"unknown reward '{value['offer']}'")
    row = session.get(Setting, key)
    old = row.value if row else DEFAULTS.get(key)
    if row is None:
        session.add(Setting(key=key, value=value, updated_at=utcnow()))
    else:
        row.value = value
        row.updated_at = utcnow()
    session.add(
        AuditEvent(
            actor=actor,
            action="setting.changed",
            object_type="setting",
            object_id=key,
            details={"old": old, "new": value},
        )
    )
    if key == "timezone" and value != old:
        reset_day_rollups(session)
    bump_publication(session)


# The rollups keyed by the programme's local day, with their watermarks (``campaigns.watermarks``).
DAY_ROLLUPS = ((DailyStat, "daily_stats_through"), (SlaDaily, "sla_daily_through"))


def reset_day_rollups(session: Session) -> None:
    """Forget the day rollups, so the workers' next passes rebuild them from the start in the new zone's days."""
    for model, counter in DAY_ROLLUPS:
        session.execute(delete(model))
        session.execute(delete(Counter).where(Counter.name == counter))


def _template_problem(text: str) -> str | None:
    """Templates are ``str.format`` strings: only plain ``{name}`` fields, so a template can neither break
    sending (unbalanced braces) nor reach into the context's objects (``{x.__class__}``, ``{x[0]}``)."""
    if len(text) > 1000:
        return "at most 1000 characters"
    try:
        fields = [(f, spec or "") for _, f, spec, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as exc:
        return f"not a valid template: {exc}"
    for field, spec in fields:
        if not field.isidentifier() or "{" in spec:
            return f"{{{field}}}: a placeholder is a plain name such as {{points}}"
    return None
