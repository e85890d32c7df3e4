"""The one password sign-in every path uses: a local account's password, or the LDAP directory's.

A local account (origin ``local``) is checked here with its argon2 hash and lock-out; anything else typed
into the form goes to the directory when LDAP is configured, and the person found there is provisioned or
re-read like an OpenID Connect user (``campaigns.access.sso``).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.access import ldapauth, sso, users
from campaigns.errors import DomainError
from campaigns.models import StaffUser
from campaigns.settings import Settings


def group_map(conf: Settings, origin: str) -> dict[str, sso.Grant]:
    """The LDAP map falls back to the OpenID Connect one: one directory, one mapping."""
    if origin == "ldap":
        return sso.parse_group_map(conf.ldap_group_map or conf.oidc_group_map)
    return sso.parse_group_map(conf.oidc_group_map)


def password_sign_in(session: Session, conf: Settings, login: str, password: str) -> users.LoginResult:
    origin = session.scalar(select(StaffUser.origin).where(StaffUser.email == users.normalize_email(login)))
    if not conf.ldap_enabled or origin == "local":
        return users.login(session, login, password, local_login=conf.local_login)
    try:
        mapping = group_map(conf, "ldap")
    except DomainError as err:  # an operator's mistake: said plainly, nothing stored
        return users.LoginResult(None, f"misconfigured: {err.fields[0].path if err.fields else err.message}")
    try:
        identity = ldapauth.authenticate(conf, login, password)
    except ldapauth.LdapError as err:
        if err.reason in ("disabled", "locked"):
            who = sso.Identity("ldap", login.strip()[:255], login.strip(), "", ())
            sso.refuse(session, who, f"directory_{err.reason}")
            return users.LoginResult(None, "inactive")
        return users.LoginResult(None, "unreachable" if err.reason == "unreachable" else "invalid")
    result = sso.sign_in(session, identity, mapping)
    if result.user is None:
        return users.LoginResult(None, "no_group" if result.error == "no_group" else "inactive")
    return users.LoginResult(result.user)


def provider_code(session: Session, user: StaffUser) -> str | None:
    """The code of the provider a signed-in user is limited to (None: the whole programme)."""
    return users.scope_of(session, user).provider_code
