"""Signed access tokens: the directory issues them, every service verifies them locally.

An access token is a JWT (RFC 7519) signed with ES256 (ECDSA on P-256, RFC 7518 §3.4), typed
``at+jwt`` (RFC 9068) so that no other JWT signed by the same key passes for one. Its header
names the signing key by ``kid``; the directory publishes the public halves of its keys as a
JWK Set (``public_jwks``, served at ``/directory/.well-known/jwks.json``) and a verifier needs
nothing else: no call to the directory per request.

* **Issuing** (``issue``): the caller's claims plus ``iat``, ``nbf`` (both ``now``), ``exp``
  (``now + ttl_seconds``), ``iss``, ``aud`` and a random ``jti``.
* **Verifying** (``verify``): only ES256, only a key the verifier holds under the token's
  ``kid``, then the signature, then the claims at the verifier's ``now``. Every refusal is an
  ``InvalidToken`` whose ``reason`` is one of ``REASONS`` — for any string at all, never
  another exception (so a service answers 401, never 500).
* **Rotation**: several keys are published at once. Publish the next key, start signing with
  it once every verifier has it, drop the old one after the longest token lifetime; a token
  whose key is no longer published fails with ``"unknown key"``.
* **Cost**: importing a JWK costs more than checking a signature, so imported keys are kept
  per ``kid`` (and re-imported if a ``kid`` ever comes back with other material). Verification
  then costs about 0.1–0.15 ms (``bench/auth_bench.py``).

Library code: the standard library and joserfc only.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from joserfc import jws
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import ECKey, thumbprint

ALGORITHM = "ES256"
CURVE = "P-256"
TOKEN_TYPE = "at+jwt"
LEEWAY_SECONDS = 5  # clock skew tolerated between the directory and a verifier
MAX_TOKEN_LENGTH = 8192  # longer strings are refused before any parsing
RESERVED_CLAIMS = frozenset({"iss", "aud", "iat", "nbf", "exp", "jti"})

MALFORMED = "malformed"
WRONG_ALGORITHM = "wrong algorithm"
WRONG_TYPE = "wrong type"
UNKNOWN_KEY = "unknown key"
BAD_SIGNATURE = "bad signature"
EXPIRED = "expired"
NOT_YET_VALID = "not yet valid"
WRONG_ISSUER = "wrong issuer"
WRONG_AUDIENCE = "wrong audience"
REASONS = (
    MALFORMED,
    WRONG_ALGORITHM,
    WRONG_TYPE,
    UNKNOWN_KEY,
    BAD_SIGNATURE,
    EXPIRED,
    NOT_YET_VALID,
    WRONG_ISSUER,
    WRONG_AUDIENCE,
)

_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_ES256_SIGNATURE_BYTES = 64  # r || s, 32 bytes each (RFC 7518 §3.4)
_REGISTRY = jws.JWSRegistry(algorithms=[ALGORITHM])
_MAX_CACHED = 64


class InvalidToken(Exception):
    """A token refused; ``reason`` (one of ``REASONS``) says why, for the 401 and the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SigningKey:
    """One of the directory's signing keys. ``private_jwk`` is secret (store it encrypted);
    ``public_jwk`` is what verifiers get. Both carry ``kid``, ``alg`` and ``use``."""

    kid: str
    private_jwk: dict[str, Any]
    public_jwk: dict[str, Any]
    created_at: datetime


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")


def new_signing_key(now: datetime) -> SigningKey:
    """A fresh P-256 key. Its ``kid`` is the creation day and the start of the key's
    RFC 7638 thumbprint, so operators can tell keys apart and order them."""
    _require_aware(now)
    key = ECKey.generate_key(CURVE, {"alg": ALGORITHM, "use": "sig"}, private=True)
    kid = f"{now:%Y-%m-%d}.{thumbprint(key.as_dict(private=False))[:16]}"
    params = {"kid": kid, "alg": ALGORITHM, "use": "sig"}
    private = {**key.as_dict(private=True), **params}
    public = {**key.as_dict(private=False), **params}
    return SigningKey(kid, private, public, now)


def public_jwks(keys: Iterable[SigningKey]) -> dict[str, list[dict[str, Any]]]:
    """The JWK Set to publish: the public half of each key, private parameters left out."""
    return {"keys": [{p: v for p, v in k.public_jwk.items() if p != "d"} for k in keys]}


def keys_of(jwks: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``kid → public JWK`` from a published JWK Set, as ``verify`` takes them (entries
    without a string ``kid`` are left out)."""
    found = jwks.get("keys")
    if not isinstance(found, list):
        return {}
    return {
        k["kid"]: dict(k) for k in found if isinstance(k, dict) and isinstance(k.get("kid"), str)
    }


# --- imported keys, per kid -------------------------------------------------------------

_signing_cache: dict[str, tuple[dict[str, Any], ECKey]] = {}
_public_cache: dict[str, tuple[dict[str, Any], ECKey]] = {}
_cache_lock = threading.Lock()


def _cached(
    cache: dict[str, tuple[dict[str, Any], ECKey]], kid: str, jwk: Mapping[str, Any]
) -> ECKey:
    hit = cache.get(kid)
    if hit is not None and hit[0] == jwk:
        return hit[1]
    key = ECKey.import_key(dict(jwk))
    with _cache_lock:  # misses are rare: a new kid, or a process starting
        while len(cache) >= _MAX_CACHED:
            cache.pop(next(iter(cache)))
        cache[kid] = (dict(jwk), key)
    return key


def _public_key(kid: str, jwk: Mapping[str, Any]) -> ECKey:
    """The imported verification key. A published key that is not a public P-256 key is
    the publisher's fault, not the token's: ``ValueError``."""
    if jwk.get("kty") != "EC" or jwk.get("crv") != CURVE or "d" in jwk:
        raise ValueError(f"published key {kid!r} is not a public {CURVE} key")
    try:
        return _cached(_public_cache, kid, jwk)
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise ValueError(f"published key {kid!r} cannot be imported: {error}") from error


# --- issuing ----------------------------------------------------------------------------


def issue(
    key: SigningKey,
    claims: Mapping[str, Any],
    now: datetime,
    ttl_seconds: int,
    issuer: str,
    audience: str,
) -> str:
    """A signed access token carrying ``claims`` (``sub``, roles, unit …) for ``ttl_seconds``.
    The registered time, issuer, audience and id claims are set here and nowhere else."""
    _require_aware(now)
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    clash = RESERVED_CLAIMS & set(claims)
    if clash:
        raise ValueError(f"claims set by issue() itself: {sorted(clash)}")
    issued = int(now.timestamp())
    body = {
        **claims,
        "iss": issuer,
        "aud": audience,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_seconds,
        "jti": secrets.token_urlsafe(16),
    }
    header = {"alg": ALGORITHM, "kid": key.kid, "typ": TOKEN_TYPE}
    signer = _cached(_signing_cache, key.kid, key.private_jwk)
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return jws.serialize_compact(header, payload, signer, registry=_REGISTRY)


# --- verifying --------------------------------------------------------------------------


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _header(token: object) -> dict[str, Any]:
    """The protected header of a well-shaped compact JWS, or ``InvalidToken("malformed")``."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken(MALFORMED)
    parts = token.split(".")
    if len(parts) != 3 or not all(_SEGMENT.fullmatch(p) for p in parts):
        raise InvalidToken(MALFORMED)
    try:
        header = json.loads(_b64decode(parts[0]))
        signature = _b64decode(parts[2])
    except (ValueError, binascii.Error, RecursionError):
        raise InvalidToken(MALFORMED) from None
    if not isinstance(header, dict) or len(signature) != _ES256_SIGNATURE_BYTES:
        raise InvalidToken(MALFORMED)
    return header


def _signed_claims(token: str, key: ECKey) -> dict[str, Any]:
    """The payload once the signature holds."""
    try:
        obj = jws.deserialize_compact(token, key, registry=_REGISTRY)
    except BadSignatureError:
        raise InvalidToken(BAD_SIGNATURE) from None
    except (JoseError, ValueError, TypeError, KeyError, binascii.Error):
        raise InvalidToken(MALFORMED) from None
    try:
        claims = json.loads(obj.payload or b"")
    except (ValueError, RecursionError):
        raise InvalidToken(MALFORMED) from None
    if not isinstance(claims, dict):
        raise InvalidToken(MALFORMED)
    return claims


def _is_time(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_claims(
    claims: Mapping[str, Any], now: float, issuer: str, audience: str, leeway: int
) -> None:
    times = [claims.get(name) for name in ("iat", "nbf", "exp")]
    if not all(_is_time(t) for t in times) or not isinstance(claims.get("jti"), str):
        raise InvalidToken(MALFORMED)
    if claims.get("iss") != issuer:
        raise InvalidToken(WRONG_ISSUER)
    aud = claims.get("aud")
    if not (aud == audience or (isinstance(aud, list) and audience in aud)):
        raise InvalidToken(WRONG_AUDIENCE)
    _check_time(claims["nbf"], claims["exp"], now, leeway)


def _check_time(nbf: int, exp: int, now: float, leeway: int) -> None:
    if now >= exp + leeway:  # exp: "on or after which" it is refused (RFC 7519 §4.1.4)
        raise InvalidToken(EXPIRED)
    if now < nbf - leeway:
        raise InvalidToken(NOT_YET_VALID)


def verify(
    token: str,
    public_keys: Mapping[str, Mapping[str, Any]],
    now: datetime,
    issuer: str,
    audience: str,
    *,
    leeway_seconds: int = LEEWAY_SECONDS,
) -> dict[str, Any]:
    """The claims of a valid token, else ``InvalidToken`` with the first reason found:
    the shape, the header (ES256, ``at+jwt``), the key (published under the ``kid``), the
    signature, then the claims at ``now`` (a token is refused from ``exp + leeway`` on and
    before ``nbf - leeway``).

    ``public_keys`` maps ``kid`` to a public JWK (``keys_of`` of a published JWK Set); a
    published key that is not a public P-256 JWK raises ``ValueError`` — a fault of the
    publisher, reported loudly rather than blamed on the token."""
    _require_aware(now)
    header = _header(token)
    if header.get("alg") != ALGORITHM:
        raise InvalidToken(WRONG_ALGORITHM)
    if header.get("typ") != TOKEN_TYPE:
        raise InvalidToken(WRONG_TYPE)
    kid = header.get("kid")
    jwk = public_keys.get(kid) if isinstance(kid, str) else None
    if not isinstance(kid, str) or jwk is None:
        raise InvalidToken(UNKNOWN_KEY)
    claims = _signed_claims(token, _public_key(kid, jwk))
    _check_claims(claims, now.timestamp(), issuer, audience, leeway_seconds)
    return claims
