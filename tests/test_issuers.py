"""jwkscache.Issuers: routing by unverified iss over real local issuers; audience= defaults."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator

import jwt
import pytest

import jwkscache
from jwkscache.testing import LocalIssuer


@pytest.fixture
def three() -> Iterator[tuple[LocalIssuer, LocalIssuer, LocalIssuer]]:
    with (
        LocalIssuer("eks", kid="shared-kid") as eks,
        LocalIssuer("appsso", kid="shared-kid") as sso,
        LocalIssuer("generic") as generic,
    ):
        yield eks, sso, generic


def router(eks: LocalIssuer, sso: LocalIssuer, generic: LocalIssuer) -> jwkscache.Issuers:
    return jwkscache.Issuers(
        {
            eks.issuer: jwkscache.JWKSCache(eks.jwks_uri, audience="sts.amazonaws.com"),
            sso.issuer: jwkscache.JWKSCache.from_issuer(sso.issuer, audience="web"),
            generic.issuer: jwkscache.JWKSCache(generic.jwks_uri, audience=["api", "cli"]),
        }
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_each_token_goes_to_its_own_issuer(
    three: tuple[LocalIssuer, LocalIssuer, LocalIssuer],
) -> None:
    eks, sso, generic = three
    keys = router(eks, sso, generic)
    assert keys.decode(eks.mint(audience="sts.amazonaws.com"))["iss"] == eks.issuer
    assert keys.decode(sso.mint(audience="web"))["iss"] == sso.issuer
    assert keys.decode_complete(generic.mint(audience="cli"))["payload"]["iss"] == generic.issuer
    # Each issuer keeps its own audience.
    with pytest.raises(jwt.InvalidAudienceError):
        keys.decode(eks.mint(audience="web"))
    assert keys.decode(eks.mint(audience="web"), audience="web")["aud"] == "web"
    stats = keys.stats()
    assert {i: s["fetches"] for i, s in stats["issuers"].items()} == {
        eks.issuer: 1,
        sso.issuer: 1,
        generic.issuer: 1,
    }
    assert stats["refused"] == 0
    assert sorted(keys) == sorted([eks.issuer, sso.issuer, generic.issuer])
    assert keys[eks.issuer].audience == "sts.amazonaws.com"
    assert keys[generic.issuer].audience == ("api", "cli")


def test_an_unlisted_issuer_is_refused_without_any_request(
    three: tuple[LocalIssuer, LocalIssuer, LocalIssuer],
) -> None:
    eks, sso, generic = three
    keys = router(eks, sso, generic)
    with LocalIssuer() as attacker:
        # A token naming an issuer no one listed, even one that serves keys.
        with pytest.raises(jwt.InvalidIssuerError, match="Invalid issuer"):
            keys.decode(attacker.mint(audience="api"))
        with pytest.raises(jwt.InvalidIssuerError):
            keys.decode(eks.mint(issuer=eks.issuer + "/"))
        with pytest.raises(jwt.MissingRequiredClaimError, match="iss"):
            keys.decode(eks.mint({"iss": None}))
        header, _, signature = eks.mint().split(".")
        listed = b64(json.dumps({"iss": [eks.issuer]}).encode())
        with pytest.raises(jwt.InvalidIssuerError):
            keys.decode(f"{header}.{listed}.{signature}")
        with pytest.raises(jwt.DecodeError):
            keys.decode("not.a-token")
        assert attacker.requests == []
    assert eks.requests == sso.requests == generic.requests == []
    assert keys.stats()["refused"] == 4


def test_a_kid_of_one_issuer_never_verifies_anothers_token(
    three: tuple[LocalIssuer, LocalIssuer, LocalIssuer],
) -> None:
    eks, sso, generic = three
    keys = router(eks, sso, generic)
    assert eks.current_kid == sso.current_kid == "shared-kid"
    # Signed by the SSO server's key, claiming to be from EKS: EKS's key under the same kid.
    forged = sso.mint(issuer=eks.issuer, audience="sts.amazonaws.com")
    with pytest.raises(jwt.InvalidSignatureError):
        keys.decode(forged)
    assert sso.fetch_count == 0


def test_decode_async_routes_too(three: tuple[LocalIssuer, LocalIssuer, LocalIssuer]) -> None:
    eks, sso, generic = three
    keys = router(eks, sso, generic)
    claims = asyncio.run(keys.decode_async(sso.mint(audience="web")))
    assert claims["iss"] == sso.issuer
    with pytest.raises(jwt.InvalidIssuerError):
        asyncio.run(keys.decode_async(eks.mint(issuer="https://elsewhere.example")))


def test_from_issuers_builds_discovering_caches(
    three: tuple[LocalIssuer, LocalIssuer, LocalIssuer],
) -> None:
    eks, sso, _ = three
    keys = jwkscache.Issuers.from_issuers(
        {eks.issuer: {"audience": "sts.amazonaws.com"}, sso.issuer: {"audience": "web"}},
        allow_insecure_http=True,
    )
    assert keys[eks.issuer].issuer == eks.issuer
    assert keys.decode(sso.mint(audience="web"))["aud"] == "web"
    assert eks.requests == []
    with keys:
        assert keys.decode(eks.mint(audience="sts.amazonaws.com"))["iss"] == eks.issuer
    assert eks.discovery_count == 1


def test_configuration_errors() -> None:
    static = jwkscache.JWKSCache.from_jwks(
        {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": b64(bytes(32))}]},
        algorithms=["EdDSA"],
        issuer="https://a.example",
    )
    with pytest.raises(ValueError, match="at least one"):
        jwkscache.Issuers({})
    with pytest.raises(ValueError, match="expects issuer"):
        jwkscache.Issuers({"https://b.example": static})
    with pytest.raises(TypeError, match="JWKSCache"):
        jwkscache.Issuers({"https://a.example": object()})  # type: ignore[dict-item]
    assert (
        repr(jwkscache.Issuers({"https://a.example": static})) == "Issuers(['https://a.example'])"
    )


def test_audience_default_on_the_constructors(
    three: tuple[LocalIssuer, LocalIssuer, LocalIssuer],
) -> None:
    eks, _, _ = three
    cache = jwkscache.JWKSCache(eks.jwks_uri, audience="sts.amazonaws.com")
    assert cache.decode(eks.mint(audience="sts.amazonaws.com"))["aud"] == "sts.amazonaws.com"
    with pytest.raises(jwt.InvalidAudienceError):
        cache.decode(eks.mint(audience="pods.eks.amazonaws.com"))
    # A token without aud when one is expected: PyJWT's MissingRequiredClaimError.
    with pytest.raises(jwt.MissingRequiredClaimError, match="aud"):
        cache.decode(eks.mint())
    # decode's own audience wins; verify_aud off turns the default off too.
    pods = eks.mint(audience="pods.eks.amazonaws.com")
    assert cache.decode(pods, audience="pods.eks.amazonaws.com")["aud"]
    assert cache.decode(pods, options={"verify_aud": False})["aud"]
    audiences = ["a", "b"]
    listed = jwkscache.JWKSCache(eks.jwks_uri, audience=audiences)
    audiences.append("c")
    assert listed.audience == ("a", "b")
    with pytest.raises(jwt.InvalidAudienceError):
        listed.decode(eks.mint(audience="c"))
    for bad in ([], [1]):
        with pytest.raises((ValueError, TypeError), match="audience"):
            jwkscache.JWKSCache(eks.jwks_uri, audience=bad)  # type: ignore[arg-type]
    static = jwkscache.JWKSCache.from_jwks(eks.jwks(), audience="x")
    assert static.audience == "x"
    assert jwkscache.JWKSCache(eks.jwks_uri).audience is None


def test_unverified_issuer_reads_without_verifying() -> None:
    header = b64(json.dumps({"alg": "RS256"}).encode())
    payload = b64(json.dumps({"iss": "https://a.example"}).encode())
    assert jwkscache._core.unverified_issuer(f"{header}.{payload}.c2ln") == "https://a.example"
    with pytest.raises(jwt.DecodeError, match="limit"):
        jwkscache._core.unverified_issuer(f"{header}.{payload}.c2ln", 10)


def test_a_duplicate_iss_routes_by_the_value_the_claims_hold(
    three: tuple[LocalIssuer, LocalIssuer, LocalIssuer],
) -> None:
    eks, sso, generic = three
    keys = router(eks, sso, generic)
    # Signed by the SSO server, naming itself first and EKS last: JSON's last member is the
    # one the claims dict and the iss check read, so the route is EKS's, whose key refuses it.
    payload = f'{{"iss":"{sso.issuer}","iss":"{eks.issuer}","aud":"web"}}'.encode()
    token = jwt.api_jws.encode(payload, sso.private_key(), "RS256", {"kid": sso.current_kid})
    assert keys.cache_for(token)[0] == eks.issuer
    with pytest.raises(jwt.InvalidSignatureError):
        keys.decode(token, audience="web")
    assert sso.requests == []
