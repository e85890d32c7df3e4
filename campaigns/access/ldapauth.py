"""LDAP / Active Directory sign-in: bind as the person, read their entry and groups, honour lock and disable.

Two ways to find the person's entry: a bind DN template (``LOYALTY_LDAP_BIND_DN``, e.g.
``uid={username},ou=people,dc=example,dc=org``), or search-then-bind (a service account searches
``LOYALTY_LDAP_SEARCH_BASE`` with ``LOYALTY_LDAP_SEARCH_FILTER``, then we bind as the entry found). The
password is only ever checked by the directory's bind, over LDAPS or after StartTLS when configured, with the
server's certificate verified. An empty password is refused before anything is sent (an LDAP bind with a name
and no password is an anonymous bind that "succeeds"). The directory's own flags win over a right password:
Active Directory's ``userAccountControl`` (disabled, locked out) and ``lockoutTime``, OpenLDAP's
``pwdAccountLockedTime`` (ppolicy), and ``nsAccountLock``.
"""

from __future__ import annotations

import contextlib
import ssl
from typing import Any

from ldap3 import BASE, NONE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn

from campaigns.access.sso import Identity
from campaigns.settings import Settings

TIMEOUT = 10
ATTRIBUTES = [
    "uid",
    "mail",
    "cn",
    "displayName",
    "entryUUID",
    "objectGUID",
    "memberOf",
    "userAccountControl",
    "lockoutTime",
    "pwdAccountLockedTime",
    "nsAccountLock",
]
UAC_DISABLED = 0x2
UAC_LOCKOUT = 0x10


class LdapError(Exception):
    """``reason``: ``invalid`` (wrong name or password), ``disabled``, ``locked`` or ``unreachable``."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(message or reason)
        self.reason = reason


def _server(conf: Settings) -> Server:
    tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=conf.ldap_ca_file, version=ssl.PROTOCOL_TLS_CLIENT)
    return Server(conf.ldap_url or "", get_info=NONE, tls=tls, connect_timeout=TIMEOUT)


def _connect(conf: Settings, dn: str | None, password: str | None) -> Connection:
    """An open connection, StartTLS'd when configured, bound as ``dn``; LdapError when the bind fails."""
    conn = Connection(_server(conf), user=dn, password=password, receive_timeout=TIMEOUT, raise_exceptions=False)
    try:
        conn.open()  # raises when nobody answers
        if conn.closed:
            raise LdapError("unreachable", "the directory did not answer")
        if conf.ldap_starttls and not conn.start_tls():
            raise LdapError("unreachable", f"StartTLS failed: {conn.result}")
        if not conn.bind():
            raise LdapError("invalid")
    except LDAPException as err:
        _close(conn)
        raise LdapError("unreachable", f"the directory refused the connection: {err}") from None
    except LdapError:
        _close(conn)
        raise
    return conn


def _close(conn: Connection) -> None:
    """Unbind, and never fail doing so: the socket may already be gone after a TLS or bind failure."""
    with contextlib.suppress(LDAPException, OSError):
        conn.unbind()


def _first(entry: dict[str, Any], name: str) -> Any:
    value = entry.get(name)
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _flags(attrs: dict[str, Any]) -> str | None:
    """``disabled`` / ``locked`` when the directory says so, else None."""
    uac = _first(attrs, "userAccountControl")
    try:
        uac_bits = int(uac) if uac not in (None, "") else 0
    except (TypeError, ValueError):
        uac_bits = 0
    lock_nsa = str(_first(attrs, "nsAccountLock") or "").lower() == "true"
    if uac_bits & UAC_DISABLED or lock_nsa:
        return "disabled"
    lockout = _first(attrs, "lockoutTime")
    if uac_bits & UAC_LOCKOUT or (lockout not in (None, "", "0", 0) and str(lockout) != "1601-01-01 00:00:00+00:00"):
        return "locked"
    if _first(attrs, "pwdAccountLockedTime"):
        return "locked"
    return None


def authenticate(conf: Settings, username: str, password: str) -> Identity:
    """The person behind ``username`` + ``password`` with their groups, or LdapError."""
    username = (username or "").strip()
    if not username or not password or len(username) > 254:
        raise LdapError("invalid")
    if conf.ldap_bind_dn:
        dn = conf.ldap_bind_dn.format(username=escape_rdn(username))
        conn = _connect(conf, dn, password)
    else:
        service = _connect(conf, conf.ldap_service_dn, conf.ldap_service_password)
        try:
            service.search(
                conf.ldap_search_base or "",
                conf.ldap_search_filter.format(username=escape_filter_chars(username)),
                SUBTREE,
                attributes=["1.1"],
                size_limit=2,
            )
            found = [e.entry_dn for e in service.entries]
        finally:
            _close(service)
        if len(found) != 1:
            raise LdapError("invalid")
        dn = found[0]
        conn = _connect(conf, dn, password)
    try:
        conn.search(dn, "(objectClass=*)", BASE, attributes=ATTRIBUTES)
        if not conn.entries:
            raise LdapError("invalid")
        attrs: dict[str, Any] = conn.entries[0].entry_attributes_as_dict
        flag = _flags(attrs)
        if flag:
            raise LdapError(flag, f"the directory marks {username} {flag}")
        groups = _groups(conf, conn, dn, username, attrs)
    finally:
        _close(conn)
    mail = _first(attrs, "mail") or (username if "@" in username else "")
    subject = _first(attrs, "entryUUID") or _first(attrs, "objectGUID") or dn
    if isinstance(subject, bytes):  # Active Directory's objectGUID without schema information: 16 raw bytes
        subject = subject.hex()
    return Identity(
        origin="ldap",
        subject=str(subject),
        email=str(mail),
        name=str(_first(attrs, "displayName") or _first(attrs, "cn") or ""),
        groups=groups,
    )


def _groups(conf: Settings, conn: Connection, dn: str, username: str, attrs: dict[str, Any]) -> tuple[str, ...]:
    """Group names (``cn``) and DNs: from ``memberOf`` when the directory keeps it, and by a group search."""
    dns = [str(g) for g in attrs.get("memberOf") or []]
    base = conf.ldap_group_base or conf.ldap_search_base
    if base:
        flt = conf.ldap_group_filter.format(dn=escape_filter_chars(dn), username=escape_filter_chars(username))
        conn.search(base, flt, SUBTREE, attributes=["cn"])
        dns.extend(e.entry_dn for e in conn.entries)
    names: list[str] = []
    for group_dn in dns:
        names.append(group_dn)
        first = group_dn.split(",", 1)[0]
        if first.lower().startswith("cn="):
            names.append(first[3:])
    return tuple(dict.fromkeys(names))
