"""``flask providers create|set-phone-authority|rotate-key|revoke-key``: providers and their API keys."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from campaigns.access import providers
from campaigns.errors import DomainError

from ..extensions import db
from .common import fail

providers_cli = AppGroup("providers", help="Manage providers and their API keys.")


@providers_cli.command("create")
@click.argument("code")
@click.option("--name", required=True, help="Display name, e.g. 'Viettel Telecom'.")
@click.option("--phone-authority", is_flag=True, help="Trust its number lifecycle events (release, SIM swap).")
def providers_create(code: str, name: str, phone_authority: bool) -> None:
    """Create a provider; prints its API key once, alone on the last line."""
    try:
        provider, key = providers.create_provider(db.session, code, name, phone_authority=phone_authority)
        db.session.commit()
    except DomainError as err:
        db.session.rollback()
        fail(err)
    click.echo(f"Created provider '{provider.code}' ({provider.name}), id {provider.id}.")
    click.echo("Its API key follows; it is shown only this once (only its hash is stored):")
    click.echo(key)


@providers_cli.command("set-phone-authority")
@click.argument("code")
@click.option("--on/--off", "value", default=True, help="Trust (--on) or stop trusting (--off) its events.")
def providers_set_phone_authority(code: str, value: bool) -> None:
    """Mark an existing provider as the authority for phone numbers (audited)."""
    try:
        providers.set_phone_authority(db.session, code, value)
        db.session.commit()
    except DomainError as err:
        db.session.rollback()
        fail(err)
    click.echo(f"Provider '{code}' is {'now' if value else 'no longer'} the authority for phone numbers.")


@providers_cli.command("rotate-key")
@click.argument("code")
def providers_rotate(code: str) -> None:
    """Issue an additional key (revoke the old one once the provider switched)."""
    try:
        key = providers.rotate_provider_key(db.session, code)
        db.session.commit()
    except DomainError as err:
        fail(err)
    click.echo(f"New API key for '{code}' (shown once):")
    click.echo(key)


@providers_cli.command("revoke-key")
@click.argument("prefix")
def providers_revoke(prefix: str) -> None:
    """Revoke keys by their first 10 characters."""
    n = providers.revoke_key(db.session, prefix)
    db.session.commit()
    click.echo(f"Revoked {n} key(s).")
    if not n:
        sys.exit(1)
