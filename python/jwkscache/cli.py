"""The ``jwkscache`` command: ``demo``, ``verify``, ``inspect``, ``keys``, ``bench``."""

from __future__ import annotations

import argparse
import base64
import json
import logging
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import jwkscache
from jwkscache import exceptions


def _say(step: str, text: str) -> None:
    print(f"  {step:<14} {text}", flush=True)


def _per_token_us(fn: Callable[[str], object], tokens: Sequence[str], rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for token in tokens:
            fn(token)
        best = min(best, (time.perf_counter() - start) / len(tokens) * 1e6)
    return best


def demo(tokens: int = 1000) -> int:
    """Runs the tour: a local issuer, the cache over HTTP, rotation, an outage, speed."""
    try:
        import jwt

        from jwkscache.testing import LocalIssuer
    except ImportError as error:  # pragma: no cover - the message says what to install
        print(f"jwkscache demo needs the testing extra: pip install 'jwkscache[testing]' ({error})")
        return 2

    print(f"jwkscache {jwkscache.__version__} demo: a real OIDC issuer on 127.0.0.1, real HTTP\n")
    with LocalIssuer("eks", cache_control="max-age=300") as issuer:
        audience = "sts.amazonaws.com"
        _say("issuer", f"{issuer.issuer} (EKS-shaped, max-age=300)")
        cache = jwkscache.JWKSCache.from_issuer(issuer.issuer, min_ttl=0)
        batch = [
            issuer.mint_service_account("payments", "api", audience=audience) for _ in range(tokens)
        ]
        start = time.perf_counter()
        for token in batch:
            cache.decode(token, audience=audience)
        elapsed = time.perf_counter() - start
        stats = cache.stats()
        _say(
            "verify",
            f"{tokens} tokens verified in {elapsed * 1e3:.0f} ms; issuer asked "
            f"{issuer.discovery_count} discovery + {issuer.fetch_count} JWKS fetch",
        )

        old_token = batch[0]
        new_kid = issuer.rotate()
        fresh = issuer.mint_service_account("payments", "api", audience=audience)
        for _ in range(100):
            cache.decode(fresh, audience=audience)
        stats = cache.stats()
        _say(
            "rotate",
            f"issuer signs with new kid {new_kid[:10]}…: 100 tokens, "
            f"{stats['unknown_kid_refreshes']} refetch (JWKS fetches now {issuer.fetch_count})",
        )
        cache.decode(old_token, audience=audience)
        _say("", "tokens of the previous key still verify: it is published verify-only")

        flood = 0
        for _ in range(200):
            forged = issuer.mint(headers={"kid": uuid.uuid4().hex}, audience=audience)
            try:
                cache.decode(forged, audience=audience)
            except exceptions.SigningKeyNotFoundError:
                flood += 1
        _say(
            "random kids",
            f"{flood} tokens with unknown kids rejected; JWKS fetches still "
            f"{issuer.fetch_count} (refetch cooldown {30}s)",
        )

        issuer.retire(issuer.kids[0])
        cache.refresh()
        try:
            cache.decode(old_token, audience=audience)
            revoked = "still accepted (!)"
        except exceptions.SigningKeyNotFoundError:
            revoked = "rejected at once"
        _say("retire", f"issuer removes the old key; its tokens are {revoked}")

        logging.getLogger("jwkscache").setLevel(logging.ERROR)  # the demo narrates instead
        issuer.set_headers(cache_control="max-age=1")
        short = jwkscache.JWKSCache(issuer.jwks_uri, min_ttl=0, max_stale=60, timeout=1)
        short.decode(fresh, audience=audience)
        issuer.fail_next(10_000, status=503)
        time.sleep(1.1)
        current = [
            issuer.mint_service_account("payments", "api", audience=audience) for _ in range(300)
        ]
        served = sum(1 for token in current if short.decode(token, audience=audience))
        stats = short.stats()
        _say("issuer down", f"JWKS answers 503 and the set expired: {served} tokens verified")
        _say(
            "",
            f"from the last good set (stale: {stats['serving_stale']}, failed refreshes: "
            f"{stats['failures']}, for at most max_stale=60s)",
        )
        issuer.reset_faults()
        issuer.set_headers(cache_control="max-age=300")

        pyjwt_client = jwt.PyJWKClient(issuer.jwks_uri)
        warm = current[:200]

        def pyjwt_decode(token: str) -> object:
            key = pyjwt_client.get_signing_key_from_jwt(token)
            return jwt.decode(token, key.key, algorithms=["RS256"], audience=audience)

        # Every token verified in full (no verified-token cache), as PyJWT does.
        full = jwkscache.JWKSCache.from_issuer(issuer.issuer, token_cache_size=0)

        def ours(token: str) -> object:
            return full.decode(token, audience=audience)

        pyjwt_decode(warm[0])
        ours(warm[0])
        theirs_us = _per_token_us(pyjwt_decode, warm)
        ours_us = _per_token_us(ours, warm)
        _say(
            "speed",
            f"jwkscache {ours_us:.0f} µs/token, PyJWT PyJWKClient + jwt.decode "
            f"{theirs_us:.0f} µs/token: {theirs_us / ours_us:.1f}x faster",
        )
    print("\nMore: `jwkscache bench` (the full benchmark), README.md, docs/.")
    return 0


def _b64_json(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def inspect(token: str) -> int:
    """Prints a token's header and claims, unverified."""
    try:
        header, payload, _ = token.strip().split(".")
        print(json.dumps({"header": _b64_json(header), "claims": _b64_json(payload)}, indent=2))
    except ValueError as error:
        print(f"not a compact JWT: {error}", file=sys.stderr)
        return 1
    print("(unverified: use `jwkscache verify` to check the signature)", file=sys.stderr)
    return 0


def _cache(args: argparse.Namespace) -> jwkscache.JWKSCache:
    if args.issuer:
        return jwkscache.JWKSCache.from_issuer(args.issuer, jwks_uri=args.jwks_uri)
    return jwkscache.JWKSCache(args.jwks_uri)


def verify(args: argparse.Namespace) -> int:
    """Verifies a token against an issuer's keys and prints its claims."""
    try:
        claims = _cache(args).decode(args.token.strip(), audience=args.audience)
    except ValueError as error:  # a refused URL or option: the command line is wrong
        print(f"error: {error}", file=sys.stderr)
        return 2
    except exceptions.PyJWTError as error:
        print(f"rejected: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(json.dumps(claims, indent=2))
    return 0


def keys(args: argparse.Namespace) -> int:
    """Fetches a JWKS and lists the usable and skipped keys."""
    try:
        cache = _cache(args)
        cache.refresh()
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except exceptions.PyJWTError as error:
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        return 1
    for kid in cache.kids:
        key = cache.get_signing_key(kid) if kid else None
        alg, bits = (key.alg, key.key_size) if key else (None, "?")
        print(f"usable   kid={kid!r} alg={alg} bits={bits}")
    for skipped in cache.skipped:
        print(f"skipped  kid={skipped['kid']!r} kty={skipped['kty']}: {skipped['reason']}")
    stats = cache.stats()
    print(f"fresh until {time.ctime(stats['expires_at'])}")
    return 0


def bench() -> int:
    """Runs the benchmarks (needs the testing extra)."""
    from jwkscache import _bench, _bench_client

    print(_bench.run(), end="\n\n", flush=True)
    print(_bench_client.run())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jwkscache`` console script."""
    parser = argparse.ArgumentParser(prog="jwkscache", description=__doc__)
    parser.add_argument("--version", action="version", version=jwkscache.__version__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser("demo", help="a tour against a local issuer (10 s)")
    demo_parser.add_argument("--tokens", type=int, default=1000)
    inspect_parser = commands.add_parser("inspect", help="print a token's header and claims")
    inspect_parser.add_argument("token")
    for name, text in (("verify", "verify a token"), ("keys", "list an issuer's keys")):
        sub = commands.add_parser(name, help=text)
        source = sub.add_mutually_exclusive_group(required=True)
        source.add_argument("--issuer", help="OIDC issuer URL (discovery)")
        source.add_argument("--jwks-uri", help="JWKS URL")
        if name == "verify":
            sub.add_argument("token")
            sub.add_argument("--audience")
    commands.add_parser("bench", help="the benchmark against PyJWT and the RSA floor")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo(args.tokens)
    if args.command == "inspect":
        return inspect(args.token)
    if args.command == "verify":
        return verify(args)
    if args.command == "keys":
        return keys(args)
    return bench()


if __name__ == "__main__":
    sys.exit(main())
