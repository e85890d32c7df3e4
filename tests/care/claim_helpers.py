"""Shared set-up for the claims tests: a programme, a customer with points, staff users, and readers."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.channels.helpers import PHONE, SECRET, customer_id, earn, programme
from tests.helpers.factories import make_user
from tests.helpers.web import csrf_token, login

H = {"X-Gateway-Secret": SECRET}


def setup(client: FlaskClient, staff: dict[str, str], telecom: Any, work: Any, app: Flask) -> int:
    """The channel programme (1 point per 10k), one telecom transaction of 600k: 60 points."""
    programme(client, staff)
    earn(client, telecom, work, "t1", 600_000)
    return customer_id(app)


def sms(client: FlaskClient, text: str, **extra: Any) -> dict[str, Any]:
    resp = client.post("/channels/sms", json={"from": PHONE, "text": text, **extra}, headers=H)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def staff_login(app: Flask, client: FlaskClient, role: str, provider: str | None = None) -> str:
    email = make_user(app, f"{role}-{provider or 'all'}@example.com", role, provider=provider)
    assert login(client, email).status_code == 302
    return csrf_token(client, "/care/claims")


def claim(app: Flask, claim_id: int) -> Any:
    from campaigns.models import Claim
    from webapp.extensions import db

    with app.app_context():
        row = db.session.get(Claim, claim_id)
        db.session.expunge_all()
        db.session.remove()
    return row


def rows(app: Flask, model: Any, *where: Any) -> list[Any]:
    from webapp.extensions import db

    with app.app_context():
        out = list(db.session.scalars(select(model).where(*where).order_by(model.id)))
        db.session.expunge_all()
        db.session.remove()
    return out


def field_error(html: str, field_id: str) -> str:
    match = re.search(rf'id="{re.escape(field_id)}-err">([^<]*)<', html)
    assert match, f"no error for {field_id}"
    return match.group(1)
