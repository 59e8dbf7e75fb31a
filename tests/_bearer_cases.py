"""The RFC 6750 answers every framework integration must give, as data.

Each framework's test builds the same small app (``GET /orders`` needs the ``orders:read``
scope and answers ``{"sub": ..., "scopes": [...]}``) over a fresh ``JWKSCache`` of the
``oidc_issuer``, and drives it through the framework's own test client. An ``Answer`` is
what the client saw; ``CASES`` says what it must be, exactly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import pytest

from jwkscache.testing import LocalIssuer

AUDIENCE = "orders-api"
REALM = "orders"
SCOPE = "orders:read"


@dataclass(frozen=True)
class Answer:
    """What a client saw: status, ``WWW-Authenticate``, ``Retry-After`` and the JSON body."""

    status: int
    challenge: str | None
    retry_after: str | None
    body: Any


#: A request's Authorization header values: none, one, or several (a repeated header).
Get = Callable[[list[str]], Answer]


def token(local: LocalIssuer, /, scope: str | None = SCOPE, **kwargs: Any) -> str:
    """A token for the app, valid unless ``kwargs`` say otherwise."""
    return local.mint({"scope": scope}, **{"audience": AUDIENCE, "subject": "alice", **kwargs})


def bearer(value: str) -> list[str]:
    return [f"Bearer {value}"]


def refused(description: str) -> Answer:
    challenge = f'Bearer realm="{REALM}", error="invalid_token", error_description="{description}"'
    body = {"error": "invalid_token", "error_description": description}
    return Answer(401, challenge, None, body)


def malformed(description: str) -> Answer:
    challenge = (
        f'Bearer realm="{REALM}", error="invalid_request", error_description="{description}"'
    )
    return Answer(
        400, challenge, None, {"error": "invalid_request", "error_description": description}
    )


CHALLENGE = Answer(
    401, f'Bearer realm="{REALM}"', None, {"error_description": "A bearer token is required"}
)
INSUFFICIENT = Answer(
    403,
    f'Bearer realm="{REALM}", error="insufficient_scope", '
    f'error_description="The token lacks a required scope", scope="{SCOPE}"',
    None,
    {"error": "insufficient_scope", "error_description": "The token lacks a required scope"},
)
UNAVAILABLE = Answer(
    503,
    None,
    "30",
    {
        "error": "temporarily_unavailable",
        "error_description": "The token issuer's keys are unavailable",
    },
)
WELCOME = Answer(200, None, None, {"sub": "alice", "scopes": [SCOPE]})


def _forged(issuer: LocalIssuer) -> list[str]:
    good, other = token(issuer), token(issuer, subject="mallory")
    return bearer(good.rsplit(".", 1)[0] + "." + other.rsplit(".", 1)[1])


@dataclass(frozen=True)
class Case:
    """A request (its Authorization values, made with the issuer) and the exact answer."""

    name: str
    headers: Callable[[LocalIssuer], list[str]]
    expected: Answer
    repeated_header: bool = False


CASES = [
    Case("valid", lambda i: bearer(token(i)), WELCOME),
    Case("scheme in lower case", lambda i: [f"bearer {token(i)}"], WELCOME),
    Case("expired", lambda i: bearer(token(i, expires_in=-60)), refused("Signature has expired")),
    Case(
        "not yet valid",
        lambda i: bearer(token(i, not_before=time.time() + 600)),
        refused("The token is not yet valid (nbf)"),
    ),
    Case(
        "wrong audience",
        lambda i: bearer(token(i, audience="billing-api")),
        refused("Audience doesn't match"),
    ),
    Case(
        "wrong issuer",
        lambda i: bearer(token(i, issuer="https://evil.example")),
        refused("Invalid issuer"),
    ),
    Case("bad signature", _forged, refused("Signature verification failed")),
    Case(
        "unknown kid",
        lambda i: bearer(token(i, headers={"kid": "not-published"})),
        # PyJWT's message quotes the kid; RFC 6750 forbids '"' in the description.
        refused("Unable to find a signing key that matches: not-published"),
    ),
    Case(
        "unsigned",
        lambda i: bearer(token(i, headers={"alg": "none"})),
        refused("The specified alg value is not allowed"),
    ),
    Case("not a JWT", lambda i: bearer("not-a-token"), refused("Not enough segments")),
    Case(
        "too long",
        lambda i: bearer("a" * 20000),
        refused("The token is over the 16384-byte limit"),
    ),
    Case("no header", lambda i: [], CHALLENGE),
    Case("Basic scheme", lambda i: ["Basic YWxpY2U6c2VjcmV0"], CHALLENGE),
    Case(
        "Bearer without a token",
        lambda i: ["Bearer"],
        malformed("The Authorization header has no bearer token"),
    ),
    Case(
        "Bearer and spaces",
        lambda i: ["Bearer   "],
        malformed("The Authorization header has no bearer token"),
    ),
    Case(
        "outside b64token",
        lambda i: bearer("abc def"),
        malformed("The bearer token has characters outside b64token"),
    ),
    Case(
        "header given twice",
        lambda i: bearer(token(i)) + bearer(token(i)),
        malformed("The Authorization header is given more than once"),
        repeated_header=True,
    ),
    Case("insufficient scope", lambda i: bearer(token(i, scope="profile")), INSUFFICIENT),
    Case("no scope claim", lambda i: bearer(token(i, scope=None)), INSUFFICIENT),
]


def case_params(*, repeated_header: bool = True) -> Any:
    """``CASES`` for ``pytest.mark.parametrize``; without repeated headers if the client can't."""
    return pytest.mark.parametrize(
        "case",
        [case for case in CASES if repeated_header or not case.repeated_header],
        ids=lambda case: case.name,
    )


def check_rotation(issuer: LocalIssuer, get: Get) -> None:
    """A token of a key the cache has not seen yet costs one refetch, then passes."""
    assert get(bearer(token(issuer))) == WELCOME
    issuer.rotate()
    assert get(bearer(token(issuer))) == WELCOME
    assert issuer.fetch_count == 2


def check_outage_cold(issuer: LocalIssuer, get: Get) -> None:
    """The issuer down and nothing cached: 503 with Retry-After, never a 401."""
    issuer.fail_next(100)
    assert get(bearer(token(issuer))) == UNAVAILABLE
    assert get(bearer(token(issuer))) == UNAVAILABLE  # and again, failing fast in the backoff
    assert issuer.fetch_count in (1, 2)  # 2 only if the 1 s backoff ran out in between


def check_outage_warm(issuer: LocalIssuer, get: Get, keys: Any) -> None:
    """The issuer down with a set cached: the cached keys answer."""
    assert get(bearer(token(issuer))) == WELCOME
    issuer.fail_next(100)
    with pytest.raises(jwt.PyJWKClientConnectionError):
        keys.refresh()
    assert get(bearer(token(issuer))) == WELCOME
    assert get(bearer(token(issuer, expires_in=-60))) == refused("Signature has expired")
    assert issuer.fetch_count == 2
