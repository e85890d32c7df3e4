"""``flask campaigns import|validate|publish|publish-due|simulate``: campaign documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup

from campaigns.accrual import simulation
from campaigns.catalog import documents as catalog
from campaigns.errors import DomainError
from campaigns.models import Campaign

from ..extensions import announce_publication, db, db_session, settings
from .common import fail

campaigns_cli = AppGroup("campaigns", help="Import, validate and publish campaign documents.")


@campaigns_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--publish", is_flag=True, help="Publish the imported version at once.")
@click.option("--author", default="cli", show_default=True, help="Name recorded as the version's author.")
def campaigns_import(file: Path, publish: bool, author: str) -> None:
    """Import a JSON or YAML campaign document; validation errors name their exact path."""
    fmt = "json" if file.suffix.lower() == ".json" else "yaml"
    try:
        version = catalog.import_document(
            db_session(),
            file.read_text(encoding="utf-8"),
            fmt=fmt,
            author=author,
            publish=publish,
            require_approval=settings().require_approval,
        )
        db.session.commit()
    except DomainError as err:
        db.session.rollback()
        fail(err)
    if publish:
        announce_publication()
    state = "published" if publish else "saved as draft"
    click.echo(f"Campaign {version.campaign_id} version {version.version} {state}.")


@campaigns_cli.command("validate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def campaigns_validate(file: Path) -> None:
    """Check a campaign document (JSON or YAML) against the rules and the catalog; nothing is saved."""
    fmt = "json" if file.suffix.lower() == ".json" else "yaml"
    try:
        doc = catalog.validate(file.read_text(encoding="utf-8"), fmt, db_session())
    except DomainError as err:
        fail(err)
    click.echo(f"valid: {doc.name}")


@campaigns_cli.command("publish")
@click.argument("campaign_id", type=int)
@click.option("--version", type=int, default=None, help="Version to publish (default: the latest).")
def campaigns_publish(campaign_id: int, version: int | None) -> None:
    """Publish a saved version (it must be approved by a second marketer when the programme requires approval)."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        fail(DomainError("not_found", f"campaign {campaign_id} not found"))
    try:
        catalog.publish_version(
            db_session(),
            campaign_id,
            version or campaign.latest_version,
            author="cli",
            require_approval=settings().require_approval,
        )
        db.session.commit()
    except DomainError as err:
        db.session.rollback()
        fail(err)
    announce_publication()
    click.echo(f"Campaign {campaign_id} published.")


@campaigns_cli.command("publish-due")
def campaigns_publish_due() -> None:
    """Publish the versions whose scheduled time has come (workers do it every sweep interval)."""
    done = catalog.publish_due(db_session(), require_approval=settings().require_approval)
    db.session.commit()
    if done:
        announce_publication()
    for campaign_id, version in done:
        click.echo(f"Campaign {campaign_id}: version {version} published.")
    click.echo(f"{len(done)} scheduled publication(s) applied.")


def _json_arg(value: str, name: str) -> Any:
    """Inline JSON (starting with ``{``) or the path of a JSON file."""
    text = value
    if not value.lstrip().startswith("{"):
        path = Path(value)
        if not path.is_file():
            fail(DomainError("validation_error", f"{name}: no such file, and not inline JSON"))
        text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(DomainError("validation_error", f"{name}: not valid JSON ({exc.msg} at line {exc.lineno})"))


@campaigns_cli.command("simulate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--transaction",
    "transaction",
    metavar="FILE_OR_JSON",
    help="Sample transaction: exactly the body a provider POSTs to /api/v1/transactions (or the short "
    "simulator form with `provider`), as a JSON file or inline JSON. Evaluated at its occurred_at.",
)
@click.option("--provider", default=None, help="The posting provider of a provider body (inferred when unambiguous).")
@click.option("--days", type=int, default=None, help="Replay the last N days of real transactions.")
def campaigns_simulate(file: Path, transaction: str | None, provider: str | None, days: int | None) -> None:
    """Dry-run a draft document: which rules fire on a sample, or what it would cost and add to the live campaigns.

    No writes.
    """
    fmt = "json" if file.suffix.lower() == ".json" else "yaml"
    try:
        if transaction is not None:
            body = _json_arg(transaction, "--transaction")
            result = simulation.sample(db_session(), file.read_text(encoding="utf-8"), body, fmt=fmt, provider=provider)
        else:
            result = simulation.replay(db_session(), file.read_text(encoding="utf-8"), days=days or 30, fmt=fmt)
    except DomainError as err:
        db.session.rollback()
        fail(err)
    db.session.rollback()
    click.echo(json.dumps(result, indent=2, default=str, ensure_ascii=False))
