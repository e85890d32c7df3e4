"""Provider transaction API end to end: HTTP -> MariaDB -> Redis -> RQ worker -> ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.helpers.api import publish, txn
from tests.helpers.database import ledger_ok
from tests.helpers.documents import BASE_EARNING


def test_post_credit_and_read_back(app, client, telecom, staff, work):
    publish(client, staff, BASE_EARNING)
    resp = client.post("/api/v1/transactions", json=txn("t-1", 150_000), headers=telecom.headers)
    assert resp.status_code == 202
    body = resp.get_json()
    assert body["status"] == "queued" and isinstance(body["id"], int)

    work()
    view = client.get(f"/api/v1/transactions/{body['id']}", headers=telecom.headers).get_json()
    assert view["status"] == "processed"
    assert view["points"] == 15
    award = view["awards"][0]
    assert len(view["awards"]) == 1
    assert (award["campaign"], award["campaign_version"], award["rule"], award["points"]) == (
        "Base earning",
        1,
        "1 point per 10k",
        15,
    )
    assert view["processed_at"] and view["received_at"]
    ledger_ok(app)


def test_replay_same_body_returns_original_and_different_body_conflicts(client, telecom, work):
    body = txn("t-dup")
    first = client.post("/api/v1/transactions", json=body, headers=telecom.headers)
    again = client.post(
        "/api/v1/transactions", json={**body, "customer": {"phone": "+84 912 345 678"}}, headers=telecom.headers
    )
    assert first.status_code == 202 and again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"]
    other = client.post("/api/v1/transactions", json={**body, "amount": 999_000}, headers=telecom.headers)
    assert other.status_code == 409
    err = other.get_json()["error"]
    assert err["code"] == "duplicate_conflict" and err["fields"][0]["path"] == "provider_txn_id"


def test_validation_errors_name_the_field(client, telecom):
    cases = [
        ({**txn("v1"), "amount": -5}, "amount"),
        ({**txn("v2"), "amount": "abc"}, "amount"),
        ({**txn("v3"), "amount": 100.5}, "amount"),
        ({**txn("v4"), "customer": {"phone": "12"}}, "customer.phone"),
        ({**txn("v5"), "customer": {"national_id": "12345"}}, "customer.national_id"),
        ({**txn("v6"), "customer": {}}, "customer"),
        ({**txn("v7"), "occurred_at": "2026-01-01T10:00:00"}, "occurred_at"),
        ({**txn("v8"), "occurred_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat()}, "occurred_at"),
        ({**txn("v9"), "currency": "dong"}, "currency"),
        ({**txn("v10"), "attributes": {"nested": {"a": 1}}}, "attributes.nested"),
        ({**txn("v11"), "surprise": 1}, "surprise"),
        ({k: v for k, v in txn("v12").items() if k != "provider_txn_id"}, "provider_txn_id"),
    ]
    for body, path in cases:
        resp = client.post("/api/v1/transactions", json=body, headers=telecom.headers)
        assert resp.status_code == 422, (path, resp.get_json())
        paths = [f["path"] for f in resp.get_json()["error"]["fields"]]
        assert any(p == path or p.startswith(path + ".") for p in paths), (path, paths)


def test_http_errors_have_one_shape(app, client, telecom, staff):
    cases = [
        (
            client.post(
                "/api/v1/transactions",
                data="{not json",
                headers={**telecom.headers, "Content-Type": "application/json"},
            ),
            400,
        ),
        (client.post("/api/v1/transactions", data="", headers=telecom.headers), 400),
        (
            client.post("/api/v1/transactions", data="a=b", headers={**telecom.headers, "Content-Type": "text/plain"}),
            415,
        ),
        (client.post("/api/v1/transactions", json=txn("x")), 401),
        (client.post("/api/v1/transactions", json=txn("x"), headers={"Authorization": "Bearer nope"}), 401),
        (client.post("/api/v1/transactions", json=txn("x"), headers=staff), 403),
        (client.get("/api/v1/transactions/999999", headers=telecom.headers), 404),
        (
            client.post(
                "/api/v1/transactions",
                data="x" * (app.config["MAX_CONTENT_LENGTH"] + 10),
                headers={**telecom.headers, "Content-Type": "application/json"},
            ),
            413,
        ),
        (
            client.post(
                "/api/v1/transactions",
                data="[" * 100 + "]" * 100,
                headers={**telecom.headers, "Content-Type": "application/json"},
            ),
            400,
        ),
    ]
    for resp, status in cases:
        assert resp.status_code == status, (status, resp.get_data(as_text=True)[:200])
        err = resp.get_json()["error"]
        assert set(err) == {"code", "message", "fields"} and err["message"]


def test_a_provider_sees_only_its_own_transactions(client, telecom, shop):
    tid = client.post("/api/v1/transactions", json=txn("mine"), headers=telecom.headers).get_json()["id"]
    assert client.get(f"/api/v1/transactions/{tid}", headers=shop.headers).status_code == 404
    assert client.post(f"/api/v1/transactions/{tid}/reversal", json={}, headers=shop.headers).status_code == 404
    # the same provider_txn_id is free for another provider
    assert client.post("/api/v1/transactions", json=txn("mine"), headers=shop.headers).status_code == 202


def test_identity_linking_and_conflict(client, telecom):
    a = client.post(
        "/api/v1/transactions",
        json=txn("i1", customer={"phone": "0912345678", "national_id": "001099012345"}),
        headers=telecom.headers,
    )
    b = client.post(
        "/api/v1/transactions", json=txn("i2", customer={"national_id": "001099012345"}), headers=telecom.headers
    )
    c = client.post("/api/v1/transactions", json=txn("i3", customer={"phone": "+84912345678"}), headers=telecom.headers)
    assert a.get_json()["customer_id"] == b.get_json()["customer_id"] == c.get_json()["customer_id"]
    # a second person, then a transaction claiming both people's identities
    client.post("/api/v1/transactions", json=txn("i4", customer={"phone": "0987654321"}), headers=telecom.headers)
    # linking a new national ID to a known phone
    d = client.post(
        "/api/v1/transactions",
        json=txn("i5", customer={"phone": "0987654321", "national_id": "123456789"}),
        headers=telecom.headers,
    )
    assert d.status_code == 202
    clash = client.post(
        "/api/v1/transactions",
        json=txn("i6", customer={"phone": "0912345678", "national_id": "123456789"}),
        headers=telecom.headers,
    )
    assert clash.status_code == 409
    err = clash.get_json()["error"]
    assert err["code"] == "identity_conflict"
    assert {f["path"] for f in err["fields"]} == {"customer.phone", "customer.national_id"}


def test_customer_lookup_and_profile(app, client, telecom, shop, staff, work):
    publish(client, staff, BASE_EARNING)
    client.post("/api/v1/transactions", json=txn("c1", 200_000, phone="0912345678"), headers=telecom.headers)
    work()
    for q in ("phone=0912345678", "phone=%2B84912345678", "phone=84912345678"):
        resp = client.get(f"/api/v1/customers/lookup?{q}", headers=shop.headers)
        assert resp.status_code == 200, q
        body = resp.get_json()
        assert body["balance"] == 20 and body["lifetime_points"] == 20
        assert body["identities"] == [{"type": "phone", "value": "+84912345678"}]
        assert body["ledger"] == [] and body["shared"] is False  # the telecom's line needs the member's consent
    cid = body["id"]
    own = client.get("/api/v1/customers/lookup?phone=0912345678", headers=telecom.headers).get_json()
    assert own["ledger"][0]["provider"] == "telecom" and own["ledger"][0]["points"] == 20
    assert client.get(f"/api/v1/customers/{cid}", headers=telecom.headers).status_code == 200
    # shop has no dealings with this customer yet: no enumeration by id
    assert client.get(f"/api/v1/customers/{cid}", headers=shop.headers).status_code == 404
    assert client.get(f"/api/v1/customers/{cid}", headers=staff).status_code == 200
    assert client.get("/api/v1/customers/lookup?phone=0900000001", headers=shop.headers).status_code == 404
    bad = client.get("/api/v1/customers/lookup?phone=12", headers=shop.headers)
    assert bad.status_code == 422 and bad.get_json()["error"]["fields"][0]["path"] == "phone"
    assert client.get("/api/v1/customers/lookup", headers=shop.headers).status_code == 422


def test_openapi_document_is_served_and_generated_from_the_schemas(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    schema = doc["components"]["schemas"]["TransactionIn"]
    assert {"provider_txn_id", "customer", "amount", "occurred_at"} <= set(schema["required"])
    assert "/api/v1/transactions/batch" in doc["paths"]
    assert "/api/v1/transactions/{txn_id}/reversal" in doc["paths"]
