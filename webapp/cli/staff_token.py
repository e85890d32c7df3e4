"""``flask staff-token create``: management API tokens for staff."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from campaigns.access import providers

from ..extensions import db, db_session

staff_cli = AppGroup("staff-token", help="Management API tokens for staff.")


@staff_cli.command("create")
@click.argument("name")
def staff_token_create(name: str) -> None:
    """Create a staff token for the management API; printed alone on the last line."""
    key = providers.issue_key(db_session(), "staff", name)
    db.session.commit()
    click.echo(f"Created staff token '{name}'. It is shown only this once:")
    click.echo(key)
