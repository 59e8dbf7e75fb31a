"""Property tests (hypothesis): what decode accepts, how it refuses, and PyJWT's agreement.

- Nothing but a correctly signed, valid token is accepted: any change to a good token's
  bytes is refused, and a correctly signed claims set is accepted exactly when its claims
  are valid.
- Every refusal of arbitrary input is a documented class (`jwt.InvalidTokenError`).
- `decode` and PyJWT's `jwt.decode` agree on generated claims sets: the same verdict, the
  same exception class, the same claims.

Derandomized, so a CI run is reproducible; each test stays well under 20 s.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jwkscache
from conftest import Signer
from jwkscache.bearer import BearerAuth, BearerError

SETTINGS = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SIGNER = Signer()
OTHER = Signer()
CACHE = jwkscache.JWKSCache.from_jwks({"keys": [SIGNER.jwk]}, token_cache_size=0)
NOW = int(time.time())
GOOD = SIGNER.mint({"sub": "alice", "aud": "api", "iss": "https://issuer.example"})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def outcome(call: Any) -> tuple[str, Any]:
    try:
        return "accepted", call()
    except jwt.PyJWTError as error:
        return "refused", type(error)


# -- any change to a good token is refused ----------------------------------------------


@st.composite
def mutated(draw: st.DrawFn) -> str:
    token = bytearray(GOOD.encode())
    kind = draw(st.sampled_from(["flip", "replace", "insert", "delete", "truncate", "swap"]))
    index = draw(st.integers(0, len(token) - 1))
    if kind == "flip":
        token[index] ^= 1 << draw(st.integers(0, 7))
    elif kind == "replace":
        token[index] = draw(st.integers(0, 255).filter(lambda b: b != token[index]))
    elif kind == "insert":
        token.insert(index, draw(st.integers(0, 255)))
    elif kind == "delete":
        del token[index]
    elif kind == "truncate":
        del token[index:]
    else:
        parts = bytes(token).split(b".")
        order = draw(st.permutations(range(3)).filter(lambda p: list(p) != [0, 1, 2]))
        token = bytearray(b".".join(parts[i] for i in order))
    assert bytes(token) != GOOD.encode()
    return bytes(token).decode("latin-1")


@SETTINGS
@given(token=mutated())
def test_any_change_to_a_good_token_is_refused(token: str) -> None:
    assert CACHE.decode(GOOD, audience="api")["sub"] == "alice"
    with pytest.raises(jwt.InvalidTokenError):
        CACHE.decode(token, audience="api")
    with pytest.raises(jwt.InvalidTokenError):
        CACHE.decode(token.encode("latin-1"), audience="api")


class _Delegate:
    """CACHE behind another key source: BearerAuth then checks b64token before decoding."""

    def decode(self, token: str, /, **kwargs: Any) -> dict[str, Any]:
        return CACHE.decode(token, **kwargs)

    async def decode_async(self, token: str, /, **kwargs: Any) -> dict[str, Any]:
        return CACHE.decode(token, **kwargs)


def _answer(auth: BearerAuth, header: str) -> tuple[int, str | None]:
    try:
        auth.authenticate(header)
    except BearerError as error:
        return error.status_code, error.error
    return 200, None


@SETTINGS
@given(token=mutated(), prefix=st.sampled_from(["Bearer ", "bearer  ", "Bearer\t"]))
def test_the_b64token_check_after_a_refusal_answers_as_the_check_before_decode(
    token: str, prefix: str
) -> None:
    # BearerAuth skips the b64token check for a JWKSCache until it refused the token,
    # relying on decode refusing anything outside the JWS syntax: the answers must be
    # those of checking first, as it does for any other key source.
    header = prefix + token
    after = _answer(BearerAuth(CACHE, audience="api"), header)
    assert after == _answer(BearerAuth(_Delegate(), audience="api"), header)
    assert after[0] != 200


# -- arbitrary input: refused, with a documented class ------------------------------------

# Finite floats: NaN and Infinity are not JSON, refused by design (README, "Token rules").
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)
HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["RS256", "none", "HS256", "ES256", "PS256", "rs256"]) | JSON,
        "kid": st.sampled_from(["test-key", "other"]) | JSON,
        "crit": JSON,
        "b64": JSON,
        "typ": JSON,
    },
)


@st.composite
def structured(draw: st.DrawFn) -> str:
    header = json.dumps(draw(HEADERS)).encode()
    payload = json.dumps(draw(st.dictionaries(st.text(max_size=6), JSON, max_size=5))).encode()
    signature = draw(st.binary(max_size=300))
    return ".".join(b64(part) for part in (header, payload, signature))


@SETTINGS
@given(token=st.text(max_size=200) | st.binary(max_size=200) | structured())
def test_arbitrary_input_is_refused_with_a_documented_class(token: str | bytes) -> None:
    with pytest.raises(jwt.InvalidTokenError):
        CACHE.decode(token)


# -- correctly signed claims sets: jwkscache agrees with PyJWT -----------------------------

DATE = st.one_of(
    st.integers(NOW - 1000, NOW + 1000),
    st.floats(NOW - 1000, NOW + 1000),
    st.sampled_from([0, -1, 2**40, NOW]),
)
CLAIMS = st.fixed_dictionaries(
    {},
    optional={
        "exp": DATE,
        "nbf": DATE,
        "iat": DATE,
        "aud": st.sampled_from(["api", "other"])
        | st.lists(st.sampled_from(["api", "x"]), max_size=3),
        "iss": st.sampled_from(["https://issuer.example", "https://evil.example"]),
        "sub": st.sampled_from(["alice", "bob"]),
        "jti": st.sampled_from(["j1", "j2"]),
        "extra": JSON,
    },
)
OPTIONS = st.fixed_dictionaries(
    {
        "audience": st.sampled_from([None, "api", ["api", "x"]]),
        "issuer": st.sampled_from([None, "https://issuer.example"]),
        "leeway": st.sampled_from([0, 30]),
        "options": st.fixed_dictionaries(
            {},
            optional={
                "verify_exp": st.booleans(),
                "verify_nbf": st.booleans(),
                "verify_iat": st.booleans(),
                "verify_aud": st.booleans(),
                "strict_aud": st.booleans(),
                "require": st.lists(
                    st.sampled_from(["exp", "iat", "nbf", "aud", "iss", "sub"]), max_size=3
                ),
            },
        ),
    }
)


VERDICTS: set[str] = set()


@settings(SETTINGS, max_examples=1000)
@given(claims=CLAIMS, kwargs=OPTIONS, forged=st.booleans())
def test_decode_and_pyjwt_agree_on_generated_claims_sets(
    claims: dict[str, Any], kwargs: dict[str, Any], forged: bool
) -> None:
    if kwargs["options"].get("strict_aud") and not isinstance(kwargs["audience"], str):
        kwargs["options"] = {**kwargs["options"], "strict_aud": False}  # PyJWT: a str only
    signer = OTHER if forged else SIGNER
    token = jwt.encode(claims, signer.private_key, algorithm="RS256", headers={"kid": "test-key"})
    ours = outcome(lambda: CACHE.decode(token, **kwargs))
    theirs = outcome(lambda: jwt.decode(token, SIGNER.public_key, algorithms=["RS256"], **kwargs))
    assert ours == theirs
    VERDICTS.add(ours[0] if ours[0] == "accepted" else ours[1].__name__)
    if forged:
        assert ours == ("refused", jwt.InvalidSignatureError)


def test_the_generated_claims_sets_reach_every_verdict() -> None:
    # Runs after the property test above (pytest keeps file order): it saw both verdicts
    # and each claim check's refusal.
    assert {
        "accepted",
        "InvalidSignatureError",
        "ExpiredSignatureError",
        "ImmatureSignatureError",
        "InvalidAudienceError",
        "InvalidIssuerError",
        "MissingRequiredClaimError",
    } <= VERDICTS
