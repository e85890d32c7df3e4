"""Filing a missing-points claim from every channel: portal, mobile API, SMS, USSD and a care agent."""

from __future__ import annotations

from datetime import timedelta

from campaigns.models import AuditEvent, Claim, ClaimEvent
from tests.care.claim_helpers import claim, field_error, rows, setup, sms, staff_login
from tests.channels.helpers import PHONE, outbox
from tests.channels.test_portal import sign_in
from tests.channels.test_ussd import Session
from tests.helpers.web import csrf_token


def _opened_with_deadline(app, claim_id: int, channel: str) -> Claim:
    c = claim(app, claim_id)
    assert (c.channel, c.status) == (channel, "open")
    assert c.state_since is not None and c.due_at - c.state_since == timedelta(hours=4)  # the default open deadline
    [event] = rows(app, ClaimEvent, ClaimEvent.claim_id == claim_id)
    assert (event.from_status, event.to_status) == (None, "open")
    return c


def test_portal_and_sms_in_both_languages(app, client, telecom, staff, work):
    cid = setup(client, staff, telecom, work, app)
    sign_in(client, work)
    token = csrf_token(client, "/portal/")
    resp = client.post("/portal/claims", data={"csrf_token": token, "transaction_ref": "HD-1", "provider": "telecom"})
    assert resp.status_code == 302
    portal = _opened_with_deadline(app, 1, "portal")
    assert (portal.customer_id, portal.transaction_ref, portal.provider_id is not None) == (cid, "HD-1", True)

    how = sms(client, "khieu nai")
    assert how["intent"] == "claim" and how["reply"].startswith("Soạn KHIEUNAI <mã giao dịch>")
    vi = sms(client, "KHIẾU NẠI Hd-77 Nạp tiền chưa có điểm", id="gw-1")
    assert vi["reply"] == "Đã nhận yêu cầu báo thiếu điểm #2 cho giao dịch Hd-77. Chúng tôi sẽ trả lời bằng tin nhắn."
    again = sms(client, "KHIẾU NẠI Hd-77 Nạp tiền chưa có điểm", id="gw-1")  # the gateway retried
    assert again["duplicate"] is True
    by_sms = _opened_with_deadline(app, 2, "sms")
    assert (by_sms.transaction_ref, by_sms.description) == ("Hd-77", "Nạp tiền chưa có điểm")
    en = sms(client, "claim POS-9")
    assert en["reply"] == "We received missing-points request #3 for transaction POS-9. We will reply by SMS."
    assert len(rows(app, Claim)) == 3
    assert "KHIEUNAI <mã GD>" in sms(client, "HELP")["reply"]
    replies = [r.payload["text"] for r in outbox(app, template="sms_reply")]
    assert any("#2" in r for r in replies) and any("#3" in r for r in replies)


def test_ussd_menu_files_once_per_session_within_182_characters(app, client, telecom, staff, work):
    setup(client, staff, telecom, work, app)
    s = Session(client)
    assert "\n6. Báo thiếu điểm\n" in s.send()  # then 7. Tặng điểm and 8. Quyền riêng tư
    assert s.send("6").startswith("CON Báo thiếu điểm: nhập mã giao dịch")
    assert s.send("HD-2026-55") == "CON Báo thiếu điểm cho giao dịch HD-2026-55?\n1. Đồng ý\n2. Hủy"
    done = s.send("1")
    assert done == "END Đã nhận yêu cầu #1. Chúng tôi sẽ kiểm tra và trả lời bằng tin nhắn."
    s.inputs.pop()
    assert s.send("1") == done  # the gateway repeats the last request: the same claim, not a second one
    c = _opened_with_deadline(app, 1, "ussd")
    assert c.transaction_ref == "HD-2026-55"
    # back and cancel file nothing; a reference longer than a screen can echo is refused
    other = Session(client)
    other.send("", "6", "X1")
    assert other.send("0").startswith("CON Báo thiếu điểm: nhập")
    assert other.send("X2", "2") == "END Đã hủy, chưa gửi yêu cầu nào."
    long = Session(client).send("", "6", "9" * 41)
    assert long.startswith("CON Lựa chọn không hợp lệ.\nBáo thiếu điểm")
    assert len(rows(app, Claim)) == 1


def test_care_agent_files_from_the_queue_and_the_customer_360(app, client, telecom, staff, work):
    cid = setup(client, staff, telecom, work, app)
    token = staff_login(app, client, "care")
    missing = client.post(
        "/care/claims", data={"csrf_token": token, "customer": "0999 000 111", "transaction_ref": "X"}
    )
    assert missing.status_code == 422
    assert field_error(missing.get_data(as_text=True), "claim-customer") == "no customer found with this value"
    empty = client.post("/care/claims", data={"csrf_token": token, "customer": PHONE})
    assert empty.status_code == 422
    html = empty.get_data(as_text=True)
    assert field_error(html, "claim-transaction_ref").startswith("give the receipt or transaction number")
    bad_date = client.post(
        "/care/claims",
        data={"csrf_token": token, "customer": PHONE, "transaction_ref": "A1", "occurred_on": "31/12/2026"},
    )
    assert field_error(bad_date.get_data(as_text=True), "claim-occurred_on") == "must be a date as YYYY-MM-DD"
    assert client.post("/care/claims", data={"customer": PHONE, "transaction_ref": "A1"}).status_code == 400  # CSRF

    filed = client.post(
        "/care/claims",
        data={
            "csrf_token": token,
            "customer_kind": "phone",
            "customer": "0912 345 678",
            "transaction_ref": "CALL-1",
            "provider": "telecom",
            "amount": "150.000",
            "description": "Called the hotline",
        },
    )
    assert filed.status_code == 302 and filed.headers["Location"].endswith("/care/claims/1")
    c = _opened_with_deadline(app, 1, "care")
    assert (c.filed_by, c.amount, c.customer_id) == ("care-all@example.com", 150000, cid)

    page = client.get(f"/customers/{cid}").get_data(as_text=True)  # the 360 lists the claim and offers the form
    assert 'id="customer-claims"' in page and "CALL-1" in page
    assert f'name="customer_kind" value="id"><input type="hidden" name="customer" value="{cid}"' in page
    from_360 = client.post(
        "/care/claims", data={"csrf_token": token, "customer_kind": "id", "customer": str(cid), "transaction_ref": "C2"}
    )
    assert from_360.status_code == 302
    _opened_with_deadline(app, 2, "care")
    filed_audit = rows(app, AuditEvent, AuditEvent.action == "claim.filed")
    assert [a.actor for a in filed_audit] == ["care-all@example.com", "care-all@example.com"]
