"""The `jwkscache` command: demo, inspect, verify, keys, bench (smoke-sized)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from jwkscache import _bench, _bench_client, cli
from jwkscache.testing import LocalIssuer


def test_demo_runs_and_tells_the_story(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["demo", "--tokens", "50"]) == 0
    out = capsys.readouterr().out
    for step in ("issuer", "verify", "rotate", "random kids", "retire", "issuer down", "speed"):
        assert f"  {step}" in out
    assert "1 refetch" in out
    assert "rejected at once" in out
    assert "x faster" in out


def test_the_console_script_is_installed() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "jwkscache.cli", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert result.stdout.strip().count(".") == 2


def test_inspect_verify_and_keys(capsys: pytest.CaptureFixture[str]) -> None:
    with LocalIssuer() as issuer:
        issuer.add_key("EC")
        token = issuer.mint(subject="cli", audience="api")
        assert cli.main(["inspect", token]) == 0
        assert json.loads(capsys.readouterr().out)["claims"]["sub"] == "cli"
        assert cli.main(["verify", "--jwks-uri", issuer.jwks_uri, "--audience", "api", token]) == 0
        assert json.loads(capsys.readouterr().out)["sub"] == "cli"
        assert cli.main(["verify", "--issuer", issuer.issuer, token]) == 1
        assert "InvalidAudienceError" in capsys.readouterr().err
        assert cli.main(["keys", "--jwks-uri", issuer.jwks_uri]) == 0
        out = capsys.readouterr().out
        assert f"usable   kid={issuer.current_kid!r}" in out
        assert "skipped" in out
        assert "EC" in out
    assert cli.main(["inspect", "not-a-token"]) == 1
    for command in (
        ["verify", "--jwks-uri", "http://example.invalid/keys", "t"],
        ["keys", "--jwks-uri", "http://example.invalid/keys"],
    ):
        assert cli.main(command) == 2
        assert "refusing plain http" in capsys.readouterr().err


def test_bench_reports_every_contender() -> None:
    report = _bench.run(
        rounds=1,
        calls=3,
        gil_seconds=0.05,
        memory_tokens=10,
        memory_keys=3,
        distinct_tokens=8,
        thread_rounds=1,
    )
    for needle in (
        "fresh tokens (default)",
        "token cache off",
        "repeated token",
        "PyJWT",
        "cryptography",
        "fresh tokens, 2 threads",
        "repeated token, busy Python neighbour",
        "fresh tokens, busy Python neighbour",
        "busy Python thread",
        "cold start, first cache of the process",
        "memory per cached token",
        "target",
    ):
        assert needle in report
    client_report = _bench_client.run(rounds=1, calls=3)
    assert "get_signing_key_from_jwt" in client_report
