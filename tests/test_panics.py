"""A panic in the Rust core reaches Python as a clean exception, never `PanicException`.

`_core._arm_panic(site)` makes the core's next pass through a site panic, once: a token's
lookup becomes a refused token (`jwt.InvalidTokenError`, so a web answer is a 401, fail
closed), a fetch becomes a failed fetch (last good set kept, backoff, logged), and a panic
in a background refresh does not stop later ones.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

import jwkscache
from conftest import Signer, wait_until
from jwkscache import _core
from jwkscache.testing import LocalIssuer


@pytest.fixture
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer() as running:
        yield running


def landed(cache: jwkscache.JWKSCache) -> int:
    stats = cache.stats()
    return int(stats["fetches"] + stats["not_modified"])


def test_a_panic_in_a_lookup_is_a_refused_token(jwks: dict[str, Any], signer: Signer) -> None:
    cache = jwkscache.JWKSCache.from_jwks(jwks)
    token = signer.mint({"sub": "a"})
    _core._arm_panic("lookup")
    with pytest.raises(jwt.InvalidTokenError, match="internal error in jwkscache") as info:
        cache.decode(token)
    assert type(info.value) is jwt.InvalidTokenError  # an Exception, not PanicException
    assert cache.decode(token)["sub"] == "a"  # the next call is unaffected


def test_a_panic_in_a_cold_fetch_is_a_connection_error(issuer: LocalIssuer) -> None:
    cache = jwkscache.JWKSCache(issuer.jwks_uri, min_ttl=0)
    _core._arm_panic("fetch")
    with pytest.raises(jwt.PyJWKClientConnectionError, match="internal error"):
        cache.get_signing_key(issuer.current_kid)
    assert issuer.fetch_count == 0  # it panicked before the request
    assert cache.stats()["failures"] == 1


def test_a_panic_in_a_background_refresh_does_not_stop_later_ones(issuer: LocalIssuer) -> None:
    issuer.set_headers(cache_control="max-age=1")
    cache = jwkscache.JWKSCache(issuer.jwks_uri, min_ttl=0)
    token = issuer.mint(subject="a")
    assert cache.decode(token)["sub"] == "a"
    time.sleep(1.1)  # expired: the next decode revalidates in the background
    _core._arm_panic("fetch")
    assert cache.decode(token)["sub"] == "a"
    assert wait_until(lambda: cache.stats()["failures"] == 1)
    assert "internal error" in cache.stats()["last_error"]
    time.sleep(1.1)  # past the backoff
    assert cache.decode(token)["sub"] == "a"
    assert wait_until(lambda: landed(cache) == 2)  # the next background refresh ran
    assert issuer.fetch_count == 2
    cache.close()


def test_an_unknown_site_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="no panic site"):
        _core._arm_panic("nowhere")
