"""jwkscache.kubernetes: service-account tokens, on Kubernetes' own claims layout and keys
(tests/vectors/kubernetes) and on tokens a LocalIssuer mints in the API server's shape."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import re
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

import jwkscache
from conftest import load_vector
from jwkscache.kubernetes import (
    InvalidServiceAccountTokenError,
    ObjectRef,
    ServiceAccountNotAllowedError,
    ServiceAccountToken,
    verify,
    verify_async,
)
from jwkscache.testing import LocalIssuer

UTC = datetime.timezone.utc


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalIssuer]:
    """An API-server-shaped issuer signing ES256, as a kubeadm cluster with an ECDSA key."""
    with LocalIssuer("kubernetes", alg="ES256") as issuer:
        yield issuer


@pytest.fixture(scope="module")
def keys(cluster: LocalIssuer) -> Iterator[jwkscache.JWKSCache]:
    with jwkscache.JWKSCache(cluster.jwks_uri, algorithms=["RS256", "ES256"]) as cache:
        yield cache


def _vector_claims(case: int) -> dict[str, Any]:
    entry = load_vector("kubernetes/claims_expected.json")["cases"][case]
    claims: dict[str, Any] = {**entry["standard_claims"], **entry["private_claims"]}
    return claims


@pytest.mark.parametrize("case", range(4))
def test_kubernetes_claims_layout_reads_as_built(case: int) -> None:
    entry = load_vector("kubernetes/claims_expected.json")["cases"][case]
    sa = ServiceAccountToken.from_claims(_vector_claims(case))
    assert sa.namespace == "myns"
    assert sa.service_account == ObjectRef("mysvcacct", "mysvcacct-uid")
    assert sa.subject == "system:serviceaccount:myns:mysvcacct"
    private = entry["private_claims"]["kubernetes.io"]
    assert sa.pod == (ObjectRef("mypod", "mypod-uid") if "pod" in private else None)
    assert sa.secret == (ObjectRef("mysecret", "mysecret-uid") if "secret" in private else None)
    assert sa.node is None
    assert sa.jti is None
    assert sa.warn_after is None
    assert not sa.legacy
    assert sa.audiences == tuple(entry["input"]["audiences"] or ())
    now = datetime.datetime.fromtimestamp(1514764800, tz=UTC)
    assert sa.issued_at == now
    assert sa.expires_at == now + datetime.timedelta(seconds=entry["input"]["expiration_seconds"])


@pytest.mark.parametrize(("kind", "alg"), [("rsa", "RS256"), ("ecdsa_p256", "ES256")])
def test_tokens_signed_with_kubernetes_test_keys_verify_against_its_jwks(
    kind: str, alg: str
) -> None:
    keys = load_vector("kubernetes/serviceaccount_test_keys.json")
    jwks = load_vector("kubernetes/openid_metadata_expected.json")["jwks_exact"]
    pem = keys[kind]["private_pem_pkcs1" if kind == "rsa" else "private_pem_sec1"]
    private_key = serialization.load_pem_private_key(pem.encode(), password=None)
    claims = {**_vector_claims(3), "iss": "https://issuer.example.com"}
    token = jwt.encode(claims, private_key, algorithm=alg, headers={"kid": keys[kind]["kid"]})  # type: ignore[arg-type]

    cache = jwkscache.JWKSCache.from_jwks(jwks, algorithms=["RS256", "ES256"])
    assert sorted(cache.kids) == sorted([keys["rsa"]["kid"], keys["ecdsa_p256"]["kid"]])
    # The vectors' clock is 2018: expiry is checked below, the rest here.
    sa = verify(
        cache,
        token,
        audience="2",
        namespace="myns",
        service_account="mysvcacct",
        issuer="https://issuer.example.com",
        options={"verify_exp": False},
    )
    assert sa.audiences == ("1", "2")
    assert sa.issuer == "https://issuer.example.com"
    with pytest.raises(jwt.ExpiredSignatureError):
        verify(cache, token, audience="2")


def test_a_bound_pod_token_verifies_with_every_member(
    cluster: LocalIssuer, keys: jwkscache.JWKSCache
) -> None:
    warn_after = int(time.time()) + 3600
    token = cluster.mint_service_account(
        "payments",
        "api",
        audience=["https://kubernetes.default.svc", "payments-api"],
        pod="api-7d4b9",
        node="ip-10-0-1-17",
        warn_after=warn_after,
        expires_in=365 * 86400,
        claims={"kubernetes.io/extra": "unknown members are kept"},
    )
    sa = verify(keys, token, audience="payments-api", namespace="payments", service_account="api")
    assert sa.namespace == "payments"
    assert sa.service_account.name == "api"
    assert sa.service_account.uid
    assert sa.pod is not None
    assert sa.node is not None
    assert (sa.pod.name, sa.node.name, sa.secret) == ("api-7d4b9", "ip-10-0-1-17", None)
    assert sa.warn_after == datetime.datetime.fromtimestamp(warn_after, tz=UTC)
    assert sa.expires_at is not None
    assert sa.issued_at is not None
    assert sa.expires_at - sa.issued_at == datetime.timedelta(days=365)  # not enforced: exposed
    assert sa.jti is not None
    assert sa.issuer == cluster.issuer
    assert sa.audiences == ("https://kubernetes.default.svc", "payments-api")
    assert sa.claims["kubernetes.io/extra"] == "unknown members are kept"
    assert jwt.get_unverified_header(token)["alg"] == "ES256"


def test_a_secret_bound_token_has_no_pod(cluster: LocalIssuer, keys: jwkscache.JWKSCache) -> None:
    token = cluster.mint_service_account("ci", "deployer", audience="api", secret="deploy-token")
    sa = verify(keys, token, audience="api")
    assert sa.secret is not None
    assert sa.secret.name == "deploy-token"
    assert sa.pod is None


@pytest.mark.parametrize(
    ("namespace", "service_account", "message"),
    [
        ("billing", None, "its namespace is 'payments', expected 'billing'"),
        (["billing", "ops"], None, "expected one of ['billing', 'ops']"),
        (None, "worker", "its service account is 'api', expected 'worker'"),
        ("payments", ("worker", "cron"), "expected one of ['worker', 'cron']"),
    ],
)
def test_the_wrong_namespace_or_service_account_is_refused(
    cluster: LocalIssuer,
    keys: jwkscache.JWKSCache,
    namespace: Any,
    service_account: Any,
    message: str,
) -> None:
    token = cluster.mint_service_account("payments", "api", audience="api")
    with pytest.raises(ServiceAccountNotAllowedError, match=re.escape(message)) as info:
        verify(keys, token, audience="api", namespace=namespace, service_account=service_account)
    assert isinstance(info.value, jwt.InvalidTokenError)
    assert "Service account 'payments:api' is not allowed" in str(info.value)
    sa = verify(keys, token, audience="api", namespace=["ops", "payments"], service_account="api")
    assert sa.subject == "system:serviceaccount:payments:api"


def test_the_token_checks_come_first(cluster: LocalIssuer, keys: jwkscache.JWKSCache) -> None:
    token = cluster.mint_service_account("payments", "api", audience="api")
    with pytest.raises(jwt.InvalidAudienceError):
        verify(keys, token, audience="other-api", namespace="payments")
    expired = cluster.mint_service_account("payments", "api", audience="api", expires_in=-60)
    with pytest.raises(jwt.ExpiredSignatureError):
        verify(keys, expired, audience="api")
    forged = token[: token.rindex(".") + 1] + "A" * 86
    with pytest.raises(jwt.InvalidSignatureError):
        verify(keys, forged, audience="api")


def test_a_sub_that_names_another_service_account_is_refused(
    cluster: LocalIssuer, keys: jwkscache.JWKSCache
) -> None:
    token = cluster.mint_service_account(
        "payments", "api", audience="api", claims={"sub": "system:serviceaccount:kube-system:admin"}
    )
    with pytest.raises(InvalidServiceAccountTokenError) as info:
        verify(keys, token, audience="api")
    assert str(info.value) == (
        'Invalid Kubernetes service-account token: "sub" is '
        "'system:serviceaccount:kube-system:admin', expected 'system:serviceaccount:payments:api'"
    )
    assert isinstance(info.value, jwt.InvalidTokenError)


def test_an_ordinary_oidc_token_is_not_a_service_account_token(
    cluster: LocalIssuer, keys: jwkscache.JWKSCache
) -> None:
    token = cluster.mint(audience="api", subject="alice")
    with pytest.raises(InvalidServiceAccountTokenError, match='"kubernetes.io" claim is missing'):
        verify(keys, token, audience="api")


def test_legacy_tokens_are_refused_unless_allowed(
    cluster: LocalIssuer, keys: jwkscache.JWKSCache
) -> None:
    token = cluster.mint_legacy_service_account("kube-system", "deployer", secret="deployer-token")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == "kubernetes/serviceaccount"
    assert "exp" not in claims
    with pytest.raises(InvalidServiceAccountTokenError, match="allow_legacy=True"):
        verify(keys, token, audience=None)
    sa = verify(keys, token, audience=None, allow_legacy=True, namespace="kube-system")
    assert sa.legacy
    assert sa.issuer == "kubernetes/serviceaccount"
    assert sa.service_account.name == "deployer"
    assert sa.service_account.uid
    assert sa.secret == ObjectRef("deployer-token", None)
    assert (sa.expires_at, sa.issued_at, sa.audiences, sa.pod) == (None, None, (), None)
    # The cache's own iss check applies as to any token.
    with pytest.raises(jwt.InvalidIssuerError):
        verify(keys, token, audience=None, allow_legacy=True, issuer=cluster.issuer)


def test_verify_async(cluster: LocalIssuer, keys: jwkscache.JWKSCache) -> None:
    token = cluster.mint_service_account("payments", "api", audience="api", pod="p")
    sa = asyncio.run(verify_async(keys, token, audience="api", service_account="api"))
    assert sa.pod == ObjectRef("p", sa.pod.uid if sa.pod else None)
    with pytest.raises(ServiceAccountNotAllowedError):
        asyncio.run(verify_async(keys, token, audience="api", namespace="other"))


def test_the_view_is_frozen() -> None:
    sa = ServiceAccountToken.from_claims(_vector_claims(0))
    with pytest.raises(dataclasses.FrozenInstanceError):
        sa.namespace = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        sa.claims["sub"] = "x"  # type: ignore[index]


_SA = {"name": "a", "uid": "u"}


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ([], "the claims must be a mapping, got list"),
        ({"sub": "system:serviceaccount:n:a"}, '"kubernetes.io" claim is missing'),
        ({"kubernetes.io": "n"}, '"kubernetes.io" claim is a str, expected an object'),
        ({"kubernetes.io": {"serviceaccount": _SA}}, '"namespace" is missing'),
        ({"kubernetes.io": {"namespace": "", "serviceaccount": _SA}}, "\"namespace\" is ''"),
        ({"kubernetes.io": {"namespace": "n"}}, 'has no "serviceaccount"'),
        ({"kubernetes.io": {"namespace": "n", "serviceaccount": "a"}}, "expected an object"),
        (
            {"kubernetes.io": {"namespace": "n", "serviceaccount": {"uid": "u"}}},
            '"name" is missing',
        ),
        (
            {"kubernetes.io": {"namespace": "n", "serviceaccount": {"name": "a", "uid": 7}}},
            "uid is 7",
        ),
        (
            {"kubernetes.io": {"namespace": "n", "serviceaccount": _SA, "pod": ["p"]}},
            "pod is ['p']",
        ),
        (
            {"kubernetes.io": {"namespace": "n", "serviceaccount": _SA, "warnafter": "soon"}},
            "\"warnafter\" is 'soon', expected a NumericDate",
        ),
        ({"kubernetes.io": {"namespace": "n", "serviceaccount": _SA}}, '"sub" is None'),
        (
            {
                "sub": "system:serviceaccount:n:a",
                "aud": 7,
                "kubernetes.io": {"namespace": "n", "serviceaccount": _SA},
            },
            '"aud" is 7',
        ),
        (
            {
                "sub": "system:serviceaccount:n:a",
                "iat": True,
                "kubernetes.io": {"namespace": "n", "serviceaccount": _SA},
            },
            '"iat" is True',
        ),
        (
            {
                "sub": "system:serviceaccount:n:a",
                "jti": 1,
                "kubernetes.io": {"namespace": "n", "serviceaccount": _SA},
            },
            '"jti" is 1',
        ),
        (
            {"iss": "kubernetes/serviceaccount", "kubernetes.io/serviceaccount/namespace": "n"},
            "legacy secret-based token",
        ),
    ],
)
def test_malformed_claims_are_refused_precisely(claims: Any, message: str) -> None:
    with pytest.raises(InvalidServiceAccountTokenError) as info:
        ServiceAccountToken.from_claims(claims)
    assert message in str(info.value)


def test_legacy_claims_with_allow_legacy_still_need_their_members() -> None:
    claims = {"iss": "kubernetes/serviceaccount", "kubernetes.io/serviceaccount/namespace": "n"}
    with pytest.raises(InvalidServiceAccountTokenError, match="service-account.name"):
        ServiceAccountToken.from_claims(claims, allow_legacy=True)


def test_the_module_and_its_exceptions_are_part_of_the_package() -> None:
    assert jwkscache.kubernetes.ServiceAccountToken is ServiceAccountToken
    assert issubclass(jwkscache.exceptions.InvalidServiceAccountTokenError, jwt.InvalidTokenError)
    assert issubclass(jwkscache.exceptions.ServiceAccountNotAllowedError, jwt.InvalidTokenError)


def test_verify_routes_through_issuers_too(cluster: LocalIssuer, keys: jwkscache.JWKSCache) -> None:
    router = jwkscache.Issuers({cluster.issuer: keys})
    token = cluster.mint_service_account("payments", "api", audience="api")
    assert verify(router, token, audience="api", namespace="payments").service_account.name == "api"
    with LocalIssuer("kubernetes") as other:
        with pytest.raises(jwt.InvalidIssuerError):
            verify(
                router,
                other.mint_service_account("payments", "api", audience="api"),
                audience="api",
            )
        assert other.requests == []
