"""``flask demo seed``: demo data for a first look."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from campaigns.demo import seed
from workers.inline import InlineDispatcher

from ..extensions import announce_publication, db, db_session, dispatcher

demo_cli = AppGroup("demo", help="Demo data for a first look.")


@demo_cli.command("seed")
@click.option("--customers", default=60, show_default=True)
@click.option("--transactions", default=300, show_default=True)
def demo_seed(customers: int, transactions: int) -> None:
    """Demo providers, campaigns, customers and transactions (credited when a worker runs)."""
    summary = seed(db_session(), customers=customers, transactions=transactions)
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
