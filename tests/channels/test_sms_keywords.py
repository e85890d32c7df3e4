"""The inbound SMS keyword webhook, end to end: replies go through the outbox and the gateway adapter."""

from __future__ import annotations

from tests.channels.helpers import PHONE, SECRET, customer_id, earn, outbox, programme, sent_to, set_customer

H = {"X-Gateway-Secret": SECRET}


def sms(client, text, phone="0912 345 678", **extra):
    resp = client.post("/channels/sms", json={"from": phone, "text": text, **extra}, headers=H)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_secret_is_required(client):
    assert client.post("/channels/sms", json={"from": PHONE, "text": "DIEM"}).status_code == 401
    bad = client.post("/channels/sms", json={"from": PHONE, "text": "DIEM"}, headers={"X-Gateway-Secret": "x"})
    assert bad.status_code == 401 and bad.get_json()["error"]["code"] == "unauthorized"
    missing = client.post("/channels/sms", json={"from": PHONE}, headers=H)
    assert missing.status_code == 422 and missing.get_json()["error"]["fields"][0]["path"] == "text"
    assert client.post("/channels/sms", json={"from": "12", "text": "DIEM"}, headers=H).status_code == 422


def test_balance_tier_help_in_both_languages_any_case_and_diacritics(app, client, telecom, staff, work):
    programme(client, staff)
    earn(client, telecom, work, "t1", 12_600_000)  # 1.260 points -> Bạc (silver)
    r = sms(client, "điểm")
    assert r["intent"] == "balance" and r["delivery"] == "outbox"
    assert r["reply"] == "Số dư: 1.260 điểm. Hạng: Bạc. 1.740 điểm nữa để lên hạng Vàng."
    assert sms(client, "  Diem ")["intent"] == "balance"
    assert sms(client, "bal")["reply"] == "Balance: 1,260 points. Tier: Bạc. 1,740 more points to reach Vàng."
    assert sms(client, "HẠNG")["reply"].startswith("Hạng của bạn: Bạc. Điểm xét hạng 12 tháng: 1.260.")
    assert sms(client, "tier")["reply"].startswith("Your tier: Bạc.")
    assert sms(client, "help")["reply"].startswith("DIEM: xem điểm.")
    unknown = sms(client, "xin chào")
    assert unknown["intent"] == "unknown" and unknown["reply"].startswith("Không hiểu yêu cầu. DIEM:")
    set_customer(app, customer_id(app), language="en")
    assert sms(client, "hello")["reply"].startswith("Sorry, we did not understand. BAL:")
    work()  # the replies go out through the adapter
    texts = sent_to()
    assert "Số dư: 1.260 điểm. Hạng: Bạc. 1.740 điểm nữa để lên hạng Vàng." in texts
    assert len([r for r in outbox(app, template="sms_reply") if r.status == "sent"]) == 8


def test_redeem_needs_confirmation_and_is_not_repeated(app, client, telecom, staff, work):
    programme(client, staff)
    earn(client, telecom, work, "t1", 6_000_000)  # 600 points
    no = sms(client, "DOI TOPUP50 OK")
    assert no["reply"] == "Chưa có yêu cầu đổi TOPUP50. Soạn DOI TOPUP50 trước."
    ask = sms(client, "đổi topup50")
    assert ask["intent"] == "redeem_ask"
    assert ask["reply"] == "Đổi Thẻ cào 50.000đ với 500 điểm? Soạn DOI TOPUP50 OK trong 10 phút để xác nhận."
    done = sms(client, "Đổi TOPUP50 ok", id="gw-42")
    assert done["intent"] == "redeem" and done["outbox_id"] is None
    assert done["reply"].startswith("Đổi quà thành công: Thẻ cào 50.000đ. Mã quà: LV-")
    again = sms(client, "Đổi TOPUP50 ok", id="gw-42")  # the gateway retried the same message
    assert again["duplicate"] and again["reply"] == done["reply"]
    used = sms(client, "DOI TOPUP50 OK")  # the confirmation was used up
    assert used["reply"].startswith("Chưa có yêu cầu đổi TOPUP50")
    short = sms(client, "REDEEM HEADPHONES")
    assert short["reply"] == "You need 5,000 points for Tai nghe không dây cao cấp; your balance is 100."
    assert sms(client, "DOI NOPE")["reply"] == "Không có quà mã NOPE. Soạn HELP để xem hướng dẫn."
    bal = client.get("/api/v1/customers/lookup?phone=0912345678", headers=staff).get_json()
    assert bal["balance"] == 100 and len(bal["redemptions"]) == 1
    work()
    assert sum(t.startswith("Đổi quà thành công") for t in sent_to()) == 1  # one voucher message, not two


def test_stop_and_start(app, client, telecom, staff, work):
    programme(client, staff)
    earn(client, telecom, work, "t1", 600_000)
    assert sms(client, "Từ chối")["reply"] == "Bạn đã ngừng nhận tin thông báo. Soạn BATDAU để nhận lại."
    earn(client, telecom, work, "t2", 600_000)
    assert [r.status for r in outbox(app, template="points_earned")] == ["sent", "suppressed"]
    assert sms(client, "START")["reply"].startswith("You will receive notifications again.")
    earn(client, telecom, work, "t3", 600_000)
    assert outbox(app, template="points_earned")[-1].status == "sent"


def test_unknown_phone_gets_a_polite_answer(client, staff):
    programme(client, staff, rewards=False)
    r = sms(client, "DIEM", phone="0987654321")
    assert r["reply"] == "Số điện thoại này chưa tham gia chương trình khách hàng thân thiết."


def test_redeem_below_the_programme_minimum_is_refused_politely(app, client, telecom, staff, work):
    programme(client, staff)
    earn(client, telecom, work, "t1", 6_000_000)  # 600 points; TOPUP50 costs 500
    assert client.put("/api/v1/settings/min_redemption_points", json={"value": 1000}, headers=staff).status_code == 200
    sms(client, "DOI TOPUP50")
    done = sms(client, "DOI TOPUP50 OK")
    assert done["intent"] != "redeem" or "tối thiểu" in done["reply"], done
    assert "mức tối thiểu" in done["reply"]
