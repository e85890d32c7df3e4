"""``flask providers create|rotate-key|revoke-key``: providers and their API keys."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from campaigns.access import providers
from campaigns.errors import DomainError

from ..extensions import db, db_session
from .common import fail

providers_cli = AppGroup("providers", help="Manage providers and their API keys.")


@providers_cli.command("create")
@click.argument("code")
@click.option("--name", required=True, help="Display name, e.g. 'Viettel Telecom'.")
def providers_create(code: str, name: str) -> None:
    """Create a provider; prints its API key once, alone on the last line."""
    try:
        provider, key = providers.create_provider(db_session(), code, name)
        db.session.commit()
    except DomainError as err:
        db.session.rollback()
        fail(err)
    click.echo(f"Created provider '{provider.code}' ({provider.name}), id {provider.id}.")
    click.echo("Its API key follows; it is shown only this once (only its hash is stored):")
    click.echo(key)


@providers_cli.command("rotate-key")
@click.argument("code")
def providers_rotate(code: str) -> None:
    """Issue an additional key (revoke the old one once the provider switched)."""
    try:
        key = providers.rotate_provider_key(db_session(), code)
        db.session.commit()
    except DomainError as err:
        fail(err)
    click.echo(f"New API key for '{code}' (shown once):")
    click.echo(key)


@providers_cli.command("revoke-key")
@click.argument("prefix")
def providers_revoke(prefix: str) -> None:
    """Revoke keys by their first 10 characters."""
    n = providers.revoke_key(db_session(), prefix)
    db.session.commit()
    click.echo(f"Revoked {n} key(s).")
    if not n:
        sys.exit(1)
