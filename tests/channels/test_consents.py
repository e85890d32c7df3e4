"""Consent by purpose, recorded, and its effects — through the app API, SMS, USSD, the portal, a provider's
paper form and the staff 360, against MariaDB and Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from tests.channels.helpers import PHONE, SECRET, customer_id, earn, outbox, programme, sent_to, set_setting
from tests.channels.test_number_lifecycle import app_token, authority, event, sms
from tests.channels.test_portal import sign_in
from tests.channels.test_ussd import Session as Ussd
from tests.helpers.api import publish, txn
from tests.helpers.factories import make_user
from tests.helpers.web import csrf_token, login

VERSION = "2026-12-v1"
PURPOSES = ["cross_provider_sharing", "marketing", "profiling"]


def consents(client, headers) -> dict[str, Any]:
    resp = client.get("/api/v1/me/consents", headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def state(body: dict[str, Any]) -> dict[str, bool]:
    return {c["purpose"]: c["granted"] for c in body["consents"]}


def history(body: dict[str, Any]) -> list[tuple[str, bool, str]]:
    return [(h["purpose"], h["granted"], h["channel"]) for h in body["history"]]


def test_silence_is_not_consent_and_the_app_grants_and_withdraws_with_a_full_record(app, client, telecom, staff, work):
    programme(client, staff, rewards=False)
    earn(client, telecom, work, "t1", 100_000)
    cid = customer_id(app)
    me = app_token(client, work)
    start = consents(client, me)
    assert state(start) == dict.fromkeys(PURPOSES, False) and start["history"] == []
    assert all(c["text_version"] == VERSION and c["text"]["vi"] and c["text"]["en"] for c in start["consents"])

    resp = client.post("/api/v1/me/consents", json={"purpose": "marketing", "granted": True}, headers=me)
    assert resp.status_code == 201, resp.get_json()
    rec = resp.get_json()["recorded"]
    assert (rec["purpose"], rec["granted"], rec["channel"]) == ("marketing", True, "app")
    assert rec["actor"] == f"customer:{cid}" and rec["text_version"] == VERSION
    assert abs(datetime.fromisoformat(rec["recorded_at"]) - datetime.now(UTC)) < timedelta(minutes=1)
    assert state(resp.get_json())["marketing"] is True
    assert client.post("/api/v1/me/consents", json={"purpose": "marketing", "granted": False}, headers=me).status_code
    body = consents(client, me)
    assert state(body) == dict.fromkeys(PURPOSES, False)
    assert history(body) == [("marketing", True, "app"), ("marketing", False, "app")]

    for bad, path in (
        ({"purpose": "spam", "granted": True}, "purpose"),
        ({"granted": True}, "purpose"),
        ({"purpose": "marketing", "granted": "yes"}, "granted"),
        ({"purpose": "marketing"}, "granted"),
        ({"purpose": "marketing", "granted": True, "by": "x"}, "by"),
    ):
        resp = client.post("/api/v1/me/consents", json=bad, headers=me)
        assert resp.status_code == 422 and resp.get_json()["error"]["fields"][0]["path"] == path, (bad, resp.json)
    assert client.post("/api/v1/me/consents", json=[1], headers=me).status_code == 422
    assert client.get("/api/v1/me/consents").status_code == 401
    assert client.post("/api/v1/me/consents", json={"purpose": "marketing", "granted": True}).status_code == 401
    assert len(consents(client, me)["history"]) == 2  # nothing refused was recorded


def test_sms_ussd_and_portal_grant_and_withdraw_each_recorded_with_its_channel(app, client, telecom, staff, work):
    programme(client, staff, rewards=False)
    earn(client, telecom, work, "t1", 100_000)
    me = app_token(client, work)

    assert sms(client, "DONGY QUANGCAO") == "Bạn đã đồng ý: nhận tin khuyến mãi. Soạn HUY QUANGCAO để rút lại."
    assert sms(client, "Đồng ý chia sẻ").startswith("Bạn đã đồng ý: chia sẻ giao dịch")
    assert sms(client, "huy quang cao").startswith("Bạn đã rút lại đồng ý: nhận tin khuyến mãi.")
    agreed = sms(client, "AGREE profiling")
    assert agreed == "You agreed to: offers chosen from your behaviour. Send WITHDRAW PROFILING to withdraw."
    how = sms(client, "DONGY")
    assert how.startswith("Soạn DONGY <mục>") and "CHIASE có, QUANGCAO không, PHANTICH có" in how
    assert sms(client, "WITHDRAW nonsense").startswith("Send AGREE <item>")
    assert sms(client, "DIEM").startswith("Số dư")  # the existing keywords still work
    body = consents(client, me)
    assert history(body) == [
        ("marketing", True, "sms"),
        ("cross_provider_sharing", True, "sms"),
        ("marketing", False, "sms"),
        ("profiling", True, "sms"),
    ]
    assert state(body) == {"cross_provider_sharing": True, "marketing": False, "profiling": True}

    ussd = Ussd(client)
    assert "8. Quyền riêng tư" in ussd.send("")
    screen = ussd.send("8")
    assert "1. Chia sẻ với đối tác khác: Đồng ý" in screen and "2. Tin khuyến mãi: Chưa" in screen
    assert "Tin khuyến mãi: Chưa" in ussd.send("2")
    assert ussd.send("1") == "END Đã ghi nhận: bạn đồng ý Tin khuyến mãi."
    assert (
        ussd.client.post(  # the gateway repeats the last request: the same answer, recorded once
            "/channels/ussd",
            data={"sessionId": ussd.id, "phoneNumber": ussd.phone, "serviceCode": "*384*123#", "text": "8*2*1"},
            headers={"X-Gateway-Secret": SECRET},
        ).get_data(as_text=True)
        == "END Đã ghi nhận: bạn đồng ý Tin khuyến mãi."
    )
    assert Ussd(client).send("8", "1", "2") == "END Đã ghi nhận: bạn không đồng ý Chia sẻ với đối tác khác."
    assert history(consents(client, me))[-2:] == [
        ("marketing", True, "ussd"),
        ("cross_provider_sharing", False, "ussd"),
    ]

    sign_in(client, work)
    page = client.get("/portal/consents")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Tin khuyến mãi" in text and "Phiên bản nội dung " + VERSION in text
    assert "Tôi đồng ý nhận tin nhắn và thông báo quảng cáo" in text  # the text shown is the text recorded
    token = csrf_token(client, "/portal/consents")
    resp = client.post("/portal/consents", data={"purpose": "marketing", "granted": "0", "csrf_token": token})
    assert resp.status_code == 302
    bad = client.post("/portal/consents", data={"purpose": "spam", "granted": "1", "csrf_token": token})
    assert bad.status_code == 422 and "purpose: must be one of" in bad.get_data(as_text=True)
    assert client.post("/portal/consents", data={"purpose": "marketing", "granted": "1"}).status_code == 400  # CSRF
    assert history(consents(client, me))[-1] == ("marketing", False, "portal")
    page = client.get("/portal/consents").get_data(as_text=True)
    assert page.count("<tr>") == 7 and "cổng thành viên" in page and "phiếu giấy" not in page  # the whole history
    local = datetime.now(UTC).astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))  # times in the programme's zone, named
    assert f"{local:%d/%m/%Y}" in page and "(UTC+07:00)" in page and " UTC</td>" not in page


def test_a_provider_records_a_signed_paper_form_scoped_idempotent_and_audited(app, client, telecom, shop, staff, work):
    from campaigns.models import AuditEvent
    from webapp.extensions import db

    programme(client, staff, rewards=False)
    earn(client, telecom, work, "t1", 100_000)
    cid = customer_id(app)
    url = f"/api/v1/customers/{cid}/consents"
    form = {"purpose": "cross_provider_sharing", "granted": True, "form_reference": "F-2026-001"}
    form_signed = {**form, "signed_at": "2026-12-01T09:30:00+07:00"}
    assert client.post(url, json=form, headers=shop.headers).status_code == 404  # never dealt with shop
    first = client.post(url, json=form_signed, headers=telecom.headers)
    assert first.status_code == 201, first.get_json()
    rec = first.get_json()
    assert (rec["channel"], rec["form_reference"], rec["provider"], rec["actor"]) == (
        "paper_form",
        "F-2026-001",
        "telecom",
        "provider:telecom",
    )
    assert rec["signed_at"].startswith("2026-12-01T02:30:00") and rec["text_version"] == VERSION
    again = client.post(url, json=form_signed, headers=telecom.headers)
    assert again.status_code == 200 and again.get_json()["id"] == rec["id"]
    other = client.post(url, json={**form, "granted": False}, headers=telecom.headers)
    assert other.status_code == 409 and other.get_json()["error"]["fields"][0]["path"] == "form_reference"
    for bad, path in (
        ({**form, "form_reference": ""}, "form_reference"),
        ({**form, "form_reference": "x" * 65}, "form_reference"),
        ({**form, "signed_at": "2026-12-01T09:30:00"}, "signed_at"),
        ({**form, "signed_at": "2999-01-01T00:00:00+07:00"}, "signed_at"),
        ({**form, "purpose": "everything"}, "purpose"),
        ({**form, "granted": 1}, "granted"),
        ({**form, "note": "x"}, "note"),
    ):
        resp = client.post(url, json=bad, headers=telecom.headers)
        assert resp.status_code == 422 and resp.get_json()["error"]["fields"][0]["path"] == path, (bad, resp.json)
    assert client.post("/api/v1/customers/999999/consents", json=form, headers=staff).status_code == 404
    by_staff = client.post(url, json={**form, "form_reference": "F-STAFF-9", "granted": False}, headers=staff)
    assert by_staff.status_code == 201 and by_staff.get_json()["provider"] is None
    with app.app_context():
        audit = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "consent.recorded")))
        db.session.remove()
    assert [(a.object_id, a.details["form_reference"]) for a in audit] == [
        (str(cid), "F-2026-001"),
        (str(cid), "F-STAFF-9"),
    ]
    me = app_token(client, work)
    assert history(consents(client, me)) == [
        ("cross_provider_sharing", True, "paper_form"),
        ("cross_provider_sharing", False, "paper_form"),
    ]


def test_without_sharing_consent_a_provider_sees_only_its_own_activity(app, client, telecom, shop, staff, work):
    programme(client, staff)
    earn(client, telecom, work, "t1", 12_600_000)  # 1,260 points from the telecom: silver
    resp = client.post("/api/v1/transactions", json=txn("s1", 500_000, category="coffee"), headers=shop.headers)
    assert resp.status_code == 202
    work()
    cid = customer_id(app)

    def seen(key, how="lookup") -> dict[str, Any]:
        url = f"/api/v1/customers/lookup?phone={PHONE}" if how == "lookup" else f"/api/v1/customers/{cid}"
        resp = client.get(url, headers=key.headers)
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()

    for how in ("lookup", "profile"):
        view = seen(shop, how)
        assert view["balance"] == 1310 and view["tier"] == "silver" and view["shared"] is False
        assert {e["provider"] for e in view["ledger"]} == {"shop"} and view["ledger"][0]["points"] == 50
        assert all(h["transaction_id"] is None for h in view["tier_history"])  # the telecom's transaction
        assert "12600000" not in str(view) and "topup" not in str(view)
        assert {e["provider"] for e in seen(telecom, how)["ledger"]} == {"telecom"}
    assert {e["provider"] for e in client.get(f"/api/v1/customers/{cid}", headers=staff).get_json()["ledger"]} == {
        "telecom",
        "shop",
    }
    # redemption by phone still works: the balance is programme-wide
    body = {"customer": {"phone": PHONE}, "reward": "TOPUP10", "idempotency_key": "shop-r1"}
    redeemed = client.post("/api/v1/redemptions", json=body, headers=shop.headers)
    assert redeemed.status_code == 201, redeemed.get_json()
    after = seen(shop)
    assert after["balance"] == 1210 and after["redemptions"] == []
    # the programme's own lines (no provider) stay, so the balance adds up, without their free text
    assert [(e["kind"], e["points"], e["note"]) for e in after["ledger"] if e["provider"] is None] == [
        ("redemption", -100, None)
    ]
    assert any(e["note"] for e in client.get(f"/api/v1/customers/{cid}", headers=staff).get_json()["ledger"])

    me = app_token(client, work)
    client.post("/api/v1/me/consents", json={"purpose": "cross_provider_sharing", "granted": True}, headers=me)
    view = seen(shop, "profile")
    assert view["shared"] is True and {e["provider"] for e in view["ledger"]} >= {"telecom", "shop"}
    assert view["tier_history"][0]["transaction_id"] is not None and view["redemptions"]
    client.post("/api/v1/me/consents", json={"purpose": "cross_provider_sharing", "granted": False}, headers=me)
    assert {e["provider"] for e in seen(shop)["ledger"] if e["provider"]} == {"shop"}


PROMO = """
name: Weekend promotion
rules:
  - name: tell them
    conditions: {all: [{name: amount, operator: greater_than_or_equal_to, value: 10000}]}
    actions:
      - {name: notify, params: {template: weekend_promo}}
"""


def test_marketing_goes_only_with_marketing_consent_and_service_messages_always(app, client, telecom, staff, work):
    programme(client, staff, rewards=False)
    publish(client, staff, PROMO)
    set_setting(client, staff, "sms_daily_limit", None)
    set_setting(client, staff, "sms_templates", {"weekend_promo": {"vi": "Cuối tuần nhân đôi điểm!", "en": "x"}})
    earn(client, telecom, work, "t1", 600_000)  # 60 points: "points earned" (service) and the promotion
    assert sent_to() == ["Bạn vừa nhận 60 điểm. Số dư: 60 điểm."]
    promo = outbox(app, template="weekend_promo")
    assert [(r.status, r.last_error) for r in promo] == [
        ("suppressed", "marketing without the customer's marketing consent")
    ]
    me = app_token(client, work)  # the sign-in code is a service message: sent without marketing consent
    assert client.post("/api/v1/me/consents", json={"purpose": "marketing", "granted": True}, headers=me).status_code
    earn(client, telecom, work, "t2", 600_000)
    assert "Cuối tuần nhân đôi điểm!" in sent_to()
    client.post("/api/v1/me/consents", json={"purpose": "marketing", "granted": False}, headers=me)
    earn(client, telecom, work, "t3", 600_000)
    assert [r.status for r in outbox(app, template="weekend_promo")] == ["suppressed", "sent", "suppressed"]
    assert [r.status for r in outbox(app, template="points_earned")] == ["sent", "sent", "sent"]


def test_staff_360_shows_consents_and_identity_history(app, client, telecom, staff, work):
    programme(client, staff, rewards=False)
    nid = "001099012345"
    body = txn("t1", 100_000, customer={"phone": PHONE, "national_id": nid})
    assert client.post("/api/v1/transactions", json=body, headers=telecom.headers).status_code == 202
    work()
    cid = customer_id(app)
    me = app_token(client, work)
    client.post("/api/v1/me/consents", json={"purpose": "marketing", "granted": True}, headers=me)
    form = {"purpose": "cross_provider_sharing", "granted": True, "form_reference": "F-77"}
    assert client.post(f"/api/v1/customers/{cid}/consents", json=form, headers=telecom.headers).status_code == 201
    op = authority(app)
    assert event(client, op, "rel-360", "number_released").status_code == 201

    make_user(app, "care@example.com", "care")
    login(client, "care@example.com")
    page = client.get(f"/customers/{cid}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    consent_panel = html[html.index('id="customer-consents"') : html.index('id="identity-history"')]
    assert "marketing" in consent_panel and "granted" in consent_panel and "not granted" in consent_panel
    assert "paper form" in consent_panel and "F-77" in consent_panel and "(telecom)" in consent_panel
    assert f"customer:{cid}" in consent_panel and "text " + VERSION in consent_panel
    history_panel = html[html.index('id="identity-history"') :]
    # a care agent sees the released number masked, like every number on the page (issue 15, minimal exposure)
    assert "0912 *** 678" in history_panel[:2000] and PHONE not in history_panel[:2000]
    assert "number released" in history_panel[:2000]


def test_a_new_consent_text_version_is_what_later_decisions_record(app, client, telecom, staff, work):
    programme(client, staff, rewards=False)
    earn(client, telecom, work, "t1", 100_000)
    me = app_token(client, work)
    client.post("/api/v1/me/consents", json={"purpose": "marketing", "granted": True}, headers=me)
    text = {"version": "2027-01-v2", "vi": "Nội dung mới về tin khuyến mãi.", "en": "New promotional text."}
    set_setting(client, staff, "consent_texts", {"marketing": text})
    for bad, path in (
        ({"spam": text}, "value"),
        ({"marketing": {"version": "v3", "vi": "x"}}, "value.marketing"),
        ({"marketing": {**text, "version": ""}}, "value.marketing.version"),
        ({"marketing": {**text, "en": "x" * 2001}}, "value.marketing.en"),
    ):
        resp = client.put("/api/v1/settings/consent_texts", json={"value": bad}, headers=staff)
        assert resp.status_code == 422 and resp.get_json()["error"]["fields"][0]["path"] == path, (bad, resp.json)
    client.post("/api/v1/me/consents", json={"purpose": "marketing", "granted": False}, headers=me)
    body = consents(client, me)
    assert [h["text_version"] for h in body["history"]] == [VERSION, "2027-01-v2"]
    shown = {c["purpose"]: c for c in body["consents"]}
    assert shown["marketing"]["text"] == {"vi": text["vi"], "en": text["en"]}
    assert shown["profiling"]["text_version"] == VERSION  # the purposes left out keep their text
