"""What the programme says: the outbox, SMS gateways, webhooks and message texts."""
