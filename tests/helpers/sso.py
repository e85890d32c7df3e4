"""Real directory servers for the single-sign-on tests, each a process of its own on a free 127.0.0.1 port.

* ``MockProvider``: ``oidc-provider-mock`` from PyPI, a standards-compliant OpenID provider (discovery, JWKS,
  PKCE, nonce, RP-initiated logout) whose users' claims can be changed between two sign-ins.
* ``TestIssuer``: a tiny issuer of the test's own (discovery, a JWKS it can rotate, a token endpoint answering
  whatever ID token the test signed), to hand our verification forged, expired or misdirected tokens.
* ``Slapd``: Debian's OpenLDAP ``slapd`` with a generated ``slapd.conf``, a self-signed certificate for
  StartTLS, seeded with people and groups through ``ldapadd``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

CLIENT_ID = "loyalty-console"
CLIENT_SECRET = "client-secret"
GROUP_MAP = {
    "loyalty-admins": {"role": "admin"},
    "loyalty-marketing": {"role": "marketer"},
    "loyalty-analysts": {"role": "analyst"},
    "loyalty-finance": {"role": "finance"},
    "post-care": {"role": "care", "provider": "post"},
    "care": {"role": "care"},
    "post-partner": {"role": "provider", "provider": "post"},
    "telecom-partner": {"role": "provider", "provider": "telecom"},
}
ROLE_GROUPS = {
    "admin": "loyalty-admins",
    "marketer": "loyalty-marketing",
    "analyst": "loyalty-analysts",
    "care": "care",
    "provider": "telecom-partner",
    "finance": "loyalty-finance",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[bytes] | None = None, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {proc.returncode}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def configure(app: Flask, monkeypatch: Any, **overrides: Any) -> None:
    """The app's settings with the given SSO settings (and the OIDC caches forgotten)."""
    from campaigns.access import oidc

    conf = dataclasses.replace(app.config["LOYALTY"], **overrides)
    monkeypatch.setitem(app.config, "LOYALTY", conf)
    oidc.forget_cache()


def oidc_settings(issuer: str, **extra: Any) -> dict[str, Any]:
    return {
        "oidc_issuer": issuer,
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
        "oidc_group_map": json.dumps(GROUP_MAP),
        "oidc_name": "Tập đoàn Example",
        **extra,
    }


def _age(seconds: int) -> tuple[str, str]:
    return ("--token-max-age", str(seconds))


class MockProvider:
    """``python -m oidc_provider_mock`` on a free port (nonce required, as our client always sends one)."""

    def __init__(self, token_max_age: int = 3600) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "oidc_provider_mock",
                "--port",
                str(self.port),
                "--require-nonce",
                *_age(token_max_age),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait(f"{self.url}/.well-known/openid-configuration", self.proc)

    def set_user(self, sub: str, **claims: Any) -> None:
        resp = requests.put(f"{self.url}/users/{sub}", json=claims, timeout=5)
        assert resp.status_code == 204, resp.text

    def authorize(self, location: str, sub: str) -> str:
        """The person ``sub`` approves at the provider; the redirect back to us (path and query)."""
        resp = requests.post(location, data={"sub": sub}, allow_redirects=False, timeout=5)
        assert resp.status_code == 302, resp.text
        back = urlsplit(resp.headers["Location"])
        return f"{back.path}?{back.query}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def oidc_sign_in(client: FlaskClient, op: MockProvider, sub: str) -> Any:
    """The whole authorisation-code flow over HTTP: our login → the provider → our callback."""
    start = client.get("/auth/oidc/login")
    assert start.status_code == 302, start.get_data(as_text=True)
    return client.get(op.authorize(start.headers["Location"], sub))


class TestIssuer:
    """An issuer of the test's own in a thread: discovery, a rotatable JWKS, a token endpoint of canned answers."""

    __test__ = False

    def __init__(self) -> None:
        self.keys = [RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})]
        self.id_token = ""
        self.userinfo: dict[str, Any] = {}
        self.jwks_fetches = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:
                if self.path == "/.well-known/openid-configuration":
                    self._json(issuer.discovery())
                elif self.path == "/userinfo" and self.headers.get("Authorization") == "Bearer at":
                    self._json(issuer.userinfo)
                elif self.path == "/jwks":
                    issuer.jwks_fetches += 1
                    self._json(KeySet(issuer.keys).as_dict(private=False))
                else:
                    self.send_error(404)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                if self.path == "/token" and form.get("code_verifier"):
                    self._json({"access_token": "at", "token_type": "Bearer", "id_token": issuer.id_token})
                else:
                    self.send_error(400)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks",
            "userinfo_endpoint": f"{self.url}/userinfo",
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def claims(self, nonce: str, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        return {
            "iss": self.url,
            "aud": CLIENT_ID,
            "sub": "u-1",
            "email": "ann@example.com",
            "groups": ["loyalty-marketing"],
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            **overrides,
        }

    def sign(self, claims: dict[str, Any], key: RSAKey | None = None) -> str:
        key = key or self.keys[-1]
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)

    def rotate(self) -> RSAKey:
        """A new signing key published beside the old one, as providers roll keys over."""
        key = RSAKey.generate_key(2048, parameters={"kid": f"k{len(self.keys) + 1}", "use": "sig", "alg": "RS256"})
        self.keys.append(key)
        return key

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


def start_callback(client: FlaskClient) -> tuple[str, str]:
    """Our login's redirect to the issuer: the state and nonce it sent."""
    resp = client.get("/auth/oidc/login")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    query = parse_qs(urlsplit(resp.headers["Location"]).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    return query["state"][0], query["nonce"][0]


# -- OpenLDAP -------------------------------------------------------------------------------------

SLAPD = "/usr/sbin/slapd"
SUFFIX = "dc=example,dc=org"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PW = "root-secret"
LDAP_PASSWORD = "directory-pass-1"

SLAPD_CONF = """include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
# Active Directory's and ppolicy's lock/disable attributes, declared here so the test can set them
attributetype ( 1.2.840.113556.1.4.8 NAME 'userAccountControl' EQUALITY integerMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.42.2.27.8.1.17 NAME 'pwdAccountLockedTime' EQUALITY generalizedTimeMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.99999.1.1 NAME 'loyaltyTestAccount' SUP top AUXILIARY
  MAY ( userAccountControl $ pwdAccountLockedTime ) )
pidfile {dir}/slapd.pid
argsfile {dir}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCertificateFile {dir}/cert.pem
TLSCertificateKeyFile {dir}/key.pem
database mdb
maxsize 10485760
suffix "{suffix}"
rootdn "{root_dn}"
rootpw {root_pw}
directory {dir}/db
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by * none
"""


def self_signed(key: Path, cert: Path, name: str) -> None:
    """A throw-away self-signed certificate for ``name`` (also its IP/DNS subject alternative name)."""
    alt = f"IP:{name}" if name.replace(".", "").isdigit() else f"DNS:{name}"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={name}"),
            *("-addext", f"subjectAltName={alt}", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )


def slapd_available() -> bool:
    return Path(SLAPD).exists() and shutil.which("ldapadd") is not None and shutil.which("openssl") is not None


class Slapd:
    """A private slapd (ldap:// with StartTLS, and ldaps://) in a temporary directory; ``seed`` adds LDIF."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="loyalty-slapd-"))
        (self.dir / "db").mkdir()
        self_signed(self.dir / "key.pem", self.dir / "cert.pem", "127.0.0.1")
        conf = SLAPD_CONF.format(dir=self.dir, suffix=SUFFIX, root_dn=ROOT_DN, root_pw=ROOT_PW)
        (self.dir / "slapd.conf").write_text(conf)
        self.port = free_port()
        self.url = f"ldap://127.0.0.1:{self.port}"
        self.ldaps_url = f"ldaps://127.0.0.1:{free_port()}"
        self.proc = subprocess.Popen(
            [SLAPD, "-f", str(self.dir / "slapd.conf"), "-h", f"{self.url}/ {self.ldaps_url}/", "-d", "0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"slapd exited: {self.proc.stderr.read().decode() if self.proc.stderr else ''}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("slapd did not start")
            time.sleep(0.1)
        self.seed(f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n")
        for ou in ("people", "groups"):
            self.seed(f"dn: ou={ou},{SUFFIX}\nobjectClass: organizationalUnit\nou: {ou}\n")

    @property
    def ca_file(self) -> str:
        return str(self.dir / "cert.pem")

    def _tool(self, tool: str, ldif: str) -> None:
        subprocess.run(
            [tool, "-x", "-H", self.url, "-D", ROOT_DN, "-w", ROOT_PW],
            input=ldif.encode(),
            check=True,
            capture_output=True,
        )

    def seed(self, ldif: str) -> None:
        self._tool("ldapadd", ldif)

    def modify(self, ldif: str) -> None:
        self._tool("ldapmodify", ldif)

    def add_person(self, uid: str, *, extra: str = "") -> str:
        dn = f"uid={uid},ou=people,{SUFFIX}"
        self.seed(
            f"dn: {dn}\nobjectClass: inetOrgPerson\nobjectClass: loyaltyTestAccount\nuid: {uid}\ncn: {uid.title()}\n"
            f"sn: {uid}\nmail: {uid}@example.org\nuserPassword: {LDAP_PASSWORD}\n{extra}"
        )
        return dn

    def add_group(self, name: str, *members: str) -> None:
        lines = "".join(f"member: {m}\n" for m in members)
        self.seed(f"dn: cn={name},ou=groups,{SUFFIX}\nobjectClass: groupOfNames\ncn: {name}\n{lines}")

    def set_members(self, name: str, *members: str) -> None:
        lines = "".join(f"member: {m}\n" for m in members)
        self.modify(f"dn: cn={name},ou=groups,{SUFFIX}\nchangetype: modify\nreplace: member\n{lines}")

    def settings(self, **extra: Any) -> dict[str, Any]:
        return {
            "ldap_url": self.url,
            "ldap_starttls": True,
            "ldap_ca_file": self.ca_file,
            "ldap_bind_dn": f"uid={{username}},ou=people,{SUFFIX}",
            "ldap_search_base": f"ou=people,{SUFFIX}",
            "ldap_group_base": f"ou=groups,{SUFFIX}",
            "ldap_group_map": json.dumps(GROUP_MAP),
            **extra,
        }

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def running(server: Any) -> Iterator[Any]:
    try:
        yield server
    finally:
        server.stop()
