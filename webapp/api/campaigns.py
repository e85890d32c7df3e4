"""Management API for campaign documents (staff tokens)."""

from __future__ import annotations

from typing import Any

from flask import request
from sqlalchemy import select

from campaigns.accrual import simulation
from campaigns.catalog import documents as catalog
from campaigns.errors import DomainError, FieldProblem, not_found
from campaigns.models import Campaign
from campaigns.permissions import allowed

from ..extensions import announce_publication, db, settings
from . import bp
from .auth import principal, require
from .util import read_json

YAML_TYPES = {"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"}


def _document_from_request() -> tuple[str | dict[str, Any], str]:
    if (request.mimetype or "") in YAML_TYPES:
        raw = request.get_data(as_text=True)
        if not raw.strip():
            raise DomainError("bad_request", "the request body is empty", status=400)
        return raw, "yaml"
    data = read_json()
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
        db.session,
        source,
        fmt=fmt,
        author=principal().name,
        publish=_flag("publish"),
        require_approval=_require_approval(),
    )
    db.session.commit()
    if _flag("publish"):
        announce_publication()
    campaign = db.session.get(Campaign, version.campaign_id)
    return catalog.campaign_view(db.session, campaign), 201


@bp.post("/campaigns/validate")
@require("staff", action="campaigns.edit")
def validate_campaign() -> Any:
    source, fmt = _document_from_request()
    doc = catalog.validate(source, fmt, db.session)
    return {"valid": True, "name": doc.name, "type": doc.type}


@bp.get("/campaigns")
@require("staff", action="campaigns.view")
def list_campaigns() -> Any:
    return {"campaigns": [catalog.campaign_view(db.session, c) for c in catalog.list_campaigns(db.session)]}


def _campaign(campaign_id: int) -> Campaign:
    campaign = db.session.scalar(select(Campaign).where(Campaign.id == campaign_id))
    if campaign is None:
        raise not_found(f"campaign {campaign_id}")
    return campaign


@bp.get("/campaigns/<int:campaign_id>")
@require("staff", action="campaigns.view")
def show_campaign(campaign_id: int) -> Any:
    return catalog.campaign_view(db.session, _campaign(campaign_id))


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
        db.session, campaign_id, version, author=principal().name, require_approval=_require_approval()
    )
    db.session.commit()
    announce_publication()
    return catalog.campaign_view(db.session, _campaign(campaign_id))


@bp.post("/campaigns/<int:campaign_id>/archive")
@require("staff", action="campaigns.publish")
def archive_campaign(campaign_id: int) -> Any:
    catalog.archive(db.session, campaign_id, author=principal().name)
    db.session.commit()
    announce_publication()
    return catalog.campaign_view(db.session, _campaign(campaign_id))


@bp.post("/campaigns/simulate")
@require("staff", action="campaigns.edit")
def simulate_campaign() -> Any:
    """Dry run: ``{"document": {...} | "yaml", "transaction": {...}}`` or ``{"document": ..., "days": N}``."""
    body = read_json()
    if not isinstance(body, dict) or "document" not in body:
        raise DomainError("validation_error", "document: required", [FieldProblem("document", "required")])
    document = body["document"]
    fmt = "yaml" if isinstance(document, str) and not document.lstrip().startswith("{") else "json"
    if "transaction" in body:
        result = simulation.sample(db.session, document, body["transaction"], fmt=fmt)
    else:
        days = body.get("days", 30)
        if not isinstance(days, int) or isinstance(days, bool):
            raise DomainError(
                "validation_error", "days: must be an integer", [FieldProblem("days", "must be an integer")]
            )
        result = simulation.replay(db.session, document, days=days, fmt=fmt)
    db.session.rollback()
    return result
