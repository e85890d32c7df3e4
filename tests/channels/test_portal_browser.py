"""The customer portal in a real browser on a phone-sized viewport (Playwright driving Debian's chromium).

Sign in with the SMS code read from the logging adapter, see balance and tier progress, redeem with confirmation,
report missing points. With LOYALTY_SCREENSHOTS=1 the screenshots replace docs/screenshots/portal-*.png.
"""

from __future__ import annotations

import os
import re

import pytest

from tests.channels.helpers import PHONE, earn, programme, sent_to
from tests.integration.test_browser import ARGS, CHROMIUM, shot

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (bin/test installs it)"),
]

from tests.integration.test_browser import server  # noqa: E402,F401  (the fixture)

PHONE_VIEWPORT = {"width": 390, "height": 844}


def test_portal_on_a_phone(app, server, telecom, staff, work):  # noqa: F811
    client = app.test_client()
    programme(client, staff)
    earn(client, telecom, work, "t1", 12_600_000)
    earn(client, telecom, work, "t2", 450_000)
    expect = playwright_api.expect
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            ctx = browser.new_context(viewport=PHONE_VIEWPORT, device_scale_factor=2, is_mobile=True, has_touch=True)
            page = ctx.new_page()
            page.goto(f"{server}/portal/")
            page.wait_for_url(re.compile(r".*/portal/login$"))
            page.get_by_label("Số điện thoại").fill("0912 345 678")
            shot(page, "portal-login")
            page.get_by_role("button", name="Gửi mã").click()
            page.wait_for_url(re.compile(r".*/portal/verify$"))
            work()  # the worker sends the code through the logging adapter
            code = re.search(r"\b(\d{6})\b", sent_to(PHONE)[-1]).group(1)
            page.get_by_label("Mã 6 số").fill(code)
            page.get_by_role("button", name="Đăng nhập").click()
            page.wait_for_url(re.compile(r".*/portal/$"))
            expect(page.locator("#balance")).to_have_text("1.305 điểm")
            expect(page.locator("#to-next")).to_have_text("1.695 điểm nữa để lên hạng Vàng")
            assert (
                page.evaluate("document.documentElement.scrollWidth") <= PHONE_VIEWPORT["width"]
            )  # no sideways scroll
            shot(page, "portal-home")
            page.get_by_role("link", name="Đổi quà Vé xem phim CGV").click()
            expect(page.locator("#confirm-text")).to_contain_text("Đổi Vé xem phim CGV với 800 điểm?")
            shot(page, "portal-confirm")
            page.get_by_role("button", name="Xác nhận đổi").click()
            page.wait_for_url(re.compile(r".*/portal/#vouchers$"))
            expect(page.get_by_role("status")).to_contain_text("Đổi quà thành công! Mã quà của bạn: LV-")
            expect(page.locator("#balance")).to_have_text("505 điểm")
            expect(page.locator("#vouchers")).to_contain_text("Vé xem phim CGV")
            shot(page, "portal-voucher")
            page.get_by_role("link", name="Báo thiếu điểm").click()
            page.get_by_label("Số hóa đơn / mã giao dịch").fill("HD-2026-1188")
            page.get_by_label("Nơi giao dịch").select_option("telecom")
            page.get_by_label("Số tiền (đ)").fill("250.000")
            page.get_by_label("Mô tả").fill("Nạp thẻ tại cửa hàng nhưng chưa được cộng điểm")
            shot(page, "portal-claim")
            page.get_by_role("button", name="Gửi yêu cầu").click()
            expect(page.get_by_role("status")).to_contain_text("Đã nhận yêu cầu #1")
            expect(page.locator("#claims")).to_contain_text("HD-2026-1188")
            page.get_by_role("button", name="English").click()
            expect(page.locator("#balance")).to_have_text("505 points")
            shot(page, "portal-home-en")
        finally:
            browser.close()
