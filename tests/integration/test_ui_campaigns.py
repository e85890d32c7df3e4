"""Campaign authoring pages: list and status, live validation at the line, save, simulate, publish,
rollback, diff, review by a second person, audit, CSV."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re

from campaigns.models import CampaignVersion
from tests.helpers.api import txn
from tests.helpers.documents import BASE_EARNING
from tests.helpers.factories import make_provider, make_user
from tests.helpers.web import csrf_token, login
from webapp.admin.campaigns import BUILDER_LABELS
from webapp.extensions import db

BROKEN = BASE_EARNING.replace("greater_than_or_equal_to", "greater")
SCHEDULED = BASE_EARNING.replace("name: Base earning", "name: Next year\nstarts_at: 2099-01-01T00:00:00+07:00")
ENDED = BASE_EARNING.replace(
    "name: Base earning", "name: Last year\nstarts_at: 2001-01-01T00:00:00+07:00\nends_at: 2001-02-01T00:00:00+07:00"
)


def _post(client, url, data=None, **kw):
    return client.post(url, data={**(data or {}), "csrf_token": csrf_token(client, "/")}, **kw)


def _json(client, url, body):
    return client.post(url, json=body, headers={"X-CSRFToken": csrf_token(client, "/")})


def _save(client, source, fmt="yaml"):
    return _post(client, "/campaigns", {"source": source, "format": fmt})


def test_validate_live_with_lines_save_publish_rollback_diff(app, client, work):
    telecom = make_provider(app, "telecom")
    make_user(app, "m@example.com", "marketer")
    login(client, "m@example.com")
    editor = client.get("/campaigns/new")
    assert editor.status_code == 200 and "Form builder" in editor.get_data(as_text=True)

    bad = _json(client, "/campaigns/validate", {"source": BROKEN, "format": "yaml"}).get_json()
    assert bad["valid"] is False
    assert bad["errors"][0]["path"] == "rules[0].conditions.all[0].operator"
    assert bad["errors"][0]["line"] == 7  # BASE_EARNING starts with a blank line
    syntax = _json(client, "/campaigns/validate", {"source": "name: x\nrules: [\n", "format": "yaml"}).get_json()
    assert syntax["errors"][0]["line"] == 3
    good = _json(client, "/campaigns/validate", {"source": BASE_EARNING, "format": "yaml"}).get_json()
    assert good == {"valid": True, "errors": [], "warnings": [], "name": "Base earning", "type": "earning", "rules": 1}

    rejected = _save(client, BROKEN)
    assert rejected.status_code == 422
    page = rejected.get_data(as_text=True)
    assert "Line 7" in page and "greater" in page

    saved = _save(client, BASE_EARNING)
    assert saved.status_code == 302
    cid = int(saved.headers["Location"].rsplit("/", 1)[1])
    detail = client.get(f"/campaigns/{cid}").get_data(as_text=True)
    assert "badge b-draft" in detail and "Publish" in detail

    sim = _json(
        client,
        "/campaigns/simulate",
        {"source": BASE_EARNING, "mode": "sample", "transaction": {"provider": "telecom", "amount": 150000}},
    ).get_json()
    assert sim["ok"] and sim["result"]["rules"][0]["fired"] is True
    assert sim["result"]["rules"][0]["conditions"][0]["result"] is True
    replay = _json(client, "/campaigns/simulate", {"source": BASE_EARNING, "mode": "replay", "days": 7}).get_json()
    assert replay["ok"] and replay["result"]["days"] == 7
    sim_bad = _json(
        client, "/campaigns/simulate", {"source": BROKEN, "mode": "sample", "transaction": {"provider": "x"}}
    )
    assert sim_bad.status_code == 422 and sim_bad.get_json()["errors"][0]["line"] == 7

    assert _post(client, f"/campaigns/{cid}/versions/1/publish").status_code == 302
    client.post("/api/v1/transactions", json=txn("p-1", 150_000), headers=telecom.headers)
    work()
    v2 = BASE_EARNING.replace("points: 1, per: 10000", "points: 2, per: 10000")
    assert _save(client, v2).status_code == 302
    assert _post(client, f"/campaigns/{cid}/versions/2/publish").status_code == 302
    rolled = _post(client, f"/campaigns/{cid}/versions/1/publish", follow_redirects=True)
    assert "published again (rollback)" in rolled.get_data(as_text=True)
    with app.app_context():
        states = dict(db.session.query(CampaignVersion.version, CampaignVersion.status).filter_by(campaign_id=cid))
    assert states == {1: "published", 2: "archived"}

    diff = client.get(f"/campaigns/{cid}/diff?a=1&b=2").get_data(as_text=True)
    assert 'class="diff"' in diff and "diff_chg" in diff

    listing = client.get("/campaigns").get_data(as_text=True)
    assert "badge b-live" in listing and ">15<" in listing  # 150,000 at 1 per 10k

    audit = client.get(f"/audit?type=campaign&id={cid}").get_data(as_text=True)
    assert audit.count("campaign.published") == 3 and "m@example.com" in audit

    archived = _post(client, f"/campaigns/{cid}/archive", follow_redirects=True)
    assert "badge b-archived" in archived.get_data(as_text=True)


def test_status_filter_search_and_csv(app, client):
    make_user(app, "a@example.com", "analyst")
    make_user(app, "m@example.com", "marketer")
    login(client, "m@example.com")
    for doc in (SCHEDULED, ENDED, BASE_EARNING.replace("Base earning", "Draft one")):
        assert _save(client, doc).status_code == 302
    for name in ("Next year", "Last year"):
        page = client.get(f"/campaigns?q={name.split()[0]}").get_data(as_text=True)
        cid = re.search(r'href="/campaigns/(\d+)"', page).group(1)
        _post(client, f"/campaigns/{cid}/versions/1/publish")
    analyst = app.test_client()
    login(analyst, "a@example.com")
    assert "badge b-scheduled" in analyst.get("/campaigns?status=scheduled").get_data(as_text=True)
    ended = analyst.get("/campaigns?status=ended").get_data(as_text=True)
    assert "Last year" in ended and "Next year" not in ended
    assert "Draft one" in analyst.get("/campaigns?status=draft&q=draft").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(analyst.get("/campaigns.csv").get_data(as_text=True))))
    assert rows[0][:4] == ["id", "name", "type", "status"]
    assert sorted(r[3] for r in rows[1:]) == ["draft", "ended", "scheduled"]
    assert analyst.get("/campaigns/new").status_code == 403


def test_review_by_a_second_person(app, client, monkeypatch):
    settings = app.config["LOYALTY"]
    monkeypatch.setitem(app.config, "LOYALTY", dataclasses.replace(settings, require_approval=True))
    make_user(app, "m1@example.com", "marketer")
    make_user(app, "m2@example.com", "marketer")
    login(client, "m1@example.com")
    cid = int(_save(client, BASE_EARNING).headers["Location"].rsplit("/", 1)[1])
    refused = _post(client, f"/campaigns/{cid}/versions/1/publish")
    assert refused.status_code == 409 and "submit this version for review" in refused.get_data(as_text=True)
    assert _post(client, f"/campaigns/{cid}/versions/1/submit").status_code == 302
    assert _post(client, f"/campaigns/{cid}/versions/1/approve").status_code == 403  # not your own
    second = app.test_client()
    login(second, "m2@example.com")
    assert "Approve" in second.get(f"/campaigns/{cid}").get_data(as_text=True)
    assert _post(second, f"/campaigns/{cid}/versions/1/approve").status_code == 302
    assert _post(client, f"/campaigns/{cid}/versions/1/publish").status_code == 302
    audit = client.get("/audit?type=campaign").get_data(as_text=True)
    assert "campaign.submitted" in audit and "campaign.approved" in audit


def test_publishing_asks_first_with_the_diff_and_the_simulated_cost(app, client, work):
    telecom = make_provider(app, "telecom")
    make_user(app, "m@example.com", "marketer")
    login(client, "m@example.com")
    cid = int(_save(client, BASE_EARNING).headers["Location"].rsplit("/", 1)[1])
    detail = client.get(f"/campaigns/{cid}").get_data(as_text=True)
    assert f'href="/campaigns/{cid}/versions/1/publish"' in detail  # a link to the question, not a one-click form

    first = client.get(f"/campaigns/{cid}/versions/1/publish").get_data(as_text=True)
    assert "Nothing of this campaign is live yet" in first and "Publish version 1" in first
    assert _post(client, f"/campaigns/{cid}/versions/1/publish").status_code == 302
    client.post("/api/v1/transactions", json=txn("p-1", 150_000), headers=telecom.headers)
    work()

    assert _save(client, BASE_EARNING.replace("points: 1, per: 10000", "points: 2, per: 10000")).status_code == 302
    page = client.get(f"/campaigns/{cid}/versions/2/publish").get_data(as_text=True)
    assert "It replaces version 1" in page
    assert re.search(r'id="points-change">\+15<', page)  # 150,000 VND earned 15 points live, 30 with v2
    assert re.search(r"<span class=\"diff_chg\">2</span>", page)  # the changed rate, marked in the diff
    with app.app_context():
        assert db.session.query(CampaignVersion.status).filter_by(campaign_id=cid, version=2).scalar() == "draft"
        db.session.remove()  # only the POST publishes
    assert client.get(f"/campaigns/{cid}/versions/9/publish").status_code == 404


def test_the_form_builder_reads_a_valid_document_in_its_own_key_order(app, client):
    """/campaigns/read gives the form a valid document's data (YAML times as ISO text); an invalid one, its lines."""
    make_provider(app, "telecom")
    make_user(app, "m@example.com", "marketer")
    login(client, "m@example.com")
    source = "priority: 5\nname: Read me\nstarts_at: 2027-01-20T00:00:00+07:00" + BASE_EARNING.replace(
        "name: Base earning\n", ""
    )
    resp = _json(client, "/campaigns/read", {"source": source, "format": "yaml"})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["ok"] is True and body["format"] == "yaml"
    assert list(body["document"])[:3] == ["priority", "name", "starts_at"]
    assert body["document"]["starts_at"] == "2027-01-20T00:00:00+07:00"
    bad = _json(client, "/campaigns/read", {"source": BROKEN, "format": "yaml"})
    assert bad.status_code == 422
    assert [(e["path"], e["line"]) for e in bad.get_json()["errors"]] == [("rules[0].conditions.all[0].operator", 7)]


def test_the_form_builder_speaks_the_staff_users_language(app, client):
    """Every label the builder's script adds comes translated with the page (a Vietnamese marketer's here)."""
    make_user(app, "vi@example.com", "marketer", language="vi")
    login(client, "vi@example.com")
    page = client.get("/campaigns/new").get_data(as_text=True)
    data = json.loads(re.search(r'<script type="application/json" id="builder-data">(.*?)</script>', page, re.S)[1])
    assert set(data["labels"]) == set(BUILDER_LABELS)
    assert data["labels"]["condition"] == "Điều kiện" and data["labels"]["stacking"] == "Cộng dồn"
    assert "Đọc tài liệu vào biểu mẫu" in page
