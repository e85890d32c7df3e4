"""``flask notify send|expiring``: customer notifications."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from workers.sweeper import queue_expiring_notices

from ..extensions import runtime

notify_cli = AppGroup("notify", help="Customer notifications: send the outbox, queue expiring-points notices.")


@notify_cli.command("send")
def notify_send() -> None:
    """Send what is due in the outbox now (SMS through the configured gateway, provider webhooks)."""
    click.echo(json.dumps(runtime().send_notifications()))


@notify_cli.command("expiring")
def notify_expiring() -> None:
    """Queue 'points expiring within 30 days' notices (one per customer per month; workers do it hourly)."""
    click.echo(f"{queue_expiring_notices(runtime())} customers notified")
