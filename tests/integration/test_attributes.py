"""Issue 16 (attributes, length of service, programme expiry, validator): through the API, the CLI and the worker."""

from __future__ import annotations

import csv
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask_migrate import upgrade
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from campaigns.access.providers import create_provider, issue_key
from campaigns.accounts.lifecycle import run_all
from campaigns.models import AuditEvent, Customer, CustomerProvider, PointLot, Provider
from campaigns.settings import Settings
from tests.helpers.api import publish, txn
from tests.helpers.database import ledger_ok
from tests.helpers.documents import BASE_EARNING
from tests.helpers.factories import make_user
from tests.helpers.web import csrf_token, login
from webapp import create_app
from webapp.extensions import db

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def _month_end_after(moment: datetime, months: int) -> datetime:
    local = moment.astimezone(ZONE)
    year, month = divmod(local.month + months, 12)
    return datetime(local.year + year, month + 1, 1, tzinfo=ZONE).astimezone(UTC)


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


DECLARED = {"vip": "boolean", "segment": "string", "score": "numeric"}


def _declare(client, staff, declared=DECLARED):
    resp = client.put("/api/v1/settings/customer_attributes", json={"value": declared}, headers=staff)
    assert resp.status_code == 200, resp.get_json()


def _customer_of(client, headers, ref: str, phone: str = "0912345678") -> int:
    resp = client.post("/api/v1/transactions", json=txn(ref, 10_000, phone), headers=headers)
    assert resp.status_code == 202, resp.get_json()
    return resp.get_json()["customer_id"]


def _audit(app) -> list[tuple[str, str, str, dict]]:
    with app.app_context():
        rows = db.session.execute(
            select(AuditEvent.actor, AuditEvent.action, AuditEvent.object_id, AuditEvent.details)
            .where(AuditEvent.object_type == "customer")
            .order_by(AuditEvent.id)
        ).all()
        db.session.remove()
    return [tuple(r) for r in rows]


def test_providers_set_attributes_and_tags_scoped_and_audited(app, client, telecom, shop, staff):
    bad = client.put("/api/v1/settings/customer_attributes", json={"value": {"vip": "bool"}}, headers=staff)
    assert bad.status_code == 422 and bad.get_json()["error"]["fields"][0]["path"] == "value.vip"
    _declare(client, staff)
    cid = _customer_of(client, telecom.headers, "a-1")
    url = f"/api/v1/customers/{cid}/attributes"

    resp = client.put(
        url, json={"attributes": {"vip": True, "segment": "family", "score": 7.5}}, headers=telecom.headers
    )
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {
        "customer_id": cid,
        "attributes": {"score": 7.5, "segment": "family", "vip": True},
        "tags": [],
    }
    # the body replaces what this provider set (vip and score go: one left out, one null); the bare object works too
    resp = client.put(url, json={"segment": "gold", "score": None}, headers=telecom.headers)
    assert resp.get_json()["attributes"] == {"segment": "gold"}
    same = client.put(url, json={"attributes": {"segment": "gold"}}, headers=telecom.headers)
    assert same.status_code == 200  # nothing changed: no audit row

    for body, path, reason in (
        ({"attributes": {"vip": "yes"}}, "attributes.vip", "must be true or false"),
        ({"attributes": {"score": "7"}}, "attributes.score", "must be a number"),
        ({"attributes": {"segmnt": "x"}}, "attributes.segmnt", "did you mean 'segment'?"),
        ({"attributes": {"bad-name": 1}}, "attributes.bad-name", "not a valid attribute name"),
    ):
        resp = client.put(url, json=body, headers=telecom.headers)
        assert resp.status_code == 422, resp.get_json()
        (field,) = resp.get_json()["error"]["fields"]
        assert field["path"] == path and reason in field["reason"], field

    tag = f"/api/v1/customers/{cid}/tags/vip-club"
    assert client.put(tag, headers=telecom.headers).get_json()["tags"] == ["vip-club"]
    assert client.put(tag, headers=telecom.headers).get_json()["tags"] == ["vip-club"]  # idempotent
    bad_tag = client.put(f"/api/v1/customers/{cid}/tags/VIP", headers=telecom.headers)
    assert bad_tag.status_code == 422 and bad_tag.get_json()["error"]["fields"][0]["path"] == "tag"

    # another provider never dealt with this customer: 404 for every route, nothing changes
    for method, target, body in (("PUT", url, {"vip": False}), ("PUT", tag, None), ("DELETE", tag, None)):
        assert client.open(target, method=method, json=body, headers=shop.headers).status_code == 404
    assert client.put(f"/api/v1/customers/{cid + 999}/attributes", json={}, headers=telecom.headers).status_code == 404
    profile = client.get(f"/api/v1/customers/{cid}", headers=telecom.headers).get_json()
    assert profile["tags"] == ["vip-club"]

    assert client.delete(tag, headers=telecom.headers).get_json()["tags"] == []
    assert client.delete(tag, headers=telecom.headers).status_code == 200  # a retried DELETE is not an error
    # once the shop has dealt with the customer it sets attributes too; each provider's PUT replaces only its own
    assert client.post("/api/v1/transactions", json=txn("a-shop", 10_000), headers=shop.headers).status_code == 202
    resp = client.put(url, json={"score": 3}, headers=shop.headers)
    assert resp.status_code == 200 and resp.get_json()["attributes"] == {"score": 3, "segment": "gold"}
    resp = client.put(url, json={"vip": True}, headers=telecom.headers)
    assert resp.get_json()["attributes"] == {"score": 3, "vip": True}
    staff_put = client.put(url, json={"vip": False}, headers=staff)  # staff reach every customer
    assert staff_put.get_json()["attributes"] == {"vip": False}  # and replace its whole set

    audit = _audit(app)
    assert [(action, obj) for _actor, action, obj, _d in audit] == [
        ("customer.attributes_set", str(cid)),
        ("customer.attributes_set", str(cid)),
        ("customer.tag_added", str(cid)),
        ("customer.tag_removed", str(cid)),
        ("customer.attributes_set", str(cid)),
        ("customer.attributes_set", str(cid)),
        ("customer.attributes_set", str(cid)),
    ]
    assert audit[1][3]["old"] == {"segment": "family", "score": 7.5, "vip": True}
    assert audit[1][3]["new"] == {"segment": "gold", "score": None, "vip": None}
    assert len({actor for actor, *_ in audit[4:]}) == 3  # the shop's key, the telecom's, the staff token


VIP_BONUS = {
    "name": "VIP bonus",
    "rules": [
        {
            "name": "vip",
            "conditions": {"all": [{"name": "customer.vip", "operator": "is_true"}]},
            "actions": [{"name": "award_points", "params": {"points": 100}}],
        }
    ],
}


class _Queries:
    """Counts the reads of customer_attributes and of the batch's customer states (one each per crediting batch)."""

    def __init__(self) -> None:
        self.attributes = self.states = 0

    def __call__(self, conn, cursor, statement, *args) -> None:
        self.attributes += "FROM customer_attributes" in statement
        self.states += "FROM customer_providers" in statement


def test_a_campaign_on_customer_vip_credits_through_the_worker_with_one_read_a_batch(app, client, telecom, staff, work):
    undeclared = client.post("/api/v1/campaigns/validate", json=VIP_BONUS, headers=staff)
    assert undeclared.status_code == 422
    (field,) = undeclared.get_json()["error"]["fields"]
    assert field["path"] == "rules[0].conditions.all[0].name" and "not a declared customer attribute" in field["reason"]
    _declare(client, staff)
    wrong = {**VIP_BONUS, "rules": [{**VIP_BONUS["rules"][0], "conditions": {"all": [
        {"name": "customer.vip", "operator": "greater_than", "value": 1}
    ]}}]}  # fmt: skip
    resp = client.post("/api/v1/campaigns/validate", json=wrong, headers=staff)
    assert resp.status_code == 422
    assert "not an operator of boolean variable 'customer.vip'" in resp.get_json()["error"]["fields"][0]["reason"]
    publish(client, staff, BASE_EARNING)
    publish(client, staff, VIP_BONUS)
    phones = [f"09120000{i:02d}" for i in range(5)]
    ids = [_customer_of(client, telecom.headers, f"seed-{i}", phone) for i, phone in enumerate(phones)]
    work()
    for cid in ids[:3]:
        resp = client.put(f"/api/v1/customers/{cid}/attributes", json={"vip": True}, headers=telecom.headers)
        assert resp.status_code == 200
    client.put(f"/api/v1/customers/{ids[3]}/attributes", json={"vip": False}, headers=telecom.headers)
    batch = [txn(f"vip-{i}-{n}", 100_000, phone) for n in range(3) for i, phone in enumerate(phones)]
    resp = client.post("/api/v1/transactions/batch", json={"transactions": batch}, headers=telecom.headers)
    assert resp.status_code in (200, 202, 207), resp.get_json()
    reads = _Queries()
    event.listen(Engine, "before_cursor_execute", reads)
    try:
        work()
    finally:
        event.remove(Engine, "before_cursor_execute", reads)
    balances = [
        client.get(f"/api/v1/customers/lookup?phone={p}", headers=telecom.headers).get_json()["balance"] for p in phones
    ]
    assert balances == [1 + 3 * (10 + 100)] * 3 + [1 + 3 * 10] * 2
    # one read per crediting batch (the partitions split the 15 transactions into a few), never one per transaction
    assert 1 <= reads.attributes == reads.states < len(batch)
    ledger_ok(app)


SERVICE_TIERS = """
name: Service tiers
type: tier
tiers:
  - {code: member, name: Member, rank: 0}
  - {code: veteran, name: Veteran, rank: 1, benefits: {earn_multiplier: 2}}
rules:
  - name: everyone
    conditions: {all: []}
    actions: [{name: set_tier, params: {tier: member}}]
  - name: a year of service
    conditions: {all: [{name: months_of_service, operator: greater_than_or_equal_to, value: 12}]}
    actions: [{name: set_tier, params: {tier: veteran}}]
"""
LOYAL_TO_TELECOM = {
    "name": "A year with this provider",
    "rules": [
        {
            "name": "12 months with the provider",
            "conditions": {
                "all": [{"name": "months_with_provider", "operator": "greater_than_or_equal_to", "value": 12}]
            },
            "actions": [{"name": "award_points", "params": {"points": 7}}],
        }
    ],
}


def test_a_migration_file_sets_member_since_attributes_and_tags_and_a_tier_rung_needs_a_year_of_service(
    app, client, telecom, shop, staff, work, tmp_path
):
    _declare(client, staff)
    publish(client, staff, BASE_EARNING)
    publish(client, staff, SERVICE_TIERS)
    publish(client, staff, LOYAL_TO_TELECOM)
    since = date.today() - timedelta(days=400)
    path = tmp_path / "legacy.csv"
    path.write_text(
        "customer_ref,phone,member_since,attributes.vip,attributes.segment,tags,points\n"
        f"L-1,0912000101,{since.isoformat()},true,family,founder;vip-club,100\n"
        "L-2,0912000102,,false,,,0\n"
        f"L-3,0912000103,{since.isoformat()},yes,,,0\n"
        "L-4,0912000104,2999-01-01,,,,0\n"
        "L-5,0912000105,,,,BAD TAG,0\n"
        "L-6,0912000106,,,,,0\n"
    )
    errors = tmp_path / "e.csv"
    result = app.test_cli_runner().invoke(
        args=["customers", "import", str(path), "--funder", "telecom", "--errors", str(errors)]
    )
    assert result.exit_code == 0, result.output
    assert "6 rows read, 3 accepted, 0 duplicates, 3 rejected" in result.output, result.output
    problems = {r["customer_ref"]: (r["field"], r["reason"]) for r in csv.DictReader(errors.open())}
    assert problems["L-3"][0] == "attributes.vip" and "must be true or false" in problems["L-3"][1]
    assert problems["L-4"][0] == "member_since"
    assert problems["L-5"][0] == "tags" and "not a valid tag" in problems["L-5"][1]

    first = client.get("/api/v1/customers/lookup?phone=0912000101", headers=telecom.headers).get_json()
    assert first["tags"] == ["founder", "vip-club"]
    assert first["attributes"] == {"segment": "family", "vip": True} and first["member_since"] == since.isoformat()

    for ref, phone, headers in (("s-1", "0912000101", telecom.headers), ("s-2", "0912000102", telecom.headers)):
        assert client.post("/api/v1/transactions", json=txn(ref, 100_000, phone), headers=headers).status_code == 202
    assert (
        client.post("/api/v1/transactions", json=txn("s-3", 100_000, "0912000101"), headers=shop.headers).status_code
        == 202
    )
    work()
    veteran = client.get("/api/v1/customers/lookup?phone=0912000101", headers=telecom.headers).get_json()
    member = client.get("/api/v1/customers/lookup?phone=0912000102", headers=telecom.headers).get_json()
    assert (veteran["tier"], member["tier"]) == ("veteran", "member")
    # telecom: 10 + 7 (a year with telecom); then, as veteran, shop: 10 x 2 and nothing for months with the shop
    assert veteran["balance"] == 100 + 10 + 7 + 20
    assert member["balance"] == 10
    with app.app_context():
        first_at = db.session.execute(
            select(CustomerProvider.provider_id, CustomerProvider.first_at, CustomerProvider.txn_count).where(
                CustomerProvider.customer_id == veteran["id"]
            )
        ).all()
        member_since = db.session.scalar(select(Customer.member_since).where(Customer.id == veteran["id"]))
        actions = db.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.object_type == "customer", AuditEvent.object_id == str(veteran["id"]))
            .order_by(AuditEvent.id)
        ).all()
        db.session.remove()
    assert member_since == since
    with app.app_context():
        ids = {code: pid for code, pid in db.session.execute(select(Provider.code, Provider.id))}
        db.session.remove()
    by_provider = {pid: (at, n) for pid, at, n in first_at}
    # the transaction after the migration did not move the first contact with telecom later (LEAST)
    assert by_provider[ids["telecom"]][0].astimezone(ZONE).date() == since and by_provider[ids["telecom"]][1] == 1
    assert by_provider[ids["shop"]][1] == 1
    assert actions == ["customer.attributes_set", "customer.tag_added"]  # the import's writes are audited too

    # requalification (after the grace period) counts the service months too: the veteran keeps the tier
    rt = app.extensions["loyalty.runtime"]
    report = run_all(rt.session_factory, rt.published, now=datetime.now(UTC) + timedelta(days=60), requalify=True)
    assert report.customers >= 2 and report.downgraded == 0
    again = client.get("/api/v1/customers/lookup?phone=0912000101", headers=telecom.headers).get_json()
    assert again["tier"] == "veteran"

    # the simulator reads the same facts for a real customer, and takes them as overrides for a made-up one
    draft = {
        "name": "Loyal VIP",
        "rules": [
            {
                "name": "vip of a year with this provider",
                "conditions": {
                    "all": [
                        {"name": "customer.vip", "operator": "is_true"},
                        {"name": "months_of_service", "operator": "greater_than_or_equal_to", "value": 12},
                        {"name": "months_with_provider", "operator": "greater_than_or_equal_to", "value": 12},
                    ]
                },
                "actions": [{"name": "award_points", "params": {"points": 9}}],
            }
        ],
    }

    def simulate(transaction):
        resp = client.post(
            "/api/v1/campaigns/simulate", json={"document": draft, "transaction": transaction}, headers=staff
        )
        assert resp.status_code == 200, resp.get_json()
        return [c["result"] for c in resp.get_json()["rules"][0]["conditions"]]

    sample = {"provider": "telecom", "amount": 100_000}
    assert simulate({**sample, "customer": {"phone": "0912000101"}}) == [True, True, True]
    assert simulate({**sample, "provider": "shop", "customer": {"phone": "0912000101"}}) == [True, True, False]
    assert simulate({**sample, "customer": {"phone": "0912000102"}}) == [False, False, False]
    overrides = {"customer_attributes": {"vip": True}, "months_of_service": 13, "months_with_provider": 12}
    assert simulate({**sample, "context": overrides}) == [True, True, True]
    ledger_ok(app)


BROKEN = """name: Broken
rules:
  - name: top-up
    conditions:
      all:
        - {name: amount, operator: greatr_than, value: 10}
    actions:
      - {name: award_points, params: {points: 5}}
"""


def test_document_errors_name_their_line_and_column_in_the_api_and_the_cli(app, client, staff, tmp_path):
    resp = client.post("/api/v1/campaigns/validate", data=BROKEN, headers={**staff, "Content-Type": "application/yaml"})
    assert resp.status_code == 422
    (field,) = resp.get_json()["error"]["fields"]
    assert (field["path"], field["line"], field["column"]) == ("rules[0].conditions.all[0].operator", 6, 36)
    assert "(line 6, column 36)" in resp.get_json()["error"]["message"]
    as_json = (
        '{\n  "name": "Broken",\n  "rules": [\n    {"name": "x", "conditions": {"all": []}, "actions": []}\n  ]\n}'
    )
    resp = client.post("/api/v1/campaigns", data=as_json, headers={**staff, "Content-Type": "application/json"})
    assert resp.status_code == 422
    lines = {(f["path"], f["line"]) for f in resp.get_json()["error"]["fields"]}
    assert ("rules[0].actions", 4) in lines, lines
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    result = app.test_cli_runner().invoke(args=["campaigns", "validate", str(path)])
    assert result.exit_code == 1
    assert "rules[0].conditions.all[0].operator (line 6, column 36): " in result.output, result.output


PLAN_BONUS = """name: Plan bonus
rules:
  - name: top-ups on the gold plan
    conditions:
      all:
        - {name: category, operator: equal_to, value: top-up}
        - {name: attributes.plan, operator: is_in, value: [gold, silvr]}
    actions:
      - {name: award_points, params: {points: 5}}
"""


def test_open_set_values_not_seen_in_90_days_are_warnings_in_the_api_and_the_editor(app, client, telecom, staff, work):
    body = txn("os-1", 100_000, attributes={"plan": "gold"})
    assert client.post("/api/v1/transactions", json=body, headers=telecom.headers).status_code == 202
    yaml_headers = {**staff, "Content-Type": "application/yaml"}
    resp = client.post("/api/v1/campaigns/validate", data=PLAN_BONUS, headers=yaml_headers)
    assert resp.status_code == 200, resp.get_json()
    expected = [
        {
            "path": "rules[0].conditions.all[0].value",
            "reason": "'top-up' is not a category seen in the last 90 days; did you mean 'topup'?",
            "line": 6,
            "column": 55,
        },
        {
            "path": "rules[0].conditions.all[1].value[1]",
            "reason": "'silvr' is not a value of attributes.plan seen in the last 90 days (seen: gold)",
            "line": 7,
            "column": 66,
        },
    ]
    assert resp.get_json() == {"valid": True, "name": "Plan bonus", "type": "earning", "warnings": expected}
    created = client.post("/api/v1/campaigns", data=PLAN_BONUS, headers=yaml_headers)
    assert created.status_code == 201 and created.get_json()["warnings"] == expected
    fixed = PLAN_BONUS.replace("top-up", "topup").replace(", silvr", "")
    assert client.post("/api/v1/campaigns/validate", data=fixed, headers=yaml_headers).get_json()["warnings"] == []

    make_user(app, "m@example.com", "marketer")
    login(client, "m@example.com")
    editor = client.post(
        "/campaigns/validate",
        json={"source": PLAN_BONUS, "format": "yaml"},
        headers={"X-CSRFToken": csrf_token(client, "/")},
    ).get_json()
    assert editor["valid"] is True and editor["warnings"] == expected


WELCOME = {
    "name": "Welcome and everyday",
    "rules": [
        {
            "name": "welcome",
            "limits": {"per_customer": {"count": 1, "period": "year"}},
            "conditions": {"all": [{"name": "amount", "operator": "greater_than_or_equal_to", "value": 50_000}]},
            "actions": [
                {"name": "award_points", "params": {"points": 50}},
                {"name": "add_tag", "params": {"tag": "welcomed"}},
            ],
        },
        {
            "name": "everyday",
            "conditions": {"all": [{"name": "amount", "operator": "greater_than", "value": 0}]},
            "actions": [{"name": "award_points", "params": {"points": 2}}],
        },
    ],
}


def test_a_limit_on_one_rule_caps_that_rule_only_through_the_worker(app, client, telecom, staff, work):
    bad = {**WELCOME, "rules": [{**WELCOME["rules"][0], "limits": {"per_customer": {"count": 0, "period": "yearly"}}}]}
    resp = client.post("/api/v1/campaigns/validate", json=bad, headers=staff)
    assert resp.status_code == 422
    assert {f["path"] for f in resp.get_json()["error"]["fields"]} == {
        "rules[0].limits.per_customer.count",
        "rules[0].limits.per_customer.period",
    }
    publish(client, staff, WELCOME)
    for i in range(3):
        body = txn(f"w-{i}", 100_000)
        assert client.post("/api/v1/transactions", json=body, headers=telecom.headers).status_code == 202
        work()
    other = txn("w-other", 100_000, "0912000999")
    assert client.post("/api/v1/transactions", json=other, headers=telecom.headers).status_code == 202
    work()
    first = client.get("/api/v1/customers/lookup?phone=0912345678", headers=telecom.headers).get_json()
    second = client.get("/api/v1/customers/lookup?phone=0912000999", headers=telecom.headers).get_json()
    assert first["balance"] == 50 + 3 * 2 and second["balance"] == 50 + 2
    assert first["tags"] == ["welcomed"]
    notes = [e["note"] for e in first["ledger"] if e.get("note")]
    assert notes == ["limit of 1 award(s) per year of this rule reached (wanted 50)"] * 2, first["ledger"]
    ledger_ok(app)


def test_the_new_writes_work_on_the_embedded_sqlite_default(tmp_path, monkeypatch):
    """LEAST upserts (member_since, first contact), attributes and a rule's limit on SQLite (bin/demo's database)."""
    for var in ("LOYALTY_DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env(database_url=f"sqlite:///{tmp_path / 'loyalty.sqlite3'}")
    app = create_app(settings, TESTING=True)
    with app.app_context():
        upgrade()
        _, key = create_provider(db.session, "telecom", "Mobile operator")
        staff = {"Authorization": f"Bearer {issue_key(db.session, 'staff', 's')}"}
        db.session.commit()
    telecom = {"Authorization": f"Bearer {key}"}
    client = app.test_client()
    _declare(client, staff)
    publish(client, staff, {**WELCOME, "rules": [{**WELCOME["rules"][0], "conditions": {"all": [
        {"name": "customer.vip", "operator": "is_true"}
    ]}}, WELCOME["rules"][1]]})  # fmt: skip
    since = date.today() - timedelta(days=800)
    path = tmp_path / "legacy.csv"
    path.write_text(f"customer_ref,phone,member_since,attributes.vip\nL-1,0912345678,{since.isoformat()},true\n")
    result = app.test_cli_runner().invoke(args=["customers", "import", str(path), "--funder", "telecom"])
    assert "1 accepted" in result.output, result.output
    again = path.read_text().replace("L-1", "L-2").replace(since.isoformat(), (since + timedelta(days=9)).isoformat())
    path.write_text(again)  # a later member_since for the same person never moves it forward
    assert "1 accepted" in app.test_cli_runner().invoke(args=["customers", "import", str(path)]).output
    for i in range(2):
        assert client.post("/api/v1/transactions", json=txn(f"q-{i}", 10_000), headers=telecom).status_code == 202
    deadline = time.monotonic() + 15
    view: dict = {}
    while time.monotonic() < deadline:
        view = client.get("/api/v1/customers/lookup?phone=0912345678", headers=telecom).get_json()
        if view["balance"] == 50 + 2 * 2:
            break
        time.sleep(0.1)
    assert view["balance"] == 50 + 2 * 2 and view["member_since"] == since.isoformat()
    assert view["attributes"] == {"vip": True}
    with app.app_context():
        first_at = db.session.scalar(select(CustomerProvider.first_at))
    assert first_at.astimezone(ZONE).date() == since


SEGMENT_CARD = """
name: Segment rate card
providers: [telecom]
rules:
  - name: rate by customer segment
    conditions: {all: [{name: category, operator: equal_to, value: topup}]}
    actions:
      - name: award_points_per_amount
        params:
          by: customer.segment
          rates: {premier: {points: 5, per: 10000}, family: {points: 2, per: 10000}}
          points: 1
          per: 10000
"""


def test_a_rate_table_keyed_by_a_customer_attribute_credits_through_the_worker(app, client, telecom, staff, work):
    """by: customer.segment reads the attribute set through the API, never the transaction's own attributes."""
    _declare(client, staff)
    phones = {"premier": "0912000001", "family": "0912000002", "none": "0912000003"}
    ids = {name: _customer_of(client, telecom.headers, f"seg-{name}", phone) for name, phone in phones.items()}
    for name in ("premier", "family"):
        url = f"/api/v1/customers/{ids[name]}/attributes"
        assert client.put(url, json={"segment": name}, headers=telecom.headers).status_code == 200
    publish(client, staff, SEGMENT_CARD)
    posted = {}
    for name, phone in phones.items():
        body = txn(f"seg-pay-{name}", 300_000, phone, attributes={"segment": "premier"})
        resp = client.post("/api/v1/transactions", json=body, headers=telecom.headers)
        assert resp.status_code == 202, resp.get_json()
        posted[name] = resp.get_json()["id"]
    work()
    earned = {
        name: client.get(f"/api/v1/transactions/{i}", headers=telecom.headers).get_json()["points"]
        for name, i in posted.items()
    }
    assert earned == {"premier": 150, "family": 60, "none": 30}

    yaml = {**staff, "Content-Type": "application/yaml"}
    for by, reason in (
        (
            "customer.segmnt",
            "'segmnt' is not a declared customer attribute (setting customer_attributes); did you mean 'segment'?",
        ),
        ("customer.vip", "customer attribute 'vip' is declared boolean; rates are keyed by a string"),
    ):
        resp = client.post(
            "/api/v1/campaigns/validate", data=SEGMENT_CARD.replace("customer.segment", by), headers=yaml
        )
        assert resp.status_code == 422, resp.get_json()
        fields = [(f["path"], f["reason"]) for f in resp.get_json()["error"]["fields"]]
        assert fields == [("rules[0].actions[0].params.by", reason)]
    ledger_ok(app)
