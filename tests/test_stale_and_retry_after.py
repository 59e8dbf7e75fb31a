"""Stale-while-revalidate and Retry-After, over real HTTP against LocalIssuer.

Past expiry, a set within `max_stale` answers at once while a background refresh runs; only
a cache without usable keys waits for the issuer (bounded by `timeout`). A 429 or 503 with
`Retry-After` defers the next attempt as asked, capped at `max_stale` (and 600 s).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from email.utils import formatdate
from typing import Any

import jwt
import pytest

import jwkscache
from conftest import wait_until
from jwkscache.testing import LocalIssuer

# TTLs of seconds: the set expires 1 s after each fetch.
QUICK: dict[str, Any] = {"min_ttl": 0, "max_ttl": 3600}


@pytest.fixture
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer() as running:
        running.set_headers(cache_control="max-age=1")
        yield running


def expired_cache(issuer: LocalIssuer, **options: Any) -> tuple[jwkscache.JWKSCache, str]:
    """A cache that fetched once and whose set has just expired, and a token it verifies."""
    cache = jwkscache.JWKSCache(issuer.jwks_uri, **{**QUICK, "timeout": 10, **options})
    token = issuer.mint(subject="stale")
    assert cache.decode(token)["sub"] == "stale"
    time.sleep(1.1)
    return cache, token


def landed(cache: jwkscache.JWKSCache) -> int:
    """Fetches that brought a set back: new (200) or confirmed (304)."""
    stats = cache.stats()
    return int(stats["fetches"] + stats["not_modified"])


def test_an_expired_set_answers_at_once_while_a_hanging_issuer_is_refetched(
    issuer: LocalIssuer,
) -> None:
    cache, token = expired_cache(issuer)
    issuer.hang_next(1, seconds=60)
    answers: list[Any] = []

    def decode() -> None:
        try:
            answers.append(cache.decode(token)["sub"])
        except Exception as error:
            answers.append(error)

    threads = [threading.Thread(target=decode) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == ["stale"] * 8
    # The refetch reached the issuer, which is still holding it: the cache has seen neither
    # a new set nor a failure, so every answer above came while it was in flight.
    assert issuer.wait_for_fetches(2)
    stats = cache.stats()
    assert (stats["fetches"], stats["not_modified"], stats["failures"]) == (1, 0, 0)
    assert issuer.fault_counts["hang"] == 1
    assert stats["stale_served"] >= 8
    assert stats["serving_stale"] is False  # nothing failed yet: no warning
    assert cache.decode(token)["sub"] == "stale"
    assert issuer.fetch_count == 2  # one refetch for all of them
    cache.close()


def test_the_background_refetch_installs_the_new_set(issuer: LocalIssuer) -> None:
    cache, token = expired_cache(issuer)
    new_kid = issuer.rotate(retire_previous=True)
    assert cache.decode(token)["sub"] == "stale"  # the old set, at once
    assert wait_until(lambda: cache.stats()["fetches"] == 2)
    assert cache.kids == [new_kid]
    with pytest.raises(jwt.InvalidTokenError):
        cache.decode(token)  # its key is gone from the new set
    assert cache.decode(issuer.mint(subject="new"))["sub"] == "new"


def test_past_max_stale_the_request_waits_for_the_refetch(issuer: LocalIssuer) -> None:
    cache, token = expired_cache(issuer, max_stale=0, timeout=0.5)
    issuer.hang_next(1, seconds=60)
    with pytest.raises(jwt.PyJWKClientConnectionError, match="max_stale"):
        cache.decode(token)
    # It returned after the fetch failed (timed out), not before.
    stats = cache.stats()
    assert stats["failures"] == 1
    assert "timed out" in stats["last_error"]


def test_after_close_an_expired_set_is_refetched_in_the_request(issuer: LocalIssuer) -> None:
    cache, token = expired_cache(issuer)
    cache.close()
    assert cache.decode(token)["sub"] == "stale"
    # No background thread after close(): the request itself refetched.
    assert landed(cache) == 2


@pytest.mark.parametrize(
    ("status", "retry_after"),
    [
        pytest.param(429, lambda: "30", id="429-seconds"),
        pytest.param(503, lambda: formatdate(time.time() + 30, usegmt=True), id="503-http-date"),
    ],
)
def test_retry_after_defers_the_next_attempt_while_the_stale_set_serves(
    issuer: LocalIssuer, status: int, retry_after: Any
) -> None:
    cache, token = expired_cache(issuer)
    issuer.fail_next(1, status, headers={"Retry-After": retry_after()})
    assert cache.decode(token)["sub"] == "stale"
    assert wait_until(lambda: cache.stats()["failures"] == 1)
    assert "Retry-After" in cache.stats()["last_error"]
    time.sleep(1.1)  # past the usual first backoff (at most 1 s)
    for _ in range(5):
        assert cache.decode(token)["sub"] == "stale"
    assert issuer.fetch_count == 2
    assert cache.stats()["serving_stale"] is True


def test_without_retry_after_the_usual_backoff_applies(issuer: LocalIssuer) -> None:
    cache, token = expired_cache(issuer)
    issuer.fail_next(1, 503)
    assert cache.decode(token)["sub"] == "stale"
    assert wait_until(lambda: cache.stats()["failures"] == 1)
    time.sleep(1.1)
    assert cache.decode(token)["sub"] == "stale"
    assert wait_until(lambda: landed(cache) == 2)
    assert issuer.fetch_count == 3


def test_retry_after_is_capped_at_max_stale(issuer: LocalIssuer) -> None:
    cache, token = expired_cache(issuer, max_stale=1.5)
    issuer.fail_next(1, 429, headers={"Retry-After": "3600"})
    assert cache.decode(token)["sub"] == "stale"
    assert wait_until(lambda: cache.stats()["failures"] == 1)
    time.sleep(1.6)
    # The stale window is over and so is the capped wait: this request refetches (the
    # issuer has recovered) instead of failing for the hour the issuer asked for.
    assert cache.decode(token)["sub"] == "stale"
    assert issuer.fetch_count == 3
    assert landed(cache) == 2


@pytest.mark.parametrize(("headers", "fetches"), [({"Retry-After": "30"}, 1), ({}, 2)])
def test_retry_after_on_a_cold_cache_fails_fast_without_asking_again(
    issuer: LocalIssuer, headers: dict[str, str], fetches: int
) -> None:
    issuer.fail_next(2, 429, headers=headers)
    cache = jwkscache.JWKSCache(issuer.jwks_uri, **QUICK)
    token = issuer.mint()
    with pytest.raises(jwt.PyJWKClientConnectionError, match="429"):
        cache.decode(token)
    time.sleep(1.1)
    with pytest.raises(jwt.PyJWKClientConnectionError, match="429"):
        cache.decode(token)
    assert issuer.fetch_count == fetches
