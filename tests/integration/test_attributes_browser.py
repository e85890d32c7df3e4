"""The campaign editor shows open-set warnings (values not seen in the last 90 days) beside a valid document."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.helpers.factories import make_provider, make_user
from tests.integration.test_browser import CHROMIUM, browser, server, sign_in  # noqa: F401 (fixtures)

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (bin/test installs it)"),
]

TYPO = """name: Top-up bonus
rules:
  - name: top-ups
    conditions:
      all:
        - {name: category, operator: equal_to, value: top-up}
    actions:
      - {name: award_points, params: {points: 5}}
"""


def test_the_editor_lists_open_set_warnings_at_their_line_for_a_valid_document(app, server, browser: Any) -> None:  # noqa: F811
    make_provider(app, "telecom")
    make_user(app, "marketer@example.com", "marketer")
    page = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, server, "marketer@example.com")
    page.goto(f"{server}/campaigns/new")
    page.locator("#source").fill(TYPO)
    page.locator("#check-text").filter(has_text="1 warning").wait_for()
    assert page.locator("#check-text").inner_text().startswith("Valid")
    warning = page.locator("#errors li.warning")
    assert warning.count() == 1
    text = warning.inner_text()
    assert "Warning, line 6" in text and "'top-up' is not a category seen in the last 90 days" in text
    assert page.locator("#highlight .line-err").count() == 0  # a warning does not mark the line as an error
    assert errors == []
