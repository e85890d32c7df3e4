"""``flask settlement close|show``: coalition clearing by month."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from campaigns.clearing import periods
from campaigns.errors import DomainError

from ..extensions import db, db_session
from .common import fail

settlement_cli = AppGroup("settlement", help="Coalition clearing: close a month, print its statements.")


@settlement_cli.command("close")
@click.argument("period")
def settlement_close(period: str) -> None:
    """Close a month (YYYY-MM, programme time zone): its statements are computed, stored and never change."""
    try:
        view = periods.close(db_session(), period, actor="cli")
        db.session.commit()
    except DomainError as err:
        db.session.rollback()
        fail(err)
    click.echo(f"Closed {period}.")
    for st in view["statements"]:
        click.echo(f"  {st['party']:<16} net {st['net']:>16,} VND")
    click.echo(f"  {'total':<16}     {view['total']:>16,} VND")


@settlement_cli.command("show")
@click.argument("period")
@click.option("--csv", "as_csv", is_flag=True, help="Every line as CSV.")
def settlement_show(period: str, as_csv: bool) -> None:
    """A month's statements (stored if closed, provisional if open)."""
    try:
        view = periods.statement(db_session(), period)
    except DomainError as err:
        fail(err)
    if as_csv:
        click.echo(periods.as_csv(view), nl=False)
        return
    click.echo(f"{period} ({view['status']})")
    for st in view["statements"]:
        click.echo(f"  {st['party']:<16} net {st['net']:>16,} VND")
