"""``flask rewards import``: the rewards catalog from a file."""

from __future__ import annotations

from pathlib import Path

import click
import yaml
from flask.cli import AppGroup

from campaigns.accounts import rewards
from campaigns.errors import DomainError
from campaigns.i18n import N_

from ..extensions import db, db_session
from .common import fail, say

rewards_cli = AppGroup("rewards", help="The rewards catalog.")


@rewards_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def rewards_import(file: Path) -> None:
    """Create or update rewards from a YAML/JSON list (code, name, cost, stock, eligibility...)."""
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    items = data.get("rewards", data) if isinstance(data, dict) else data
    if not isinstance(items, list):
        fail(DomainError("validation_error", "the file must hold a list of rewards"))
    try:
        for i, item in enumerate(items):
            try:
                rewards.save_reward(db_session(), item, actor="cli")
            except DomainError as err:
                err.fields = [type(f)(f"[{i}].{f.path}", f.reason) for f in err.fields]
                raise
        db.session.commit()
    except DomainError as err:
        db.session.rollback()
        fail(err)
    say(N_("Saved {count} reward(s)."), count=len(items))
