"""``flask users create|list|set-password|unlock|break-glass|end-sessions``: staff users of the web UI."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from campaigns.access import sso, users
from campaigns.errors import DomainError
from campaigns.i18n import N_, environment_language, translate

from ..extensions import db, db_session
from .common import fail, say

users_cli = AppGroup("users", help="Staff users of the web UI (roles: admin, marketer, analyst, care, provider).")


@users_cli.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(list(users.ROLES)), help="What the user may do.")
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
    """Staff users: id, email, role, provider scope and state (active, inactive or locked)."""
    for u in users.list_users(db_session()):
        state = "locked" if u["locked"] else ("active" if u["active"] else "inactive")
        origin = u["origin"] + (" break-glass" if u["break_glass"] else "")
        click.echo(f"{u['id']:>4}  {u['email']:<32} {u['role']:<9} {u['provider'] or '-':<10} {state:<8} {origin}")


@users_cli.command("set-password")
@click.argument("email")
@click.option(
    "--password", prompt=True, hide_input=True, confirmation_prompt=True, help="New password (asked if omitted)."
)
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
    """Lift the lock-out after too many failed sign-ins (audited)."""
    try:
        user = users.get_by_email(db_session(), email)
    except DomainError as err:
        fail(err)
    users.unlock(db_session(), user, actor="cli")
    db.session.commit()
    click.echo(f"{email} unlocked.")


@users_cli.command("break-glass")
@click.argument("email")
@click.option("--off", is_flag=True, help="Clear the flag instead.")
def users_break_glass(email: str, off: bool) -> None:
    """Let a local account sign in with its password even when LOYALTY_LOCAL_LOGIN=0 (docs/sso.md)."""
    try:
        user = users.get_by_email(db_session(), email)
        sso.set_break_glass(db_session(), user, not off, actor="cli")
        db.session.commit()
    except DomainError as err:
        db.session.rollback()
        fail(err)
    click.echo(f"{email} is {'no longer' if off else 'now'} a break-glass account.")


@users_cli.command("end-sessions")
@click.argument("email")
def users_end_sessions(email: str) -> None:
    """Sign a person out everywhere at once (their next request goes to the login page)."""
    try:
        user = users.get_by_email(db_session(), email)
    except DomainError as err:
        fail(err)
    sso.end_sessions(db_session(), user, actor="cli")
    db.session.commit()
    click.echo(f"Every session of {email} has ended.")
