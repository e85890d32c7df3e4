"""The USSD callback through full multi-step sessions, in both languages; every screen within 182 characters."""

from __future__ import annotations

import itertools

from tests.channels.helpers import SECRET, customer_id, earn, programme, sent_to, set_customer

H = {"X-Gateway-Secret": SECRET}
_ids = itertools.count(1)


class Session:
    """One USSD session as a gateway drives it: the inputs so far, joined by '*'."""

    def __init__(self, client, phone="+84912345678"):
        self.client, self.phone, self.inputs, self.id = client, phone, [], f"ATUid_{next(_ids)}"
        self.screens: list[str] = []

    def send(self, *keys: str) -> str:
        for key in keys or ("",):
            if key != "":
                self.inputs.append(key)
            body = {
                "sessionId": self.id,
                "phoneNumber": self.phone,
                "serviceCode": "*384*123#",
                "text": "*".join(self.inputs),
            }
            resp = self.client.post("/channels/ussd", data=body, headers=H)
            assert resp.status_code == 200 and resp.mimetype == "text/plain"
            text = resp.get_data(as_text=True)
            assert text.startswith(("CON ", "END ")), text
            assert len(text) <= 182, (len(text), text)
            self.screens.append(text)
        return text


def test_full_sessions_in_vietnamese_and_english(app, client, telecom, staff, work):
    programme(client, staff)
    earn(client, telecom, work, "t1", 12_600_000)  # 1.260 points
    for lang in ("vi", "en"):
        set_customer(app, customer_id(app), language=lang)
        main = Session(client).send()
        assert main.startswith(
            "CON Khách hàng thân thiết\n1. Điểm và hạng" if lang == "vi" else "CON Loyalty programme"
        )
        bal = Session(client).send("", "1")
        if lang == "vi":
            assert bal.startswith("END Số dư: 1.260 điểm. Hạng: Bạc. 1.740 điểm nữa để lên hạng Vàng.")
        else:
            assert bal.startswith("END Balance: 1,260 points. Tier: Bạc. 1,740 more points to reach Vàng.")
        # rewards, paged: every page, forward and back
        s = Session(client)
        first = s.send("", "2")
        assert first.startswith("CON Quà (1/2):" if lang == "vi" else "CON Rewards (1/2):")
        second = s.send("9")
        assert "(2/2)" in second and ("9. Tiếp" not in second and "9. More" not in second)
        assert s.send("9").startswith("CON " + ("Lựa chọn không hợp lệ." if lang == "vi" else "Invalid choice."))
        assert "(1/2)" in s.send("0")
        assert s.send("0") == main
        # invalid input: the same screen with a short error
        bad = Session(client).send("", "9")
        assert bad == main.replace(
            "CON ", "CON " + ("Lựa chọn không hợp lệ.\n" if lang == "vi" else "Invalid choice.\n")
        )
        act = Session(client).send("", "4")
        assert act.startswith(
            "END Giao dịch gần đây:\n+1.260 Base earning"  # what the points were for: the campaign
            if lang == "vi"
            else "END Recent activity:\n+1.260 Base earning"
        )
        cancel = Session(client)
        cancel.send("", "3", "1")
        assert cancel.send("2").startswith("END Đã hủy" if lang == "vi" else "END Cancelled")


def test_redeem_choose_confirm_and_language(app, client, telecom, staff, work):
    programme(client, staff)
    earn(client, telecom, work, "t1", 12_600_000)
    s = Session(client)
    s.send("")
    choose = s.send("3")
    assert choose.splitlines()[1] == "1. Thẻ cào 10.000đ: 100 điểm"
    assert "Tai nghe" not in choose  # 5.000 points: not affordable
    assert s.send("8").startswith("CON Lựa chọn không hợp lệ.\nChọn quà")
    confirm = s.send("2")
    assert confirm == "CON Đổi Cà phê sữa đá với 150 điểm?\n1. Đồng ý\n2. Hủy"
    done = s.send("1")
    assert done.startswith("END Đổi quà thành công! Mã quà: LV-")
    voucher = done.split("Mã quà: ")[1].split(".")[0]
    # the gateway repeats the last request: same voucher, no second debit
    repeat = client.post(
        "/channels/ussd",
        data={"sessionId": s.id, "phoneNumber": s.phone, "serviceCode": "*384#", "text": "*".join(s.inputs)},
        headers=H,
    ).get_data(as_text=True)
    assert repeat == done
    lookup = client.get("/api/v1/customers/lookup?phone=0912345678", headers=staff).get_json()
    assert lookup["balance"] == 1110
    work()
    assert f"Đổi quà thành công: Cà phê sữa đá. Mã quà: {voucher}." in sent_to()
    # language
    lang = Session(client)
    lang.send("", "5")
    assert lang.send("2") == "END Language set to English."
    assert Session(client).send("").startswith("CON Loyalty programme")
    back = Session(client)
    back.send("", "5")
    assert back.send("1") == "END Đã chọn Tiếng Việt."


def test_screens_fit_with_long_names_and_poor_or_unknown_customers(app, client, telecom, staff, work):
    programme(client, staff)
    for i in range(9):
        r = {"code": f"LONG{i}", "name": "Phiếu quà tặng siêu thị điện máy xanh " * 3, "cost": 10 + i}
        assert client.post("/api/v1/rewards", json=r, headers=staff).status_code == 201
    earn(client, telecom, work, "t1", 100_000)  # 10 points
    for lang in ("vi", "en"):
        set_customer(app, customer_id(app), language=lang)
        s = Session(client)
        s.send("", "2")
        while "9. " in s.screens[-1]:
            s.send("9")
        assert len(s.screens) >= 5
        poor = Session(client)
        poor.send("", "3", "1", "1")  # affords LONG0 only
        assert poor.screens[-1].startswith("END ")
    assert Session(client, "+84987654321").send("").startswith("END Số điện thoại này chưa tham gia")
