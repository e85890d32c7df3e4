"""Shared set-up for the customer-channel tests: a programme with earning rules, tiers, rewards and a customer."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from tests.helpers.api import publish, txn
from tests.helpers.documents import BASE_EARNING

PHONE = "+84912345678"
SECRET = "gateway-secret"

TIERS = """
name: Programme tiers
type: tier
tiers:
  - {code: member, name: Thành viên, rank: 0}
  - {code: silver, name: Bạc, rank: 1}
  - {code: gold, name: Vàng, rank: 2}
rules:
  - name: member
    conditions: {all: [{name: qualifying_points_365d, operator: greater_than_or_equal_to, value: 0}]}
    actions: [{name: set_tier, params: {tier: member}}]
  - name: silver
    conditions: {all: [{name: qualifying_points_365d, operator: greater_than_or_equal_to, value: 1000}]}
    actions: [{name: set_tier, params: {tier: silver}}]
  - name: gold
    conditions: {all: [{name: qualifying_points_365d, operator: greater_than_or_equal_to, value: 3000}]}
    actions: [{name: set_tier, params: {tier: gold}}]
"""

REWARDS = [
    {"code": "TOPUP10", "name": "Thẻ cào 10.000đ", "cost": 100},
    {"code": "COFFEE", "name": "Cà phê sữa đá", "cost": 150},
    {"code": "TOPUP50", "name": "Thẻ cào 50.000đ", "cost": 500},
    {"code": "MOVIE", "name": "Vé xem phim CGV", "cost": 800},
    {"code": "BAG", "name": "Túi vải thân thiện môi trường", "cost": 1200},
    {"code": "HEADPHONES", "name": "Tai nghe không dây cao cấp", "cost": 5000},
    {"code": "VOUCHER200", "name": "Phiếu mua hàng 200.000đ", "cost": 2000},
]


def set_setting(client: FlaskClient, staff: dict[str, str], key: str, value: Any) -> None:
    resp = client.put(f"/api/v1/settings/{key}", json={"value": value}, headers=staff)
    assert resp.status_code == 200, resp.get_json()


def programme(client: FlaskClient, staff: dict[str, str], *, quiet: Any = None, rewards: bool = True) -> None:
    publish(client, staff, BASE_EARNING)
    publish(client, staff, TIERS)
    set_setting(client, staff, "quiet_hours", quiet)
    if rewards:
        for r in REWARDS:
            assert client.post("/api/v1/rewards", json=r, headers=staff).status_code in (200, 201)


def earn(client: FlaskClient, provider: Any, work: Any, ref: str, amount: int, phone: str = "0912345678") -> None:
    resp = client.post("/api/v1/transactions", json=txn(ref, amount, phone=phone), headers=provider.headers)
    assert resp.status_code == 202, resp.get_json()
    work()


def customer_id(app: Flask, phone: str = PHONE) -> int:
    from campaigns.models import CustomerIdentity
    from webapp.extensions import db

    with app.app_context():
        cid = db.session.scalar(select(CustomerIdentity.customer_id).where(CustomerIdentity.value == phone))
        db.session.remove()
    assert cid is not None
    return cid


def set_customer(app: Flask, cid: int, **values: Any) -> None:
    from campaigns.models import Customer
    from webapp.extensions import db

    with app.app_context():
        db.session.execute(update(Customer).where(Customer.id == cid).values(**values))
        db.session.commit()


def outbox(app: Flask, **where: Any) -> list[Any]:
    from campaigns.models import Outbox
    from webapp.extensions import db

    with app.app_context():
        q = select(Outbox).order_by(Outbox.id)
        for k, v in where.items():
            q = q.where(getattr(Outbox, k) == v)
        rows = list(db.session.scalars(q))
        db.session.remove()
    return rows


def sent_to(phone: str = PHONE) -> list[str]:
    from campaigns.notify.gateways import LoggingGateway

    return [m.text for m in LoggingGateway.sent if m.to == phone]
