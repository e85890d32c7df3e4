"""The care monitor on claims: tiered deadline alerts that escalate, and the auto-match of late transactions."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from campaigns.models import Alert, AuditEvent, Claim, ClaimEvent, LedgerEntry, Transaction
from tests.care.claim_helpers import claim, rows, setup, sms, staff_login
from tests.channels.helpers import outbox, set_setting
from tests.helpers.api import txn
from webapp.extensions import db
from workers import care


def _monitor(app, now):
    return care.monitor(app.extensions["loyalty.runtime"], now)


def _alert(app) -> Alert | None:
    live = rows(app, Alert, Alert.kind == "claim")
    return live[-1] if live else None


def test_overdue_claims_raise_tiered_alerts_that_escalate_and_clear(app, client, telecom, staff, work):
    setup(client, staff, telecom, work, app)
    bad = client.put("/api/v1/settings/claim_deadlines", json={"value": {"open": -1}}, headers=staff)
    assert bad.status_code == 422 and bad.get_json()["error"]["fields"][0]["path"] == "value.open"
    set_setting(client, staff, "claim_deadlines", {"open": 2})  # two hours to assign; the rest stay default
    token = staff_login(app, client, "care")
    filed = client.post(
        "/care/claims",
        data={"csrf_token": token, "customer": "0912345678", "transaction_ref": "Q-1", "provider": "telecom"},
    )
    assert filed.status_code == 302
    c = claim(app, 1)
    start = c.state_since
    assert c.due_at - start == timedelta(hours=2)

    assert _monitor(app, start + timedelta(minutes=80))["claim_deadlines"] == 0  # 2/3 of the time: fine
    assert _alert(app) is None
    assert _monitor(app, start + timedelta(minutes=95))["claim_deadlines"] == 1  # past 75%: approaching
    a = _alert(app)
    assert (a.key, a.severity, a.escalation, a.status, a.provider_id) == (
        "claim:1",
        "warning",
        0,
        "open",
        c.provider_id,
    )
    assert "Assign it" in a.suggested_action
    _monitor(app, start + timedelta(minutes=125))  # past the deadline, unacknowledged for 30 min: the manager
    a = _alert(app)
    assert (a.severity, a.escalation) == ("overdue", 1)
    _monitor(app, start + timedelta(minutes=160))  # 30 more minutes: the programme admin
    assert _alert(app).escalation == 2
    _monitor(app, start + timedelta(minutes=241))  # twice the time allowed: critical
    a = _alert(app)
    assert (a.severity, a.escalation, a.status) == ("critical", 2, "open")
    escalations = rows(app, AuditEvent, AuditEvent.action == "alert.escalate")
    assert [e.details["to"] for e in escalations] == ["provider manager", "programme admin"]
    page = client.get("/care/claims/1").get_data(as_text=True)
    assert '<strong id="escalated-to">programme admin</strong>' in page and "b-critical" in page
    assert 'data-claim-id="1"' not in client.get("/care/claims?overdue=1").get_data(as_text=True)  # not yet, really
    with app.app_context():  # the queue reads the wall clock: move the claim's clock back instead
        db.session.execute(
            update(Claim).values(state_since=start - timedelta(hours=3), due_at=c.due_at - timedelta(hours=3))
        )
        db.session.commit()
    queue = client.get("/care/claims?overdue=1").get_data(as_text=True)
    assert 'data-claim-id="1"' in queue and '<dd id="count-overdue">1</dd>' in queue and "b-overdue" in queue

    # assigned now: a fresh 24 h deadline, so the next pass clears the alert
    assert client.post("/care/claims/1/assign", data={"csrf_token": token}).status_code == 302
    assert _monitor(app, start + timedelta(minutes=250))["claim_deadlines"] == 0
    a = _alert(app)
    assert (a.status, a.resolved_by) == ("resolved", "monitor")
    assert 'data-claim-id="1"' not in client.get("/care/claims?overdue=1").get_data(as_text=True)
    # ...and it comes back if the assigned claim sits past its own deadline
    _monitor(app, claim(app, 1).due_at + timedelta(minutes=1))
    live = rows(app, Alert, Alert.active_key == "claim:1")
    assert [(x.severity, x.times_raised) for x in live] == [("overdue", 2)]


def test_match_to_a_late_transaction_then_auto_resolve_without_double_credit(app, client, telecom, staff, work):
    cid = setup(client, staff, telecom, work, app)
    sms(client, "KHIEUNAI LATE-1 nap tien hom qua")
    sms(client, "KHIEUNAI LATE-2")  # nobody touches this one: the monitor resolves it
    token = staff_login(app, client, "care")
    assert 'data-candidate="' not in client.get("/care/claims/1").get_data(as_text=True)
    for ref in ("LATE-1", "LATE-2"):  # the provider's integration was down: they arrive after the claims
        posted = client.post("/api/v1/transactions", json=txn(ref, 300_000), headers=telecom.headers)
        assert posted.status_code == 202
    with app.app_context():
        late_id = db.session.scalar(select(Transaction.id).where(Transaction.provider_txn_id == "LATE-1"))
    page = client.get("/care/claims/1").get_data(as_text=True)
    assert f'data-candidate="{late_id}"' in page and "b-queued" in page and ">late<" in page
    matched = client.post("/care/claims/1/match", data={"csrf_token": token, "transaction_id": str(late_id)})
    assert matched.status_code == 302
    c = claim(app, 1)
    assert (c.status, c.transaction_id, c.provider_id is not None) == ("open", late_id, True)  # waits for the credit
    assert _monitor(app, c.created_at + timedelta(minutes=1))["claims_auto_match"] == 0  # still queued

    work()  # the worker credits both transactions (30 points each)
    _monitor(app, c.created_at + timedelta(minutes=2))
    for claim_id, ref in ((1, "LATE-1"), (2, "LATE-2")):
        done = claim(app, claim_id)
        assert done.status == "resolved" and done.points == 30 and done.adjustment_entry_id is None
        assert done.resolution.startswith("credited on ") and f"({ref})" in done.resolution
        last = rows(app, ClaimEvent, ClaimEvent.claim_id == claim_id)[-1]
        assert (last.to_status, last.actor) == ("resolved", "monitor")
    assert rows(app, LedgerEntry, LedgerEntry.kind == "adjustment") == []  # credited once, by the transactions
    with app.app_context():
        from campaigns.models import CustomerBalance

        assert db.session.get(CustomerBalance, cid).balance == 120
    work()
    sent = outbox(app, template="claim_matched")
    assert [s.payload["claim"] for s in sent] == [1, 2] and all(s.status == "sent" for s in sent)
    assert sent[0].body.startswith("Yêu cầu #1: giao dịch LATE-1 đã được cộng 30 điểm ngày ")

    # a credited transaction resolves a claim at once; one that earned nothing cannot
    sms(client, "KHIEUNAI t1")
    sms(client, "KHIEUNAI SMALL-1")
    client.post("/api/v1/transactions", json=txn("SMALL-1", 5_000), headers=telecom.headers)
    work()
    with app.app_context():
        ids = dict(db.session.execute(select(Transaction.provider_txn_id, Transaction.id)).all())
    client.post("/care/claims/3/match", data={"csrf_token": token, "transaction_id": str(ids["t1"])})
    assert claim(app, 3).status == "resolved"
    zero = client.post("/care/claims/4/match", data={"csrf_token": token, "transaction_id": str(ids["SMALL-1"])})
    assert zero.status_code == 422 and "earned no points" in zero.get_data(as_text=True)
    assert claim(app, 4).status == "open" and claim(app, 4).transaction_id is None
