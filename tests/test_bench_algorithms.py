"""benchmarks/bench_algorithms.py runs (a smoke run: its figures come from a release build)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).parent.parent / "benchmarks" / "bench_algorithms.py"


def test_every_algorithm_is_measured_for_both_contenders() -> None:
    spec = importlib.util.spec_from_file_location("bench_algorithms", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    lines = module.run(rounds=1, calls=2).splitlines()
    names = [" ".join(line.split()[:2]) for line in lines[1:]]
    assert names == [f"{who} {alg}" for who in ("jwkscache", "PyJWT") for alg in module.ALGORITHMS]
    assert all(line.endswith("x RS256") for line in lines[1:])
