"""OpenID Connect relying party: discovery, the authorisation-code flow with PKCE, ID token verification.

The provider's metadata comes from ``{issuer}/.well-known/openid-configuration`` and its signing keys from
its ``jwks_uri``, both cached in the process; a token signed with a key id we do not know yet makes us fetch
the keys again once (the provider rotated them). An ID token counts only when its signature verifies with
one of those keys under an asymmetric algorithm, its ``iss`` is the configured issuer, its ``aud`` holds our
client id (and ``azp`` is us when there are several audiences), it has not expired and was not issued in the
future (both within ``LOYALTY_OIDC_CLOCK_SKEW_SECONDS``), and its ``nonce`` is the one this browser was sent
with. Authlib supplies the PKCE and token helpers, joserfc (Authlib's JOSE core) the signature and claims.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from campaigns.access.sso import Identity
from campaigns.settings import Settings

TIMEOUT = 10  # seconds for each call to the provider
CACHE_SECONDS = 3600
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
SCOPES = "openid email profile"
MAX_SKEW = 300  # seconds: whatever is configured, an ID token is never accepted further out of time than this


class OidcError(Exception):
    """A sign-in that cannot go on; ``reason`` is a short code for the audit log and the tests."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class Pending:
    """What the browser's session keeps between the redirect to the provider and the callback."""

    state: str
    nonce: str
    verifier: str
    redirect_uri: str


_lock = threading.Lock()
_metadata: dict[str, tuple[float, dict[str, Any]]] = {}
_keys: dict[str, tuple[float, KeySet]] = {}
_refreshed: dict[str, float] = {}
REFRESH_EVERY = 30  # seconds: forged tokens with made-up key ids cannot make us hammer the provider's JWKS


def forget_cache() -> None:
    with _lock:
        _metadata.clear()
        _keys.clear()
        _refreshed.clear()


def _get_json(url: str, **kwargs: Any) -> dict[str, Any]:
    try:
        resp = requests.get(url, timeout=TIMEOUT, **kwargs)
    except requests.RequestException as err:
        raise OidcError("provider_unreachable", f"the identity provider did not answer: {err}") from None
    if resp.status_code != 200:
        raise OidcError("provider_error", f"{url} answered {resp.status_code}")
    try:
        data = resp.json()
    except ValueError:
        raise OidcError("provider_error", f"{url} did not answer JSON") from None
    if not isinstance(data, dict):
        raise OidcError("provider_error", f"{url} did not answer a JSON object")
    return data


def metadata(conf: Settings) -> dict[str, Any]:
    """The provider's discovery document; its ``issuer`` must be exactly the configured one."""
    issuer = conf.oidc_issuer or ""
    now = time.monotonic()
    with _lock:
        hit = _metadata.get(issuer)
    if hit is not None and hit[0] > now:
        return hit[1]
    data = _get_json(f"{issuer}/.well-known/openid-configuration")
    if data.get("issuer", "").rstrip("/") != issuer:
        raise OidcError("issuer_mismatch", f"the discovery document names issuer {data.get('issuer')!r}")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(data.get(key), str):
            raise OidcError("provider_error", f"the discovery document has no {key}")
    with _lock:
        _metadata[issuer] = (now + CACHE_SECONDS, data)
    return data


def _keyset(conf: Settings, *, refresh: bool = False) -> KeySet:
    uri = metadata(conf)["jwks_uri"]
    now = time.monotonic()
    with _lock:
        hit = _keys.get(uri)
        if refresh and hit is not None and now - _refreshed.get(uri, -REFRESH_EVERY) < REFRESH_EVERY:
            refresh = False  # fetched again moments ago: the unknown key id is not the provider's
        if refresh:
            _refreshed[uri] = now
    if hit is not None and hit[0] > now and not refresh:
        return hit[1]
    try:
        keys = KeySet.import_key_set(_get_json(uri))  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError) as err:
        raise OidcError("provider_error", f"the provider's keys cannot be read: {err}") from None
    with _lock:
        _keys[uri] = (now + CACHE_SECONDS, keys)
    return keys


def begin(conf: Settings, redirect_uri: str) -> tuple[str, Pending]:
    """The provider's authorisation URL and what to keep for the callback (state, nonce, PKCE verifier)."""
    meta = metadata(conf)
    pending = Pending(generate_token(32), generate_token(32), generate_token(64), redirect_uri)
    params = {
        "response_type": "code",
        "client_id": conf.oidc_client_id or "",
        "redirect_uri": redirect_uri,
        "scope": SCOPES,
        "state": pending.state,
        "nonce": pending.nonce,
        "code_challenge": create_s256_code_challenge(pending.verifier),
        "code_challenge_method": "S256",
    }
    sep = "&" if "?" in meta["authorization_endpoint"] else "?"
    return f"{meta['authorization_endpoint']}{sep}{urlencode(params)}", pending


def exchange(conf: Settings, code: str, pending: Pending) -> dict[str, Any]:
    """Trade the code (with the PKCE verifier) for tokens at the provider's token endpoint."""
    meta = metadata(conf)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": pending.redirect_uri,
        "code_verifier": pending.verifier,
        "client_id": conf.oidc_client_id or "",
    }
    auth = (conf.oidc_client_id or "", conf.oidc_client_secret) if conf.oidc_client_secret else None
    try:
        resp = requests.post(meta["token_endpoint"], data=data, auth=auth, timeout=TIMEOUT)
    except requests.RequestException as err:
        raise OidcError("provider_unreachable", f"the identity provider did not answer: {err}") from None
    if resp.status_code != 200:
        raise OidcError("code_rejected", f"the identity provider refused the code ({resp.status_code})")
    try:
        tokens = resp.json()
    except ValueError:
        raise OidcError("provider_error", "the token endpoint did not answer JSON") from None
    if not isinstance(tokens, dict) or not isinstance(tokens.get("id_token"), str):
        raise OidcError("provider_error", "the token endpoint sent no ID token")
    return tokens


def verify_id_token(conf: Settings, id_token: str, nonce: str, *, now: int | None = None) -> dict[str, Any]:
    """The ID token's claims once signature, issuer, audience, times and nonce all hold; else OidcError."""
    try:
        try:
            token = jwt.decode(id_token, _keyset(conf), algorithms=list(ALGORITHMS))
        except InvalidKeyIdError:  # a key id we have not seen: the provider may have rotated its keys
            token = jwt.decode(id_token, _keyset(conf, refresh=True), algorithms=list(ALGORITHMS))
    except (JoseError, ValueError) as err:
        raise OidcError("bad_signature", f"the ID token does not verify: {err}") from None
    claims = token.claims
    registry = jwt.JWTClaimsRegistry(
        now=now if now is not None else int(time.time()),
        leeway=max(0, min(conf.oidc_clock_skew_seconds, MAX_SKEW)),
        iss={"essential": True, "value": conf.oidc_issuer or ""},
        aud={"essential": True, "value": conf.oidc_client_id or ""},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(claims)
    except JoseError as err:
        reason = {"exp": "expired", "aud": "wrong_audience", "iss": "wrong_issuer", "nonce": "wrong_nonce"}
        field = str(getattr(err, "claim", "") or "")
        raise OidcError(reason.get(field, "bad_claims"), f"the ID token is not valid here: {err}") from None
    aud = claims.get("aud")
    if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != conf.oidc_client_id:
        raise OidcError("wrong_audience", "the ID token was issued to another party (azp)")
    return claims


def groups_of(claims: dict[str, Any], role_claim: str) -> tuple[str, ...]:
    """The directory groups in ``LOYALTY_OIDC_ROLE_CLAIM``: a list, or one string."""
    value = claims.get(role_claim)
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(v) for v in value if isinstance(v, str | int))
    return ()


def userinfo(conf: Settings, access_token: str, subject: str) -> dict[str, Any]:
    """Claims the ID token left out (some providers send groups only here); same subject or nothing."""
    endpoint = metadata(conf).get("userinfo_endpoint")
    if not isinstance(endpoint, str) or not access_token:
        return {}
    data = _get_json(endpoint, headers={"Authorization": f"Bearer {access_token}"})
    return data if data.get("sub") == subject else {}


def complete(conf: Settings, code: str, pending: Pending) -> tuple[Identity, str]:
    """The whole callback: exchange, verify, read the groups; the identity and the ID token (for logout)."""
    tokens = exchange(conf, code, pending)
    claims = verify_id_token(conf, tokens["id_token"], pending.nonce)
    if conf.oidc_role_claim not in claims:
        claims = {**userinfo(conf, str(tokens.get("access_token") or ""), claims["sub"]), **claims}
    email = claims.get("email") or claims.get("preferred_username") or ""
    identity = Identity(
        origin="oidc",
        subject=str(claims["sub"]),
        email=str(email),
        name=str(claims.get("name") or ""),
        groups=groups_of(claims, conf.oidc_role_claim),
    )
    return identity, tokens["id_token"]


def logout_url(conf: Settings, id_token: str | None, post_logout_redirect_uri: str) -> str | None:
    """RP-initiated logout: where to send the browser so the provider's session ends too."""
    try:
        endpoint = metadata(conf).get("end_session_endpoint")
    except OidcError:
        return None
    if not isinstance(endpoint, str):
        return None
    params = {"post_logout_redirect_uri": post_logout_redirect_uri, "client_id": conf.oidc_client_id or ""}
    if id_token:
        params["id_token_hint"] = id_token
    sep = "&" if "?" in endpoint else "?"
    return f"{endpoint}{sep}{urlencode(params)}"
