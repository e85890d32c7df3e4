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
@click.option("--customers", default=60, show_default=True, help="Demo customers to create.")
@click.option("--transactions", default=300, show_default=True, help="Demo transactions to post.")
@click.option("--if-empty", is_flag=True, help="Seed only a database without demo data; else show its kept keys.")
@click.option(
    "--keys-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("instance"),
    show_default=True,
    help="Where this database's keys file (demo-keys-<backend>-<database>.txt) is kept.",
)
def demo_seed(customers: int, transactions: int, if_empty: bool, keys_dir: Path) -> None:
    """Demo providers, campaigns, customers and transactions (credited when a worker runs)."""
    url = settings().database_url
    keys_file = keys_dir / demo.keys_filename(url)
    if if_empty and demo.is_seeded(db_session()):
        click.echo(f"demo data already seeded in this database; its keys ({keys_file}):")
        if keys_file.is_file():
            click.echo(keys_file.read_text(encoding="utf-8").rstrip())
        else:
            click.echo("  (no keys file: they were printed when this database was seeded)")
        return
    summary = demo.seed(db_session(), customers=customers, transactions=transactions)
    db.session.commit()
    announce_publication()
    queue = dispatcher()
    queue.dispatch(summary.pairs)
    if isinstance(queue, InlineDispatcher):
        queue.drain_now()
    click.echo(f"Seeded {len(summary.pairs)} transactions, {summary.campaigns} campaigns.")
    lines = [f"  provider {code}: {key}" for code, key in summary.keys.items()]
    if summary.staff_token:
        lines.append(f"  staff token: {summary.staff_token}")
    lines += [f"  user {email} ({role}) password: {password}" for email, (role, password) in summary.users.items()]
    for line in lines:
        click.echo(line)
    if summary.keys:  # a first seeding: the only time these keys and passwords exist in clear
        demo.write_keys(keys_file, url, lines)
        click.echo(f"keys kept in {keys_file}")
