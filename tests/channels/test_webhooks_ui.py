"""Webhook deliveries in the staff UI: visible with their status to their provider's staff, and replayable."""

from __future__ import annotations

from tests.channels.helpers import earn, outbox, programme
from tests.helpers.factories import make_user
from tests.helpers.web import csrf_token, login


def test_deliveries_page_scoped_to_the_provider_and_replay(app, client, telecom, shop, staff, work):
    programme(client, staff, rewards=False)
    client.post(
        "/api/v1/webhooks",
        json={"url": "https://telecom.example/hooks", "events": ["points_credited"]},
        headers=telecom.headers,
    )
    app.extensions["loyalty.runtime"].webhook_post = lambda url, body, headers: 500
    try:
        earn(client, telecom, work, "w1", 600_000)
    finally:
        app.extensions["loyalty.runtime"].webhook_post = None
    row = next(r for r in outbox(app, channel="webhook") if r.template == "points_credited")

    make_user(app, "ops@telecom.example", "provider", provider="telecom")
    make_user(app, "ops@shop.example", "provider", provider="shop")
    other = app.test_client()
    login(other, "ops@shop.example")
    page = other.get("/webhooks").get_data(as_text=True)
    assert "telecom.example" not in page and "No deliveries." in page
    assert (
        other.post(f"/webhooks/{row.id}/replay", data={"csrf_token": csrf_token(other, "/webhooks")}).status_code == 404
    )

    login(client, "ops@telecom.example")
    page = client.get("/webhooks").get_data(as_text=True)
    assert "https://telecom.example/hooks" in page and "points_credited" in page and "receiver answered 500" in page
    replayed = client.post(f"/webhooks/{row.id}/replay", data={"csrf_token": csrf_token(client, "/webhooks")})
    assert replayed.status_code == 302
    again = next(r for r in outbox(app, channel="webhook") if r.id == row.id)
    assert again.status == "pending" and again.next_attempt_at is None
