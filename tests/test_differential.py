"""Differential test: PyJWT's jwt.decode and JWKSCache.decode agree on verdicts.

A few hundred tokens, good and bad, generated from a fixed seed: each gets the
same verdict and the same exception family from both. Known, documented
differences (padded base64url, non-numeric NumericDates) are not generated.
"""

from __future__ import annotations

import base64
import json
import random
import time
from typing import Any

import jwt
import pytest

import jwkscache
from conftest import Signer
from jwkscache import exceptions as exc

FAMILIES: list[type[Exception]] = [
    exc.ExpiredSignatureError,
    exc.ImmatureSignatureError,
    exc.InvalidIssuedAtError,
    exc.InvalidAudienceError,
    exc.InvalidIssuerError,
    exc.InvalidSubjectError,
    exc.InvalidJTIError,
    exc.MissingRequiredClaimError,
    exc.InvalidAlgorithmError,
    exc.InvalidSignatureError,
    exc.DecodeError,
    exc.InvalidTokenError,
]


def family(error: Exception | None) -> str:
    if error is None:
        return "ok"
    for cls in FAMILIES:
        if isinstance(error, cls):
            return cls.__name__
    return type(error).__name__


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def generate(signer: Signer, other: Signer, rng: random.Random, now: int) -> str:
    claims: dict[str, Any] = {"sub": "svc", "iss": "https://issuer.example", "aud": "api"}
    for claim, choices in {
        "exp": [now + 600, now - 600, now + 5, now - 5, 2**40, None],
        "nbf": [now - 60, now + 600, None],
        "iat": [now, now - 60, now + 600, None],
        "aud": ["api", ["api", "web"], ["web"], "web", [], [1], None],
        "iss": ["https://issuer.example", "https://evil.example", None],
        "sub": ["svc", 5, None],
        "jti": ["id-1", 7, None],
    }.items():
        if rng.random() < 0.35:
            value = rng.choice(choices)
            if value is None:
                claims.pop(claim, None)
            else:
                claims[claim] = value
    key = other if rng.random() < 0.1 else signer
    head: dict[str, Any] = {"kid": "test-key"}
    token = jwt.api_jws.encode(json.dumps(claims).encode(), key.private_key, "RS256", head)
    mutation = rng.random()
    h, p, s = token.split(".")
    if mutation < 0.05:
        header = {"alg": rng.choice(["none", "HS256", "RS512"]), "kid": "test-key"}
        return f"{b64(json.dumps(header).encode())}.{p}.{s}"
    if mutation < 0.08:
        return f"{h}.{b64(b'[1,2]')}.{s}"
    if mutation < 0.11:
        return f"{h}.{p}"
    if mutation < 0.14:
        return f"{b64(b'not json')}.{p}.{s}"
    if mutation < 0.17:
        return f"{h}.{p}.{s[:-4]}AAAA"
    return token


@pytest.mark.parametrize("seed", range(4))
def test_same_verdict_as_pyjwt(signer: Signer, other_signer: Signer, seed: int) -> None:
    rng = random.Random(seed)
    cache = jwkscache.JWKSCache.from_jwks({"keys": [signer.jwk]})
    public_key = signer.public_key
    now = int(time.time())
    verdicts: dict[str, int] = {}
    for _ in range(100):
        token = generate(signer, other_signer, rng, now)
        kwargs: dict[str, Any] = {
            "audience": rng.choice(["api", ["api", "x"], None]),
            "issuer": rng.choice(["https://issuer.example", None]),
            "leeway": rng.choice([0, 10]),
        }
        if rng.random() < 0.2:
            kwargs["options"] = {"require": ["exp", "sub"]}
        ours = theirs = None
        try:
            cache.decode(token, **kwargs)
        except Exception as error:
            ours = error
        try:
            jwt.decode(token, public_key, algorithms=["RS256"], **kwargs)
        except Exception as error:
            theirs = error
        assert family(ours) == family(theirs), (token, kwargs, ours, theirs)
        verdicts[family(ours)] = verdicts.get(family(ours), 0) + 1
    # The generator exercises both verdicts and several families.
    assert verdicts.get("ok", 0) > 5
    assert len(verdicts) >= 5
