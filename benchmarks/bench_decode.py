"""Decode benchmark: jwkscache vs PyJWT vs the bare cryptography verify.

Run from a release build: ``make bench`` (or ``python benchmarks/bench_decode.py``).
"""

from jwkscache._bench import run

if __name__ == "__main__":
    print(run())
