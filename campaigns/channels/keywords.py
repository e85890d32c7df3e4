"""Customer channels over the books: the SMS keyword service and the USSD menu.

Both identify the customer by the phone number the gateway gives us
(normalised with :func:`campaigns.customers.identity.normalize_phone`), answer in the
customer's language (an English SMS keyword gets an English reply), and redeem
through :func:`campaigns.accounts.rewards.redeem` only after an explicit confirmation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.accounts import rewards as rewards_service
from campaigns.accounts.ledger import expiring
from campaigns.accounts.profile import tier_progress
from campaigns.care import claims
from campaigns.catalog.documents import campaign_labels
from campaigns.catalog.programme import load as load_programme
from campaigns.catalog.tiers import tier_names
from campaigns.clock import utcnow
from campaigns.consent import consents
from campaigns.customers import numbers
from campaigns.customers.identity import PHONE, find_customer, normalize_phone
from campaigns.errors import DomainError
from campaigns.i18n import N_, translate
from campaigns.models import (
    ConsentPurpose,
    Customer,
    CustomerBalance,
    LedgerEntry,
    Provider,
    Reward,
    SmsInbound,
)
from campaigns.notify.messages import day, language_of, number, render
from campaigns.notify.outbox import queue_sms
from campaigns.notify.sms import fold
from rules.document import label_in

CONFIRM_MINUTES = 10

# ---------------------------------------------------------------------------------------------- texts

T: dict[str, str] = {
    "balance": N_("Balance: {balance} points. Tier: {tier}."),
    "progress": N_(" {left} more points to reach {next}."),
    "top": N_(" You are in the top tier."),
    "expiring": N_(" {points} points expire on {date}."),
    "tier": N_("Your tier: {tier}. Qualifying points (12 months): {have}."),
    "ask": N_("Redeem {reward} for {cost} points? Reply REDEEM {code} OK within {minutes} minutes to confirm."),
    "no_ask": N_("No pending request for {code}. Send REDEEM {code} first."),
    "no_code": N_("Send REDEEM <reward code>, e.g. REDEEM {example}."),
    "unknown_reward": N_("There is no reward {code}. Send HELP for help."),
    "short": N_("You need {cost} points for {reward}; your balance is {balance}."),
    "failed": N_("Could not redeem {reward}: {reason}."),
    "help": N_(
        "BAL: balance. TIER: your tier. REDEEM <code>: get a reward. CLAIM <ref>: missing points. STOP: no more "
        "messages."
    ),
    "claim_how": N_("Send CLAIM <transaction ref> <description>, e.g. CLAIM HD123 topup 100k no points."),
    "claim_ok": N_("We received missing-points request #{id} for transaction {ref}. We will reply by SMS."),
    "unknown": N_("Sorry, we did not understand. "),
    "stop": N_("You will no longer receive notifications. Send START to receive them again."),
    "start": N_("You will receive notifications again. Send STOP to stop."),
    "not_member": N_("This phone number is not a member of the loyalty programme."),
    "quarantined": N_(
        "This number was recently released by its operator and cannot be used in the programme for now. Thank you for "
        "your understanding."
    ),
    "none": N_("none"),
    "consent_how": N_(
        "Send AGREE <item> to consent, WITHDRAW <item> to withdraw. Items: SHARING (other partners see your "
        "activity), MARKETING (promotions), PROFILING (offers chosen from your behaviour). Now: {state}."
    ),
    "consent_granted": N_("You agreed to: {purpose}. Send WITHDRAW {word} to withdraw."),
    "consent_withdrawn": N_("You withdrew your consent to: {purpose}. Send AGREE {word} to agree again."),
    "consent_yes": N_("yes"),
    "consent_no": N_("no"),
    "purpose_cross_provider_sharing": N_("sharing your activity with other partners"),
    "purpose_marketing": N_("promotional messages"),
    "purpose_profiling": N_("offers chosen from your behaviour"),
}

REASONS: dict[str, str] = {
    "out_of_stock": N_("out of stock"),
    "limit_reached": N_("you reached the limit for this reward"),
    "not_eligible": N_("you are not eligible"),
    "reward_unavailable": N_("not offered now"),
    "insufficient_points": N_("not enough points"),
    "below_minimum_redemption": N_("below the programme's minimum redemption"),
    "sim_swap_hold": N_(
        "the SIM of this number was changed recently, so redemptions are on hold; please call customer care"
    ),
    "sim_swap_hold_spend": N_(
        "the SIM of this number was changed recently, so spending points is on hold; please call customer care"
    ),
    "transfer_limit": N_("over the daily or monthly transfer limit"),
    "below_minimum_transfer": N_("below the programme's minimum transfer"),
    "recipient_not_member": N_("the recipient is not a member"),
    "transfer_invalid": N_("invalid details"),
}

KEYWORDS: dict[str, tuple[str, str | None]] = {
    # folded keyword -> (intent, language of the reply; None: the customer's)
    "DIEM": ("balance", "vi"),
    "BAL": ("balance", "en"),
    "BALANCE": ("balance", "en"),
    "HANG": ("tier", "vi"),
    "TIER": ("tier", "en"),
    "DOI": ("redeem", "vi"),
    "REDEEM": ("redeem", "en"),
    "HELP": ("help", None),
    "HD": ("help", "vi"),
    "HUONGDAN": ("help", "vi"),
    "TUCHOI": ("stop", "vi"),
    "STOP": ("stop", "en"),
    "BATDAU": ("start", "vi"),
    "START": ("start", "en"),
    "KHIEUNAI": ("claim", "vi"),
    "THIEUDIEM": ("claim", "vi"),
    "CLAIM": ("claim", "en"),
    "DONGY": ("consent_grant", "vi"),
    "HUY": ("consent_withdraw", "vi"),
    "AGREE": ("consent_grant", "en"),
    "WITHDRAW": ("consent_withdraw", "en"),
}

# The word after DONGY / HUY / AGREE / WITHDRAW (spaces dropped: "QUANG CAO" is QUANGCAO) -> purpose
CONSENT_WORDS: dict[str, ConsentPurpose] = {
    "CHIASE": "cross_provider_sharing",
    "SHARING": "cross_provider_sharing",
    "SHARE": "cross_provider_sharing",
    "CROSS_PROVIDER_SHARING": "cross_provider_sharing",
    "QUANGCAO": "marketing",
    "KHUYENMAI": "marketing",
    "MARKETING": "marketing",
    "PHANTICH": "profiling",
    "PROFILING": "profiling",
}
REPLY_WORD = {
    "vi": {"cross_provider_sharing": "CHIASE", "marketing": "QUANGCAO", "profiling": "PHANTICH"},
    "en": {"cross_provider_sharing": "SHARING", "marketing": "MARKETING", "profiling": "PROFILING"},
}


def t(language: str, key: str, **values: Any) -> str:
    return translate(language, T[key], **values)


# ---------------------------------------------------------------------------------------------- read models


@dataclass
class Summary:
    balance: int
    tier: str
    tier_code: str | None
    have: int | None = None
    next_name: str | None = None
    left: int | None = None
    expiring: list[dict[str, Any]] = field(default_factory=list)


def summary(session: Session, customer_id: int, language: str | None = None) -> Summary:
    """The customer's standing, with tier names in ``language`` (default: the customer's own)."""
    customer = session.get(Customer, customer_id)
    bal = session.get(CustomerBalance, customer_id)
    language = language or (customer.language if customer else None)
    names = tier_names(session, language)
    code = customer.tier if customer else None
    s = Summary(
        balance=bal.balance if bal else 0,
        tier=names.get(code or "", code or "—"),
        tier_code=code,
        expiring=expiring(session, customer_id, utcnow(), months=1),
    )
    progress = tier_progress(session, customer_id, code, language) if names else None
    if progress:
        s.have, s.next_name = progress["have"], progress["name"]
        s.left = max(0, progress["need"] - progress["have"])
    return s


def balance_text(session: Session, customer_id: int, language: str) -> str:
    s = summary(session, customer_id, language)
    text = t(language, "balance", balance=number(s.balance, language), tier=s.tier)
    if s.left:
        text += t(language, "progress", left=number(s.left, language), next=s.next_name)
    elif s.tier_code and s.next_name is None and tier_names(session):
        text += t(language, "top")
    if s.expiring:
        first = s.expiring[0]
        when = day(first["date"], language, load_programme(session).timezone)
        text += t(language, "expiring", points=number(first["points"], language), date=when)
    return text


def affordable_rewards(session: Session, balance: int | None = None) -> list[Reward]:
    now = utcnow()
    minimum = load_programme(session).min_redemption_points or 0
    out = []
    for r in rewards_service.list_rewards(session, active_only=True):
        if r.cost < minimum:  # refused at redemption: not offered either
            continue
        if (r.valid_from and now < r.valid_from) or (r.valid_to and now >= r.valid_to):
            continue
        if r.stock is not None and r.issued >= r.stock:
            continue
        if balance is not None and r.cost > balance:
            continue
        out.append(r)
    return out


def recent_activity(
    session: Session, customer_id: int, limit: int = 5, language: str | None = None
) -> list[dict[str, Any]]:
    """The customer's latest ledger entries, the provider named in ``language`` (its English name if it has one)
    and the campaign that awarded them named in it too (from the version that awarded them: ``{vi, en}`` names)."""
    english = language_of(language) == "en"
    rows = session.execute(
        select(LedgerEntry, Provider.name_en if english else Provider.name, Provider.name)
        .outerjoin(Provider, Provider.id == LedgerEntry.provider_id)
        .where(LedgerEntry.customer_id == customer_id)
        .order_by(LedgerEntry.id.desc())
        .limit(limit)
    ).all()
    versions = {(e.campaign_id, e.campaign_version) for e, _, _ in rows if e.campaign_id and e.campaign_version}
    labels = campaign_labels(session, versions)
    return [
        {
            "id": e.id,
            "kind": e.kind,
            "points": e.points + e.pending,
            "pending": e.pending,
            "provider": name or default_name,
            "campaign": (
                label_in(labels[(e.campaign_id, e.campaign_version)], language_of(language))
                if (e.campaign_id, e.campaign_version) in labels
                else None
            ),
            "transaction_id": e.transaction_id,
            "note": e.note,
            "created_at": e.created_at,
        }
        for e, name, default_name in rows
    ]


def redeem_error_text(err: DomainError, reward: Reward, language: str, balance: int) -> str:
    if err.code == "insufficient_points":
        return t(
            language,
            "short",
            cost=number(reward.cost, language),
            reward=reward.name_in(language),
            balance=number(balance, language),
        )
    reason = translate(language, REASONS[err.code]) if err.code in REASONS else err.message
    return t(language, "failed", reward=reward.name_in(language), reason=reason)


# ---------------------------------------------------------------------------------------------- SMS


@dataclass
class SmsResult:
    intent: str
    reply: str
    inbound_id: int
    outbox_id: int | None
    duplicate: bool = False


def handle_sms(session: Session, raw_phone: str, text: str, *, message_id: str | None = None) -> SmsResult:
    """Understand one keyword message and queue the reply in the outbox (the caller commits)."""
    phone = normalize_phone(raw_phone)
    if message_id:
        old = session.scalar(select(SmsInbound).where(SmsInbound.message_id == message_id))
        if old is not None:  # the gateway retried: same answer, nothing done twice
            return SmsResult(old.intent, old.reply or "", old.id, None, duplicate=True)
    now = utcnow()
    quarantine = numbers.quarantined(session, phone, now)
    cid = None if quarantine is not None else find_customer(session, PHONE, phone)
    customer = session.get(Customer, cid) if cid else None
    words = fold(text or "").split()
    raw_args = (text or "").split()[1:]  # as typed (a claim's reference and description keep their case)
    if len(words) >= 2 and words[0] + words[1] in KEYWORDS:  # "TU CHOI", "HUONG DAN", "BAT DAU", "KHIEU NAI"
        words = [words[0] + words[1], *words[2:]]
        raw_args = raw_args[1:]
    intent, lang = KEYWORDS.get(words[0], ("unknown", None)) if words else ("unknown", None)
    language = lang or (customer.language if customer else "vi")
    inbound = SmsInbound(
        message_id=message_id, phone=phone, customer_id=cid, text=(text or "")[:1000], intent=intent, created_at=now
    )
    session.add(inbound)
    session.flush()
    reply_via_outbox = True
    if quarantine is not None:
        inbound.intent, reply = "quarantined", t(language, "quarantined")
    elif customer is None:
        reply = t(language, "not_member")
    elif intent == "balance":
        reply = balance_text(session, customer.id, language)
    elif intent == "tier":
        s = summary(session, customer.id, language)
        reply = t(language, "tier", tier=s.tier, have=number(s.have or 0, language))
        if s.left:
            reply += t(language, "progress", left=number(s.left, language), next=s.next_name)
    elif intent == "redeem":
        reply, reply_via_outbox = _sms_redeem(session, customer, words[1:], inbound, language, now)
    elif intent == "claim":
        reply = _sms_claim(session, customer, raw_args, inbound, language, now)
    elif intent == "stop":
        customer.sms_opt_out_at = customer.sms_opt_out_at or now
        reply = t(language, "stop")
    elif intent == "start":
        customer.sms_opt_out_at = None
        reply = t(language, "start")
    elif intent in ("consent_grant", "consent_withdraw"):
        reply = _sms_consent(session, customer, words[1:], intent == "consent_grant", inbound, language, now)
    elif intent == "help":
        reply = t(language, "help")
    else:
        reply = t(language, "unknown") + t(language, "help")
    inbound.reply = reply
    outbox_id = None
    if reply_via_outbox:
        row = queue_sms(
            session,
            dedupe_key=f"in:{inbound.id}",
            template="sms_reply",
            payload={"text": reply},
            customer_id=customer.id if customer else None,
            to=phone,
            now=now,
        )
        outbox_id = row.id
    return SmsResult(inbound.intent, reply, inbound.id, outbox_id)


def _sms_consent(
    session: Session,
    customer: Customer,
    args: list[str],
    grant: bool,
    inbound: SmsInbound,
    language: str,
    now: datetime,
) -> str:
    """``DONGY <item>`` / ``HUY <item>``: grant or withdraw one purpose; without an item, how and the state now."""
    purpose = CONSENT_WORDS.get("".join(args))
    lang = language_of(language)
    if purpose is None:
        state = consents.current(session, customer.id)
        now_text = ", ".join(
            f"{REPLY_WORD[lang][p]} {t(lang, 'consent_yes' if row and row.granted else 'consent_no')}"
            for p, row in state.items()
        )
        return t(lang, "consent_how", state=now_text)
    inbound.argument = purpose
    consents.record(session, customer.id, purpose, grant, channel="sms", actor=f"customer:{customer.id}", now=now)
    key = "consent_granted" if grant else "consent_withdrawn"
    return t(lang, key, purpose=t(lang, f"purpose_{purpose}"), word=REPLY_WORD[lang][purpose])


def _sms_claim(
    session: Session, customer: Customer, args: list[str], inbound: SmsInbound, language: str, now: datetime
) -> str:
    """``KHIEUNAI <ref> [text]``: file a missing-points claim for the transaction ``ref``."""
    if not args:
        return t(language, "claim_how")
    ref = args[0][:64]
    inbound.argument = ref
    claim = claims.file(
        session,
        customer.id,
        {"transaction_ref": ref, "description": " ".join(args[1:])[:1000]},
        channel="sms",
        filed_ref=f"sms:{inbound.id}",
        now=now,
    )
    return t(language, "claim_ok", id=claim.id, ref=ref)


def _sms_redeem(
    session: Session, customer: Customer, args: list[str], inbound: SmsInbound, language: str, now: datetime
) -> tuple[str, bool]:
    if not args:
        example = next((r.code for r in affordable_rewards(session)), "TOPUP10")
        return t(language, "no_code", example=example), True
    code = args[0]
    inbound.argument = code[:64]
    reward = session.scalar(select(Reward).where(Reward.code == code))
    if reward is None:  # codes are stored as typed; fall back to a case-insensitive match
        reward = next((r for r in rewards_service.list_rewards(session) if fold(r.code) == code), None)
    if reward is None or not reward.active:
        return t(language, "unknown_reward", code=code), True
    bal = session.get(CustomerBalance, customer.id)
    balance = bal.balance if bal else 0
    confirmed = len(args) >= 2 and args[1] in ("OK", "YES", "CO", "DONGY")
    if not confirmed:
        inbound.intent = "redeem_ask"
        if balance < reward.cost:
            return t(
                language,
                "short",
                cost=number(reward.cost, language),
                reward=reward.name_in(language),
                balance=number(balance, language),
            ), True
        text = t(
            language,
            "ask",
            reward=reward.name_in(language),
            cost=number(reward.cost, language),
            code=reward.code,
            minutes=CONFIRM_MINUTES,
        )
        return text, True
    ask = session.scalar(
        select(SmsInbound)
        .where(
            SmsInbound.customer_id == customer.id,
            SmsInbound.intent == "redeem_ask",
            SmsInbound.argument == inbound.argument,
            SmsInbound.used_at.is_(None),
            SmsInbound.created_at >= now - timedelta(minutes=CONFIRM_MINUTES),
        )
        .order_by(SmsInbound.id.desc())
        .limit(1)
        .with_for_update()
    )
    if ask is None:
        return t(language, "no_ask", code=reward.code), True
    try:
        with session.begin_nested():
            view, _ = rewards_service.redeem(
                session,
                customer.id,
                reward.code,
                requested_by="sms",
                idempotency_key=f"sms:{ask.id}",
                through_phones=[inbound.phone],
            )
    except DomainError as err:
        return redeem_error_text(err, reward, language, balance), True
    ask.used_at = now
    # the redemption_issued notification (same transaction) carries the voucher: it is the reply
    return render(
        "redemption_issued", {"reward": reward.name_in(language), "voucher": view["voucher_code"]}, language
    ), False
