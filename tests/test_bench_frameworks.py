"""benchmarks/bench_frameworks.py, smoke-sized: every contender answers 200 and is reported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parent.parent / "benchmarks" / "bench_frameworks.py"


def test_the_framework_benchmark_runs() -> None:
    # A subprocess: the benchmark configures Django's settings for its own process.
    result = subprocess.run(
        [sys.executable, "-W", "error", str(BENCH), "--rounds", "1", "--calls", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = result.stdout
    for framework in ("FastAPI", "Starlette", "Flask", "Django", "DRF"):
        for variant in ("no auth", "hook alone", "jwkscache"):
            assert f"{framework} {variant}" in report
    assert "JWKSCache.decode alone" in report
    assert "FastAPI PyJWT" in report
    assert "DRF simplejwt JWK_URL" in report or "simplejwt not installed" in report
    assert report.count("jwkscache's (") >= 4  # the PyJWT ratio, with its verdict
