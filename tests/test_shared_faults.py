"""Faults never break verification: Redis hung, refused, flushed, restarted; a leaseholder killed.

Workers (tests/_fleet.py) verify a valid token and a forged one in a loop while this process
breaks things; every valid token must verify and no forged one may.
"""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

import jwkscache
from _fleet import SECRET, Fleet
from jwkscache.shared import RedisStore
from jwkscache.testing import LocalIssuer


def forged_token(issuer: LocalIssuer) -> str:
    """A token with the issuer's current kid, signed by another key."""
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {"iss": issuer.issuer, "aud": "api", "iat": now, "exp": now + 300}
    return jwt.encode(claims, other, algorithm="RS256", headers={"kid": issuer.current_kid})


def fleet_spec(issuer: LocalIssuer, server: Any, seconds: float, **cache: Any) -> dict[str, Any]:
    tokens = [issuer.mint(audience="api"), forged_token(issuer)]
    return {
        "url": issuer.jwks_uri,
        "redis_port": server.port,
        "audience": "api",
        "cache": {"min_ttl": 0, **cache},
        "plan": [("loop", seconds, tokens)],
    }


def check_outcomes(reports: list[dict[str, Any]]) -> None:
    for report in reports:
        valid, forged = report["loops"][0][0], report["loops"][0][1]
        assert set(valid) == {"ok"}, valid
        assert "ok" not in forged, forged
        assert sum(forged.values()) > 0


def test_redis_hung_refused_flushed_and_restarted(redis_clean: Any) -> None:
    n, seconds = 4, 14.0
    with LocalIssuer(cache_control="max-age=2") as issuer:
        fleet = Fleet(fleet_spec(issuer, redis_clean, seconds, timeout=2.0), n)
        fleet.release()
        time.sleep(2)
        redis_clean.pause()  # SIGSTOP: every call times out
        time.sleep(3)
        redis_clean.resume()
        time.sleep(1)
        redis_clean.client().flushall()
        time.sleep(1)
        redis_clean.stop()  # SIGTERM: connections refused
        time.sleep(3)
        redis_clean.start()
        reports = fleet.join()
        assert len(reports) == n
        check_outcomes(reports)
        # Within what n processes without the tier would ask (one per TTL each, plus the start).
        assert issuer.fetch_count <= n * (seconds / 2 + 2), issuer.fetch_count
        # Every worker met the failures (a refresh every TTL, each during a 3 s outage).
        assert all(r["stats"]["shared"]["store_errors"] > 0 for r in reports)


def test_a_killed_leaseholder_only_delays_the_others(redis_clean: Any) -> None:
    n, seconds = 4, 12.0
    with LocalIssuer(cache_control="max-age=2") as issuer:
        warm = jwkscache.JWKSCache(
            issuer.jwks_uri, min_ttl=0, shared=RedisStore(redis_clean.client(), secret=SECRET)
        )
        warm.refresh()
        client = redis_clean.client()
        entry_key = next(iter(client.keys("jwkscache:*:entry")))
        lease_key = entry_key.replace(b":entry", b":lease")
        warmed_at = json.loads(client.get(entry_key).split(b".", 2)[2])["fetched_at"]
        issuer.hang_next(1, seconds=1.5)  # the leaseholder's request is slow: it dies in it
        fleet = Fleet(fleet_spec(issuer, redis_clean, seconds, timeout=2.0), n)
        fleet.release()
        victim = None
        deadline = time.monotonic() + seconds
        while victim is None and time.monotonic() < deadline:
            lease = client.get(lease_key)
            if lease is not None:
                victim = json.loads(lease.split(b".", 2)[2])["pid"]
            else:
                time.sleep(0.005)
        assert victim is not None
        assert victim != os.getpid()
        os.kill(victim, signal.SIGKILL)
        reports = fleet.join(expect=n - 1)
        assert len(reports) == n - 1
        assert victim not in {r["pid"] for r in reports}
        check_outcomes(reports)
        # Another process took the lease over and shared a newer set.
        assert sum(r["stats"]["shared"]["lease_won"] for r in reports) >= 1
        assert sum(r["stats"]["shared"]["written"] for r in reports) >= 1
        renewed = json.loads(client.get(entry_key).split(b".", 2)[2])["fetched_at"]
        assert renewed > warmed_at
