"""Claim rules on both sides of each boundary, with PyJWT's classes and messages."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import jwt
import pytest

import jwkscache
from conftest import Signer
from jwkscache import exceptions


@pytest.fixture
def cache(jwks: dict[str, Any]) -> jwkscache.JWKSCache:
    return jwkscache.JWKSCache.from_jwks(jwks)


def now() -> int:
    return int(time.time())


def test_exp_boundary(cache: jwkscache.JWKSCache, mint: Callable[..., str]) -> None:
    assert cache.decode(mint({"exp": now() + 30}))["exp"] > now()
    with pytest.raises(jwt.ExpiredSignatureError, match="^Signature has expired$"):
        cache.decode(mint({"exp": now() - 1}))


def test_exp_with_leeway_seconds_and_timedelta(
    cache: jwkscache.JWKSCache, mint: Callable[..., str]
) -> None:
    token = mint({"exp": now() - 30})
    assert cache.decode(token, leeway=60)
    assert cache.decode(token, leeway=timedelta(minutes=1))
    with pytest.raises(jwt.ExpiredSignatureError):
        cache.decode(token, leeway=10)
    assert cache.decode(token, options={"verify_exp": False})


def test_nbf_boundary_and_leeway(cache: jwkscache.JWKSCache, mint: Callable[..., str]) -> None:
    assert cache.decode(mint({"nbf": now() - 1}))
    token = mint({"nbf": now() + 60})
    with pytest.raises(jwt.ImmatureSignatureError, match=r"not yet valid \(nbf\)"):
        cache.decode(token)
    assert cache.decode(token, leeway=120)
    assert cache.decode(token, options={"verify_nbf": False})


def test_iat_boundary_and_type(cache: jwkscache.JWKSCache, mint: Callable[..., str]) -> None:
    token = mint({"iat": now() + 60})
    with pytest.raises(jwt.ImmatureSignatureError, match=r"not yet valid \(iat\)"):
        cache.decode(token)
    assert cache.decode(token, leeway=120)
    assert cache.decode(token, options={"verify_iat": False})
    with pytest.raises(jwt.InvalidIssuedAtError, match="must be an integer"):
        cache.decode(mint({"iat": "yesterday"}))


@pytest.mark.parametrize("claim", ["exp", "nbf"])
def test_non_numeric_time_claims_are_decode_errors(
    cache: jwkscache.JWKSCache, mint: Callable[..., str], claim: str
) -> None:
    with pytest.raises(jwt.DecodeError, match=f"\\({claim}\\) must be an integer"):
        cache.decode(mint({claim: "soon"}))


def test_audience_str_and_list_on_both_sides(
    cache: jwkscache.JWKSCache, mint: Callable[..., str]
) -> None:
    assert cache.decode(mint({"aud": "api"}), audience="api")
    assert cache.decode(mint({"aud": ["web", "api"]}), audience="api")
    assert cache.decode(mint({"aud": "api"}), audience=["other", "api"])
    assert cache.decode(mint({"aud": ("api",)}), audience=("api",))
    with pytest.raises(jwt.InvalidAudienceError, match="^Audience doesn't match$"):
        cache.decode(mint({"aud": "web"}), audience="api")
    with pytest.raises(jwt.MissingRequiredClaimError, match='missing the "aud" claim') as info:
        cache.decode(mint(), audience="api")
    assert info.value.claim == "aud"
    with pytest.raises(jwt.InvalidAudienceError, match="^Invalid audience$"):
        cache.decode(mint({"aud": "api"}))
    assert cache.decode(mint({"aud": "api"}), options={"verify_aud": False})
    with pytest.raises(jwt.InvalidAudienceError, match="Invalid claim format"):
        cache.decode(mint({"aud": [1, 2]}), audience="api")


def test_strict_audience(cache: jwkscache.JWKSCache, mint: Callable[..., str]) -> None:
    strict = {"strict_aud": True}
    assert cache.decode(mint({"aud": "api"}), audience="api", options=strict)
    with pytest.raises(jwt.InvalidAudienceError, match=r"\(strict\)"):
        cache.decode(mint({"aud": ["api"]}), audience="api", options=strict)
    with pytest.raises(jwt.InvalidAudienceError, match=r"\(strict\)"):
        cache.decode(mint({"aud": "api"}), audience=["api"], options=strict)


def test_issuer(cache: jwkscache.JWKSCache, mint: Callable[..., str], signer: Signer) -> None:
    token = mint({"iss": "https://issuer.example"})
    assert cache.decode(token, issuer="https://issuer.example")
    assert cache.decode(token, issuer=["https://a.example", "https://issuer.example"])
    with pytest.raises(jwt.InvalidIssuerError, match="^Invalid issuer$"):
        cache.decode(token, issuer="https://other.example")
    with pytest.raises(jwt.MissingRequiredClaimError, match='"iss"'):
        cache.decode(mint(), issuer="https://issuer.example")
    with pytest.raises(jwt.InvalidIssuerError, match="must be a string"):
        cache.decode(signer.sign_raw(b'{"iss": 7}'), issuer="https://issuer.example")
    assert cache.decode(token, issuer="https://other.example", options={"verify_iss": False})


def test_subject_and_jti(cache: jwkscache.JWKSCache, mint: Callable[..., str]) -> None:
    assert cache.decode(mint({"sub": "alice"}), subject="alice")
    with pytest.raises(exceptions.InvalidSubjectError, match="^Invalid subject$"):
        cache.decode(mint({"sub": "bob"}), subject="alice")
    with pytest.raises(exceptions.InvalidSubjectError, match="must be a string"):
        cache.decode(mint({"sub": 42}))
    assert cache.decode(mint({"sub": 42}), options={"verify_sub": False})
    with pytest.raises(exceptions.InvalidJTIError, match="must be a string"):
        cache.decode(mint({"jti": 42}))
    assert cache.decode(mint({"jti": 42}), options={"verify_jti": False})


def test_require(cache: jwkscache.JWKSCache, mint: Callable[..., str]) -> None:
    assert cache.decode(mint({"sub": "x"}), options={"require": ["exp", "iat", "sub"]})
    with pytest.raises(jwt.MissingRequiredClaimError, match='"jti"'):
        cache.decode(mint(), options={"require": ["jti"]})


def test_claims_keep_json_types(
    cache: jwkscache.JWKSCache, mint: Callable[..., str], signer: Signer
) -> None:
    big = 123456789012345678901234567890
    claims = {
        "big": big,
        "neg": -(2**70),
        "float": 1.5,
        "flag": True,
        "nothing": None,
        "nested": {"list": [1, "two", {"three": [3.0]}], "unicode": "żółw ✓"},
    }
    decoded = cache.decode(mint({**claims, "nothing": "placeholder"}))
    decoded = cache.decode(signer.sign_raw(json.dumps(claims).encode()))
    for key, value in claims.items():
        assert decoded[key] == value
        assert type(decoded[key]) is type(value)
    assert type(decoded["nested"]["list"][2]["three"][0]) is float


def test_decode_complete(cache: jwkscache.JWKSCache, mint: Callable[..., str]) -> None:
    complete = cache.decode_complete(mint({"sub": "x"}))
    assert complete["header"] == {"alg": "RS256", "typ": "JWT", "kid": "test-key"}
    assert complete["payload"]["sub"] == "x"
    assert isinstance(complete["signature"], bytes)
    assert len(complete["signature"]) == 256


def test_signature_check_cannot_be_switched_off(
    cache: jwkscache.JWKSCache, mint: Callable[..., str]
) -> None:
    with pytest.raises(ValueError, match="always verifies signatures"):
        cache.decode(mint(), options={"verify_signature": False})
    assert cache.decode(mint(), options={"verify_signature": True})


def test_unknown_option_and_bad_argument_types(
    cache: jwkscache.JWKSCache, mint: Callable[..., str]
) -> None:
    with pytest.raises(ValueError, match="unknown option .verify_expiry."):
        cache.decode(mint(), options={"verify_expiry": False})
    with pytest.raises(TypeError, match="audience must be"):
        cache.decode(mint(), audience=5)
    with pytest.raises(TypeError, match="leeway"):
        cache.decode(mint(), leeway="10")


def test_every_rejection_is_an_invalid_token_error(
    cache: jwkscache.JWKSCache, mint: Callable[..., str]
) -> None:
    for token, kwargs in [
        (mint({"exp": now() - 5}), {}),
        (mint({"nbf": now() + 500}), {}),
        (mint({"aud": "x"}), {"audience": "y"}),
        (mint({"iss": "x"}), {"issuer": "y"}),
        (mint(), {"options": {"require": ["sub"]}}),
    ]:
        with pytest.raises(exceptions.InvalidTokenError):
            cache.decode(token, **kwargs)


def test_claims_keep_the_tokens_order_as_pyjwt_does(
    cache: jwkscache.JWKSCache, signer: Signer
) -> None:
    token = signer.sign_raw(
        b'{"zeta": 1, "alpha": {"y": 2, "b": 3}, "mid": [1], "exp": 4102444800}'
    )
    ours = cache.decode(token)
    theirs = jwt.decode(token, signer.public_key, algorithms=["RS256"])
    assert list(ours) == list(theirs) == ["zeta", "alpha", "mid", "exp"]
    assert list(ours["alpha"]) == ["y", "b"]


def test_options_may_be_any_mapping(cache: jwkscache.JWKSCache, mint: Callable[..., str]) -> None:
    from types import MappingProxyType

    expired = mint({"exp": now() - 10})
    assert cache.decode(expired, options=MappingProxyType({"verify_exp": False}))
    with pytest.raises(TypeError, match="mapping"):
        cache.decode(expired, options=["verify_exp"])  # type: ignore[arg-type]
