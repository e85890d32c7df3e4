"""``flask providers create|set-phone-authority|rotate-key|revoke-key``: providers and their API keys."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from campaigns.access import providers
from campaigns.clearing import rates
from campaigns.errors import DomainError

from ..extensions import db, db_session
from .common import fail

providers_cli = AppGroup("providers", help="Manage providers and their API keys.")


@providers_cli.command("create")
@click.argument("code")
@click.option("--name", required=True, help="Display name, e.g. 'Viettel Telecom'.")
@click.option("--name-en", default=None, help="The name customers reading English see, when it differs.")
@click.option("--phone-authority", is_flag=True, help="Trust its number lifecycle events (release, SIM swap).")
def providers_create(code: str, name: str, name_en: str | None, phone_authority: bool) -> None:
    """Create a provider; prints its API key once, alone on the last line."""
    try:
        provider, key = providers.create_provider(
            db_session(), code, name, phone_authority=phone_authority, name_en=name_en
        )
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
        providers.set_phone_authority(db_session(), code, value)
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


@providers_cli.command("rates")
@click.argument("code")
@click.option("--issue-cost", type=int, default=None, help="VND the funder pays per point it funds.")
@click.option("--redemption-rate", type=int, default=None, help="VND paid per point redeemed through it.")
@click.option("--from", "effective_from", default=None, help="YYYY-MM-DD, today or later (default: now).")
def providers_rates(code: str, issue_cost: int | None, redemption_rate: int | None, effective_from: str | None) -> None:
    """Set a provider's rates (or 'programme' for its own); with no option, list the rate history."""
    try:
        if issue_cost is None and redemption_rate is None:
            view = rates.history(db_session(), code)
        else:
            current = rates.history(db_session(), code)["current"]
            rates.set_rates(
                db_session(),
                code,
                current["issue_cost"] if issue_cost is None else issue_cost,
                current["redemption_rate"] if redemption_rate is None else redemption_rate,
                effective_from=effective_from,
                actor="cli",
            )
            db.session.commit()
            view = rates.history(db_session(), code)
    except DomainError as err:
        db.session.rollback()
        fail(err)
    for r in view["history"]:
        click.echo(
            f"from {r['effective_from'].isoformat()}  issue_cost {r['issue_cost']:>8,} VND/pt"
            f"  redemption_rate {r['redemption_rate']:>8,} VND/pt  (by {r['set_by']})"
        )
    cur = view["current"]
    click.echo(
        f"{code} now: issue_cost {cur['issue_cost']:,}, redemption_rate {cur['redemption_rate']:,} VND per point"
    )
