"""``flask phones reattach|lift-hold``: the care centre's side of the number lifecycle (both audited)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from campaigns.customers import numbers
from campaigns.customers.identity import normalize_phone
from campaigns.errors import DomainError

from ..extensions import db, db_session
from .common import fail

phones_cli = AppGroup("phones", help="Number lifecycle: re-attach a ported-back number, lift a SIM-swap hold.")


def _phone_action(action: str, phone: str, reason: str, actor: str) -> None:
    try:
        number = normalize_phone(phone)
    except ValueError as exc:
        fail(DomainError("validation_error", str(exc)))
    try:
        if action == "reattach":
            cid = numbers.reattach(db_session(), number, actor=actor, reason=reason)
            message = f"{number} is attached to customer {cid} again."
        else:
            numbers.lift_hold(db_session(), number, actor=actor, reason=reason)
            message = f"The SIM-swap hold on {number} is lifted."
        db.session.commit()
    except DomainError as err:
        db.session.rollback()
        fail(err)
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
