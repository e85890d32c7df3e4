"""End to end in a real browser (Playwright driving Debian's chromium) against the app served on a free port.

A marketer writes a campaign with a mistake and sees the error at its line, fixes it, simulates and publishes
it; a provider posts a transaction through the API; the worker credits it; care staff find the customer and see
the points; a provider user fails to see another provider's data. Screenshots of the main pages are taken on
every run; with LOYALTY_SCREENSHOTS=1 they replace the ones in docs/screenshots/ (shown in the README).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.helpers.api import txn
from tests.helpers.factories import PASSWORD, make_provider, make_user

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (bin/test installs it)"),
]

WITH_MISTAKE = """name: Tet top-up bonus
type: earning
providers: [telecom]
priority: 100
rules:
  - name: top-ups of 100k or more
    conditions:
      all:
        - {name: category, operator: equal_to, value: topup}
        - {name: amount, operator: greater, value: 100000}
    actions:
      - {name: award_points_per_amount, params: {points: 1, per: 10000}}
"""
FIXED = WITH_MISTAKE.replace("operator: greater,", "operator: greater_than_or_equal_to,")


@pytest.fixture()
def server(app, clean) -> Iterator[str]:
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}"
    finally:
        srv.shutdown()
        thread.join(timeout=10)


@pytest.fixture()
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def shot(page: Any, name: str) -> None:
    """A full-page screenshot; with LOYALTY_SCREENSHOTS=1 the Vietnamese ones (and those named ``*-en``) replace
    docs/screenshots, so a test walking the console in English never overwrites the Vietnamese pictures."""
    wanted = os.environ.get("LOYALTY_SCREENSHOTS") == "1"
    documented = page.locator("html").get_attribute("lang") == "vi" or name.endswith("-en")
    folder = SHOTS if wanted and documented else Path(tempfile.gettempdir()) / "loyalty-shots"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def sign_in(page: Any, base: str, email: str, name: str | None = None) -> None:
    page.goto(f"{base}/auth/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    if name:
        shot(page, name)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def nav(page: Any, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()
    page.wait_for_load_state()


def sign_out(page: Any) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r".*/auth/login$"))


def post_json(url: str, body: dict[str, Any], key: str) -> dict[str, Any]:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 202
        return json.loads(resp.read())


def test_marketer_to_points_in_a_real_browser(app, server, browser, work):
    telecom = make_provider(app, "telecom", "Mobile operator")
    make_provider(app, "shop", "Convenience shop")
    make_user(app, "marketer@example.com", "marketer")
    make_user(app, "care@example.com", "care")
    make_user(app, "admin@example.com", "admin")
    make_user(app, "shop@example.com", "provider", "shop")
    ctx = browser.new_context(viewport={"width": 1360, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and "Failed to load resource" not in msg.text  # the 403/404 checks below
            else None
        ),
    )
    page.on(
        "response", lambda r: errors.append(f"{r.status} {r.url}") if "/static/" in r.url and r.status >= 400 else None
    )

    # a marketer writes a campaign with a mistake and sees the error at its line
    sign_in(page, server, "marketer@example.com", name="login")
    nav(page, "Campaigns")
    page.get_by_role("link", name="New campaign").click()

    # the form builder writes a document the server accepts ("double points on top-ups over 100k for Gold")
    page.get_by_role("tab", name="Form builder").click()
    page.get_by_label("Campaign name").fill("Tet double points for Gold")
    page.get_by_label("Starts").fill("2027-01-20T00:00")
    page.get_by_label("Ends").fill("2027-02-20T00:00")
    shot(page, "form-builder")
    page.get_by_role("button", name="Write the document").click()
    page.locator("#check-text").filter(has_text="Valid").wait_for()
    written = page.locator("#source").input_value()
    assert "multiply_points" in written and "customer_tier" in written and "2027-01-20T00:00:00+07:00" in written

    page.locator("#source").fill(WITH_MISTAKE)
    problem = page.locator("#errors li:not(.warning)").first  # not the builder document's open-set warning
    problem.wait_for()
    assert "Line 10" in problem.inner_text() and "rules[0].conditions.all[1].operator" in problem.inner_text()
    page.locator("#gutter .err").filter(has_text="10").wait_for()
    assert page.locator("#highlight .line-err").count() == 1
    page.get_by_role("button", name="Line 10").click()  # jumps to the line in the editor
    assert page.evaluate("document.activeElement.id") == "source"
    shot(page, "editor-error")

    # ... fixes it, and simulates it on a sample transaction
    page.locator("#source").fill(FIXED)
    page.locator("#check-text").filter(has_text="Valid").wait_for()
    assert page.locator("#errors li:not(.warning)").count() == 0
    page.get_by_label("Provider", exact=True).select_option("telecom")
    page.get_by_label("Amount", exact=True).fill("150000")
    page.get_by_role("button", name="Run on this transaction").click()
    page.locator("#sim-result").filter(has_text="fires").wait_for()
    result = page.locator("#sim-result").inner_text()
    assert "15 points" in result and "true" in result
    shot(page, "editor-simulate")

    # ... saves and publishes it
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url(re.compile(r".*/campaigns/\d+$"))
    page.get_by_role("link", name="Publish…").click()
    page.get_by_text("Simulated cost over the last 7 days").wait_for()
    shot(page, "publish-confirm")
    page.get_by_role("button", name="Publish version 1").click()
    page.locator(".flash-success").filter(has_text="published").wait_for()
    shot(page, "campaign")
    nav(page, "Campaigns")
    assert page.locator("td .badge.b-live").count() == 1
    shot(page, "campaigns")
    sign_out(page)

    # a provider posts a transaction through the API; the worker credits it
    posted = post_json(f"{server}/api/v1/transactions", txn("e2e-1", 150_000, phone="0912 345 678"), telecom.key)
    assert posted["status"] == "queued"
    work()

    # care staff find the customer and see the points
    sign_in(page, server, "care@example.com")
    nav(page, "Customers")
    page.get_by_label("Value").fill("+84912345678")
    page.get_by_role("button", name="Find").click()
    page.wait_for_url(re.compile(r".*/customers/\d+$"))
    customer_url = page.url
    assert page.locator("#balance").inner_text() == "15"
    assert "Tet top-up bonus" in page.locator("main").inner_text()
    page.get_by_role("spinbutton", name="Points").fill("100")
    page.get_by_label("Reason", exact=True).fill("welcome gesture after a complaint")
    page.get_by_role("button", name="Adjust").click()
    page.locator(".flash-success").wait_for()
    assert page.locator("#balance").inner_text() == "115"
    shot(page, "customer")
    sign_out(page)

    # admin: dashboard, users; creates a provider and sees its key once
    sign_in(page, server, "admin@example.com")
    shot(page, "dashboard")
    nav(page, "Staff users")
    shot(page, "users")
    nav(page, "Providers")
    page.get_by_label("Code").fill("bank")
    page.get_by_label("Name", exact=True).fill("The Bank")
    page.get_by_role("button", name="Create provider and key").click()
    key = page.locator("#new-key").inner_text()
    assert key.startswith("lp_") and len(key) > 40
    nav(page, "Providers")
    assert page.locator("#new-key").count() == 0 and key not in page.content() and key[:10] in page.content()
    page.get_by_role("button", name="Rotate the key of bank").click()
    assert page.locator("#new-key").inner_text() != key
    shot(page, "providers")
    nav(page, "Audit log")
    shot(page, "audit")
    sign_out(page)

    # a provider user fails to see another provider's data
    sign_in(page, server, "shop@example.com")
    resp = page.goto(customer_url)
    assert resp is not None and resp.status == 404
    page.goto(f"{server}/customers?kind=phone&q=0912345678")
    assert "No customer found" in page.locator("main").inner_text()
    page.goto(f"{server}/campaigns")
    assert "Tet top-up bonus" not in page.locator("main").inner_text()
    resp = page.goto(f"{server}/audit")
    assert resp is not None and resp.status == 403

    # small screens: the same pages stay usable
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    mobile = phone.new_page()
    sign_in(mobile, server, "marketer@example.com")
    mobile.goto(f"{server}/campaigns")
    shot(mobile, "campaigns-mobile")
    phone.close()
    ctx.close()
    assert errors == []


def _sign_in_by_field(page: Any, base: str, email: str) -> None:
    """Sign in whatever the page's language (the fields by name, not by their label)."""
    page.goto(f"{base}/auth/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(f"{base}/")


def test_screenshots_of_the_demo(app, server, browser, work):
    """The README's pictures: the main pages on the demo data set, in Vietnamese as the programme's staff read them
    (a browser asking for Vietnamese, a staff user who chose it); every page answers without a browser error."""
    from sqlalchemy import select

    from campaigns.catalog import documents as catalog
    from campaigns.models import CustomerBalance, Reward
    from webapp.extensions import db

    assert app.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    work()
    make_user(app, "screens@example.com", "admin", language="vi")
    with app.app_context():
        # the demo's live top-up campaign gets a second version: a higher priority and its name in both languages
        source = (Path(__file__).resolve().parents[2] / "docs/examples/coalition/telecom-topup.yaml").read_text()
        changed = source.replace("priority: 100", "priority: 120", 1).replace(
            "name: Coalition top-up bonus",
            "name: {vi: Thưởng nạp tiền liên minh, en: Coalition top-up bonus}",
            1,
        )
        assert changed.count("120") and "Thưởng nạp tiền" in changed
        version = catalog.import_document(db.session, changed, fmt="yaml", author="marketer@demo.test")
        assert version.version >= 2  # the same campaign, found by its English name
        db.session.commit()
        campaign_id, new_version = version.campaign_id, version.version
        richest = db.session.scalar(
            select(CustomerBalance.customer_id).order_by(CustomerBalance.balance.desc()).limit(1)
        )
        duplicate = db.session.scalar(
            select(CustomerBalance.customer_id).where(CustomerBalance.customer_id != richest).limit(1)
        )
        reward_id = db.session.scalar(select(Reward.id).where(Reward.code == "GOLD-LOUNGE"))
    ctx = browser.new_context(viewport={"width": 1360, "height": 900}, locale="vi-VN")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server}/auth/login")
    assert page.locator("html").get_attribute("lang") == "vi"
    shot(page, "login")
    _sign_in_by_field(page, server, "screens@example.com")
    assert page.locator("html").get_attribute("lang") == "vi"
    for path, name in [
        ("/?days=7", "dashboard"),
        ("/campaigns", "campaigns"),
        (f"/campaigns/{campaign_id}", "campaign"),
        (f"/campaigns/{campaign_id}/diff", "diff"),
        (f"/campaigns/{campaign_id}/versions/{new_version}/publish", "publish-confirm"),
        (f"/customers/{richest}", "customer"),
        ("/audit", "audit"),
        ("/users", "users"),
        ("/providers", "providers"),
        ("/auth/tokens", "tokens"),
        ("/tiers", "tiers"),
        ("/rewards", "rewards"),
        (f"/rewards/{reward_id}", "reward"),
        ("/care", "care-overview"),
        ("/care/sla", "care-sla"),
        ("/care/alerts", "care-alerts"),
    ]:
        resp = page.goto(f"{server}{path}")
        assert resp is not None and resp.status == 200, path
        shot(page, name)

    # the editor: the form builder, a mistake shown at its line, then the fixed document simulated
    page.goto(f"{server}/campaigns/new")
    page.locator("#tab-build").click()
    page.locator("#b-name").fill("Thưởng gấp đôi dịp Tết cho hạng Vàng")
    page.locator("#b-starts").fill("2027-01-20T00:00")
    page.locator("#b-ends").fill("2027-02-20T00:00")
    shot(page, "form-builder")
    page.locator("#tab-doc").click()
    page.locator("#source").fill(WITH_MISTAKE)
    page.locator("#errors li:not(.warning)").first.wait_for()
    page.locator("#gutter .err").filter(has_text="10").wait_for()
    shot(page, "editor-error")
    page.locator("#source").fill(FIXED)
    playwright_api.expect(page.locator("#errors li:not(.warning)")).to_have_count(0)
    page.locator("#s-provider").select_option("telecom")
    page.locator("#s-amount").fill("150000")
    page.locator("#sim-sample").click()
    page.locator("#sim-result").filter(has_text="15").wait_for()
    shot(page, "editor-simulate")

    # schedule the new version's publication; merge a duplicate customer into the richest one
    page.goto(f"{server}/campaigns/{campaign_id}")
    page.locator("details.schedule summary").first.click()
    page.locator("details.schedule input[type=datetime-local]").first.fill("2031-01-20T08:00")
    page.locator("details.schedule button[type=submit]").first.click()
    page.locator(".flash-success").wait_for()
    assert page.locator("td .badge.b-scheduled").filter(has_text="2031").count() == 1  # the version's row
    shot(page, "campaign-scheduled")
    page.goto(f"{server}/customers/{richest}")
    page.locator("#merge_kind").select_option("id")
    page.locator("#merge_q").fill(str(duplicate))
    page.locator("#merge_reason").fill("cùng một người: SIM cũ và SIM mới")
    page.locator("#merge_reason").press("Enter")
    page.locator(".flash-success").wait_for()
    shot(page, "customer-merge")

    # a phone: the campaign list stays usable
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="vi-VN")
    mobile = phone.new_page()
    _sign_in_by_field(mobile, server, "screens@example.com")
    mobile.goto(f"{server}/campaigns")
    shot(mobile, "campaigns-mobile")
    phone.close()
    ctx.close()
    assert errors == []
