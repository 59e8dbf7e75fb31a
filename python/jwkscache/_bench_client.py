"""jwkscache.PyJWKClient vs PyJWT's jwt.PyJWKClient on a warm cache.

Both clients fetch the same JWKS from a local issuer (``LocalIssuer("eks")``) once, then:

- lookup: ``client.get_signing_key_from_jwt(token)``;
- end to end: that lookup, then ``jwt.decode(token, key.key, algorithms=["RS256"], ...)``,
  the code PyJWT's documentation shows; and ``client.decode(token, ...)``, ours in Rust (the
  same token each call, so after the first it is a verified-token cache hit).

One process, interleaved rounds, medians (see ``jwkscache._bench``). Run it on a release
build: ``python benchmarks/bench_jwks_client.py`` or ``jwkscache bench``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import jwt

import jwkscache
from jwkscache._bench import interleaved
from jwkscache.jwks_client import PyJWKClient
from jwkscache.testing import LocalIssuer


def contenders(issuer: LocalIssuer) -> tuple[int, dict[str, Callable[[], object]]]:
    """The token's size and the calls to time, on warm clients."""
    audience = "sts.amazonaws.com"
    token = issuer.mint_service_account(
        "payments", "payments-api", audience=[audience, "https://kubernetes.default.svc"]
    )
    theirs = jwt.PyJWKClient(issuer.jwks_uri)
    theirs_lru = jwt.PyJWKClient(issuer.jwks_uri, cache_keys=True)
    ours = PyJWKClient(issuer.jwks_uri)
    ours_lru = PyJWKClient(issuer.jwks_uri, cache_keys=True)
    iss = issuer.issuer

    def end_to_end(client: jwt.PyJWKClient) -> Callable[[], object]:
        def run() -> object:
            key = client.get_signing_key_from_jwt(token)
            return jwt.decode(token, key.key, algorithms=["RS256"], audience=audience, issuer=iss)

        return run

    calls: dict[str, Callable[[], object]] = {
        "lookup  PyJWT": lambda: theirs.get_signing_key_from_jwt(token),
        "lookup  jwkscache": lambda: ours.get_signing_key_from_jwt(token),
        "lookup  PyJWT, cache_keys=True": lambda: theirs_lru.get_signing_key_from_jwt(token),
        "lookup  jwkscache, cache_keys=True": lambda: ours_lru.get_signing_key_from_jwt(token),
        "e2e     PyJWT lookup + jwt.decode": end_to_end(theirs),
        "e2e     jwkscache lookup + jwt.decode": end_to_end(ours),
        "e2e     jwkscache client.decode (same token)": lambda: ours.decode(
            token, audience=audience, issuer=iss
        ),
    }
    return len(token), calls


# (what, PyJWT's contender, ours, target)
RATIOS = [
    ("get_signing_key_from_jwt", "lookup  PyJWT", "lookup  jwkscache", "20x"),
    (
        "get_signing_key_from_jwt, cache_keys",
        "lookup  PyJWT, cache_keys=True",
        "lookup  jwkscache, cache_keys=True",
        "",
    ),
    (
        "lookup + jwt.decode",
        "e2e     PyJWT lookup + jwt.decode",
        "e2e     jwkscache lookup + jwt.decode",
        "1.5x",
    ),
    (
        "lookup + jwt.decode -> client.decode (hit)",
        "e2e     PyJWT lookup + jwt.decode",
        "e2e     jwkscache client.decode (same token)",
        "",
    ),
]


def run(rounds: int = 15, calls: int = 300) -> str:
    """Runs the benchmark and returns the report."""
    with LocalIssuer("eks") as issuer:
        size, timed = contenders(issuer)
        results = interleaved(timed, rounds, calls)
        fetches = issuer.fetch_count
    lines = [
        f"jwkscache {jwkscache.__version__}, PyJWT {jwt.__version__}; RSA-2048, EKS token "
        f"{size} bytes; {rounds} interleaved rounds x {calls} calls; medians; "
        f"{fetches} JWKS fetches in all",
        "",
    ]
    lines += [f"  {name:<40} {us:8.2f} µs" for name, us in results.items()]

    lines += ["", "  PyJWT / jwkscache (how many times faster jwkscache is):"]
    for label, slow, fast, target in RATIOS:
        value = results[slow] / results[fast]
        lines.append(
            f"    {label:<40} {value:6.2f}x" + (f"  (target >= {target})" if target else "")
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    print(run(args.rounds, args.calls))


if __name__ == "__main__":
    main()
