"""Standard vectors (RFC 7515, RFC 7517, RFC 7520, Kubernetes) through the Python API."""

from __future__ import annotations

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import jwkscache
from conftest import load_vector


def test_rfc7515_a2_verifies_and_its_2011_exp_is_enforced() -> None:
    vector = load_vector("rfc/rfc7515_a2_rs256_jws.json")
    cache = jwkscache.JWKSCache.from_jwks({"keys": [vector["jwk_public"]]})
    claims = cache.decode(vector["compact"], options={"verify_exp": False})
    assert claims == vector["claims"]
    with pytest.raises(jwt.ExpiredSignatureError, match="Signature has expired"):
        cache.decode(vector["compact"])


def test_rfc7520_4_1_signature_verifies_but_plain_text_payload_is_a_decode_error() -> None:
    vector = load_vector("jose-cookbook/rfc7520_4_1.rsa_v15_signature.json")
    key = load_vector("jose-cookbook/rfc7520_3_3.rsa_public_key.json")
    cache = jwkscache.JWKSCache.from_jwks({"keys": [key]})
    compact = vector["output"]["compact"]
    assert cache.get_signing_key_from_jwt(compact).kid == "bilbo.baggins@hobbiton.example"
    with pytest.raises(jwt.DecodeError, match="Invalid payload string") as info:
        cache.decode(compact)
    assert not isinstance(info.value, jwt.InvalidSignatureError)


def test_rfc7517_a1_skips_the_enc_ec_key() -> None:
    jwks = load_vector("rfc/rfc7517_a1_public_jwks.json")["jwks"]
    cache = jwkscache.JWKSCache.from_jwks(jwks)
    assert cache.kids == ["2011-04-29"]
    [skipped] = cache.skipped
    assert skipped["kid"] == "1"
    assert skipped["kty"] == "EC"
    assert skipped["reason"] == 'use "enc" is not "sig"'


def test_rfc7517_a2_private_key_signs_tokens_the_public_set_verifies() -> None:
    private = load_vector("rfc/rfc7517_a2_private_jwks.json")["jwks"]
    rsa_private = next(k for k in private["keys"] if k["kty"] == "RSA")
    key = jwt.PyJWK(rsa_private, "RS256").key
    token = jwt.encode({"sub": "alice"}, key, algorithm="RS256", headers={"kid": "2011-04-29"})
    cache = jwkscache.JWKSCache.from_jwks(load_vector("rfc/rfc7517_a1_public_jwks.json")["jwks"])
    assert cache.decode(token) == {"sub": "alice"}


@pytest.mark.parametrize("case", range(4))
def test_kubernetes_service_account_tokens_keep_nested_claims(case: int) -> None:
    keys = load_vector("kubernetes/serviceaccount_test_keys.json")
    expected = load_vector("kubernetes/claims_expected.json")
    jwks = load_vector("kubernetes/openid_metadata_expected.json")["jwks_exact"]
    private_key = serialization.load_pem_private_key(
        keys["rsa"]["private_pem_pkcs1"].encode(), password=None
    )
    assert isinstance(private_key, rsa.RSAPrivateKey)
    entry = expected["cases"][case]
    claims = {**entry["standard_claims"], **entry["private_claims"]}
    audience = entry["input"]["audiences"] or None
    if audience:
        claims["aud"] = audience[0] if len(audience) == 1 else audience
    token = jwt.encode(claims, private_key, algorithm="RS256", headers={"kid": keys["rsa"]["kid"]})

    cache = jwkscache.JWKSCache.from_jwks(jwks)
    assert cache.kids == [keys["rsa"]["kid"]]
    assert [s["kty"] for s in cache.skipped] == ["EC"]
    decoded = cache.decode(token, audience=audience, options={"verify_exp": False})
    assert decoded == claims
    assert decoded["sub"].startswith("system:serviceaccount:")
    assert isinstance(decoded["kubernetes.io"]["serviceaccount"], dict)
    with pytest.raises(jwt.ExpiredSignatureError):
        cache.decode(token, audience=audience)
