"""Tier ladder editor and rewards catalog editor: friendly forms over the same validation as the API."""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser
from pathlib import Path

from sqlalchemy import select

from campaigns.catalog import documents as catalog
from campaigns.models import AuditEvent, Campaign, CampaignVersion, Reward
from tests.helpers.factories import make_provider, make_user
from tests.helpers.web import csrf_token, login
from webapp.extensions import db

TIERS = (Path(__file__).resolve().parents[2] / "docs/examples/tiers.yaml").read_text()


class FormValues(HTMLParser):
    """The values a browser would submit for the form posting to ``action``."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action, self.inside, self.values, self.select = action, False, {}, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("action") == self.action
        if not self.inside:
            return
        if tag == "input" and a.get("name") and "disabled" not in a:
            if a.get("type") == "checkbox":
                if "checked" in a:
                    self.values[a["name"]] = a.get("value", "on")
            else:
                self.values[a["name"]] = a.get("value", "")
        elif tag == "select":
            self.select = a.get("name")
        elif tag == "textarea":
            self.textarea = a.get("name")
            self.values[self.textarea] = ""
        elif tag == "option" and self.select and ("selected" in a or self.select not in self.values):
            self.values[self.select] = a.get("value")
            self._pending = "value" not in a

    def handle_data(self, data):
        if getattr(self, "textarea", None):
            self.values[self.textarea] += data
        if self.select and getattr(self, "_pending", False):
            self.values[self.select] = data
            self._pending = False

    def handle_endtag(self, tag):
        if tag == "select":
            self.select = None
        if tag == "textarea":
            self.textarea = None
        if tag == "form":
            self.inside = False


def form_of(html: str, action: str) -> dict[str, str]:
    p = FormValues(action)
    p.feed(html)
    return {k: (v or "") for k, v in p.values.items()}


def _tier_doc(app):
    with app.app_context():
        c = db.session.scalar(select(Campaign).where(Campaign.type == "tier"))
        v = db.session.scalar(
            select(CampaignVersion).where(
                CampaignVersion.campaign_id == c.id, CampaignVersion.version == c.latest_version
            )
        )
        return c, v


def test_tier_ladder_editor(app, client):
    with app.app_context():
        catalog.import_document(db.session, TIERS, fmt="yaml", author="t", publish=True, require_approval=False)
        db.session.commit()
    make_user(app, "m@example.com", "marketer")
    make_user(app, "a@example.com", "analyst")
    login(client, "m@example.com")
    page = client.get("/tiers").get_data(as_text=True)
    assert "Kim cương" in page and "\u00d71.5" in page and "qualifying_points_365d ≥ 2000" in page
    form = form_of(page, "/tiers")
    assert form["t1-code"] == "silver" and form["t1-c0-val"] == "500" and form["tier_count"] == "5"

    bad = dict(form, **{"t2-rank": "1", "t3-c1-val": "", "t3-c1-op": "greater_than_or_equal_to"})
    bad["t1-c0-op"] = "greater"
    resp = client.post("/tiers", data=bad)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert 'id="t2-rank-err">duplicate rank' in html
    assert 'id="t1-c0-op-err">Condition 1:' in html

    good = dict(form, **{"t1-mult": "1.3", "t1-c0-val": "800", "t0-remove": "1"})
    good.update({"t4-code": "platinum", "t4-name": "Bạch kim", "t4-rank": "4", "t4-mult": "2.5"})
    good.update({"t4-c0-var": "qualifying_points_365d", "t4-c0-op": "greater_than_or_equal_to", "t4-c0-val": "50,000"})
    resp = client.post("/tiers", data=good)
    assert resp.status_code == 302
    campaign, version = _tier_doc(app)
    assert version.version == 2 and version.status == "draft" and campaign.published_version == 1
    doc = version.document
    assert [t["code"] for t in doc["tiers"]] == ["silver", "gold", "diamond", "platinum"]
    assert doc["tiers"][0]["benefits"] == {"earn_multiplier": 1.3}
    assert doc["grace_days"] == 30
    rules = {r["actions"][0]["params"]["tier"]: r for r in doc["rules"]}
    assert rules["silver"]["conditions"]["any"][0]["value"] == 800
    assert rules["platinum"]["conditions"]["any"][0]["value"] == 50000
    assert rules["diamond"]["conditions"]["all"][1]["name"] == "providers_used_365d"
    assert rules["diamond"]["name"] == "diamond across providers"
    # publication: the existing flow
    token = csrf_token(client, "/tiers")
    assert client.post(f"/campaigns/{campaign.id}/versions/2/publish", data={"csrf_token": token}).status_code == 302
    assert "platinum" in client.get("/tiers").get_data(as_text=True)

    analyst = app.test_client()
    login(analyst, "a@example.com")
    seen = analyst.get("/tiers").get_data(as_text=True)
    assert "Bạch kim" in seen and "Save as new version" not in seen
    good["csrf_token"] = csrf_token(analyst, "/tiers")
    assert analyst.post("/tiers", data=good).status_code == 403


def test_a_first_ladder_from_nothing(app, client):
    make_user(app, "m@example.com", "marketer")
    login(client, "m@example.com")
    form = form_of(client.get("/tiers").get_data(as_text=True), "/tiers")
    form.update(
        {"t0-code": "gold", "t0-name": "Gold", "t0-rank": "1", "t0-c0-var": "spend_365d", "t0-c0-val": "1000000"}
    )
    assert client.post("/tiers", data=form).status_code == 302
    _, version = _tier_doc(app)
    assert version.document["name"] == "Membership tiers" and version.document["tiers"][0]["code"] == "gold"


def test_rewards_editor(app, client):
    make_provider(app, "telecom")
    make_user(app, "m@example.com", "marketer")
    make_user(app, "care@example.com", "care")
    login(client, "m@example.com")
    form = form_of(client.get("/rewards/new").get_data(as_text=True), "/rewards")
    form.update({"code": "DATA1GB", "name": "=1 GB data", "cost": "100", "stock": "50", "provider": "telecom"})
    form["eligibility"] = "any:\n  - {name: customer_tier, operator: is_inn, value: [gold]}"
    resp = client.post("/rewards", data=form)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and 'id="r-eligibility-err">eligibility.conditions.any[0].operator' in html
    form["eligibility"] = "any:\n  - {name: customer_tier, operator: is_in, value: [gold]}"
    form["per_customer_limit"] = "0"
    resp = client.post("/rewards", data=form)
    assert resp.status_code == 422 and 'id="r-per_customer_limit-err"' in resp.get_data(as_text=True)
    form["per_customer_limit"] = "2"
    form["valid_from"] = "2027-01-20T00:00"
    assert client.post("/rewards", data=form).status_code == 302
    again = client.post("/rewards", data=form)
    assert again.status_code == 422 and "a reward with this code exists" in again.get_data(as_text=True)
    listing = client.get("/rewards").get_data(as_text=True)
    assert "=1 GB data" in listing and '50 <span class="hint">of 50' in listing
    with app.app_context():
        r = db.session.scalar(select(Reward))
        assert r.eligibility == {"any": [{"name": "customer_tier", "operator": "is_in", "value": ["gold"]}]}
        assert r.valid_from.isoformat() == "2027-01-19T17:00:00+00:00" and r.per_customer_limit == 2
        rid = r.id
    edit = form_of(client.get(f"/rewards/{rid}").get_data(as_text=True), "/rewards")
    assert edit["valid_from"] == "2027-01-20T00:00" and "customer_tier" in edit["eligibility"]
    edit.update({"cost": "120", "stock": ""})
    assert client.post("/rewards", data=edit).status_code == 302
    with app.app_context():
        r = db.session.get(Reward, rid)
        assert (r.cost, r.stock) == (120, None)
        assert db.session.scalar(select(AuditEvent.actor).where(AuditEvent.action == "reward.saved")) == "m@example.com"
    rows = list(csv.reader(io.StringIO(client.get("/rewards.csv").get_data(as_text=True))))
    assert rows[1][:3] == ["DATA1GB", "'=1 GB data", "120"]  # formula injection defused

    care = app.test_client()
    login(care, "care@example.com")
    assert care.get("/rewards").status_code == 200
    assert care.get(f"/rewards/{rid}").status_code == 403
