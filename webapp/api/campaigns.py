"""Management API for campaign documents (staff tokens)."""

from __future__ import annotations

from typing import Any

import yaml
from flask import request
from sqlalchemy import select

from campaigns.accrual import simulation
from campaigns.catalog import documents as catalog
from campaigns.errors import DomainError, FieldProblem, not_found
from campaigns.models import Campaign
from campaigns.permissions import allowed
from campaigns.reporting import experiments
from rules.document import load_yaml

from ..extensions import announce_publication, db, db_session, settings
from ..replica import read_session
from . import bp
from .auth import principal, require
from .util import read_json

YAML_TYPES = {"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"}


def _looks_like_yaml(body: bytes) -> bool:
    """A block-style YAML mapping (not broken JSON, which starts with a brace): worth pointing at the YAML type."""
    try:
        text = body.decode("utf-8-sig")
        return not text.lstrip().startswith(("{", "[")) and isinstance(load_yaml(text), dict)
    except (ValueError, yaml.YAMLError, RecursionError):
        return False


def _document_from_request() -> tuple[str, str]:
    if (request.mimetype or "") in YAML_TYPES:
        raw = request.get_data(as_text=True)
        if not raw.strip():
            raise DomainError("bad_request", "the request body is empty", status=400)
        return raw, "yaml"
    try:
        data = read_json()
    except DomainError as exc:
        if (
            exc.code == "bad_request"
            and exc.message.startswith("malformed JSON")
            and _looks_like_yaml(request.get_data())
        ):
            hint = f"the body is YAML, not JSON: send it with Content-Type: application/yaml ({exc.message})"
            raise DomainError("bad_request", hint, [FieldProblem("Content-Type", hint)], status=400) from None
        if exc.code == "unsupported_media_type":
            raise DomainError(
                "unsupported_media_type",
                "send Content-Type: application/json or application/yaml (campaign documents may be YAML)",
                status=415,
            ) from None
        raise
    if not isinstance(data, dict):
        raise DomainError(
            "validation_error", "document: must be an object", [FieldProblem("document", "must be an object")]
        )
    return request.get_data(as_text=True), "json"


def _flag(name: str) -> bool:
    return request.args.get(name, "").lower() in ("1", "true", "yes")


def _require_approval() -> bool:
    return bool(settings().require_approval)


@bp.post("/campaigns")
@require("staff", action="campaigns.edit")
def create_campaign() -> Any:
    if _flag("publish") and not allowed(principal().role, "campaigns.publish"):
        raise DomainError("forbidden", f"role '{principal().role}' may not campaigns.publish", status=403)
    source, fmt = _document_from_request()
    version = catalog.import_document(
        db_session(),
        source,
        fmt=fmt,
        author=principal().name,
        publish=_flag("publish"),
        require_approval=_require_approval(),
    )
    db.session.commit()
    if _flag("publish"):
        announce_publication()
    campaign = db.session.get_one(Campaign, version.campaign_id)
    warnings = catalog.warnings_of(db_session(), source, catalog.validate(source, fmt))
    return {**catalog.campaign_view(db_session(), campaign), "warnings": warnings}, 201


@bp.post("/campaigns/validate")
@require("staff", action="campaigns.edit")
def validate_campaign() -> Any:
    source, fmt = _document_from_request()
    doc = catalog.validate(source, fmt, db_session())
    warnings = catalog.warnings_of(db_session(), source, doc)
    return {"valid": True, "name": doc.name, "type": doc.type, "warnings": warnings}


@bp.get("/campaigns")
@require("staff", action="campaigns.view")
def list_campaigns() -> Any:
    return {"campaigns": [catalog.campaign_view(db_session(), c) for c in catalog.list_campaigns(db_session())]}


def _campaign(campaign_id: int) -> Campaign:
    campaign = db.session.scalar(select(Campaign).where(Campaign.id == campaign_id))
    if campaign is None:
        raise not_found(f"campaign {campaign_id}")
    return campaign


@bp.get("/campaigns/<int:campaign_id>")
@require("staff", action="campaigns.view")
def show_campaign(campaign_id: int) -> Any:
    campaign = _campaign(campaign_id)
    view = catalog.campaign_view(db_session(), campaign)
    report = experiments.report(db_session(), campaign)
    if report is not None:
        view["experiment"] = report
    return view


@bp.post("/campaigns/<int:campaign_id>/publish")
@require("staff", action="campaigns.publish")
def publish_campaign(campaign_id: int) -> Any:
    data = read_json(allow_empty=True)
    campaign = _campaign(campaign_id)
    version = data.get("version", campaign.latest_version) if isinstance(data, dict) else campaign.latest_version
    if not isinstance(version, int) or isinstance(version, bool):
        raise DomainError(
            "validation_error", "version: must be an integer", [FieldProblem("version", "must be an integer")]
        )
    catalog.publish_version(
        db_session(), campaign_id, version, author=principal().name, require_approval=_require_approval()
    )
    db.session.commit()
    announce_publication()
    return catalog.campaign_view(db_session(), _campaign(campaign_id))


@bp.post("/campaigns/<int:campaign_id>/archive")
@require("staff", action="campaigns.publish")
def archive_campaign(campaign_id: int) -> Any:
    catalog.archive(db_session(), campaign_id, author=principal().name)
    db.session.commit()
    announce_publication()
    return catalog.campaign_view(db_session(), _campaign(campaign_id))


@bp.post("/campaigns/simulate")
@require("staff", action="campaigns.edit")
def simulate_campaign() -> Any:
    """Dry run: ``{"document": {...} | "yaml", "transaction": {...}, "provider"?: CODE}`` or ``{"document", "days"}``.

    The transaction is the simulator's short form or a provider's POST /transactions body (then
    ``provider`` names the posting provider when it cannot be inferred).
    """
    body = read_json()
    if not isinstance(body, dict) or "document" not in body:
        raise DomainError("validation_error", "document: required", [FieldProblem("document", "required")])
    document = body["document"]
    fmt = "yaml" if isinstance(document, str) and not document.lstrip().startswith("{") else "json"
    if "transaction" in body:
        provider = body.get("provider")
        if provider is not None and not isinstance(provider, str):
            raise DomainError(
                "validation_error", "provider: must be a string", [FieldProblem("provider", "must be a string")]
            )
        result = simulation.sample(db_session(), document, body["transaction"], fmt=fmt, provider=provider)
    else:
        days = body.get("days", 30)
        if not isinstance(days, int) or isinstance(days, bool):
            raise DomainError(
                "validation_error", "days: must be an integer", [FieldProblem("days", "must be an integer")]
            )
        result = simulation.replay(read_session(), document, days=days, fmt=fmt)
    db.session.rollback()
    return result
