"""Content in both languages: tier and reward names given as {vi, en} reach each customer in theirs."""

from __future__ import annotations

import re

from tests.channels.helpers import PHONE, TIERS, customer_id, earn, sent_to, set_customer, set_setting
from tests.channels.test_portal import sign_in
from tests.channels.test_sms_keywords import sms
from tests.helpers.api import publish
from tests.helpers.documents import BASE_EARNING

BILINGUAL_TIERS = (
    TIERS.replace("name: Thành viên,", "name: {vi: Thành viên, en: Member},")
    .replace("name: Bạc,", "name: {vi: Bạc, en: Silver},")
    .replace("name: Vàng,", "name: {vi: Vàng, en: Gold},")
)
DATA = {
    "code": "DATA1G",
    "name": {"vi": "Gói data 1 GB", "en": "1 GB data pack"},
    "description": {"vi": "Dùng trong 7 ngày", "en": "Valid for 7 days"},
    "cost": 100,
}


def _programme(client, staff) -> None:  # type: ignore[no-untyped-def]
    publish(client, staff, BASE_EARNING)
    publish(client, staff, BILINGUAL_TIERS)
    set_setting(client, staff, "quiet_hours", None)
    resp = client.post("/api/v1/rewards", json=DATA, headers=staff)
    assert resp.status_code in (200, 201), resp.get_json()
    assert resp.get_json()["name"] == DATA["name"] and resp.get_json()["description"] == DATA["description"]


def test_portal_shows_tier_and_reward_names_in_the_customers_language(app, client, telecom, staff, work):
    _programme(client, staff)
    earn(client, telecom, work, "t1", 2_050_000)  # 205 points: member, 795 more to silver
    sign_in(client, work)
    vi = client.get("/portal/").get_data(as_text=True)
    assert 'id="tier">Thành viên<' in vi and "795 điểm nữa để lên hạng Bạc" in vi
    assert "Gói data 1 GB" in vi and "Dùng trong 7 ngày" in vi and "1 GB data pack" not in vi
    set_customer(app, customer_id(app), language="en")
    en = client.get("/portal/").get_data(as_text=True)
    assert 'lang="en"' in en and 'id="tier">Member<' in en and "795 more points to reach Silver" in en
    assert "1 GB data pack" in en and "Valid for 7 days" in en and "Gói data" not in en and "Bạc" not in en
    confirm = client.get("/portal/rewards/DATA1G/redeem").get_data(as_text=True)
    assert "Redeem 1 GB data pack for 100 points?" in confirm


def test_sms_and_notices_name_tiers_and_rewards_in_the_reply_language(app, client, telecom, staff, work):
    _programme(client, staff)
    earn(client, telecom, work, "t1", 2_050_000)
    assert "Hạng: Thành viên. 795 điểm nữa để lên hạng Bạc." in sms(client, "DIEM")["reply"]
    assert "Tier: Member. 795 more points to reach Silver." in sms(client, "BAL")["reply"]
    assert "Redeem 1 GB data pack for 100 points?" in sms(client, "REDEEM DATA1G")["reply"]
    set_customer(app, customer_id(app), language="en")
    earn(client, telecom, work, "t2", 10_000_000)  # 1,205 points: silver, told by the worker in English
    assert "Your membership tier is now Silver." in sent_to(PHONE)


def test_a_name_in_an_unknown_language_is_refused_with_its_field(client, staff):
    bad = client.post("/api/v1/rewards", json={**DATA, "name": {"fr": "Forfait"}}, headers=staff)
    assert bad.status_code == 422 and bad.get_json()["error"]["fields"][0]["path"].startswith("name")
    doc = BILINGUAL_TIERS.replace("en: Silver", "fr: Argent")
    resp = client.post("/api/v1/campaigns/validate", data=doc, headers={**staff, "Content-Type": "application/yaml"})
    body = resp.get_json()
    assert resp.status_code == 422 and any(e["path"] == "tiers[1].name.fr" for e in body["error"]["fields"]), body


def test_the_ladder_editor_keeps_and_edits_the_english_names(app, client, staff):
    from campaigns.models import Campaign, CampaignVersion
    from tests.helpers.factories import make_user
    from tests.helpers.web import login
    from tests.integration.test_ui_catalog import form_of
    from webapp.extensions import db

    publish(client, staff, BILINGUAL_TIERS)
    make_user(app, "m@example.com", "marketer")
    login(client, "m@example.com")
    form = form_of(client.get("/tiers").get_data(as_text=True), "/tiers")
    assert (form["t1-name"], form["t1-name_en"]) == ("Bạc", "Silver")
    resp = client.post("/tiers", data=dict(form, **{"t1-name_en": "Silver class", "t2-name_en": ""}))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    with app.app_context():
        doc = db.session.scalar(
            db.select(CampaignVersion.document)
            .join(Campaign, Campaign.id == CampaignVersion.campaign_id)
            .where(Campaign.type == "tier")
            .order_by(CampaignVersion.version.desc())
        )
        db.session.remove()
    names = [t["name"] for t in doc["tiers"]]
    assert names == [{"vi": "Thành viên", "en": "Member"}, {"vi": "Bạc", "en": "Silver class"}, "Vàng"]


def test_the_reward_editor_takes_and_keeps_the_english_name_and_description(app, client, staff):
    from tests.helpers.factories import make_user
    from tests.helpers.web import login
    from tests.integration.test_ui_catalog import form_of

    make_user(app, "m@example.com", "marketer")
    login(client, "m@example.com")
    form = form_of(client.get("/rewards/new").get_data(as_text=True), "/rewards")
    form.update({"code": "DATA1G", "name": "Gói data 1 GB", "name_en": "1 GB data pack", "cost": "100"})
    form.update({"description": "Dùng trong 7 ngày"})
    assert client.post("/rewards", data=form).status_code == 302
    saved = client.get("/api/v1/rewards/DATA1G", headers=staff).get_json()
    assert saved["name"] == {"vi": "Gói data 1 GB", "en": "1 GB data pack"}
    assert saved["description"] == "Dùng trong 7 ngày"
    edit = form_of(client.get(f"/rewards/{saved['id']}").get_data(as_text=True), "/rewards")
    assert (edit["name"], edit["name_en"], edit["description"]) == (
        "Gói data 1 GB",
        "1 GB data pack",
        "Dùng trong 7 ngày",
    )


def test_a_providers_english_name_in_the_portal_activity(app, client, staff, work):
    from tests.helpers.api import txn

    publish(client, staff, BASE_EARNING)
    created = app.test_cli_runner().invoke(
        args=["providers", "create", "shop", "--name", "Cửa hàng tiện lợi", "--name-en", "Convenience store"]
    )
    assert created.exit_code == 0, created.output
    key = created.output.strip().splitlines()[-1]
    resp = client.post("/api/v1/transactions", json=txn("s-1", 500_000), headers={"Authorization": f"Bearer {key}"})
    assert resp.status_code == 202, resp.get_json()
    work()
    sign_in(client, work)
    vi = client.get("/portal/").get_data(as_text=True)
    assert "Cửa hàng tiện lợi" in vi and "Convenience store" not in vi
    set_customer(app, customer_id(app), language="en")
    en = client.get("/portal/").get_data(as_text=True)
    assert "Convenience store" in en and "Cửa hàng tiện lợi" not in en


TET = {
    "name": {"vi": "Thưởng Tết gấp đôi", "en": "Tet double points"},
    "rules": [
        {
            "name": "double",
            "conditions": {"all": [{"name": "amount", "operator": "greater_than_or_equal_to", "value": 10000}]},
            "actions": [{"name": "award_points_per_amount", "params": {"points": 2, "per": 10000}}],
        }
    ],
}


def test_a_campaign_name_in_both_languages_is_validated_with_its_path(client, staff):
    for name, path, reason in (
        ({"fr": "Double"}, "name.fr", "unknown language; known: vi, en"),
        ({"vi": ""}, "name.vi", "must not be empty"),
        ({}, "name", "must name at least one language (vi, en)"),
        ({"vi": 5}, "name.vi", "expected a string, got integer"),
    ):
        resp = client.post("/api/v1/campaigns/validate", json={**TET, "name": name}, headers=staff)
        errors = resp.get_json()["error"]["fields"]
        assert resp.status_code == 422 and {"path": path, "reason": reason}.items() <= errors[0].items(), errors


def test_a_campaign_first_named_in_one_language_keeps_its_versions_when_given_both(client, staff):
    first = publish(client, staff, {**TET, "name": "Weekend bonus"})
    both = publish(client, staff, {**TET, "name": {"vi": "Thưởng cuối tuần", "en": "Weekend bonus"}})
    assert both["id"] == first["id"] and both["name"] == "Weekend bonus"  # found by its English name
    again = publish(client, staff, {**TET, "name": {"vi": "Thưởng cuối tuần", "en": "Weekend bonus"}})
    assert again["id"] == first["id"]
    listed = client.get("/api/v1/campaigns", headers=staff).get_json()["campaigns"]
    assert [c["name"] for c in listed] == ["Weekend bonus"]


def test_a_campaign_named_in_both_languages_reaches_each_reader_in_theirs(app, client, telecom, staff, work):
    from tests.channels.test_ussd import Session as Ussd
    from tests.helpers.factories import make_user
    from tests.helpers.web import login

    first = publish(client, staff, TET)
    again = publish(client, staff, {**TET, "name": {"vi": "Thưởng Tết gấp đôi"}})
    assert again["id"] == first["id"] and again["name"] == "Thưởng Tết gấp đôi"  # the same campaign: its vi name
    publish(client, staff, TET)  # version 3: both names again
    earn(client, telecom, work, "t1", 1_000_000)
    sign_in(client, work)
    vi = client.get("/portal/").get_data(as_text=True)
    assert "Thưởng Tết gấp đôi · Mobile operator" in vi and "Tet double points" not in vi
    assert "+200 Thưởng Tết gấp đôi" in Ussd(client).send("", "4").replace("\n", " ")
    set_customer(app, customer_id(app), language="en")
    en = client.get("/portal/").get_data(as_text=True)
    assert "Tet double points · Mobile operator" in en and "Thưởng Tết" not in en
    assert "+200 Tet double points" in Ussd(client).send("", "4").replace("\n", " ")
    assert client.post("/api/v1/me/otp", json={"phone": PHONE}).status_code == 202  # the app: /api/v1/me
    work()
    code = re.search(r"\b(\d{6})\b", sent_to(PHONE)[-1]).group(1)
    token = client.post("/api/v1/me/token", json={"phone": PHONE, "code": code}).get_json()["token"]
    activity = client.get("/api/v1/me/activity", headers={"Authorization": f"Bearer {token}"}).get_json()["activity"]
    assert (activity[0]["campaign"], activity[0]["points"]) == ("Tet double points", 200)

    make_user(app, "vi@example.com", "admin", language="vi")
    make_user(app, "en@example.com", "admin", language="en")
    for email, shown, hidden in (
        ("vi@example.com", "Thưởng Tết gấp đôi", "Tet double points"),
        ("en@example.com", "Tet double points", "Thưởng Tết gấp đôi"),
    ):
        staff_client = app.test_client()
        login(staff_client, email)
        for url in ("/campaigns", f"/customers/{customer_id(app)}"):  # the list, the customer 360's ledger
            page = staff_client.get(url).get_data(as_text=True)
            assert shown in page and hidden not in page, url
