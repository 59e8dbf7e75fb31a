"""Where PyJWT's own ``decode`` and ``JWKSCache.decode`` must agree: class and message.

Each case runs both against the same signed token (real PyJWT, same key), so a PyJWT
upgrade that changes a message shows here.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

import jwkscache
from conftest import Signer


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(signer: Signer, header: dict[str, Any], payload_text: str) -> str:
    """A compact JWS over exactly this header and payload text (RS256, by hand)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(payload_text.encode())}"
    signature = signer.private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64(signature)}"


def both(signer: Signer, token: str, **kwargs: Any) -> tuple[BaseException, BaseException]:
    """The exception PyJWT raises, and the one jwkscache raises, for ``token``."""
    cache = jwkscache.JWKSCache.from_jwks({"keys": [signer.jwk]})
    with pytest.raises(jwt.InvalidTokenError) as theirs:
        jwt.decode(token, signer.public_key, algorithms=["RS256"], **kwargs)
    with pytest.raises(jwt.InvalidTokenError) as ours:
        cache.decode(token, **kwargs)
    return theirs.value, ours.value


def assert_same(pair: tuple[BaseException, BaseException]) -> None:
    theirs, ours = pair
    assert isinstance(ours, type(theirs)), (theirs, ours)
    assert str(ours) == str(theirs)


HEADER = {"alg": "RS256", "kid": "test-key"}


@pytest.mark.parametrize("claim", ["iat", "nbf", "exp"])
@pytest.mark.parametrize("literal", ["Infinity", "-Infinity", "NaN"])
def test_a_non_finite_date_names_its_claim(signer: Signer, claim: str, literal: str) -> None:
    token = signed(signer, HEADER, f'{{"sub": "a", "{claim}": {literal}}}')
    assert_same(both(signer, token))


def test_a_non_finite_value_elsewhere_is_a_decode_error(signer: Signer) -> None:
    # PyJWT's json.loads reads it; JSON has no such value: refused, naming the syntax.
    token = signed(signer, HEADER, '{"sub": "a", "ratio": Infinity}')
    cache = jwkscache.JWKSCache.from_jwks({"keys": [signer.jwk]})
    with pytest.raises(jwt.DecodeError, match="Invalid payload string"):
        cache.decode(token)


@pytest.mark.parametrize("audience", [b"api", b"", [b"api"], [1, 2], ("web", 3)])
def test_an_audience_that_is_not_str_never_matches(
    signer: Signer, mint: Callable[..., str], audience: Any
) -> None:
    token = mint({"aud": "api"})
    pair = both(signer, token, audience=audience)
    assert_same(pair)
    assert isinstance(pair[1], jwt.InvalidAudienceError)


def test_bytes_audience_under_strict_aud(signer: Signer, mint: Callable[..., str]) -> None:
    assert_same(both(signer, mint({"aud": "api"}), audience=b"api", options={"strict_aud": True}))


def unencoded(signer: Signer, header: dict[str, Any], payload_segment: str) -> str:
    """A token whose header says ``b64: false``, with this payload segment as it stands."""
    signing_input = f"{b64(json.dumps(header).encode())}.{payload_segment}"
    signature = signer.private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64(signature)}"


@pytest.mark.parametrize("crit", [None, ["b64"]])
@pytest.mark.parametrize("payload_segment", [b64(b'{"sub": "a"}'), ""])
def test_an_unencoded_payload_is_refused(signer: Signer, crit: Any, payload_segment: str) -> None:
    # RFC 7797: read as base64url, the first of these tokens would verify; PyJWT refuses
    # each (a non-empty segment; b64 not in crit; no detached payload), and so do we.
    header = {**HEADER, "b64": False, **({"crit": crit} if crit else {})}
    assert_same(both(signer, unencoded(signer, header, payload_segment)))


def test_b64_true_is_the_default(signer: Signer) -> None:
    token = signed(signer, {**HEADER, "b64": True}, '{"sub": "a"}')
    cache = jwkscache.JWKSCache.from_jwks({"keys": [signer.jwk]})
    assert cache.decode(token) == jwt.decode(token, signer.public_key, algorithms=["RS256"])


@pytest.mark.parametrize(
    "extra",
    [
        {"b64": False, "crit": ["b64", "foo"]},
        {"b64": False, "kid": 5},
        {"b64": False, "crit": []},
        {"b64": False, "crit": "b64"},
        {"crit": ["b64"]},
        {"crit": [1]},
    ],
)
def test_header_checks_come_in_pyjwt_order(signer: Signer, extra: dict[str, Any]) -> None:
    assert_same(both(signer, unencoded(signer, {**HEADER, **extra}, "")))


def test_b64_true_listed_in_crit_is_accepted_as_pyjwt_does(signer: Signer) -> None:
    token = signed(signer, {**HEADER, "b64": True, "crit": ["b64"]}, '{"sub": "a"}')
    cache = jwkscache.JWKSCache.from_jwks({"keys": [signer.jwk]})
    assert cache.decode(token) == jwt.decode(token, signer.public_key, algorithms=["RS256"])


@pytest.mark.parametrize("literal", ["-NaN", "NaNx", "Infinityy"])
def test_text_python_json_refuses_too_stays_a_syntax_error(signer: Signer, literal: str) -> None:
    token = signed(signer, HEADER, f'{{"iat": {literal}}}')
    theirs, ours = both(signer, token)
    assert type(theirs) is jwt.DecodeError
    assert type(ours) is jwt.DecodeError
    assert str(ours).startswith("Invalid payload string")
