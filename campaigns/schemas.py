"""Request schemas shared by the REST API, the file imports and the OpenAPI document.

One definition validates the input *and* generates the published schema, so
the documentation cannot drift from what the server accepts.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from campaigns.customers.identity import IdentityClaim, normalize_national_id, normalize_phone
from campaigns.errors import DomainError, FieldProblem

Scalar = str | int | float | bool | None
AttributeKey = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
# A customer-facing name or text: one string for both languages, or {"vi": ..., "en": ...}
LabelText = Annotated[str, Field(min_length=1, max_length=200)]
Label = LabelText | Annotated[dict[Literal["vi", "en"], LabelText], Field(min_length=1)]
LongText = Annotated[str, Field(min_length=1, max_length=1000)]
LongLabel = LongText | Annotated[dict[Literal["vi", "en"], LongText], Field(min_length=1)]
MAX_AMOUNT = Decimal("1e15")


def _iso_text(value: Any) -> Any:
    """A date-time is ISO 8601 text; pydantic would otherwise read a bare number as seconds since 1970."""
    if not isinstance(value, str | datetime):
        raise ValueError("must be an ISO 8601 date-time string with a UTC offset")
    return value


IsoDateTime = Annotated[AwareDatetime, BeforeValidator(_iso_text)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CustomerRef(Strict):
    """Identify the person by phone and/or national ID (CMND 9 / CCCD 12 digits)."""

    phone: str | None = Field(default=None, max_length=32, examples=["0912 345 678"])
    national_id: str | None = Field(default=None, max_length=32, examples=["001099012345"])

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        return None if v is None else normalize_phone(v)

    @field_validator("national_id")
    @classmethod
    def _national_id(cls, v: str | None) -> str | None:
        return None if v is None else normalize_national_id(v)

    @model_validator(mode="after")
    def _one_of(self) -> CustomerRef:
        if self.phone is None and self.national_id is None:
            raise ValueError("give a phone or a national_id")
        return self

    def claim(self) -> IdentityClaim:
        return IdentityClaim(self.phone, self.national_id)


class TransactionIn(Strict):
    """An accrual transaction as a provider posts it."""

    provider_txn_id: str = Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")
    customer: CustomerRef
    amount: Decimal = Field(gt=0, lt=MAX_AMOUNT, decimal_places=4, examples=[150000])
    currency: str = Field(default="VND", pattern=r"^[A-Z]{3}$")
    category: str | None = Field(default=None, min_length=1, max_length=64, examples=["topup"])
    channel: str | None = Field(default=None, min_length=1, max_length=32, examples=["app"])
    occurred_at: IsoDateTime = Field(description="ISO 8601 with a UTC offset")
    attributes: dict[AttributeKey, Scalar] = Field(default_factory=dict, max_length=50)

    @field_validator("amount", mode="before")
    @classmethod
    def _no_float_surprises(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError("must be a number")
        if isinstance(v, float):
            return Decimal(repr(v))
        return v

    @field_validator("attributes")
    @classmethod
    def _short_strings(cls, v: dict[str, Scalar]) -> dict[str, Scalar]:
        for key, value in v.items():
            if isinstance(value, str) and len(value) > 256:
                raise ValueError(f"attribute '{key}' is longer than 256 characters")
            if isinstance(value, float) and value != value:
                raise ValueError(f"attribute '{key}' is not a number")
        return v

    @model_validator(mode="after")
    def _vnd_is_whole(self) -> TransactionIn:
        if self.currency == "VND" and self.amount != self.amount.to_integral_value():
            raise ValueError("amount: VND amounts are whole numbers")
        return self

    def body_hash(self) -> str:
        """Hash of the normalised body: equal requests written differently hash the same."""
        data = self.model_dump(mode="json")
        data["amount"] = str(self.amount.normalize())
        data["occurred_at"] = self.occurred_at.astimezone(UTC).isoformat()
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


class TransactionBatchIn(Strict):
    """The envelope only: each item is validated on its own and a bad one is reported in its result."""

    transactions: list[Any] = Field(
        min_length=1, max_length=1000, description="transaction objects as for POST /transactions"
    )


class ReversalIn(Strict):
    amount: Decimal | None = Field(default=None, gt=0, lt=MAX_AMOUNT, decimal_places=4)
    reversal_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="your id for this refund; makes retries safe"
    )
    reason: str | None = Field(default=None, max_length=500)


def _path(loc: tuple[Any, ...], prefix: str) -> str:
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "body"


def problems_of(exc: ValidationError, prefix: str = "") -> list[FieldProblem]:
    problems = []
    for err in exc.errors(include_url=False):
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        loc = tuple(err["loc"])
        if msg.startswith("amount: "):
            loc, msg = ("amount",), msg[len("amount: ") :]
        problems.append(FieldProblem(_path(loc, prefix), msg))
    return problems


def parse_batch(data: dict[str, Any] | list[Any]) -> list[Any]:
    """The batch envelope, ``{"transactions": [...]}`` or the bare list, checked by ``TransactionBatchIn`` alone
    (its size limits are the API's and the OpenAPI document's); the items are checked one by one afterwards."""
    body = {"transactions": data} if isinstance(data, list) else data
    try:
        return TransactionBatchIn.model_validate(body).transactions
    except ValidationError as exc:
        problems = problems_of(exc)
        raise DomainError("validation_error", f"{problems[0].path}: {problems[0].reason}", problems) from None


def parse_transaction(data: Any, *, prefix: str = "", max_future: timedelta, now: datetime) -> TransactionIn:
    """Validate one transaction body or raise a 422 :class:`DomainError` naming each field."""
    if not isinstance(data, dict):
        raise DomainError(
            "validation_error",
            "a transaction must be a JSON object",
            [FieldProblem(prefix or "body", "must be an object")],
        )
    try:
        txn = TransactionIn.model_validate(data)
    except ValidationError as exc:
        problems = problems_of(exc, prefix)
        raise DomainError("validation_error", f"{problems[0].path}: {problems[0].reason}", problems) from None
    if txn.occurred_at > now + max_future:
        path = f"{prefix}.occurred_at" if prefix else "occurred_at"
        reason = f"is more than {int(max_future.total_seconds())} s in the future"
        raise DomainError("validation_error", f"{path}: {reason}", [FieldProblem(path, reason)])
    return txn


class EventIn(Strict):
    """A custom event (referral, app_login, survey_completed...) evaluated by the same campaigns."""

    provider_event_id: str = Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")
    event_type: str = Field(pattern=r"^[a-z][a-z0-9_]{1,31}$", examples=["referral"])
    customer: CustomerRef
    occurred_at: IsoDateTime
    channel: str | None = Field(default=None, min_length=1, max_length=32)
    attributes: dict[AttributeKey, Scalar] = Field(default_factory=dict, max_length=50)

    @field_validator("event_type")
    @classmethod
    def _not_purchase(cls, v: str) -> str:
        if v == "purchase":
            raise ValueError("purchases are posted to /api/v1/transactions")
        return v

    def body_hash(self) -> str:
        data = self.model_dump(mode="json")
        data["occurred_at"] = self.occurred_at.astimezone(UTC).isoformat()
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


class RewardIn(Strict):
    """Numbers and flags are strict (``"active": 0`` or ``"cost": "5"`` is a 422, not a guess)."""

    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{1,63}$")
    name: Label = Field(
        description='one name, or {"vi": ..., "en": ...}: the portal, SMS and USSD pick the customer\'s'
    )
    description: LongLabel | None = Field(default=None, description='shown to customers; a string or {"vi", "en"}')
    cost: StrictInt = Field(ge=0, le=10**9)
    stock: StrictInt | None = Field(default=None, ge=0, le=10**12)
    per_customer_limit: StrictInt | None = Field(default=None, ge=1, le=1_000_000)
    valid_from: IsoDateTime | None = None
    valid_to: IsoDateTime | None = None
    voucher_days: StrictInt = Field(default=30, ge=1, le=3650)
    eligibility: dict[str, Any] | None = Field(default=None, description="business-rules conditions (all/any)")
    provider: str | None = Field(default=None, description="provider code that fulfils it")
    active: StrictBool = True


class RedemptionIn(Strict):
    customer: CustomerRef | None = None
    customer_id: StrictInt | None = Field(default=None, ge=1, le=2**63 - 1)
    reward: str = Field(min_length=1, max_length=64)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=64)
    pool: StrictBool = Field(default=False, description="pay with the points of the customer's whole group")

    @model_validator(mode="after")
    def _who(self) -> RedemptionIn:
        if (self.customer is None) == (self.customer_id is None):
            raise ValueError("give either customer (phone / national_id) or customer_id")
        return self


class _Hashed(Strict):
    def body_hash(self) -> str:
        """Hash of the normalised body: a replay written differently (spaces in a phone) hashes the same."""
        return hashlib.sha256(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()


REF_PATTERN = r"^[\x21-\x7e]+$"


class _PointsOrAmount(_Hashed):
    points: StrictInt | None = Field(default=None, ge=1, le=10**12, description="points to spend")
    amount: StrictInt | None = Field(
        default=None, ge=1, le=10**15, description="VND to pay, converted at the programme's point_value"
    )

    @model_validator(mode="after")
    def _one_of(self) -> _PointsOrAmount:
        if (self.points is None) == (self.amount is None):
            raise ValueError("give either points or amount (VND)")
        return self


class PointPaymentIn(_PointsOrAmount):
    """Points spent as money at the calling provider's checkout."""

    provider_payment_id: str = Field(min_length=1, max_length=64, pattern=REF_PATTERN)
    customer: CustomerRef


class PointRefundIn(_PointsOrAmount):
    """A partial or whole refund of a points payment."""

    provider_refund_id: str = Field(min_length=1, max_length=64, pattern=REF_PATTERN)


class PointTransferIn(_Hashed):
    """Points from one member to another (``from`` / ``to`` are identities, like a transaction's customer)."""

    provider_transfer_id: str = Field(min_length=1, max_length=64, pattern=REF_PATTERN)
    sender: CustomerRef = Field(alias="from")
    to: CustomerRef
    points: StrictInt = Field(ge=1, le=10**12)

    def body_hash(self) -> str:
        data = self.model_dump(mode="json", by_alias=True)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def validation_error(model: type[BaseModel], data: Any, prefix: str = "") -> Any:
    """Validate ``data`` with ``model`` or raise a 422 naming every field."""
    if not isinstance(data, dict):
        raise DomainError(
            "validation_error", "body: must be a JSON object", [FieldProblem(prefix or "body", "must be an object")]
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = problems_of(exc, prefix)
        raise DomainError("validation_error", f"{problems[0].path}: {problems[0].reason}", problems) from None


class IdentityEventIn(Strict):
    """A number lifecycle event from the phone authority (the mobile operator)."""

    provider_event_id: str = Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")
    event: Literal["number_released", "sim_swapped"]
    phone: str = Field(max_length=32, examples=["0912 345 678"])
    occurred_at: IsoDateTime = Field(description="ISO 8601 with a UTC offset")

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str) -> str:
        return normalize_phone(v)

    def body_hash(self) -> str:
        data = self.model_dump(mode="json")
        data["occurred_at"] = self.occurred_at.astimezone(UTC).isoformat()
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


class StaffReasonIn(Strict):
    """Why a staff member re-attaches a number or lifts a hold (kept in the audit log)."""

    reason: str = Field(min_length=1, max_length=500)


class GroupIn(Strict):
    owner: CustomerRef
    name: str = Field(min_length=1, max_length=100)
    max_members: StrictInt = Field(default=5, ge=2, le=20)


class GroupMemberIn(Strict):
    """Who acts (the owner, for invitations and removals) and on whom."""

    owner: CustomerRef | None = None
    customer: CustomerRef
