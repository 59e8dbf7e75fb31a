"""The README's "Identity sources" examples (EKS, AppSSO, many issuers, ECDSA) run in order."""

from __future__ import annotations

import re
from typing import Any

import pytest

from _readme import section
from jwkscache.testing import LocalIssuer

BLOCK = re.compile(r"^```python\n(?P<body>.*?)^```$", re.M | re.S)


def test_identity_sources_examples_run_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    text = section("Identity sources")
    blocks = [m["body"] for m in BLOCK.finditer(text)]
    assert len(blocks) >= 5
    for heading in (
        "Amazon EKS",
        "AppSSO",
        "Many issuers",
        "ECDSA and EdDSA",
        "Kubernetes service-account tokens",
        "Kubernetes in-cluster",
    ):
        assert f"### {heading}" in text
    namespace: dict[str, Any] = {"__name__": "readme"}
    try:
        for number, source in enumerate(blocks, 1):
            name = f"README.md, Identity sources, block {number}"
            exec(compile(source, name, "exec"), namespace)
    finally:
        for value in namespace.values():
            if isinstance(value, LocalIssuer):
                value.close()
    out = capsys.readouterr().out.split()
    assert out == ["SigningKeyNotFoundError", "Invalid", "issuer"]
