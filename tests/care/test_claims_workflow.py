"""The claim workflow through the care UI: assign -> investigate -> resolved (audited credit) or rejected."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from campaigns.models import AuditEvent, ClaimEvent, CustomerBalance, LedgerEntry, Provider
from tests.care.claim_helpers import claim, field_error, rows, setup, sms, staff_login
from tests.channels.helpers import outbox, set_customer
from tests.channels.test_portal import sign_in
from webapp.extensions import db


def _balance(app, cid: int) -> int:
    with app.app_context():
        value = db.session.get(CustomerBalance, cid).balance
        db.session.remove()
    return value


def _act(client, token, claim_id: int, action: str, **data):
    return client.post(f"/care/claims/{claim_id}/{action}", data={"csrf_token": token, **data})


def test_full_workflow_credits_once_through_an_audited_adjustment_and_notifies(app, client, telecom, staff, work):
    cid = setup(client, staff, telecom, work, app)
    assert _balance(app, cid) == 60
    sms(client, "KHIEUNAI t1 nap 600k")  # the reference is known: telecom is the responsible provider
    token = staff_login(app, client, "care")
    queue = client.get("/care/claims").get_data(as_text=True)
    assert 'data-claim-id="1"' in queue and '<dd id="count-open">1</dd>' in queue

    # t1 was credited: resolving it with an adjustment would credit twice; matching it resolves
    assert _act(client, token, 1, "assign").status_code == 302
    c = claim(app, 1)
    with app.app_context():
        telecom_id = db.session.scalar(select(Provider.id).where(Provider.code == "telecom"))
    assert (c.status, c.provider_id, c.due_at - c.state_since) == ("assigned", telecom_id, timedelta(hours=24))
    assert _act(client, token, 1, "investigate").status_code == 302
    c = claim(app, 1)
    assert (c.status, c.assignee, c.due_at - c.state_since) == (
        "investigating",
        "care-all@example.com",
        timedelta(hours=72),
    )
    twice = _act(client, token, 1, "resolve", points="60", reason="customer says t1 had no points")
    assert twice.status_code == 422
    assert "already earned 60 points: match it instead" in field_error(twice.get_data(as_text=True), "resolve-points")
    assert _balance(app, cid) == 60

    # a purchase the provider never sent: credit it by adjustment, within the care limit
    sms(client, "KHIEUNAI SHOP-404 mua hang 1tr")
    _act(client, token, 2, "assign", queue="telecom", note="telecom shop counter")
    _act(client, token, 2, "investigate")
    over = _act(client, token, 2, "resolve", points="1500", reason="receipt checked")
    assert over.status_code == 422
    assert "may adjust at most 1,000 points" in field_error(over.get_data(as_text=True), "resolve-points")
    short = _act(client, token, 2, "resolve", points="100", reason="ok")
    assert field_error(short.get_data(as_text=True), "resolve-reason").startswith("say why")
    word = _act(client, token, 2, "resolve", points="many", reason="receipt checked")
    assert field_error(word.get_data(as_text=True), "resolve-points").startswith("must be a whole number")
    done = _act(client, token, 2, "resolve", points="100", reason="receipt HD-404 checked with the shop")
    assert done.status_code == 302
    assert _balance(app, cid) == 160
    again = client.post("/care/claims/2/resolve", data={"csrf_token": token, "points": "100", "reason": "again!"})
    assert again.status_code == 302  # refused with a message: the claim is closed
    assert "claim 2 is resolved" in client.get("/care/claims/2").get_data(as_text=True)
    assert _balance(app, cid) == 160

    c = claim(app, 2)
    assert (c.status, c.points, c.due_at, c.closed_at is not None) == ("resolved", 100, None, True)
    [entry] = rows(app, LedgerEntry, LedgerEntry.kind == "adjustment")
    assert entry.id == c.adjustment_entry_id and entry.points == 100 and entry.note.startswith("claim #2: receipt")
    [audit] = rows(app, AuditEvent, AuditEvent.action == "customer.adjusted")
    assert audit.details["claim_id"] == 2 and audit.details["points"] == 100
    steps = [(e.from_status, e.to_status, e.actor) for e in rows(app, ClaimEvent, ClaimEvent.claim_id == 2)]
    assert steps == [
        (None, "open", f"customer:{cid}"),
        ("open", "assigned", "care-all@example.com"),
        ("assigned", "investigating", "care-all@example.com"),
        ("investigating", "resolved", "care-all@example.com"),
    ]
    assert {a.action for a in rows(app, AuditEvent, AuditEvent.object_type == "claim")} == {
        "claim.filed",
        "claim.assigned",
        "claim.investigating",
        "claim.resolved",
    }
    page = client.get("/care/claims/2").get_data(as_text=True)
    assert "receipt HD-404 checked with the shop" in page and 'id="customer-360"' in page
    assert '<dd id="c360-balance">160</dd>' in page

    work()  # the outbox goes out through the SMS adapter
    [sent] = outbox(app, template="claim_credited")
    assert sent.status == "sent"
    assert sent.body == "Yêu cầu #2 đã được giải quyết: bạn được cộng 100 điểm. Số dư: 160 điểm."


def test_rejection_needs_a_reason_that_reaches_the_customer(app, client, telecom, staff, work):
    cid = setup(client, staff, telecom, work, app)
    set_customer(app, cid, language="en")  # notifications speak the customer's language
    sms(client, "CLAIM NOPE-1 bought a phone")
    token = staff_login(app, client, "care")
    early = _act(client, token, 1, "reject", reason="too early to tell")
    assert early.status_code == 302 and claim(app, 1).status == "open"  # a claim is rejected after investigation
    _act(client, token, 1, "assign", queue="care")
    assert claim(app, 1).provider_id is None
    _act(client, token, 1, "investigate")
    blank = _act(client, token, 1, "reject", reason="  ")
    assert blank.status_code == 422
    assert field_error(blank.get_data(as_text=True), "reject-reason").startswith("say why")
    ok = _act(client, token, 1, "reject", reason="No purchase NOPE-1 exists at any of our providers.")
    assert ok.status_code == 302
    c = claim(app, 1)
    assert (c.status, c.resolution) == ("rejected", "No purchase NOPE-1 exists at any of our providers.")
    work()
    [sent] = outbox(app, template="claim_rejected")
    assert sent.customer_id == cid and sent.payload["reason"] == c.resolution
    assert sent.body == "Request #1 was not accepted: No purchase NOPE-1 exists at any of our providers."
    assert _balance(app, cid) == 60
    portal = app.test_client()  # the customer's own view of the claim
    sign_in(portal, work)
    assert "Not accepted: No purchase NOPE-1 exists" in portal.get("/portal/").get_data(as_text=True)
