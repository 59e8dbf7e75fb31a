"""The README's "Sharing one cache across a fleet" examples run against a real redis-server."""

from __future__ import annotations

import re
import wsgiref.util
from typing import Any

import pytest
import redis

import jwkscache
from _readme import section
from jwkscache.testing import LocalIssuer

BLOCK = re.compile(r"^```python\n(?P<body>.*?)^```$", re.M | re.S)
SECTION = "Sharing one cache across a fleet"


def blocks() -> list[str]:
    return [m["body"] for m in BLOCK.finditer(section(SECTION))]


def call(app: Any, token: str) -> tuple[str, bytes]:
    environ: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    wsgiref.util.setup_testing_defaults(environ)
    status: list[str] = []
    body = b"".join(app(environ, lambda s, headers: status.append(s)))
    return status[0], body


def test_the_gunicorn_app_shares_one_fetch(
    redis_clean: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with LocalIssuer() as issuer:
        monkeypatch.setenv("REDIS_URL", redis_clean.url())
        monkeypatch.setenv("JWKS_SHARED_SECRET", "a-secret-every-pod-of-the-fleet-shares")
        monkeypatch.setenv("JWKS_URL", issuer.jwks_uri)
        workers = []
        for _ in range(3):  # three workers of the fleet, each running app.py
            namespace: dict[str, Any] = {"__name__": "app"}
            exec(compile(blocks()[0], "README.md, fleet, block 1", "exec"), namespace)
            workers.append(namespace)
        token = issuer.mint({"sub": "alice"}, audience="api")
        for worker in workers:
            assert call(worker["application"], token) == ("200 OK", b"hello alice\n")
        assert call(workers[0]["application"], "not-a-token")[0] == "401 Unauthorized"
        assert issuer.fetch_count == 1
        assert [w["keys"].stats()["shared"]["adopted"] for w in workers] == [0, 1, 1]


def test_a_store_of_your_own_is_four_methods(redis_clean: Any) -> None:
    namespace: dict[str, Any] = {"__name__": "mystore"}
    exec(compile(blocks()[1], "README.md, fleet, block 2", "exec"), namespace)
    client = redis.Redis(port=redis_clean.port, socket_timeout=0.25, socket_connect_timeout=0.25)
    with LocalIssuer() as issuer:
        token = issuer.mint(audience="api")
        caches = [
            jwkscache.JWKSCache(
                issuer.jwks_uri, shared=namespace["MyStore"](client, b"0123456789abcdef!")
            )
            for _ in range(2)
        ]
        for cache in caches:
            assert cache.decode(token, audience="api")["aud"] == "api"
        assert issuer.fetch_count == 1
