"""The campaign editor's form builder writes every construct of a campaign document, through the form only.

A marketer builds a campaign with a percent action, then bands, then a rate per category, a campaign expiry,
funding, a monthly campaign limit, a yearly limit on the rule, an experiment and a challenge (whose step uses months_of_service); each
document written is checked as text and by the live validator; the last is saved, validated again by the API
and published, and a transaction through the worker earns the keyed rate.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from campaigns.models import Campaign, CampaignVersion, Customer, LedgerEntry
from rules.experiments import group_of
from tests.helpers.api import txn
from tests.helpers.factories import make_provider, make_user
from tests.integration.test_browser import CHROMIUM, browser, server, shot, sign_in  # noqa: F401 (fixtures)
from webapp.extensions import db

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (bin/test installs it)"),
]


def _form_builder(chromium: Any, base: str) -> tuple[Any, list[str]]:
    """A marketer's new campaign page on its form builder tab, and the list its script errors land in."""
    page = chromium.new_context(viewport={"width": 1360, "height": 900}).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, base, "marketer@example.com")
    page.goto(f"{base}/campaigns/new")
    page.get_by_role("tab", name="Form builder").click()
    return page, errors


def write(page: Any) -> str:
    """Writes the document from the form and waits for the live validator to accept it."""
    page.get_by_role("tab", name="Form builder").click()
    page.get_by_role("button", name="Write the document").click()
    page.locator("#check-text").filter(has_text=re.compile("Valid|problem")).wait_for()
    status = page.locator("#check-text").inner_text()
    assert status.startswith("Valid"), (status, page.locator("#errors").inner_text())
    return str(page.locator("#source").input_value())


def test_the_form_builder_writes_every_construct(app, server, browser, client, staff, work) -> None:  # noqa: F811
    telecom = make_provider(app, "telecom", "Mobile operator")
    make_user(app, "marketer@example.com", "marketer")
    resp = client.put("/api/v1/settings/customer_attributes", json={"value": {"vip": "boolean"}}, headers=staff)
    assert resp.status_code == 200, resp.get_json()
    page, errors = _form_builder(browser, server)

    # the condition picker offers the new variables, the declared customer attribute among them
    variables = page.get_by_label("Condition 1: variable").locator("option").all_inner_texts()
    values = page.get_by_label("Condition 1: variable").evaluate("s => Array.from(s.options, o => o.value)")
    assert {"customer.vip", "months_of_service", "months_with_provider"} <= set(values), variables
    page.get_by_role("button", name="Remove condition 3").click()  # no tier
    page.get_by_label("Campaign name").fill("Every construct")
    page.get_by_label("Rule name").fill("top-ups")
    page.get_by_label("Rule limit per customer: count").fill("2")
    page.get_by_label("Rule limit per customer: period").select_option("year")

    # a percent of the amount, rounded to the nearest point, at most 5,000
    page.get_by_label("Action").select_option("award_points_percent")
    page.get_by_label("Percent (0.025 = 2.5 %)").fill("0.025")
    page.get_by_label("Rounding").select_option("nearest")
    page.get_by_label("Max points (optional)").fill("5000")
    doc = write(page)
    assert "      - {name: award_points_percent, params: {percent: 0.025, rounding: nearest, max: 5000}}\n" in doc
    assert "    limits: {per_customer: {count: 2, period: year}}\n" in doc

    # bands by amount
    page.get_by_role("tab", name="Form builder").click()
    page.get_by_label("Action").select_option("award_points_per_amount")
    page.get_by_label("Rate", exact=True).select_option("bands")
    for row in (("0", "1", "10000"), ("500000", "2", "10000")):
        page.get_by_role("button", name="Add: Band").click()
        n = page.locator("[aria-label$=': from amount']").count()
        for col, value in zip(("from amount", "points", "per amount"), row, strict=True):
            page.get_by_label(f"Band {n}: {col}").fill(value)
    page.get_by_label("Rounding").select_option("down")
    page.get_by_label("Max points (optional)").fill("")
    doc = write(page)
    bands = "bands: [{from: 0, points: 1, per: 10000}, {from: 500000, points: 2, per: 10000}]"
    assert f"      - {{name: award_points_per_amount, params: {{{bands}}}}}\n" in doc

    # a rate per category (others earn 1 per 10,000), and the campaign-wide constructs
    page.get_by_role("tab", name="Form builder").click()
    page.get_by_label("Rate", exact=True).select_option("by")
    page.get_by_label("Rate by").select_option("category")
    page.get_by_role("button", name="Add: Rate").click()
    page.get_by_label("Rate 1: value").fill("topup")
    page.get_by_label("Rate 1: points").fill("3")
    page.get_by_label("Rate 1: per amount").fill("10000")
    page.get_by_label("Points", exact=True).fill("1")
    page.get_by_label("Per amount", exact=True).fill("10000")
    page.get_by_label("Points expiry").select_option("end_of_month_after")
    page.get_by_label("Months", exact=True).fill("3")
    page.get_by_label("Control group % (experiment)").fill("10")
    for i, (funder, share) in enumerate((("issuer", "60"), ("telecom", "40")), start=1):
        page.get_by_role("button", name="Add: Funder").click()
        page.get_by_label(f"Funder {i}: issuer, programme or a provider").fill(funder)
        page.get_by_label(f"Funder {i}: percent").fill(share)
    page.get_by_label("Campaign limit per customer: count").fill("5")
    page.get_by_label("Campaign limit per customer: period").select_option("month")
    page.get_by_label("Challenge period").select_option("month")
    page.get_by_role("button", name="Add step").click()
    page.get_by_label("Step 1: name").fill("3 top-ups")
    page.get_by_label("Step 1: count").fill("3")
    page.get_by_role("button", name="Add condition: Step 1").click()
    page.get_by_label("Step 1 condition 1: variable").select_option("months_of_service")
    page.get_by_label("Step 1 condition 1: operator").select_option("greater_than_or_equal_to")
    page.get_by_label("Step 1 condition 1: value").fill("0")
    page.get_by_role("button", name="Add step").click()
    page.get_by_label("Step 2: name").fill("any event")
    page.get_by_label("Challenge reward points").fill("500")
    shot(page, "form-builder-constructs")
    doc = write(page)
    expected = """name: "Every construct"
type: earning
priority: 100
points_expiry: {policy: end_of_month_after, months: 3}
funding: {issuer: 60, telecom: 40}
limits: {per_customer: {count: 5, period: month}}
experiment: {control_share: 10}
challenge:
  period: month
  steps:
    - name: "3 top-ups"
      count: 3
      conditions:
        all:
          - {name: months_of_service, operator: greater_than_or_equal_to, value: 0}
    - name: "any event"
      count: 1
      conditions: {all: []}
  reward: {award_points: 500}
rules:
  - name: "top-ups"
    limits: {per_customer: {count: 2, period: year}}
    conditions:
      all:
        - {name: category, operator: equal_to, value: topup}
        - {name: amount, operator: greater_than_or_equal_to, value: 100000}
    actions:
      - {name: award_points_per_amount, params: {by: category, rates: {topup: {points: 3, per: 10000}}, points: 1, per: 10000}}
"""
    assert doc == expected

    # saved, the version validates through the API; published, one top-up earns the keyed rate
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url(re.compile(r".*/campaigns/\d+$"))
    campaign_id = int(page.url.rsplit("/", 1)[1])
    with app.app_context():
        saved = db.session.scalars(select(CampaignVersion).where(CampaignVersion.campaign_id == campaign_id)).one()
        assert saved.source.replace("\r\n", "\n") == expected and saved.source_format == "yaml"  # a form posts CRLF
    yaml = {**staff, "Content-Type": "application/yaml"}
    resp = client.post("/api/v1/campaigns/validate", data=saved.source, headers=yaml)
    assert resp.status_code == 200 and resp.get_json()["valid"], resp.get_json()
    assert resp.get_json()["name"] == "Every construct"
    page.get_by_role("link", name="Publish…").click()
    page.get_by_role("button", name="Publish version 1").click()
    page.locator(".flash-success").filter(has_text="published").wait_for()
    posted = client.post("/api/v1/transactions", json=txn("fb-1", 150_000), headers=telecom.headers)
    assert posted.status_code == 202, posted.get_json()
    work()
    with app.app_context():
        customer_id = db.session.scalars(select(Customer.id)).one()
        points = sum(db.session.scalars(select(LedgerEntry.points).where(LedgerEntry.customer_id == customer_id)))
        campaign = db.session.get(Campaign, campaign_id)
        assert campaign is not None and campaign.name == "Every construct"
    treated = group_of(campaign_id, customer_id, 10) == "treated"
    assert points == (45 if treated else 0)  # 150,000 / 10,000 x 3
    assert errors == []


EXAMPLES = [
    path
    for path in sorted((Path(__file__).resolve().parents[2] / "docs" / "examples").rglob("*"))
    if path.suffix in (".yaml", ".json") and path.name not in ("programme.yaml", "rewards.yaml")
]


def _data(value: Any) -> Any:
    """A loaded document as JSON data: YAML's dates and times as the ISO text the form writes back."""
    return json.loads(json.dumps(value, default=lambda moment: moment.isoformat()))


PROGRAMME = {
    "name": "Programme constructs",
    "type": "earning",
    "priority": 100,
    "stacking": "exclusive",
    "pending_days": 14,
    "budget": {"max_points": 1000000, "max_points_per_customer_per_day": 5000, "max_rewards": 100},
    "challenge": {
        "period": "week",
        "steps": [{"name": "two top-ups", "count": 2, "conditions": {"all": []}}],
        "reward": {"grant_reward": "DATA"},
    },
    "rules": [
        {
            "name": "segment rates",
            "conditions": {
                "all": [
                    {"name": "category", "operator": "equal_to", "value": "topup"},
                    {"name": "amount", "operator": "greater_than_or_equal_to", "value": 100000},
                ]
            },
            "actions": [
                {
                    "name": "award_points_per_amount",
                    "params": {
                        "by": "customer.segment",
                        "rates": {"premier": {"points": 5, "per": 10000}},
                        "points": 1,
                        "per": 10000,
                        "feeds": "spendable",
                        "to": "both",
                    },
                }
            ],
        }
    ],
}

# Every construct, and what the form cannot show: a second action, a second rule with nested groups; a step
# without its default count and a value-less operator with `value: null` are shown and kept as written.
EVERYTHING = {
    "name": "Everything, read back",
    "type": "earning",
    "providers": ["telecom"],
    "starts_at": "2027-01-20T00:00:00+07:00",
    "ends_at": "2027-02-20T08:30:00+07:00",
    "priority": 50,
    "stacking": "exclusive",
    "pending_days": 7,
    "budget": {"max_points": 50000000, "max_points_per_customer": 90000},
    "limits": {"per_customer": {"count": 3, "period": "week"}},
    "points_expiry": {"policy": "end_of_month_after", "months": 2},
    "funding": {"issuer": 70, "programme": 30},
    "experiment": {"control_share": 5},
    "challenge": {
        "period": "campaign",
        "steps": [
            {
                "name": "a parcel",
                "conditions": {"all": [{"name": "category", "operator": "equal_to", "value": "parcel"}]},
            },
            {"name": "any two", "count": 2, "conditions": {"all": []}},
        ],
        "reward": {"award_points": 300},
    },
    "rules": [
        {
            "name": "VIP weekend",
            "limits": {"per_customer": {"count": 1, "period": "year"}},
            "conditions": {
                "all": [
                    {"name": "customer.vip", "operator": "is_true", "value": None},
                    {"name": "category", "operator": "is_in", "value": ["topup", "data"]},
                ]
            },
            "actions": [
                {
                    "name": "award_points_percent",
                    "params": {"percent": 0.02, "rounding": "up", "max": 2000, "feeds": "qualifying", "to": "referrer"},
                },
                {"name": "add_tag", "params": {"tag": "weekend"}},
            ],
        },
        {
            "name": "nested groups",
            "conditions": {
                "any": [
                    {"all": [{"name": "amount", "operator": "greater_than", "value": 500000}]},
                    {"name": "channel", "operator": "equal_to", "value": "app"},
                ]
            },
            "actions": [
                {"name": "award_points_per_amount", "params": {"bands": [{"from": 0, "points": 1, "per": 10000}]}}
            ],
        },
    ],
}


def test_the_form_builder_writes_programme_constructs_and_reads_documents_back(
    app,
    server,  # noqa: F811
    browser,  # noqa: F811
    client,
    staff,
    work,
) -> None:
    telecom = make_provider(app, "telecom", "Mobile operator")
    for code in ("post", "ewallet", "shop"):  # the providers of docs/examples
        make_provider(app, code)
    make_user(app, "marketer@example.com", "marketer")
    declared = {"vip": "boolean", "segment": "string"}
    resp = client.put("/api/v1/settings/customer_attributes", json={"value": declared}, headers=staff)
    assert resp.status_code == 200, resp.get_json()
    reward = {"code": "DATA", "name": "Data pack", "cost": 20}
    assert client.post("/api/v1/rewards", json=reward, headers=staff).status_code == 201
    page, errors = _form_builder(browser, server)

    # stacking, pending days, budget, a rate card by a customer attribute fed to both sides, a reward challenge
    page.get_by_role("button", name="Remove condition 3").click()
    page.get_by_label("Campaign name").fill("Programme constructs")
    page.get_by_label("Rule name").fill("segment rates")
    page.get_by_label("Stacking").select_option("exclusive")
    page.get_by_label("Pending days (return window)").fill("14")
    page.get_by_label("Budget: max points", exact=True).fill("1000000")
    page.get_by_label("Budget: max points per customer per day").fill("5000")
    page.get_by_label("Budget: max rewards").fill("100")
    page.get_by_label("Action").select_option("award_points_per_amount")
    page.get_by_label("Rate", exact=True).select_option("by")
    page.get_by_label("Rate by").select_option("customer.segment")
    page.get_by_role("button", name="Add: Rate").click()
    for col, value in (("value", "premier"), ("points", "5"), ("per amount", "10000")):
        page.get_by_label(f"Rate 1: {col}").fill(value)
    page.get_by_label("Points", exact=True).fill("1")
    page.get_by_label("Per amount", exact=True).fill("10000")
    page.get_by_label("Points feed").select_option("spendable")
    page.get_by_label("Points go to").select_option("both")
    page.get_by_label("Challenge period").select_option("week")
    page.get_by_role("button", name="Add step").click()
    page.get_by_label("Step 1: name").fill("two top-ups")
    page.get_by_label("Step 1: count").fill("2")
    page.get_by_label("Challenge reward", exact=True).select_option("grant_reward")
    page.get_by_label("Challenge reward code").fill("DATA")
    doc = write(page)
    assert yaml.safe_load(doc) == PROGRAMME, doc
    assert "stacking: exclusive\npending_days: 14\n" in doc
    assert "budget: {max_points: 1000000, max_points_per_customer_per_day: 5000, max_rewards: 100}\n" in doc
    assert "  reward: {grant_reward: DATA}\n" in doc

    # without the rule, the challenge alone rewards
    page.get_by_role("tab", name="Form builder").click()
    page.get_by_label("Write a rule (off: the challenge alone rewards)").uncheck()
    assert "rules" not in yaml.safe_load(write(page))
    page.get_by_role("tab", name="Form builder").click()
    page.get_by_label("Write a rule (off: the challenge alone rewards)").check()
    assert yaml.safe_load(write(page)) == PROGRAMME

    # saved and published, a top-up of a customer with no segment earns the default rate
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url(re.compile(r".*/campaigns/\d+$"))
    campaign_id = int(page.url.rsplit("/", 1)[1])
    page.get_by_role("link", name="Publish…").click()
    page.get_by_role("button", name="Publish version 1").click()
    page.locator(".flash-success").filter(has_text="published").wait_for()
    with app.app_context():
        saved = db.session.scalars(select(CampaignVersion).where(CampaignVersion.campaign_id == campaign_id)).one()
        assert yaml.safe_load(saved.source) == PROGRAMME
    posted = client.post("/api/v1/transactions", json=txn("fb-2", 150_000), headers=telecom.headers)
    assert posted.status_code == 202, posted.get_json()
    work()
    credited = client.get(f"/api/v1/transactions/{posted.get_json()['id']}", headers=telecom.headers).get_json()
    assert (credited["status"], credited["points"]) == ("processed", 15), credited

    # the saved YAML read back into the form and written again is the same document; nothing is kept aside
    page.goto(f"{server}/campaigns/{campaign_id}/edit")
    page.get_by_role("tab", name="Form builder").click()
    page.get_by_role("button", name="Read the document into the form").click()
    page.locator("#b-read-note").filter(has_text="Read into the form").wait_for()
    assert page.locator("#b-kept").count() == 0
    assert page.get_by_label("Rate by").input_value() == "customer.segment"
    assert yaml.safe_load(write(page)) == PROGRAMME

    # a JSON document with every construct: read, written back unchanged, then edited in the form
    page.locator("#source").fill(json.dumps(EVERYTHING, indent=2))
    page.get_by_label("Format").select_option("json")
    page.get_by_role("tab", name="Form builder").click()
    page.get_by_role("button", name="Read the document into the form").click()
    page.locator("#b-kept").wait_for()
    assert page.locator("#b-kept li").all_inner_texts() == ["rules[0].actions[1]", "rules[1]"]
    assert page.get_by_label("Step 1 condition 1: value").input_value() == "parcel"
    assert page.get_by_label("Condition 2: value").input_value() == "topup, data"
    assert page.get_by_label("Points go to").input_value() == "referrer"
    shot(page, "form-builder-read-back")
    doc = write(page)
    assert page.get_by_label("Format").input_value() == "json"
    assert json.loads(doc) == EVERYTHING
    page.get_by_role("tab", name="Form builder").click()
    page.get_by_label("Priority").fill("60")
    page.get_by_label("Points feed").select_option("spendable")
    page.get_by_label("Challenge reward points").fill("400")
    edited = json.loads(json.dumps(EVERYTHING))
    edited["priority"] = 60
    edited["rules"][0]["actions"][0]["params"]["feeds"] = "spendable"
    edited["challenge"]["reward"] = {"award_points": 400}
    assert json.loads(write(page)) == edited
    resp = client.post("/api/v1/campaigns/validate", json=edited, headers=staff)
    assert resp.status_code == 200 and resp.get_json()["valid"], resp.get_json()

    # every example document of docs/examples, read into the form and written back, is the same document
    for path in EXAMPLES:
        page.locator("#source").evaluate("(s, text) => (s.value = text)", path.read_text(encoding="utf-8"))
        page.get_by_label("Format").select_option("json" if path.suffix == ".json" else "yaml")
        page.get_by_role("tab", name="Form builder").click()
        page.locator("#b-read-note").evaluate("n => n.replaceChildren()")
        page.get_by_role("button", name="Read the document into the form").click()
        page.locator("#b-read-note").filter(has_text="Read into the form").wait_for()
        assert _data(yaml.safe_load(write(page))) == _data(yaml.safe_load(path.read_text(encoding="utf-8"))), path
    assert errors == []
