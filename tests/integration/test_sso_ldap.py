"""Staff sign-in through LDAP against a real OpenLDAP ``slapd`` (Debian's package, our own process and config).

The directory listens on ldap:// with StartTLS (a self-signed certificate made for the run, verified by us);
people and groups are seeded with ``ldapadd`` and changed with ``ldapmodify`` between sign-ins.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from campaigns.models import AuditEvent, StaffUser
from tests.helpers.factories import make_provider, make_user
from tests.helpers.sso import LDAP_PASSWORD, ROOT_DN, ROOT_PW, SUFFIX, Slapd, configure, self_signed, slapd_available
from tests.helpers.web import login
from webapp.extensions import db

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not slapd_available(), reason="needs slapd and ldap-utils (bin/test installs them)"),
]


@pytest.fixture(scope="module")
def directory() -> Iterator[Slapd]:
    server = Slapd()
    try:
        people = {uid: server.add_person(uid) for uid in ("ann", "binh", "chi", "dung")}
        people["em"] = server.add_person("em", extra="userAccountControl: 514\n")  # AD: ACCOUNTDISABLE
        people["gia"] = server.add_person("gia", extra="pwdAccountLockedTime: 20260101000000Z\n")  # ppolicy lock
        server.add_group("loyalty-marketing", people["ann"], people["dung"], people["em"], people["gia"])
        server.add_group("post-care", people["binh"])
        server.add_group("care", ROOT_DN)  # groupOfNames needs a member
        server.add_group("canteen", people["chi"])
        server.people = people  # type: ignore[attr-defined]
        yield server
    finally:
        server.stop()


@pytest.fixture()
def ldap(app: Flask, clean: None, directory: Slapd, monkeypatch: Any) -> Slapd:
    configure(app, monkeypatch, **directory.settings())
    return directory


def _user(app: Flask, email: str) -> StaffUser | None:
    with app.app_context():
        user = db.session.scalar(select(StaffUser).where(StaffUser.email == email))
        if user is not None:
            db.session.expunge(user)
        return user


def _refusals(app: Flask) -> list[str]:
    with app.app_context():
        rows = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "sso.refused"))
        return [e.details["reason"] for e in rows]


def test_a_marketer_signs_in_over_starttls_and_is_provisioned(app, client, ldap):
    resp = login(client, "ann", LDAP_PASSWORD)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert client.get("/campaigns").status_code == 200
    user = _user(app, "ann@example.org")
    assert user is not None and (user.origin, user.role, user.provider_id) == ("ldap", "marketer", None)
    assert user.external_subject and user.external_subject != ""  # the entry's entryUUID
    assert login(app.test_client(), "ann", "wrong password!!").status_code == 401
    assert login(app.test_client(), "ann", "").status_code == 401  # never an anonymous bind


def test_a_care_agent_is_scoped_to_its_provider(app, client, ldap):
    make_provider(app, "post")
    assert login(client, "binh", LDAP_PASSWORD).status_code == 302
    user = _user(app, "binh@example.org")
    assert user is not None and user.role == "care" and user.provider_id is not None


def test_no_mapped_group_is_refused_and_audited(app, client, ldap):
    resp = login(client, "chi", LDAP_PASSWORD)
    assert resp.status_code == 403 and "no group" in resp.get_data(as_text=True)
    assert _user(app, "chi@example.org") is None
    assert _refusals(app) == ["no_group"]


def test_a_group_change_is_read_at_the_next_sign_in(app, client, ldap):
    assert login(client, "dung", LDAP_PASSWORD).status_code == 302
    assert client.get("/campaigns").status_code == 200
    people = ldap.people  # type: ignore[attr-defined]
    ldap.set_members("loyalty-marketing", people["ann"], people["em"], people["gia"])
    ldap.set_members("care", people["dung"])
    try:
        later = app.test_client()
        assert login(later, "dung", LDAP_PASSWORD).status_code == 302
        assert later.get("/campaigns").status_code == 403
        assert later.get("/customers").status_code == 200
        assert client.get("/campaigns").status_code == 302  # the marketer's session has ended
        user = _user(app, "dung@example.org")
        assert user is not None and user.role == "care"
    finally:
        ldap.set_members("loyalty-marketing", people["ann"], people["dung"], people["em"], people["gia"])
        ldap.set_members("care", ROOT_DN)


def test_the_directorys_disabled_and_locked_flags_win_over_a_right_password(app, client, ldap):
    assert login(client, "em", LDAP_PASSWORD).status_code == 401
    assert login(client, "gia", LDAP_PASSWORD).status_code == 401
    assert _user(app, "em@example.org") is None and _user(app, "gia@example.org") is None
    assert _refusals(app) == ["directory_disabled", "directory_locked"]


def test_ldaps(app, client, ldap, monkeypatch):
    configure(app, monkeypatch, ldap_url=ldap.ldaps_url, ldap_starttls=False)
    assert login(client, "ann", LDAP_PASSWORD).status_code == 302
    assert login(app.test_client(), "ann", "wrong password!!").status_code == 401


def test_search_then_bind(app, client, ldap, monkeypatch):
    configure(app, monkeypatch, ldap_bind_dn=None, ldap_service_dn=ROOT_DN, ldap_service_password=ROOT_PW)
    assert login(client, "ann@example.org", LDAP_PASSWORD).status_code == 302  # found by mail
    assert login(app.test_client(), "*", LDAP_PASSWORD).status_code == 401  # filter characters are escaped


def test_the_servers_certificate_is_verified(app, client, ldap, monkeypatch, tmp_path):
    other = tmp_path / "other-ca.pem"
    self_signed(tmp_path / "k.pem", other, "127.0.0.1")  # right name, but not the directory's certificate
    configure(app, monkeypatch, ldap_ca_file=str(other))
    resp = login(client, "ann", LDAP_PASSWORD)
    assert resp.status_code == 503 and "directory cannot be reached" in resp.get_data(as_text=True)


def test_local_accounts_still_sign_in_beside_the_directory(app, client, ldap):
    make_user(app, "root@example.com", "admin")
    assert login(client, "root@example.com").status_code == 302
    assert SUFFIX.startswith("dc=")


def test_a_broken_group_map_is_said_plainly(app, client, ldap, monkeypatch):
    configure(app, monkeypatch, ldap_group_map='{"loyalty-marketing": {"role": "king"}}')
    resp = login(client, "ann", LDAP_PASSWORD)
    assert resp.status_code == 500 and "group_map.loyalty-marketing.role" in resp.get_data(as_text=True)
    assert _user(app, "ann@example.org") is None
