"""Many processes, one Redis, one issuer: the fleet asks the issuer once per TTL.

Each worker (tests/_fleet.py) is its own process with its own JWKSCache over a real
redis-server; workers are released together by a barrier. The issuer (LocalIssuer, in this
process) counts the requests.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

import jwkscache
from _fleet import SECRET, run_fleet
from jwkscache.shared import RedisStore
from jwkscache.testing import LocalIssuer

# Generous: a loaded 2-core CI machine may take long to schedule the leaseholder.
WAIT = 10.0


def spec(issuer: LocalIssuer, server: Any, plan: list[Any], **cache: Any) -> dict[str, Any]:
    return {
        "url": issuer.jwks_uri,
        "redis_port": server.port,
        "audience": "api",
        "cache": {"shared_wait": WAIT, **cache},
        "plan": plan,
    }


def warm(issuer: LocalIssuer, server: Any, **cache: Any) -> jwkscache.JWKSCache:
    """The shared entry written by a process of a previous deploy."""
    keys = jwkscache.JWKSCache(
        issuer.jwks_uri, shared=RedisStore(server.client(), secret=SECRET), **cache
    )
    keys.refresh()
    return keys


def totals(reports: list[dict[str, Any]], name: str) -> int:
    return sum(r["stats"]["shared"][name] for r in reports)


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_cold_fleet_start_costs_one_request(redis_clean: Any, method: str) -> None:
    with LocalIssuer() as issuer:
        token = issuer.mint(audience="api")
        reports = run_fleet(spec(issuer, redis_clean, [("decode", token)]), 16, method)
        assert [r["outcomes"] for r in reports] == [["ok"]] * 16
        assert issuer.fetch_count == 1
        assert totals(reports, "written") == 1
        assert totals(reports, "adopted") == 15
        assert len({r["pid"] for r in reports}) == 16


def test_preloaded_cache_forked_into_workers_costs_one_request(redis_clean: Any) -> None:
    # gunicorn --preload: one JWKSCache built in the master, used by every forked worker.
    with LocalIssuer() as issuer:
        token = issuer.mint(audience="api")
        fleet_spec = {**spec(issuer, redis_clean, [("decode", token)]), "preload": True}
        reports = run_fleet(fleet_spec, 8, "fork")
        assert [r["outcomes"] for r in reports] == [["ok"]] * 8
        assert issuer.fetch_count == 1


def test_prewarmed_store_costs_no_request(redis_clean: Any) -> None:
    with LocalIssuer() as issuer:
        warm(issuer, redis_clean)
        before = issuer.fetch_count
        token = issuer.mint(audience="api")
        reports = run_fleet(spec(issuer, redis_clean, [("decode", token)]), 16, "fork")
        assert [r["outcomes"] for r in reports] == [["ok"]] * 16
        assert issuer.fetch_count - before == 0
        assert totals(reports, "adopted") == 16
        assert sum(r["stats"]["fetches"] for r in reports) == 0


def test_short_ttl_costs_one_request_per_ttl_for_the_fleet(redis_clean: Any) -> None:
    # max-age=2 for 10 s: about 5 requests for the fleet, where 8 processes alone make ~40.
    with LocalIssuer(cache_control="max-age=2") as issuer:
        token = issuer.mint(audience="api")
        plan = [("loop", 10.0, [token])]
        reports = run_fleet(spec(issuer, redis_clean, plan, min_ttl=0), 8)
        for report in reports:
            assert set(report["loops"][0][0]) == {"ok"}
        assert 3 <= issuer.fetch_count <= 12, issuer.fetch_count
        assert totals(reports, "adopted") >= 8


def test_rotation_costs_one_request(redis_clean: Any) -> None:
    with LocalIssuer() as issuer:
        warm(issuer, redis_clean)
        issuer.rotate()
        before = issuer.fetch_count
        token = issuer.mint(audience="api")
        reports = run_fleet(spec(issuer, redis_clean, [("decode", token)]), 16)
        assert [r["outcomes"] for r in reports] == [["ok"]] * 16
        assert issuer.fetch_count - before == 1


def test_random_kid_flood_costs_at_most_one_request_per_cooldown(redis_clean: Any) -> None:
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def random_kid_token() -> str:
        now = int(time.time())
        claims = {"aud": "api", "iat": now, "exp": now + 300}
        return jwt.encode(claims, forger, algorithm="RS256", headers={"kid": uuid.uuid4().hex})

    with LocalIssuer() as issuer:
        warm(issuer, redis_clean)
        before = issuer.fetch_count
        valid = issuer.mint(audience="api")
        plan = [("decode", random_kid_token()) for _ in range(10)] + [("decode", valid)]
        reports = run_fleet(spec(issuer, redis_clean, plan), 16)
        for report in reports:
            assert report["outcomes"] == ["SigningKeyNotFoundError"] * 10 + ["ok"]
        assert issuer.fetch_count - before <= 1


def test_refetch_is_conditional_and_a_304_renews_the_shared_entry(redis_clean: Any) -> None:
    with LocalIssuer(cache_control="max-age=1") as issuer:
        assert issuer.jwks()  # ETag on by default (generic preset)
        warm(issuer, redis_clean, min_ttl=0)
        key = next(iter(redis_clean.client().keys("jwkscache:*:entry")))
        first = redis_clean.client().get(key)
        before = len(issuer.requests)
        time.sleep(1.1)  # the shared entry expires
        token = issuer.mint(audience="api")
        reports = run_fleet(spec(issuer, redis_clean, [("decode", token)], min_ttl=0), 4)
        assert [r["outcomes"] for r in reports] == [["ok"]] * 4
        requests = issuer.requests[before:]
        assert [r.status for r in requests] == [304]
        assert "if-none-match" in requests[0].headers
        assert sum(r["stats"]["not_modified"] for r in reports) == 1
        renewed = redis_clean.client().get(key)

        def payload(value: bytes) -> dict[str, Any]:
            return dict(json.loads(value.split(b".", 2)[2]))

        assert payload(renewed)["fetched_at"] > payload(first)["fetched_at"]
        assert payload(renewed)["body"] == payload(first)["body"]


def test_a_failing_issuer_is_asked_once_by_a_cold_fleet(redis_clean: Any) -> None:
    # The leaseholder's fetch fails; the fleet's backoff keeps the others from each asking.
    with LocalIssuer() as issuer:
        issuer.fail_next(1000, 503)
        # A slow failure: every process is waiting on the leaseholder when it fails (the
        # fleet's first backoff, 0.5 to 1 s, then covers the stragglers).
        issuer.set_latency(1.0)
        token = issuer.mint(audience="api")
        reports = run_fleet(spec(issuer, redis_clean, [("decode", token)]), 8)
        assert [r["outcomes"] for r in reports] == [["PyJWKClientConnectionError"]] * 8
        assert issuer.fetch_count == 1
        assert sum(r["stats"]["failures"] for r in reports) == 1
