"""Customer migration: identities, tier, birth date and opening balances with their original expiry.

An opening balance is a ledger entry of its own kind (``opening``) with a point
lot that keeps the legacy expiry, and balance deltas in the same database
transaction, so ``ledger check`` holds after a migration exactly as after
accrual. Entry keys derive from the legacy customer reference
(``open:{ref}``, then ``open:{ref}:2``... for further lots), so importing the
same file again, or resuming it, credits nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, Field, ValidationError, field_validator, model_validator
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from campaigns.accounts.ledger import add_to_balances
from campaigns.catalog.programme import Programme
from campaigns.clearing import PROGRAMME
from campaigns.customers.attributes import check_values, write
from campaigns.customers.identity import IdentityClaim, normalize_national_id, normalize_phone, resolve_many
from campaigns.errors import DomainError, FieldProblem
from campaigns.models import AuditEvent, Customer, CustomerProvider, CustomerTag, LedgerEntry, PointLot, TierChange
from campaigns.schemas import Scalar, Strict, problems_of
from campaigns.sql import table_of, upsert
from rules.operators import TAG

ENTRY_KIND = "opening"
MAX_LOTS = 50


class OpeningLot(Strict):
    """Points that keep their legacy expiry: a date (valid through that day, programme time) or a moment."""

    points: int = Field(ge=0, le=10**12)
    expires_at: date | AwareDatetime | None = None


class CustomerImportIn(Strict):
    """One migrated customer, whatever the file format."""

    customer_ref: str = Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")
    phones: list[str] = Field(default_factory=list, max_length=10)
    national_id: str | None = Field(default=None, max_length=32)
    tier: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    birth_date: date | None = None
    balances: list[OpeningLot] = Field(default_factory=list, max_length=MAX_LOTS)
    member_since: date | None = None  # the legacy membership date: months_of_service counts from it
    attributes: dict[str, Scalar] = Field(default_factory=dict, max_length=100)
    tags: list[str] = Field(default_factory=list, max_length=50)

    @field_validator("member_since")
    @classmethod
    def _member_since(cls, v: date | None) -> date | None:
        if v is not None and not date(1900, 1, 1) <= v <= date.today():
            raise ValueError("must be a date between 1900-01-01 and today")
        return v

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        for tag in v:
            if not TAG.fullmatch(tag):
                raise ValueError(f"{tag[:70]!r} is not a valid tag ({TAG.pattern})")
        return sorted(set(v))

    @field_validator("phones")
    @classmethod
    def _phones(cls, v: list[str]) -> list[str]:
        out: list[str] = []
        for raw in v:
            phone = normalize_phone(raw)
            if phone not in out:
                out.append(phone)
        return out

    @field_validator("national_id")
    @classmethod
    def _national_id(cls, v: str | None) -> str | None:
        return None if v is None else normalize_national_id(v)

    @field_validator("birth_date")
    @classmethod
    def _born(cls, v: date | None) -> date | None:
        if v is not None and not date(1900, 1, 1) <= v <= date.today():
            raise ValueError("must be a date between 1900-01-01 and today")
        return v

    @model_validator(mode="after")
    def _someone(self) -> CustomerImportIn:
        if not self.phones and self.national_id is None:
            raise ValueError("give a phone or a national_id")
        return self

    def claim(self) -> IdentityClaim:
        first = self.phones[0] if self.phones else None
        return IdentityClaim(first, self.national_id, tuple(self.phones[1:]))

    @property
    def points(self) -> int:
        return sum(lot.points for lot in self.balances)


def _split(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [part.strip() for part in str(value).split(";")]


def body_of(data: dict[str, Any]) -> dict[str, Any]:
    """CSV-style fields (``phone`` "a;b", ``points`` "100;50", ``expires_at`` "d1;d2") in the model's shape.

    NDJSON may use either these fields or the model's own (``phones``, ``balances``).
    """
    body = {k: v for k, v in data.items() if k not in ("phone", "points", "expires_at")}
    if isinstance(data.get("tags"), str):
        body["tags"] = [t for t in _split(data["tags"]) if t]
    if "phone" in data:
        body["phones"] = [*_split(body.get("phones")), *_split(data["phone"])]
    if "points" in data or "expires_at" in data:
        points, expiries = _split(data.get("points")), _split(data.get("expires_at"))
        if points and expiries and len(expiries) != len(points):
            raise DomainError(
                "validation_error",
                f"expires_at: {len(expiries)} dates for {len(points)} balances",
                [FieldProblem("expires_at", f"give one date per balance ({len(points)}), separated by ';'")],
            )
        if not points and expiries:
            raise DomainError(
                "validation_error", "points: missing", [FieldProblem("points", "an expiry date needs its points")]
            )
        lots = [
            {"points": p, "expires_at": expiries[i] if expiries and expiries[i] else None} for i, p in enumerate(points)
        ]
        body["balances"] = [*body.get("balances", []), *lots]
    return body


CSV_PATHS = {"phones": "phone", "balances": "points"}


def csv_path(path: str) -> str:
    """The CSV column a model path comes from (``balances[1].expires_at`` -> ``expires_at``)."""
    head, _, rest = path.partition(".")
    base = head.split("[", 1)[0]
    if base == "balances" and rest:
        return rest
    if base == "attributes" and rest:
        return f"attributes.{rest.split('.', 1)[0]}"  # the column itself
    if base == "tags":
        return "tags"
    return CSV_PATHS.get(base, base)


def parse_customer(data: Any, *, csv_names: bool) -> CustomerImportIn:
    """Validate one migration row or raise a DomainError naming each field (CSV column names for CSV)."""
    if not isinstance(data, dict):
        raise DomainError("validation_error", "a row must be a JSON object", [FieldProblem("row", "must be an object")])
    try:
        return CustomerImportIn.model_validate(body_of(data))
    except ValidationError as exc:
        problems = [  # a model-level problem ("give a phone or a national_id") is about the phones
            FieldProblem("phones" if p.path == "body" else p.path, p.reason) for p in problems_of(exc)
        ]
        if csv_names:
            problems = [FieldProblem(csv_path(p.path), p.reason) for p in problems]
        raise DomainError("validation_error", f"{problems[0].path}: {problems[0].reason}", problems) from None


def expiry_of(lot: OpeningLot, programme: Programme, now: datetime) -> datetime | None:
    """A date means valid through that day in the programme's time zone; none means the programme policy."""
    value = lot.expires_at
    if value is None:
        return programme.expiry_for(now)
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    zone = ZoneInfo(programme.timezone)
    return datetime.combine(value + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)


@dataclass
class ChunkResult:
    accepted: int = 0
    duplicates: int = 0
    points: int = 0


@dataclass(frozen=True, slots=True)
class Migrated:
    """A validated row of the chunk, with where it came from."""

    index: int
    item: CustomerImportIn


def apply_chunk(
    session: Session,
    rows: Sequence[Migrated],
    *,
    programme: Programme,
    tiers: frozenset[str] | None,
    now: datetime,
    source: str,
    funder_id: int = PROGRAMME,
    provider_id: int | None = None,
) -> tuple[ChunkResult, dict[int, DomainError]]:
    """Write one chunk of migrated customers (the caller commits); returns counts and per-row errors.

    A reference already migrated (its ``open:{ref}`` entry exists, or it came
    earlier in this chunk) is a duplicate and changes nothing.
    """
    result = ChunkResult()
    errors: dict[int, DomainError] = {}
    keys = {f"open:{m.item.customer_ref}" for m in rows}
    done = set(session.scalars(select(LedgerEntry.entry_key).where(LedgerEntry.entry_key.in_(keys)))) if keys else set()
    fresh: list[Migrated] = []
    seen: set[str] = set()
    for m in rows:
        item = m.item
        if f"open:{item.customer_ref}" in done or item.customer_ref in seen:
            result.duplicates += 1
            continue
        seen.add(item.customer_ref)
        if tiers is not None and item.tier is not None and item.tier not in tiers:
            known = ", ".join(sorted(tiers)) or "none published"
            errors[m.index] = DomainError(
                "validation_error",
                f"tier: unknown tier '{item.tier}'",
                [FieldProblem("tier", f"unknown tier '{item.tier}' (known: {known})")],
            )
            continue
        if item.attributes:
            try:
                check_values(programme.customer_attributes or {}, item.attributes)
            except DomainError as refused:
                errors[m.index] = refused
                continue
        for lot in item.balances:
            expires = expiry_of(lot, programme, now) if lot.points else None
            if expires is not None and expires <= now:
                errors[m.index] = DomainError(
                    "validation_error",
                    "expires_at: already expired",
                    [FieldProblem("expires_at", f"{lot.expires_at} is already past: these points have expired")],
                )
                break
        else:
            fresh.append(m)
    customers = resolve_many(session, [m.item.claim() for m in fresh])
    applied: list[tuple[Migrated, int]] = []
    for m, cid in zip(fresh, customers, strict=True):
        if isinstance(cid, DomainError):
            errors[m.index] = cid
        else:
            applied.append((m, cid))
    if not applied:
        return result, errors
    _update_customers(session, applied, now, source)
    _member_facts(session, applied, programme, now, source, provider_id)
    entries: list[dict[str, Any]] = []
    lots: list[dict[str, Any] | None] = []
    deltas: dict[int, dict[str, int]] = {}
    for m, cid in applied:
        item = m.item
        for n, lot in enumerate(item.balances or [OpeningLot(points=0)]):
            expires = expiry_of(lot, programme, now) if lot.points else None
            until = f", expires {expires.date().isoformat()}" if expires else ""
            entries.append(
                {
                    "entry_key": f"open:{item.customer_ref}" + (f":{n + 1}" if n else ""),
                    "customer_id": cid,
                    "kind": ENTRY_KIND,
                    "points": lot.points,
                    "pending": 0,
                    "qualifying": 0,
                    "debt": 0,
                    "note": f"opening balance from legacy customer {item.customer_ref}{until}"[:300],
                    "created_at": now,
                }
            )
            lots.append(
                {
                    "customer_id": cid,
                    "points": lot.points,
                    "remaining": lot.points,
                    "status": "available",
                    "available_at": None,
                    "expires_at": expires,
                    "funder_id": funder_id,
                    "created_at": now,
                }
                if lot.points
                else None
            )
        d = deltas.setdefault(cid, {"balance": 0, "lifetime_points": 0})
        d["balance"] += item.points
        d["lifetime_points"] += item.points
        result.points += item.points
        result.accepted += 1
    ledger = table_of(LedgerEntry)  # Core inserts: bulk rows, no ORM bookkeeping
    ids = session.scalars(insert(ledger).returning(ledger.c.id, sort_by_parameter_order=True), entries).all()
    lot_rows = [{**lot, "entry_id": entry_id} for lot, entry_id in zip(lots, ids, strict=True) if lot is not None]
    if lot_rows:
        session.execute(insert(table_of(PointLot)), lot_rows)
    add_to_balances(session, deltas, now)
    return result, errors


def _update_customers(session: Session, applied: Sequence[tuple[Migrated, int]], now: datetime, source: str) -> None:
    """Tier and birth date from the legacy system; a tier change is recorded in the tier history."""
    with_tier = {cid: m.item.tier for m, cid in applied if m.item.tier is not None}
    if with_tier:
        current = dict(session.execute(select(Customer.id, Customer.tier).where(Customer.id.in_(with_tier))).all())
        changed = {cid: tier for cid, tier in with_tier.items() if current.get(cid) != tier}
        if changed:
            upsert(
                session,
                table_of(Customer),
                [{"id": cid, "tier": tier, "tier_since": now} for cid, tier in changed.items()],
                ["id"],
                replace=("tier", "tier_since"),
            )
            session.execute(
                insert(TierChange),
                [
                    {
                        "customer_id": cid,
                        "from_tier": current.get(cid),
                        "to_tier": tier,
                        "reason": f"migrated from the legacy programme ({source})"[:300],
                        "at": now,
                    }
                    for cid, tier in sorted(changed.items())
                ],
            )
    born = {cid: m.item.birth_date for m, cid in applied if m.item.birth_date is not None}
    if born:
        upsert(
            session,
            table_of(Customer),
            [{"id": cid, "birth_date": day} for cid, day in born.items()],
            ["id"],
            replace=("birth_date",),
        )


def _member_facts(
    session: Session,
    applied: Sequence[tuple[Migrated, int]],
    programme: Programme,
    now: datetime,
    source: str,
    provider_id: int | None,
) -> None:
    """member_since (only ever moving earlier, also as the first contact with the file's provider), customer
    attributes and tags, through the same writes and audit as the customers API."""
    since = {cid: m.item.member_since for m, cid in applied if m.item.member_since is not None}
    if since:
        upsert(
            session,
            table_of(Customer),
            [{"id": cid, "member_since": day} for cid, day in since.items()],
            ["id"],
            least=("member_since",),
        )
        if provider_id is not None:
            zone = ZoneInfo(programme.timezone)
            upsert(
                session,
                table_of(CustomerProvider),
                [
                    {
                        "customer_id": cid,
                        "provider_id": provider_id,
                        "first_at": datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC),
                        "txn_count": 0,
                    }
                    for cid, day in since.items()
                ],
                ["customer_id", "provider_id"],
                least=("first_at",),
            )
    declared = programme.customer_attributes or {}
    for m, cid in applied:
        if m.item.attributes:
            values = check_values(declared, m.item.attributes)
            write(session, cid, values, provider_id=provider_id, actor=source, now=now)
        if m.item.tags:
            upsert(
                session,
                table_of(CustomerTag),
                [{"customer_id": cid, "tag": tag, "created_at": now} for tag in m.item.tags],
                ["customer_id", "tag"],
            )
            session.add(
                AuditEvent(
                    actor=source,
                    action="customer.tag_added",
                    object_type="customer",
                    object_id=str(cid),
                    details={"provider_id": provider_id, "tags": m.item.tags},
                )
            )
