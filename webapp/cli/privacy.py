"""``flask customers erase ID --reason TEXT``: the operator's erasure (campaigns/privacy/erasure.py).

Operators run it from a shell that already reaches the database, so a second person adds no protection there;
the command records who ran it (``--actor``) and, when given, who approved it (``--approved-by``), and writes
the same audit event as the two-admin staff flow.
"""

from __future__ import annotations

import click
from flask import current_app

from campaigns.errors import DomainError
from campaigns.privacy import erasure

from ..extensions import db, db_session
from .common import fail
from .imports import customers_cli


@customers_cli.command("erase")
@click.argument("customer_id", type=int)
@click.option("--reason", required=True, help="Why, e.g. 'request by the person, ticket 123'.")
@click.option("--actor", default="cli", show_default=True, help="Who runs it (for the audit log).")
@click.option("--approved-by", default=None, help="Who approved it (for the audit log).")
def customers_erase(customer_id: int, reason: str, actor: str, approved_by: str | None) -> None:
    """Erase a person: identities become keyed hashes, personal fields and texts go; the ledger stays."""
    try:
        done = erasure.erase(
            db_session(),
            customer_id,
            reason=reason,
            actor=actor,
            approved_by=approved_by,
            secret=str(current_app.config["SECRET_KEY"]),
        )
        db.session.commit()
    except DomainError as err:
        db.session.rollback()
        fail(err)
    click.echo(
        f"customer {customer_id} erased: {done['identities']} identities hashed "
        f"({done['phones_released']} numbers released), {done['claims']} claims blanked; ledger kept."
    )
