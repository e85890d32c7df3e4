"""Flask CLI: ``flask --app wsgi providers|staff-token|campaigns|demo|worker|ledger|transactions|customers ...``."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path

import click
import yaml
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from campaigns.access import providers, users
from campaigns.accounts import ledger, lifecycle, rewards
from campaigns.accrual import simulation
from campaigns.catalog import documents as catalog
from campaigns.catalog import programme
from campaigns.demo import seed
from campaigns.errors import DomainError
from workers.imports import IMPORT_QUEUE
from workers.inline import InlineDispatcher
from workers.queues import CARE_QUEUE
from workers.sweeper import sweep
from workers.worker import MemoryLimitReached, run_worker

from .extensions import announce_publication, db, dispatcher, embedded_queue, runtime, settings

providers_cli = AppGroup("providers", help="Manage providers and their API keys.")
staff_cli = AppGroup("staff-token", help="Management API tokens for staff.")
campaigns_cli = AppGroup("campaigns", help="Import, validate and publish campaign documents.")
demo_cli = AppGroup("demo", help="Demo data for a first look.")
ledger_cli = AppGroup("ledger", help="Ledger checks.")
rewards_cli = AppGroup("rewards", help="The rewards catalog.")
settings_cli = AppGroup("settings", help="Programme settings (expiry policy, negative balances, caps).")
tiers_cli = AppGroup("tiers", help="Tier requalification.")
notify_cli = AppGroup("notify", help="Customer notifications: send the outbox, queue expiring-points notices.")
users_cli = AppGroup("users", help="Staff users of the web UI (roles: admin, marketer, analyst, care, provider).")
transactions_cli = AppGroup("transactions", help="Bulk transaction files from providers.")
customers_cli = AppGroup("customers", help="Customer migrations with opening balances.")
imports_cli = AppGroup("imports", help="Bulk imports: status and error reports.")
phones_cli = AppGroup("phones", help="Number lifecycle: re-attach a ported-back number, lift a SIM-swap hold.")


def _phone_action(action: str, phone: str, reason: str, actor: str) -> None:
    from campaigns.customers import numbers
    from campaigns.customers.identity import normalize_phone

    try:
        number = normalize_phone(phone)
    except ValueError as exc:
        _fail(DomainError("validation_error", str(exc)))
    try:
        if action == "reattach":
            cid = numbers.reattach(db.session, number, actor=actor, reason=reason)
            message = f"{number} is attached to customer {cid} again."
        else:
            numbers.lift_hold(db.session, number, actor=actor, reason=reason)
            message = f"The SIM-swap hold on {number} is lifted."
        db.session.commit()
    except DomainError as err:
        db.session.rollback()
        _fail(err)
    click.echo(message)


@phones_cli.command("reattach")
@click.argument("phone")
@click.option("--reason", required=True, help="Why, e.g. 'ported back, ticket 123'.")
@click.option("--actor", default="cli", show_default=True, help="Who does it (for the audit log).")
def phones_reattach(phone: str, reason: str, actor: str) -> None:
    """Give a released number back to the customer it was released from (audited)."""
    _phone_action("reattach", phone, reason, actor)


@phones_cli.command("lift-hold")
@click.argument("phone")
@click.option("--reason", required=True, help="How the person's identity was checked.")
@click.option("--actor", default="cli", show_default=True, help="Who does it (for the audit log).")
def phones_lift_hold(phone: str, reason: str, actor: str) -> None:
    """End a SIM-swap hold after checking the person's identity (audited)."""
    _phone_action("lift-hold", phone, reason, actor)


def _fail(err: DomainError) -> None:
    click.echo(f"error: {err.message}", err=True)
    for f in err.fields:
        click.echo(f"  {f.path}: {f.reason}", err=True)
    sys.exit(1)


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
        _fail(err)
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
        _fail(err)
    click.echo(f"Provider '{code}' is {'now' if value else 'no longer'} the authority for phone numbers.")


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


@users_cli.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(list(users.ROLES)))
@click.option("--provider", "provider_code", default=None, help="Provider code (role provider only).")
@click.option("--name", default="", help="Display name.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Prompted for (hidden) when not given; at least 10 characters.",
)
def users_create(email: str, role: str, provider_code: str | None, name: str, password: str) -> None:
    """Create a staff user who signs in to the web UI with EMAIL and the password."""
    try:
        user = users.create_user(db.session, email, password, role, provider_code=provider_code, name=name)
        db.session.commit()
    except DomainError as err:
        db.session.rollback()
        _fail(err)
    scope = f" of provider '{provider_code}'" if provider_code else ""
    click.echo(f"Created user {user.email} ({user.role}{scope}), id {user.id}.")


@users_cli.command("list")
def users_list() -> None:
    for u in users.list_users(db.session):
        state = "locked" if u["locked"] else ("active" if u["active"] else "inactive")
        click.echo(f"{u['id']:>4}  {u['email']:<32} {u['role']:<9} {u['provider'] or '-':<10} {state}")


@users_cli.command("set-password")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def users_set_password(email: str, password: str) -> None:
    """Reset a user's password (and unlock the account; their sessions end)."""
    try:
        user = users.get_by_email(db.session, email)
        users.set_password(db.session, user, password, actor="cli")
        db.session.commit()
    except DomainError as err:
        db.session.rollback()
        _fail(err)
    click.echo(f"Password of {email} changed.")


@users_cli.command("unlock")
@click.argument("email")
def users_unlock(email: str) -> None:
    try:
        user = users.get_by_email(db.session, email)
    except DomainError as err:
        _fail(err)
    users.unlock(db.session, user, actor="cli")
    db.session.commit()
    click.echo(f"{email} unlocked.")


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
        announce_publication()
    state = "published" if publish else "saved as draft"
    click.echo(f"Campaign {version.campaign_id} version {version.version} {state}.")


@campaigns_cli.command("validate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def campaigns_validate(file: Path) -> None:
    fmt = "json" if file.suffix.lower() == ".json" else "yaml"
    try:
        doc = catalog.validate(file.read_text(encoding="utf-8"), fmt, db.session)
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
    announce_publication()
    click.echo(f"Campaign {campaign_id} published.")


@campaigns_cli.command("publish-due")
def campaigns_publish_due() -> None:
    """Publish the versions whose scheduled time has come (workers do it every sweep interval)."""
    done = catalog.publish_due(db.session)
    db.session.commit()
    if done:
        announce_publication()
    for campaign_id, version in done:
        click.echo(f"Campaign {campaign_id}: version {version} published.")
    click.echo(f"{len(done)} scheduled publication(s) applied.")


@ledger_cli.command("rollup")
def ledger_rollup() -> None:
    """Bring the dashboard's daily rollup (daily_stats) up to yesterday; workers do it every few minutes."""
    from workers.sweeper import rollup

    click.echo(f"{rollup(runtime())} day(s) rolled up.")


@demo_cli.command("seed")
@click.option("--customers", default=60, show_default=True)
@click.option("--transactions", default=300, show_default=True)
def demo_seed(customers: int, transactions: int) -> None:
    """Demo providers, campaigns, customers and transactions (credited when a worker runs)."""
    summary = seed(db.session, customers=customers, transactions=transactions)
    db.session.commit()
    announce_publication()
    queue = dispatcher()
    queue.dispatch(summary.pairs)
    if isinstance(queue, InlineDispatcher):
        queue.drain_now()
    click.echo(f"Seeded {len(summary.pairs)} transactions, {summary.campaigns} campaigns.")
    for code, key in summary.keys.items():
        click.echo(f"  provider {code}: {key}")
    if summary.staff_token:
        click.echo(f"  staff token: {summary.staff_token}")
    for email, (role, password) in summary.users.items():
        click.echo(f"  user {email} ({role}) password: {password}")


@click.command("worker")
@with_appcontext
@click.argument("partitions", nargs=-1)
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--fork", is_flag=True, help="Fork a work horse per job (RQ's default Worker).")
@click.option("--no-imports", is_flag=True, help="Leave the loyalty-imports queue to other workers.")
@click.option("--no-care", is_flag=True, help="Leave the care monitor (loyalty-care) to other workers.")
def worker_command(partitions: tuple[str, ...], burst: bool, fork: bool, no_imports: bool, no_care: bool) -> None:
    """Run an RQ worker over all accrual partitions, the imports and the care queues, or those named
    (numbers or queue names, and 'imports' / 'care': naming either leaves out the one not named)."""
    rt = runtime()
    if rt.redis is None:
        queue = embedded_queue()
        click.echo("No REDIS_URL: crediting from the embedded database queue.")
        while True:
            n = queue.drain_now()
            if burst:
                click.echo(f"Credited {n} transactions.")
                return
            time.sleep(1.0)
    special = {"imports": "imports", IMPORT_QUEUE: "imports", "care": "care", CARE_QUEUE: "care"}
    named = [p for p in partitions if p not in special]
    extra = {special[p] for p in partitions if p in special}
    try:
        parts = [int(p.rsplit("-", 1)[-1]) for p in named]
    except ValueError:
        raise click.BadParameter(
            f"name partitions by number or queue name, 'imports' or 'care'; got {partitions}"
        ) from None
    bad = [p for p in parts if not 0 <= p < rt.partitions]
    if bad:
        raise click.BadParameter(f"partitions are 0..{rt.partitions - 1}, got {bad}")
    conf = settings()
    try:
        run_worker(
            rt,
            partitions=parts if named or partitions else None,  # 'imports' or 'care' alone: no partitions
            imports=not no_imports and (not extra or "imports" in extra),
            care=not no_care and (not extra or "care" in extra),
            burst=burst,
            fork=fork,
            sweep_interval=conf.sweep_interval_seconds,
            max_memory_mb=conf.worker_max_memory_mb,
        )
    except MemoryLimitReached:
        # The same command in a fresh process image: same pid, so a supervisor sees no exit.
        logging.shutdown()
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


@click.command("sweep")
@with_appcontext
@click.option("--older-than", default=0, show_default=True, help="Seconds a transaction has waited.")
def sweep_command(older_than: int) -> None:
    """Re-dispatch transactions still queued (after a Redis flush, say)."""
    rt = runtime()
    if rt.redis is None:
        n = embedded_queue().drain_now()
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


@rewards_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def rewards_import(file: Path) -> None:
    """Create or update rewards from a YAML/JSON list (code, name, cost, stock, eligibility...)."""
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    items = data.get("rewards", data) if isinstance(data, dict) else data
    if not isinstance(items, list):
        _fail(DomainError("validation_error", "the file must hold a list of rewards"))
    try:
        for i, item in enumerate(items):
            try:
                rewards.save_reward(db.session, item, actor="cli")
            except DomainError as err:
                err.fields = [type(f)(f"[{i}].{f.path}", f.reason) for f in err.fields]
                raise
        db.session.commit()
    except DomainError as err:
        db.session.rollback()
        _fail(err)
    click.echo(f"Saved {len(items)} reward(s).")


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
        programme.set_value(db.session, key, parsed, actor="cli")
        db.session.commit()
    except DomainError as err:
        _fail(err)
    announce_publication()
    click.echo(f"{key} = {json.dumps(parsed)}")


@settings_cli.command("show")
def settings_show() -> None:
    p = programme.load(db.session)
    for key in programme.DEFAULTS:
        click.echo(f"{key} = {json.dumps(getattr(p, key))}")


@click.command("lifecycle")
@click.option("--requalify", is_flag=True, help="Also re-evaluate every customer's tier.")
@with_appcontext
def lifecycle_command(requalify: bool) -> None:
    """Release pending points, expire what is due (the workers also run this every few minutes)."""
    rt = runtime()
    report = lifecycle.run_all(rt.session_factory, rt.published, requalify=requalify)
    click.echo(
        f"released {report.released} lots ({report.released_points} points), "
        f"expired {report.expired} lots ({report.expired_points} points); "
        f"tiers: {report.customers} customers, {report.upgraded} up, {report.downgraded} down"
    )


@tiers_cli.command("requalify")
def tiers_requalify() -> None:
    """Re-evaluate every customer's tier now (downgrades respect the grace period)."""
    rt = runtime()
    started = time.monotonic()
    report = lifecycle.run_all(rt.session_factory, rt.published, requalify=True)
    click.echo(
        f"{report.customers} customers in {time.monotonic() - started:.1f}s: "
        f"{report.upgraded} up, {report.downgraded} down"
    )


@campaigns_cli.command("simulate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--transaction",
    "txn_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Sample transaction (JSON).",
)
@click.option("--days", type=int, default=None, help="Replay the last N days of real transactions.")
def campaigns_simulate(file: Path, txn_file: Path | None, days: int | None) -> None:
    """Dry-run a draft document: which rules fire on a sample, or what it would have cost. No writes."""
    fmt = "json" if file.suffix.lower() == ".json" else "yaml"
    try:
        if txn_file is not None:
            result = simulation.sample(
                db.session, file.read_text(encoding="utf-8"), json.loads(txn_file.read_text()), fmt=fmt
            )
        else:
            result = simulation.replay(db.session, file.read_text(encoding="utf-8"), days=days or 30, fmt=fmt)
    except DomainError as err:
        _fail(err)
    db.session.rollback()
    click.echo(json.dumps(result, indent=2, default=str, ensure_ascii=False))


@notify_cli.command("send")
def notify_send() -> None:
    """Send what is due in the outbox now (SMS through the configured gateway, provider webhooks)."""
    click.echo(json.dumps(runtime().send_notifications()))


@notify_cli.command("expiring")
def notify_expiring() -> None:
    """Queue 'points expiring within 30 days' notices (one per customer per month; workers do it hourly)."""
    from workers.sweeper import queue_expiring_notices

    click.echo(f"{queue_expiring_notices(runtime())} customers notified")


def register_cli(app: Flask) -> None:
    from .imports_cli import register

    app.cli.add_command(lifecycle_command)
    for group in (
        providers_cli,
        staff_cli,
        campaigns_cli,
        demo_cli,
        ledger_cli,
        rewards_cli,
        settings_cli,
        tiers_cli,
        users_cli,
        notify_cli,
        phones_cli,
    ):
        app.cli.add_command(group)
    register(transactions_cli, customers_cli, imports_cli)
    for group in (transactions_cli, customers_cli, imports_cli):
        app.cli.add_command(group)
    app.cli.add_command(worker_command)
    app.cli.add_command(sweep_command)
