"""The customer portal over HTTP (the browser test drives the same pages in chromium)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from tests.channels.helpers import PHONE, earn, programme, sent_to
from tests.helpers.web import csrf_token


def code_for(work, phone: str = PHONE) -> str:
    work()  # the worker sends the outbox through the logging adapter
    text = [t for t in sent_to(phone) if "Mã đăng nhập" in t or "sign-in code" in t][-1]
    return re.search(r"\b(\d{6})\b", text).group(1)


def sign_in(client, work, phone: str = "0912 345 678") -> None:
    token = csrf_token(client, "/portal/login")
    resp = client.post("/portal/login", data={"phone": phone, "csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/portal/verify")
    resp = client.post("/portal/verify", data={"code": code_for(work), "csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/portal/"), resp.get_data(as_text=True)


def test_sign_in_home_redeem_claim(app, client, telecom, staff, work):
    from campaigns.models import OtpCode, Outbox
    from webapp.extensions import db

    programme(client, staff)
    earn(client, telecom, work, "t1", 12_600_000)
    assert client.get("/portal/").headers["Location"].endswith("/portal/login")
    sign_in(client, work)
    with app.app_context():  # the code is stored hashed, and masked in the outbox once sent
        otp = db.session.scalars(select(OtpCode)).one()
        assert len(otp.code_hash) == 64 and otp.used_at is not None
        sent = db.session.scalars(select(Outbox).where(Outbox.template == "otp")).one()
        assert sent.payload == {"code": "******"} and "******" in sent.body
        db.session.remove()
    home = client.get("/portal/")
    html = home.get_data(as_text=True)
    assert home.status_code == 200 and 'lang="vi"' in html
    assert "<strong>1.260</strong> điểm" in html
    assert "1.740 điểm nữa để lên hạng Vàng" in html
    assert "Mobile operator" in html and "Thẻ cào 10.000đ" in html and "Tai nghe" not in html
    assert home.headers["X-Frame-Options"] == "DENY" and "default-src 'self'" in home.headers["Content-Security-Policy"]
    assert home.headers["Cache-Control"] == "no-store"
    confirm = client.get("/portal/rewards/COFFEE/redeem").get_data(as_text=True)
    assert "Đổi Cà phê sữa đá với 150 điểm? Số dư sau khi đổi: 1.110 điểm." in confirm
    nonce = re.search(r'name="nonce" value="([^"]+)"', confirm).group(1)
    token = csrf_token(client, "/portal/")
    assert client.post("/portal/rewards/COFFEE/redeem", data={"nonce": nonce}).status_code == 400  # CSRF
    done = client.post("/portal/rewards/COFFEE/redeem", data={"nonce": nonce, "csrf_token": token})
    assert done.status_code == 302
    again = client.post("/portal/rewards/COFFEE/redeem", data={"nonce": nonce, "csrf_token": token})  # double submit
    assert again.status_code == 302
    html = client.get("/portal/").get_data(as_text=True)
    assert "Đổi quà thành công! Mã quà của bạn: LV-" in html and "<strong>1.110</strong>" in html
    bad = client.post("/portal/claims", data={"csrf_token": token})
    assert bad.status_code == 422
    ok = client.post(
        "/portal/claims",
        data={
            "csrf_token": token,
            "transaction_ref": "HD-998877",
            "provider": "telecom",
            "occurred_on": "2026-11-20",
            "amount": "250.000",
            "description": "Nạp tiền chưa được cộng điểm",
        },
    )
    assert ok.status_code == 302
    html = client.get("/portal/").get_data(as_text=True)
    assert "#1 HD-998877" in html and "Đang xử lý" in html
    # English, then sign out: the staff UI is not signed in by any of this
    assert client.post("/portal/language", data={"csrf_token": token}).status_code == 302
    assert 'lang="en"' in client.get("/portal/").get_data(as_text=True)
    assert client.get("/").status_code == 302  # staff dashboard: still the staff login
    assert client.post("/portal/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/portal/").status_code == 302


def test_codes_expire_and_burn_after_five_wrong_tries(app, client, telecom, staff, work):
    from campaigns.models import OtpCode
    from webapp.extensions import db

    programme(client, staff, rewards=False)
    earn(client, telecom, work, "t1", 600_000)
    token = csrf_token(client, "/portal/login")
    client.post("/portal/login", data={"phone": PHONE, "csrf_token": token})
    code = code_for(work)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(4):
        resp = client.post("/portal/verify", data={"code": wrong, "csrf_token": token})
        assert resp.status_code == 401 and "Mã không đúng hoặc đã hết hạn." in resp.get_data(as_text=True)
    assert client.post("/portal/verify", data={"code": wrong, "csrf_token": token}).status_code == 401
    assert client.post("/portal/verify", data={"code": code, "csrf_token": token}).status_code == 401  # burnt
    client.post("/portal/login", data={"phone": PHONE, "csrf_token": token})
    code = code_for(work)
    with app.app_context():
        db.session.execute(update(OtpCode).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        db.session.commit()
        db.session.remove()
    assert client.post("/portal/verify", data={"code": code, "csrf_token": token}).status_code == 401


def test_rate_limits_per_phone_and_ip(app, client, telecom, staff, work):
    programme(client, staff, rewards=False)
    earn(client, telecom, work, "t1", 600_000)
    token = csrf_token(client, "/portal/login")
    for _ in range(3):
        assert client.post("/portal/login", data={"phone": PHONE, "csrf_token": token}).status_code == 302
    limited = client.post("/portal/login", data={"phone": PHONE, "csrf_token": token})
    assert limited.status_code == 429 and 0 < int(limited.headers["Retry-After"]) <= 900
    assert "Hãy thử lại sau" in limited.get_data(as_text=True)
    # an unknown phone gets the same next page (no enumeration), and other phones count towards the IP limit
    assert client.post("/portal/login", data={"phone": "0987654321", "csrf_token": token}).status_code == 302
    api = [client.post("/api/v1/me/otp", json={"phone": f"09876543{i:02d}"}).status_code for i in range(20)]
    assert api.count(202) == 15 and api[-1] == 429  # 20 per IP: 5 used above
