"""Vietnamese and English over HTTP: the staff console per user, else the programme's default."""

from __future__ import annotations

from sqlalchemy import select

from tests.helpers.factories import make_user
from tests.helpers.web import csrf_token, login


def _page(app, email: str, path: str = "/auth/password") -> str:  # type: ignore[no-untyped-def]
    c = app.test_client()
    assert login(c, email).status_code == 302
    return c.get(path).get_data(as_text=True)


def test_console_in_each_users_language(app, client):
    make_user(app, "vi@example.com", "analyst", language="vi")
    make_user(app, "en@example.com", "analyst", language="en")
    vi = _page(app, "vi@example.com")
    assert '<html lang="vi">' in vi and "Đổi mật khẩu" in vi and "Tổng quan" in vi
    assert "Đăng xuất" in vi and "Change your password" not in vi
    dashboard = _page(app, "vi@example.com", "/")
    assert "Điểm đã cộng" in dashboard and "Khách hàng hoạt động" in dashboard and "Points issued" not in dashboard
    en = _page(app, "en@example.com")
    assert '<html lang="en">' in en and "Change your password" in en and "Sign out" in en
    assert "Đổi mật khẩu" not in en


def test_a_user_without_a_choice_gets_the_programmes_language(app, client, staff):
    make_user(app, "none@example.com", "analyst", language="")
    assert "Đổi mật khẩu" in _page(app, "none@example.com")  # a new install is Vietnamese
    resp = client.put("/api/v1/settings/language", json={"value": "en"}, headers=staff)
    assert resp.status_code == 200, resp.get_json()
    assert "Change your password" in _page(app, "none@example.com")
    bad = client.put("/api/v1/settings/language", json={"value": "fr"}, headers=staff)
    assert bad.status_code == 422 and bad.get_json()["error"]["fields"][0]["path"] == "value"


def test_the_user_switches_language_in_the_console_and_it_is_audited(app, client):
    from campaigns.models import AuditEvent, StaffUser
    from webapp.extensions import db

    make_user(app, "me@example.com", "care", language="en")
    assert login(client, "me@example.com").status_code == 302
    token = csrf_token(client, "/auth/password")
    resp = client.post("/auth/language", data={"language": "vi", "next": "/auth/password", "csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"] == "/auth/password"
    assert "Đổi mật khẩu" in client.get("/auth/password").get_data(as_text=True)
    bad = client.post("/auth/language", data={"language": "xx", "csrf_token": token})
    assert bad.status_code == 422 and "must be one of vi, en" in bad.get_data(as_text=True)
    assert client.post("/auth/language", data={"language": "vi"}).status_code == 400  # no CSRF token
    with app.app_context():
        user = db.session.scalar(select(StaffUser).where(StaffUser.email == "me@example.com"))
        assert user is not None and user.language == "vi"
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.language_changed"))
        assert event is not None and event.details == {"old": "en", "new": "vi"} and event.actor == "me@example.com"
        db.session.remove()


def test_the_sign_in_page_follows_the_browser_else_the_programme(app, client):
    assert "Staff console for campaigns" in client.get("/auth/login").get_data(as_text=True)  # Accept-Language: en
    vi = app.test_client()
    vi.environ_base["HTTP_ACCEPT_LANGUAGE"] = "vi-VN,vi;q=0.9"
    assert "Trang quản trị chiến dịch" in vi.get("/auth/login").get_data(as_text=True)
    other = app.test_client()
    other.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    assert '<html lang="vi">' in other.get("/auth/login").get_data(as_text=True)


def test_times_in_the_programmes_zone_on_a_page_and_in_a_csv_and_money_in_each_language(
    app, client, telecom, staff, work
):
    import csv
    import io
    from datetime import UTC, datetime, timedelta

    from tests.helpers.api import publish, txn
    from tests.helpers.documents import BASE_EARNING

    publish(client, staff, BASE_EARNING)
    occurred = (datetime.now(UTC) - timedelta(days=1)).replace(hour=20, minute=30, second=0, microsecond=0)
    body = txn("z-1", 1_234_567, occurred_at=occurred.isoformat())
    assert client.post("/api/v1/transactions", json=body, headers=telecom.headers).status_code == 202
    work()
    local = occurred + timedelta(hours=7)  # Asia/Ho_Chi_Minh, the default zone: the next calendar day
    make_user(app, "en@example.com", "care", language="en")
    make_user(app, "vi@example.com", "care", language="vi")
    c = app.test_client()
    login(c, "en@example.com")
    cid = int(c.get("/customers?kind=phone&q=0912345678").headers["Location"].rsplit("/", 1)[1])
    page = c.get(f"/customers/{cid}").get_data(as_text=True)
    assert "Occurred (UTC+07:00)" in page and local.strftime("%Y-%m-%d %H:%M") in page and "(UTC)" not in page
    assert "₫1,234,567" in page
    rows = list(csv.DictReader(io.StringIO(c.get(f"/customers/{cid}/transactions.csv").get_data(as_text=True))))
    assert rows[0]["occurred_at"] == local.strftime("%Y-%m-%dT%H:%M:%S+07:00")
    v = app.test_client()
    login(v, "vi@example.com")
    assert "1.234.567 ₫" in v.get(f"/customers/{cid}").get_data(as_text=True)
    resp = client.put("/api/v1/settings/timezone", json={"value": "UTC"}, headers=staff)
    assert resp.status_code == 200
    page = c.get(f"/customers/{cid}").get_data(as_text=True)
    assert "Occurred (UTC+00:00)" in page and occurred.strftime("%Y-%m-%d %H:%M") in page


def test_cli_output_in_the_shells_language_and_a_bilingual_rewards_file(app, client, tmp_path):
    from campaigns.models import Reward
    from webapp.extensions import db

    file = tmp_path / "rewards.yaml"
    file.write_text(
        "rewards:\n  - {code: DATA1G, name: {vi: Gói data 1 GB, en: 1 GB data pack}, cost: 100}\n", encoding="utf-8"
    )
    runner = app.test_cli_runner()
    unset = {"LANGUAGE": None, "LC_ALL": None, "LC_MESSAGES": None}
    vi = runner.invoke(args=["rewards", "import", str(file)], env={**unset, "LANG": "vi_VN.UTF-8"})
    assert vi.exit_code == 0 and vi.output.strip() == "Đã lưu 1 quà.", vi.output
    en = runner.invoke(args=["rewards", "import", str(file)], env={**unset, "LANG": "C.UTF-8"})
    assert en.exit_code == 0 and en.output.strip() == "Saved 1 reward(s).", en.output
    bad = runner.invoke(args=["rewards", "import", str(file)], env={**unset, "LC_ALL": "vi_VN.UTF-8", "LANG": "C"})
    assert bad.exit_code == 0 and "Đã lưu" in bad.output  # LC_ALL wins over LANG, as in gettext
    file.write_text("rewards:\n  - {code: X, name: {fr: Forfait}, cost: 100}\n", encoding="utf-8")
    refused = runner.invoke(args=["rewards", "import", str(file)], env={**unset, "LANG": "vi_VN.UTF-8"})
    assert refused.exit_code == 1 and "lỗi:" in refused.output and "[0].name" in refused.output
    with app.app_context():
        reward = db.session.scalar(db.select(Reward).where(Reward.code == "DATA1G"))
        assert reward is not None and reward.name == "Gói data 1 GB" and reward.name_in("en") == "1 GB data pack"
        db.session.remove()
