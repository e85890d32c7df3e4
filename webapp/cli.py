"""Flask CLI: ``flask --app wsgi providers|staff-token|campaigns|demo|worker|ledger|sweep ...``."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from campaigns import catalog, ledger, providers
from campaigns.demo import seed
from campaigns.errors import DomainError
from workers.inline import InlineDispatcher
from workers.runtime import Runtime
from workers.sweeper import sweep
from workers.worker import run_worker

from .extensions import db

providers_cli = AppGroup("providers", help="Manage providers and their API keys.")
staff_cli = AppGroup("staff-token", help="Management API tokens for staff.")
campaigns_cli = AppGroup("campaigns", help="Import, validate and publish campaign documents.")
demo_cli = AppGroup("demo", help="Demo data for a first look.")
ledger_cli = AppGroup("ledger", help="Ledger checks.")


def _fail(err: DomainError) -> None:
    click.echo(f"error: {err.message}", err=True)
    for f in err.fields:
        click.echo(f"  {f.path}: {f.reason}", err=True)
    sys.exit(1)


def _runtime() -> Runtime:
    return current_app.extensions["loyalty.runtime"]


@providers_cli.command("create")
@click.argument("code")
@click.option("--name", required=True, help="Display name, e.g. 'Viettel Telecom'.")
def providers_create(code: str, name: str) -> None:
    """Create a provider; prints its API key once, alone on the last line."""
    try:
        provider, key = providers.create_provider(db.session, code, name)
        db.session.commit()
    except DomainError as err:
        db.session.rollback()
        _fail(err)
    click.echo(f"Created provider '{provider.code}' ({provider.name}), id {provider.id}.")
    click.echo("Its API key follows; it is shown only this once (only its hash is stored):")
    click.echo(key)


@providers_cli.command("rotate-key")
@click.argument("code")
def providers_rotate(code: str) -> None:
    """Issue an additional key (revoke the old one once the provider switched)."""
    try:
        key = providers.rotate_provider_key(db.session, code)
        db.session.commit()
    except DomainError as err:
        _fail(err)
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


@staff_cli.command("create")
@click.argument("name")
def staff_token_create(name: str) -> None:
    """Create a staff token for the management API; printed alone on the last line."""
    key = providers.issue_key(db.session, "staff", name)
    db.session.commit()
    click.echo(f"Created staff token '{name}'. It is shown only this once:")
    click.echo(key)


@campaigns_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--publish", is_flag=True, help="Publish the imported version at once.")
@click.option("--author", default="cli", show_default=True)
def campaigns_import(file: Path, publish: bool, author: str) -> None:
    """Import a JSON or YAML campaign document; validation errors name their exact path."""
    fmt = "json" if file.suffix.lower() == ".json" else "yaml"
    try:
        version = catalog.import_document(
            db.session, file.read_text(encoding="utf-8"), fmt=fmt, author=author, publish=publish
        )
        db.session.commit()
    except DomainError as err:
        db.session.rollback()
        _fail(err)
    if publish:
        current_app.extensions["loyalty.dispatcher"].announce_publication(catalog.publication_counter(db.session))
    state = "published" if publish else "saved as draft"
    click.echo(f"Campaign {version.campaign_id} version {version.version} {state}.")


@campaigns_cli.command("validate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def campaigns_validate(file: Path) -> None:
    fmt = "json" if file.suffix.lower() == ".json" else "yaml"
    try:
        doc = catalog.validate(file.read_text(encoding="utf-8"), fmt)
    except DomainError as err:
        _fail(err)
    click.echo(f"valid: {doc.name}")


@campaigns_cli.command("publish")
@click.argument("campaign_id", type=int)
@click.option("--version", type=int, default=None)
def campaigns_publish(campaign_id: int, version: int | None) -> None:
    from campaigns.models import Campaign

    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        _fail(DomainError("not_found", f"campaign {campaign_id} not found"))
    try:
        catalog.publish_version(db.session, campaign_id, version or campaign.latest_version, author="cli")
        db.session.commit()
    except DomainError as err:
        _fail(err)
    current_app.extensions["loyalty.dispatcher"].announce_publication(catalog.publication_counter(db.session))
    click.echo(f"Campaign {campaign_id} published.")


@demo_cli.command("seed")
@click.option("--customers", default=60, show_default=True)
@click.option("--transactions", default=300, show_default=True)
def demo_seed(customers: int, transactions: int) -> None:
    """Demo providers, campaigns, customers and transactions (credited when a worker runs)."""
    summary = seed(db.session, customers=customers, transactions=transactions)
    db.session.commit()
    dispatcher = current_app.extensions["loyalty.dispatcher"]
    dispatcher.announce_publication(catalog.publication_counter(db.session))
    dispatcher.dispatch(summary.pairs)
    if isinstance(dispatcher, InlineDispatcher):
        dispatcher.drain_now()
    click.echo(f"Seeded {len(summary.pairs)} transactions, {summary.campaigns} campaigns.")
    for code, key in summary.keys.items():
        click.echo(f"  provider {code}: {key}")
    if summary.staff_token:
        click.echo(f"  staff token: {summary.staff_token}")


@click.command("worker")
@with_appcontext
@click.argument("partitions", nargs=-1)
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--fork", is_flag=True, help="Fork a work horse per job (RQ's default Worker).")
def worker_command(partitions: tuple[str, ...], burst: bool, fork: bool) -> None:
    """Run an RQ worker over all accrual partitions, or those named (numbers or queue names)."""
    rt = _runtime()
    if rt.redis is None:
        dispatcher = current_app.extensions["loyalty.dispatcher"]
        click.echo("No REDIS_URL: crediting from the embedded database queue.")
        while True:
            n = dispatcher.drain_now()
            if burst:
                click.echo(f"Credited {n} transactions.")
                return
            time.sleep(1.0)
    parts = [int(p.rsplit("-", 1)[-1]) for p in partitions]
    bad = [p for p in parts if not 0 <= p < rt.partitions]
    if bad:
        raise click.BadParameter(f"partitions are 0..{rt.partitions - 1}, got {bad}")
    settings = current_app.config["LOYALTY"]
    run_worker(rt, partitions=parts or None, burst=burst, fork=fork, sweep_interval=settings.sweep_interval_seconds)


@click.command("sweep")
@with_appcontext
@click.option("--older-than", default=0, show_default=True, help="Seconds a transaction has waited.")
def sweep_command(older_than: int) -> None:
    """Re-dispatch transactions still queued (after a Redis flush, say)."""
    rt = _runtime()
    if rt.redis is None:
        n = current_app.extensions["loyalty.dispatcher"].drain_now()
        click.echo(f"Credited {n} queued transactions.")
        return
    click.echo(f"Re-dispatched {sweep(rt, older_than_seconds=older_than)} transactions.")


@ledger_cli.command("check")
def ledger_check() -> None:
    """Prove the books balance: balance == sum(ledger), no over-reversal; exits 1 otherwise."""
    problems = ledger.check_invariants(db.session)
    for p in problems:
        click.echo(p)
    if problems:
        sys.exit(1)
    click.echo("ledger OK")


def register_cli(app: Flask) -> None:
    for group in (providers_cli, staff_cli, campaigns_cli, demo_cli, ledger_cli):
        app.cli.add_command(group)
    app.cli.add_command(worker_command)
    app.cli.add_command(sweep_command)
