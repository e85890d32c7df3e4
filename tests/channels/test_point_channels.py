"""Points payments and transfers as the member sees them: SMS balance, USSD menu and activity, the portal form.

The member (+84912345678) earns 1,260 points at telecom; a friend (0912000002) earns 10.
"""

from __future__ import annotations

import re

from tests.channels.helpers import PHONE, earn, programme, sent_to
from tests.channels.test_number_lifecycle import sms
from tests.channels.test_portal import sign_in
from tests.channels.test_ussd import Session as Ussd
from tests.helpers.database import ledger_ok
from tests.helpers.web import csrf_token

FRIEND = "0912000002"


def setup(client, telecom, staff, work) -> None:
    programme(client, staff)
    earn(client, telecom, work, "t1", 12_600_000)  # 1.260 points
    earn(client, telecom, work, "f1", 100_000, phone=FRIEND)  # 10 points


def balance_of(client, telecom, phone: str) -> int:
    return client.get(f"/api/v1/customers/lookup?phone={phone}", headers=telecom.headers).get_json()["balance"]


def test_sms_and_ussd_balances_follow_a_points_payment(app, client, telecom, staff, work) -> None:
    setup(client, telecom, staff, work)
    body = {"provider_payment_id": "till-1", "customer": {"phone": "0912345678"}, "points": 260}
    assert client.post("/api/v1/point-payments", json=body, headers=telecom.headers).status_code == 201
    assert "Số dư: 1.000 điểm" in sms(client, "DIEM")
    assert "Balance: 1,000 points" in sms(client, "BAL")
    assert "1.000" in Ussd(client).send("", "1")
    activity = Ussd(client).send("", "4")
    assert "-260 Trả bằng điểm" in activity
    ledger_ok(app)


def test_ussd_sends_points_once_per_session(app, client, telecom, staff, work) -> None:
    setup(client, telecom, staff, work)
    assert (
        client.put("/api/v1/settings/point_transfers", json={"value": {"fee_points": 2}}, headers=staff).status_code
        == 200
    )
    menu = Ussd(client)
    assert "7. Tặng điểm" in menu.send("")
    assert "nhập số điện thoại người nhận" in menu.send("7")
    assert "Quay lại" in menu.send("abc") and "Lựa chọn không hợp lệ" in menu.screens[-1]
    menu.inputs.pop()
    assert "Số dư: 1.260 điểm" in menu.send("0912 000 002")
    confirm = menu.send("100")
    assert "Tặng 100 điểm cho +84912000002? Phí: 2 điểm." in confirm
    done = menu.send("1")
    assert done == "END Đã tặng 100 điểm cho +84912000002. Số dư: 1.158 điểm."
    # a gateway repeating the last request gets the same transfer, not a second one
    menu.inputs.pop()
    assert menu.send("1") == done
    assert balance_of(client, telecom, FRIEND) == 110
    assert "-100 Tặng điểm" in Ussd(client).send("", "4")
    assert "+100 Nhận điểm" in Ussd(client, phone="+84912000002").send("", "4")
    # more than the balance: refused with the reason, nothing moves
    refused = Ussd(client, phone="+84912000002").send("", "7", "0912345678", "200", "1")
    assert refused == "END Không tặng được điểm: không đủ điểm."
    ledger_ok(app)


def test_the_portal_form_sends_points_and_shows_errors_next_to_the_field(app, client, telecom, staff, work) -> None:
    setup(client, telecom, staff, work)
    body = {"provider_payment_id": "till-1", "customer": {"phone": "0912345678"}, "points": 60}
    assert client.post("/api/v1/point-payments", json=body, headers=telecom.headers).status_code == 201
    sign_in(client, work)
    page = client.get("/portal/send").get_data(as_text=True)
    token = csrf_token(client, "/portal/send")
    nonce = re.search(r'name="nonce" value="([0-9a-f]+)"', page).group(1)
    bad = client.post("/portal/send", data={"csrf_token": token, "nonce": nonce, "to": FRIEND, "points": "5000"})
    assert bad.status_code == 409
    html = bad.get_data(as_text=True)
    assert 'id="points" name="points"' in html and 'aria-describedby="e-points"' in html
    assert "needs 5000 points, 1200 available" in html
    nobody = client.post("/portal/send", data={"csrf_token": token, "nonce": nonce, "to": "0912999999", "points": "5"})
    assert nobody.status_code == 404 and 'aria-describedby="e-to"' in nobody.get_data(as_text=True)
    no_csrf = client.post("/portal/send", data={"nonce": nonce, "to": FRIEND, "points": "200"})
    assert no_csrf.status_code == 400
    ok = client.post("/portal/send", data={"csrf_token": token, "nonce": nonce, "to": FRIEND, "points": "200"})
    assert ok.status_code == 302
    again = client.post("/portal/send", data={"csrf_token": token, "nonce": nonce, "to": FRIEND, "points": "200"})
    assert again.status_code == 302  # the same form sent twice moves the points once
    assert balance_of(client, telecom, FRIEND) == 210
    home = client.get("/portal/").get_data(as_text=True)
    assert "Đã tặng 200 điểm. Số dư: 1.000 điểm." in home
    assert "Tặng điểm" in home and "Thanh toán bằng điểm" in home
    ledger_ok(app)


def test_payers_senders_and_recipients_get_an_sms_in_their_language(app, client, telecom, staff, work) -> None:
    from tests.channels.helpers import customer_id, set_customer

    setup(client, telecom, staff, work)
    set_customer(app, customer_id(app, "+84912000002"), language="en")
    body = {"provider_payment_id": "till-1", "customer": {"phone": "0912345678"}, "points": 260}
    assert client.post("/api/v1/point-payments", json=body, headers=telecom.headers).status_code == 201
    assert Ussd(client).send("", "7", "0912000002", "100", "1").startswith("END Đã tặng")
    assert app.test_cli_runner().invoke(args=["notify", "send"]).exit_code == 0
    mine = sent_to(PHONE)
    assert "Bạn đã thanh toán 260đ bằng 260 điểm tại Mobile operator. Số dư: 900 điểm." in mine
    assert "Bạn đã tặng 100 điểm cho số …0002. Số dư: 900 điểm." in mine
    assert sent_to("+84912000002") == ["You received 100 points from another member. Balance: 110 points."]
    ledger_ok(app)
