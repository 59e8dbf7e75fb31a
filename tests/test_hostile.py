"""Hostile tokens: each gets a precise exception, never a crash."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest

import jwkscache
from conftest import Signer
from jwkscache.exceptions import SigningKeyNotFoundError


def b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.fixture
def cache(jwks: dict[str, Any]) -> jwkscache.JWKSCache:
    return jwkscache.JWKSCache.from_jwks(jwks)


@pytest.fixture
def token(mint: Callable[..., str]) -> str:
    return mint({"sub": "alice"})


def replace(token: str, index: int, segment: str) -> str:
    parts = token.split(".")
    parts[index] = segment
    return ".".join(parts)


def test_tampered_header_payload_and_signature(cache: jwkscache.JWKSCache, token: str) -> None:
    _header, _payload, signature = token.split(".")
    with pytest.raises(jwt.InvalidSignatureError, match="Signature verification failed"):
        cache.decode(replace(token, 0, b64('{"alg":"RS256","kid":"test-key","x":1}')))
    with pytest.raises(jwt.InvalidSignatureError):
        cache.decode(replace(token, 1, b64('{"sub":"mallory"}')))
    flipped = bytearray(base64.urlsafe_b64decode(signature + "=="))
    flipped[-1] ^= 1
    with pytest.raises(jwt.InvalidSignatureError):
        cache.decode(replace(token, 2, b64(bytes(flipped))))
    with pytest.raises(jwt.InvalidSignatureError):
        cache.decode(replace(token, 2, b64(b"short")))


def test_signed_by_another_key_with_the_same_kid(
    cache: jwkscache.JWKSCache, other_signer: Signer
) -> None:
    with pytest.raises(jwt.InvalidSignatureError):
        cache.decode(other_signer.mint())


def test_unknown_kid(cache: jwkscache.JWKSCache, signer: Signer) -> None:
    token = signer.mint(headers={"kid": "nope"})
    with pytest.raises(SigningKeyNotFoundError, match='matches: "nope"') as info:
        cache.decode(token)
    assert isinstance(info.value, jwt.PyJWKClientError)
    assert isinstance(info.value, jwt.InvalidTokenError)


@pytest.mark.parametrize(
    ("header", "error"),
    [
        ({"alg": "none"}, jwt.InvalidAlgorithmError),
        ({"alg": "HS256"}, jwt.InvalidAlgorithmError),
        ({"alg": "RS512"}, jwt.InvalidAlgorithmError),
        ({"alg": "rs256"}, jwt.InvalidAlgorithmError),
        ({"alg": None}, jwt.InvalidAlgorithmError),
        ({}, jwt.InvalidAlgorithmError),
        ({"alg": "RS256", "crit": ["exp"]}, jwt.InvalidTokenError),
        ({"alg": "RS256", "crit": []}, jwt.InvalidTokenError),
        ({"alg": "RS256", "kid": ["test-key"]}, jwt.InvalidTokenError),
    ],
)
def test_header_rules(
    cache: jwkscache.JWKSCache, token: str, header: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        cache.decode(replace(token, 0, b64(json.dumps({"kid": "test-key", **header}))))


def test_hs256_token_signed_with_the_public_key_is_refused(
    cache: jwkscache.JWKSCache, signer: Signer
) -> None:
    # The classic key-confusion attack: HMAC keyed with the public JWK.
    secret = json.dumps(signer.jwk).encode()
    header = b64(json.dumps({"alg": "HS256", "kid": "test-key"}))
    payload = b64('{"sub":"admin"}')
    import hashlib
    import hmac

    mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    with pytest.raises(jwt.InvalidAlgorithmError):
        cache.decode(f"{header}.{payload}.{b64(mac)}")
    # An allow-list naming HS256 is PyJWT's to accept; the token is still refused.
    with pytest.raises(jwt.InvalidAlgorithmError, match="not allowed"):
        cache.decode(f"{header}.{payload}.{b64(mac)}", algorithms=["RS256", "HS256"])


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda t: ".".join(t.split(".")[:2]), "Not enough segments"),
        (lambda t: t + ".extra", "3 segments"),
        (lambda t: "", "Not enough segments"),
        (lambda t: replace(t, 0, b64("not json")), "Invalid header string"),
        (lambda t: replace(t, 0, b64("[1, 2]")), "must be a json object"),
        (lambda t: replace(t, 0, b64('"RS256"')), "must be a json object"),
        (lambda t: replace(t, 0, b64(b"\xff\xfe{}")), "Invalid header string"),
        (lambda t: replace(t, 0, "eyJ!!!"), "Invalid header padding"),
        (lambda t: replace(t, 1, t.split(".")[1] + "="), "Invalid payload padding"),
        (lambda t: t + "==", "Invalid crypto padding"),
        (lambda t: replace(t, 2, "a+b/"), "Invalid crypto padding"),
        (lambda t: replace(t, 0, "A"), "Invalid header padding"),
        (lambda t: "a" * 20000, "20000 bytes is over the 16384-byte limit"),
        (lambda t: replace(t, 0, b64("[" * 10000 + "]" * 10000)), "limit"),
        (lambda t: replace(t, 0, b64("[" * 3000 + "]" * 3000)), "Invalid header string"),
    ],
)
def test_malformed_tokens_are_decode_errors(
    cache: jwkscache.JWKSCache, token: str, mangle: Callable[[str], str], message: str
) -> None:
    with pytest.raises(jwt.DecodeError, match=message):
        cache.decode(mangle(token))


def test_non_object_or_non_utf8_payload_after_a_valid_signature(
    cache: jwkscache.JWKSCache, signer: Signer
) -> None:
    for payload, message in [(b"[1]", "must be a json object"), (b"\xff\x00", "Invalid payload")]:
        token = jwt.api_jws.encode(payload, signer.private_key, "RS256", {"kid": "test-key"})
        with pytest.raises(jwt.DecodeError, match=message):
            cache.decode(token)
    nested = ('{"a":' * 200 + "1" + "}" * 200).encode()
    token = jwt.api_jws.encode(nested, signer.private_key, "RS256", {"kid": "test-key"})
    with pytest.raises(jwt.DecodeError, match="recursion limit"):
        cache.decode(token)


def test_token_types(cache: jwkscache.JWKSCache, token: str) -> None:
    assert cache.decode(token.encode())["sub"] == "alice"
    with pytest.raises(jwt.DecodeError, match="Invalid token type"):
        cache.decode(12345)  # type: ignore[arg-type]
    with pytest.raises(jwt.DecodeError):
        cache.decode("\udcff.a.b")


def test_max_token_bytes_is_configurable(jwks: dict[str, Any], token: str) -> None:
    small = jwkscache.JWKSCache.from_jwks(jwks, max_token_bytes=100)
    with pytest.raises(jwt.DecodeError, match="100-byte limit"):
        small.decode(token)
    with pytest.raises(ValueError, match="positive"):
        jwkscache.JWKSCache.from_jwks(jwks, max_token_bytes=0)
