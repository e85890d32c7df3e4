"""``flask users create|list|set-password|unlock``: staff users of the web UI."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from campaigns.access import users
from campaigns.errors import DomainError
from campaigns.i18n import N_, environment_language, translate

from ..extensions import db, db_session
from .common import fail, say

users_cli = AppGroup("users", help="Staff users of the web UI (roles: admin, marketer, analyst, care, provider).")


@users_cli.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(list(users.ROLES)))
@click.option("--provider", "provider_code", default=None, help="Provider code (role provider only).")
@click.option("--name", default="", help="Display name.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Prompted for (hidden) when not given; at least 10 characters.",
)
def users_create(email: str, role: str, provider_code: str | None, name: str, password: str) -> None:
    """Create a staff user who signs in to the web UI with EMAIL and the password."""
    try:
        user = users.create_user(db_session(), email, password, role, provider_code=provider_code, name=name)
        db.session.commit()
    except DomainError as err:
        db.session.rollback()
        fail(err)
    scope = translate(environment_language(), N_(" of provider '{code}'"), code=provider_code) if provider_code else ""
    say(N_("Created user {email} ({role}{scope}), id {id}."), email=user.email, role=user.role, scope=scope, id=user.id)


@users_cli.command("list")
def users_list() -> None:
    for u in users.list_users(db_session()):
        state = "locked" if u["locked"] else ("active" if u["active"] else "inactive")
        click.echo(f"{u['id']:>4}  {u['email']:<32} {u['role']:<9} {u['provider'] or '-':<10} {state}")


@users_cli.command("set-password")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def users_set_password(email: str, password: str) -> None:
    """Reset a user's password (and unlock the account; their sessions end)."""
    try:
        user = users.get_by_email(db_session(), email)
        users.set_password(db_session(), user, password, actor="cli")
        db.session.commit()
    except DomainError as err:
        db.session.rollback()
        fail(err)
    say(N_("Password of {email} changed."), email=email)


@users_cli.command("unlock")
@click.argument("email")
def users_unlock(email: str) -> None:
    try:
        user = users.get_by_email(db_session(), email)
    except DomainError as err:
        fail(err)
    users.unlock(db_session(), user, actor="cli")
    db.session.commit()
    click.echo(f"{email} unlocked.")
