"""The USSD menu, in the widely used callback form: ``text`` holds every input of the session joined by ``*``.

The menu is a pure replay of those inputs from the main screen, so no session
state is kept on our side; only the last input may change anything (language,
redemption, a missing-points claim), and a redemption or a claim is idempotent
per USSD session id, so a gateway that repeats the last request gets the same
voucher or claim. Every screen (``CON``/``END``
included) is at most 182 characters; ``0`` goes back, ``00`` to the main menu.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from campaigns.accounts import rewards as rewards_service
from campaigns.care import claims
from campaigns.catalog.programme import load as load_programme
from campaigns.channels import portal
from campaigns.channels.keywords import (
    REASONS,
    affordable_rewards,
    balance_text,
    recent_activity,
    redeem_error_text,
)
from campaigns.clock import utcnow
from campaigns.consent import consents
from campaigns.customers import numbers
from campaigns.customers.identity import PHONE, find_customer, normalize_phone
from campaigns.errors import DomainError
from campaigns.i18n import N_, NC_, translate
from campaigns.models import ConsentPurpose, Customer, CustomerBalance, Reward, UssdSession
from campaigns.notify.messages import day, language_of, number

MAX_SCREEN = 182
MAX_REF = 40  # a claimed transaction reference typed on a phone keypad
PAGE_ITEMS = 4
SEND_REASONS = {  # a refused transfer's error code -> its reason in keywords.REASONS
    "sim_swap_hold": "sim_swap_hold_spend",
    "not_found": "recipient_not_member",
    "validation_error": "transfer_invalid",
}

U: dict[str, str] = {
    "main": N_(
        "Loyalty programme\n1. Points and tier\n2. Rewards\n3. Redeem\n4. Recent activity\n5. Language/Ngôn ngữ\n6. "
        "Missing points\n7. Send points"
    ),
    "rewards": N_("Rewards ({page}/{pages}):"),
    "redeem": N_("Choose ({page}/{pages}):"),
    "pts": N_("pts"),
    "more": N_("9. More"),
    "back": N_("0. Back"),
    "confirm": N_("Redeem {reward} for {cost} points?\n1. Yes\n2. Cancel"),
    "done": N_("Done! Voucher: {voucher}. A confirmation SMS is on its way."),
    "cancelled": N_("Cancelled; your points are unchanged."),
    "no_rewards": N_("No rewards are offered right now."),
    "cannot_afford": N_("Your balance of {balance} points is not enough for any reward yet."),
    "activity": N_("Recent activity:"),
    "no_activity": N_("No activity yet."),
    "lang": N_("Choose a language:\n1. Tiếng Việt\n2. English"),
    "lang_set": N_("Language set to English."),
    "invalid": N_("Invalid choice."),
    "not_member": N_("This phone number is not a member of the loyalty programme."),
    "quarantined": N_("This number was recently released by its operator; it cannot be used for now. Thank you!"),
    "redemption": N_("Redeemed"),
    "redemption_cancel": N_("Points returned"),
    "expiry": N_("Expired"),
    "adjustment": N_("Adjustment"),
    "reversal": N_("Refund"),
    "points": N_("Earned"),
    "claim_ref": N_("Missing points: enter the transaction or receipt number\n0. Back"),
    "claim_confirm": N_("Report missing points for transaction {ref}?\n1. Yes\n2. Cancel"),
    "claim_done": N_("We received request #{id}. We will check it and reply by SMS."),
    "claim_cancelled": N_("Cancelled; no request was sent."),
    "main_consents": N_("\n8. Privacy"),
    "consents": N_("Privacy (choose to change):"),
    "consent_line": N_("{n}. {purpose}: {state}"),
    "consent_yes": NC_("ussd", "Agreed"),
    "consent_no": N_("No"),
    "consent_ask": N_("{purpose}: {state}\n1. Agree\n2. Do not agree / withdraw\n0. Back"),
    "consent_done_yes": N_("Recorded: you agree to {purpose}."),
    "consent_done_no": N_("Recorded: you do not agree to {purpose}."),
    "purpose_cross_provider_sharing": N_("Sharing with other partners"),
    "purpose_marketing": N_("Promotional messages"),
    "purpose_profiling": N_("Offers from your behaviour"),
    "payment": NC_("ussd", "Paid with points"),
    "payment_refund": NC_("ussd", "Payment refund"),
    "transfer_out": NC_("ussd", "Sent"),
    "transfer_in": N_("Received"),
    "transfer_fee": N_("Transfer fee"),
    "transfer_reversed": N_("Transfer reversed"),
    "transfer_fee_refund": NC_("ussd", "Fee refunded"),
    "send_to": N_("Send points: enter the recipient's phone number\n0. Back"),
    "send_points": N_("How many points for {phone}? Balance: {balance} points\n0. Back"),
    "send_confirm": N_("Send {points} points to {phone}?{fee}\n1. Yes\n2. Cancel"),
    "send_fee": N_(" Fee: {fee} points."),
    "send_done": N_("Sent {points} points to {phone}. Balance: {balance} points."),
    "send_cancelled": N_("Cancelled; your points are unchanged."),
    "send_failed": N_("Could not send the points: {reason}."),
}


@dataclass
class Screen:
    text: str
    notify: bool = False  # something was written to the outbox

    @property
    def ends(self) -> bool:
        return self.text.startswith("END ")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def con(body: str, error: str | None = None) -> Screen:
    text = "CON " + (error + "\n" if error else "") + body
    return Screen(clip(text, MAX_SCREEN))


def end(body: str, notify: bool = False) -> Screen:
    return Screen(clip("END " + body, MAX_SCREEN), notify)


class Menu:
    def __init__(self, session: Session, customer: Customer, session_id: str, phone: str | None = None) -> None:
        self.session, self.customer, self.session_id, self.phone = session, customer, session_id, phone
        self.lang = language_of(customer.language)
        self.zone = load_programme(session).timezone
        bal = session.get(CustomerBalance, customer.id)
        self.balance = bal.balance if bal else 0

    def u(self, key: str, **values: Any) -> str:
        return translate(self.lang, U[key], **values)

    # -- pages of rewards, packed so every screen (with an error line) fits

    def pages(self, items: list[Reward], numbered: bool, header_key: str) -> list[list[Reward]]:
        footer = len(self.u("more")) + 1 + len(self.u("back"))
        header = len(self.u(header_key, page=99, pages=99))
        budget = MAX_SCREEN - len("CON ") - (len(self.u("invalid")) + 1) - header - 1 - footer - 1
        pages: list[list[Reward]] = [[]]
        used = 0
        for r in items:
            line = len(self.item(r, 1 if numbered else None)) + 1
            if pages[-1] and (used + line > budget or len(pages[-1]) >= PAGE_ITEMS):
                pages.append([])
                used = 0
            pages[-1].append(r)
            used += line
        return pages if pages[0] else []

    def item(self, r: Reward, n: int | None) -> str:
        name = clip(r.name_in(self.lang), 24)
        prefix = f"{n}. " if n is not None else "- "
        return f"{prefix}{name}: {number(r.cost, self.lang)} {self.u('pts')}"

    def page_screen(self, kind: str, page: int, error: str | None = None) -> Screen:
        items = self.catalog(kind)
        pages = self.pages(items, kind == "redeem", kind)
        lines = [self.u(kind, page=page + 1, pages=len(pages))]
        for i, r in enumerate(pages[page], start=1):
            lines.append(self.item(r, i if kind == "redeem" else None))
        lines.append((self.u("more") + " " if page + 1 < len(pages) else "") + self.u("back"))
        return con("\n".join(lines), error)

    def catalog(self, kind: str) -> list[Reward]:
        return affordable_rewards(self.session, self.balance if kind == "redeem" else None)

    # -- the screens of each state

    def show(self, state: tuple[Any, ...], error: str | None = None) -> Screen:
        name = state[0]
        if name == "main":
            return con(self.u("main") + self.u("main_consents"), error)
        if name == "consents":
            return con(self.consents_screen(), error)
        if name == "consent":
            return con(
                self.u("consent_ask", purpose=self.u(f"purpose_{state[1]}"), state=self.state_of(state[1])), error
            )
        if name in ("rewards", "redeem"):
            return self.page_screen(name, state[1], error)
        if name == "confirm":
            reward = self.session.get(Reward, state[1])
            assert reward is not None
            return con(
                self.u("confirm", reward=clip(reward.name_in(self.lang), 40), cost=number(reward.cost, self.lang)),
                error,
            )
        if name == "lang":
            return con(self.u("lang"), error)
        if name == "claim_ref":
            return con(self.u("claim_ref"), error)
        if name == "claim_confirm":
            return con(self.u("claim_confirm", ref=state[1]), error)
        if name == "send_to":
            return con(self.u("send_to"), error)
        if name == "send_points":
            return con(self.u("send_points", phone=state[1], balance=number(self.balance, self.lang)), error)
        if name == "send_confirm":
            fee = load_programme(self.session).transfer_rules()["fee_points"]
            extra = self.u("send_fee", fee=number(fee, self.lang)) if fee else ""
            return con(self.u("send_confirm", points=number(state[2], self.lang), phone=state[1], fee=extra), error)
        raise AssertionError(state)

    def step(self, state: tuple[Any, ...], key: str, last: bool) -> tuple[Any, ...] | Screen | None:
        """The next state or a final screen; None when the input is not valid here."""
        name = state[0]
        if key == "00":
            return ("main",)
        if name == "main":
            if key == "1":
                return end(balance_text(self.session, self.customer.id, self.lang))
            if key in ("2", "3"):
                kind = "rewards" if key == "2" else "redeem"
                items = self.catalog(kind)
                if not items:
                    if kind == "rewards":
                        return end(self.u("no_rewards"))
                    return end(self.u("cannot_afford", balance=number(self.balance, self.lang)))
                return (kind, 0)
            if key == "4":
                return end(self.activity())
            if key == "5":
                return ("lang",)
            if key == "6":
                return ("claim_ref",)
            if key == "7":
                return ("send_to",)
            if key == "8":
                return ("consents",)
            return None
        if name == "consents":
            if key == "0":
                return ("main",)
            if key.isdigit() and 1 <= int(key) <= len(consents.PURPOSES):
                return ("consent", consents.PURPOSES[int(key) - 1])
            return None
        if name == "consent":
            if key in ("1", "2"):
                return self.consent(state[1], key == "1") if last else None
            if key == "0":
                return ("consents",)
        if name == "send_to":
            if key == "0":
                return ("main",)
            try:
                return ("send_points", normalize_phone(key))
            except ValueError:
                return None
        if name == "send_points":
            if key == "0":
                return ("send_to",)
            return ("send_confirm", state[1], int(key)) if key.isdigit() and 0 < int(key) < 10**12 else None
        if name == "send_confirm":
            if key == "1":
                return self.send(state[1], state[2]) if last else None
            if key == "2":
                return end(self.u("send_cancelled"))
            if key == "0":
                return ("send_points", state[1])
            return None
        if name in ("rewards", "redeem"):
            page = state[1]
            pages = self.pages(self.catalog(name), name == "redeem", name)
            if key == "0":
                return (name, page - 1) if page > 0 else ("main",)
            if key == "9" and page + 1 < len(pages):
                return (name, page + 1)
            if name == "redeem" and key.isdigit() and 1 <= int(key) <= len(pages[page]):
                return ("confirm", pages[page][int(key) - 1].id, page)
            return None
        if name == "confirm":
            if key == "1":
                return self.redeem(state[1]) if last else None
            if key in ("2",):
                return end(self.u("cancelled"))
            if key == "0":
                return ("redeem", state[2])
            return None
        if name == "claim_ref":
            if key == "0":
                return ("main",)
            return ("claim_confirm", key) if 1 <= len(key) <= MAX_REF else None
        if name == "claim_confirm":
            if key == "1":
                return self.claim(state[1]) if last else None
            if key == "2":
                return end(self.u("claim_cancelled"))
            if key == "0":
                return ("claim_ref",)
            return None
        if name == "lang":
            if key in ("1", "2"):
                if last:
                    self.customer.language = "vi" if key == "1" else "en"
                    self.lang = self.customer.language
                return end(self.u("lang_set"))
            if key == "0":
                return ("main",)
            return None
        return None

    def activity(self) -> str:
        rows = recent_activity(self.session, self.customer.id, limit=4, language=self.lang)
        if not rows:
            return self.u("no_activity")
        lines = [self.u("activity")]
        for r in rows:
            own = r["provider"] if r["kind"] == "points" else None
            label = (
                r["campaign"] or own or (self.u(r["kind"]) if r["kind"] in U else None) or r["provider"] or r["kind"]
            )
            when = day(r["created_at"], self.lang, self.zone)[:5]
            lines.append(f"{r['points']:+,} {clip(label, 18)} {when}".replace(",", "."))
        return "\n".join(lines)

    def state_of(self, purpose: ConsentPurpose) -> str:
        return self.u("consent_yes" if consents.granted(self.session, self.customer.id, purpose) else "consent_no")

    def consents_screen(self) -> str:
        lines = [self.u("consents")]
        for n, purpose in enumerate(consents.PURPOSES, start=1):
            lines.append(
                self.u("consent_line", n=n, purpose=self.u(f"purpose_{purpose}"), state=self.state_of(purpose))
            )
        lines.append(self.u("back"))
        return "\n".join(lines)

    def consent(self, purpose: ConsentPurpose, grant: bool) -> Screen:
        """Grant or withdraw on the last input only; recorded with channel ``ussd``, once per USSD session."""
        consents.record(
            self.session,
            self.customer.id,
            purpose,
            grant,
            channel="ussd",
            actor=f"customer:{self.customer.id}",
            request_ref=f"ussd:{self.session_id}"[:96],
        )
        return end(self.u("consent_done_yes" if grant else "consent_done_no", purpose=self.u(f"purpose_{purpose}")))

    def redeem(self, reward_id: int) -> Screen:
        reward = self.session.get(Reward, reward_id)
        assert reward is not None
        try:
            with self.session.begin_nested():
                view, _ = rewards_service.redeem(
                    self.session,
                    self.customer.id,
                    reward.code,
                    requested_by="ussd",
                    idempotency_key=f"ussd:{self.session_id}"[:64],
                    through_phones=[self.phone],
                )
        except DomainError as err:
            return end(redeem_error_text(err, reward, self.lang, self.balance))
        return end(self.u("done", voucher=view["voucher_code"]), notify=True)

    def send(self, phone: str, points: int) -> Screen:
        """The member's transfer, once per USSD session (a repeated last request gets the same transfer)."""
        body = {"to": {"phone": phone}, "points": points, "idempotency_key": f"ussd:{self.session_id}"[:64]}
        try:
            with self.session.begin_nested():
                view, _ = portal.send_points(
                    self.session, self.customer.id, body, channel="ussd", through_phone=self.phone
                )
        except DomainError as err:
            code = SEND_REASONS.get(err.code, err.code)
            reason = translate(self.lang, REASONS.get(code) or REASONS["transfer_invalid"])
            return end(self.u("send_failed", reason=reason))
        balance = number(view["balance"], self.lang)
        return end(self.u("send_done", points=number(points, self.lang), phone=phone, balance=balance))

    def claim(self, ref: str) -> Screen:
        """File the claim once per USSD session: a gateway repeating the last request gets the same answer."""
        claim = claims.file(
            self.session,
            self.customer.id,
            {"transaction_ref": ref},
            channel="ussd",
            filed_ref=f"ussd:{self.session_id}"[:96],
        )
        return end(self.u("claim_done", id=claim.id))

    def run(self, inputs: list[str]) -> Screen:
        state: tuple[Any, ...] = ("main",)
        error = None
        for i, raw in enumerate(inputs):
            key = raw.strip()
            nxt = self.step(state, key, last=i == len(inputs) - 1)
            if isinstance(nxt, Screen):
                return nxt
            if nxt is None:
                error = self.u("invalid")
            else:
                state, error = nxt, None
        return self.show(state, error if inputs else None)


def respond(session: Session, session_id: str, raw_phone: str, text: str) -> Screen:
    """One USSD request: the screen to show after the inputs in ``text``."""
    try:
        phone = normalize_phone(raw_phone)
    except ValueError:
        return end(translate("vi", U["not_member"]))
    if numbers.quarantined(session, phone, utcnow()) is not None:
        return end(translate("vi", U["quarantined"]) + " / " + translate("en", U["quarantined"])[:80])
    cid = find_customer(session, PHONE, phone)
    customer = session.get(Customer, cid) if cid else None
    # the session log, kept for the programme's retention.ussd_sessions_days (campaigns/privacy/retention.py)
    session.add(UssdSession(session_id=session_id[:64], phone=phone, customer_id=cid, text=text[:200]))
    if customer is None:
        return end(translate("vi", U["not_member"]) + " / " + translate("en", U["not_member"])[:80])
    inputs = [] if text == "" else text.split("*")
    return Menu(session, customer, session_id, phone).run(inputs)
