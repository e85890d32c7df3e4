"""OpenAPI 3.1 document built from the pydantic models that validate the requests."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

from campaigns.channels.portal import SendPointsIn
from campaigns.notify.webhooks import EVENTS as WEBHOOK_EVENTS
from campaigns.schemas import (
    EventIn,
    GroupIn,
    GroupMemberIn,
    IdentityEventIn,
    PointPaymentIn,
    PointRefundIn,
    PointTransferIn,
    RedemptionIn,
    ReversalIn,
    RewardIn,
    StaffReasonIn,
    TransactionBatchIn,
    TransactionIn,
)

from . import bp


class FieldError(BaseModel):
    path: str
    reason: str
    line: int | None = Field(default=None, description="where a campaign document's error is (1-based)")
    column: int | None = Field(default=None, description="with line: the column (1-based)")


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: list[FieldError]


class ErrorBody(BaseModel):
    error: ErrorDetail


class TransactionAccepted(BaseModel):
    id: int
    provider_txn_id: str
    customer_id: int
    status: Literal["queued", "processed", "rejected", "reversed"]
    received_at: datetime


class EventAccepted(BaseModel):
    id: int
    provider_event_id: str
    customer_id: int
    status: Literal["queued", "processed", "rejected", "reversed"]
    received_at: datetime


class BatchItem(BaseModel):
    index: int
    status: Literal["accepted", "duplicate", "error"]
    transaction_status: Literal["queued", "processed", "rejected", "reversed"] | None = None
    id: int | None = None
    provider_txn_id: str | None = None
    customer_id: int | None = None
    received_at: datetime | None = None
    error: ErrorDetail | None = None


class BatchResult(BaseModel):
    results: list[BatchItem]
    accepted: int
    duplicate: int
    error: int


class Award(BaseModel):
    campaign: str | None
    campaign_id: int | None
    campaign_version: int | None
    rule: str | None
    points: int


class ReversalView(BaseModel):
    id: int
    transaction_id: int
    reversal_id: str | None
    amount: Decimal
    status: Literal["pending", "applied"]
    points: int
    created_at: datetime
    applied_at: datetime | None


class TransactionView(BaseModel):
    id: int
    provider: str
    provider_txn_id: str
    customer_id: int
    status: Literal["queued", "processed", "rejected", "reversed"]
    amount: Decimal
    currency: str
    category: str | None
    channel: str | None
    attributes: dict[str, Any]
    occurred_at: datetime
    received_at: datetime
    processed_at: datetime | None
    reject_reason: str | None
    reversed_amount: Decimal
    points: int
    awards: list[Award]
    reversals: list[ReversalView]


class Identity(BaseModel):
    type: Literal["phone", "national_id"]
    value: str


class LedgerLine(BaseModel):
    id: int
    kind: str
    points: int
    provider: str | None
    transaction_id: int | None
    campaign: str | None
    campaign_label: str | dict[str, str] | None = Field(
        default=None, description="the campaign's name as its document gives it: a string or {vi, en}"
    )
    rule: str | None
    created_at: datetime


class PastIdentity(BaseModel):
    type: Literal["phone", "national_id"]
    value: str
    linked_at: datetime | None
    released_at: datetime
    reason: str
    reattached_at: datetime | None


class CustomerView(BaseModel):
    id: int
    identities: list[Identity]
    identity_history: list[PastIdentity]
    tier: str | None
    created_at: datetime
    balance: int
    lifetime_points: int
    ledger: list[LedgerLine]
    shared: bool | None = Field(
        None,
        description="For a provider: whether the member granted cross_provider_sharing (false: only the "
        "provider's own ledger lines, no redemptions); absent for staff",
    )
    attributes: dict[str, Any] = Field(default={}, description="customer attributes (customer.<name> in rules)")
    member_since: str | None = Field(default=None, description="membership date from a migration file")


class CampaignVersionInfo(BaseModel):
    version: int
    status: str
    author: str
    created_at: datetime
    published_at: datetime | None


class DocumentWarning(BaseModel):
    """A category or attribute value no transaction of the last 90 days carried: maybe a typo, not an error."""

    path: str
    reason: str
    line: int | None = None
    column: int | None = None


class ExperimentGroupView(BaseModel):
    customers: int
    spend_per_customer: float | None
    transactions_per_customer: float | None
    redemptions_per_customer: float | None
    points_awarded: int | None = None
    points_withheld: int | None = None


class ExperimentDifference(BaseModel):
    difference: float | None
    ci95_low: float | None
    ci95_high: float | None


class ExperimentWindow(BaseModel):
    from_: datetime = Field(alias="from")
    to: datetime


class ExperimentReport(BaseModel):
    """Treated against control over the campaign's life (campaigns.reporting.experiments)."""

    control_share: int | None
    window: ExperimentWindow
    groups: dict[Literal["treated", "control"], ExperimentGroupView]
    difference: dict[
        Literal["spend_per_customer", "transactions_per_customer", "redemptions_per_customer"], ExperimentDifference
    ]
    points_credited: int
    cost_vnd: int
    incremental_spend_vnd: int
    cost_per_incremental_vnd: float | None


class CampaignView(BaseModel):
    id: int
    name: str
    type: str
    status: str
    latest_version: int
    published_version: int | None
    created_at: datetime
    updated_at: datetime
    versions: list[CampaignVersionInfo]
    document: dict[str, Any] | None
    warnings: list[DocumentWarning] = Field(default=[], description="on create: open-set values not seen lately")
    experiment: ExperimentReport | None = None  # only on GET /campaigns/{id}, for a campaign with a holdout


class CampaignList(BaseModel):
    campaigns: list[CampaignView]


class ValidationOk(BaseModel):
    valid: bool
    name: str
    type: str
    warnings: list[DocumentWarning] = []


class RewardView(BaseModel):
    id: int
    code: str
    name: str | dict[str, str]  # as given: one name, or {"vi": ..., "en": ...}
    description: str | dict[str, str] | None = None
    cost: int
    stock: int | None
    issued: int
    available: int | None
    per_customer_limit: int | None
    valid_from: datetime | None
    valid_to: datetime | None
    voucher_days: int
    eligibility: dict[str, Any] | None
    active: bool


class RewardList(BaseModel):
    rewards: list[RewardView]


class RedemptionView(BaseModel):
    id: int
    customer_id: int
    reward: str | None
    reward_name: str | None
    points: int
    voucher_code: str
    status: Literal["issued", "cancelled"]
    source: str
    expires_at: datetime | None
    created_at: datetime
    cancelled_at: datetime | None


class GroupView(BaseModel):
    id: int
    name: str
    owner_id: int
    max_members: int
    dissolved_at: datetime | None
    members: list[dict[str, Any]]
    pooled_balance: int
    history: list[dict[str, Any]]


class ImportView(BaseModel):
    """A bulk import: counts while it runs (updated with every committed chunk), the summary after."""

    id: int
    kind: Literal["transactions", "customers"]
    status: Literal["queued", "running", "done", "failed"]
    finished: bool
    provider: str | None
    file_name: str
    format: Literal["csv", "ndjson"]
    compression: Literal["gzip"] | None
    size_bytes: int
    rows_read: int
    accepted: int
    duplicates: int
    rejected: int
    last_line: int
    progress: float
    rows_per_second: float
    eta_seconds: float | None
    message: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    errors_url: str


class ImportList(BaseModel):
    imports: list[ImportView]


class SimulationIn(BaseModel):
    document: dict[str, Any] | str
    transaction: dict[str, Any] | None = Field(
        default=None,
        description="the short form (provider, amount, category, channel, event_type, occurred_at, attributes, "
        "customer, context) or exactly a provider's POST /transactions body; evaluated at its occurred_at",
    )
    provider: str | None = Field(default=None, description="the posting provider of a provider body")
    days: int | None = Field(
        default=None, description="replay: the draft alone, the live campaigns, both together and the difference"
    )


class WebhookIn(BaseModel):
    url: str = Field(max_length=500, description="http(s) URL the events are POSTed to")
    events: list[Literal[WEBHOOK_EVENTS]] = Field(min_length=1)  # type: ignore[valid-type]


class WebhookView(BaseModel):
    id: int
    url: str
    events: list[str]
    active: bool
    created_at: datetime


class WebhookCreated(WebhookView):
    secret: str = Field(description="Signing secret (shown once): X-Loyalty-Signature is HMAC-SHA256 with it")


class WebhookList(BaseModel):
    webhooks: list[WebhookView]
    events: list[str]


class DeliveryView(BaseModel):
    id: int
    event: str
    event_id: Any = None
    url: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class DeliveryList(BaseModel):
    deliveries: list[DeliveryView]


class IdentityEventView(BaseModel):
    id: int
    provider_event_id: str
    event: Literal["number_released", "sim_swapped"]
    phone: str
    occurred_at: datetime
    received_at: datetime
    customer_id: int | None


class PhoneStateView(BaseModel):
    phone: str
    customer_id: int | None
    released_at: datetime | None
    released_from: int | None
    quarantined: bool
    quarantine_until: datetime | None
    sim_swapped_at: datetime | None
    hold: bool
    hold_until: datetime | None
    hold_lifted_at: datetime | None


PHONE_MODELS: list[type[BaseModel]] = [IdentityEventIn, IdentityEventView, StaffReasonIn, PhoneStateView]


class PointRefundView(BaseModel):
    id: int
    payment_id: int
    provider_refund_id: str
    points: int
    amount: int = Field(description="VND given back (the last refund takes exactly what is left)")
    balance: int = Field(description="the customer's balance after this refund")
    created_at: datetime


class PointPaymentView(BaseModel):
    id: int
    provider_payment_id: str
    provider: str | None
    customer_id: int
    points: int
    amount: int = Field(description="VND paid with the points (points x point_value)")
    refunded_points: int
    refunded_amount: int
    status: Literal["paid", "partly_refunded", "refunded"]
    balance: int = Field(description="the customer's balance after the payment")
    created_at: datetime
    refunds: list[PointRefundView]


class PointRefundResult(PointRefundView):
    payment: PointPaymentView


class PointTransferView(BaseModel):
    id: int
    provider_transfer_id: str | None
    from_customer_id: int
    to_customer_id: int
    points: int
    fee_points: int
    status: Literal["done", "reversed"]
    channel: Literal["api", "app", "portal", "ussd"]
    balance: int = Field(description="the sender's balance after the transfer")
    created_at: datetime
    reversed_at: datetime | None
    reversed_by: str | None


PAYMENT_MODELS: list[type[BaseModel]] = [
    PointPaymentIn,
    PointRefundIn,
    PointTransferIn,
    SendPointsIn,
    PointRefundView,
    PointPaymentView,
    PointRefundResult,
    PointTransferView,
]

WEBHOOK_MODELS: list[type[BaseModel]] = [WebhookIn, WebhookCreated, WebhookList, DeliveryView, DeliveryList]


MODELS: list[type[BaseModel]] = [
    EventIn,
    RewardIn,
    RedemptionIn,
    GroupIn,
    GroupMemberIn,
    RewardView,
    RewardList,
    RedemptionView,
    GroupView,
    SimulationIn,
    ImportView,
    ImportList,
    TransactionIn,
    TransactionBatchIn,
    ReversalIn,
    ErrorBody,
    TransactionAccepted,
    EventAccepted,
    BatchResult,
    TransactionView,
    ReversalView,
    CustomerView,
    CampaignView,
    CampaignList,
    ValidationOk,
    *WEBHOOK_MODELS,
    *PHONE_MODELS,
    *PAYMENT_MODELS,
]


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _bare_batch() -> dict[str, Any]:
    """The bare-list form of the batch body: TransactionBatchIn's own ``transactions`` schema (one limit)."""
    field = TransactionBatchIn.model_json_schema()["properties"]["transactions"]
    return {k: field[k] for k in ("type", "minItems", "maxItems", "items")}


def _json(model: type[BaseModel]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": _ref(model)}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Malformed JSON",
        401: "Missing or unknown API key",
        403: "Wrong kind of key",
        404: "Not found (or not yours)",
        409: "Conflict",
        413: "Body too large",
        415: "Unsupported media type",
        422: "Invalid field(s); each named with its path",
        429: "Rate limited (see Retry-After)",
        503: "Database unreachable; nothing stored (see Retry-After)",
    }
    return {str(c): {"description": text[c], **_json(ErrorBody)} for c in codes}


COMMON = (400, 401, 403, 413, 415, 503)
DOC_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"type": "object"}},
        "application/yaml": {"schema": {"type": "string"}},
    },
}


def build_document(server_url: str = "/") -> dict[str, Any]:
    _, schemas = models_json_schema([(m, "validation") for m in MODELS], ref_template="#/components/schemas/{model}")
    components = schemas.get("$defs", {})
    txn_id = [{"name": "txn_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
    camp_id = [{"name": "campaign_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
    import_id = [{"name": "import_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Loyalty campaign manager API",
            "version": "1.0.0",
            "description": "Providers post transactions; staff manage campaign documents. "
            "Authenticate with `Authorization: Bearer <API key>`.",
        },
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "customer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A customer token (lc_…) from POST /api/v1/me/token",
                },
            },
            "schemas": components,
        },
        "paths": {
            "/api/v1/transactions": {
                "post": {
                    "summary": "Post one transaction (persisted before the answer)",
                    "operationId": "createTransaction",
                    "requestBody": {"required": True, **_json(TransactionIn)},
                    "responses": {
                        "202": {"description": "Accepted and queued", **_json(TransactionAccepted)},
                        "200": {"description": "Replay of an identical transaction", **_json(TransactionAccepted)},
                        **_errors(*COMMON, 409, 422),
                    },
                }
            },
            "/api/v1/transactions/batch": {
                "post": {
                    "summary": f"Post up to {_bare_batch()['maxItems']:,} transactions; one result per item",
                    "operationId": "createTransactionsBatch",
                    "description": 'The body is `{"transactions": [...]}` or the bare list. Each item is '
                    "validated on its own, like a POST /transactions body: an invalid item gets `status: error` in "
                    "its result (naming the path) and does not stop the others.",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "anyOf": [
                                        _ref(TransactionBatchIn),
                                        _bare_batch(),
                                    ]
                                }
                            }
                        },
                    },
                    "responses": {
                        "202": {"description": "At least one accepted", **_json(BatchResult)},
                        "200": {"description": "Nothing new accepted", **_json(BatchResult)},
                        **_errors(*COMMON, 422),
                    },
                }
            },
            "/api/v1/transactions/{txn_id}": {
                "get": {
                    "summary": "Status, net points and awards of one of your transactions",
                    "operationId": "getTransaction",
                    "parameters": txn_id,
                    "responses": {
                        "200": {"description": "The transaction", **_json(TransactionView)},
                        **_errors(401, 403, 404, 503),
                    },
                }
            },
            "/api/v1/transactions/{txn_id}/reversal": {
                "post": {
                    "summary": "Full or partial refund; points are clawed back in proportion",
                    "operationId": "reverseTransaction",
                    "parameters": txn_id,
                    "requestBody": {"required": False, **_json(ReversalIn)},
                    "responses": {
                        "201": {"description": "Applied", **_json(ReversalView)},
                        "202": {"description": "Recorded; applied right after the credit", **_json(ReversalView)},
                        "200": {"description": "Replay of the same reversal_id", **_json(ReversalView)},
                        **_errors(*COMMON, 404, 409, 422),
                    },
                }
            },
            "/api/v1/claims": {
                "get": {
                    "summary": "Missing-points claims in your queue (a provider key: its own), soonest deadline first",
                    "operationId": "listClaims",
                    "parameters": [
                        {
                            "name": "state",
                            "in": "query",
                            "schema": {
                                "type": "string",
                                "enum": ["live", "open", "assigned", "investigating", "resolved", "rejected"],
                                "default": "live",
                            },
                        },
                        {"name": "overdue", "in": "query", "schema": {"type": "string", "enum": ["0", "1"]}},
                    ],
                    "responses": {
                        "200": {
                            "description": "The claims",
                            **_obj({"claims": {"type": "array", "items": {"type": "object"}}}),
                        },
                        **_errors(401, 403, 422, 503),
                    },
                }
            },
            "/api/v1/customers/lookup": {
                "get": {
                    "summary": "Find a customer by phone or national ID",
                    "operationId": "lookupCustomer",
                    "parameters": [
                        {"name": "phone", "in": "query", "schema": {"type": "string"}},
                        {"name": "national_id", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": {"description": "The customer", **_json(CustomerView)},
                        **_errors(401, 403, 404, 422, 503),
                    },
                }
            },
            "/api/v1/customers/{customer_id}": {
                "get": {
                    "summary": "A customer you have dealt with",
                    "operationId": "getCustomer",
                    "parameters": [
                        {"name": "customer_id", "in": "path", "required": True, "schema": {"type": "integer"}}
                    ],
                    "responses": {
                        "200": {"description": "The customer", **_json(CustomerView)},
                        **_errors(401, 403, 404, 503),
                    },
                }
            },
            "/api/v1/customers/{customer_id}/attributes": {
                "put": {
                    "summary": "Replace the customer attributes you set (customer.<name> in rules); null removes one",
                    "operationId": "putCustomerAttributes",
                    "description": "Names and types are the programme setting `customer_attributes`; an undeclared "
                    "name or a value of the wrong type is a 422 naming `attributes.<name>`. The namespace is "
                    "programme-wide: a provider's PUT replaces the attributes it set and leaves another provider's "
                    "unless it names them (a staff token replaces the whole set); a provider reaches only "
                    "customers it has dealt with. Audited.",
                    "parameters": [CUSTOMER_ID],
                    "requestBody": {
                        "required": True,
                        **_obj({"attributes": {"type": "object", "additionalProperties": ATTRIBUTE_VALUE}}),
                    },
                    "responses": {
                        "200": {"description": "The customer's attributes and tags", **CUSTOMER_ATTRIBUTES},
                        **_errors(*COMMON, 404, 422),
                    },
                }
            },
            "/api/v1/customers/{customer_id}/tags/{tag}": {
                "put": {
                    "summary": "Tag a customer (customer_tags in rules); idempotent, audited",
                    "operationId": "putCustomerTag",
                    "parameters": [CUSTOMER_ID, TAG_PARAM],
                    "responses": {
                        "200": {"description": "The customer's attributes and tags", **CUSTOMER_ATTRIBUTES},
                        **_errors(401, 403, 404, 422, 503),
                    },
                },
                "delete": {
                    "summary": "Remove a customer's tag; idempotent, audited",
                    "operationId": "deleteCustomerTag",
                    "parameters": [CUSTOMER_ID, TAG_PARAM],
                    "responses": {
                        "200": {"description": "The customer's attributes and tags", **CUSTOMER_ATTRIBUTES},
                        **_errors(401, 403, 404, 422, 503),
                    },
                },
            },
            "/api/v1/campaigns": {
                "get": {
                    "summary": "All campaigns (staff)",
                    "operationId": "listCampaigns",
                    "responses": {"200": {"description": "Campaigns", **_json(CampaignList)}, **_errors(401, 403, 503)},
                },
                "post": {
                    "summary": "Create a campaign version from a JSON or YAML document (staff); ?publish=true",
                    "operationId": "createCampaign",
                    "description": "With LOYALTY_REQUIRE_APPROVAL=1, `?publish=true` publishes only a version a "
                    "second person approved (else 409 `needs_review`, nothing stored).",
                    "parameters": [{"name": "publish", "in": "query", "schema": {"type": "boolean"}}],
                    "requestBody": DOC_BODY,
                    "responses": {
                        "201": {"description": "Stored", **_json(CampaignView)},
                        **_errors(*COMMON, 409, 422),
                    },
                },
            },
            "/api/v1/campaigns/validate": {
                "post": {
                    "summary": "Validate a document without storing it (staff)",
                    "operationId": "validateCampaign",
                    "requestBody": DOC_BODY,
                    "responses": {"200": {"description": "Valid", **_json(ValidationOk)}, **_errors(*COMMON, 422)},
                }
            },
            "/api/v1/campaigns/{campaign_id}": {
                "get": {
                    "summary": "One campaign with its versions (staff)",
                    "operationId": "getCampaign",
                    "parameters": camp_id,
                    "responses": {
                        "200": {"description": "The campaign", **_json(CampaignView)},
                        **_errors(401, 403, 404, 503),
                    },
                }
            },
            "/api/v1/campaigns/{campaign_id}/publish": {
                "post": {
                    "summary": "Publish a version (default: the latest) (staff)",
                    "operationId": "publishCampaign",
                    "description": "With LOYALTY_REQUIRE_APPROVAL=1 only a version a second person approved "
                    "(else 409 `needs_review`).",
                    "parameters": camp_id,
                    "requestBody": {
                        "required": False,
                        "content": {
                            "application/json": {
                                "schema": {"type": "object", "properties": {"version": {"type": "integer"}}}
                            }
                        },
                    },
                    "responses": {
                        "200": {"description": "Published", **_json(CampaignView)},
                        **_errors(*COMMON, 404, 409, 422),
                    },
                }
            },
            "/api/v1/events": {
                "post": {
                    "summary": "Post a custom event (referral, app_login, ...), idempotent by provider_event_id",
                    "operationId": "createEvent",
                    "requestBody": {"required": True, **_json(EventIn)},
                    "responses": {
                        "202": {"description": "Accepted and queued", **_json(EventAccepted)},
                        "200": {"description": "Replay", **_json(EventAccepted)},
                        **_errors(*COMMON, 409, 422),
                    },
                }
            },
            "/api/v1/events/{event_id}": {
                "get": {
                    "summary": "One of your events with its awards",
                    "operationId": "getEvent",
                    "parameters": [{"name": "event_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                    "responses": {
                        "200": {
                            "description": "The event",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        **_errors(401, 403, 404, 503),
                    },
                }
            },
            "/api/v1/rewards": {
                "get": {
                    "summary": "The rewards catalog (?all=true includes inactive)",
                    "operationId": "listRewards",
                    "responses": {"200": {"description": "Rewards", **_json(RewardList)}, **_errors(401, 403, 503)},
                },
                "post": {
                    "summary": "Create or update a reward by code (staff)",
                    "operationId": "saveReward",
                    "requestBody": {"required": True, **_json(RewardIn)},
                    "responses": {"201": {"description": "Saved", **_json(RewardView)}, **_errors(*COMMON, 422)},
                },
            },
            "/api/v1/rewards/{code}": {
                "get": {
                    "summary": "One reward",
                    "operationId": "getReward",
                    "parameters": [{"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {
                        "200": {"description": "The reward", **_json(RewardView)},
                        **_errors(401, 403, 404, 503),
                    },
                }
            },
            "/api/v1/redemptions": {
                "post": {
                    "summary": "Redeem: debit points (oldest first), decrement stock, issue a voucher, atomically",
                    "operationId": "createRedemption",
                    "requestBody": {"required": True, **_json(RedemptionIn)},
                    "responses": {
                        "201": {"description": "Issued", **_json(RedemptionView)},
                        "200": {"description": "Replay of the same idempotency key", **_json(RedemptionView)},
                        **_errors(*COMMON, 404, 409, 422),
                    },
                }
            },
            "/api/v1/redemptions/{redemption_id}": {
                "get": {
                    "summary": "One redemption you made",
                    "operationId": "getRedemption",
                    "parameters": [
                        {"name": "redemption_id", "in": "path", "required": True, "schema": {"type": "integer"}}
                    ],
                    "responses": {
                        "200": {"description": "The redemption", **_json(RedemptionView)},
                        **_errors(401, 403, 404, 503),
                    },
                }
            },
            "/api/v1/redemptions/{redemption_id}/cancel": {
                "post": {
                    "summary": "Cancel and refund a redemption",
                    "operationId": "cancelRedemption",
                    "parameters": [
                        {"name": "redemption_id", "in": "path", "required": True, "schema": {"type": "integer"}}
                    ],
                    "responses": {
                        "200": {"description": "Cancelled", **_json(RedemptionView)},
                        **_errors(401, 403, 404, 503),
                    },
                }
            },
            "/api/v1/groups": {
                "post": {
                    "summary": "Create a group (family) owned by a customer",
                    "operationId": "createGroup",
                    "requestBody": {"required": True, **_json(GroupIn)},
                    "responses": {
                        "201": {"description": "Created", **_json(GroupView)},
                        **_errors(*COMMON, 404, 409, 422),
                    },
                }
            },
            "/api/v1/groups/{group_id}": {
                "get": {
                    "summary": "A group with members, pooled balance and history",
                    "operationId": "getGroup",
                    "parameters": [{"name": "group_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                    "responses": {
                        "200": {"description": "The group", **_json(GroupView)},
                        **_errors(401, 403, 404, 503),
                    },
                }
            },
            **{
                f"/api/v1/groups/{{group_id}}/{action}": {
                    "post": {
                        "summary": summary,
                        "operationId": op,
                        "parameters": [
                            {"name": "group_id", "in": "path", "required": True, "schema": {"type": "integer"}}
                        ],
                        "requestBody": {"required": True, **_json(GroupMemberIn)},
                        "responses": {
                            "200": {"description": "The group", **_json(GroupView)},
                            "201": {"description": "The group", **_json(GroupView)},
                            **_errors(*COMMON, 404, 409, 422),
                        },
                    }
                }
                for action, summary, op in (
                    ("invitations", "The owner invites a customer", "inviteMember"),
                    ("members", "The invited customer accepts", "acceptInvitation"),
                    (
                        "leave",
                        "A member leaves, or the owner removes them; the owner leaving dissolves the group",
                        "leaveGroup",
                    ),
                )
            },
            "/api/v1/campaigns/simulate": {
                "post": {
                    "summary": "Dry-run a draft on a sample transaction (trace) or on the last N days (reach and cost)",
                    "operationId": "simulateCampaign",
                    "requestBody": {"required": True, **_json(SimulationIn)},
                    "responses": {
                        "200": {
                            "description": "Result",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        **_errors(*COMMON, 422),
                    },
                }
            },
            "/api/v1/settings": {
                "get": {
                    "summary": "Programme settings (staff)",
                    "operationId": "getSettings",
                    "responses": {
                        "200": {
                            "description": "Settings",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        **_errors(401, 403, 503),
                    },
                }
            },
            "/api/v1/settings/{key}": {
                "put": {
                    "summary": 'Change one setting: {"value": ...} (staff; audited)',
                    "operationId": "putSetting",
                    "parameters": [{"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"type": "object", "properties": {"value": {}}}}},
                    },
                    "responses": {
                        "200": {
                            "description": "Settings",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        **_errors(*COMMON, 422),
                    },
                }
            },
            "/api/v1/imports": {
                "post": {
                    "summary": "Upload a transaction file (CSV or NDJSON, optionally gzip); runs in the background",
                    "description": "The body is streamed to disk (never held in memory), its head checked (422 naming "
                    "the line for a wrong header or a file that is not CSV/NDJSON), then every row is validated and "
                    "ingested exactly like POST /transactions and credited by the same workers. Send the file as "
                    "the raw body or as the multipart field `file`; gzip is detected from its magic bytes. "
                    "CSV columns: provider_txn_id, phone, national_id, amount, currency, category, channel, "
                    "occurred_at, attributes.<key>. NDJSON: one transaction object (as for POST /transactions) "
                    "per line. Small files are processed before the answer; poll the Location otherwise.",
                    "operationId": "createImport",
                    "parameters": [
                        {"name": "filename", "in": "query", "schema": {"type": "string"}},
                        {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["csv", "ndjson"]}},
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"file": {"type": "string", "format": "binary"}},
                                    "required": ["file"],
                                }
                            },
                            "text/csv": {"schema": {"type": "string"}},
                            "application/x-ndjson": {"schema": {"type": "string"}},
                            "application/gzip": {"schema": {"type": "string", "format": "binary"}},
                            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                        },
                    },
                    "responses": {
                        "202": {"description": "Recorded (and done, for a small file)", **_json(ImportView)},
                        **_errors(400, 401, 403, 413, 422, 503),
                    },
                },
                "get": {
                    "summary": "Your latest imports (staff: everyone's)",
                    "operationId": "listImports",
                    "responses": {"200": {"description": "Imports", **_json(ImportList)}, **_errors(401, 403, 503)},
                },
            },
            "/api/v1/imports/{import_id}": {
                "get": {
                    "summary": "Status and counts of one of your imports",
                    "operationId": "getImport",
                    "parameters": import_id,
                    "responses": {
                        "200": {"description": "The import", **_json(ImportView)},
                        **_errors(401, 403, 404, 503),
                    },
                }
            },
            "/api/v1/imports/{import_id}/errors.csv": {
                "get": {
                    "summary": "The error report: one CSV line per rejected row (line, provider_txn_id, field, reason)",
                    "operationId": "getImportErrors",
                    "parameters": import_id,
                    "responses": {
                        "200": {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}},
                        **_errors(401, 403, 404, 503),
                    },
                }
            },
            "/api/v1/campaigns/{campaign_id}/archive": {
                "post": {
                    "summary": "Stop a campaign (staff)",
                    "operationId": "archiveCampaign",
                    "parameters": camp_id,
                    "responses": {
                        "200": {"description": "Archived", **_json(CampaignView)},
                        **_errors(401, 403, 404, 503),
                    },
                }
            },
        },
    }


def _obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return {"content": {"application/json": {"schema": schema}}}


CUSTOMER_ID = {"name": "customer_id", "in": "path", "required": True, "schema": {"type": "integer"}}
TAG_PARAM = {
    "name": "tag",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[a-z0-9_-]{1,64}$"},
}
ATTRIBUTE_VALUE = {"oneOf": [{"type": "boolean"}, {"type": "string"}, {"type": "number"}, {"type": "null"}]}
CUSTOMER_ATTRIBUTES = _obj(
    {
        "customer_id": {"type": "integer"},
        "attributes": {"type": "object", "additionalProperties": ATTRIBUTE_VALUE},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    ["customer_id", "attributes", "tags"],
)


def _me_get(summary: str, op: str, key: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "operationId": op,
            "security": [{"customer": []}],
            "responses": {
                "200": {"description": "OK", **_obj({key: {"type": "array", "items": {"type": "object"}}})},
                **_errors(401, 503),
            },
        }
    }


ME_SUMMARY = _obj(
    {
        "id": {"type": "integer"},
        "language": {"type": "string", "enum": ["vi", "en"]},
        "balance": {"type": "integer"},
        "pending_points": {"type": "integer"},
        "tier": {"type": "object", "properties": {"code": {"type": ["string", "null"]}, "name": {"type": "string"}}},
        "next_tier": {
            "type": ["object", "null"],
            "properties": {
                "name": {"type": "string"},
                "points_needed": {"type": "integer"},
                "qualifying_points": {"type": "integer"},
            },
        },
        "expiring": {"type": "array", "items": {"type": "object"}},
        "challenges": {
            "type": "array",
            "description": "running challenges with the customer's progress in the current period",
            "items": {
                "type": "object",
                "properties": {
                    "campaign_id": {"type": "integer"},
                    "name": {"type": "string"},
                    "period": {"type": "string", "enum": ["month", "week", "campaign"]},
                    "period_key": {"type": "string", "examples": ["2027-03", "2027-W09", "campaign"]},
                    "status": {"type": "string", "enum": ["in_progress", "completed"]},
                    "completed": {"type": "boolean"},
                    "completed_at": {"type": ["string", "null"], "format": "date-time"},
                    "steps": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "count": {"type": "integer"},
                                "done": {"type": "integer"},
                            },
                        },
                    },
                    "reward": {"type": "object", "description": "{award_points: N} or {grant_reward: CODE}"},
                    "reward_name": {"type": ["string", "null"]},
                    "ends_at": {"type": ["string", "null"]},
                },
            },
        },
    }
)


def me_paths() -> dict[str, Any]:
    """``/api/v1/me``: the mobile app's customer API (token from the SMS-code flow)."""
    open_: dict[str, Any] = {"security": []}
    return {
        "/api/v1/me/otp": {
            "post": {
                "summary": "Send a 6-digit sign-in code by SMS (same answer for unknown phones; rate limited)",
                "operationId": "meRequestCode",
                **open_,
                "requestBody": {"required": True, **_obj({"phone": {"type": "string"}}, ["phone"])},
                "responses": {
                    "202": {
                        "description": "Sent if the phone is a member",
                        **_obj({"status": {"type": "string"}, "expires_in": {"type": "integer"}}),
                    },
                    **_errors(400, 415, 422, 429, 503),
                },
            }
        },
        "/api/v1/me/token": {
            "post": {
                "summary": "Exchange the code for a bearer token (5 wrong codes burn it)",
                "operationId": "meCreateToken",
                **open_,
                "requestBody": {
                    "required": True,
                    **_obj({"phone": {"type": "string"}, "code": {"type": "string"}}, ["phone", "code"]),
                },
                "responses": {
                    "201": {
                        "description": "Token (shown once; SHA-256 at rest)",
                        **_obj(
                            {
                                "token": {"type": "string"},
                                "token_type": {"type": "string"},
                                "expires_at": {"type": "string", "format": "date-time"},
                            }
                        ),
                    },
                    **_errors(400, 401, 422, 429, 503),
                },
            },
            "delete": {
                "summary": "Sign out: revoke this token",
                "operationId": "meRevokeToken",
                "security": [{"customer": []}],
                "responses": {"204": {"description": "Revoked"}, **_errors(401)},
            },
        },
        "/api/v1/me": {
            "get": {
                "summary": "Balance, tier, progress to the next tier, pending and expiring points, challenges",
                "operationId": "me",
                "security": [{"customer": []}],
                "responses": {"200": {"description": "Summary", **ME_SUMMARY}, **_errors(401, 503)},
            }
        },
        "/api/v1/me/activity": _me_get(
            "Recent ledger activity across all providers (?limit=), each with the campaign that awarded it named in"
            " the customer's language",
            "meActivity",
            "activity",
        ),
        "/api/v1/me/rewards": _me_get(
            "Rewards on offer, with whether the balance affords each", "meRewards", "rewards"
        ),
        "/api/v1/me/vouchers": _me_get("My vouchers (redemptions)", "meVouchers", "vouchers"),
        "/api/v1/me/redemptions": {
            "post": {
                "summary": "Redeem a reward (idempotent by idempotency_key)",
                "operationId": "meRedeem",
                "security": [{"customer": []}],
                "requestBody": {
                    "required": True,
                    **_obj({"reward": {"type": "string"}, "idempotency_key": {"type": "string"}}, ["reward"]),
                },
                "responses": {
                    "201": {"description": "Voucher issued", **_obj({"voucher_code": {"type": "string"}})},
                    "200": {"description": "The same redemption (repeated idempotency_key)"},
                    **_errors(400, 401, 404, 409, 422, 503),
                },
            }
        },
        "/api/v1/me/point-transfers": {
            "post": {
                "summary": "Send points to another member (phone or national ID), within the programme's limits",
                "operationId": "meSendPoints",
                "security": [{"customer": []}],
                "requestBody": {"required": True, **_json(SendPointsIn)},
                "responses": {
                    "201": {"description": "Sent", **_json(PointTransferView)},
                    "200": {"description": "The same transfer (repeated idempotency_key)", **_json(PointTransferView)},
                    **_errors(400, 401, 404, 409, 415, 422, 503),
                },
            }
        },
        "/api/v1/me/claims": {
            **_me_get("My missing-points reports", "meClaims", "claims"),
            "post": {
                "summary": "Report missing points for a transaction (stored with status open)",
                "operationId": "meCreateClaim",
                "security": [{"customer": []}],
                "requestBody": {
                    "required": True,
                    **_obj(
                        {
                            "transaction_ref": {"type": "string"},
                            "provider": {"type": "string"},
                            "occurred_on": {"type": "string", "format": "date"},
                            "amount": {"type": "number"},
                            "description": {"type": "string"},
                        }
                    ),
                },
                "responses": {"201": {"description": "Stored"}, **_errors(400, 401, 422, 503)},
            },
        },
    }


def webhook_paths() -> dict[str, Any]:
    """``/api/v1/webhooks``: a provider's subscriptions and their deliveries (provider keys only)."""

    def path_id(name: str) -> list[dict[str, Any]]:
        return [{"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}]

    return {
        "/api/v1/webhooks": {
            "post": {
                "summary": "Subscribe a URL to events; the answer holds the signing secret (shown once)",
                "operationId": "createWebhook",
                "requestBody": {"required": True, **_json(WebhookIn)},
                "responses": {"201": {"description": "Subscribed", **_json(WebhookCreated)}, **_errors(*COMMON, 422)},
            },
            "get": {
                "summary": "Your subscriptions and the event names",
                "operationId": "listWebhooks",
                "responses": {"200": {"description": "Subscriptions", **_json(WebhookList)}, **_errors(401, 403, 503)},
            },
        },
        "/api/v1/webhooks/{sub_id}": {
            "delete": {
                "summary": "Stop a subscription",
                "operationId": "deleteWebhook",
                "parameters": path_id("sub_id"),
                "responses": {"204": {"description": "Stopped"}, **_errors(401, 403, 404, 503)},
            }
        },
        "/api/v1/webhooks/deliveries": {
            "get": {
                "summary": "The latest 200 deliveries to your subscriptions (?status=)",
                "operationId": "listDeliveries",
                "parameters": [{"name": "status", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"description": "Deliveries", **_json(DeliveryList)}, **_errors(401, 403, 503)},
            }
        },
        "/api/v1/webhooks/deliveries/{outbox_id}/replay": {
            "post": {
                "summary": "Send one delivery again",
                "operationId": "replayDelivery",
                "parameters": path_id("outbox_id"),
                "responses": {"202": {"description": "Queued", **_json(DeliveryView)}, **_errors(401, 403, 404, 503)},
            }
        },
    }


def settlement_paths() -> dict[str, Any]:
    """Clearing: provider rates, statements (JSON or CSV), the ledger lines behind a figure, liability, close."""
    period = [
        {
            "name": "period",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": "^2[0-9]{3}-(0[1-9]|1[0-2])$"},
        }
    ]
    code = [{"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}]
    fmt = {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["csv", "json"]}}
    obj = {"schema": {"type": "object"}}
    json_or_csv = {"content": {"application/json": obj, "text/csv": {"schema": {"type": "string"}}}}
    rates_body = {
        "type": "object",
        "properties": {
            "issue_cost": {"type": "integer", "minimum": 0, "maximum": 1_000_000_000},
            "redemption_rate": {"type": "integer", "minimum": 0, "maximum": 1_000_000_000},
            "from": {"type": "string", "format": "date"},
        },
        "required": ["issue_cost", "redemption_rate"],
    }
    return {
        "/api/v1/providers/{code}/rates": {
            "get": {
                "summary": "A provider's rates (issue cost, redemption rate; VND per point) and their history",
                "operationId": "getProviderRates",
                "parameters": code,
                "responses": {
                    "200": {"description": "Rates", "content": {"application/json": obj}},
                    **_errors(401, 403, 404, 503),
                },
            },
            "put": {
                "summary": "Add a rate from a date (today or later; none: now); finance/admin staff; audited",
                "operationId": "putProviderRates",
                "parameters": code,
                "requestBody": {"required": True, "content": {"application/json": {"schema": rates_body}}},
                "responses": {
                    "200": {"description": "Rates", "content": {"application/json": obj}},
                    **_errors(*COMMON, 404, 422),
                },
            },
        },
        "/api/v1/settlement/statements/{period}": {
            "get": {
                "summary": "A month's statements (a provider key: its own); stored if closed, provisional if open",
                "description": "CSV with Accept: text/csv or ?format=csv.",
                "operationId": "getStatements",
                "parameters": [*period, fmt],
                "responses": {"200": {"description": "Statements", **json_or_csv}, **_errors(401, 403, 404, 422, 503)},
            }
        },
        "/api/v1/settlement/statements/{period}/entries": {
            "get": {
                "summary": "The ledger lines behind one figure of a statement (?party=CODE&kind=...)",
                "operationId": "getStatementEntries",
                "parameters": [
                    *period,
                    {"name": "party", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "kind",
                        "in": "query",
                        "schema": {
                            "type": "string",
                            "enum": [
                                "issued",
                                "clawed_back",
                                "redeemed",
                                "redemption_cancelled",
                                "expired",
                                "adjustment",
                            ],
                        },
                    },
                    fmt,
                ],
                "responses": {"200": {"description": "Entries", **json_or_csv}, **_errors(401, 403, 404, 422, 503)},
            }
        },
        "/api/v1/settlement/liability": {
            "get": {
                "summary": "Liability roll-forward per funder, month to date (points and VND at issue cost)",
                "operationId": "getLiability",
                "parameters": [{"name": "as_of", "in": "query", "schema": {"type": "string", "format": "date"}}],
                "responses": {
                    "200": {"description": "Roll-forward", "content": {"application/json": obj}},
                    **_errors(401, 403, 422, 503),
                },
            }
        },
        "/api/v1/settlement/periods/{period}/close": {
            "post": {
                "summary": "Close a month that has ended: its statements are stored and never change (finance/admin)",
                "operationId": "closePeriod",
                "parameters": period,
                "responses": {
                    "201": {"description": "Closed", "content": {"application/json": obj}},
                    **_errors(*COMMON, 409, 422),
                },
            }
        },
    }


def phone_paths() -> dict[str, Any]:
    """Number lifecycle: the phone authority's events; staff re-attach numbers and lift SIM-swap holds."""
    phone = [{"name": "phone", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 32}}]

    def staff_action(summary: str, op: str) -> dict[str, Any]:
        return {
            "post": {
                "summary": summary,
                "operationId": op,
                "parameters": phone,
                "requestBody": {"required": True, **_json(StaffReasonIn)},
                "responses": {
                    "200": {"description": "The number's state now", **_json(PhoneStateView)},
                    **_errors(*COMMON, 404, 409, 422),
                },
            }
        }

    return {
        "/api/v1/identity-events": {
            "post": {
                "summary": "A number was released or its SIM swapped (the phone authority only; idempotent)",
                "operationId": "postIdentityEvent",
                "requestBody": {"required": True, **_json(IdentityEventIn)},
                "responses": {
                    "201": {"description": "Applied", **_json(IdentityEventView)},
                    "200": {"description": "Replay of the same provider_event_id", **_json(IdentityEventView)},
                    **_errors(*COMMON, 409, 422),
                },
            }
        },
        "/api/v1/phone-numbers/{phone}": {
            "get": {
                "summary": "Where a number is in its lifecycle (holder, quarantine, SIM-swap hold)",
                "operationId": "getPhoneNumber",
                "parameters": phone,
                "responses": {
                    "200": {"description": "The number's state", **_json(PhoneStateView)},
                    **_errors(401, 403, 422, 503),
                },
            }
        },
        "/api/v1/phone-numbers/{phone}/lift-hold": staff_action(
            "Lift a SIM-swap hold after checking the person's identity (audited)", "liftSimSwapHold"
        ),
        "/api/v1/phone-numbers/{phone}/reattach": staff_action(
            "Give a released number back to the customer it was released from (audited)", "reattachPhoneNumber"
        ),
    }


def privacy_paths() -> dict[str, Any]:
    """The person's rights: export (the customer, care/admin), reveal of masked numbers, two-admin erasure."""
    cid = [{"name": "customer_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
    rid = [{"name": "request_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
    document = _obj(
        {
            "format": {"type": "string"},
            "customer_id": {"type": "integer"},
            "sections": {"type": "array", "items": {"type": "string"}},
        },
        ["format", "customer_id", "sections"],
    )
    request = _obj(
        {
            "id": {"type": "integer"},
            "customer_id": {"type": "integer"},
            "source": {"type": "string", "enum": ["staff", "portal", "app"]},
            "status": {"type": "string", "enum": ["open", "done", "rejected"]},
            "decision": {"type": ["string", "null"]},
            "due_at": {"type": "string", "format": "date-time"},
        },
        ["id", "customer_id", "status", "due_at"],
    )
    return {
        "/api/v1/me/export": {
            "get": {
                "summary": "Everything held about me, as one JSON document of sections (access and portability)",
                "operationId": "meExport",
                "security": [{"customer": []}],
                "responses": {"200": {"description": "The document", **document}, **_errors(401, 503)},
            }
        },
        "/api/v1/me/erasure-requests": {
            "post": {
                "summary": "Ask for my data to be erased: a case due in 72 hours that an admin approves",
                "operationId": "meRequestErasure",
                "security": [{"customer": []}],
                "responses": {
                    "201": {"description": "Case opened", **request},
                    "200": {"description": "The case already open", **request},
                    **_errors(401, 409, 503),
                },
            }
        },
        "/api/v1/customers/{customer_id}/export": {
            "get": {
                "summary": "Everything held about a customer (care and admin; audited)",
                "operationId": "exportCustomer",
                "parameters": cid,
                "responses": {"200": {"description": "The document", **document}, **_errors(401, 403, 404, 503)},
            }
        },
        "/api/v1/customers/{customer_id}/reveal": {
            "post": {
                "summary": "A customer's phone numbers and national ID in full, with a stated reason (audited)",
                "operationId": "revealCustomer",
                "parameters": cid,
                "requestBody": {"required": True, **_json(StaffReasonIn)},
                "responses": {
                    "200": {
                        "description": "The identities in full",
                        **_obj({"identities": {"type": "array", "items": {"type": "object"}}}, ["identities"]),
                    },
                    **_errors(*COMMON, 404, 422),
                },
            }
        },
        "/api/v1/customers/{customer_id}/erasure-requests": {
            "post": {
                "summary": "Request the erasure of a customer (admin; a different admin approves; audited)",
                "operationId": "requestErasure",
                "parameters": cid,
                "requestBody": {"required": True, **_json(StaffReasonIn)},
                "responses": {"201": {"description": "Open", **request}, **_errors(*COMMON, 404, 409, 422)},
            }
        },
        "/api/v1/erasure-requests": {
            "get": {
                "summary": "Open erasure requests, nearest legal deadline first (admin)",
                "operationId": "listErasureRequests",
                "responses": {
                    "200": {
                        "description": "Open requests",
                        **_obj({"erasure_requests": {"type": "array", "items": {"type": "object"}}}),
                    },
                    **_errors(401, 403, 503),
                },
            }
        },
        "/api/v1/erasure-requests/{request_id}/reject": {
            "post": {
                "summary": "Close an erasure request without erasing, with the reason (admin; audited)",
                "operationId": "rejectErasure",
                "parameters": rid,
                "requestBody": {"required": True, **_json(StaffReasonIn)},
                "responses": {"200": {"description": "Rejected", **request}, **_errors(*COMMON, 404, 409, 422)},
            }
        },
        "/api/v1/erasure-requests/{request_id}/approve": {
            "post": {
                "summary": "Approve another admin's erasure request; the erasure runs at once (audited)",
                "operationId": "approveErasure",
                "parameters": rid,
                "responses": {
                    "200": {"description": "Erased", **_obj({"customer_id": {"type": "integer"}}, ["customer_id"])},
                    **_errors(*COMMON, 404, 409),
                },
            }
        },
    }


def consent_paths() -> dict[str, Any]:
    """Consent by purpose: the member's own record (app token) and a provider's signed paper form."""
    purpose = {"type": "string", "enum": ["cross_provider_sharing", "marketing", "profiling"]}
    record = {"type": "object", "description": "The current state per purpose with its text, and every decision"}
    return {
        "/api/v1/me/consents": {
            "get": {
                "summary": "My consents: the current state of each purpose and the whole history (printable)",
                "operationId": "meConsents",
                "security": [{"customer": []}],
                "responses": {
                    "200": {"description": "OK", "content": {"application/json": {"schema": record}}},
                    **_errors(401, 503),
                },
            },
            "post": {
                "summary": "Grant or withdraw one purpose (recorded with channel app and the text version shown)",
                "operationId": "meRecordConsent",
                "security": [{"customer": []}],
                "requestBody": {
                    "required": True,
                    **_obj({"purpose": purpose, "granted": {"type": "boolean"}}, ["purpose", "granted"]),
                },
                "responses": {
                    "201": {"description": "Recorded", "content": {"application/json": {"schema": record}}},
                    **_errors(400, 401, 415, 422, 503),
                },
            },
        },
        "/api/v1/customers/{customer_id}/consents": {
            "post": {
                "summary": "Record a consent from a signed paper form (a provider: customers it dealt with; audited)",
                "operationId": "recordConsentForm",
                "description": "Idempotent by (provider, form_reference, purpose): the same form again returns the "
                "original (200); the same reference with the other answer is 409.",
                "parameters": [{"name": "customer_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "requestBody": {
                    "required": True,
                    **_obj(
                        {
                            "purpose": purpose,
                            "granted": {"type": "boolean"},
                            "form_reference": {"type": "string", "minLength": 1, "maxLength": 64},
                            "signed_at": {"type": "string", "format": "date-time"},
                        },
                        ["purpose", "granted", "form_reference"],
                    ),
                },
                "responses": {
                    "201": {"description": "Recorded", **_obj({"id": {"type": "integer"}})},
                    "200": {"description": "Replay of the same form", **_obj({"id": {"type": "integer"}})},
                    **_errors(*COMMON, 404, 409, 422),
                },
            }
        },
    }


def payment_paths() -> dict[str, Any]:
    """Points as money at a provider's checkout and point transfers between members."""

    def ident(name: str) -> list[dict[str, Any]]:
        return [{"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}]

    return {
        "/api/v1/point-payments": {
            "post": {
                "summary": "Pay at your checkout with the customer's points (points, or amount at point_value); "
                "idempotent by provider_payment_id",
                "operationId": "createPointPayment",
                "requestBody": {"required": True, **_json(PointPaymentIn)},
                "responses": {
                    "201": {"description": "Paid", **_json(PointPaymentView)},
                    "200": {"description": "Replay of the same body", **_json(PointPaymentView)},
                    **_errors(*COMMON, 404, 409, 422),
                },
            }
        },
        "/api/v1/point-payments/{payment_id}": {
            "get": {
                "summary": "One points payment you took, with its refunds",
                "operationId": "getPointPayment",
                "parameters": ident("payment_id"),
                "responses": {
                    "200": {"description": "The payment", **_json(PointPaymentView)},
                    **_errors(401, 403, 404, 503),
                },
            }
        },
        "/api/v1/point-payments/{payment_id}/refund": {
            "post": {
                "summary": "Refund part or all of a points payment (never above what is left); idempotent by "
                "provider_refund_id",
                "operationId": "refundPointPayment",
                "parameters": ident("payment_id"),
                "requestBody": {"required": True, **_json(PointRefundIn)},
                "responses": {
                    "201": {"description": "Refunded", **_json(PointRefundResult)},
                    "200": {"description": "Replay of the same body", **_json(PointRefundResult)},
                    **_errors(*COMMON, 404, 409, 422),
                },
            }
        },
        "/api/v1/point-transfers": {
            "post": {
                "summary": "Move points from one member to another within the programme's limits (fee, per day, "
                "per month); idempotent by provider_transfer_id",
                "operationId": "createPointTransfer",
                "requestBody": {"required": True, **_json(PointTransferIn)},
                "responses": {
                    "201": {"description": "Transferred", **_json(PointTransferView)},
                    "200": {"description": "Replay of the same body", **_json(PointTransferView)},
                    **_errors(*COMMON, 404, 409, 422),
                },
            }
        },
        "/api/v1/point-transfers/{transfer_id}": {
            "get": {
                "summary": "One transfer you made",
                "operationId": "getPointTransfer",
                "parameters": ident("transfer_id"),
                "responses": {
                    "200": {"description": "The transfer", **_json(PointTransferView)},
                    **_errors(401, 403, 404, 503),
                },
            }
        },
        "/api/v1/point-transfers/{transfer_id}/reversal": {
            "post": {
                "summary": "Reverse a transfer (staff, audited): the points go back with their funders, the fee is "
                "refunded",
                "operationId": "reversePointTransfer",
                "parameters": ident("transfer_id"),
                "responses": {
                    "200": {"description": "Reversed", **_json(PointTransferView)},
                    **_errors(401, 403, 404, 409, 503),
                },
            }
        },
    }


def document() -> dict[str, Any]:
    """The whole document as served (the schemathesis test loads the same one)."""
    doc = build_document()
    doc["paths"].update(me_paths())
    doc["paths"].update(webhook_paths())
    doc["paths"].update(settlement_paths())
    doc["paths"].update(phone_paths())
    doc["paths"].update(privacy_paths())
    doc["paths"].update(consent_paths())
    doc["paths"].update(payment_paths())
    return doc


_cached: dict[str, Any] | None = None


@bp.get("/openapi.json")
def openapi_document() -> Any:
    global _cached
    if _cached is None:
        _cached = document()
    return _cached
