"""The verified-token cache: a repeated token skips the RSA check, never the claim checks."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest

import jwkscache
from jwkscache.exceptions import SigningKeyNotFoundError
from jwkscache.testing import LocalIssuer


@pytest.fixture
def cache(jwks: dict[str, Any]) -> jwkscache.JWKSCache:
    return jwkscache.JWKSCache.from_jwks(jwks)


def test_a_repeated_token_hits_and_gets_its_own_dict(
    cache: jwkscache.JWKSCache, mint: Callable[..., str]
) -> None:
    token = mint({"sub": "a", "nested": {"list": [1]}})
    cache.decode(token)  # seen once: noted by the doorkeeper, not remembered
    first = cache.decode(token)  # seen twice: remembered
    first["nested"]["list"].append(2)
    second = cache.decode(token)
    assert second["nested"]["list"] == [1]
    assert first is not second
    # Later hits copy a template kept with the entry: still one dict per caller.
    second["nested"]["list"].append(3)
    second["sub"] = "mallory"
    third, fourth = cache.decode(token), cache.decode(token)
    assert third == fourth == {**first, "nested": {"list": [1]}}
    assert third["nested"] is not fourth["nested"]
    third["nested"]["list"].clear()
    assert cache.decode(token)["nested"]["list"] == [1]
    stats = cache.stats()
    assert (stats["token_cache_hits"], stats["token_cache_size"]) == (4, 1)


def test_one_off_tokens_are_never_remembered(
    cache: jwkscache.JWKSCache, mint: Callable[..., str]
) -> None:
    repeated = mint({"sub": "service"})
    cache.decode(repeated)
    cache.decode(repeated)
    for n in range(3000):  # more than the cache holds (1024)
        cache.decode(mint({"sub": f"once-{n}"}))
    stats = cache.stats()
    assert (stats["token_cache_size"], stats["token_cache_hits"]) == (1, 0)
    cache.decode(repeated)
    assert cache.stats()["token_cache_hits"] == 1


def test_a_token_refused_by_its_claims_is_never_remembered(
    cache: jwkscache.JWKSCache, mint: Callable[..., str]
) -> None:
    # Validly signed, but for another audience or expired: on an issuer that signs
    # tokens for anyone, such tokens must not fill the cache or its doorkeeper.
    foreign = mint({"aud": "other-api"})
    expired = mint({"exp": int(time.time()) - 60})
    for _ in range(5):
        with pytest.raises(jwt.InvalidAudienceError):
            cache.decode(foreign, audience="api")
        with pytest.raises(jwt.ExpiredSignatureError):
            cache.decode(expired)
    assert cache.stats()["token_cache_size"] == 0
    # The same token, accepted, is remembered from its second accepted decode.
    for _ in range(2):
        cache.decode(foreign, audience="other-api")
    assert cache.stats()["token_cache_size"] == 1


def test_a_token_seen_twice_is_a_hit_from_its_third_presentation(
    cache: jwkscache.JWKSCache, mint: Callable[..., str]
) -> None:
    token = mint({"sub": "service"})
    cache.decode(token)
    for n in range(1000):  # within the doorkeeper's memory (the cache's size)
        cache.decode(mint({"sub": f"other-{n}"}))
    cache.decode(token)
    assert cache.stats()["token_cache_hits"] == 0
    cache.decode(token)
    assert cache.stats()["token_cache_hits"] == 1


def test_claims_are_checked_on_every_call(
    cache: jwkscache.JWKSCache, mint: Callable[..., str]
) -> None:
    token = mint({"exp": int(time.time()) - 10, "aud": "api", "iss": "me"})
    for _ in range(2):  # remembered from the second verification
        assert cache.decode(token, audience="api", options={"verify_exp": False})
    with pytest.raises(jwt.ExpiredSignatureError):
        cache.decode(token, audience="api")
    with pytest.raises(jwt.InvalidAudienceError):
        cache.decode(token, audience="web", options={"verify_exp": False})
    with pytest.raises(jwt.InvalidIssuerError):
        cache.decode(token, audience="api", issuer="you", options={"verify_exp": False})
    with pytest.raises(jwt.InvalidAlgorithmError):
        cache.decode(
            token, algorithms=["PS256"], options={"verify_exp": False, "verify_aud": False}
        )
    assert cache.stats()["token_cache_hits"] >= 3


def test_a_cached_signature_with_another_payload_never_hits(
    cache: jwkscache.JWKSCache, mint: Callable[..., str]
) -> None:
    token = mint({"sub": "alice"})
    cache.decode(token)
    header, _, signature = token.split(".")
    forged_payload = base64.urlsafe_b64encode(b'{"sub":"mallory"}').rstrip(b"=").decode()
    with pytest.raises(jwt.InvalidSignatureError):
        cache.decode(f"{header}.{forged_payload}.{signature}")


def test_size_zero_turns_it_off(jwks: dict[str, Any], mint: Callable[..., str]) -> None:
    cache = jwkscache.JWKSCache.from_jwks(jwks, token_cache_size=0)
    token = mint()
    cache.decode(token)
    cache.decode(token)
    assert cache.stats()["token_cache_hits"] == 0
    with pytest.raises(ValueError, match="token_cache_size"):
        jwkscache.JWKSCache.from_jwks(jwks, token_cache_size=10**9)


def test_the_cache_is_bounded(jwks: dict[str, Any], mint: Callable[..., str]) -> None:
    cache = jwkscache.JWKSCache.from_jwks(jwks, token_cache_size=3)
    tokens = [mint({"n": n}) for n in range(5)]
    for token in tokens:
        cache.decode(token)
        cache.decode(token)
    assert cache.stats()["token_cache_size"] == 3
    cache.decode(tokens[0])  # evicted: verified again
    assert cache.stats()["token_cache_hits"] == 0


def test_entries_of_a_removed_key_are_dropped() -> None:
    with LocalIssuer() as issuer:
        cache = jwkscache.JWKSCache(issuer.jwks_uri, min_ttl=0)
        old = issuer.mint(subject="old")
        for _ in range(3):
            cache.decode(old)
        assert cache.stats()["token_cache_hits"] == 1
        old_kid = issuer.current_kid
        issuer.rotate()
        issuer.retire(old_kid)
        cache.refresh()
        assert cache.stats()["token_cache_size"] == 0
        with pytest.raises(SigningKeyNotFoundError):
            cache.decode(old)
