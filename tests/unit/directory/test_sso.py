"""Single sign-on's parts without a provider: the ID token's checks (signed here with a
key of the test's own, published through a fake discovery), the callback's problems, the
second-factor rule, the settings; and the use cases on a fake unit of work — a sign-on
used once, bound to its browser, ending in a session like a password's or refused."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from authlib.oidc.core.util import create_half_hash
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey
from sqlalchemy import func, select

from services.directory import sso
from services.directory.identities import (
    link_identity,
    person_with_identities,
    unlink_identity,
)
from services.directory.models import sso_logins
from services.directory.passwords import Hasher
from services.directory.people import create_person, set_disabled
from services.directory.sso import Callback, IdentityPlatform
from shared.config import load_settings
from shared.usecases import Conflict, Forbidden, Invalid, NotFound, Unauthenticated, Unavailable
from tests.fakes import actor

ISSUER = "https://idp.qinghai.example"
CLIENT = "onestop-directory"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
KEY = ECKey.generate_key("P-256", parameters={"kid": "k1"})
METADATA = {
    "issuer": ISSUER,
    "authorization_endpoint": f"{ISSUER}/auth",
    "token_endpoint": f"{ISSUER}/token",
    "jwks_uri": f"{ISSUER}/jwks",
    "id_token_signing_alg_values_supported": ["ES256"],
}


def id_token(key: ECKey = KEY, access_token: str = "at-1", **claims: Any) -> str:
    body = {
        "iss": ISSUER,
        "sub": "qh-0001",
        "aud": CLIENT,
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + timedelta(minutes=5)).timestamp()),
        "at_hash": create_half_hash(access_token, "ES256").decode(),
        **claims,
    }
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode({"alg": "ES256", "kid": key.kid}, body, key)


class Discovery:
    """A fake of the platform's two documents, counting how often each was fetched."""

    def __init__(self, metadata: dict[str, Any] = METADATA, keys: list[ECKey] = [KEY]):  # noqa: B006
        self.documents = {
            f"{ISSUER}/.well-known/openid-configuration": metadata,
            f"{ISSUER}/jwks": {"keys": [k.as_dict(private=False) for k in keys]},
        }
        self.fetched: list[str] = []

    def __call__(self, url: str) -> dict[str, Any]:
        self.fetched.append(url)
        if url not in self.documents:
            raise requests.ConnectionError(f"no route to {url}")
        return self.documents[url]


def platform(discovery: Discovery | None = None) -> IdentityPlatform:
    return IdentityPlatform(ISSUER, CLIENT, "secret", fetch=discovery or Discovery())


def verify(p: IdentityPlatform, token: str, nonce: str = "n-1", at: str = "at-1") -> dict:
    return p.verify_id_token(token, nonce=nonce, access_token=at, now=NOW)


# --- the ID token -------------------------------------------------------------------------
def test_a_good_id_token_gives_its_claims():
    claims = verify(platform(), id_token(nonce="n-1", amr=["pwd", "otp"]))
    assert (claims["sub"], claims["amr"]) == ("qh-0001", ["pwd", "otp"])


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"iss": "https://elsewhere.example"}, "iss"),
        ({"aud": "another-client"}, "aud"),
        ({"nonce": "n-other"}, "nonce"),
        ({"nonce": None}, "nonce"),
        ({"exp": int((NOW - timedelta(minutes=5)).timestamp())}, "exp"),
        ({"at_hash": create_half_hash("at-other", "ES256").decode()}, "at_hash"),
        ({"aud": [CLIENT, "another"], "azp": "another"}, "azp"),
        ({"sub": None}, "sub"),
    ],
)
def test_an_id_token_whose_claims_do_not_hold_is_refused(claims, why):
    token = id_token(**{"nonce": "n-1", **claims})
    with pytest.raises(Unauthenticated, match="ID token is not valid") as err:
        verify(platform(), token)
    assert why in err.value.message


def test_the_signature_is_checked_against_the_platforms_keys():
    forger = ECKey.generate_key("P-256", parameters={"kid": "k1"})  # the same kid, not the key
    with pytest.raises(Unauthenticated, match="ID token is not valid"):
        verify(platform(), id_token(forger, nonce="n-1"))
    head, body, sig = id_token(nonce="n-1").split(".")
    with pytest.raises(Unauthenticated):
        verify(platform(), f"{head}.{body}.{sig[:-4]}AAAA")
    none = base64.urlsafe_b64encode(b'{"alg":"none","kid":"k1"}').rstrip(b"=").decode()
    with pytest.raises(Unauthenticated):  # an unsigned token with a good body
        verify(platform(), f"{none}.{body}.")


def test_a_new_key_of_the_platform_is_fetched_once_when_a_token_names_it():
    discovery = Discovery()
    p = platform(discovery)
    verify(p, id_token(nonce="n-1"))
    new = ECKey.generate_key("P-256", parameters={"kid": "k2"})
    discovery.documents[f"{ISSUER}/jwks"] = {"keys": [new.as_dict(private=False)]}
    verify(p, id_token(new, nonce="n-1"))
    verify(p, id_token(new, nonce="n-1"))
    assert discovery.fetched.count(f"{ISSUER}/jwks") == 2
    assert discovery.fetched.count(f"{ISSUER}/.well-known/openid-configuration") == 1


def test_only_asymmetric_algorithms_are_taken():
    assert sso.signing_algorithms({}) == ["RS256"]
    given = {"id_token_signing_alg_values_supported": ["none", "HS256", "RS256", "ES256"]}
    assert sso.signing_algorithms(given) == ["RS256", "ES256"]
    assert sso.signing_algorithms({"id_token_signing_alg_values_supported": ["none"]}) == ["RS256"]


def test_check_claims_is_authlibs_code_flow_check():
    header = {"alg": "ES256"}
    good = {"iss": ISSUER, "sub": "s", "aud": [CLIENT], "iat": 1, "exp": 2**40, "nonce": "n"}
    kw = {"issuer": ISSUER, "client_id": CLIENT, "nonce": "n", "access_token": None, "now": NOW}
    assert sso.check_claims(good, header, **kw)["sub"] == "s"
    with pytest.raises(JoseError):
        sso.check_claims({**good, "iat": None}, header, **kw)


# --- the platform and the callback ----------------------------------------------------------
def test_the_issuer_is_https_but_on_the_loopback():
    with pytest.raises(ValueError, match="https"):
        IdentityPlatform("http://idp.qinghai.example", CLIENT, "s")
    IdentityPlatform("http://127.0.0.1:9090", CLIENT, "s")
    IdentityPlatform("http://localhost:9090", CLIENT, "s")


def test_a_platform_that_does_not_answer_or_names_another_issuer_is_unavailable():
    with pytest.raises(Unavailable, match="does not answer"):
        IdentityPlatform(f"{ISSUER}/down", CLIENT, "s", fetch=Discovery()).metadata()
    wrong = Discovery({**METADATA, "issuer": "https://other.example"})
    with pytest.raises(Unavailable, match="calls itself"):
        platform(wrong).metadata()


def test_the_authorization_url_carries_state_nonce_and_the_s256_challenge():
    url = platform().authorization_url(
        "https://onestop.example/cb", state="st", nonce="no", verifier="v" * 64
    )
    assert url.startswith(f"{ISSUER}/auth?")
    for part in (
        "response_type=code",
        f"client_id={CLIENT}",
        "scope=openid",
        "state=st",
        "nonce=no",
        "code_challenge_method=S256",
        "redirect_uri=https%3A%2F%2Fonestop.example%2Fcb",
    ):
        assert part in url, part
    assert "v" * 64 not in url  # the verifier stays here; its hash travels


@pytest.mark.parametrize(
    ("callback", "problem"),
    [
        (Callback("s", "c"), None),
        (Callback("s", "c", iss=ISSUER), None),
        (Callback("s", error="access_denied", error_description="End-User aborted"), "refused"),
        (Callback("s", "c", iss="https://evil.example"), "not the identity platform"),
        (Callback("s"), "no code"),
    ],
)
def test_the_callbacks_problems(callback, problem):
    found = sso.callback_problem(callback, ISSUER)
    assert found is None if problem is None else problem in found


def test_the_state_must_be_the_one_bound_to_the_browser():
    assert sso.same_browser("abc", "abc")
    assert not sso.same_browser("abc", "abd")
    assert not sso.same_browser("abc", None) and not sso.same_browser(None, None)


@pytest.mark.parametrize(
    ("roles", "amr", "needs"),
    [
        (["office_staff"], None, False),
        (["secadmin"], None, True),
        (["sysadmin"], ["pwd"], True),
        (["auditor"], ["pwd", "otp"], False),
        (["secadmin"], ["mfa"], False),
        (["secadmin"], "otp", True),  # amr is a list or nothing
    ],
)
def test_administrators_need_a_second_factor_the_platform_asserts(roles, amr, needs):
    assert sso.needs_second_factor(roles, amr) is needs


def test_the_settings_turn_single_sign_on_on_with_an_issuer_and_its_client():
    off = load_settings({})
    assert off.oidc_issuer is None and IdentityPlatform.from_settings(off) is None
    with pytest.raises(ValueError, match="ONESTOP_OIDC_CLIENT_SECRET"):
        load_settings({"ONESTOP_OIDC_ISSUER": ISSUER, "ONESTOP_OIDC_CLIENT_ID": CLIENT})
    on = load_settings(
        {
            "ONESTOP_OIDC_ISSUER": ISSUER,
            "ONESTOP_OIDC_CLIENT_ID": CLIENT,
            "ONESTOP_OIDC_CLIENT_SECRET": "s",
        }
    )
    made = IdentityPlatform.from_settings(on)
    assert made is not None and (made.issuer, made.redirect_uri) == (ISSUER, None)


# --- the use cases ------------------------------------------------------------------------
HASHER = Hasher.cheap()
REDIRECT = "https://onestop.example/directory/api/v1/sso/callback"
LINK = {"issuer": ISSUER, "subject": "qh-0001"}


class Answering(IdentityPlatform):
    """A platform whose token endpoint answers with an ID token carrying the nonce of the
    sign-on (as the real one remembers it) and the claims a test sets."""

    def __init__(self) -> None:
        super().__init__(ISSUER, CLIENT, "secret", fetch=Discovery())
        self.claims: dict[str, Any] = {}
        self.nonces: dict[str, str] = {}  # verifier → nonce, as the authorization request had
        self.exchanged: list[tuple[str, str, str]] = []

    def exchange(self, code: str, *, verifier: str, redirect_uri: str) -> dict[str, Any]:
        self.exchanged.append((code, verifier, redirect_uri))
        nonce = self.nonces[verifier]
        return {"access_token": "at-1", "id_token": id_token(nonce=nonce, **self.claims)}


@pytest.fixture
def idp():
    return Answering()


def account(uow, person_id="zhang.san", roles=("office_staff",), unit="630102"):
    create_person(
        uow,
        None,
        {
            "person_id": person_id,
            "name": "张三",
            "unit": unit,
            "roles": list(roles),
            "password": "Qinghai-2026!x",
        },
        hasher=HASHER,
    )


def begin(uow, idp) -> sso.Started:
    started = sso.start(uow, idp, redirect_uri=REDIRECT, now=NOW)
    with uow.read() as s:
        row = s.execute(select(sso_logins).where(sso_logins.c.state == started.state)).one()
    idp.nonces[row.code_verifier] = row.nonce
    return started


def come_back(uow, idp, started, *, code="code-1", bound=None, at=NOW, **more):
    callback = Callback(started.state, code, **more)
    bound = started.state if bound is None else bound
    return sso.finish(uow, idp, callback, bound_state=bound, now=at)


def test_a_linked_account_gets_a_session_like_a_password_sign_in(uow, idp):
    account(uow)
    link_identity(
        uow, actor("admin", "630000"), "zhang.san", {"issuer": ISSUER, "subject": "qh-0001"}
    )
    started = begin(uow, idp)
    assert started.max_age == 600 and f"state={started.state}" in started.url
    s = come_back(uow, idp, started)
    assert s["person"]["person_id"] == "zhang.san" and s["token_type"] == "Bearer"
    assert s["expires_at"] == NOW + timedelta(minutes=10)
    signed_in = [e for e in uow.committed if e.event_type == "person.signed_in"]
    assert [e.payload["reason"] for e in signed_in] == ["sso"]
    assert signed_in[0].payload["session_id"] == s["session_id"]
    ((code, verifier, redirect_uri),) = idp.exchanged
    assert (code, redirect_uri, len(verifier)) == ("code-1", REDIRECT, 64)


def test_a_sign_on_is_used_once_in_its_browser_within_ten_minutes(uow, idp):
    account(uow)
    link_identity(
        uow, actor("admin", "630000"), "zhang.san", {"issuer": ISSUER, "subject": "qh-0001"}
    )
    started = begin(uow, idp)
    with pytest.raises(Unauthenticated, match="did not complete"):
        come_back(uow, idp, started, bound="another-browser")
    with pytest.raises(Unauthenticated, match="did not complete"):  # claimed by that try
        come_back(uow, idp, started)
    late = begin(uow, idp)
    with pytest.raises(Unauthenticated, match="did not complete"):
        come_back(uow, idp, late, at=NOW + timedelta(minutes=11))
    refused = begin(uow, idp)
    with pytest.raises(Unauthenticated, match="access_denied"):
        come_back(uow, idp, refused, code=None, error="access_denied")
    assert idp.exchanged == []  # no code was ever exchanged
    ok = begin(uow, idp)
    come_back(uow, idp, ok)
    with pytest.raises(Unauthenticated, match="did not complete"):
        come_back(uow, idp, ok)


def test_sign_ons_never_finished_are_forgotten(uow, idp):
    begin(uow, idp)
    sso.start(uow, idp, redirect_uri=REDIRECT, now=NOW + timedelta(minutes=11))
    with uow.read() as s:
        assert s.execute(select(func.count()).select_from(sso_logins)).scalar() == 1


def test_an_unlinked_subject_is_refused_with_the_words_of_a_failed_log_in(uow, idp):
    account(uow)
    with pytest.raises(Unauthenticated) as err:
        come_back(uow, idp, begin(uow, idp))
    assert err.value.message == "Wrong log-in name or password."
    assert "person.signed_in" not in uow.types()


def test_a_disabled_account_and_an_administrator_without_a_second_factor_are_refused(uow, idp):
    admin = actor("admin", "630000")
    account(uow)
    link_identity(uow, admin, "zhang.san", {"issuer": ISSUER, "subject": "qh-0001"})
    set_disabled(uow, admin, "zhang.san", True)
    with pytest.raises(Unauthenticated, match="Wrong log-in name or password"):
        come_back(uow, idp, begin(uow, idp))
    account(uow, "an.quan", roles=("secadmin",), unit="630000")
    link_identity(uow, admin, "an.quan", {"issuer": ISSUER, "subject": "qh-0002"})
    idp.claims = {"sub": "qh-0002", "amr": ["pwd"]}
    with pytest.raises(Unauthenticated, match="second factor"):
        come_back(uow, idp, begin(uow, idp))
    refused = [e.payload["reason"] for e in uow.committed if e.event_type.endswith("refused")]
    assert refused == ["sso: account disabled", "sso: no second factor asserted"]
    idp.claims = {"sub": "qh-0002", "amr": ["pwd", "otp"]}
    assert come_back(uow, idp, begin(uow, idp))["person"]["api_role"] == "admin"


# --- linking ------------------------------------------------------------------------------
def test_a_security_administrator_links_an_identity_once(uow):
    account(uow)
    admin = actor("admin", "630100")
    made = link_identity(
        uow, admin, "zhang.san", {"issuer": ISSUER, "subject": "qh-0001"}, issuer=ISSUER
    )
    assert made["identities"][0]["subject"] == "qh-0001"
    assert made["identities"][0]["linked_by"] == "k-admin"
    linked = uow.committed[-1]
    assert linked.event_type == "person.identity_changed"
    assert (linked.payload["issuer"], linked.payload["subject"]) == (ISSUER, "qh-0001")
    assert linked.payload["linked"] is True and linked.payload["actor"] == "k-admin"
    account(uow, "li.si")
    with pytest.raises(Conflict):  # one subject, one account
        link_identity(uow, admin, "li.si", {"issuer": ISSUER, "subject": "qh-0001"})
    with pytest.raises(Invalid) as err:  # not the platform configured
        link_identity(
            uow, admin, "li.si", {"issuer": "https://x.example", "subject": "s"}, issuer=ISSUER
        )
    assert err.value.fields == {
        "json": {"issuer": [f"not the configured identity platform ({ISSUER})"]}
    }
    with pytest.raises(NotFound):  # outside the subtree
        link_identity(uow, actor("admin", "630103"), "li.si", {"issuer": ISSUER, "subject": "s"})
    with pytest.raises(Forbidden):  # a system administrator manages no accounts (三员分立)
        link_identity(
            uow,
            actor("admin", "630000", key_id="person:sys", roles=("sysadmin",)),
            "li.si",
            {"issuer": ISSUER, "subject": "s"},
        )


def test_a_security_administrator_reads_and_unlinks_an_identity(uow):
    account(uow)
    admin = actor("admin", "630100")
    made = link_identity(uow, admin, "zhang.san", {"issuer": ISSUER, "subject": "qh-0001"})
    identity = made["identities"][0]["identity_id"]
    assert person_with_identities(uow, admin, "zhang.san")["identities"] == made["identities"]
    with pytest.raises(NotFound):  # outside the subtree
        unlink_identity(uow, actor("admin", "630103"), "zhang.san", identity)
    with pytest.raises(NotFound):
        unlink_identity(uow, admin, "zhang.san", identity + 1)
    left = unlink_identity(uow, admin, "zhang.san", identity)
    assert left["identities"] == []
    gone = uow.committed[-1]
    assert gone.event_type == "person.identity_changed" and gone.payload["linked"] is False
    assert gone.payload["subject"] == "qh-0001"
    # unlinked: the subject may be linked again, to another account
    account(uow, "li.si")
    assert link_identity(uow, admin, "li.si", {"issuer": ISSUER, "subject": "qh-0001"})
