"""Every staff page at 1366x768 and every portal page at 390x844 in a real browser, in Vietnamese and in English:
nothing overflows sideways, every input has a label and the console's style, and the page logs no error.
Vietnamese labels run longer than English ones, so each walk is made in both.

The pages are found from the app's own routes (every GET page of the admin, care and auth blueprints), so a new page
is walked without touching this test; ids in the URLs come from a small programme with a customer, a claim and a
campaign.
"""

from __future__ import annotations

import os
import re
from typing import Any

import pytest

from tests.care.claim_helpers import H, setup
from tests.channels.helpers import PHONE, customer_id, earn, sent_to, set_customer
from tests.helpers.factories import PASSWORD, make_user
from tests.integration.test_browser import ARGS, CHROMIUM, shot

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (bin/test installs it)"),
]

from tests.integration.test_browser import server  # noqa: E402,F401  (the fixture)

DESKTOP = {"width": 1366, "height": 768}
PHONE_VIEWPORT = {"width": 390, "height": 844}
QUERIES = {"/finance/entries": "?party=telecom&kind=issued"}  # pages reached only through a drill-down link
NOT_PAGES = re.compile(r"\.csv$|\.json$|/auth/oidc/|/export|/logout|/ledger\.csv|/metrics|/health")

# What a page must not do, measured in the browser: (problem, JavaScript returning the offenders).
CHECKS = (
    (
        "the page scrolls sideways",
        "document.documentElement.scrollWidth > document.documentElement.clientWidth + 1"
        " ? [document.documentElement.scrollWidth + 'px wide'] : []",
    ),
    (
        "a table is cut (it needs its own scrollbar)",
        "[...document.querySelectorAll('.table-wrap')].filter(w => w.offsetParent && w.scrollWidth > w.clientWidth + 1)"
        ".map(w => (w.closest('section,div[id],main')?.id || '') + ' ' + (w.querySelector('th')?.innerText || ''))",
    ),
    (
        "an input has no label",
        "[...document.querySelectorAll('input,select,textarea')].filter(e => e.offsetParent && e.type !== 'hidden'"
        " && !['submit','button'].includes(e.type) && !e.labels?.length && !e.getAttribute('aria-label')"
        " && !e.getAttribute('aria-labelledby')).map(e => e.outerHTML.slice(0, 120))",
    ),
    (
        "an input keeps the browser's default look",
        "[...document.querySelectorAll('input,select,textarea')].filter(e => e.offsetParent"
        " && !['hidden','checkbox','radio'].includes(e.type) && !getComputedStyle(e).fontFamily.includes('mono')"
        " && getComputedStyle(e).fontFamily !== getComputedStyle(document.body).fontFamily)"
        ".map(e => e.outerHTML.slice(0, 120))",
    ),
)


def _staff_pages(app: Any, ids: dict[str, int]) -> list[str]:
    pages = set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(("admin.", "care.", "auth.")) or "GET" not in rule.methods:
            continue
        if any(arg not in ids for arg in rule.arguments):
            continue
        url = rule.build({k: ids[k] for k in rule.arguments}, append_unknown=False)[1]
        if not NOT_PAGES.search(url):
            pages.add(url + QUERIES.get(url, ""))
    return sorted(pages)


def _problems(page: Any, url: str, errors: list[str]) -> list[str]:
    found = [f"{url}: console: {e}" for e in errors]
    for problem, script in CHECKS:
        found += [f"{url}: {problem}: {o}" for o in page.evaluate(script)]
    errors.clear()
    return found


def _watch(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


LANGUAGES = ("vi", "en")
PORTAL_PAGES = ("/portal/", "/portal/claims", "/portal/consents", "/portal/send")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_staff_page_fits_a_laptop_screen(app, server, telecom, staff, work, language):  # noqa: F811
    client = app.test_client()
    cid = setup(client, staff, telecom, work, app)
    filed = client.post(
        "/channels/sms", json={"from": PHONE, "text": "KHIEUNAI HD-2002 nap tien 100k chua co diem"}, headers=H
    )
    assert filed.status_code == 200
    campaign_id = client.get("/api/v1/campaigns", headers=staff).get_json()["campaigns"][0]["id"]
    ids = {"customer_id": cid, "campaign_id": campaign_id, "claim_id": 1, "version": 1}
    make_user(app, "admin@example.com", "admin", language=language)
    pages = _staff_pages(app, ids)
    assert len(pages) >= 20, pages
    problems: list[str] = []
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_context(viewport=DESKTOP).new_page()
            errors = _watch(page)
            page.goto(f"{server}/auth/login")
            problems += _problems(page, "/auth/login", errors)
            page.locator("input[name=email]").fill("admin@example.com")
            page.locator("input[name=password]").fill(PASSWORD)
            page.locator("form button[type=submit]").first.click()
            page.wait_for_url(f"{server}/")
            assert page.locator("html").get_attribute("lang") == language
            for url in pages:
                if url == "/auth/login":
                    continue
                page.goto(f"{server}{url}")
                page.wait_for_load_state()
                problems += _problems(page, url, errors)
                if url in (f"/customers/{cid}", "/care/claims/1"):
                    shot(page, f"laptop{'' if language == 'vi' else '-en'}" + url.replace("/", "-"))
        finally:
            browser.close()
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_portal_page_fits_a_phone(app, server, telecom, staff, work, language):  # noqa: F811
    client = app.test_client()
    setup(client, staff, telecom, work, app)
    earn(client, telecom, work, "t2", 12_000_000)  # 1,260 points: rewards to redeem, a tier, vouchers to come
    set_customer(app, customer_id(app), language=language)
    problems: list[str] = []
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            ctx = browser.new_context(viewport=PHONE_VIEWPORT, device_scale_factor=2, is_mobile=True, has_touch=True)
            page = ctx.new_page()
            errors = _watch(page)
            page.goto(f"{server}/portal/login")
            problems += _problems(page, "/portal/login", errors)
            page.locator("input[name=phone]").fill("0912 345 678")
            page.locator("form button[type=submit]").first.click()
            page.wait_for_url(re.compile(r".*/portal/verify$"))
            problems += _problems(page, "/portal/verify", errors)
            work()  # the worker sends the code through the logging adapter
            code = re.search(r"\b(\d{6})\b", sent_to(PHONE)[-1]).group(1)
            page.locator("input[name=code]").fill(code)
            page.locator("form button[type=submit]").first.click()
            page.wait_for_url(re.compile(r".*/portal/$"))
            assert page.locator("html").get_attribute("lang") == language
            for url in PORTAL_PAGES:
                page.goto(f"{server}{url}")
                problems += _problems(page, url, errors)
            page.goto(f"{server}/portal/claims")
            page.locator("form button[type=submit]").first.click()  # empty: the errors next to the fields
            page.wait_for_load_state()
            assert page.locator(".field-error").count() >= 1
            errors[:] = [e for e in errors if "status of 422" not in e]  # the form's answer, not a page error
            problems += _problems(page, "/portal/claims (errors)", errors)
            page.goto(f"{server}/portal/")
            redeem = page.locator("a[href*='/redeem']").first
            assert redeem.count(), "no reward to redeem on the home page"
            redeem.click()
            page.wait_for_load_state()
            problems += _problems(page, "confirm", errors)
        finally:
            browser.close()
    assert problems == [], "\n".join(problems)
