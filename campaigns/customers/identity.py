"""Central customer identity: normalise phones and national IDs, resolve and link customers.

Points belong to the *person*, so every interface resolves a customer through
here. Resolution is safe under concurrency: identities are unique in the
database, and a loser of an insert race re-reads the winner's customer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from sqlalchemy import bindparam, delete, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaigns.clock import utcnow
from campaigns.errors import DomainError, FieldProblem, conflict, invalid
from campaigns.models import Customer, CustomerBalance, CustomerIdentity
from campaigns.sql import insert_rows, table_of

DEFAULT_REGION = "VN"
PHONE = "phone"
NATIONAL_ID = "national_id"


def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """Return E.164 (``+84912345678``) or raise ``ValueError`` with a reason a person understands.

    Cached: bulk imports see the same customers again and again, and parsing a
    number costs ~20 µs (most of a row's validation time).
    """
    return _normalize_phone(raw, region)


# The shapes nearly every Vietnamese mobile number arrives in (0912345678, +84912345678, 84912345678, spaced or
# dotted) are read without ``phonenumbers.parse`` (a third of a batch's acceptance): a national number that fits
# the library's own VN mobile pattern is valid whatever else it might also be; anything else takes the full parse.
_PLAIN_VN = re.compile(r"(?:\+84|84|0)([1-9][0-9]{8})")
_SEPARATORS = str.maketrans("", "", " .-")  # as written by people and spreadsheets: 0912 345 678, 0912.345.678


def _vn_pattern(kind: str) -> re.Pattern[str] | None:
    meta = phonenumbers.PhoneMetadata.metadata_for_region("VN")
    desc = getattr(meta, kind, None)
    pattern = getattr(desc, "national_number_pattern", None)
    return re.compile(pattern) if pattern else None


_VN_GENERAL, _VN_MOBILE = _vn_pattern("general_desc"), _vn_pattern("mobile")


@lru_cache(maxsize=65_536)
def _normalize_phone(raw: str, region: str) -> str:
    text = (raw or "").strip()
    if not text:
        raise ValueError("phone number is empty")
    if region == "VN" and _VN_GENERAL is not None and _VN_MOBILE is not None:
        plain = _PLAIN_VN.fullmatch(text.translate(_SEPARATORS))
        if plain and _VN_GENERAL.fullmatch(plain[1]) and _VN_MOBILE.fullmatch(plain[1]):
            return "+84" + plain[1]
    return _parse_phone(raw, text, region)


def _parse_phone(raw: str, text: str, region: str) -> str:
    digits = "".join(ch for ch in text if ch.isdigit())
    # "84912345678" without a plus is how many systems export Vietnamese numbers.
    if region == "VN" and not text.startswith(("+", "0", "(")) and digits.startswith("84"):
        text = "+" + digits
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"'{raw}' is not a phone number ({exc._msg})") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"'{raw}' is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_national_id(raw: str) -> str:
    """CMND has 9 digits, CCCD 12; spaces are tolerated, anything else is not."""
    text = "".join((raw or "").split())
    if not text.isdigit() or not text.isascii():
        raise ValueError("national ID must contain digits only (CMND 9 digits or CCCD 12 digits)")
    if len(text) not in (9, 12):
        raise ValueError(f"national ID must have 9 (CMND) or 12 (CCCD) digits, not {len(text)}")
    return text


@dataclass(frozen=True, slots=True)
class IdentityClaim:
    """Normalised identities one request carries for one customer.

    ``more_phones`` carries a migrated customer's other numbers: they resolve and
    link like the first one (the API only ever sends one phone).
    """

    phone: str | None = None
    national_id: str | None = None
    more_phones: tuple[str, ...] = ()

    def pairs(self) -> list[tuple[str, str]]:
        out = []
        if self.phone:
            out.append((PHONE, self.phone))
        for extra in self.more_phones:
            if extra != self.phone and (PHONE, extra) not in out:
                out.append((PHONE, extra))
        if self.national_id:
            out.append((NATIONAL_ID, self.national_id))
        return out


def claim_from(phone: str | None, national_id: str | None, prefix: str = "customer") -> IdentityClaim:
    """Normalise both parts, reporting every problem with its path."""
    problems: list[FieldProblem] = []
    p = n = None
    if phone is not None:
        try:
            p = normalize_phone(phone)
        except ValueError as exc:
            problems.append(FieldProblem(f"{prefix}.phone", str(exc)))
    if national_id is not None:
        try:
            n = normalize_national_id(national_id)
        except ValueError as exc:
            problems.append(FieldProblem(f"{prefix}.national_id", str(exc)))
    if problems:
        raise DomainError("validation_error", problems[0].reason, problems, 422)
    if p is None and n is None:
        raise invalid(prefix, "give a phone or a national_id")
    return IdentityClaim(p, n)


def _owners(session: Session, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    pairs = list(set(pairs))
    if not pairs:
        return {}
    conn = session.connection()
    if len(pairs) == 1:
        ((kind, value),) = pairs
        rows = conn.execute(_OWNER, {"kind": kind, "value": value})
    else:
        rows = conn.execute(_OWNERS, {"pairs": pairs})
    return {(k, v): cid for k, v, cid in rows}


# Built once, run on the session's connection: the read every accepted transaction makes (one identity, the
# single POST's usual case, compared rather than looked up in an expanding IN list rendered at each execution).
_OWNER_COLUMNS = (CustomerIdentity.kind, CustomerIdentity.value, CustomerIdentity.customer_id)
_OWNER = select(*_OWNER_COLUMNS).where(
    CustomerIdentity.kind == bindparam("kind"), CustomerIdentity.value == bindparam("value")
)
_OWNERS = select(*_OWNER_COLUMNS).where(
    tuple_(CustomerIdentity.kind, CustomerIdentity.value).in_(bindparam("pairs", expanding=True))
)


def _conflict_error(claim: IdentityClaim, owners: dict[tuple[str, str], int]) -> DomainError:
    if claim.more_phones or (PHONE, claim.phone or "") not in owners:
        held = [(kind, value, owners[(kind, value)]) for kind, value in claim.pairs() if (kind, value) in owners]
        return conflict(
            "identity_conflict",
            "these identities belong to different customers ("
            + ", ".join(f"{value} to {cid}" for _, value, cid in held)
            + "); a staff member must merge them first",
            [FieldProblem(f"customer.{kind}", f"{value} belongs to customer {cid}") for kind, value, cid in held],
        )
    a = owners[(PHONE, claim.phone or "")]
    b = owners[(NATIONAL_ID, claim.national_id or "")]
    return conflict(
        "identity_conflict",
        f"phone belongs to customer {a} and national_id to customer {b}; a staff member must merge them first",
        [
            FieldProblem("customer.phone", f"belongs to customer {a}"),
            FieldProblem("customer.national_id", f"belongs to customer {b}"),
        ],
    )


def _decide(claim: IdentityClaim, owners: dict[tuple[str, str], int]) -> int | None:
    """The customer the claim resolves to, None when it is new; raises on a conflict."""
    found = {owners[p] for p in claim.pairs() if p in owners}
    if len(found) > 1:
        raise _conflict_error(claim, owners)
    return found.pop() if found else None


def resolve(session: Session, claim: IdentityClaim) -> int:
    """Return the customer id for ``claim``, creating or linking as needed (no commit)."""
    found = resolve_many(session, [claim])[0]
    if isinstance(found, DomainError):  # resolve_many raises a lone claim's error itself; this tells mypy
        raise found
    return found


def resolve_many(session: Session, claims: Sequence[IdentityClaim]) -> list[int | DomainError]:
    """Resolve many claims with few round trips: one read, bulk inserts for the new ones.

    Returns, per claim, the customer id or the :class:`DomainError` for that claim
    (a conflict must not sink its neighbours in a batch). ``resolve`` raises instead.
    """
    results: list[int | DomainError | None] = [None] * len(claims)
    for _attempt in range(5):
        pending = [i for i, r in enumerate(results) if r is None]
        if not pending:
            break
        try:
            fresh, links = _resolve_pass(session, claims, pending, results)
            if fresh or links:  # known customers cost one read
                _write(session, claims, fresh, links, results)
        except IntegrityError:
            # Another request created one of these identities first: re-read and retry.
            for i in pending:
                results[i] = None
            continue
    else:
        raise conflict("identity_race", "customer identity kept changing; retry the request")
    if len(claims) == 1 and isinstance(results[0], DomainError):
        raise results[0]
    return [r for r in results if r is not None]  # the loop ended with every claim decided


def _resolve_pass(
    session: Session,
    claims: Sequence[IdentityClaim],
    pending: list[int],
    results: list[int | DomainError | None],
) -> tuple[dict[tuple[tuple[str, str], ...], list[int]], list[dict[str, object]]]:
    """Decide every pending claim from one read; return what must be written: new customers (their claims by
    identity set) and new identity links."""
    owners = _owners(session, (p for i in pending for p in claims[i].pairs()))
    links: list[dict[str, object]] = []
    fresh: dict[tuple[tuple[str, str], ...], list[int]] = {}
    claimed: dict[tuple[str, str], int] = {}
    for i in pending:
        claim = claims[i]
        try:
            cid = _decide(claim, owners)
        except DomainError as err:
            results[i] = err
            continue
        if cid is None:
            # Two claims in one batch may describe the same new person.
            known = {claimed[p] for p in claim.pairs() if p in claimed}
            if len(known) > 1:
                results[i] = conflict(
                    "identity_conflict", "identities of this item belong to two customers in this batch"
                )
                continue
            if known:
                group = known.pop()
                fresh_key = next(k for k, members in fresh.items() if group in members)
                fresh[fresh_key].append(i)
                for p in claim.pairs():
                    claimed.setdefault(p, group)
                continue
            key = tuple(claim.pairs())
            fresh[key] = [i]
            for p in claim.pairs():
                claimed[p] = i
            continue
        results[i] = cid
        for kind, value in claim.pairs():
            if (kind, value) not in owners:
                owners[(kind, value)] = cid
                links.append({"customer_id": cid, "kind": kind, "value": value})
    return fresh, links


def _write(
    session: Session,
    claims: Sequence[IdentityClaim],
    fresh: dict[tuple[tuple[str, str], ...], list[int]],
    links: list[dict[str, object]],
    results: list[int | DomainError | None],
) -> None:
    ids: list[int] = []
    if fresh:  # Core inserts (table, not entity): the same SQL without the ORM's per-row bookkeeping
        now = utcnow()
        groups = [fresh[k] for k in sorted(fresh)]
        ids = insert_rows(
            session,
            table_of(Customer),
            [{"created_at": now, "timezone": "Asia/Ho_Chi_Minh"} for _ in groups],
            returning_ids=True,
        )
        insert_rows(
            session,
            table_of(CustomerBalance),
            [{"customer_id": cid, "balance": 0, "lifetime_points": 0, "updated_at": now} for cid in ids],
        )
        for cid, members in zip(ids, groups, strict=True):
            seen: set[tuple[str, str]] = set()
            for i in members:
                results[i] = cid
                for p in claims[i].pairs():
                    if p not in seen:
                        seen.add(p)
                        links.append({"customer_id": cid, "kind": p[0], "value": p[1]})
    if links:
        # One lock order on the unique index for every writer: concurrent batches wait, never deadlock.
        try:
            insert_rows(
                session, table_of(CustomerIdentity), sorted(links, key=lambda r: (str(r["kind"]), str(r["value"])))
            )
        except IntegrityError:
            # Another request linked one of these identities first. The failed INSERT undid itself (InnoDB and
            # SQLite roll back the statement, not the transaction), so no savepoint is needed around the writes
            # (two round trips each time): only the customers made for the lost claims are taken back here.
            if ids:
                balances, customers = table_of(CustomerBalance), table_of(Customer)
                session.execute(delete(balances).where(balances.c.customer_id.in_(ids)))
                session.execute(delete(customers).where(customers.c.id.in_(ids)))
            raise


def find_customer(session: Session, kind: str, value: str) -> int | None:
    return session.scalar(
        select(CustomerIdentity.customer_id).where(CustomerIdentity.kind == kind, CustomerIdentity.value == value)
    )


def identities_of(session: Session, customer_id: int) -> list[dict[str, str]]:
    rows = session.execute(
        select(CustomerIdentity.kind, CustomerIdentity.value)
        .where(CustomerIdentity.customer_id == customer_id)
        .order_by(CustomerIdentity.id)
    )
    return [{"type": k, "value": v} for k, v in rows]
