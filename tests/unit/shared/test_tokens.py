"""Signed access tokens: issued and verified at fixed instants, every reason for a refusal,
rotation with two keys, forgeries (tampering, alg=none, HS256 with the public key), and
arbitrary strings that must only ever be refused as ``InvalidToken``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jws
from joserfc.jwk import ECKey

from shared import tokens
from shared.tokens import (
    InvalidToken,
    issue,
    keys_of,
    new_signing_key,
    public_jwks,
    verify,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
S = timedelta(seconds=1)
ISS = "https://onestop.example/directory"
AUD = "onestop"
CLAIMS = {"sub": "person:42", "roles": ["station_staff"], "unit": "630102-S0001", "name": "张三"}

KEY = new_signing_key(T0)
OLD = new_signing_key(T0 - timedelta(days=30))
PUBLISHED = keys_of(public_jwks([KEY]))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(obj: object) -> str:
    return b64(json.dumps(obj).encode())


def good(now: datetime = T0, ttl: int = 600, key: tokens.SigningKey = KEY) -> str:
    return issue(key, CLAIMS, now, ttl, ISS, AUD)


def reason(token: object, keys=PUBLISHED, now: datetime = T0, **kwargs) -> str:
    with pytest.raises(InvalidToken) as caught:
        verify(token, keys, now, ISS, AUD, **kwargs)  # type: ignore[arg-type]
    return caught.value.reason


def signed(header: dict, payload: bytes, key: tokens.SigningKey = KEY) -> str:
    """A real ES256 signature by ``key`` over whatever header and payload."""
    registry = jws.JWSRegistry(algorithms=["ES256"], strict_check_header=False)
    return jws.serialize_compact(
        header, payload, ECKey.import_key(key.private_jwk), registry=registry
    )


def claims_at(now: datetime = T0, **changes: object) -> dict:
    out = {**CLAIMS, "iss": ISS, "aud": AUD, "iat": int(now.timestamp())}
    out |= {"nbf": out["iat"], "exp": out["iat"] + 600, "jti": "j"}
    out.update(changes)
    return {k: v for k, v in out.items() if v is not None}


HEADER = {"alg": "ES256", "kid": KEY.kid, "typ": "at+jwt"}
TOKEN = issue(KEY, CLAIMS, T0, 600, ISS, AUD)


# --- keys and issuing ---------------------------------------------------------------------


def test_a_signing_key_has_a_dated_kid_and_publishes_only_its_public_half():
    assert KEY.kid.startswith("2026-12-01.") and KEY.created_at == T0
    assert KEY.private_jwk["d"] and "d" not in KEY.public_jwk
    for jwk in (KEY.private_jwk, KEY.public_jwk):
        assert (jwk["kid"], jwk["alg"], jwk["use"], jwk["kty"], jwk["crv"]) == (
            KEY.kid,
            "ES256",
            "sig",
            "EC",
            "P-256",
        )
    jwks = public_jwks([OLD, KEY])
    assert [k["kid"] for k in jwks["keys"]] == [OLD.kid, KEY.kid]
    assert all("d" not in k for k in jwks["keys"])
    assert json.loads(json.dumps(jwks)) == jwks
    assert new_signing_key(T0).kid != KEY.kid


def test_keys_of_a_published_set_skips_what_has_no_kid():
    jwks = {"keys": [KEY.public_jwk, {"kty": "EC"}, "junk", {"kid": 7}]}
    assert keys_of(jwks) == {KEY.kid: KEY.public_jwk}
    assert keys_of({}) == {} and keys_of({"keys": "x"}) == {}


def test_round_trip():
    token = good()
    claims = verify(token, PUBLISHED, T0, ISS, AUD)
    assert {k: claims[k] for k in CLAIMS} == CLAIMS
    assert (claims["iss"], claims["aud"]) == (ISS, AUD)
    assert claims["iat"] == claims["nbf"] == int(T0.timestamp())
    assert claims["exp"] == claims["iat"] + 600
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"alg": "ES256", "kid": KEY.kid, "typ": "at+jwt"}


def test_every_token_has_its_own_id():
    assert (
        verify(good(), PUBLISHED, T0, ISS, AUD)["jti"]
        != verify(good(), PUBLISHED, T0, ISS, AUD)["jti"]
    )


@pytest.mark.parametrize("claim", ["iss", "aud", "iat", "nbf", "exp", "jti"])
def test_the_registered_claims_are_set_by_issue_alone(claim):
    with pytest.raises(ValueError, match=claim):
        issue(KEY, {**CLAIMS, claim: 1}, T0, 600, ISS, AUD)


def test_a_lifetime_is_positive_and_the_clock_is_aware():
    with pytest.raises(ValueError):
        issue(KEY, CLAIMS, T0, 0, ISS, AUD)
    with pytest.raises(ValueError, match="timezone-aware"):
        issue(KEY, CLAIMS, datetime(2026, 12, 1, 9, 0), 600, ISS, AUD)
    with pytest.raises(ValueError, match="timezone-aware"):
        verify(good(), PUBLISHED, datetime(2026, 12, 1, 9, 0), ISS, AUD)


# --- time ---------------------------------------------------------------------------------


def test_expiry_at_the_boundary_without_leeway():
    token = good()
    exp = T0 + 600 * S
    assert verify(token, PUBLISHED, exp - timedelta(microseconds=1), ISS, AUD, leeway_seconds=0)
    assert reason(token, now=exp, leeway_seconds=0) == "expired"


def test_expiry_at_the_boundary_with_the_default_leeway_of_5_seconds():
    token = good()
    assert verify(token, PUBLISHED, T0 + 604 * S, ISS, AUD)
    assert reason(token, now=T0 + 605 * S) == "expired"
    assert reason(token, now=T0 + 600 * S + timedelta(days=365)) == "expired"


def test_not_yet_valid_before_nbf():
    token = good()
    assert verify(token, PUBLISHED, T0, ISS, AUD, leeway_seconds=0)
    assert reason(token, now=T0 - timedelta(microseconds=1), leeway_seconds=0) == "not yet valid"
    assert verify(token, PUBLISHED, T0 - 5 * S, ISS, AUD)
    assert reason(token, now=T0 - 5 * S - timedelta(microseconds=1)) == "not yet valid"


# --- issuer, audience ---------------------------------------------------------------------


def test_wrong_issuer_and_wrong_audience():
    token = good()
    with pytest.raises(InvalidToken) as caught:
        verify(token, PUBLISHED, T0, "https://elsewhere/directory", AUD)
    assert caught.value.reason == "wrong issuer"
    with pytest.raises(InvalidToken) as caught:
        verify(token, PUBLISHED, T0, ISS, "console")
    assert caught.value.reason == "wrong audience"
    assert str(caught.value) == "wrong audience"


def test_an_audience_list_naming_the_verifier_is_accepted():
    token = signed(HEADER, json.dumps(claims_at(aud=["console", AUD])).encode())
    assert verify(token, PUBLISHED, T0, ISS, AUD)["aud"] == ["console", AUD]
    token = signed(HEADER, json.dumps(claims_at(aud=["console"])).encode())
    assert reason(token) == "wrong audience"


# --- keys and rotation --------------------------------------------------------------------


def test_rotation_two_keys_valid_at_once_then_the_old_one_dropped():
    both = keys_of(public_jwks([OLD, KEY]))
    old_token, new_token = good(key=OLD), good(key=KEY)
    assert verify(old_token, both, T0, ISS, AUD)["sub"] == "person:42"
    assert verify(new_token, both, T0, ISS, AUD)["sub"] == "person:42"
    after = keys_of(public_jwks([KEY]))
    assert reason(old_token, keys=after) == "unknown key"
    assert verify(new_token, after, T0, ISS, AUD)


def test_a_kid_that_is_missing_or_not_a_string_is_an_unknown_key():
    payload = json.dumps(claims_at()).encode()
    assert reason(signed({"alg": "ES256", "typ": "at+jwt"}, payload)) == "unknown key"
    header = segment({"alg": "ES256", "typ": "at+jwt", "kid": 7})
    kid7 = f"{header}.{b64(payload)}.{b64(bytes(64))}"
    assert reason(kid7, keys={7: KEY.public_jwk}) == "unknown key"


def test_a_signature_by_another_key_under_a_published_kid_is_a_bad_signature():
    forged = signed(HEADER, json.dumps(claims_at()).encode(), key=OLD)
    assert reason(forged) == "bad signature"


def test_a_kid_reused_with_other_material_is_not_served_from_the_cache():
    first = new_signing_key(T0)
    token = good(key=first)
    assert verify(token, {first.kid: first.public_jwk}, T0, ISS, AUD)
    impostor = OLD.public_jwk | {"kid": first.kid}
    assert reason(token, keys={first.kid: impostor}) == "bad signature"
    assert verify(token, {first.kid: first.public_jwk}, T0, ISS, AUD)


def test_imported_keys_are_kept_per_kid(monkeypatch):
    key = new_signing_key(T0)
    published = {key.kid: key.public_jwk}
    token = good(key=key)
    verify(token, published, T0, ISS, AUD)
    imports = []
    real = ECKey.import_key
    monkeypatch.setattr(
        tokens.ECKey, "import_key", lambda *a, **k: imports.append(a) or real(*a, **k)
    )
    for _ in range(3):
        verify(token, published, T0, ISS, AUD)
        issue(key, CLAIMS, T0, 600, ISS, AUD)
    assert imports == []


def test_the_cache_is_bounded_and_an_evicted_key_is_imported_again():
    keys = [new_signing_key(T0) for _ in range(tokens._MAX_CACHED + 5)]
    for key in keys:
        verify(good(key=key), {key.kid: key.public_jwk}, T0, ISS, AUD)
    assert len(tokens._public_cache) == tokens._MAX_CACHED
    assert keys[0].kid not in tokens._public_cache
    assert verify(good(key=keys[0]), {keys[0].kid: keys[0].public_jwk}, T0, ISS, AUD)


@pytest.mark.parametrize(
    "jwk",
    [
        KEY.private_jwk,  # a verifier must never hold the private half
        {"kty": "RSA", "n": "x", "e": "AQAB"},
        {"kty": "EC", "crv": "P-384", "x": "x", "y": "y"},
        {"kty": "EC", "crv": "P-256", "x": "not-a-point", "y": "nope"},
    ],
)
def test_a_published_key_that_is_not_a_public_p256_key_is_the_publisher_s_fault(jwk):
    with pytest.raises(ValueError, match="published key"):
        verify(good(), {KEY.kid: jwk}, T0, ISS, AUD)


# --- forgeries ----------------------------------------------------------------------------


def test_a_tampered_payload_is_a_bad_signature():
    header, _, signature = good().split(".")
    promoted = segment(claims_at(roles=["system_admin"]))
    assert reason(f"{header}.{promoted}.{signature}") == "bad signature"


def test_a_flipped_signature_is_a_bad_signature():
    header, payload, signature = good().split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[10] ^= 1
    assert reason(f"{header}.{payload}.{b64(bytes(raw))}") == "bad signature"


def test_alg_none_is_refused():
    payload = segment(claims_at())
    header = segment({"alg": "none", "kid": KEY.kid, "typ": "at+jwt"})
    assert reason(f"{header}.{payload}.") == "malformed"  # no signature at all
    assert reason(f"{header}.{payload}.{b64(bytes(64))}") == "wrong algorithm"
    for alg in ("None", "NONE", "", None):
        header = segment({"alg": alg, "kid": KEY.kid, "typ": "at+jwt"})
        assert reason(f"{header}.{payload}.{b64(bytes(64))}") == "wrong algorithm"


@pytest.mark.parametrize(
    "secret",
    [
        json.dumps(KEY.public_jwk).encode(),
        ECKey.import_key(KEY.public_jwk).as_pem(private=False),
        KEY.public_jwk["x"].encode(),
    ],
)
def test_hs256_signed_with_the_public_key_is_refused(secret):
    header = segment({"alg": "HS256", "kid": KEY.kid, "typ": "at+jwt"})
    payload = segment(claims_at())
    mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert reason(f"{header}.{payload}.{b64(mac)}") == "malformed"  # 32 bytes, not ES256's 64
    mac64 = mac + hmac.new(secret, mac, hashlib.sha256).digest()
    assert reason(f"{header}.{payload}.{b64(mac64)}") == "wrong algorithm"


@pytest.mark.parametrize("alg", ["RS256", "ES384", "ES512", "EdDSA", "Ed25519", "PS256"])
def test_any_other_algorithm_is_refused(alg):
    header = segment({"alg": alg, "kid": KEY.kid, "typ": "at+jwt"})
    assert reason(f"{header}.{segment(claims_at())}.{b64(bytes(64))}") == "wrong algorithm"


@pytest.mark.parametrize("typ", ["JWT", "jwt", None, "at+JWT ", "id_token"])
def test_a_jwt_of_another_type_signed_by_the_same_key_is_refused(typ):
    header = {"alg": "ES256", "kid": KEY.kid} | ({"typ": typ} if typ else {})
    assert reason(signed(header, json.dumps(claims_at()).encode())) == "wrong type"


def test_a_key_named_in_the_header_is_never_used():
    payload = json.dumps(claims_at()).encode()
    for named in ({"jwk": OLD.public_jwk}, {"jku": "https://evil/jwks"}, {"x5u": "https://e/c"}):
        assert reason(signed(HEADER | named, payload, key=OLD)) == "bad signature"
        assert verify(signed(HEADER | named, payload), PUBLISHED, T0, ISS, AUD)


@pytest.mark.parametrize("extra", [{"crit": ["b64"], "b64": False}, {"zip": "DEF"}, {"custom": 1}])
def test_a_header_parameter_that_changes_the_meaning_or_is_unknown_is_malformed(extra):
    assert reason(signed(HEADER | extra, json.dumps(claims_at()).encode())) == "malformed"


# --- malformed ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "",
        "x",
        "a.b",
        "a.b.c.d",
        "..",
        "a..c",
        "eyJ.e30.AAAA",
        "!!!.e30.AAAA",
        "a b.c.d",
        "é.b.c",
        segment([1, 2]) + "." + segment({}) + "." + b64(bytes(64)),  # header not an object
        b64(b"not json") + "." + segment({}) + "." + b64(bytes(64)),
        b64(b"\xff\xfe") + "." + segment({}) + "." + b64(bytes(64)),  # not UTF-8
        b64(b"[" * 5000 + b"]" * 5000)[:8000] + ".e30." + b64(bytes(64)),  # deep nesting
        segment(HEADER) + "." + segment({}) + "." + b64(bytes(63)),  # short signature
        "A" * 9000,
        None,
        b"bytes.are.not-a-token",
        12345,
    ],
)
def test_malformed(token):
    assert reason(token) == "malformed"


def test_deeply_nested_header_json_is_malformed_not_a_recursion_error():
    header = b64(b"[" * 3000 + b"]" * 3000)
    assert len(header) < tokens.MAX_TOKEN_LENGTH
    assert reason(f"{header}.e30.{b64(bytes(64))}") == "malformed"


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[1, 2]",
        b'"a string"',
        b"\xff\xfe",
        json.dumps(claims_at(exp=None)).encode(),
        json.dumps(claims_at(nbf=None)).encode(),
        json.dumps(claims_at(iat=None)).encode(),
        json.dumps(claims_at(jti=None)).encode(),
        json.dumps(claims_at(exp="tomorrow")).encode(),
        json.dumps(claims_at(exp=True)).encode(),
        json.dumps(claims_at(exp=1.5e9)).encode(),
        b'{"exp": NaN}',
    ],
)
def test_a_properly_signed_token_with_unusable_claims_is_malformed(payload):
    assert reason(signed(HEADER, payload)) == "malformed"


# --- anything at all ----------------------------------------------------------------------


def _only_invalid_token(token: object) -> None:
    try:
        verify(token, PUBLISHED, T0, ISS, AUD)  # type: ignore[arg-type]
    except InvalidToken as refused:
        assert refused.reason in tokens.REASONS
    else:
        raise AssertionError(f"accepted {token!r}")


@settings(max_examples=1000)
@given(st.text(max_size=400))
def test_any_string_is_refused_with_a_reason(token):
    _only_invalid_token(token)


B64URL = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@settings(max_examples=1000)
@given(st.lists(B64URL, min_size=1, max_size=5))
def test_any_string_shaped_like_a_jws_is_refused_with_a_reason(parts):
    _only_invalid_token(".".join(parts))


HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["ES256", "none", "HS256"]) | st.text(max_size=6) | st.integers(),
        "kid": st.just(KEY.kid) | st.text(max_size=5) | st.integers(),
        "typ": st.sampled_from(["at+jwt", "JWT"]) | st.none(),
        "crit": st.lists(st.sampled_from(["b64", "exp", ""]), max_size=2),
        "b64": st.booleans(),
        "jwk": st.just(OLD.public_jwk),
        "zip": st.just("DEF"),
    },
)


@settings(max_examples=500)
@given(HEADERS, st.binary(min_size=64, max_size=64) | st.binary(max_size=70))
def test_any_header_and_signature_on_a_real_payload_is_refused(header, signature):
    _only_invalid_token(f"{segment(header)}.{TOKEN.split('.')[1]}.{b64(signature)}")


@settings(max_examples=300)
@given(HEADERS)
def test_any_header_signed_by_the_real_key_is_accepted_only_as_an_access_token(header):
    token = f"{segment(header)}.{TOKEN.split('.')[1]}"
    raw = ECKey.import_key(KEY.private_jwk).private_key
    assert raw is not None
    r, s_ = utils.decode_dss_signature(raw.sign(token.encode(), ec.ECDSA(hashes.SHA256())))
    token += "." + b64(r.to_bytes(32, "big") + s_.to_bytes(32, "big"))
    try:
        claims = verify(token, PUBLISHED, T0, ISS, AUD)
    except InvalidToken as refused:
        assert refused.reason in tokens.REASONS
    else:
        assert (header["alg"], header["kid"], header["typ"]) == ("ES256", KEY.kid, "at+jwt")
        assert claims["sub"] == CLAIMS["sub"]


@settings(max_examples=500)
@given(st.integers(min_value=0, max_value=len(TOKEN) - 1), st.characters())
def test_any_one_character_changed_in_a_valid_token_is_refused(position, char):
    if TOKEN[position] == char:
        char = "A" if char != "A" else "B"
    _only_invalid_token(TOKEN[:position] + char + TOKEN[position + 1 :])


@settings(max_examples=200)
@given(st.integers(min_value=0, max_value=len(TOKEN) - 1))
def test_any_truncation_of_a_valid_token_is_refused(length):
    _only_invalid_token(TOKEN[:length])
