"""``flask demo seed``: demo data for a first look."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from campaigns import demo
from workers.inline import InlineDispatcher

from ..extensions import announce_publication, db, db_session, dispatcher, settings

demo_cli = AppGroup("demo", help="Demo data for a first look.")


@demo_cli.command("seed")
@click.option("--customers", default=5000, show_default=True, help="Demo customers to create.")
@click.option("--transactions", default=30_000, show_default=True, help="About this many over the history.")
@click.option("--days", default=90, show_default=True, help="Days of history, today included.")
@click.option("--if-empty", is_flag=True, help="Seed only a database without demo data; else show its kept keys.")
@click.option(
    "--keys-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("instance"),
    show_default=True,
    help="Where this database's keys file (demo-keys-<backend>-<database>.txt) is kept.",
)
def demo_seed(customers: int, transactions: int, days: int, if_empty: bool, keys_dir: Path) -> None:
    """The example coalition programme (docs/examples/coalition) with its history: see campaigns/demo.py."""
    url = settings().database_url
    keys_file = keys_dir / demo.keys_filename(url)
    if if_empty and demo.is_seeded(db_session()):
        click.echo(f"demo data already seeded in this database; its keys ({keys_file}):")
        if keys_file.is_file():
            click.echo(keys_file.read_text(encoding="utf-8").rstrip())
        else:
            click.echo("  (no keys file: they were printed when this database was seeded)")
        return
    summary = demo.seed(db_session(), customers=customers, transactions=transactions, days=days)
    db.session.commit()
    announce_publication()
    queue = dispatcher()
    queue.dispatch(summary.pairs)
    if isinstance(queue, InlineDispatcher):
        queue.drain_now()
    if not summary.keys:
        click.echo("demo data already seeded in this database: nothing added")
        return
    click.echo(
        f"Seeded {summary.transactions} transactions of {summary.customers} customers over {days} days, "
        f"{summary.campaigns} campaigns, {summary.redemptions} redemptions, {summary.claims} claims, "
        f"closed months {', '.join(summary.closed_months) or 'none'}, {summary.alerts} live alert conditions "
        f"in {summary.seconds} s ({len(summary.pairs)} recent transactions queued for the worker)."
    )
    lines = [f"  provider {code}: {key}" for code, key in summary.keys.items()]
    if summary.staff_token:
        lines.append(f"  staff token: {summary.staff_token}")
    lines += [f"  user {email} ({role}) password: {password}" for email, (role, password) in summary.users.items()]
    for line in lines:
        click.echo(line)
    if summary.keys:  # a first seeding: the only time these keys and passwords exist in clear
        demo.write_keys(keys_file, url, lines)
        click.echo(f"keys kept in {keys_file}")
