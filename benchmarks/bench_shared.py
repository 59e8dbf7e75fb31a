"""Issuer JWKS requests for N processes, with and without the shared tier; verify cost with it.

Runs on one machine: a LocalIssuer (counts requests), a real redis-server on 127.0.0.1 (the
test suite's helper, tests/_redis.py), and N worker processes forked together from a launcher
with no threads (tests/_fleet.py), each with its own JWKSCache.

- cold start: every process decodes one token at once;
- per TTL: the issuer says ``max-age=2`` and every process decodes for 10 s (5 TTLs);
- verify cost: ``decode`` of one token in this process, with and without ``shared=``,
  interleaved rounds (the store is never called on that path).

Usage: ``python benchmarks/bench_shared.py [N ...]`` (default 1 4 16 64).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import jwkscache
from _fleet import SECRET, run_fleet
from _redis import RedisServer
from jwkscache.shared import RedisStore
from jwkscache.testing import LocalIssuer

SECONDS = 10.0
COLUMNS = ("cold start, alone", "cold start, shared", "per 10 s, alone", "per 10 s, shared")


def requests(server: RedisServer, n: int, shared: bool, per_ttl: bool) -> int:
    """Issuer JWKS requests made by ``n`` fresh processes."""
    server.client().flushall()
    cache_control = "max-age=2" if per_ttl else "max-age=300"
    with LocalIssuer(cache_control=cache_control) as issuer:
        token = issuer.mint(audience="api")
        plan: list[Any] = [("loop", SECONDS, [token])] if per_ttl else [("decode", token)]
        spec = {
            "url": issuer.jwks_uri,
            "redis_port": server.port if shared else None,
            "audience": "api",
            "cache": {"min_ttl": 0, **({"shared_wait": 5.0} if shared else {})},
            "plan": plan,
        }
        run_fleet(spec, n, "fork")
        return issuer.fetch_count


def verify_cost(server: RedisServer, rounds: int = 5, calls: int = 20000) -> tuple[float, float]:
    """Median µs per decode (token cache off: the signature check every call)."""
    with LocalIssuer() as issuer:
        token = issuer.mint(audience="api")
        store = RedisStore(server.client(), secret=SECRET)
        alone = jwkscache.JWKSCache(issuer.jwks_uri, token_cache_size=0)
        shared = jwkscache.JWKSCache(issuer.jwks_uri, token_cache_size=0, shared=store)
        results: dict[str, list[float]] = {"alone": [], "shared": []}
        for _ in range(rounds):
            for name, cache in (("alone", alone), ("shared", shared)):
                cache.decode(token, audience="api")
                start = time.perf_counter()
                for _ in range(calls):
                    cache.decode(token, audience="api")
                results[name].append((time.perf_counter() - start) / calls * 1e6)
        median = {k: sorted(v)[len(v) // 2] for k, v in results.items()}
        return median["alone"], median["shared"]


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1, 4, 16, 64]
    server = RedisServer()
    try:
        print("| processes | " + " | ".join(COLUMNS) + " |")
        print("| --- | --- | --- | --- | --- |")
        for n in sizes:
            row = [
                requests(server, n, shared, per_ttl)
                for per_ttl in (False, True)
                for shared in (False, True)
            ]
            print(f"| {n} | " + " | ".join(str(r) for r in row) + " |", flush=True)
        alone, shared = verify_cost(server)
        print(f"\ndecode, token cache off: {alone:.1f} µs alone, {shared:.1f} µs with shared=")
    finally:
        server.close()


if __name__ == "__main__":
    main()
