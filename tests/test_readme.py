"""The README's own examples ("Verify tokens") run, in order, as a reader would paste them.

The "Web frameworks", "Identity sources", "Sharing one cache across a fleet", "Testing your
service" and "Migrating from PyJWT" sections have their own tests (test_frameworks_docs.py,
test_identity_docs.py, test_shared_docs.py, test_testing_docs.py, test_migrating_docs.py).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from _readme import README, section

BLOCK = re.compile(r"^```python\n(?P<body>.*?)^```$", re.M | re.S)


def test_verify_tokens_examples_run_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = [m["body"] for m in BLOCK.finditer(section("Verify tokens"))]
    assert len(blocks) >= 5
    namespace: dict[str, Any] = {"__name__": "readme"}
    try:
        for number, source in enumerate(blocks, 1):
            exec(compile(source, f"README.md, Verify tokens, block {number}", "exec"), namespace)
    finally:
        issuer = namespace.get("issuer")
        if issuer is not None:
            issuer.close()
    assert "Signature has expired" in capsys.readouterr().out


def test_every_python_block_is_run_by_some_test() -> None:
    covered = sum(
        len(BLOCK.findall(section(name)))
        for name in (
            "Verify tokens",
            "Web frameworks",
            "Identity sources",
            "Sharing one cache across a fleet",
            "Testing your service",
            "Migrating from PyJWT",
        )
    )
    assert covered == len(BLOCK.findall(README.read_text()))


def test_quick_start_commands_exist() -> None:
    quick = section("Quick start")
    makefile = (README.parent / "Makefile").read_text()
    for target in re.findall(r"^make (\w+)", quick, re.M):
        assert re.search(rf"^{target}:", makefile, re.M), target
    assert "make test" in (README.parent / ".ci" / "run").read_text()
