"""``flask settings set|show``: programme settings."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from campaigns.catalog import programme
from campaigns.errors import DomainError

from ..extensions import announce_publication, db, db_session
from .common import fail

settings_cli = AppGroup("settings", help="Programme settings (expiry policy, negative balances, caps).")


@settings_cli.command("set")
@click.argument("key")
@click.argument("value")
def settings_set(key: str, value: str) -> None:
    """KEY and a JSON VALUE, e.g. points_expiry '{"policy": "rolling_months", "months": 24}'."""
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = value
    try:
        programme.set_value(db_session(), key, parsed, actor="cli")
        db.session.commit()
    except DomainError as err:
        fail(err)
    announce_publication()
    click.echo(f"{key} = {json.dumps(parsed)}")


@settings_cli.command("show")
def settings_show() -> None:
    """Print every programme setting with its current value (JSON)."""
    p = programme.load(db_session())
    for key in programme.DEFAULTS:
        click.echo(f"{key} = {json.dumps(getattr(p, key))}")
