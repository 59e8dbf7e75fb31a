"""Claims reach Python exactly as ``json.loads`` (PyJWT) gives them.

jwkscache builds the claims dict straight from the payload's JSON text (no
intermediate tree), so the types, order and values are checked here against
``json.loads`` of the same bytes: on a first decode, on a verified-token cache
hit (a copy of a kept template), and in ``decode_complete``.
"""

from __future__ import annotations

import base64
import json
import math
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

import jwkscache
from conftest import Signer
from jwkscache import exceptions as exc
from jwkscache._core import checked_kid

NOW = int(time.time())

EXP = f'"exp": {NOW + 600}'

PAYLOADS = {
    "types": (
        "{" + EXP + ', "i": -7, "u": 18446744073709551615, "big": 123456789012345678901234567890,'
        ' "neg_big": -98765432109876543210987654321, "f": 1.5, "e": 1E5, "tiny": 5e-324,'
        ' "huge": 1.7976931348623157e308, "negzero": -0.0, "t": true, "n": null, "s": "x",'
        ' "empty": {}, "none": [], "nested": {"a": [1, [2, {"b": null}], {"c": 0.1}]}}'
    ),
    "unicode": (
        "{" + EXP + ', "esc": "tab\\t quote\\" slash\\/ \\u00e9 \\ud83d\\ude00",'
        ' "raw": "caf\u00e9 \U0001f600", "\\u006bey": "escaped key", "k\u00e9y": 1}'
    ),
    "duplicates": "{" + EXP + ', "sub": "first", "x": 1, "sub": "last"}',
    "order": '{"z": 1, "a": 2, ' + EXP + ', "m": {"y": 1, "b": 2}}',
}


def same(left: Any, right: Any) -> bool:
    """Equal, with the same types all the way down (1 != 1.0, True != 1), and -0.0 kept."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return list(left) == list(right) and all(same(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, float):
        return left == right and math.copysign(1, left) == math.copysign(1, right)
    return bool(left == right)


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_claims_equal_json_loads(signer: Signer, name: str) -> None:
    payload = PAYLOADS[name].encode()
    token = signer.sign_raw(payload)
    expected = json.loads(payload)
    cache = jwkscache.JWKSCache.from_jwks({"keys": [signer.jwk]})

    first = cache.decode(token)
    assert same(first, expected), first
    hit = cache.decode(token)  # a verified-token cache hit: a copy of the template
    assert same(hit, expected), hit
    third = cache.decode(token)
    assert same(third, expected)
    assert first is not hit
    assert hit is not third
    complete = cache.decode_complete(token)
    assert same(complete["payload"], expected)


def test_a_callers_changes_never_reach_another_caller(signer: Signer) -> None:
    token = signer.sign_raw(PAYLOADS["types"].encode())
    cache = jwkscache.JWKSCache.from_jwks({"keys": [signer.jwk]})
    for _ in range(3):
        claims = cache.decode(token)
        assert claims["nested"]["a"][1][1] == {"b": None}
        claims["nested"]["a"][1][1]["b"] = "changed"
        claims["nested"]["a"].append("more")
        claims["empty"]["x"] = 1
        claims.clear()


@pytest.mark.parametrize(
    "payload",
    [
        b'{"exp": 1, "a": [1, 2,]}',
        b'{"a": 1} trailing',
        b'{"a": null, "b": nul}',
        b'{"a": "' + b"\xc3\x28" + b'"}',
        b"[1, 2]",
        b"",
        b'{"a":' * 200 + b"1" + b"}" * 200,  # nesting past 128 levels: refused
    ],
)
def test_malformed_or_too_deep_payloads_are_decode_errors(signer: Signer, payload: bytes) -> None:
    cache = jwkscache.JWKSCache.from_jwks({"keys": [signer.jwk]})
    token = signer.sign_raw(payload)
    for decode in (cache.decode, cache.decode, cache.decode_complete):  # again: a cache hit
        with pytest.raises(exc.DecodeError, match="Invalid payload string"):
            decode(token)


def test_decode_complete_header_equals_json_loads(signer: Signer) -> None:
    extra = {"typ": "JWT", "x5t": "abc", "n": 1.5, "big": 2**70, "nested": {"a": [1, None]}}
    token = signer.sign_raw(PAYLOADS["order"].encode(), headers=extra)
    segment = token.split(".")[0]
    expected = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    cache = jwkscache.JWKSCache.from_jwks({"keys": [signer.jwk]})
    for _ in range(2):
        complete = cache.decode_complete(token)
        assert same(complete["header"], expected), complete["header"]
        assert complete["header"]["alg"] == "RS256"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (b'{"alg": "RS256", "kid": "test-key"} x', "Invalid header string: trailing characters"),
        (b'{"alg": "RS256", "kid": "test-key", "x": [1,]}', "Invalid header string"),
        (b'{"alg": "RS256", "kid": "\xff"}', "Invalid header string: not UTF-8"),
        (b'["RS256"]', "Invalid header string: must be a json object"),
    ],
)
def test_malformed_headers_are_decode_errors(signer: Signer, header: bytes, message: str) -> None:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    good = signer.mint({"sub": "x"})
    token = ".".join([b64(header), *good.split(".")[1:]])
    cache = jwkscache.JWKSCache.from_jwks({"keys": [signer.jwk]})
    with pytest.raises(exc.DecodeError, match=message):
        cache.decode(token)
    with pytest.raises(exc.DecodeError, match=message):
        checked_kid(token)  # the drop-in's check, before any key lookup


MARKER = "$serde_json::private::Number"


@pytest.mark.parametrize(
    "payload",
    [
        '{"x": {"' + MARKER + '": "12"}}',
        '{"exp": {"' + MARKER + '": "99999999999"}}',
        '{"aud": [{"' + MARKER + '": "1"}]}',
        '{"x": {"a": 1, "' + MARKER + '": "12"}}',
        '{"x": {"\\u0024serde_json::private::Number": "12"}}',
        '{"' + MARKER + '": "12"}',
        '{"x": {"' + MARKER + '": 12}}',
    ],
)
def test_serde_jsons_number_marker_as_a_member_name_is_refused(
    signer: Signer, payload: str
) -> None:
    # serde_json hands floats and big integers over under this member name; a token that
    # uses it literally could otherwise have an object read as a number. Refused (PyJWT
    # would keep the object: a documented difference that fails closed).
    cache = jwkscache.JWKSCache.from_jwks({"keys": [signer.jwk]})
    with pytest.raises(exc.DecodeError, match="Invalid payload string"):
        cache.decode(signer.sign_raw(payload.encode()))


@pytest.mark.parametrize("name", ["x", "exp", "nested"])
def test_an_integer_past_pythons_digit_limit_is_a_decode_error(signer: Signer, name: str) -> None:
    digits = "9" * 5000
    value = f'{{"a": {digits}}}' if name == "nested" else digits
    token = signer.sign_raw(f'{{"{name}": {value}}}'.encode())
    cache = jwkscache.JWKSCache.from_jwks({"keys": [signer.jwk]})
    for _ in range(2):
        with pytest.raises(exc.DecodeError, match="Invalid payload string: integer of 5000 digits"):
            cache.decode(token, options={"verify_exp": False})


def test_many_and_long_member_names_come_back_exactly(signer: Signer) -> None:
    # Many names, long and non-ASCII ones, over several tokens: each comes back exactly (the
    # registered names are shared interned strs; the others are made per decode).
    names = [f"claim-{n}" for n in range(600)] + ["x" * 33, "é" * 20, "k" * 32]
    cache = jwkscache.JWKSCache.from_jwks(
        {"keys": [signer.jwk]}, token_cache_size=0, max_token_bytes=65536
    )
    for round_ in range(3):
        payload = {name: {name: [round_, name]} for name in names}
        token = signer.sign_raw(json.dumps(payload).encode())
        assert same(cache.decode(token), payload)


@pytest.mark.parametrize(
    "extra",
    [b'"x": "\\ud800"', b'"x": {"$serde_json::private::Number": "1"}'],
)
def test_header_members_not_read_are_still_checked_by_decode(signer: Signer, extra: bytes) -> None:
    # decode checks the whole header as it does the payload (README: token rules); the
    # drop-in's lookup (checked_kid) skims it as PyJWT's json.loads would, and finds the kid.
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b'{"alg": "RS256", "kid": "test-key", ' + extra + b"}"
    signing_input = b64(header) + "." + b64(b'{"sub": "x"}')
    signature = signer.private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    token = signing_input + "." + b64(signature)
    cache = jwkscache.JWKSCache.from_jwks({"keys": [signer.jwk]})
    for decode in (cache.decode, cache.decode_complete):
        with pytest.raises(exc.DecodeError, match="Invalid header string"):
            decode(token)
    assert checked_kid(token) == "test-key"
