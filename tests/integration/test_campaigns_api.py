"""Campaign documents through the management API, and their effect on crediting."""

from __future__ import annotations

from tests.helpers.api import publish, txn
from tests.helpers.documents import BASE_EARNING

BAD = """
name: Broken
rules:
  - name: r
    conditions:
      all:
        - {name: amount, operator: greater, value: 1}
        - {name: planet, operator: equal_to, value: mars}
    actions:
      - {name: award_points, params: {points: "5"}}
"""


def test_invalid_document_lists_every_error_with_its_path(client, staff):
    resp = client.post("/api/v1/campaigns", data=BAD, headers={**staff, "Content-Type": "application/yaml"})
    assert resp.status_code == 422
    fields = {f["path"]: f["reason"] for f in resp.get_json()["error"]["fields"]}
    assert "rules[0].conditions.all[0].operator" in fields
    assert "greater" in fields["rules[0].conditions.all[0].operator"]
    assert "rules[0].conditions.all[1].name" in fields
    assert any(p.startswith("rules[0].actions[0].params") for p in fields)


def test_only_staff_tokens_manage_campaigns(client, telecom):
    resp = client.post(
        "/api/v1/campaigns", data=BASE_EARNING, headers={**telecom.headers, "Content-Type": "application/yaml"}
    )
    assert resp.status_code == 403
    assert client.get("/api/v1/campaigns", headers=telecom.headers).status_code == 403


def test_versions_publish_and_archive(client, staff):
    created = client.post("/api/v1/campaigns", data=BASE_EARNING, headers={**staff, "Content-Type": "application/yaml"})
    assert created.status_code == 201
    c = created.get_json()
    assert c["status"] == "draft" and c["latest_version"] == 1
    same = client.post(
        "/api/v1/campaigns", data=BASE_EARNING, headers={**staff, "Content-Type": "application/yaml"}
    ).get_json()
    assert same["latest_version"] == 1  # unchanged document: no new version
    changed = client.post(
        "/api/v1/campaigns",
        data=BASE_EARNING.replace("points: 1,", "points: 2,"),
        headers={**staff, "Content-Type": "application/yaml"},
    ).get_json()
    assert changed["latest_version"] == 2
    pub = client.post(f"/api/v1/campaigns/{c['id']}/publish", json={"version": 1}, headers=staff).get_json()
    assert pub["status"] == "published" and pub["published_version"] == 1
    listed = client.get("/api/v1/campaigns", headers=staff).get_json()["campaigns"]
    assert [x["name"] for x in listed] == ["Base earning"]
    arch = client.post(f"/api/v1/campaigns/{c['id']}/archive", headers=staff).get_json()
    assert arch["status"] == "archived"
    assert client.post("/api/v1/campaigns/999/publish", json={}, headers=staff).status_code == 404
    ok = client.post(
        "/api/v1/campaigns/validate", data=BASE_EARNING, headers={**staff, "Content-Type": "application/yaml"}
    )
    assert ok.status_code == 200 and ok.get_json()["valid"] is True


def test_publication_reaches_the_worker_and_applies_only_to_later_transactions(client, telecom, staff, work):
    publish(client, staff, BASE_EARNING)
    before = client.post("/api/v1/transactions", json=txn("before", 100_000), headers=telecom.headers).get_json()["id"]
    work()
    publish(
        client,
        staff,
        {
            "name": "Top-up bonus",
            "providers": ["telecom"],
            "priority": 10,
            "rules": [
                {
                    "name": "topups",
                    "conditions": {"all": [{"name": "category", "operator": "equal_to", "value": "topup"}]},
                    "actions": [{"name": "award_points", "params": {"points": 50}}],
                }
            ],
        },
    )
    queued_before_publish = before
    after = client.post("/api/v1/transactions", json=txn("after", 100_000), headers=telecom.headers).get_json()["id"]
    work()
    assert (
        client.get(f"/api/v1/transactions/{queued_before_publish}", headers=telecom.headers).get_json()["points"] == 10
    )
    view = client.get(f"/api/v1/transactions/{after}", headers=telecom.headers).get_json()
    assert view["points"] == 60
    assert sorted(a["campaign"] for a in view["awards"]) == ["Base earning", "Top-up bonus"]


def test_exclusive_campaign_stops_lower_priority(client, telecom, staff, work):
    publish(client, staff, BASE_EARNING)
    publish(
        client,
        staff,
        {
            "name": "VIP only",
            "priority": 100,
            "stacking": "exclusive",
            "rules": [
                {
                    "name": "big baskets",
                    "conditions": {"all": [{"name": "amount", "operator": "greater_than", "value": 1_000_000}]},
                    "actions": [{"name": "award_points", "params": {"points": 500}}],
                }
            ],
        },
    )
    big = client.post("/api/v1/transactions", json=txn("big", 2_000_000), headers=telecom.headers).get_json()["id"]
    small = client.post("/api/v1/transactions", json=txn("small", 200_000), headers=telecom.headers).get_json()["id"]
    work()
    assert client.get(f"/api/v1/transactions/{big}", headers=telecom.headers).get_json()["points"] == 500
    assert client.get(f"/api/v1/transactions/{small}", headers=telecom.headers).get_json()["points"] == 20


def test_codes_the_programme_does_not_know_are_refused_with_a_suggestion(client, staff, telecom):
    doc = BASE_EARNING.replace("rules:", "providers: [telecomm]\nrules:", 1)
    resp = client.post("/api/v1/campaigns", data=doc, headers={**staff, "Content-Type": "application/yaml"})
    assert resp.status_code == 422, resp.get_json()
    fields = {f["path"]: f["reason"] for f in resp.get_json()["error"]["fields"]}
    assert fields["providers[0]"] == "'telecomm' is not a provider; did you mean 'telecom'?"
    check = client.post(
        "/api/v1/campaigns/validate",
        data=BASE_EARNING.replace("rules:", "providers: [telecom]\nrules:", 1),
        headers={**staff, "Content-Type": "application/yaml"},
    )
    assert check.status_code == 200 and check.get_json()["valid"] is True


def test_a_yaml_body_sent_as_json_or_untyped_is_told_that_application_yaml_exists(client, staff):
    for path in ("/api/v1/campaigns", "/api/v1/campaigns/validate"):
        for headers in ({"Content-Type": "application/json"}, {}):
            resp = client.post(path, data=BASE_EARNING.encode(), headers={**staff, **headers})
            assert resp.status_code == 400, (path, headers, resp.get_json())
            error = resp.get_json()["error"]
            assert error["message"].startswith(
                "the body is YAML, not JSON: send it with Content-Type: application/yaml (malformed JSON:"
            ), error
            assert [f["path"] for f in error["fields"]] == ["Content-Type"]
        text = client.post(path, data=BASE_EARNING, headers={**staff, "Content-Type": "text/plain"})
        assert text.status_code == 415
        assert "application/yaml" in text.get_json()["error"]["message"]
    broken = client.post("/api/v1/campaigns", data=b'{"name": "x", rules: [}', headers=staff)
    assert broken.status_code == 400  # broken JSON stays a JSON error, with no YAML hint
    assert broken.get_json()["error"]["message"].startswith("malformed JSON") and "yaml" not in broken.get_data(
        as_text=True
    )
    assert client.get("/api/v1/campaigns", headers=staff).get_json()["campaigns"] == []
