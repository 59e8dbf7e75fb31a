"""Decode cost per algorithm: RS256, ES256 and EdDSA, jwkscache next to PyJWT.

The same EKS-shaped claims (~15 claims) signed with a 2048-bit RSA key, a P-256 key and an
Ed25519 key; the verified-token cache off, so every call checks the signature. All
contenders run in one process, in interleaved rounds; medians are printed, with each
algorithm's cost relative to RS256.

Run from a release build: ``make bench`` (or ``python benchmarks/bench_algorithms.py``;
``--quick`` for a smoke run).
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt

import jwkscache
from jwkscache.testing import LocalIssuer

ALGORITHMS = ("RS256", "ES256", "EdDSA")


def claims(issuer: str) -> dict[str, Any]:
    now = int(time.time())
    return {
        "aud": ["sts.amazonaws.com", "https://kubernetes.default.svc"],
        "exp": now + 86400,
        "iat": now,
        "nbf": now,
        "iss": issuer,
        "jti": str(uuid.uuid4()),
        "sub": "system:serviceaccount:payments:payments-api",
        "kubernetes.io": {
            "namespace": "payments",
            "pod": {"name": "payments-api-7c9f8d6b5-x2lqz", "uid": str(uuid.uuid4())},
            "serviceaccount": {"name": "payments-api", "uid": str(uuid.uuid4())},
            "warnafter": now + 3607,
        },
    }


def contenders(alg: str) -> tuple[dict[str, Callable[[], object]], LocalIssuer]:
    issuer = LocalIssuer("eks", alg=alg)
    token = issuer.mint(claims(issuer.issuer))
    cache = jwkscache.JWKSCache.from_jwks(
        issuer.jwks(), algorithms=[alg], issuer=issuer.issuer, token_cache_size=0
    )
    public = jwt.PyJWK(issuer.jwks()["keys"][0], alg).key

    def ours() -> object:
        return cache.decode(token, audience="sts.amazonaws.com")

    def pyjwt() -> object:
        return jwt.decode(
            token, public, algorithms=[alg], audience="sts.amazonaws.com", issuer=issuer.issuer
        )

    return {f"jwkscache {alg}": ours, f"PyJWT {alg}": pyjwt}, issuer


def run(rounds: int = 15, calls: int = 2000) -> str:
    """Median µs per decode of each contender, and each algorithm relative to RS256."""
    everything: dict[str, Callable[[], object]] = {}
    issuers = []
    for alg in ALGORITHMS:
        found, issuer = contenders(alg)
        everything.update(found)
        issuers.append(issuer)
    for issuer in issuers:
        issuer.close()
    for fn in everything.values():
        fn()  # warm up, and fail early if a contender is broken
    samples: dict[str, list[float]] = {name: [] for name in everything}
    for _ in range(rounds):
        for name, fn in everything.items():
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            samples[name].append((time.perf_counter() - start) / calls * 1e6)
    median = {name: statistics.median(values) for name, values in samples.items()}
    lines = [f"decode, signature checked every call ({rounds} rounds x {calls} calls, median)"]
    for who in ("jwkscache", "PyJWT"):
        base = median[f"{who} RS256"]
        for alg in ALGORITHMS:
            us = median[f"{who} {alg}"]
            lines.append(f"{who + ' ' + alg:<20} {us:8.1f} µs   {us / base:5.2f}x RS256")
    return "\n".join(lines)


if __name__ == "__main__":
    quick = "--quick" in sys.argv[1:]
    print(run(rounds=1, calls=5) if quick else run())
