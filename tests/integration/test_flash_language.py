"""Messages written by Python views reach people in their language: staff flashes, the portal claim form's errors."""

from __future__ import annotations

from sqlalchemy import select

from campaigns.models import Provider
from tests.channels.helpers import earn, programme
from tests.channels.test_portal import sign_in
from tests.helpers.factories import make_user
from tests.helpers.web import csrf_token, login
from webapp.extensions import db


def _flash_after_key_rotation(app, email: str) -> str:  # type: ignore[no-untyped-def]
    c = app.test_client()
    assert login(c, email).status_code == 302
    with app.app_context():
        pid = db.session.scalar(select(Provider.id).where(Provider.code == "telecom"))
    token = csrf_token(c, "/providers")
    resp = c.post(f"/providers/{pid}/keys", data={"csrf_token": token}, follow_redirects=True)
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def test_a_staff_flash_in_each_users_language(app, telecom):
    make_user(app, "vi@example.com", "admin", language="vi")
    make_user(app, "en@example.com", "admin", language="en")
    vi = _flash_after_key_rotation(app, "vi@example.com")
    assert "Đã tạo khoá mới cho telecom. Các khoá cũ vẫn hoạt động cho đến khi bạn thu hồi." in vi
    assert "The older keys keep working" not in vi
    en = _flash_after_key_rotation(app, "en@example.com")
    assert "New key for telecom. The older keys keep working until you revoke them." in en


def test_a_vietnamese_customer_reads_the_claim_forms_errors_in_vietnamese(app, client, telecom, staff, work):
    programme(client, staff)
    earn(client, telecom, work, "t1", 1_000_000)
    sign_in(client, work)
    token = csrf_token(client, "/portal/claims")
    bad = client.post("/portal/claims", data={"csrf_token": token, "occurred_on": "20/11", "amount": "abc"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "Hãy nhập số hoá đơn hoặc mã giao dịch, hoặc mô tả giao dịch." in html
    assert "Phải là ngày theo dạng YYYY-MM-DD." in html and "Phải là một số." in html
    assert "give the receipt" not in html and "must be" not in html
    api = client.post("/portal/language", data={"csrf_token": token})  # the customer switches to English
    assert api.status_code == 302
    en = client.post("/portal/claims", data={"csrf_token": token, "amount": "-5"}).get_data(as_text=True)
    assert "Give the receipt or transaction number, or describe it." in en
    assert "Must be a number from 0 to 1,000,000,000,000,000." in en
