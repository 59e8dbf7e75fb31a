"""Shared fixtures: fresh RSA keys and tokens minted with PyJWT at test time."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

VECTORS = Path(__file__).parent / "vectors"


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Polls `predicate` until it holds (a background refresh landed); False after `timeout`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def load_vector(relative: str) -> Any:
    """A JSON test vector from tests/vectors."""
    return json.loads((VECTORS / relative).read_text())


class Signer:
    """An RSA key pair with its public JWK, minting RS256 tokens."""

    def __init__(self, kid: str | None = "test-key", bits: int = 2048) -> None:
        self.kid = kid
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        self.public_key = self.private_key.public_key()
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.public_key))
        jwk.update({"use": "sig", "alg": "RS256"})
        if kid is not None:
            jwk["kid"] = kid
        self.jwk: dict[str, Any] = jwk

    def mint(
        self,
        claims: dict[str, Any] | None = None,
        *,
        headers: dict[str, Any] | None = None,
        algorithm: str = "RS256",
        **defaults: Any,
    ) -> str:
        """Signs claims (with iat/exp defaults unless given) as a JWT."""
        now = int(time.time())
        payload: dict[str, Any] = {"iat": now, "exp": now + 300, **defaults}
        payload.update(claims or {})
        payload = {k: v for k, v in payload.items() if v is not None}
        head = dict(headers or {})
        if self.kid is not None:
            head.setdefault("kid", self.kid)
        return jwt.encode(payload, self.private_key, algorithm=algorithm, headers=head)

    def sign_raw(self, payload: bytes, headers: dict[str, Any] | None = None) -> str:
        """Signs arbitrary payload bytes (what jwt.encode refuses to build)."""
        head = {"kid": self.kid, **(headers or {})} if self.kid else dict(headers or {})
        return jwt.api_jws.encode(payload, self.private_key, "RS256", head)


@pytest.fixture(scope="session")
def signer() -> Signer:
    """One RSA-2048 key for the whole session (key generation is slow)."""
    return Signer()


@pytest.fixture(scope="session")
def other_signer() -> Signer:
    """A second key, same kid as `signer`, to forge signatures with."""
    return Signer()


@pytest.fixture(scope="session")
def jwks(signer: Signer) -> dict[str, Any]:
    """The public JWK Set of `signer`."""
    return {"keys": [signer.jwk]}


@pytest.fixture
def mint(signer: Signer) -> Callable[..., str]:
    """Mints a token with `signer`."""
    return signer.mint


@pytest.fixture(scope="session")
def redis_server() -> Any:
    """One real redis-server on 127.0.0.1 for the session (tests/_redis.py), stopped at the end."""
    from _redis import RedisServer

    server = RedisServer()
    yield server
    server.close()


@pytest.fixture
def redis_clean(redis_server: Any) -> Any:
    """The session's redis-server, running and empty."""
    if redis_server.process is None:
        redis_server.start()
    redis_server.client().flushall()
    return redis_server
