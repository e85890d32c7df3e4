"""Single sign-on in a real browser (Playwright driving Debian's chromium): the login page's "Sign in with
<organisation>" button, the provider's own page, back signed in; then signing out ends the provider's session
too (RP-initiated logout, through our Content-Security-Policy) and lands on our login page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers.sso import MockProvider, configure, oidc_settings
from tests.integration.test_browser import CHROMIUM, browser, server, shot

__all__ = ["browser", "server"]  # the fixtures, shared with the main browser test

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not __import__("os").path.exists(CHROMIUM), reason="needs Debian's chromium"),
]


@pytest.fixture()
def op(app, monkeypatch) -> Iterator[MockProvider]:
    provider = MockProvider()
    try:
        configure(app, monkeypatch, **oidc_settings(provider.url))
        yield provider
    finally:
        provider.stop()


def test_sign_in_and_out_through_the_organisation(app, server: str, browser: Any, op: MockProvider) -> None:
    op.set_user("ann", email="ann@example.com", name="Ann Nguyen", groups=["loyalty-marketing"])
    op.set_user("chi", email="chi@example.com", groups=["canteen"])
    page = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
    page.goto(f"{server}/campaigns")
    page.wait_for_url(re.compile(r".*/auth/login.*"))
    shot(page, "sso-login")
    page.get_by_role("link", name="Sign in with Tập đoàn Example").click()
    page.get_by_placeholder("sub").fill("ann")
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{server}/campaigns")
    # a person provisioned from the directory has no language of their own yet: the programme's (Vietnamese)
    assert page.get_by_role("heading", name="Chiến dịch").is_visible()

    page.get_by_role("button", name="Đăng xuất").click()
    page.wait_for_url(re.compile(rf"{re.escape(op.url)}/oauth2/end_session.*"))
    page.get_by_role("button", name="End session").click()
    page.wait_for_url(f"{server}/auth/login")
    page.goto(f"{server}/")
    page.wait_for_url(re.compile(r".*/auth/login.*"))

    page.get_by_role("link", name="Sign in with Tập đoàn Example").click()
    page.get_by_placeholder("sub").fill("chi")
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(re.compile(r".*/auth/oidc/callback.*"))
    assert page.get_by_role(
        "heading", name=re.compile("No access to the loyalty console|Không có quyền vào bảng điều khiển")
    ).is_visible()  # nobody was provisioned: the browser's language or the programme's
    shot(page, "sso-refused")
