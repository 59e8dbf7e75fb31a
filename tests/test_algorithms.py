"""ES256/384/512 and EdDSA through the Python API, next to RS256; allow-list rules."""

from __future__ import annotations

import base64
import json
import random
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

import jwkscache
from conftest import load_vector
from test_differential import family

CURVES = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class KeyPair:
    """An EC or Ed25519 key pair with its public JWK, minting tokens with PyJWT."""

    def __init__(self, alg: str, kid: str = "k1") -> None:
        self.alg = alg
        self.kid = kid
        self.private_key: Any = (
            ed25519.Ed25519PrivateKey.generate()
            if alg == "EdDSA"
            else ec.generate_private_key(CURVES[alg])
        )
        self.public_key = self.private_key.public_key()
        jwk = json.loads(jwt.get_algorithm_by_name(alg).to_jwk(self.public_key))
        jwk.update({"use": "sig", "kid": kid})
        self.jwk: dict[str, Any] = jwk

    def mint(self, claims: dict[str, Any] | None = None, **headers: Any) -> str:
        now = int(time.time())
        payload = {"iat": now, "exp": now + 300, **(claims or {})}
        head = {"kid": self.kid, **headers}
        return jwt.encode(payload, self.private_key, algorithm=self.alg, headers=head)


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512", "EdDSA"])
def test_each_algorithm_verifies_with_its_key(alg: str) -> None:
    pair = KeyPair(alg)
    cache = jwkscache.JWKSCache.from_jwks({"keys": [pair.jwk]}, algorithms=[alg])
    assert cache.decode(pair.mint({"sub": "svc"}))["sub"] == "svc"
    key = cache.get_signing_key("k1")
    assert key.key_type == ("OKP" if alg == "EdDSA" else "EC")
    assert key.key_size == {"ES256": 256, "ES384": 384, "ES512": 521, "EdDSA": 256}[alg]
    # The drop-in's PyJWK agrees with PyJWT.
    assert jwt.decode(pair.mint({"sub": "x"}), key.to_pyjwk(), algorithms=[alg])["sub"] == "x"
    # A key whose algorithm is not allowed is skipped, saying why.
    mixed = {"keys": [pair.jwk, KeyPair("ES256", "k2").jwk]}
    narrow = jwkscache.JWKSCache.from_jwks(mixed, algorithms=["RS256", "ES256"])
    assert "k2" in narrow.kids
    if alg != "ES256":
        assert narrow.skipped[0]["kid"] == "k1"
        assert "among the allowed algorithms" in narrow.skipped[0]["reason"]
    # A forged signature is refused.
    header, payload, signature = pair.mint().split(".")
    forged = bytearray(unb64(signature))
    forged[3] ^= 1
    with pytest.raises(jwt.InvalidSignatureError):
        cache.decode(f"{header}.{payload}.{b64(bytes(forged))}")


def test_the_alg_is_bound_to_the_curve() -> None:
    p384 = KeyPair("ES384")
    cache = jwkscache.JWKSCache.from_jwks({"keys": [p384.jwk]}, algorithms=["ES256", "ES384"])
    # A token claiming ES256 over a P-384 key: refused, whatever its signature.
    _, payload, signature = p384.mint().split(".")
    es256 = b64(json.dumps({"alg": "ES256", "kid": "k1", "typ": "JWT"}).encode())
    with pytest.raises(jwt.InvalidAlgorithmError, match="P-384 key verifies ES384"):
        cache.decode(f"{es256}.{payload}.{signature}")
    # A P-256 key that states alg ES384 is not used at all.
    p256 = KeyPair("ES256", "lying")
    lying = {**p256.jwk, "alg": "ES384"}
    with pytest.raises(jwt.PyJWKSetError, match="does not fit the key"):
        jwkscache.JWKSCache.from_jwks({"keys": [lying]}, algorithms=["ES256", "ES384"])


def test_a_der_encoded_ecdsa_signature_is_refused() -> None:
    pair = KeyPair("ES256")
    cache = jwkscache.JWKSCache.from_jwks({"keys": [pair.jwk]}, algorithms=["ES256"])
    token = pair.mint({"sub": "svc"})
    signing_input, _, _ = token.rpartition(".")
    der = pair.private_key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    assert cache.decode(f"{signing_input}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}")
    with pytest.raises(jwt.InvalidSignatureError):
        cache.decode(f"{signing_input}.{b64(der)}")


def test_rfc7515_a3_es256_and_rfc8037_a4_eddsa_vectors() -> None:
    a3 = load_vector("rfc/rfc7515_a3_es256_jws.json")
    public = {k: v for k, v in a3["jwk"].items() if k != "d"}
    cache = jwkscache.JWKSCache.from_jwks({"keys": [public]}, algorithms=["ES256"])
    assert cache.decode(a3["compact"], options={"verify_exp": False}) == a3["claims"]
    with pytest.raises(jwt.ExpiredSignatureError):
        cache.decode(a3["compact"])
    a4 = load_vector("rfc/rfc8037_a4_ed25519_jws.json")
    public = {k: v for k, v in a4["jwk"].items() if k != "d"}
    cache = jwkscache.JWKSCache.from_jwks({"keys": [public]}, algorithms=["EdDSA"])
    # A.5: the signature validates; the payload is text, so decode() is a DecodeError.
    with pytest.raises(jwt.DecodeError, match="Invalid payload string") as info:
        cache.decode(a4["compact"])
    assert not isinstance(info.value, jwt.InvalidSignatureError)


def test_the_kubernetes_mixed_set_verifies_es256_when_allowed() -> None:
    keys = load_vector("kubernetes/serviceaccount_test_keys.json")
    jwks = load_vector("kubernetes/openid_metadata_expected.json")["jwks_exact"]
    private = serialization.load_pem_private_key(
        keys["ecdsa_p256"]["private_pem_sec1"].encode(), password=None
    )
    token = jwt.encode(
        {"sub": "system:serviceaccount:default:default"},
        private,
        algorithm="ES256",
        headers={"kid": keys["ecdsa_p256"]["kid"]},
    )
    cache = jwkscache.JWKSCache.from_jwks(jwks, algorithms=["RS256", "ES256"])
    assert cache.kids == [keys["rsa"]["kid"], keys["ecdsa_p256"]["kid"]]
    assert cache.decode(token)["sub"] == "system:serviceaccount:default:default"
    # Not opened: the RSA-only default refuses the algorithm before any key lookup.
    with pytest.raises(jwt.InvalidAlgorithmError):
        jwkscache.JWKSCache.from_jwks(jwks).decode(token)


def test_pyjwt_names_a_jwks_cannot_serve_are_accepted_and_refused_per_token() -> None:
    pair = KeyPair("ES256")
    cache = jwkscache.JWKSCache.from_jwks({"keys": [pair.jwk]}, algorithms=["ES256", "HS256"])
    token = pair.mint({"sub": "svc"})
    # As PyJWT: a list naming HS256 and none verifies the ES256 token...
    assert cache.decode(token, algorithms=["ES256", "HS256", "none"])["sub"] == "svc"
    assert jwt.decode(token, pair.public_key, algorithms=["ES256", "HS256", "none"])["sub"] == "svc"
    # ...and refuses a token using one of them, with InvalidAlgorithmError.
    _, payload, _ = token.split(".")
    for alg in ("HS256", "none"):
        header = b64(json.dumps({"alg": alg, "kid": "k1"}).encode())
        with pytest.raises(jwt.InvalidAlgorithmError):
            cache.decode(f"{header}.{payload}.c2ln", algorithms=["ES256", "HS256", "none"])
    # Only such names: nothing could ever verify.
    with pytest.raises(jwt.InvalidAlgorithmError):
        cache.decode(token, algorithms=["HS256"])
    # A name no JOSE registry knows is a programming error.
    with pytest.raises(ValueError, match="not supported"):
        cache.decode(token, algorithms=["ES256", "HS999"])


def generate(pair: KeyPair, other: KeyPair, rng: random.Random, now: int) -> str:
    claims: dict[str, Any] = {"sub": "svc", "aud": "api"}
    for claim, choices in {
        "exp": [now + 600, now - 600, None],
        "nbf": [now - 60, now + 600, None],
        "aud": ["api", ["web"], None],
    }.items():
        if rng.random() < 0.35:
            value = rng.choice(choices)
            if value is None:
                claims.pop(claim, None)
            else:
                claims[claim] = value
    key = other if rng.random() < 0.15 else pair
    token = jwt.encode(claims, key.private_key, algorithm=pair.alg, headers={"kid": "k1"})
    h, p, s = token.split(".")
    mutation = rng.random()
    if mutation < 0.08:
        header = {"alg": rng.choice(["none", "HS256", "RS256", "ES384", "EdDSA"]), "kid": "k1"}
        return f"{b64(json.dumps(header).encode())}.{p}.{s}"
    if mutation < 0.12:
        return f"{h}.{p}.{s[:-4]}AAAA"
    if mutation < 0.16:
        return f"{h}.{p}.{s[:20]}"
    if mutation < 0.20:
        return f"{h}.{b64(b'[1,2]')}.{s}"
    return token


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_same_verdict_as_pyjwt(alg: str) -> None:
    rng = random.Random(alg)
    pair, other = KeyPair(alg), KeyPair(alg)
    cache = jwkscache.JWKSCache.from_jwks({"keys": [pair.jwk]}, algorithms=[alg])
    now = int(time.time())
    verdicts: dict[str, int] = {}
    for _ in range(150):
        token = generate(pair, other, rng, now)
        audience = rng.choice(["api", None])
        ours = theirs = None
        try:
            cache.decode(token, audience=audience)
        except Exception as error:
            ours = error
        try:
            jwt.decode(token, pair.public_key, algorithms=[alg], audience=audience)
        except Exception as error:
            theirs = error
        assert family(ours) == family(theirs), (token, ours, theirs)
        verdicts[family(ours)] = verdicts.get(family(ours), 0) + 1
    assert verdicts.get("ok", 0) > 10
    assert verdicts.get("InvalidSignatureError", 0) > 5
    assert len(verdicts) >= 5


def test_hostile_ec_and_okp_keys_are_skipped_with_reasons() -> None:
    good = KeyPair("ES256", "good").jwk
    ed = KeyPair("EdDSA", "ed").jwk
    x, y = unb64(good["x"]), unb64(good["y"])
    off_curve = b64(y[:-1] + bytes([y[-1] ^ 1]))
    hostile = [
        {**good, "kid": "huge", "x": b64(b"\x01" * 100_000)},
        {**good, "kid": "padded", "x": b64(b"\x00" + x)},
        {**good, "kid": "off-curve", "y": off_curve},
        {**good, "kid": "number", "x": 7},
        {**good, "kid": "no-y", "y": None},
        {**good, "kid": "crv", "crv": ["P-256"]},
        {**good, "kid": "no-crv", "crv": None},
        {**ed, "kid": "ed-short", "x": b64(b"\x01" * 31)},
        {**ed, "kid": "x25519", "crv": "X25519"},
        {**ed, "kid": "ed-alg", "alg": "ES256"},
    ]
    hostile = [{k: v for k, v in key.items() if v is not None} for key in hostile]
    cache = jwkscache.JWKSCache.from_jwks(
        {"keys": [*hostile, good, ed]}, algorithms=["ES256", "EdDSA"]
    )
    assert cache.kids == ["good", "ed"]
    reasons = {s["kid"]: s["reason"] for s in cache.skipped}
    assert "100000 bytes" in reasons["huge"]
    assert "33 bytes" in reasons["padded"]
    assert "not a valid P-256 public key" in reasons["off-curve"]
    assert '"x" is not a string' in reasons["number"]
    assert '"y" is missing' in reasons["no-y"]
    assert '"crv" is not a string' in reasons["crv"]
    assert '"crv" is missing' in reasons["no-crv"]
    assert "an Ed25519 key is 32" in reasons["ed-short"]
    assert 'crv "X25519" is not supported' in reasons["x25519"]
    assert "does not fit the key" in reasons["ed-alg"]


@pytest.mark.parametrize("length", [0, 1, 63, 65, 72, 128, 4096])
def test_ecdsa_and_eddsa_signatures_of_any_other_length_are_refused(length: int) -> None:
    for alg in ("ES256", "EdDSA"):
        pair = KeyPair(alg)
        cache = jwkscache.JWKSCache.from_jwks({"keys": [pair.jwk]}, algorithms=[alg])
        signing_input, _, _ = pair.mint().rpartition(".")
        with pytest.raises(jwt.InvalidSignatureError):
            cache.decode(f"{signing_input}.{b64(bytes([1]) * length)}")
