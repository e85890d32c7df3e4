"""With MariaDB unreachable the API answers 503 + Retry-After and acknowledges nothing."""

from __future__ import annotations

from tests.helpers.api import txn
from tests.helpers.services import settings_for_tests
from webapp import create_app


def test_unreachable_database_gives_503_with_retry_after():
    app = create_app(settings_for_tests(database_url="mysql+pymysql://loyalty:loyalty@127.0.0.1:1/none"), TESTING=True)
    client = app.test_client()
    resp = client.post("/api/v1/transactions", json=txn("down-1"), headers={"Authorization": "Bearer lp_whatever"})
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == "5"
    assert resp.get_json()["error"]["code"] == "unavailable"
