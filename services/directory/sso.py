"""Single sign-on with a province's identity platform (OpenID Connect, authorization code
with PKCE S256, Authlib's client).

``start`` sends the browser to the platform: a fresh ``state``, ``nonce`` and PKCE
verifier are kept here, in the directory's own table ``sso_logins`` (so any worker of the
directory finishes what another started, and each is used once), and the ``state`` is
also bound to the browser by a short-lived cookie the app sets (a sign-in started in one
browser cannot be finished in another: no login CSRF). ``finish`` takes the platform's
answer: the ``state`` is claimed (deleted) whatever follows; the code is exchanged at the
token endpoint with the verifier; the ID token is checked — its signature against the
platform's published keys (JWKS), ``iss``, ``aud``/``azp``, ``exp``/``iat``, ``nonce`` and
``at_hash`` — and its ``sub`` must be linked to an account (``identities``): nothing is
created from the platform's word alone. A disabled account is refused. The session is then
opened exactly as a password sign-in opens one (``signin.open_session``), announced as
``person.signed_in`` with the reason "sso".

The three administrator roles need a second factor: through single sign-on only when the
platform says it checked one — its ID token's ``amr`` (RFC 8176) names ``mfa`` or ``otp``;
otherwise they sign in with their password and code.
"""

from __future__ import annotations

import hmac
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from sqlalchemy import delete

from services.directory import identities, lockout
from services.directory.models import sso_logins
from services.directory.signin import REFUSED, open_session, security_event
from shared.config import Settings
from shared.contracts import directory as contract
from shared.db import UnitOfWork
from shared.usecases import Unauthenticated, Unavailable

NOT_CONFIGURED = "Single sign-on is not configured."
LOGIN_TTL = timedelta(minutes=10)  # from the redirect to the platform until its answer
LEEWAY = 60  # seconds of clock difference tolerated on exp, iat
SCOPE = "openid"  # the subject is all the directory needs
STRONG_AMR = frozenset({"mfa", "otp"})  # RFC 8176: a second factor was checked
INCOMPLETE = "The single sign-on did not complete; start it again."
SECOND_FACTOR = (
    "An administrator's single sign-on needs a second factor the identity platform vouches "
    "for (amr: mfa or otp); sign in with your password and code instead."
)
LOOPBACK = ("127.0.0.1", "::1", "localhost")

Fetch = Callable[[str], dict[str, Any]]


def _fetch_json(url: str, timeout: float = 10.0) -> dict[str, Any]:
    r = requests.get(url, timeout=timeout, headers={"Accept": "application/json"})
    r.raise_for_status()
    body = r.json()
    if not isinstance(body, dict):
        raise ValueError(f"{url} did not answer a JSON object")
    return body


class IdentityPlatform:
    """The directory as a relying party of one OpenID provider: its discovery document
    and keys (fetched when first needed; the keys again when a token names one unknown),
    and Authlib's OAuth 2 client for the authorization URL and the code exchange."""

    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str,
        *,
        redirect_uri: str | None = None,
        fetch: Fetch = _fetch_json,
        timeout: float = 10.0,
    ) -> None:
        parts = urlsplit(issuer)
        if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK):
            raise ValueError(f"the identity platform's issuer must be https://…, not {issuer}")
        self.issuer, self.client_id, self.client_secret = issuer, client_id, client_secret
        self.redirect_uri = redirect_uri
        self._fetch, self.timeout = fetch, timeout
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> IdentityPlatform | None:
        """The platform of ``ONESTOP_OIDC_*``; None when single sign-on is off."""
        if not settings.oidc_issuer:
            return None
        return cls(
            settings.oidc_issuer,
            settings.oidc_client_id or "",
            settings.oidc_client_secret or "",
            redirect_uri=settings.oidc_redirect_uri,
        )

    def _get(self, url: str) -> dict[str, Any]:
        try:
            return self._fetch(url)
        except (requests.RequestException, ValueError) as exc:
            raise Unavailable(f"The identity platform does not answer ({exc}).") from None

    def metadata(self) -> dict[str, Any]:
        """The platform's discovery document (OpenID Connect Discovery 1.0), whose
        ``issuer`` must be the one configured."""
        with self._lock:
            if self._metadata is None:
                found = self._get(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
                if found.get("issuer") != self.issuer:
                    raise Unavailable(
                        f"The identity platform calls itself {found.get('issuer')!r}, "
                        f"not {self.issuer!r}."
                    )
                self._metadata = found
            return self._metadata

    def keys(self, *, refresh: bool = False) -> KeySet:
        """The platform's public keys (its JWKS), fetched again on ``refresh``."""
        jwks_uri = self.metadata()["jwks_uri"]
        with self._lock:
            if self._keys is None or refresh:
                self._keys = KeySet.import_key_set(self._get(jwks_uri))  # type: ignore[arg-type]
            return self._keys

    def _client(self, redirect_uri: str) -> OAuth2Session:
        return OAuth2Session(
            self.client_id,
            self.client_secret,
            scope=SCOPE,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
        )

    def authorization_url(self, redirect_uri: str, *, state: str, nonce: str, verifier: str) -> str:
        with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                self.metadata()["authorization_endpoint"],
                state=state,
                code_verifier=verifier,
                nonce=nonce,
            )
        return str(url)

    def exchange(self, code: str, *, verifier: str, redirect_uri: str) -> dict[str, Any]:
        """The tokens for ``code`` (the client authenticated with its secret, the PKCE
        verifier sent); ``Unauthenticated`` when the platform refuses the code."""
        endpoint = self.metadata()["token_endpoint"]
        try:
            with self._client(redirect_uri) as client:
                token = client.fetch_token(
                    endpoint, code=code, code_verifier=verifier, timeout=self.timeout
                )
        except OAuthError as exc:
            raise Unauthenticated(
                f"{INCOMPLETE} The identity platform said: {exc.error}."
            ) from None
        except (requests.RequestException, ValueError) as exc:
            raise Unavailable(f"The identity platform does not answer ({exc}).") from None
        return dict(token)

    def verify_id_token(
        self, id_token: str, *, nonce: str, access_token: str | None, now: datetime
    ) -> dict[str, Any]:
        """The ID token's claims once its signature (the platform's keys), issuer,
        audience, times, nonce and access-token hash hold; ``Unauthenticated`` if not."""
        algorithms = signing_algorithms(self.metadata())
        try:
            try:
                token = jwt.decode(id_token, self.keys(), algorithms=algorithms)
            except InvalidKeyIdError:  # the platform rotated its keys
                token = jwt.decode(id_token, self.keys(refresh=True), algorithms=algorithms)
            return check_claims(
                token.claims,
                token.header,
                issuer=self.issuer,
                client_id=self.client_id,
                nonce=nonce,
                access_token=access_token,
                now=now,
            )
        except (JoseError, ValueError) as exc:
            raise Unauthenticated(f"{INCOMPLETE} The ID token is not valid ({exc}).") from None


# --- the pure parts -----------------------------------------------------------------------


def signing_algorithms(metadata: dict[str, Any]) -> list[str]:
    """The asymmetric algorithms the platform signs ID tokens with (never ``none``, never
    a shared-secret HMAC): the directory checks signatures against the published keys."""
    given = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
    return [a for a in given if a != "none" and not a.startswith("HS")] or ["RS256"]


def check_claims(
    claims: dict[str, Any],
    header: dict[str, Any],
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    access_token: str | None,
    now: datetime,
) -> dict[str, Any]:
    """Authlib's checks of an authorization-code ID token (OpenID Connect Core 3.1.3.7):
    ``iss`` is the platform, ``aud`` names this client (``azp`` too when there are
    others), ``exp``/``iat`` hold (with ``LEEWAY``), ``nonce`` is this sign-in's and
    ``at_hash`` matches the access token. Raises joserfc's ``JoseError`` otherwise."""
    options: dict[str, Any] = {
        "iss": {"essential": True, "value": issuer},
        "aud": {"essential": True, "value": client_id},
        "sub": {"essential": True},
    }
    params = {"nonce": nonce, "client_id": client_id, "access_token": access_token}
    checked = CodeIDToken(claims, header, options, params)
    checked.validate(now=int(now.timestamp()), leeway=LEEWAY)
    return dict(checked)


@dataclass(frozen=True)
class Callback:
    """What the platform sent the browser back with (the callback's query)."""

    state: str | None
    code: str | None = None
    error: str | None = None
    error_description: str | None = None
    iss: str | None = None  # RFC 9207: who answers (a mix-up defence)


def callback_problem(callback: Callback, issuer: str) -> str | None:
    """Why the callback cannot go on to the code exchange (None: it can)."""
    if callback.error:
        why = callback.error_description or callback.error
        return f"The identity platform refused the sign-in ({callback.error}: {why})."
    if callback.iss is not None and callback.iss != issuer:
        return f"{INCOMPLETE} The answer came from {callback.iss}, not the identity platform."
    if not callback.code:
        return f"{INCOMPLETE} The identity platform sent no code."
    return None


def same_browser(state: str | None, bound: str | None) -> bool:
    """Whether the callback's ``state`` is the one bound to this browser at the start."""
    return bool(state and bound) and hmac.compare_digest(str(state), str(bound))


def needs_second_factor(roles: Iterable[str], amr: Any) -> bool:
    """Whether an account holding ``roles`` still lacks its second factor after a sign-on
    whose ID token says ``amr``: an administrator role needs ``mfa`` or ``otp``."""
    if not set(roles) & set(contract.ADMIN_ROLES):
        return False
    methods = set(amr) if isinstance(amr, list) else set()
    return not methods & STRONG_AMR


# --- the use cases ------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    url: str  # where to send the browser
    state: str  # to bind to the browser (a cookie) until the answer
    max_age: int  # seconds the sign-in may take


def start(
    uow: UnitOfWork,
    platform: IdentityPlatform,
    *,
    redirect_uri: str,
    now: datetime | None = None,
) -> Started:
    """A sign-on begun: ``state``, ``nonce`` and the PKCE verifier kept (for
    ``LOGIN_TTL``), and the platform's authorization URL that carries them (the verifier
    as its S256 challenge). Older sign-ons never finished are forgotten here."""
    now = now or datetime.now(UTC)
    state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
    url = platform.authorization_url(redirect_uri, state=state, nonce=nonce, verifier=verifier)
    with uow:
        s = uow.session
        s.execute(delete(sso_logins).where(sso_logins.c.created_at < now - LOGIN_TTL))
        s.execute(
            sso_logins.insert().values(
                state=state,
                nonce=nonce,
                code_verifier=verifier,
                redirect_uri=redirect_uri,
                created_at=now,
            )
        )
        uow.commit()
    return Started(url, state, int(LOGIN_TTL.total_seconds()))


def _claim(uow: UnitOfWork, state: str | None, bound: str | None, now: datetime) -> Any:
    """The sign-on ``state`` names, deleted so that it is used once; ``Unauthenticated``
    when it is unknown, used, expired or was started in another browser."""
    if not state:
        raise Unauthenticated(INCOMPLETE)
    with uow:
        claimed = delete(sso_logins).where(sso_logins.c.state == state)
        login = uow.session.execute(claimed.returning(*sso_logins.c)).first()
        uow.commit()
    if login is None or login.created_at < now - LOGIN_TTL or not same_browser(state, bound):
        raise Unauthenticated(INCOMPLETE)
    return login


def finish(
    uow: UnitOfWork,
    platform: IdentityPlatform,
    callback: Callback,
    *,
    bound_state: str | None,
    now: datetime | None = None,
    sessions: lockout.SessionPolicy = lockout.DEFAULT_SESSION,
) -> dict[str, Any]:
    """The platform's answer turned into a session (as ``POST /sessions`` answers), or
    ``Unauthenticated``: the sign-on unknown, reused, expired or from another browser; the
    platform's refusal; a code or ID token that does not hold; a subject linked to no
    account (the words of a failed log-in); a disabled account; an administrator without
    a second factor the platform vouches for."""
    now = now or datetime.now(UTC)
    login = _claim(uow, callback.state, bound_state, now)
    problem = callback_problem(callback, platform.issuer)
    if problem is not None:
        raise Unauthenticated(problem)
    token = platform.exchange(
        str(callback.code), verifier=login.code_verifier, redirect_uri=login.redirect_uri
    )
    if not token.get("id_token"):
        raise Unauthenticated(f"{INCOMPLETE} The identity platform sent no ID token.")
    claims = platform.verify_id_token(
        token["id_token"], nonce=login.nonce, access_token=token.get("access_token"), now=now
    )
    with uow:
        person = identities.linked_person(uow.session, platform.issuer, str(claims["sub"]))
        if person is None:
            raise Unauthenticated(REFUSED)
        problem = None
        if person.disabled_at is not None:
            problem, message = "sso: account disabled", REFUSED
        elif needs_second_factor(json.loads(person.roles), claims.get("amr")):
            problem, message = "sso: no second factor asserted", SECOND_FACTOR
        if problem is not None:
            uow.emit(security_event(person, "refused", problem, now))
            uow.commit()
            raise Unauthenticated(message)
        answer = open_session(uow, person, now, reason="sso", sessions=sessions)
        uow.commit()
    return answer
