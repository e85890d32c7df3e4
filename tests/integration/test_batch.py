"""Batch ingestion: one result per item, valid items never lost because of a bad neighbour."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.helpers.api import publish, txn
from tests.helpers.database import ledger_ok
from tests.helpers.documents import BASE_EARNING


def test_mixed_batch(app, client, telecom, staff, work):
    publish(client, staff, BASE_EARNING)
    old = txn("old", 50_000)
    client.post("/api/v1/transactions", json=old, headers=telecom.headers)
    b0 = txn("b-0", 100_000, phone="0912000001")
    items = [
        b0,
        {**txn("b-1"), "amount": -1},
        old,
        txn("b-3", 200_000, phone="0912000002"),
        b0,
        txn("b-3", 999_000, phone="0912000002"),
        "not an object",
        txn("b-7", 30_000, customer={"phone": "0912000001", "national_id": "123456789"}),
    ]
    resp = client.post("/api/v1/transactions/batch", json={"transactions": items}, headers=telecom.headers)
    assert resp.status_code == 202
    body = resp.get_json()
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["accepted", "error", "duplicate", "accepted", "duplicate", "error", "error", "accepted"]
    assert body["accepted"] == 3 and body["duplicate"] == 2 and body["error"] == 3
    assert [r["index"] for r in body["results"]] == list(range(8))
    assert body["results"][1]["error"]["fields"][0]["path"] == "transactions[1].amount"
    assert body["results"][5]["error"]["code"] == "duplicate_conflict"
    assert body["results"][4]["id"] == body["results"][0]["id"]
    assert body["results"][7]["customer_id"] == body["results"][0]["customer_id"]

    work()
    for r in body["results"]:
        if r["status"] == "accepted":
            view = client.get(f"/api/v1/transactions/{r['id']}", headers=telecom.headers).get_json()
            assert view["status"] == "processed"
    ledger_ok(app)


def test_large_batch_is_inserted_and_credited(app, client, telecom, staff, work):
    publish(client, staff, BASE_EARNING)
    items = [txn(f"L-{i}", 10_000 * (1 + i % 5), phone=f"09120{i:05d}") for i in range(1000)]
    resp = client.post("/api/v1/transactions/batch", json={"transactions": items}, headers=telecom.headers)
    assert resp.status_code == 202 and resp.get_json()["accepted"] == 1000
    work()
    from campaigns.models import CustomerBalance, Transaction
    from webapp.extensions import db

    with app.app_context():
        assert db.session.scalar(select(func.count()).where(Transaction.status == "processed")) == 1000
        assert db.session.scalar(select(func.sum(CustomerBalance.balance))) == sum(1 + i % 5 for i in range(1000))
    ledger_ok(app)


def test_batch_limits(client, telecom):
    too_many = [txn(f"x{i}") for i in range(1001)]
    resp = client.post("/api/v1/transactions/batch", json={"transactions": too_many}, headers=telecom.headers)
    assert resp.status_code == 422
    assert resp.get_json()["error"]["fields"][0]["path"] == "transactions"
    assert (
        client.post("/api/v1/transactions/batch", json={"transactions": []}, headers=telecom.headers).status_code == 422
    )
    assert client.post("/api/v1/transactions/batch", json={"items": []}, headers=telecom.headers).status_code == 422
    # a bare list is accepted too, under the same limit
    assert client.post("/api/v1/transactions/batch", json=[txn("bare")], headers=telecom.headers).status_code == 202
    bare = client.post("/api/v1/transactions/batch", json=too_many, headers=telecom.headers)
    assert bare.status_code == 422
    [field] = bare.get_json()["error"]["fields"]
    assert field["path"] == "transactions" and "at most 1000 items" in field["reason"]


def test_batch_limit_is_the_schemas_in_the_api_and_its_document(client):
    from campaigns.schemas import TransactionBatchIn

    limit = TransactionBatchIn.model_json_schema()["properties"]["transactions"]["maxItems"]
    post = client.get("/api/v1/openapi.json").get_json()["paths"]["/api/v1/transactions/batch"]["post"]
    envelope, bare_list = post["requestBody"]["content"]["application/json"]["schema"]["anyOf"]
    assert envelope == {"$ref": "#/components/schemas/TransactionBatchIn"}
    assert (bare_list["minItems"], bare_list["maxItems"]) == (1, limit) and f"{limit:,}" in post["summary"]
