"""Issue 16 (attributes, length of service, programme expiry, validator): through the API, the CLI and the worker."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from campaigns.models import PointLot
from tests.helpers.api import publish, txn
from tests.helpers.documents import BASE_EARNING
from webapp.extensions import db


def _month_end_after(moment: datetime, months: int) -> datetime:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    local = moment.astimezone(zone)
    year, month = divmod(local.month + months, 12)
    return datetime(local.year + year, month + 1, 1, tzinfo=zone).astimezone(UTC)


def test_the_programme_expiry_accepts_the_month_end_policies_of_campaign_documents(app, client, telecom, staff, work):
    url = "/api/v1/settings/points_expiry"
    for value, path, reason in (
        ({"policy": "end_of_month_afte"}, "value.policy", "did you mean 'end_of_month_after'?"),
        ({"policy": "end_of_month_after"}, "value.months", "required by policy 'end_of_month_after'"),
        ({"policy": "end_of_month_after", "months": 0}, "value.months", "must be between 1 and 120"),
        ({"policy": "end_of_next_month", "months": 2}, "value.months", "not used by policy 'end_of_next_month'"),
    ):
        bad = client.put(url, json={"value": value}, headers=staff)
        assert bad.status_code == 422, bad.get_json()
        (field,) = bad.get_json()["error"]["fields"]
        assert field["path"] == path and reason in field["reason"], field
    ok = client.put(url, json={"value": "end_of_next_month"}, headers=staff)
    assert ok.status_code == 200, ok.get_json()
    assert ok.get_json()["points_expiry"] == {"policy": "end_of_next_month"}
    publish(client, staff, BASE_EARNING)
    assert client.post("/api/v1/transactions", json=txn("pe-1", 100_000), headers=telecom.headers).status_code == 202
    work()
    ok = client.put(url, json={"value": {"policy": "end_of_month_after", "months": 3}}, headers=staff)
    assert ok.status_code == 200, ok.get_json()
    assert client.post("/api/v1/transactions", json=txn("pe-2", 100_000), headers=telecom.headers).status_code == 202
    work()
    with app.app_context():
        lots = db.session.execute(select(PointLot.created_at, PointLot.expires_at).order_by(PointLot.id)).all()
    assert [expires for _, expires in lots] == [
        _month_end_after(lots[0][0], 1),
        _month_end_after(lots[1][0], 3),
    ]
