"""The JWKSCache object: construction, key lookup, introspection."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest

import jwkscache
from conftest import Signer
from jwkscache.exceptions import SigningKeyNotFoundError


@pytest.mark.parametrize("form", [dict, json.dumps, lambda d: json.dumps(d).encode()])
def test_from_jwks_takes_dict_str_or_bytes(
    jwks: dict[str, Any], mint: Callable[..., str], form: Callable[[Any], Any]
) -> None:
    cache = jwkscache.JWKSCache.from_jwks(form(jwks))
    assert cache.decode(mint({"sub": "a"}))["sub"] == "a"
    assert cache.kids == ["test-key"]
    assert len(cache) == 1
    assert cache.skipped == []
    assert cache.algorithms == ["RS256"]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({}, "did not contain any keys"),
        ({"keys": []}, "did not contain any keys"),
        ({"keys": "x"}, "must be an array"),
        ("[]", "expected a JSON object"),
        ("{", "not JSON"),
        ({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}, "did not contain any usable keys"),
    ],
)
def test_documents_that_are_not_usable_sets(document: Any, message: str) -> None:
    with pytest.raises(jwt.PyJWKSetError, match=message):
        jwkscache.JWKSCache.from_jwks(document)
    with pytest.raises(TypeError):
        jwkscache.JWKSCache.from_jwks(42)  # type: ignore[arg-type]


def test_algorithms_must_be_known(jwks: dict[str, Any]) -> None:
    # No JOSE name, or only names whose keys no JWK Set serves: a ValueError at construction.
    for bad in (["rs256"], ["ES256K"], ["RS256", "HS1"], ["none"], ["HS256", "HS512"], []):
        with pytest.raises(ValueError, match="algorithm"):
            jwkscache.JWKSCache.from_jwks(jwks, algorithms=bad)
    # PyJWT's names for what a JWKS never serves are accepted next to a real one, and left out.
    cache = jwkscache.JWKSCache.from_jwks(jwks, algorithms=["RS256", "HS256", "none"])
    assert cache.algorithms == ["RS256"]
    assert jwkscache.JWKSCache.from_jwks(jwks, algorithms=["RS256", "PS256"]).algorithms == [
        "RS256",
        "PS256",
    ]


def test_key_alg_must_agree_with_token_alg(signer: Signer) -> None:
    cache = jwkscache.JWKSCache.from_jwks({"keys": [signer.jwk]}, algorithms=["RS256", "RS384"])
    with pytest.raises(jwt.InvalidAlgorithmError, match="does not match"):
        cache.decode(signer.mint(algorithm="RS384"))
    unbound = {k: v for k, v in signer.jwk.items() if k != "alg"}
    cache = jwkscache.JWKSCache.from_jwks({"keys": [unbound]}, algorithms=["RS256", "RS384"])
    assert cache.decode(signer.mint({"sub": "x"}, algorithm="RS384"))["sub"] == "x"
    with pytest.raises(jwt.InvalidAlgorithmError):
        cache.decode(signer.mint(algorithm="RS384"), algorithms=["RS256"])


def test_signing_key_lookup_and_pyjwk(
    jwks: dict[str, Any], mint: Callable[..., str], signer: Signer
) -> None:
    cache = jwkscache.JWKSCache.from_jwks(jwks)
    token = mint({"aud": "api"})
    key = cache.get_signing_key_from_jwt(token)
    assert (key.kid, key.alg, key.key_type, key.key_size) == ("test-key", "RS256", "RSA", 2048)
    assert key.to_dict() == signer.jwk
    pyjwk = key.to_pyjwk()
    assert isinstance(pyjwk, jwt.PyJWK)
    assert jwt.decode(token, pyjwk.key, algorithms=["RS256"], audience="api")["aud"] == "api"
    assert cache.get_signing_key("test-key").kid == "test-key"
    with pytest.raises(SigningKeyNotFoundError, match='"other"'):
        cache.get_signing_key("other")
    with pytest.raises(AttributeError):
        key.kid = "x"  # type: ignore[misc]


def test_token_without_kid_needs_a_single_key_set() -> None:
    lone = Signer(kid=None)
    token = lone.mint({"sub": "x"})
    assert jwkscache.JWKSCache.from_jwks({"keys": [lone.jwk]}).decode(token)["sub"] == "x"
    two = {"keys": [lone.jwk, Signer(kid="b").jwk]}
    with pytest.raises(SigningKeyNotFoundError, match='no "kid" header'):
        jwkscache.JWKSCache.from_jwks(two).decode(token)


def test_duplicate_kid_first_key_wins(signer: Signer, other_signer: Signer) -> None:
    cache = jwkscache.JWKSCache.from_jwks({"keys": [signer.jwk, other_signer.jwk]})
    assert cache.kids == ["test-key"]
    assert "duplicate kid" in cache.skipped[0]["reason"]
    assert cache.decode(signer.mint())
    with pytest.raises(jwt.InvalidSignatureError):
        cache.decode(other_signer.mint())


def test_repr_holds_no_key_material(jwks: dict[str, Any], signer: Signer) -> None:
    cache = jwkscache.JWKSCache.from_jwks(jwks)
    for text in (repr(cache), repr(cache.get_signing_key("test-key"))):
        assert signer.jwk["n"][:16] not in text
    assert "keys=1" in repr(cache)


def test_version() -> None:
    assert jwkscache.__version__.count(".") == 2
