"""Hostile and malformed input: every answer is a 4xx naming the problem (never a 5xx), text is stored
exactly as sent (queries are parameterised) and shown escaped (templates autoescape)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text

from tests.helpers.api import publish, run_worker, txn
from tests.helpers.documents import BASE_EARNING
from tests.helpers.factories import make_user
from tests.helpers.web import login
from webapp.extensions import db

INJECTION = "x'); DROP TABLE transactions; -- \" <script>alert(1)</script> <img src=x onerror=alert(2)>"
UNICODE = [
    "nul\x00byte",
    "\u202eRTL override\u202c \u05e9\u05dc\u05d5\u05dd",
    "emoji 🎉👨‍👩‍👧‍👦",
    "combining e\u0301\u0302\u0303 ḁ̵̡̛",
    "Tiếng Việt có dấu",
    "\ufeffBOM and \u200b zero width",
    "x" * 5000,
]


def _error(resp: Any, status: int = 422) -> dict[str, Any]:
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:300])
    body = resp.get_json()
    assert set(body) == {"error"} and body["error"]["code"] and body["error"]["message"]
    return body["error"]


def _paths(err: dict[str, Any]) -> list[str]:
    return [f["path"] for f in err["fields"]]


HUGE_INT = "<5000 digits>"


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


# -- sizes, nesting, numbers, types -------------------------------------------------------------------


def test_oversized_bodies_are_413(app: Flask, client, telecom, staff) -> None:
    limit = app.config["MAX_CONTENT_LENGTH"]
    big = b'{"a": "' + b"x" * limit + b'"}'
    for url, headers in (
        ("/api/v1/transactions", telecom.headers),
        ("/api/v1/transactions/batch", telecom.headers),
        ("/api/v1/campaigns", staff),
        ("/api/v1/me/otp", {}),
        ("/channels/sms", {"X-Gateway-Secret": "gateway-secret"}),
    ):
        resp = client.post(url, data=big, headers={**headers, "Content-Type": "application/json"})
        err = _error(resp, 413)
        assert err["code"] == "too_large" and str(limit) in err["message"], url
    make_user(app, "m@example.com", "marketer")
    login(client, "m@example.com")
    page = client.post("/campaigns", data={"source": "x" * (limit + 1)})
    assert page.status_code == 413 and "<html" in page.get_data(as_text=True).lower()


@pytest.mark.parametrize(
    "raw",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 50 + "1" + "}" * 50,
        json.dumps(txn("deep", attributes={"a": _nested(40)})),
        '{"amount": NaN}',
        '{"amount": Infinity}',
        "{'single': 'quotes'}",
        "\x00\x01\x02",
        '{"provider_txn_id": "a", "provider_txn_id": "b"',
    ],
)
def test_malformed_or_too_deep_json_is_400(client, telecom, raw: str) -> None:
    resp = client.post(
        "/api/v1/transactions", data=raw, headers={**telecom.headers, "Content-Type": "application/json"}
    )
    _error(resp, 400)


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("amount", HUGE_INT, None),  # more digits than Python will read: malformed
        ("amount", "1e400", "amount"),
        ("amount", -1, "amount"),
        ("amount", 1e15, "amount"),
        ("amount", "abc", "amount"),
        ("amount", [1], "amount"),
        ("amount", True, "amount"),
        ("customer", [], "customer"),
        ("customer", {"phone": 912345678}, "customer.phone"),
        ("customer", {"phone": "0" * 5000}, "customer.phone"),
        ("provider_txn_id", 5, "provider_txn_id"),
        ("provider_txn_id", "has space", "provider_txn_id"),
        ("provider_txn_id", "x" * 65, "provider_txn_id"),
        ("occurred_at", 0, "occurred_at"),
        ("occurred_at", "2026-01-01T00:00:00", "occurred_at"),
        ("occurred_at", "9999-99-99", "occurred_at"),
        ("attributes", {"k": {"nested": 1}}, "attributes.k"),
        ("attributes", {f"k{i}": i for i in range(100)}, "attributes"),
        ("currency", "💶", "currency"),
        ("unexpected", 1, "unexpected"),
    ],
)
def test_wrong_types_and_out_of_range_values_name_the_field(client, telecom, field: str, value: Any, path) -> None:
    body = txn("t-types")
    body[field] = value
    raw = json.dumps(body).replace(f'"{HUGE_INT}"', "9" * 5000)
    resp = client.post(
        "/api/v1/transactions", data=raw, headers={**telecom.headers, "Content-Type": "application/json"}
    )
    if path is None:
        _error(resp, 400)
        return
    err = _error(resp)
    assert any(p == path or p.startswith(path + ".") or p.startswith(path + "[") for p in _paths(err)), err


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"attributes": {"vip": "yes"}}, "attributes.vip"),
        ({"attributes": {"vip": 1}}, "attributes.vip"),
        ({"attributes": {"score": "1e999"}}, "attributes.score"),
        ({"attributes": {"score": 1e300}}, "attributes.score"),
        ({"attributes": {"segment": "x" * 5000}}, "attributes.segment"),
        ({"attributes": {"segment": {"nested": 1}}}, "attributes.segment"),
        ({"attributes": {INJECTION: True}}, f"attributes.{INJECTION}"),
        ({"attributes": {"vipp": True}}, "attributes.vipp"),
        ({"attributes": []}, "attributes"),
        ([], "body"),
    ],
)
def test_customer_attributes_of_the_wrong_name_or_type_name_the_field(client, telecom, staff, body, path) -> None:
    declared = {"vip": "boolean", "segment": "string", "score": "numeric"}
    assert (
        client.put("/api/v1/settings/customer_attributes", json={"value": declared}, headers=staff).status_code == 200
    )
    resp = client.post("/api/v1/transactions", json=txn("t-attr"), headers=telecom.headers)
    cid = resp.get_json()["customer_id"]
    assert path in _paths(_error(client.put(f"/api/v1/customers/{cid}/attributes", json=body, headers=telecom.headers)))
    for tag in ("UPPER", "has space", "x" * 65, INJECTION[:40]):
        url = f"/api/v1/customers/{cid}/tags/{tag}"
        for method in ("PUT", "DELETE"):
            assert _paths(_error(client.open(url, method=method, headers=telecom.headers))) == ["tag"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/transactions/99999999999999999999999999",
        "/api/v1/customers/18446744073709551616",
        "/api/v1/groups/9223372036854775808",
        "/api/v1/redemptions/-1",
        "/api/v1/point-payments/99999999999999999999999999",
        "/api/v1/point-transfers/-1",
        "/api/v1/imports/00000000000000000000000000000001",
    ],
)
def test_huge_or_odd_ids_in_paths_are_404(client, telecom, url: str) -> None:
    _error(client.get(url, headers=telecom.headers), 404)


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "/api/v1/customers/18446744073709551616/export"),
        ("POST", "/api/v1/customers/18446744073709551616/reveal"),
        ("POST", "/api/v1/customers/9223372036854775808/erasure-requests"),
        ("POST", "/api/v1/erasure-requests/99999999999999999999999999/approve"),
        ("POST", "/api/v1/erasure-requests/-1/approve"),
    ],
)
def test_huge_or_odd_ids_on_the_privacy_routes_are_404(client, staff, method: str, url: str) -> None:
    _error(client.open(url, method=method, json={"reason": "checking"}, headers=staff), 404)


@pytest.mark.parametrize(
    "body",
    [{}, {"reason": ""}, {"reason": 5}, {"reason": "x" * 501}, {"reason": ["why"]}, {"reason": "ok", "also": 1}],
)
def test_reveal_and_erasure_reasons_name_the_field(client, staff, body: dict[str, Any]) -> None:
    for url in ("/api/v1/customers/1/reveal", "/api/v1/customers/1/erasure-requests"):
        paths = _paths(_error(client.post(url, json=body, headers=staff)))
        assert paths == (["also"] if "also" in body else ["reason"]), (url, paths)


def test_huge_numbers_in_bodies(client, telecom, staff) -> None:
    redeem = {"customer_id": 2**80, "reward": "x"}
    assert client.post("/api/v1/redemptions", json=redeem, headers=telecom.headers).status_code in (404, 422)
    reward = {"code": "big", "name": "Big", "cost": 10**30}
    assert "cost" in _paths(_error(client.post("/api/v1/rewards", json=reward, headers=staff)))
    pay = {"provider_payment_id": "p", "customer": {"phone": "0912345678"}, "points": 10**30}
    assert _paths(_error(client.post("/api/v1/point-payments", json=pay, headers=telecom.headers))) == ["points"]
    pay = {"provider_payment_id": "p", "customer": {"phone": "0912345678"}, "amount": 1.5}
    assert _paths(_error(client.post("/api/v1/point-payments", json=pay, headers=telecom.headers))) == ["amount"]
    send = {"provider_transfer_id": "t", "from": {"phone": "0912345678"}, "to": {"phone": "x"}, "points": -1}
    paths = _paths(_error(client.post("/api/v1/point-transfers", json=send, headers=telecom.headers)))
    assert {"to.phone", "points"} <= set(paths)
    refund = {"provider_refund_id": "r", "points": True}
    resp = client.post("/api/v1/point-payments/1/refund", json=refund, headers=telecom.headers)
    assert "points" in _paths(_error(resp))
    reversal = {"amount": "1e999999"}
    resp = client.post("/api/v1/transactions/1/reversal", json=reversal, headers=telecom.headers)
    assert resp.status_code in (404, 422)


# -- unicode and injection in free text ---------------------------------------------------------------


@pytest.mark.parametrize("value", [*UNICODE, INJECTION])
def test_free_text_in_transactions_is_stored_exactly_or_refused(app: Flask, client, telecom, value: str) -> None:
    from campaigns.models import Transaction

    body = txn("t-text", category=value[:64], channel=value[:32], attributes={"note": value[:1000]})
    resp = client.post("/api/v1/transactions", json=body, headers=telecom.headers)
    assert resp.status_code in (202, 422), resp.get_data(as_text=True)[:300]
    if resp.status_code == 422:
        assert _paths(resp.get_json()["error"])
        return
    with app.app_context():
        row = db.session.scalar(select(Transaction).where(Transaction.provider_txn_id == "t-text"))
        stored = (row.category, row.channel, (row.attributes or {}).get("note"))
    sent = (body["category"].strip(), body["channel"].strip(), body["attributes"]["note"])
    assert stored == sent
    shown = client.get(f"/api/v1/transactions/{resp.get_json()['id']}", headers=telecom.headers).get_json()
    assert shown["attributes"]["note"] == value[:1000]


def test_injection_is_inert_everywhere_it_is_stored_and_shown(app: Flask, client, telecom, staff) -> None:
    """One payload in every free-text field we accept; then the tables are intact, the text is stored as
    sent, and every staff and customer page that shows it escapes it."""
    from campaigns.models import Claim, ConsentRecord, Provider, Reward, StaffUser, Transaction

    doc = BASE_EARNING.replace("name: Base earning", f"name: {json.dumps('Camp ' + INJECTION)}")
    doc = doc.replace("name: 1 point per 10k", f"name: {json.dumps('Rule ' + INJECTION)}")
    campaign = publish(client, staff, doc)
    resp = client.post(
        "/api/v1/transactions",
        json=txn("t-inj", category=INJECTION[:64], attributes={"note": INJECTION}),
        headers=telecom.headers,
    )
    assert resp.status_code == 202
    run_worker(app)
    reward = {"code": "inj", "name": "Reward " + INJECTION, "cost": 0}
    assert client.post("/api/v1/rewards", json=reward, headers=staff).status_code == 201
    gateway = {"X-Gateway-Secret": "gateway-secret"}
    sms = client.post("/channels/sms", json={"from": "0912345678", "text": INJECTION, "id": "m1"}, headers=gateway)
    assert sms.status_code == 200 and INJECTION not in sms.get_data(as_text=True)  # the reply names no raw input
    ussd = {"sessionId": INJECTION, "phoneNumber": "0912345678", "serviceCode": "*123#", "text": INJECTION}
    assert client.post("/channels/ussd", data=ussd, headers=gateway).status_code == 200
    with app.app_context():
        from campaigns.channels import portal

        cid = db.session.scalar(select(Transaction.customer_id).where(Transaction.provider_txn_id == "t-inj"))
        token, _ = portal.issue_token(db.session, cid)
        db.session.commit()
    me = {"Authorization": f"Bearer {token}"}
    claim = {"transaction_ref": "ref'--", "description": INJECTION, "amount": "1e400"}
    assert client.post("/api/v1/me/claims", json=claim, headers=me).status_code == 422  # the amount
    claim["amount"] = "150000"
    assert client.post("/api/v1/me/claims", json=claim, headers=me).status_code == 201
    form = {"purpose": "marketing", "granted": True, "form_reference": INJECTION[:64]}
    assert client.post(f"/api/v1/customers/{cid}/consents", json=form, headers=telecom.headers).status_code == 201

    admin = app.test_client()
    make_user(app, "admin@example.com", "admin")
    login(admin, "admin@example.com")
    app.config["WTF_CSRF_ENABLED"] = False
    try:
        admin.post("/providers", data={"code": "inj", "name": "Provider " + INJECTION})
        admin.post(
            "/users",
            data={"email": "n@example.com", "password": "long enough pass", "role": "analyst", "name": INJECTION},
        )
        adjust = admin.post(f"/customers/{cid}/adjustments", data={"points": "1", "reason": "Reason " + INJECTION})
        assert adjust.status_code == 302
    finally:
        app.config["WTF_CSRF_ENABLED"] = True

    with app.app_context():  # stored exactly: the quotes and dashes went in as data, not as SQL
        assert db.session.scalar(select(Reward.name).where(Reward.code == "inj")) == "Reward " + INJECTION
        assert db.session.scalar(select(Provider.name).where(Provider.code == "inj")) == "Provider " + INJECTION
        assert db.session.scalar(select(StaffUser.name).where(StaffUser.email == "n@example.com")) == INJECTION
        assert db.session.scalar(select(Claim.description)) == INJECTION
        assert db.session.scalar(select(ConsentRecord.form_reference)) == INJECTION[:64]
        tables = {r[0] for r in db.session.execute(text("SHOW TABLES"))}
        assert {"transactions", "customers", "ledger_entries", "staff_users"} <= tables
    pages = [
        "/campaigns",
        f"/campaigns/{campaign['id']}",
        f"/customers/{cid}",
        "/rewards",
        "/providers",
        "/users",
        "/audit",
    ]
    for url in pages:
        html = admin.get(url).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html and "<img src=x" not in html, url
        shown = ("&lt;script&gt;", "&lt;img", "\\u003cscript")  # HTML-escaped, or JSON-escaped by |tojson
        assert any(s in html for s in shown), f"{url} does not show the text at all"
    portal_client = app.test_client()
    with portal_client.session_transaction() as s:
        s["portal"] = {"cid": cid, "phone": "+84912345678", "at": int(time.time())}  # signed in through it
    for url in ("/portal/", "/portal/claims", "/portal/consents"):
        page = portal_client.get(url)
        assert page.status_code == 200, url
        html = page.get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html, url
    assert "&lt;script&gt;" in portal_client.get("/portal/consents").get_data(as_text=True)  # the form reference


@pytest.mark.parametrize("value", UNICODE)
def test_unicode_in_names_round_trips(client, staff, value: str) -> None:
    name = value.replace("\x00", "")[:200]
    resp = client.post("/api/v1/rewards", json={"code": "uni", "name": value[:200], "cost": 1}, headers=staff)
    assert resp.status_code in (201, 422), resp.get_data(as_text=True)[:200]
    if resp.status_code == 201:
        assert resp.get_json()["name"] in (value[:200].strip(), name.strip())
    doc = BASE_EARNING.replace("name: Base earning", f"name: {json.dumps('C ' + value[:150])}")
    resp = client.post("/api/v1/campaigns", data=doc, headers={**staff, "Content-Type": "application/yaml"})
    assert resp.status_code in (201, 422), resp.get_data(as_text=True)[:200]
    if resp.status_code == 422:
        assert _paths(resp.get_json()["error"])


# -- YAML ----------------------------------------------------------------------------------------------

BILLION_LAUGHS = """
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
name: bomb
rules: *i
"""


@pytest.mark.parametrize(
    "document",
    [
        "!!python/object/apply:os.system ['touch /tmp/pwned-by-yaml']",
        "name: !!python/object:campaigns.models.Customer {}\nrules: []",
        "name: !!python/name:os.system\nrules: []",
        "name: x\nrules: !!binary aGVsbG8=",
        BILLION_LAUGHS,
        "name: a\nname: b\nrules: []",
        "a: " + "[" * 10_000 + "]" * 10_000,
        "\x00\x01 not yaml: [",
    ],
)
@pytest.mark.parametrize("endpoint", ["/api/v1/campaigns/validate", "/api/v1/campaigns"])
def test_yaml_documents_are_loaded_safely(app: Flask, client, staff, document: str, endpoint: str) -> None:
    import os
    import time

    started = time.perf_counter()
    resp = client.post(endpoint, data=document, headers={**staff, "Content-Type": "application/yaml"})
    assert time.perf_counter() - started < 5
    err = _error(resp)
    assert _paths(err), err
    assert not os.path.exists("/tmp/pwned-by-yaml")


def test_yaml_document_size_limit(client, staff) -> None:
    from rules.document import MAX_SOURCE_BYTES

    huge = "name: big\nrules: []\n" + "# padding\n" * (MAX_SOURCE_BYTES // 10 + 1)
    resp = client.post("/api/v1/campaigns/validate", data=huge, headers={**staff, "Content-Type": "application/yaml"})
    assert resp.status_code in (413, 422)
    assert resp.get_json()["error"]["message"]


def test_reward_eligibility_yaml_in_the_staff_ui_refuses_alias_bombs(app: Flask, client) -> None:
    make_user(app, "m@example.com", "marketer")
    login(client, "m@example.com")
    app.config["WTF_CSRF_ENABLED"] = False
    try:
        form = {"code": "bomb", "name": "Bomb", "cost": "1", "voucher_days": "30", "eligibility": BILLION_LAUGHS}
        import time

        started = time.perf_counter()
        page = client.post("/rewards", data=form)
        assert time.perf_counter() - started < 5
        assert page.status_code == 422 and "aliases are not allowed" in page.get_data(as_text=True)
        form["eligibility"] = "!!python/object/apply:os.system ['true']"
        assert client.post("/rewards", data=form).status_code == 422
    finally:
        app.config["WTF_CSRF_ENABLED"] = True


def test_half_of_a_utf16_pair_is_refused_and_a_whole_pair_is_one_character(app: Flask, client, telecom, staff):
    raw = json.dumps(txn("t-sur", category="x")).replace('"category": "x"', '"category": "\\ud800"')
    _error(
        client.post("/api/v1/transactions", data=raw, headers={**telecom.headers, "Content-Type": "application/json"}),
        400,
    )
    gateway = {"X-Gateway-Secret": "gateway-secret", "Content-Type": "application/json"}
    sms = client.post("/channels/sms", data='{"from": "0912345678", "text": "\\udc00"}', headers=gateway)
    assert sms.status_code == 400 and sms.get_json()["error"]["code"] == "bad_request"
    yaml_headers = {**staff, "Content-Type": "application/yaml"}
    half = BASE_EARNING.replace("name: Base earning", 'name: "C \\ud83c"')
    assert "name" in _paths(_error(client.post("/api/v1/campaigns", data=half, headers=yaml_headers)))
    whole = BASE_EARNING.replace("name: Base earning", 'name: "C \\ud83c\\udf89"')
    resp = client.post("/api/v1/campaigns", data=whole, headers=yaml_headers)
    assert resp.status_code == 201 and resp.get_json()["name"] == "C 🎉"


@pytest.mark.parametrize(
    "template",
    ["{points", "{customer.__class__.__mro__}", "{x[0]}", "{points:{x.__class__}}", "{}", "x" * 1001],
)
def test_sms_template_overrides_are_plain_placeholders(client, staff, template: str) -> None:
    """A template is a str.format string: attribute or index access would read the context's objects, and
    unbalanced braces would break every message sent with it."""
    body = {"value": {"points_earned": {"vi": template, "en": "You earned {points} points"}}}
    err = _error(client.put("/api/v1/settings/sms_templates", json=body, headers=staff))
    assert _paths(err) == ["value.points_earned.vi"]
    body["value"]["points_earned"]["vi"] = "Bạn được {points:,} điểm"
    assert client.put("/api/v1/settings/sms_templates", json=body, headers=staff).status_code == 200


def test_reward_numbers_beyond_the_columns_are_422(client, staff) -> None:
    for field, value in (("stock", 10**21), ("per_customer_limit", 2**40), ("cost", 10**10)):
        body = {"code": "big", "name": "Big", "cost": 1, field: value}
        assert _paths(_error(client.post("/api/v1/rewards", json=body, headers=staff))) == [field]


@pytest.fixture(scope="module")
def oidc_issuer() -> Any:
    from tests.helpers.sso import TestIssuer

    issuer = TestIssuer()
    try:
        yield issuer
    finally:
        issuer.stop()


@pytest.mark.parametrize(
    "query",
    [
        "",
        "state=",
        "code=abc",
        "state=" + "x" * 5000 + "&code=abc",
        "state=%00%ff&code=%E2%80%AE",
        "error=access_denied&error_description=<script>alert(1)</script>",
        "error=" + "<script>alert(1)</script>" * 50,
        "state=a&state=b&code=c",
    ],
)
def test_hostile_sso_callbacks_never_sign_in(app: Flask, client, oidc_issuer, monkeypatch, query: str) -> None:
    """The OpenID Connect callback (docs/sso.md) with junk, floods and markup: a 4xx page, escaped, no session."""
    from tests.helpers.sso import configure, oidc_settings

    configure(app, monkeypatch, **oidc_settings(oidc_issuer.url))
    resp = client.get(f"/auth/oidc/callback?{query}")
    assert resp.status_code in (400, 401)
    assert "<script>alert" not in resp.get_data(as_text=True)
    assert client.get("/").status_code == 302
    begun = client.get("/auth/oidc/login?next=https://evil.example/")  # never an open redirect afterwards
    assert begun.status_code == 302
    with client.session_transaction() as sess:
        assert sess["oidc_pending"]["next"] == "/"


def test_json_nesting_is_bounded_at_exactly_max_depth(client, telecom) -> None:
    """The depth walk visits only containers: its answer at the bound must be the same as a full walk's."""
    from webapp.api.util import MAX_DEPTH, _depth

    def deep(levels: int) -> Any:
        value: Any = 1
        for i in range(levels):
            value = {"k": value, "s": "x"} if i % 2 else [value, 2, "y"]
        return value

    assert [_depth(deep(n)) for n in (0, 1, 2, MAX_DEPTH)] == [0, 1, 2, MAX_DEPTH]
    assert _depth(deep(MAX_DEPTH + 5)) > MAX_DEPTH
    assert _depth({"a": [], "b": {"c": [[{}]]}}) == 5
    headers = {**telecom.headers, "Content-Type": "application/json"}
    at_bound = txn("bound", attributes={"a": deep(MAX_DEPTH - 2)})  # the body object and attributes: 2 levels
    assert _depth(at_bound) == MAX_DEPTH
    assert client.post("/api/v1/transactions", data=json.dumps(at_bound), headers=headers).status_code != 400
    past = txn("past", attributes={"a": deep(MAX_DEPTH - 1)})
    _error(client.post("/api/v1/transactions", data=json.dumps(past), headers=headers), 400)
