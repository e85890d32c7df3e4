"""Rate limits: per API key and per client IP on the provider API, per IP on staff sign-in, on the SMS-code
endpoints; each answers 429 with Retry-After (JSON body on the API). Limits are lowered per test through the
app's settings (the defaults are far above what the benches send)."""

from __future__ import annotations

import dataclasses

import pytest
from flask import Flask

from campaigns.settings import Settings
from tests.helpers.factories import PASSWORD, make_provider, make_user
from tests.helpers.services import settings_for_tests
from tests.helpers.web import csrf_token


def _limits(app: Flask, monkeypatch, **values: int) -> None:
    monkeypatch.setitem(app.config, "LOYALTY", dataclasses.replace(app.config["LOYALTY"], **values))


def _assert_limited(resp, window: int) -> None:
    assert resp.status_code == 429, resp.get_data(as_text=True)[:300]
    assert 0 < int(resp.headers["Retry-After"]) <= window
    body = resp.get_json()
    assert body["error"]["code"] == "rate_limited" and "try again in" in body["error"]["message"]


def test_defaults_are_on_and_far_above_the_benches() -> None:
    defaults = Settings.from_env()
    assert defaults.api_rate_per_key >= 60_000 and defaults.api_rate_per_ip >= defaults.api_rate_per_key
    assert 0 < defaults.login_rate_per_ip <= 100


def test_per_api_key(app: Flask, client, telecom, shop, monkeypatch) -> None:
    _limits(app, monkeypatch, api_rate_per_key=3, api_rate_per_ip=1000)
    for _ in range(3):
        assert client.get("/api/v1/imports", headers=telecom.headers).status_code == 200
    _assert_limited(client.get("/api/v1/imports", headers=telecom.headers), 60)
    _assert_limited(client.post("/api/v1/transactions", json={}, headers=telecom.headers), 60)
    assert client.get("/api/v1/imports", headers=shop.headers).status_code == 200  # another key, same address


def test_unknown_keys_are_counted_too(app: Flask, client, monkeypatch) -> None:
    _limits(app, monkeypatch, api_rate_per_key=2, api_rate_per_ip=1000)
    guess = {"Authorization": "Bearer lp_guess"}
    assert [client.get("/api/v1/imports", headers=guess).status_code for _ in range(2)] == [401, 401]
    _assert_limited(client.get("/api/v1/imports", headers=guess), 60)


def test_per_client_ip(app: Flask, client, telecom, shop, monkeypatch) -> None:
    _limits(app, monkeypatch, api_rate_per_key=1000, api_rate_per_ip=4)
    here = {"REMOTE_ADDR": "198.51.100.7"}
    for key in (telecom, shop, telecom, shop):
        assert client.get("/api/v1/imports", headers=key.headers, environ_base=here).status_code == 200
    _assert_limited(client.get("/api/v1/imports", headers=shop.headers, environ_base=here), 60)
    _assert_limited(client.get("/api/v1/imports", environ_base=here), 60)  # no key at all: still counted
    elsewhere = {"REMOTE_ADDR": "198.51.100.8"}
    assert client.get("/api/v1/imports", headers=shop.headers, environ_base=elsewhere).status_code == 200


def test_zero_switches_a_limit_off(app: Flask, client, telecom, monkeypatch) -> None:
    _limits(app, monkeypatch, api_rate_per_key=0, api_rate_per_ip=0)
    assert all(client.get("/api/v1/imports", headers=telecom.headers).status_code == 200 for _ in range(5))


def test_staff_sign_in_per_ip(app: Flask, client, monkeypatch) -> None:
    _limits(app, monkeypatch, login_rate_per_ip=3)
    make_user(app, "a@example.com", "admin")
    token = csrf_token(client)
    here = {"REMOTE_ADDR": "203.0.113.5"}
    for email in ("x@example.com", "y@example.com", "z@example.com"):  # different accounts: no lock-out
        form = {"email": email, "password": "nope nope nope", "csrf_token": token}
        assert client.post("/auth/login", data=form, environ_base=here).status_code == 401
    form = {"email": "a@example.com", "password": PASSWORD, "csrf_token": token}
    limited = client.post("/auth/login", data=form, environ_base=here)
    assert limited.status_code == 429 and 0 < int(limited.headers["Retry-After"]) <= 900
    assert "Too many sign-in attempts" in limited.get_data(as_text=True)
    assert client.post("/auth/login", data=form, environ_base={"REMOTE_ADDR": "203.0.113.6"}).status_code == 302


def test_account_lockout_says_when(app: Flask, client) -> None:
    from campaigns.access.users import LOCK_MINUTES, MAX_FAILURES

    make_user(app, "c@example.com", "care")
    token = csrf_token(client)
    statuses = [
        client.post("/auth/login", data={"email": "c@example.com", "password": "bad pass word", "csrf_token": token})
        for _ in range(MAX_FAILURES + 1)
    ]
    assert statuses[-1].status_code == 429 and int(statuses[-1].headers["Retry-After"]) == LOCK_MINUTES * 60


@pytest.mark.parametrize("path", ["/api/v1/me/otp", "/api/v1/me/token"])
def test_sms_code_endpoints(app: Flask, client, path: str) -> None:
    body = {"phone": "0912345678", "code": "123456"}
    answers = [client.post(path, json=body) for _ in range(31)]
    limited = [r for r in answers if r.status_code == 429]
    assert limited, [r.status_code for r in answers]
    _assert_limited(limited[0], 900)


def test_behind_a_trusted_proxy_the_client_address_is_the_forwarded_one(app: Flask, clean, monkeypatch) -> None:
    from webapp import create_app

    proxied = create_app(settings_for_tests(proxy_count=1, api_rate_per_ip=2), TESTING=True)
    telecom = make_provider(proxied, "telecom")
    c = proxied.test_client()

    def get(forwarded_for: str):
        return c.get("/api/v1/imports", headers={**telecom.headers, "X-Forwarded-For": forwarded_for})

    assert [get("192.0.2.1").status_code for _ in range(2)] == [200, 200]
    _assert_limited(get("192.0.2.1"), 60)
    assert get("192.0.2.2").status_code == 200  # another client behind the same proxy


def test_limits_fail_open_while_redis_is_unreachable(app: Flask, clean) -> None:
    """Counting needs Redis; accepting transactions must not (MariaDB is the system of record)."""
    from tests.helpers.api import txn
    from webapp import create_app

    cut_off = create_app(settings_for_tests(redis_url="redis://127.0.0.1:1/0", api_rate_per_key=1), TESTING=True)
    telecom = make_provider(cut_off, "telecom")
    c = cut_off.test_client()
    for i in range(3):  # above the limit of 1: not counted, not refused
        resp = c.post("/api/v1/transactions", json=txn(f"t-{i}"), headers=telecom.headers)
        assert resp.status_code == 202, resp.get_json()
