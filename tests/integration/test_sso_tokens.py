"""Our ID token verification, driven through the real callback with tokens the test signs itself.

A small issuer of the test's own (tests/helpers/sso.py) publishes discovery and a JWKS and answers the token
request with whatever ID token the test made: forged, expired, for another audience, with the wrong nonce or
issuer, or signed with a newly rotated key. Only a token that passes every check signs anybody in.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from joserfc.jwk import RSAKey
from sqlalchemy import select

from campaigns.models import AuditEvent
from tests.helpers.sso import CLIENT_ID, TestIssuer, configure, oidc_settings, start_callback
from tests.helpers.web import csrf_token
from webapp.extensions import db


@pytest.fixture(scope="module")
def issuer() -> Iterator[TestIssuer]:
    server = TestIssuer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def sso(app: Flask, clean: None, issuer: TestIssuer, monkeypatch: Any) -> TestIssuer:
    configure(app, monkeypatch, **oidc_settings(issuer.url))
    return issuer


def _callback(client: Any, issuer: TestIssuer, make: Any) -> Any:
    """Start a sign-in, let the issuer answer with the token ``make(nonce)`` builds, come back."""
    state, nonce = start_callback(client)
    issuer.id_token = make(nonce)
    return client.get(f"/auth/oidc/callback?code=abc&state={state}")


def _unsigned(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'kid': 'k1'})}.{part(claims)}."


def test_a_good_token_signs_in(app, client, sso):
    resp = _callback(client, sso, lambda nonce: sso.sign(sso.claims(nonce)))
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    assert client.get("/campaigns").status_code == 200


def test_a_directory_user_changes_the_password_at_the_organisation(app, client, sso):
    assert _callback(client, sso, lambda nonce: sso.sign(sso.claims(nonce))).status_code == 302
    new = "a new long password"
    form = {"current_password": "x", "new_password": new, "confirm_password": new}
    resp = client.post("/auth/password", data={**form, "csrf_token": csrf_token(client, "/auth/password")})
    assert resp.status_code == 422 and "change your password there" in resp.get_data(as_text=True)


def test_clock_skew_is_bounded(app, client, sso, monkeypatch):
    now = int(time.time())
    inside = _callback(client, sso, lambda n: sso.sign(sso.claims(n, exp=now - 30, iat=now - 330)))
    assert inside.status_code == 302  # expired 30 s ago: within the 60 s allowed for clock differences
    outside = _callback(app.test_client(), sso, lambda n: sso.sign(sso.claims(n, exp=now - 90, iat=now - 390)))
    assert outside.status_code == 401
    future = _callback(app.test_client(), sso, lambda n: sso.sign(sso.claims(n, iat=now + 600, exp=now + 900)))
    assert future.status_code == 401
    configure(app, monkeypatch, oidc_clock_skew_seconds=86_400)  # a careless setting is capped at 300 s
    hour_old = _callback(app.test_client(), sso, lambda n: sso.sign(sso.claims(n, exp=now - 3600, iat=now - 3900)))
    assert hour_old.status_code == 401


FORGER = RSAKey.generate_key(2048, parameters={"kid": "k1"})  # same key id as the issuer's, another key


@pytest.mark.parametrize(
    ("case", "make", "reason"),
    [
        ("forged signature", lambda s, n: s.sign(s.claims(n), key=FORGER), "bad_signature"),
        ("unsigned (alg none)", lambda s, n: _unsigned(s.claims(n)), "bad_signature"),
        ("tampered claims", lambda s, n: _tamper(s.sign(s.claims(n)), groups=["loyalty-admins"]), "bad_signature"),
        ("expired", lambda s, n: s.sign(s.claims(n, exp=int(time.time()) - 3600)), "expired"),
        ("wrong nonce", lambda s, n: s.sign(s.claims("another-" + n)), "wrong_nonce"),
        ("no nonce", lambda s, n: s.sign({k: v for k, v in s.claims(n).items() if k != "nonce"}), "wrong_nonce"),
        ("another audience", lambda s, n: s.sign(s.claims(n, aud="someone-else")), "wrong_audience"),
        ("another party (azp)", lambda s, n: s.sign(s.claims(n, aud=[CLIENT_ID, "x"], azp="x")), "wrong_audience"),
        ("another issuer", lambda s, n: s.sign(s.claims(n, iss="https://evil.example")), "wrong_issuer"),
    ],
)
def test_bad_tokens_are_refused_and_audited(app, client, sso, case, make, reason):
    resp = _callback(client, sso, lambda nonce: make(sso, nonce))
    assert resp.status_code == 401, case
    assert f'data-reason="{reason}"' in resp.get_data(as_text=True), case
    assert client.get("/").status_code == 302  # nobody signed in
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "sso.failed")).all()
        assert [e.details["reason"] for e in events] == [reason]


def _tamper(token: str, **changes: Any) -> str:
    head, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims.update(changes)
    new = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{new}.{sig}"


def test_a_rotated_key_is_fetched_once(app, client, sso):
    assert _callback(client, sso, lambda n: sso.sign(sso.claims(n))).status_code == 302
    fetched = sso.jwks_fetches
    new_key = sso.rotate()
    other = app.test_client()
    assert _callback(other, sso, lambda n: sso.sign(sso.claims(n), key=new_key)).status_code == 302
    assert sso.jwks_fetches == fetched + 1
    third = app.test_client()
    assert _callback(third, sso, lambda n: sso.sign(sso.claims(n), key=new_key)).status_code == 302
    assert sso.jwks_fetches == fetched + 1  # cached again
    stranger = RSAKey.generate_key(2048, parameters={"kid": "made-up"})
    for _ in range(3):  # forged tokens with unknown key ids: refused, and the JWKS is not fetched for each
        resp = _callback(app.test_client(), sso, lambda n: sso.sign(sso.claims(n), key=stranger))
        assert resp.status_code == 401
    assert sso.jwks_fetches == fetched + 1


def test_groups_missing_from_the_id_token_are_read_from_userinfo(app, client, sso):
    def no_groups_of(claims: dict[str, Any]) -> str:
        return sso.sign({k: v for k, v in claims.items() if k != "groups"})

    def no_groups(nonce: str) -> str:
        return no_groups_of(sso.claims(nonce))

    sso.userinfo = {"sub": "u-1", "groups": ["loyalty-analysts"]}
    assert _callback(client, sso, no_groups).status_code == 302
    with app.app_context():
        from campaigns.models import StaffUser

        assert db.session.scalar(select(StaffUser.role).where(StaffUser.external_subject == "u-1")) == "analyst"
    sso.userinfo = {"sub": "someone-else", "groups": ["loyalty-admins"]}  # another person's answer: ignored
    other = app.test_client()
    resp = _callback(other, sso, lambda n: no_groups_of(sso.claims(n, sub="u-2", email="b@example.com")))
    assert resp.status_code == 403
    sso.userinfo = {}


def test_a_broken_group_map_is_said_plainly(app, client, sso, monkeypatch):
    configure(app, monkeypatch, oidc_group_map='{"loyalty-marketing": {"role": "provider"}}')
    resp = _callback(client, sso, lambda n: sso.sign(sso.claims(n)))
    assert resp.status_code == 500 and "group_map.loyalty-marketing.provider" in resp.get_data(as_text=True)
    assert client.get("/").status_code == 302
