"""Minimal exposure and the staff side of the person's rights, through the staff UI and the API per role:
masked numbers, the audited reveal with its reason, the JSON export and the two-admin erasure on the 360 page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.channels.helpers import PHONE, customer_id, earn, programme
from tests.channels.test_rights import NID, audit, cli, user_token
from tests.helpers.api import txn
from tests.helpers.factories import make_user
from tests.helpers.web import csrf_token, login

MASKED_PHONE, MASKED_NID = "0912 *** 678", "0010****2345"


def member(client, telecom, staff, work) -> int:
    programme(client, staff, rewards=False)
    body = txn("t1", 1_000_000, phone="0912345678")
    body["customer"]["national_id"] = NID
    assert client.post("/api/v1/transactions", json=body, headers=telecom.headers).status_code == 202
    work()
    return customer_id(client.application)


def signed_in(app, email: str, role: str):
    make_user(app, email, role, "telecom" if role == "provider" else None)
    c = app.test_client()
    assert login(c, email).status_code == 302
    return c


def test_masking_functions():
    from campaigns.privacy import masking

    assert masking.mask_phone(PHONE) == MASKED_PHONE
    assert masking.mask_national_id("001234567890") == "0012****7890"
    assert masking.mask_national_id("012345678") == "01****678"
    assert masking.identity_for("care", "phone", PHONE) == MASKED_PHONE
    assert masking.identity_for("admin", "phone", PHONE) == PHONE
    assert masking.identity_for("care", "phone", "h:" + "0" * 30) == "h:" + "0" * 30


def test_numbers_are_masked_per_role_in_the_api(app, client, telecom, staff, work):
    cid = member(client, telecom, staff, work)
    care, admin = user_token(app, "care@example.com", "care"), user_token(app, "admin@example.com", "admin")
    seen = {}
    for who, headers in (("care", care), ("admin", admin), ("provider key", telecom.headers)):
        for url in (f"/api/v1/customers/{cid}", f"/api/v1/customers/lookup?phone={PHONE}"):
            body = client.get(url, headers=headers).get_json()
            seen[(who, url)] = {i["value"] for i in body["identities"]}
    for url in (f"/api/v1/customers/{cid}", f"/api/v1/customers/lookup?phone={PHONE}"):
        assert seen[("care", url)] == {MASKED_PHONE, MASKED_NID}
        assert seen[("admin", url)] == seen[("provider key", url)] == {PHONE, NID}

    bad = client.post(f"/api/v1/customers/{cid}/reveal", json={"reason": ""}, headers=care)
    assert bad.status_code == 422 and bad.get_json()["error"]["fields"][0]["path"] == "reason"
    assert audit(app, "customer.identity_revealed") == []
    analyst = user_token(app, "analyst@example.com", "analyst")
    assert client.post(f"/api/v1/customers/{cid}/reveal", json={"reason": "x"}, headers=analyst).status_code == 403
    resp = client.post(f"/api/v1/customers/{cid}/reveal", json={"reason": "caller verified, ticket 9"}, headers=care)
    assert resp.status_code == 200
    assert {i["value"] for i in resp.get_json()["identities"]} == {PHONE, NID}
    [event] = audit(app, "customer.identity_revealed")
    assert event.actor == "care@example.com" and event.details["reason"] == "caller verified, ticket 9"
    assert event.object_id == str(cid)


@pytest.mark.slow  # several sign-ins and worker runs (~5 s)
def test_staff_pages_mask_numbers_and_the_reveal_is_audited(app, client, telecom, staff, work):
    cid = member(client, telecom, staff, work)
    me = app.test_client()
    from tests.channels.test_number_lifecycle import app_token

    claim = {"transaction_ref": "missing-1", "provider": "telecom"}
    assert client.post("/api/v1/me/claims", json=claim, headers=app_token(me, work)).status_code == 201
    care = signed_in(app, "care@example.com", "care")
    admin = signed_in(app, "admin@example.com", "admin")
    provider = signed_in(app, "shop@example.com", "provider")
    pages = (f"/customers/{cid}", "/care/claims/1")
    for url in pages:
        html = care.get(url).get_data(as_text=True)
        assert MASKED_PHONE in html and MASKED_NID in html and PHONE not in html and NID not in html, url
        html = admin.get(url).get_data(as_text=True)
        assert PHONE in html and NID in html and MASKED_PHONE not in html, url
    html = provider.get(f"/customers/{cid}").get_data(as_text=True)
    assert MASKED_PHONE in html and PHONE not in html and "reveal_reason" not in html

    token = csrf_token(care, f"/customers/{cid}")
    empty = care.post(f"/customers/{cid}/reveal", data={"reveal_reason": " ", "csrf_token": token})
    html = empty.get_data(as_text=True)
    assert empty.status_code == 422 and 'id="reveal_reason-err"' in html and PHONE not in html
    assert care.post(f"/customers/{cid}/reveal", data={"reveal_reason": "no token"}).status_code == 400  # CSRF
    shown = care.post(f"/customers/{cid}/reveal", data={"reveal_reason": "customer on the phone", "csrf_token": token})
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200 and PHONE in html and NID in html and "shown in full (audited)" in html
    assert [(e.actor, e.details["reason"]) for e in audit(app, "customer.identity_revealed")] == [
        ("care@example.com", "customer on the phone")
    ]
    assert PHONE not in care.get(f"/customers/{cid}").get_data(as_text=True)  # one reveal, one page
    assert provider.post(f"/customers/{cid}/reveal", data={"reveal_reason": "x", "csrf_token": token}).status_code in (
        400,
        403,
    )

    download = care.get(f"/customers/{cid}/personal-data.json")
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    assert download.get_json()["customer_id"] == cid
    assert [e.actor for e in audit(app, "customer.data_exported")] == ["care@example.com"]
    assert provider.get(f"/customers/{cid}/personal-data.json").status_code == 403


@pytest.mark.slow  # several sign-ins and worker runs (~5 s)
def test_two_admins_erase_from_the_360_page(app, client, telecom, staff, work):
    from campaigns.models import IdentityHistory
    from webapp.extensions import db

    cid = member(client, telecom, staff, work)
    a = signed_in(app, "a@example.com", "admin")
    b = signed_in(app, "b@example.com", "admin")
    care = signed_in(app, "care@example.com", "care")
    token = csrf_token(a, f"/customers/{cid}")
    assert "erase_reason" not in care.get(f"/customers/{cid}").get_data(as_text=True)
    assert care.post(f"/customers/{cid}/erasure", data={"erase_reason": "x"}).status_code in (400, 403)
    empty = a.post(f"/customers/{cid}/erasure", data={"erase_reason": "", "csrf_token": token})
    assert empty.status_code == 422 and 'id="erase_reason-err"' in empty.get_data(as_text=True)
    asked = a.post(f"/customers/{cid}/erasure", data={"erase_reason": "letter from the person", "csrf_token": token})
    assert asked.status_code == 302
    page = a.get(f"/customers/{cid}").get_data(as_text=True)
    assert "A different admin must approve it." in page and "Approve erasure" not in page
    refused = a.post("/erasure-requests/1/approve", data={"csrf_token": token})
    assert refused.status_code == 302
    assert client.get(f"/api/v1/customers/lookup?phone={PHONE}", headers=staff).status_code == 200  # not yet
    page = b.get(f"/customers/{cid}").get_data(as_text=True)
    assert "Approve erasure" in page and "letter from the person" in page
    done = b.post("/erasure-requests/1/approve", data={"csrf_token": csrf_token(b, f"/customers/{cid}")})
    assert done.status_code == 302
    page = b.get(f"/customers/{cid}").get_data(as_text=True)
    assert 'id="erased"' in page and PHONE not in page
    assert client.get(f"/api/v1/customers/lookup?phone={PHONE}", headers=staff).status_code == 404
    assert [e.actor for e in audit(app, "customer.erasure_requested")] == ["a@example.com"]
    assert [e.actor for e in audit(app, "customer.erased")] == ["b@example.com"]
    with app.app_context():
        values = db.session.scalars(select(IdentityHistory.value).where(IdentityHistory.customer_id == cid)).all()
        db.session.remove()
    assert len(values) == 2 and all(v.startswith("h:") for v in values)
    assert cli(app, "ledger", "check").exit_code == 0
    earn(client, telecom, work, "t2", 100_000)
    assert customer_id(app) != cid


def test_alerts_audit_log_and_its_csv_mask_numbers_for_roles_that_do_not_need_them(app, client, telecom, staff, work):
    from tests.channels.test_number_lifecycle import authority, event

    member(client, telecom, staff, work)
    op = authority(app)
    assert event(client, op, "swap-1", "sim_swapped").status_code == 201
    redeem = {"customer": {"phone": PHONE}, "reward": "none"}
    assert client.post("/api/v1/redemptions", json=redeem, headers=telecom.headers).status_code == 409  # held
    care = signed_in(app, "care@example.com", "care")
    analyst = signed_in(app, "analyst@example.com", "analyst")
    admin = signed_in(app, "admin@example.com", "admin")
    for who, url in ((care, "/care/alerts"), (analyst, "/audit"), (analyst, "/audit.csv")):
        body = who.get(url).get_data(as_text=True)
        assert MASKED_PHONE in body and PHONE not in body, url
    for url in ("/care/alerts", "/audit", "/audit.csv"):
        body = admin.get(url).get_data(as_text=True)
        assert PHONE in body, url
