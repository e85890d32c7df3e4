"""``flask tiers requalify`` and ``flask lifecycle``: tier requalification and the points lifecycle."""

from __future__ import annotations

import time

import click
from flask.cli import AppGroup, with_appcontext

from campaigns.accounts import lifecycle
from campaigns.privacy import retention

from ..extensions import runtime

tiers_cli = AppGroup("tiers", help="Tier requalification.")


@click.command("lifecycle")
@click.option("--requalify", is_flag=True, help="Also re-evaluate every customer's tier.")
@with_appcontext
def lifecycle_command(requalify: bool) -> None:
    """Release pending points, convert (setting expired_points) and expire what is due, delete personal data past
    its retention (the workers also run this every few minutes)."""
    rt = runtime()
    report = lifecycle.run_all(rt.session_factory, rt.published, requalify=requalify)
    with rt.session_factory() as session:
        purged = retention.purge(session)
        session.commit()
    click.echo(
        f"released {report.released} lots ({report.released_points} points), "
        f"converted {report.converted} customers' expiring points ({report.converted_points} points), "
        f"expired {report.expired} lots ({report.expired_points} points); "
        f"tiers: {report.customers} customers, {report.upgraded} up, {report.downgraded} down; {purged}"
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
