"""Algorithm confusion and token tricks (issue 12, item 4), each refused precisely.

What tests/test_hostile.py already covers (tampering, `none`/`HS256`/case, `crit`, the HMAC
key-confusion attack, malformed segments) is not repeated here; `b64` is in
tests/test_pyjwt_parity.py. Where PyJWT decides too, the verdicts are compared with real
PyJWT: jwkscache is never more lenient.
"""

from __future__ import annotations

import base64
import datetime
import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509.oid import NameOID

import jwkscache
from conftest import Signer
from jwkscache.exceptions import SigningKeyNotFoundError
from jwkscache.testing import LocalIssuer


def b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def sign_parts(signer: Signer, header: bytes, payload: bytes) -> str:
    """An RS256 token over exactly these header and payload bytes."""
    signing_input = f"{b64(header)}.{b64(payload)}".encode()
    signature = signer.private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input.decode()}.{b64(signature)}"


def outcome(call: Any) -> type[BaseException] | None:
    try:
        call()
    except BaseException as error:
        return type(error)
    return None


@pytest.fixture
def cache(jwks: dict[str, Any]) -> jwkscache.JWKSCache:
    return jwkscache.JWKSCache.from_jwks(jwks, algorithms=["RS256", "PS256", "ES256"])


# -- alg -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "alg",
    ["None", "NONE", "nOnE", "HS384", "HS512", "RS256 ", " RS256", "RS256\u0000", "Rs256",
     "RSA-OAEP", "dir", "", "RS1", "ES256K", "Ed25519", 256, ["RS256"], {"name": "RS256"}, True],
)  # fmt: skip
def test_alg_variants_are_not_allowed(cache: jwkscache.JWKSCache, signer: Signer, alg: Any) -> None:
    header = json.dumps({"alg": alg, "kid": "test-key"}).encode()
    with pytest.raises(jwt.InvalidAlgorithmError):
        cache.decode(sign_parts(signer, header, b'{"sub":"a"}'))


def test_alg_none_unsigned_is_refused_even_when_listed(
    cache: jwkscache.JWKSCache, signer: Signer
) -> None:
    header = b64(json.dumps({"alg": "none", "kid": "test-key"}))
    body = b64(b'{"sub":"admin"}')
    unsigned = f"{header}.{body}."
    for algorithms in (None, ["none"], ["RS256", "none"]):
        with pytest.raises(jwt.InvalidAlgorithmError):
            cache.decode(unsigned, algorithms=algorithms)


def test_an_alg_the_key_cannot_verify_is_refused_before_the_signature(
    cache: jwkscache.JWKSCache, signer: Signer
) -> None:
    # ES256 is allowed, but the selected key is RSA: no signature work is done with it.
    header = json.dumps({"alg": "ES256", "kid": "test-key"}).encode()
    with pytest.raises(jwt.InvalidAlgorithmError):
        cache.decode(sign_parts(signer, header, b'{"sub":"a"}'))


def test_an_rs256_signature_relabelled_ps256_does_not_verify(
    jwks: dict[str, Any], signer: Signer
) -> None:
    token = signer.mint({"sub": "a"})
    _, payload, signature = token.split(".")
    relabelled = f"{b64(json.dumps({'alg': 'PS256', 'kid': 'test-key'}))}.{payload}.{signature}"
    # The set's key says "alg": "RS256": refused by the key's own alg first ...
    with pytest.raises(jwt.InvalidAlgorithmError, match="does not match"):
        jwkscache.JWKSCache.from_jwks(jwks, algorithms=["RS256", "PS256"]).decode(relabelled)
    # ... and by the signature when the key names no alg.
    bare = {"keys": [{k: v for k, v in signer.jwk.items() if k != "alg"}]}
    with pytest.raises(jwt.InvalidSignatureError):
        jwkscache.JWKSCache.from_jwks(bare, algorithms=["RS256", "PS256"]).decode(relabelled)


# -- jwk, jku, x5u, x5c: never a key source ------------------------------------------------


@pytest.fixture
def victim() -> Iterator[LocalIssuer]:
    with LocalIssuer() as running:
        yield running


@pytest.fixture
def attacker() -> Iterator[LocalIssuer]:
    with LocalIssuer() as running:
        yield running


def self_signed_x5c(signer: Signer) -> list[str]:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attacker")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(signer.public_key)
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(signer.private_key, hashes.SHA256())
    )
    return [base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()]


def test_key_bearing_headers_are_never_trusted(
    victim: LocalIssuer, attacker: LocalIssuer, other_signer: Signer
) -> None:
    cache = jwkscache.JWKSCache(victim.jwks_uri, refresh_cooldown=30)
    assert cache.decode(victim.mint(subject="real"))["sub"] == "real"
    carried = {
        "jwk": other_signer.jwk,
        "jku": attacker.jwks_uri,
        "x5u": attacker.url("/cert.pem"),
        "x5c": self_signed_x5c(other_signer),
    }
    claims = {"iss": victim.issuer, "sub": "admin", "exp": int(time.time()) + 300}
    # Signed by the attacker, naming the victim's kid: the victim's key says no.
    forged = other_signer.mint(claims, headers={"kid": victim.current_kid, **carried})
    with pytest.raises(jwt.InvalidSignatureError):
        cache.decode(forged)
    # Naming the attacker's own kid: no such key at the victim, whatever the headers offer.
    for name, value in carried.items():
        forged = other_signer.mint(claims, headers={"kid": "attacker-key", name: value})
        with pytest.raises(SigningKeyNotFoundError):
            cache.decode(forged)
    # Without a kid, the victim's one key is the only candidate.
    forged = jwt.encode(claims, other_signer.private_key, "RS256", headers=carried)
    with pytest.raises(jwt.InvalidSignatureError):
        cache.decode(forged)
    # A genuine token carrying them verifies with the victim's key; they are ignored.
    genuine = victim.mint(subject="real", headers=carried)
    assert cache.decode(genuine)["sub"] == "real"
    assert attacker.requests == []
    # Only the victim's JWKS path was ever asked for: one fetch, one unknown-kid refetch.
    assert {(r.path, r.query) for r in victim.requests} == {(victim.jwks_path, "")}
    assert victim.fetch_count == 2


# -- kid -----------------------------------------------------------------------------------

TRICK_KIDS = [
    "../../../../etc/passwd",
    "/etc/passwd",
    "file:///etc/passwd",
    "http://127.0.0.1:1/keys",
    "' OR '1'='1",
    '"; DROP TABLE keys; --',
    "${jndi:ldap://127.0.0.1:1/x}",
    "%2e%2e%2f%2e%2e%2f",
    "test-key\u0000",
    "\u0000",
    "test-key ",
    " test-key",
    "TEST-KEY",
    "t\u0435st-key",  # a Cyrillic e
    "test-key\n",
    "",
    "k" * 4000,
]


def test_kid_tricks_select_no_key_and_shape_no_request(victim: LocalIssuer) -> None:
    cache = jwkscache.JWKSCache(victim.jwks_uri)
    assert cache.decode(victim.mint())
    for kid in TRICK_KIDS:
        forged = victim.mint(headers={"kid": kid})  # signed by the real key, under another kid
        with pytest.raises(SigningKeyNotFoundError):
            cache.decode(forged)
    assert {(r.path, r.query) for r in victim.requests} == {(victim.jwks_path, "")}
    assert victim.fetch_count == 2  # the first fetch, then one refetch per cooldown


@pytest.mark.parametrize("kid", [1, True, None, {"kid": "test-key"}, ["test-key"], 1.5])
def test_a_kid_that_is_not_a_string_is_refused(
    cache: jwkscache.JWKSCache, signer: Signer, kid: Any
) -> None:
    header = json.dumps({"alg": "RS256", "kid": kid}).encode()
    token = sign_parts(signer, header, b'{"sub":"a"}')
    with pytest.raises(jwt.InvalidTokenError, match="Key ID header parameter must be a string"):
        cache.decode(token)
    assert outcome(lambda: jwt.decode(token, signer.public_key, algorithms=["RS256"])) is (
        jwt.InvalidTokenError
    )


# -- crit ----------------------------------------------------------------------------------


@pytest.mark.parametrize("crit", ["exp", [1], None, ["b64"], ["kid"], ["exp", "exp"], {}])
def test_crit_in_any_form_is_refused(cache: jwkscache.JWKSCache, signer: Signer, crit: Any) -> None:
    header = json.dumps({"alg": "RS256", "kid": "test-key", "crit": crit, "exp": 1}).encode()
    token = sign_parts(signer, header, b'{"sub":"a"}')
    with pytest.raises(jwt.InvalidTokenError):
        cache.decode(token)
    assert outcome(lambda: jwt.decode(token, signer.public_key, algorithms=["RS256"])) is not None


# -- duplicate members: the last one, as PyJWT (RFC 7515 §4, RFC 7519 §4) --------------------


@pytest.mark.parametrize(
    ("header", "payload"),
    [
        (b'{"alg":"none","alg":"RS256","kid":"test-key"}', b'{"sub":"a"}'),
        (b'{"alg":"RS256","alg":"none","kid":"test-key"}', b'{"sub":"a"}'),
        (b'{"alg":"RS256","kid":"other","kid":"test-key"}', b'{"sub":"a"}'),
        (b'{"alg":"RS256","kid":"test-key","kid":"other"}', b'{"sub":"a"}'),
        (b'{"alg":"RS256","kid":"test-key"}', b'{"aud":"evil","aud":"api"}'),
        (b'{"alg":"RS256","kid":"test-key"}', b'{"aud":"api","aud":"evil"}'),
        (b'{"alg":"RS256","kid":"test-key"}', b'{"exp":1,"exp":99999999999}'),
        (b'{"alg":"RS256","kid":"test-key"}', b'{"exp":99999999999,"exp":1}'),
    ],
)
def test_duplicate_members_read_the_last_one_as_pyjwt_does(
    jwks: dict[str, Any], signer: Signer, header: bytes, payload: bytes
) -> None:
    cache = jwkscache.JWKSCache.from_jwks(jwks)
    token = sign_parts(signer, header, payload)
    ours = outcome(lambda: cache.decode(token, audience="api"))
    theirs = outcome(
        lambda: jwt.decode(token, signer.public_key, algorithms=["RS256"], audience="api")
    )
    if theirs is jwt.InvalidKeyError:  # PyJWT's "none" with an RSA key
        theirs = jwt.InvalidAlgorithmError
    if ours is SigningKeyNotFoundError:  # PyJWT takes the key it is given, whatever the kid
        theirs = SigningKeyNotFoundError
    assert ours == theirs


# -- NumericDate ---------------------------------------------------------------------------

NOW = int(time.time())  # at import: dates in the future are a day ahead, not seconds
ACCEPTED, EXPIRED, IMMATURE = None, jwt.ExpiredSignatureError, jwt.ImmatureSignatureError
NOT_A_NUMBER = {"exp": jwt.DecodeError, "nbf": jwt.DecodeError, "iat": jwt.InvalidIssuedAtError}
DATES: list[tuple[str, str, dict[str, Any]]] = [
    # name, JSON literal, expected per claim (None: accepted); NOT_A_NUMBER: the claim's class
    (
        "float in the future",
        f"{NOW + 86400}.5",
        {"exp": ACCEPTED, "nbf": IMMATURE, "iat": IMMATURE},
    ),
    ("float in the past", f"{NOW - 1}.5", {"exp": EXPIRED, "nbf": ACCEPTED, "iat": ACCEPTED}),
    ("huge integer", "1" + "0" * 30, {"exp": ACCEPTED, "nbf": IMMATURE, "iat": IMMATURE}),
    ("huge float", "1e300", {"exp": ACCEPTED, "nbf": IMMATURE, "iat": IMMATURE}),
    ("2**63", str(2**63), {"exp": ACCEPTED, "nbf": IMMATURE, "iat": IMMATURE}),
    ("negative", "-1", {"exp": EXPIRED, "nbf": ACCEPTED, "iat": ACCEPTED}),
    ("-2**63-1", str(-(2**63) - 1), {"exp": EXPIRED, "nbf": ACCEPTED, "iat": ACCEPTED}),
    ("zero", "0", {"exp": EXPIRED, "nbf": ACCEPTED, "iat": ACCEPTED}),
    ("minus zero", "-0.0", {"exp": EXPIRED, "nbf": ACCEPTED, "iat": ACCEPTED}),
    ("exponent", f"{NOW + 86400}e0", {"exp": ACCEPTED, "nbf": IMMATURE, "iat": IMMATURE}),
    ("numeric string", f'"{NOW + 100}"', NOT_A_NUMBER),  # PyJWT: int("...")
    ("true", "true", NOT_A_NUMBER),  # PyJWT: int(True) == 1
    ("false", "false", NOT_A_NUMBER),
    ("null", "null", NOT_A_NUMBER),
    ("array", f"[{NOW + 100}]", NOT_A_NUMBER),
    ("object", '{"t": 1}', NOT_A_NUMBER),
    ("empty string", '""', NOT_A_NUMBER),
]


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize(
    ("literal", "expected"), [(d[1], d[2]) for d in DATES], ids=[d[0] for d in DATES]
)
def test_numeric_date_edge_cases(
    jwks: dict[str, Any], signer: Signer, claim: str, literal: str, expected: dict[str, Any]
) -> None:
    cache = jwkscache.JWKSCache.from_jwks(jwks)
    token = sign_parts(
        signer, b'{"alg":"RS256","kid":"test-key"}', f'{{"{claim}":{literal}}}'.encode()
    )
    ours = outcome(lambda: cache.decode(token))
    assert ours is expected[claim]
    if ours is None:  # never more lenient than PyJWT
        assert outcome(lambda: jwt.decode(token, signer.public_key, algorithms=["RS256"])) is None
    else:
        assert issubclass(ours, jwt.InvalidTokenError)


# -- aud -----------------------------------------------------------------------------------


@pytest.mark.parametrize("aud", [{"api": True}, [{"api": True}], 1, [1], True, ["api", None]])
def test_an_audience_that_is_not_str_or_list_of_str(
    jwks: dict[str, Any], signer: Signer, aud: Any
) -> None:
    cache = jwkscache.JWKSCache.from_jwks(jwks)
    token = signer.mint({"aud": aud})
    for expected in ("api", ["api"], None):
        with pytest.raises(jwt.InvalidAudienceError) as ours:
            cache.decode(token, audience=expected)
        with pytest.raises(jwt.InvalidAudienceError) as theirs:
            jwt.decode(token, signer.public_key, algorithms=["RS256"], audience=expected)
        assert str(ours.value) == str(theirs.value)


# -- max_token_bytes -----------------------------------------------------------------------


def test_a_token_one_byte_under_at_and_over_max_token_bytes(
    jwks: dict[str, Any], signer: Signer
) -> None:
    token = signer.mint({"sub": "a", "pad": "x" * 500})
    size = len(token)
    assert jwkscache.JWKSCache.from_jwks(jwks, max_token_bytes=size + 1).decode(token)["sub"] == "a"
    assert jwkscache.JWKSCache.from_jwks(jwks, max_token_bytes=size).decode(token)["sub"] == "a"
    over = jwkscache.JWKSCache.from_jwks(jwks, max_token_bytes=size - 1)
    with pytest.raises(jwt.DecodeError, match=f"{size} bytes is over the {size - 1}-byte limit"):
        over.decode(token)
    # The default bound, 16384, on both sides of it.
    default = jwkscache.JWKSCache.from_jwks(jwks)
    assert default.decode(token_of_length(signer, 16383))["sub"] == "a"
    assert default.decode(token_of_length(signer, 16384))["sub"] == "a"
    with pytest.raises(jwt.DecodeError, match="16385 bytes is over the 16384-byte limit"):
        default.decode(token_of_length(signer, 16385))


def token_of_length(signer: Signer, length: int) -> str:
    """A valid token exactly `length` bytes long (padding its payload and its header)."""
    base = len(signer.mint({"sub": "a", "pad": ""}, headers={"x": ""}))
    estimate = (length - base) * 3 // 4
    for pad in range(max(0, estimate - 3), estimate + 4):
        for extra in range(3):
            token = signer.mint({"sub": "a", "pad": "x" * pad}, headers={"x": "y" * extra})
            if len(token) == length:
                return token
    raise AssertionError(f"no token of {length} bytes")
