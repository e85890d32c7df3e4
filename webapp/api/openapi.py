"""OpenAPI 3.1 document built from the pydantic models that validate the requests."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

from campaigns.notify.webhooks import EVENTS as WEBHOOK_EVENTS
from campaigns.schemas import (
    EventIn,
    GroupIn,
    GroupMemberIn,
    IdentityEventIn,
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


class CampaignVersionInfo(BaseModel):
    version: int
    status: str
    author: str
    created_at: datetime
    published_at: datetime | None


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


class CampaignList(BaseModel):
    campaigns: list[CampaignView]


class ValidationOk(BaseModel):
    valid: bool
    name: str
    type: str


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
    transaction: dict[str, Any] | None = None
    days: int | None = None


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
                "summary": "Balance, tier, progress to the next tier, pending and expiring points",
                "operationId": "me",
                "security": [{"customer": []}],
                "responses": {"200": {"description": "Summary", **ME_SUMMARY}, **_errors(401, 503)},
            }
        },
        "/api/v1/me/activity": _me_get(
            "Recent ledger activity across all providers (?limit=)", "meActivity", "activity"
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


def document() -> dict[str, Any]:
    """The whole document as served (the schemathesis test loads the same one)."""
    doc = build_document()
    doc["paths"].update(me_paths())
    doc["paths"].update(webhook_paths())
    doc["paths"].update(settlement_paths())
    doc["paths"].update(phone_paths())
    return doc


_cached: dict[str, Any] | None = None


@bp.get("/openapi.json")
def openapi_document() -> Any:
    global _cached
    if _cached is None:
        _cached = document()
    return _cached
