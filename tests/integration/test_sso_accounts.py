"""Break-glass accounts, ending sessions and the group map: the admin page and the CLI, without a directory."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from campaigns.access import sso
from campaigns.errors import DomainError
from campaigns.models import AuditEvent, StaffUser
from tests.helpers.factories import make_user
from tests.helpers.sso import configure
from tests.helpers.web import csrf_token, login
from webapp.extensions import db


def _actions(app) -> list[tuple[str, str]]:
    with app.app_context():
        return [(e.actor, e.action) for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_break_glass_and_end_sessions_from_the_cli(app, client, monkeypatch):
    make_user(app, "ops@example.com", "admin")
    assert login(client, "ops@example.com").status_code == 302
    runner = app.test_cli_runner()
    ended = runner.invoke(args=["users", "end-sessions", "ops@example.com"])
    assert ended.exit_code == 0, ended.output
    assert client.get("/").status_code == 302  # that session is over
    configure(app, monkeypatch, local_login=False)
    assert login(client, "ops@example.com").status_code == 403
    marked = runner.invoke(args=["users", "break-glass", "ops@example.com"])
    assert marked.exit_code == 0 and "now a break-glass account" in marked.output
    assert "local break-glass" in runner.invoke(args=["users", "list"]).output
    assert login(client, "ops@example.com").status_code == 302
    assert runner.invoke(args=["users", "break-glass", "ops@example.com", "--off"]).exit_code == 0
    assert login(app.test_client(), "ops@example.com").status_code == 403
    assert ("cli", "user.sessions_ended") in _actions(app)
    assert ("cli", "user.break_glass_set") in _actions(app) and ("cli", "user.break_glass_cleared") in _actions(app)


def test_the_admin_page_marks_break_glass_and_refuses_it_for_directory_users(app, client):
    make_user(app, "root@example.com", "admin")
    make_user(app, "spare@example.com", "admin")
    with app.app_context():
        who = sso.Identity("oidc", "sub-1", "dir@example.com", "Dir", ("g",))
        sso.sign_in(db.session, who, {"g": sso.Grant("analyst")})
        db.session.commit()
        ids = {email: uid for email, uid in db.session.execute(select(StaffUser.email, StaffUser.id))}
    login(client, "root@example.com")
    page = client.get("/users").get_data(as_text=True)
    assert "Mark break-glass" in page and "End sessions" in page
    token = csrf_token(client, "/users")
    ok = client.post(f"/users/{ids['spare@example.com']}/break-glass", data={"break_glass": "1", "csrf_token": token})
    assert ok.status_code == 302
    assert "break-glass</span>" in client.get("/users").get_data(as_text=True)
    refused = client.post(
        f"/users/{ids['dir@example.com']}/break-glass", data={"break_glass": "1", "csrf_token": token}
    )
    assert refused.status_code == 302
    assert "only a local account can be break-glass" in client.get("/users").get_data(as_text=True)
    no_csrf = client.post(f"/users/{ids['spare@example.com']}/sessions/end")
    assert no_csrf.status_code == 400
    for action in ("unlock", "active", "sessions/end", "break-glass"):  # an unknown user is a 404 page everywhere
        missing = client.post(f"/users/999999/{action}", data={"csrf_token": token})
        assert missing.status_code == 404 and "No such user." in missing.get_data(as_text=True), action
    with app.app_context():
        assert db.session.get(StaffUser, ids["dir@example.com"]).break_glass is False


def test_group_maps_from_json_or_a_file(tmp_path):
    raw = {"loyalty-marketing": {"role": "marketer"}, "post-care": {"role": "care", "provider": "post"}}
    assert sso.parse_group_map(json.dumps(raw)) == {
        "loyalty-marketing": sso.Grant("marketer"),
        "post-care": sso.Grant("care", "post"),
    }
    path = tmp_path / "groups.json"
    path.write_text(json.dumps(raw))
    assert sso.parse_group_map(str(path)) == sso.parse_group_map(json.dumps(raw))
    first = sso.parse_group_map(json.dumps({"a": {"role": "care"}, "b": {"role": "admin"}}))
    assert sso.grant_for(["b", "a"], first) == sso.Grant("care")  # the map's order decides


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ('{"g": {"role": "king"}}', "group_map.g.role"),
        ('{"g": {"role": "provider"}}', "group_map.g.provider"),
        ('{"g": {"role": "admin", "provider": "post"}}', "group_map.g.provider"),
        ('{"g": {"role": "marketer", "provider": "post"}}', "group_map.g.provider"),
        ('{"g": "marketer"}', "group_map.g.role"),
        ("[1, 2]", "group_map"),
        ("{not json", "group_map"),
        ("/no/such/file.json", "group_map"),
    ],
)
def test_a_broken_group_map_names_the_entry(raw, path):
    with pytest.raises(DomainError) as err:
        sso.parse_group_map(raw)
    assert err.value.fields[0].path == path


def test_long_directory_ids_fit(app, clean):
    """A DN can outgrow the columns (no entryUUID): stored as its hash, found again at the next sign-in."""
    dn = "uid=ann," + ",".join(f"ou=unit{i}" for i in range(60)) + ",dc=example,dc=vn"
    assert len(dn) > 255
    with app.app_context():
        grants = {"g": sso.Grant("analyst")}
        first = sso.sign_in(db.session, sso.Identity("ldap", dn, "ann@example.vn", "Ann", ("g",)), grants).user
        db.session.commit()
        again = sso.sign_in(db.session, sso.Identity("ldap", dn, "ann@example.vn", "Ann", ("g",)), grants).user
        refused = sso.sign_in(db.session, sso.Identity("ldap", dn + "x", "x" * 300, "", ("none",)), grants)
        db.session.commit()
        assert first is not None and again is not None and first.id == again.id
        assert first.external_subject.startswith("sha256:") and refused.error == "no_group"
