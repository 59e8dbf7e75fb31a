"""Stress (issue 12, item 3): verdicts under churn, flat memory, fork in a loop.

Sized for CI (about 30 s in all on the debug build). Set JWKSCACHE_STRESS_REPORT=<file> to
append each run's figures as a JSON line (the figures in docs/security.md).
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

import jwkscache
from conftest import Signer
from jwkscache.testing import LocalIssuer


def rss_mb() -> float:
    match = re.search(r"VmRSS:\s+(\d+)", Path("/proc/self/status").read_text())
    assert match is not None
    return int(match.group(1)) / 1024


@pytest.fixture
def report() -> Iterator[Callable[..., None]]:
    path = os.environ.get("JWKSCACHE_STRESS_REPORT")
    lines: list[str] = []
    yield lambda **figures: lines.append(json.dumps(figures))
    if path:
        with open(path, "a") as out:
            out.writelines(line + "\n" for line in lines)


# -- verdicts while the issuer rotates, fails, hangs and recovers ---------------------------

DURATION = 8.0
TTL, MAX_STALE, TIMEOUT, COOLDOWN = 1.0, 2.0, 0.5, 1.0
# How long after its retirement a key may still verify: the last set holding it may have
# been fetched just before, stays fresh for TTL and is served stale for MAX_STALE more.
RETIRED_GRACE = TTL + MAX_STALE + 1.0


class Ledger:
    """The issuer's record of when each key was published and retired."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.published: dict[str, float] = {}
        self.retired: dict[str, float] = {}
        self.tokens: dict[str, str] = {}

    def publish(self, kid: str, token: str) -> None:
        with self.lock:
            self.published[kid] = time.time()
            self.tokens[kid] = token

    def retire(self, kid: str) -> None:
        with self.lock:
            self.retired.setdefault(kid, time.time())

    def may_verify(self, kid: str, started: float) -> bool:
        with self.lock:
            if kid not in self.published:
                return False
            retired = self.retired.get(kid)
            return retired is None or started <= retired + RETIRED_GRACE


def test_eight_threads_through_rotation_outages_and_hangs(report: Callable[..., None]) -> None:
    attacker = Signer(kid=None)
    ledger = Ledger()
    with LocalIssuer() as issuer:
        issuer.set_headers(cache_control=f"max-age={TTL:.0f}")
        ledger.publish(issuer.current_kid, issuer.mint(kid=issuer.current_kid))
        cache = jwkscache.JWKSCache(
            issuer.jwks_uri,
            min_ttl=0,
            timeout=TIMEOUT,
            refresh_cooldown=COOLDOWN,
            max_stale=MAX_STALE,
        )
        stop = threading.Event()
        wrong: list[str] = []
        counts: dict[str, int] = {}
        counts_lock = threading.Lock()

        def count(name: str) -> None:
            with counts_lock:
                counts[name] = counts.get(name, 0) + 1

        def decoder(seed: int) -> None:
            rng = random.Random(seed)
            while not stop.is_set():
                with ledger.lock:
                    kid, token = rng.choice(list(ledger.tokens.items()))
                    live = [k for k in ledger.published if k not in ledger.retired]
                kind = rng.choice(["genuine", "genuine", "genuine", "forged", "ghost"])
                if kind == "genuine" and kid not in live:
                    kind = "retired"  # genuine, under a key the issuer no longer publishes
                if kind == "forged":  # the attacker's signature under a published kid
                    kid = rng.choice(live)
                    token = attacker.mint({"iss": issuer.issuer}, headers={"kid": kid})
                elif kind == "ghost":  # a kid the issuer never had
                    token = attacker.mint({"iss": issuer.issuer}, headers={"kid": uuid.uuid4().hex})
                started = time.time()
                try:
                    cache.decode(token)
                except (jwt.InvalidTokenError, jwt.PyJWKClientError):
                    count(f"{kind} refused")
                    continue
                except BaseException as error:  # not a documented class: a wrong verdict
                    wrong.append(f"{kind} {kid}: {error!r}")
                    continue
                count(f"{kind} accepted")
                if kind not in ("genuine", "retired") or not ledger.may_verify(kid, started):
                    wrong.append(f"{kind} token of {kid} accepted at {started}")

        threads = [threading.Thread(target=decoder, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        start = time.monotonic()
        step = 0
        while time.monotonic() - start < DURATION:
            action = step % 6
            if action in (0, 2):
                previous = issuer.current_kid
                kid = issuer.rotate(retire_previous=action == 2)
                ledger.publish(kid, issuer.mint(kid=kid))
                if action == 2:
                    ledger.retire(previous)
            elif action == 1:
                issuer.fail_next(3, 503)
            elif action == 3:
                issuer.hang_next(2, seconds=TIMEOUT * 3)
            elif action == 4:
                older = [k for k in issuer.kids if k != issuer.current_kid]
                if older:
                    issuer.retire(older[0])
                    ledger.retire(older[0])
            else:
                issuer.reset_faults()
            step += 1
            time.sleep(0.4)
        stop.set()
        elapsed = time.monotonic() - start
        for thread in threads:
            thread.join(timeout=30)
        assert not any(thread.is_alive() for thread in threads), "a decoder is stuck"
        stats = cache.stats()
        cache.close()
        fetches = issuer.fetch_count
    report(
        test="churn",
        seconds=round(elapsed, 1),
        decodes=sum(counts.values()),
        counts=counts,
        fetches=fetches,
        unknown_kid_refreshes=stats["unknown_kid_refreshes"],
        rotations=len(ledger.published) - 1,
        wrong_verdicts=len(wrong),
    )
    assert wrong == []
    assert counts.get("genuine accepted", 0) > 100
    assert counts.get("forged refused", 0) > 100
    assert counts.get("ghost refused", 0) > 100
    # Single flight, cooldown and backoff: an expiry refresh at most every 0.5 s (the least
    # backoff), an unknown-kid refetch at most once per cooldown.
    assert stats["unknown_kid_refreshes"] <= elapsed / COOLDOWN + 1
    assert fetches <= elapsed / 0.5 + elapsed / COOLDOWN + 4


# -- memory ---------------------------------------------------------------------------------


def flat(measure: Callable[[int], None], warmup: int, total: int) -> tuple[float, float]:
    """RSS after `warmup` iterations and its growth over the rest, in MB."""
    measure(warmup)
    before = rss_mb()
    measure(total - warmup)
    return before, rss_mb() - before


def test_memory_is_flat_over_a_million_decodes(
    signer: Signer, jwks: dict[str, Any], report: Callable[..., None]
) -> None:
    cache = jwkscache.JWKSCache.from_jwks(jwks)
    tokens = [signer.mint({"sub": f"user{i}"}) for i in range(8)]

    def run(n: int) -> None:
        decode = cache.decode
        for i in range(n):
            decode(tokens[i & 7])

    start = time.monotonic()
    before, growth = flat(run, 100_000, 1_000_000)
    report(test="decodes", n=1_000_000, seconds=round(time.monotonic() - start, 1),
           rss_mb=round(before, 1), growth_mb=round(growth, 2))  # fmt: skip
    assert growth < 4, f"{growth:.1f} MB"


def test_memory_is_flat_over_ten_thousand_cache_lifetimes(
    signer: Signer, jwks: dict[str, Any], report: Callable[..., None]
) -> None:
    token = signer.mint({"sub": "a"})
    with LocalIssuer() as issuer:
        remote_token = issuer.mint()

        def run(n: int) -> None:
            for i in range(n):
                with jwkscache.JWKSCache.from_jwks(jwks) as cache:
                    cache.decode(token)
                if i % 10 == 0:  # one in ten over HTTP: a fetch, a refresh thread's flag
                    with jwkscache.JWKSCache(issuer.jwks_uri) as remote:
                        remote.decode(remote_token)

        start = time.monotonic()
        before, growth = flat(run, 1_000, 10_000)
        fetches = issuer.fetch_count
    report(test="lifetimes", n=10_000, remote=fetches, seconds=round(time.monotonic() - start, 1),
           rss_mb=round(before, 1), growth_mb=round(growth, 2))  # fmt: skip
    assert fetches == 1_000
    assert growth < 4, f"{growth:.1f} MB"


def test_memory_is_flat_over_a_million_refused_tokens(
    signer: Signer, other_signer: Signer, jwks: dict[str, Any], report: Callable[..., None]
) -> None:
    cache = jwkscache.JWKSCache.from_jwks(jwks, audience="api")
    good = signer.mint({"aud": "api"})
    header, payload, signature = good.split(".")
    refused = [
        "",
        "a.b",
        "a.b.c.d",
        f"{header}.{payload}",
        f"{header}.{payload}.!!",
        f"eyJhbGciOiJub25lIn0.{payload}.",  # alg none
        f"{header[:-2]}.{payload}.{signature}",
        signer.mint({"aud": "api"}, headers={"kid": "nobody"}),
        signer.mint({"aud": "api"}, exp=int(time.time()) - 60),  # expired, signature fine
        signer.mint({"aud": "elsewhere"}),
        signer.mint({"aud": "api"}, nbf=int(time.time()) + 3600),
        "x" * 20_000,
    ]
    forged = other_signer.mint({"aud": "api"})  # a bad signature: the RSA check, every time

    def run(n: int) -> None:
        decode = cache.decode
        kinds = len(refused)
        for i in range(n):
            token = forged if i % 100 == 0 else refused[i % kinds]
            try:
                decode(token)
            except jwt.InvalidTokenError:
                continue
            raise AssertionError(f"accepted: {token[:40]}")

    start = time.monotonic()
    before, growth = flat(run, 100_000, 1_000_000)
    report(test="refused", n=1_000_000, seconds=round(time.monotonic() - start, 1),
           rss_mb=round(before, 1), growth_mb=round(growth, 2))  # fmt: skip
    assert growth < 4, f"{growth:.1f} MB"


# -- fork() in a loop while threads decode --------------------------------------------------

FORK_SCRIPT = textwrap.dedent(
    """
    import os, sys, threading
    import jwkscache
    from jwkscache.testing import LocalIssuer

    FORKS = int(sys.argv[1])
    with LocalIssuer() as issuer:
        issuer.set_headers(cache_control="max-age=1")
        remote = jwkscache.JWKSCache(issuer.jwks_uri, min_ttl=0)
        static = jwkscache.JWKSCache.from_jwks(issuer.jwks(), token_cache_size=0, release_gil=True)
        token = issuer.mint()
        remote.decode(token)
        stop = threading.Event()

        def spin(cache):
            while not stop.is_set():
                cache.decode(token)

        threads = [threading.Thread(target=spin, args=(c,)) for c in [remote, static] * 4]
        for thread in threads:
            thread.start()
        verified = 0
        for _ in range(FORKS):
            pid = os.fork()
            if pid == 0:
                try:
                    ok = remote.decode(token) and static.decode(token)
                    remote.refresh()  # the child's own HTTP client, rebuilt
                    os._exit(0 if ok else 1)
                except BaseException:
                    os._exit(2)
            _, status = os.waitpid(pid, 0)
            verified += os.waitstatus_to_exitcode(status) == 0
        stop.set()
        for thread in threads:
            thread.join()
    print(verified, issuer.fetch_count)
    """
)


def test_fork_in_a_loop_while_eight_threads_decode(report: Callable[..., None]) -> None:
    forks = 50
    start = time.monotonic()
    # In a subprocess, so a deadlock fails this test (timeout) instead of hanging the suite.
    result = subprocess.run(
        [sys.executable, "-c", FORK_SCRIPT, str(forks)],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr
    verified, fetches = map(int, result.stdout.split())
    report(test="fork", forks=forks, children_verified=verified, fetches=fetches,
           seconds=round(time.monotonic() - start, 1))  # fmt: skip
    assert verified == forks
    assert fetches > forks  # every child refreshed over its own connection
