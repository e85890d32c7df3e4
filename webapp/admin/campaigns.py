"""Campaign authoring: list, editor with live validation, simulation, versions, diff, review, publish."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from campaigns import i18n
from campaigns.access.providers import provider_codes
from campaigns.accrual import simulation
from campaigns.catalog import authoring, programme
from campaigns.catalog import documents as catalog
from campaigns.catalog.doclines import locate
from campaigns.errors import DomainError
from campaigns.i18n import N_
from campaigns.privacy import masking
from campaigns.reporting import experiments
from rules.vocabulary import export_rules_vocabulary

from ..extensions import announce_publication, db, db_session, settings
from ..i18n import csv_time, language
from ..replica import read_session
from ..security import permission_required, scope
from . import bp
from .util import csv_response, html_error

STARTER = """name: My new campaign
type: earning
# providers: [telecom]          # omit to apply to every provider
# starts_at: 2027-01-20T00:00:00+07:00
# ends_at: 2027-02-20T00:00:00+07:00
priority: 100
rules:
  - name: 1 point per 10,000 spent
    conditions:
      all:
        - {name: amount, operator: greater_than_or_equal_to, value: 10000}
    actions:
      - {name: award_points_per_amount, params: {points: 1, per: 10000}}
"""
MAX_SOURCE = 256 * 1024

# Every text the form builder's script adds to the page, translated at render into the staff user's language.
BUILDER_LABELS = {
    "condition": N_("Condition"),
    "variable": N_("variable"),
    "operator": N_("operator"),
    "value": N_("value"),
    "remove": N_("Remove"),
    "add": N_("Add"),
    "list": N_("comma-separated"),
    "actPercent": N_("Award a percent of the amount"),
    "percent": N_("Percent (0.025 = 2.5 %)"),
    "rounding": N_("Rounding"),
    "max": N_("Max points"),
    "optional": N_("optional"),
    "factor": N_("Factor"),
    "pointsField": N_("Points"),
    "rate": N_("Rate"),
    "rateFlat": N_("One rate"),
    "rateBands": N_("Bands by amount"),
    "rateBy": N_("A rate per value"),
    "band": N_("Band"),
    "from": N_("from amount"),
    "points": N_("points"),
    "per": N_("per amount"),
    "by": N_("Rate by"),
    "rateRow": N_("Rate"),
    "key": N_("value"),
    "ruleLimit": N_("Rule limit per customer"),
    "limit": N_("Campaign limit per customer"),
    "count": N_("count"),
    "period": N_("period"),
    "none": N_("none"),
    "expiry": N_("Points expiry"),
    "expiryDefault": N_("the programme's"),
    "months": N_("Months"),
    "funding": N_("Funding (percentages summing to 100)"),
    "funder": N_("Funder"),
    "funder_": N_("issuer, programme or a provider"),
    "share": N_("percent"),
    "control": N_("Control group % (experiment)"),
    "challenge": N_("Challenge"),
    "challengePeriod": N_("Challenge period"),
    "step": N_("Step"),
    "stepName": N_("name"),
    "addStep": N_("Add step"),
    "addCond": N_("Add condition"),
    "reward": N_("Challenge reward points"),
    "rewardKind": N_("Challenge reward"),
    "rewardPoints": N_("points"),
    "rewardGrant": N_("a catalog reward"),
    "rewardCode": N_("Challenge reward code"),
    "feeds": N_("Points feed"),
    "to": N_("Points go to"),
    "stacking": N_("Stacking"),
    "pending": N_("Pending days (return window)"),
    "budget": N_("Budget"),
    "budget_max_points": N_("Budget: max points"),
    "budget_max_points_per_customer_per_day": N_("Budget: max points per customer per day"),
    "budget_max_points_per_customer": N_("Budget: max points per customer"),
    "budget_max_rewards": N_("Budget: max rewards"),
    "withRule": N_("Write a rule (off: the challenge alone rewards)"),
    "readDone": N_("Read into the form. Written back, the document keeps everything else as it was."),
    "readKept": N_("Kept as written (the form cannot show it; edit it in the document):"),
    "readFailed": N_("Fix the document's problems first, then read it into the form."),
}


def _require_approval() -> bool:
    return bool(settings().require_approval)


def _fmt(source: str, requested: str | None) -> str:
    if requested in ("json", "yaml"):
        return requested
    return "json" if source.lstrip().startswith("{") else "yaml"


@bp.get("/campaigns")
@permission_required("campaigns.view")
def campaigns() -> Any:
    q, status, type_ = request.args.get("q", ""), request.args.get("status", ""), request.args.get("type", "")
    rows = authoring.campaign_rows(db_session(), scope(), q=q, status=status, type_=type_)
    return render_template(
        "admin/campaigns.html", rows=rows, q=q, status=status, type=type_, statuses=authoring.STATUSES
    )


@bp.get("/campaigns.csv")
@permission_required("campaigns.export")
def campaigns_csv() -> Any:
    rows = authoring.campaign_rows(
        read_session(),
        scope(),
        q=request.args.get("q", ""),
        status=request.args.get("status", ""),
        type_=request.args.get("type", ""),
    )
    return csv_response("campaigns.csv", authoring.CSV_HEADER, (r.as_csv() for r in rows))


def _editor(source: str, fmt: str, campaign: Any = None, errors: list[dict[str, Any]] | None = None) -> Any:
    vocab = export_rules_vocabulary()
    builder = {
        "variables": [
            {"name": v["name"], "label": v["label"], "type": v["field_type"]}
            for v in vocab["variables"]
            if v["field_type"] in ("numeric", "string", "boolean", "date", "tag_set")
        ]
        + [
            {"name": f"customer.{name}", "label": _("Customer: %(name)s", name=name), "type": kind}
            for name, kind in sorted((programme.load(db_session()).customer_attributes or {}).items())
        ],
        "operators": {
            t: [{"name": o["name"], "input": o["input_type"]} for o in ops]
            for t, ops in vocab["variable_type_operators"].items()
        },
        "providers": sorted(provider_codes(db_session()).values()),
        "rewards": sorted(catalog.known_values(db_session()).rewards or ()),
        "labels": {key: _(text) for key, text in BUILDER_LABELS.items()},
    }
    status = 422 if errors else 200
    return (
        render_template(
            "admin/editor.html", source=source, fmt=fmt, campaign=campaign, errors=errors or [], builder=builder
        ),
        status,
    )


@bp.get("/campaigns/new")
@permission_required("campaigns.edit")
def new_campaign() -> Any:
    return _editor(STARTER, "yaml")


@bp.get("/campaigns/<int:campaign_id>/edit")
@permission_required("campaigns.edit")
def edit_campaign(campaign_id: int) -> Any:
    try:
        campaign = authoring.get_campaign(db_session(), campaign_id, scope())
    except DomainError as err:
        return html_error(err)
    latest = authoring.get_version(db_session(), campaign_id, campaign.latest_version)
    return _editor(latest.source, latest.source_format, campaign)


@bp.post("/campaigns")
@permission_required("campaigns.edit")
def save_campaign() -> Any:
    source = request.form.get("source", "")[:MAX_SOURCE]
    fmt = _fmt(source, request.form.get("format"))
    try:
        version = catalog.import_document(db_session(), source, fmt=fmt, author=current_user.email)
    except DomainError as err:
        db.session.rollback()
        return _editor(source, fmt, None, _located(source, err))
    db.session.commit()
    flash(_("Saved as draft version %(version)s.", version=version.version), "success")
    return redirect(url_for("admin.campaign", campaign_id=version.campaign_id))


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _posted_source() -> tuple[str, str]:
    """The editor's document (capped) and its format, from a script's JSON POST."""
    body = _json_body()
    source = str(body.get("source", ""))[:MAX_SOURCE]
    return source, _fmt(source, body.get("format"))


def _located(source: str, err: DomainError) -> list[dict[str, Any]]:
    return locate(source, [(f.path, f.reason) for f in err.fields])


@bp.post("/campaigns/validate")
@permission_required("campaigns.edit")
def validate_campaign() -> Any:
    """The editor's live check: the same ``catalog.validate`` as the API, errors located at their line."""
    source, fmt = _posted_source()
    try:
        doc = catalog.validate(source, fmt, db_session())
    except DomainError as err:
        return jsonify(valid=False, errors=_located(source, err))
    warnings = catalog.warnings_of(db_session(), source, doc)
    return jsonify(valid=True, errors=[], warnings=warnings, name=doc.name, type=doc.type, rules=len(doc.rules))


@bp.post("/campaigns/read")
@permission_required("campaigns.edit")
def read_campaign() -> Any:
    """The form builder reads a valid document back: its data in the document's own key order."""
    source, fmt = _posted_source()
    try:
        data = catalog.document_data(source, fmt, db_session())
    except DomainError as err:
        return jsonify(ok=False, message=err.message, errors=_located(source, err)), 422
    answer = json.dumps({"ok": True, "format": fmt, "document": data}, ensure_ascii=False)
    return current_app.response_class(answer, mimetype="application/json")


@bp.post("/campaigns/simulate")
@permission_required("campaigns.edit")
def simulate_campaign() -> Any:
    body = _json_body()
    source = str(body.get("source", ""))[:MAX_SOURCE]
    fmt = _fmt(source, body.get("format"))
    try:
        if body.get("mode") == "replay":
            days = body.get("days", 30)
            days = int(days) if str(days).isdigit() else 30
            result = simulation.replay(read_session(), source, days=days, fmt=fmt)
        else:
            result = simulation.sample(db_session(), source, body.get("transaction") or {}, fmt=fmt)
    except DomainError as err:
        db.session.rollback()
        errors = _located(source, err) if err.code == "invalid_document" else []
        fields = [] if errors else [{"path": f.path, "reason": f.reason} for f in err.fields]
        return jsonify(ok=False, message=err.message, errors=errors, fields=fields), 422
    db.session.rollback()
    return jsonify(ok=True, result=result)


@bp.get("/campaigns/<int:campaign_id>")
@permission_required("campaigns.view")
def campaign(campaign_id: int) -> Any:
    try:
        c = authoring.get_campaign(db_session(), campaign_id, scope())
    except DomainError as err:
        return html_error(err)
    versions = authoring.versions(db_session(), campaign_id)
    shown = next((v for v in versions if v.version == (c.published_version or c.latest_version)), versions[0])
    row = next((r for r in authoring.campaign_rows(db_session(), scope()) if r.id == campaign_id), None)
    events = authoring.audit_events(db_session(), object_type="campaign", object_id=str(campaign_id), limit=20)
    return render_template(
        "admin/campaign.html",
        c=c,
        row=row,
        versions=versions,
        shown=shown,
        events=events,
        require_approval=_require_approval(),
        may_publish={v.version: catalog.may_publish(v, require_approval=_require_approval()) for v in versions},
        timezone=programme.load(db_session()).timezone,
        experiment=experiments.report(db_session(), c),
    )


@bp.get("/campaigns/<int:campaign_id>/diff")
@permission_required("campaigns.view")
def campaign_diff(campaign_id: int) -> Any:
    try:
        c = authoring.get_campaign(db_session(), campaign_id, scope())
        a = authoring.get_version(
            db_session(), campaign_id, request.args.get("a", max(1, c.latest_version - 1), type=int)
        )
        b = authoring.get_version(db_session(), campaign_id, request.args.get("b", c.latest_version, type=int))
    except DomainError as err:
        return html_error(err)
    versions = authoring.versions(db_session(), campaign_id)
    return render_template("admin/diff.html", c=c, a=a, b=b, versions=versions, table=authoring.diff_table(a, b))


def _act(campaign_id: int, do: Callable[[], str], *, publishes: bool = False) -> Any:
    """A change to one campaign from its page: scope check, the change, commit, message, back to the page."""
    try:
        authoring.get_campaign(db_session(), campaign_id, scope())
        message = do()
    except DomainError as err:
        db.session.rollback()
        return html_error(err)
    db.session.commit()
    if publishes:
        announce_publication()
    flash(message, "success")
    return redirect(url_for("admin.campaign", campaign_id=campaign_id))


@bp.get("/campaigns/<int:campaign_id>/versions/<int:version>/publish")
@permission_required("campaigns.publish")
def confirm_publish(campaign_id: int, version: int) -> Any:
    """Publishing asks first: what changes against the live version, and what it would have cost lately."""
    days = request.args.get("days", 7, type=int) or 7
    try:
        c = authoring.get_campaign(db_session(), campaign_id, scope())
        preview = simulation.publication_preview(db_session(), campaign_id, version, days=min(max(days, 1), 90))
    except DomainError as err:
        db.session.rollback()
        return html_error(err)
    db.session.rollback()
    blocked = catalog.may_publish(preview["candidate"], require_approval=_require_approval())
    return render_template("admin/publish_confirm.html", c=c, p=preview, blocked=blocked)


@bp.post("/campaigns/<int:campaign_id>/versions/<int:version>/publish")
@permission_required("campaigns.publish")
def publish_campaign(campaign_id: int, version: int) -> Any:
    def do() -> str:
        v = authoring.get_version(db_session(), campaign_id, version)
        rollback = v.published_at is not None
        catalog.publish_version(
            db_session(), campaign_id, version, author=current_user.email, require_approval=_require_approval()
        )
        return (
            _("Version %(version)s is published again (rollback).", version=version)
            if rollback
            else _("Version %(version)s is published.", version=version)
        )

    return _act(campaign_id, do, publishes=True)


@bp.post("/campaigns/<int:campaign_id>/versions/<int:version>/schedule")
@permission_required("campaigns.publish")
def schedule_campaign(campaign_id: int, version: int) -> Any:
    """Publish later: a local date and time in the programme's time zone."""
    tz = ZoneInfo(programme.load(db_session()).timezone)
    try:
        at = datetime.fromisoformat(request.form.get("at", "").strip()).replace(tzinfo=tz)
    except ValueError:
        flash(_("Pick a date and time for the publication."), "error")
        return redirect(url_for("admin.campaign", campaign_id=campaign_id))
    try:
        authoring.get_campaign(db_session(), campaign_id, scope())
        catalog.schedule_version(
            db_session(), campaign_id, version, at, author=current_user.email, require_approval=_require_approval()
        )
    except DomainError as err:
        db.session.rollback()
        if err.status == 422:
            flash(_("Not scheduled: %(reason)s.", reason=err.fields[0].reason if err.fields else err.message), "error")
            return redirect(url_for("admin.campaign", campaign_id=campaign_id))
        return html_error(err)
    db.session.commit()
    flash(
        _("Version %(version)s will be published on %(at)s.", version=version, at=i18n.moment(at, language(), tz.key)),
        "success",
    )
    return redirect(url_for("admin.campaign", campaign_id=campaign_id))


@bp.post("/campaigns/<int:campaign_id>/versions/<int:version>/unschedule")
@permission_required("campaigns.publish")
def unschedule_campaign(campaign_id: int, version: int) -> Any:
    def do() -> str:
        catalog.cancel_schedule(db_session(), campaign_id, version, author=current_user.email)
        return _("The scheduled publication of version %(version)s is cancelled.", version=version)

    return _act(campaign_id, do)


@bp.post("/campaigns/<int:campaign_id>/archive")
@permission_required("campaigns.publish")
def archive_campaign(campaign_id: int) -> Any:
    def do() -> str:
        catalog.archive(db_session(), campaign_id, author=current_user.email)
        return _("Campaign archived: it no longer applies to new transactions.")

    return _act(campaign_id, do, publishes=True)


@bp.post("/campaigns/<int:campaign_id>/versions/<int:version>/submit")
@permission_required("campaigns.edit")
def submit_campaign(campaign_id: int, version: int) -> Any:
    def do() -> str:
        authoring.submit_for_review(db_session(), campaign_id, version, actor=current_user.email)
        return _("Version %(version)s is waiting for a second person's approval.", version=version)

    return _act(campaign_id, do)


def _review(campaign_id: int, version: int, approve: bool) -> Any:
    def do() -> str:
        authoring.review(db_session(), campaign_id, version, actor=current_user.email, approve=approve)
        return (
            _("Version %(version)s approved.", version=version)
            if approve
            else _("Version %(version)s sent back.", version=version)
        )

    return _act(campaign_id, do)


@bp.post("/campaigns/<int:campaign_id>/versions/<int:version>/approve")
@permission_required("campaigns.review")
def approve_campaign(campaign_id: int, version: int) -> Any:
    return _review(campaign_id, version, True)


@bp.post("/campaigns/<int:campaign_id>/versions/<int:version>/reject")
@permission_required("campaigns.review")
def reject_campaign(campaign_id: int, version: int) -> Any:
    return _review(campaign_id, version, False)


@bp.get("/audit")
@permission_required("audit.view")
def audit() -> Any:
    object_type = request.args.get("type", "") or None
    object_id = request.args.get("id", "") or None
    before = request.args.get("before", type=int)
    events = authoring.audit_events(db_session(), object_type=object_type, object_id=object_id, before=before)
    return render_template("admin/audit.html", events=events, type=object_type or "", id=object_id or "")


@bp.get("/audit.csv")
@permission_required("audit.view")
def audit_csv() -> Any:
    events = authoring.audit_events(
        read_session(),
        object_type=request.args.get("type", "") or None,
        object_id=request.args.get("id", "") or None,
        limit=50_000,
    )
    return csv_response(
        "audit-log.csv",
        ["id", "at", "actor", "action", "object_type", "object_id", "details"],
        (
            [
                e.id,
                csv_time(e.at),
                e.actor,
                e.action,
                e.object_type,
                masking.text_for(current_user.role, e.object_id),
                masking.text_for(current_user.role, json.dumps(e.details or {}, ensure_ascii=False, default=str)),
            ]
            for e in events
        ),
    )
