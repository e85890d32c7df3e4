"""``flask ledger check|rollup``: prove the books balance; the dashboard's daily rollup."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from campaigns.accounts import ledger
from workers.sweeper import rollup

from ..extensions import db_session, runtime

ledger_cli = AppGroup("ledger", help="Ledger checks.")


@ledger_cli.command("check")
def ledger_check() -> None:
    """Prove the books balance: balance == sum(ledger), no over-reversal, the money adds up; exits 1 otherwise."""
    problems = ledger.check_invariants(db_session())
    for p in problems:
        click.echo(p)
    if problems:
        sys.exit(1)
    click.echo("ledger OK")


@ledger_cli.command("rollup")
def ledger_rollup() -> None:
    """Bring the dashboard's daily rollup (daily_stats) up to yesterday; workers do it every few minutes."""
    click.echo(f"{rollup(runtime())} day(s) rolled up.")
