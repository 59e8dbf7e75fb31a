"""JWKSCache.in_cluster against a LocalIssuer in the Kubernetes API server's shape: HTTPS with
its own CA, 401 without the pod's bearer token, the token file rewritten between fetches,
ES256 and RS256 keys, a discovery document naming an external issuer and an unreachable
jwks_uri."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

import jwkscache
from conftest import load_vector
from jwkscache.testing import LocalIssuer

EXTERNAL_ISSUER = "https://oidc.eks.eu-west-1.amazonaws.com/id/5C4A3F1B2E6D7A8C9B0E1F2A3B4C5D6E"


@pytest.fixture
def apiserver() -> Iterator[LocalIssuer]:
    """A kube-apiserver with an ECDSA signing key whose discovery document names an external
    issuer and a node-internal jwks_uri (as on EKS)."""
    with LocalIssuer("kubernetes", tls=True, alg="ES256") as server:
        server.set_discovery(
            issuer=EXTERNAL_ISSUER, jwks_uri="https://10.0.113.7:10250/openid/v1/jwks"
        )
        yield server


@pytest.fixture
def pod(apiserver: LocalIssuer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A pod's environment and service-account mount (in a temporary directory)."""
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(apiserver.port))
    mount = tmp_path / "serviceaccount"
    apiserver.write_pod_files(mount, namespace="payments", name="api")
    return mount


def _in_cluster(pod: Path, **options: object) -> jwkscache.JWKSCache:
    mounts: dict[str, object] = {"token_file": pod / "token", "ca_file": pod / "ca.crt"}
    return jwkscache.JWKSCache.in_cluster(**{**mounts, **options})  # type: ignore[arg-type]


def _mint(apiserver: LocalIssuer, **options: object) -> str:
    return apiserver.mint_service_account(
        "payments",
        "worker",
        audience="payments-api",
        **options,  # type: ignore[arg-type]
    )


def test_keys_come_from_the_api_server_with_the_pods_token(
    apiserver: LocalIssuer, pod: Path
) -> None:
    token = (pod / "token").read_text()
    with _in_cluster(pod, audience="payments-api") as keys:
        assert keys.issuer == EXTERNAL_ISSUER  # what the discovery document names
        sa_token = apiserver.mint_service_account(
            "payments", "worker", audience="payments-api", claims={"iss": EXTERNAL_ISSUER}
        )
        claims = keys.decode(sa_token)
        assert claims["sub"] == "system:serviceaccount:payments:worker"
        assert keys.stats()["jwks_uri"] == f"https://127.0.0.1:{apiserver.port}/openid/v1/jwks"
        # The issuer's own URL is not the expected iss: the discovery document's is.
        with pytest.raises(jwt.InvalidIssuerError):
            keys.decode(_mint(apiserver))
    paths = [(r.path, r.status) for r in apiserver.requests]
    assert paths == [("/.well-known/openid-configuration", 200), ("/openid/v1/jwks", 200)]
    assert {r.headers["authorization"] for r in apiserver.requests} == {f"Bearer {token}"}
    assert "in-cluster https://127.0.0.1:" in repr(keys)


def test_a_given_issuer_skips_discovery_and_the_api_server_signs_es256_and_rs256(
    apiserver: LocalIssuer, pod: Path
) -> None:
    rsa_kid = apiserver.add_key("RSA")
    with _in_cluster(pod, issuer=apiserver.issuer) as keys:
        assert keys.algorithms == ["RS256", "ES256", "ES384", "ES512"]
        es256 = _mint(apiserver)
        rs256 = _mint(apiserver, kid=rsa_kid)
        assert jwt.get_unverified_header(rs256)["alg"] == "RS256"
        for token in (es256, rs256):
            assert keys.decode(token, audience="payments-api")["iss"] == apiserver.issuer
        assert {k.key_type for k in map(keys.get_signing_key, keys.kids)} == {"EC", "RSA"}  # type: ignore[arg-type]
    assert apiserver.discovery_count == 0
    assert apiserver.fetch_count == 1


def test_without_the_bearer_token_the_api_server_answers_401(
    apiserver: LocalIssuer, pod: Path
) -> None:
    keys = jwkscache.JWKSCache(apiserver.jwks_uri, ca_file=apiserver.ca_file, algorithms=["ES256"])
    with pytest.raises(jwt.PyJWKClientConnectionError, match="401 Unauthorized"):
        keys.refresh()
    assert [r.status for r in apiserver.requests] == [401]


def test_a_rewritten_token_file_is_read_again_after_a_401(
    apiserver: LocalIssuer, pod: Path
) -> None:
    first = (pod / "token").read_text()
    keys = _in_cluster(pod, issuer=apiserver.issuer, refresh_ahead=False)
    keys.refresh()
    second = apiserver.write_pod_files(pod, namespace="payments", name="api")  # the kubelet
    assert second != first
    keys.refresh()  # the token in hand (under a minute old) gets a 401, the file's a 200
    assert keys.decode(_mint(apiserver), audience="payments-api")["aud"] == "payments-api"
    seen = [(r.headers["authorization"], r.status) for r in apiserver.requests]
    assert seen == [(f"Bearer {first}", 200), (f"Bearer {first}", 401), (f"Bearer {second}", 200)]
    assert keys.stats()["failures"] == 0


def test_a_token_the_api_server_refuses_twice_is_a_connection_error(
    apiserver: LocalIssuer, pod: Path
) -> None:
    keys = _in_cluster(pod, issuer=apiserver.issuer)
    apiserver.set_bearer_token("a-token-the-pod-does-not-have")
    with pytest.raises(jwt.PyJWKClientConnectionError, match=r"401 Unauthorized .*read again"):
        keys.refresh()
    assert [r.status for r in apiserver.requests] == [401, 401]
    assert "token" in str(keys.stats()["last_error"])


def test_an_unreadable_discovery_document_says_to_pass_issuer(
    apiserver: LocalIssuer, pod: Path
) -> None:
    apiserver.fail_next(1, status=503, path=apiserver.discovery_path)
    with pytest.raises(jwt.PyJWKClientConnectionError, match="pass issuer= to name it"):
        _in_cluster(pod)
    apiserver.set_discovery(issuer=None)
    with pytest.raises(jwt.PyJWKClientConnectionError, match='no "issuer" string'):
        _in_cluster(pod)


def test_outside_a_pod_it_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    with pytest.raises(
        ValueError, match="^not running in a Kubernetes pod: KUBERNETES_SERVICE_HOST"
    ):
        jwkscache.JWKSCache.in_cluster()


def test_missing_mounts_fail_at_construction(
    apiserver: LocalIssuer, pod: Path, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="cannot read the bearer token file .*no-token"):
        _in_cluster(pod, token_file=tmp_path / "no-token", issuer="x")
    with pytest.raises(ValueError, match="no-ca.crt"):
        _in_cluster(pod, ca_file=tmp_path / "no-ca.crt", issuer="x")
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ValueError, match="it is empty"):
        _in_cluster(pod, token_file=tmp_path / "empty", issuer="x")
    assert apiserver.requests == []


def test_an_api_server_signed_by_another_ca_is_refused(apiserver: LocalIssuer, pod: Path) -> None:
    with LocalIssuer(tls=True) as other:
        assert other.ca_file is not None
        with pytest.raises(jwt.PyJWKClientConnectionError, match="pass issuer="):
            _in_cluster(pod, ca_file=other.ca_file)
    assert apiserver.requests == []


def test_api_server_overrides_the_environment(
    apiserver: LocalIssuer, pod: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "1")  # nothing listens there
    keys = _in_cluster(pod, api_server=apiserver.base_url, issuer=apiserver.issuer)
    assert keys.decode(_mint(apiserver), audience="payments-api")["sub"].endswith(":worker")


def test_the_api_servers_own_documents_from_kubernetes_tests(
    apiserver: LocalIssuer, pod: Path
) -> None:
    """The exact discovery document and mixed RSA + EC JWKS kube-apiserver serves for its test
    keys (pkg/serviceaccount/openidmetadata_test.go), and a token signed with its EC test key."""
    metadata = load_vector("kubernetes/openid_metadata_expected.json")
    test_keys = load_vector("kubernetes/serviceaccount_test_keys.json")
    headers = metadata["http_headers"]
    apiserver.serve_body(
        metadata["discovery_document_exact"],
        content_type=headers["discovery"]["Content-Type"],
        path=apiserver.discovery_path,
    )
    apiserver.serve_body(metadata["jwks_exact"], content_type=headers["jwks"]["Content-Type"])
    keys = _in_cluster(pod, audience="1")
    assert keys.issuer == metadata["issuer"]  # its jwks_uri (issuer.example.com) is not used
    ec = serialization.load_pem_private_key(
        test_keys["ecdsa_p256"]["private_pem_sec1"].encode(), password=None
    )
    claims = {**load_vector("kubernetes/claims_expected.json")["cases"][2]["private_claims"]}
    claims.update(
        iss=metadata["issuer"], sub="system:serviceaccount:myns:mysvcacct", aud="1", exp=2**31
    )
    token = jwt.encode(
        claims, ec, algorithm="ES256", headers={"kid": test_keys["ecdsa_p256"]["kid"]}
    )  # type: ignore[arg-type]
    sa = jwkscache.kubernetes.verify(keys, token, audience=None, namespace="myns")
    assert sa.secret is not None
    assert sa.secret.name == "mysecret"
    assert sorted(keys.kids) == sorted([test_keys["rsa"]["kid"], test_keys["ecdsa_p256"]["kid"]])
    assert [r.path for r in apiserver.requests] == [apiserver.discovery_path, apiserver.jwks_path]


def test_only_the_cluster_ca_is_trusted(
    apiserver: LocalIssuer, pod: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As client-go in a pod: neither the system roots nor SSL_CERT_FILE vouch for an API
    server; a server another CA signed is refused even when that CA is trusted elsewhere."""
    with LocalIssuer("kubernetes", tls=True) as impostor:
        assert impostor.ca_file is not None
        monkeypatch.setenv("SSL_CERT_FILE", impostor.ca_file)
        trusting = jwkscache.JWKSCache(impostor.jwks_uri)  # SSL_CERT_FILE trusted here
        trusting.refresh()
        assert trusting.kids == impostor.kids
        with pytest.raises(jwt.PyJWKClientConnectionError, match="pass issuer="):
            _in_cluster(pod, api_server=impostor.base_url)
        assert [r.status for r in impostor.requests] == [200]  # the plain cache's fetch only
