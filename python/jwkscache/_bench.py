"""The benchmark behind ``jwkscache bench`` and ``benchmarks/``.

All contenders run in one process, in interleaved rounds, so that drift (CPU
frequency, a noisy neighbour) hits each alike; medians and ratios are printed.
Needs the ``testing`` extra (cryptography).
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

import jwkscache


@dataclass
class Setup:
    """A key, its JWK Set and an EKS-shaped token (~1.5 KB, ~15 claims)."""

    private_key: rsa.RSAPrivateKey
    jwks: dict[str, Any]
    token: str
    issuer: str
    audience: str
    _distinct: list[str] = field(default_factory=list, repr=False)

    @classmethod
    def create(cls) -> Setup:
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()))
        jwk.update({"kid": "bench-key", "use": "sig", "alg": "RS256"})
        issuer = "https://oidc.eks.eu-west-1.amazonaws.com/id/" + uuid.uuid4().hex.upper()
        setup = cls(private_key, {"keys": [jwk]}, "", issuer, "sts.amazonaws.com")
        setup.token = setup.mint()
        return setup

    def mint(self, **extra: Any) -> str:
        now = int(time.time())
        claims = {
            "aud": [self.audience, "https://kubernetes.default.svc"],
            "exp": now + 86400,
            "iat": now,
            "nbf": now,
            "iss": self.issuer,
            "jti": str(uuid.uuid4()),
            "sub": "system:serviceaccount:payments:payments-api",
            "kubernetes.io": {
                "namespace": "payments",
                "node": {
                    "name": "ip-10-0-12-34.eu-west-1.compute.internal",
                    "uid": str(uuid.uuid4()),
                },
                "pod": {"name": "payments-api-7c9f8d6b5-x2lqz", "uid": str(uuid.uuid4())},
                "serviceaccount": {"name": "payments-api", "uid": str(uuid.uuid4())},
                "warnafter": now + 3607,
            },
            "scope": " ".join(
                f"payments:{verb}:{n}" for n in range(8) for verb in ("read", "write")
            ),
            **extra,
        }
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": "bench-key"})

    def distinct_tokens(self, count: int) -> list[str]:
        """``count`` distinct tokens (minted once per setup, then reused)."""
        while len(self._distinct) < count:
            self._distinct.append(self.mint())
        return self._distinct[:count]


def _median_us(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e6


def interleaved(
    contenders: dict[str, Callable[[], object]], rounds: int, calls: int
) -> dict[str, float]:
    """Median µs per call of each contender over interleaved rounds."""
    for fn in contenders.values():
        fn()  # warm up, and fail early if a contender is broken
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            samples[name].append(_median_us(fn, calls))
    return {name: statistics.median(values) for name, values in samples.items()}


@contextmanager
def busy_python_thread() -> Iterator[None]:
    """A thread spinning in Python bytecode for the duration (a busy neighbour)."""
    stop = threading.Event()

    def spin() -> None:
        counter = 0
        while not stop.is_set():
            for _ in range(1000):
                counter += 1

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def throughput(fn: Callable[[], object], threads: int, seconds: float) -> float:
    """Calls per second of ``fn`` from ``threads`` threads together."""
    counts = [0] * threads
    stop = threading.Event()

    def work(index: int) -> None:
        while not stop.is_set():
            for _ in range(50):
                fn()
            counts[index] += 50

    workers = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    time.sleep(seconds)
    stop.set()
    for worker in workers:
        worker.join()
    return sum(counts) / seconds


def decode_contenders(setup: Setup, distinct: int = 4096) -> dict[str, Callable[[], object]]:
    """JWKSCache.decode (fresh tokens, cache off, repeated), PyJWT, the bare RSA verify, peers.

    Every contender but "repeated" verifies the same stream of ``distinct`` fresh tokens in
    turn (4096 by default, more than the cache's doorkeeper remembers: a token is never seen
    twice by one contender within a run), so that each pays what a fresh token costs,
    memory included. "Fresh tokens" is the default configuration (verified-token cache on,
    1024 entries); "cache off" the same with ``token_cache_size=0``; "repeated" one token
    again through the default cache (a hit). The floor verifies each token's signature over
    its signing input, both taken out of the token beforehand.
    """
    fresh = jwkscache.JWKSCache.from_jwks(setup.jwks)
    off = jwkscache.JWKSCache.from_jwks(setup.jwks, token_cache_size=0)
    cache = jwkscache.JWKSCache.from_jwks(setup.jwks)
    tokens = setup.distinct_tokens(distinct)
    public_key = setup.private_key.public_key()
    signed = []
    for each in tokens:
        signing_input, _, signature_b64 = each.rpartition(".")
        signed.append((jwt.utils.base64url_decode(signature_b64), signing_input.encode()))
    pss = padding.PKCS1v15()
    sha256 = hashes.SHA256()
    token, audience, issuer = setup.token, setup.audience, setup.issuer
    streams = [itertools.cycle(tokens) for _ in range(3)]
    signatures = itertools.cycle(signed)

    def floor() -> None:
        signature, message = next(signatures)
        public_key.verify(signature, message, pss, sha256)

    contenders: dict[str, Callable[[], object]] = {
        FRESH: lambda: fresh.decode(next(streams[0]), audience=audience, issuer=issuer),
        CACHE_OFF: lambda: off.decode(next(streams[1]), audience=audience, issuer=issuer),
        REPEATED: lambda: cache.decode(token, audience=audience, issuer=issuer),
        "PyJWT 2.x jwt.decode (preloaded key)": lambda: jwt.decode(
            next(streams[2]), public_key, algorithms=["RS256"], audience=audience, issuer=issuer
        ),
        FLOOR: floor,
    }
    contenders.update(_peers(setup, tokens))
    return contenders


FRESH = "jwkscache decode, fresh tokens (default)"
CACHE_OFF = "jwkscache decode, token cache off"
REPEATED = "jwkscache decode, repeated token"
FLOOR = "cryptography RSA verify (floor)"


def _peers(setup: Setup, tokens: list[str]) -> dict[str, Callable[[], object]]:
    """Other Rust-backed JWT packages, when installed (``pip install "jwkscache[bench]"``),
    verifying the stream of fresh ``tokens``."""
    peers: dict[str, Callable[[], object]] = {}
    try:
        import oxyjwt  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return peers
    key = oxyjwt.DecodingKey.from_jwk(setup.jwks["keys"][0])
    stream, audience, issuer = itertools.cycle(tokens), setup.audience, setup.issuer
    version = getattr(oxyjwt, "__version__", "?")
    peers[f"oxyjwt {version} decode (key preloaded)"] = lambda: oxyjwt.decode(
        next(stream), key, algorithms=["RS256"], audience=audience, issuer=issuer
    )
    return peers


GIL_POLICIES = {"held": False, "released": True, "adaptive": None}


def _median_rates(
    cases: dict[str, tuple[Callable[[], object], int, bool]], rounds: int, seconds: float
) -> dict[str, float]:
    """Median decodes per second of each case (fn, threads, busy neighbour), interleaved."""
    samples: dict[str, list[float]] = {label: [] for label in cases}
    for _ in range(rounds):
        for label, (fn, threads, busy) in cases.items():
            if busy:
                with busy_python_thread():
                    samples[label].append(throughput(fn, threads, seconds))
            else:
                samples[label].append(throughput(fn, threads, seconds))
    return {label: statistics.median(values) for label, values in samples.items()}


def threads_report(
    setup: Setup, seconds: float, rounds: int = 3, distinct: int = 4096
) -> list[str]:
    """The default settings from threads: two decoding threads, a busy Python neighbour.

    The repeated token next to a busy neighbour is measured first, before any fresh
    token has taught the GIL policy anything (a cache hit never asks it).
    """
    token, audience = setup.token, setup.audience
    repeated = jwkscache.JWKSCache.from_jwks(setup.jwks)
    for _ in range(3):  # admitted on the second verification, a hit from the third
        repeated.decode(token, audience=audience)
    fresh = jwkscache.JWKSCache.from_jwks(setup.jwks)
    stream = itertools.cycle(setup.distinct_tokens(distinct))

    def hit() -> object:
        return repeated.decode(token, audience=audience)

    def new() -> object:
        return fresh.decode(next(stream), audience=audience)

    rates = _median_rates(
        {
            "repeated, busy neighbour": (hit, 1, True),
            "repeated, alone": (hit, 1, False),
            "fresh, alone": (new, 1, False),
            "fresh, 2 threads": (new, 2, False),
            "fresh, busy neighbour": (new, 1, True),
        },
        rounds,
        seconds,
    )
    decisions = jwkscache._core._gil_decisions()
    return [
        "Threads, default settings (decodes per second; medians of "
        f"{rounds} interleaved rounds of {seconds:g} s):",
        f"  repeated token, alone                 {rates['repeated, alone']:10.0f}",
        f"  repeated token, busy Python neighbour {rates['repeated, busy neighbour']:10.0f}"
        f"   {rates['repeated, busy neighbour'] / rates['repeated, alone']:5.0%} of alone"
        "  (target >= 40%)",
        f"  fresh tokens, alone                   {rates['fresh, alone']:10.0f}",
        f"  fresh tokens, 2 threads               {rates['fresh, 2 threads']:10.0f}"
        f"   {rates['fresh, 2 threads'] / rates['fresh, alone']:5.2f}x one thread"
        "  (target >= 1.7x)",
        f"  fresh tokens, busy Python neighbour   {rates['fresh, busy neighbour']:10.0f}"
        f"   {rates['fresh, busy neighbour'] / rates['fresh, alone']:5.0%} of alone"
        "  (target >= 40%)",
        f"  GIL policy so far: {decisions['released']} checks released, {decisions['held']} "
        f"held, {decisions['holds_started']} holds",
    ]


def gil_report(setup: Setup, seconds: float) -> list[tuple[str, list[float]]]:
    """Decode throughput under each ``release_gil`` policy: alone, two threads, busy neighbour.

    Every call verifies (token cache off). Rows are decodes per second (all decoding
    threads together); the policies are the columns of ``GIL_POLICIES``, ``adaptive``
    (``release_gil=None``) being the default.
    """
    token, audience = setup.token, setup.audience
    caches = {
        name: jwkscache.JWKSCache.from_jwks(setup.jwks, token_cache_size=0, release_gil=release)
        for name, release in GIL_POLICIES.items()
    }
    rows = []
    for label, threads, busy in [
        ("1 thread", 1, False),
        ("2 threads", 2, False),
        ("1 thread + busy Python thread", 1, True),
        ("2 threads + busy Python thread", 2, True),
    ]:
        rates = []
        for cache in caches.values():

            def decode(cache: jwkscache.JWKSCache = cache) -> object:
                return cache.decode(token, audience=audience)

            if busy:
                with busy_python_thread():
                    rates.append(throughput(decode, threads, seconds))
            else:
                rates.append(throughput(decode, threads, seconds))
        rows.append((label, rates))
    return rows


def _rss_bytes() -> int | None:
    """Resident set size (Linux), for the memory figures; None elsewhere."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def cold_start_ms(rounds: int = 15) -> tuple[float, float]:
    """Construction + discovery + JWKS fetch + first decode from a LocalIssuer, in ms.

    Returns the first cache of the process (which also builds the shared HTTP client) and
    the median of the next ones. ``jwkscache bench`` runs it first, before anything else
    has built a client.
    """
    from jwkscache.testing import LocalIssuer

    with LocalIssuer("eks") as issuer:
        token = issuer.mint(audience="api")
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            cache = jwkscache.JWKSCache.from_issuer(issuer.issuer, token_cache_size=0)
            cache.decode(token, audience="api")
            samples.append((time.perf_counter() - start) * 1e3)
            cache.close()
    return samples[0], statistics.median(samples[1:])


def memory_report(setup: Setup, tokens: int = 2000, keys: int = 100) -> list[str]:
    """Bytes of RSS per cached token and per cached (parsed) key."""
    if _rss_bytes() is None:
        return ["  memory: not measured on this platform"]
    minted = setup.distinct_tokens(tokens)
    cache = jwkscache.JWKSCache.from_jwks(setup.jwks, token_cache_size=tokens)
    before = _rss_bytes() or 0
    for token in minted:  # remembered on the second verification, a hit (template) on the third
        for _ in range(3):
            cache.decode(token, audience=setup.audience)
    per_token = ((_rss_bytes() or 0) - before) / tokens

    jwk = setup.jwks["keys"][0]
    many = {"keys": [{**jwk, "kid": f"k{n}"} for n in range(keys)]}
    signed = [
        jwt.encode({"n": n}, setup.private_key, algorithm="RS256", headers={"kid": f"k{n}"})
        for n in range(keys)
    ]
    before = _rss_bytes() or 0
    key_cache = jwkscache.JWKSCache.from_jwks(many, token_cache_size=0)
    for token in signed:
        key_cache.decode(token)
    per_key = ((_rss_bytes() or 0) - before) / keys
    return [
        f"  memory per cached token      {per_token / 1024:6.1f} KiB  ({tokens} EKS-shaped tokens)",
        f"  memory per cached key        {per_key / 1024:6.1f} KiB  (RSA-2048, parsed for RS256)",
    ]


def run(
    rounds: int = 15,
    calls: int = 200,
    gil_seconds: float = 1.0,
    memory_tokens: int = 2000,
    memory_keys: int = 100,
    distinct_tokens: int = 4096,
    thread_rounds: int = 3,
) -> str:
    """Runs the decode benchmark and returns the printed report."""
    # First, while no HTTP client exists in this process.
    first, cold = cold_start_ms(max(3, rounds))
    setup = Setup.create()
    # Next, before the other contenders' freed memory can absorb the caches' growth.
    memory = memory_report(setup, memory_tokens, memory_keys)
    lines = [
        f"jwkscache {jwkscache.__version__}, PyJWT {jwt.__version__}; RSA-2048, "
        f"token {len(setup.token)} bytes; {rounds} interleaved rounds x {calls} calls; medians",
        "",
    ]
    results = interleaved(decode_contenders(setup, distinct_tokens), rounds, calls)
    ours, off = results[FRESH], results[CACHE_OFF]
    floor = results[FLOOR]
    pyjwt = results["PyJWT 2.x jwt.decode (preloaded key)"]
    repeated = results[REPEATED]
    for name, us in results.items():
        lines.append(f"  {name:<42} {us:8.1f} µs")
    peers = {name: us for name, us in results.items() if name.startswith("oxyjwt")}
    lines += [
        "",
        f"  PyJWT / jwkscache            {pyjwt / ours:5.2f}x  (jwkscache is that much faster)",
        f"  jwkscache / cryptography     {ours / floor:5.2f}x  fresh tokens, default settings"
        f" (target <= 1.00); cache off {off / floor:.2f}x",
        *(
            f"  {name.split()[0]} / jwkscache{'':<12} {us / ours:5.2f}x  (target >= 1.3x;"
            f" {name.split()[0]} / cryptography {us / floor:.2f}x: the most any decode"
            " that pays the verify can reach)"
            for name, us in peers.items()
        ),
        f"  repeated token               {repeated:5.2f} µs  (verified-token cache hit;"
        " target <= 1.2 µs)",
        "",
        *threads_report(setup, gil_seconds / 2, thread_rounds, distinct_tokens),
        "",
        "GIL policy (every call verifies: token cache off; decodes per second, decoding",
        "threads together; release_gil=False / True / None, the default):",
        "  " + " " * 32 + "".join(f"{name:>10}" for name in GIL_POLICIES),
    ]
    rows = dict(gil_report(setup, gil_seconds))
    for label, rates in rows.items():
        lines.append(f"  {label:<32}" + "".join(f"{rate:10.0f}" for rate in rates))
    solo, pair, busy = (
        rows[label] for label in ("1 thread", "2 threads", "1 thread + busy Python thread")
    )
    lines.append(
        "  2 threads / 1 thread            "
        + "".join(f"{p / s:9.2f}x" for p, s in zip(pair, solo, strict=True))
    )
    lines.append(
        "  busy neighbour / alone          "
        + "".join(f"{b / s:9.0%} " for b, s in zip(busy, solo, strict=True))
    )
    lines += [
        "",
        f"  cold start, first cache of the process {first:6.2f} ms  (construction + discovery"
        " + fetch + decode, LocalIssuer over HTTP; target < 5 ms)",
        f"  cold start, later caches               {cold:6.2f} ms",
    ]
    lines += memory
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
