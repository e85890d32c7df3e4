"""Tier ladder editor and rewards catalog editor (marketers); both go through the API's own validation."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import Session

from campaigns.access.providers import provider_codes
from campaigns.accounts import rewards
from campaigns.catalog import ladder, programme
from campaigns.errors import DomainError
from campaigns.i18n import localized
from campaigns.models import Reward
from rules.document import load_yaml
from rules.vocabulary import export_rules_vocabulary

from ..extensions import db, db_session
from ..i18n import csv_time
from ..replica import read_session
from ..security import permission_required
from . import bp
from .util import csv_response


def _vocabulary() -> tuple[list[str], list[str]]:
    vocab = export_rules_vocabulary()
    variables = sorted(v["name"] for v in vocab["variables"])
    operators = sorted({o["name"] for ops in vocab["variable_type_operators"].values() for o in ops})
    return variables, operators


def _tiers_page(
    rows: list[ladder.TierRow] | None = None,
    grace: str | None = None,
    errors: dict[str, str] | None = None,
    general: list[str] | None = None,
) -> Any:
    current = ladder.load(db_session())
    editing = rows if rows is not None else current.tiers
    variables, operators = _vocabulary()
    return (
        render_template(
            "admin/tiers.html",
            ladder=current,
            rows=[*editing, ladder.TierRow()],  # one blank row to add a tier
            grace=current.grace_days if grace is None else grace,
            errors=errors or {},
            general=general or [],
            variables=variables,
            operators=operators,
            max_conditions=ladder.MAX_CONDITIONS,
        ),
        422 if errors or general else 200,
    )


@bp.get("/tiers")
@permission_required("campaigns.view")
def tiers() -> Any:
    return _tiers_page()


@bp.post("/tiers")
@permission_required("campaigns.edit")
def tiers_save() -> Any:
    try:
        version = ladder.save(db_session(), request.form, author=current_user.email)
    except ladder.LadderInvalid as err:
        db.session.rollback()
        return _tiers_page(err.rows, request.form.get("grace_days", ""), err.field_errors, err.general)
    db.session.commit()
    flash(
        _("Tier ladder saved as draft version %(version)s. Publish it below to apply it.", version=version.version),
        "success",
    )
    return redirect(url_for("admin.campaign", campaign_id=version.campaign_id))


# -- rewards ------------------------------------------------------------------------------------------

REWARD_FIELDS = ("code", "name", "cost", "stock", "per_customer_limit", "voucher_days", "valid_from", "valid_to")


def _tz() -> ZoneInfo:
    return ZoneInfo(programme.load(db_session()).timezone)


def _form_of(r: Reward | None) -> dict[str, str]:
    if r is None:
        return {"voucher_days": "30", "active": "1"}
    codes = provider_codes(db_session())
    tz = _tz()
    return {
        "code": r.code,
        "name": localized(r.names or r.name, "vi"),
        "name_en": (r.names or {}).get("en", ""),
        "description": localized(r.description, "vi"),
        "description_en": r.description.get("en", "") if isinstance(r.description, dict) else "",
        "cost": str(r.cost),
        "stock": "" if r.stock is None else str(r.stock),
        "per_customer_limit": "" if r.per_customer_limit is None else str(r.per_customer_limit),
        "voucher_days": str(r.voucher_days),
        "valid_from": r.valid_from.astimezone(tz).strftime("%Y-%m-%dT%H:%M") if r.valid_from else "",
        "valid_to": r.valid_to.astimezone(tz).strftime("%Y-%m-%dT%H:%M") if r.valid_to else "",
        "eligibility": yaml.safe_dump(r.eligibility, sort_keys=False, allow_unicode=True) if r.eligibility else "",
        "provider": codes.get(r.provider_id, "") if r.provider_id else "",
        "active": "1" if r.active else "",
    }


def _data_of(form: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """Form strings to the API's reward body; blank optional numbers mean 'none' (unlimited)."""
    errors: dict[str, str] = {}
    data: dict[str, Any] = {"code": form.get("code", "").strip()}
    for key in ("name", "description"):  # one text for both languages, or {vi, en} when the English differs
        text, english = form.get(key, "").strip(), form.get(key + "_en", "").strip()
        if text or english or key == "name":
            data[key] = {"vi": text, "en": english} if english else text
    for key in ("cost", "stock", "per_customer_limit", "voucher_days"):
        raw = form.get(key, "").strip().replace(",", "")
        if raw == "":
            if key == "cost":
                errors[key] = "required"
            elif key == "voucher_days":
                data[key] = 30
            continue
        try:
            data[key] = int(raw)
        except ValueError:
            errors[key] = _("must be a whole number")
    tz = _tz()
    for key in ("valid_from", "valid_to"):
        raw = form.get(key, "").strip()
        if raw:
            try:
                data[key] = datetime.fromisoformat(raw).replace(tzinfo=tz).isoformat()
            except ValueError:
                errors[key] = "use a date and time, e.g. 2027-01-20T00:00"
    text = form.get("eligibility", "").strip()
    if text:
        try:
            parsed = load_yaml(text)  # no aliases: an expansion bomb would blow up in json.dumps below
        except yaml.YAMLError as exc:
            errors["eligibility"] = f"not valid YAML/JSON: {' '.join(str(exc).split())[:200]}"
        except RecursionError:
            errors["eligibility"] = _("nested too deeply")
        else:
            if isinstance(parsed, dict):
                data["eligibility"] = json.loads(json.dumps(parsed, default=str))
            else:
                errors["eligibility"] = _("expected conditions like {all: [{name: …, operator: …, value: …}]}")
    data["provider"] = form.get("provider", "").strip() or None
    data["active"] = form.get("active") == "1"
    return data, errors


def _reward_page(reward: Reward | None, form: dict[str, str], errors: dict[str, str] | None = None) -> Any:
    variables, _types = _vocabulary()
    return (
        render_template(
            "admin/reward.html",
            reward=reward,
            form=form,
            errors=errors or {},
            providers=sorted(provider_codes(db_session()).values()),
            variables=variables,
            timezone=programme.load(db_session()).timezone,
        ),
        422 if errors else 200,
    )


def _rows(session: Session | None = None) -> list[dict[str, Any]]:
    session = session or db_session()
    codes = provider_codes(session)
    return [
        {**rewards.reward_view(r), "provider": codes.get(r.provider_id, "") if r.provider_id else ""}
        for r in rewards.list_rewards(session)
    ]


def rewards_exists(code: str) -> bool:
    return db.session.query(Reward.id).filter(Reward.code == code).first() is not None


@bp.get("/rewards")
@permission_required("rewards.view")
def rewards_list() -> Any:
    return render_template("admin/rewards.html", rows=_rows())


@bp.get("/rewards.csv")
@permission_required("rewards.view")
def rewards_csv() -> Any:
    header = ["code", "name", "cost", "stock", "issued", "available", "per_customer_limit", "voucher_days"]
    header += ["valid_from", "valid_to", "provider", "active", "eligibility"]
    return csv_response(
        "rewards.csv",
        header,
        (
            [
                r["code"],
                r["name"],
                r["cost"],
                "" if r["stock"] is None else r["stock"],
                r["issued"],
                "" if r["available"] is None else r["available"],
                r["per_customer_limit"] or "",
                r["voucher_days"],
                csv_time(r["valid_from"]),
                csv_time(r["valid_to"]),
                r["provider"],
                r["active"],
                json.dumps(r["eligibility"], ensure_ascii=False) if r["eligibility"] else "",
            ]
            for r in _rows(read_session())
        ),
    )


@bp.get("/rewards/new")
@permission_required("rewards.manage")
def reward_new() -> Any:
    return _reward_page(None, _form_of(None))


@bp.get("/rewards/<int:reward_id>")
@permission_required("rewards.manage")
def reward_edit(reward_id: int) -> Any:
    reward = db.session.get(Reward, reward_id)
    if reward is None:
        return render_template("error.html", status=404, message=_("No such reward.")), 404
    return _reward_page(reward, _form_of(reward))


@bp.post("/rewards")
@permission_required("rewards.manage")
def reward_save() -> Any:
    form = request.form.to_dict()
    reward_id = request.form.get("reward_id", type=int)
    existing = db.session.get(Reward, reward_id) if reward_id else None
    if existing is not None:
        form["code"] = existing.code  # the code names the reward; it does not change
    data, errors = _data_of(form)
    if existing is None and data["code"] and rewards_exists(data["code"]):
        errors["code"] = _("a reward with this code exists; edit it from the list")
    if not errors:
        try:
            saved = rewards.save_reward(db_session(), data, actor=current_user.email)
        except DomainError as err:
            db.session.rollback()
            for f in err.fields:
                key = f.path.split(".", 1)[0].split("[", 1)[0]
                key = key if key in (*REWARD_FIELDS, "eligibility", "provider") else "code"
                errors.setdefault(key, f"{f.path}: {f.reason}" if key == "eligibility" else f.reason)
            errors = errors or {"code": err.message}
        else:
            db.session.commit()
            flash(_("Reward %(code)s saved.", code=saved.code), "success")
            return redirect(url_for("admin.rewards_list"))
    return _reward_page(existing, form, errors)
