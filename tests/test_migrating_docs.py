"""docs/migrating.md ("Migrating from PyJWT" in the README): its examples run as written.

The python blocks run in order in one namespace, as a reader would paste them into a shell;
the first one starts the local issuer they all use, closed here at the end.
"""

from __future__ import annotations

import re
from typing import Any

import jwt

import jwkscache
from _readme import section
from jwkscache.jwks_client import PyJWKClient

DOC_TEXT = section("Migrating from PyJWT")
BLOCK = re.compile(r"^```(?P<lang>\w+)\n(?P<body>.*?)^```$", re.M | re.S)


def blocks(lang: str) -> list[str]:
    return [m["body"] for m in BLOCK.finditer(DOC_TEXT) if m["lang"] == lang]


def test_the_examples_run_in_order() -> None:
    namespace: dict[str, Any] = {"__name__": "migrating_docs"}
    examples = blocks("python")
    assert len(examples) >= 5
    try:
        for number, source in enumerate(examples, 1):
            code = compile(source, f"README.md Migrating, python block {number}", "exec")
            exec(code, namespace)
    finally:
        issuer = namespace.get("issuer")
        if issuer is not None:
            issuer.close()
    assert type(namespace["jwks_client"]) is PyJWKClient
    assert namespace["claims"]["sub"] == "alice"


def test_the_import_change_is_the_one_shown() -> None:
    (diff,) = blocks("diff")
    assert diff == "-from jwt import PyJWKClient\n+from jwkscache import PyJWKClient\n"
    assert jwkscache.PyJWKClient is PyJWKClient
    assert issubclass(PyJWKClient, jwt.PyJWKClient)


def test_every_block_is_checked() -> None:
    langs = [m["lang"] for m in BLOCK.finditer(DOC_TEXT)]
    assert set(langs) == {"python", "diff"}
