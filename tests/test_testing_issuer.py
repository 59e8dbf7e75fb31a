"""LocalIssuer end to end, over real HTTP on 127.0.0.1: urllib and PyJWT's PyJWKClient."""

from __future__ import annotations

import base64
import contextlib
import datetime
import http.client
import json
import re
import socket
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from jwkscache.testing import (
    FAULT_KINDS,
    PRESETS,
    LocalIssuer,
    RequestRecord,
    kubernetes_kid,
    rfc7638_thumbprint,
)

VECTORS = Path(__file__).parent / "vectors"
# What a client timeout raises: socket.timeout is TimeoutError only from Python 3.10 on.
TIMED_OUT = (socket.timeout, TimeoutError, urllib.error.URLError)


def _vector(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


# -- a small HTTP client on urllib ----------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def get(
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    method: str = "GET",
    context: ssl.SSLContext | None = None,
    timeout: float = 10.0,
    follow: bool = True,
) -> Response:
    """One request; HTTP errors are answers, not exceptions."""
    handlers: list[Any] = [urllib.request.HTTPSHandler(context=context)] if context else []
    if not follow:
        handlers.append(_NoRedirect())
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url, headers=dict(headers or {}), method=method)
    try:
        with opener.open(request, timeout=timeout) as response:
            return Response(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Response(error.code, error.headers, error.read())


def claims_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def verify(local: LocalIssuer, token: str, **kwargs: Any) -> dict[str, Any]:
    """Verify a token against the served JWKS with PyJWT's own client."""
    client = jwt.PyJWKClient(local.jwks_uri, cache_jwk_set=False)
    key = client.get_signing_key_from_jwt(token)
    kwargs.setdefault("algorithms", ["RS256"])
    claims: dict[str, Any] = jwt.decode(token, key, **kwargs)
    return claims


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[LocalIssuer]:
    with LocalIssuer() as issuer:
        yield issuer


@pytest.fixture
def issuer(server: LocalIssuer) -> LocalIssuer:
    server.reset()
    return server


# -- discovery, presets and key IDs ---------------------------------------------------------


def test_discovery_document(issuer: LocalIssuer) -> None:
    response = get(issuer.discovery_url)
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {
        "issuer": issuer.issuer,
        "jwks_uri": issuer.jwks_uri,
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }
    assert issuer.issuer == f"http://127.0.0.1:{issuer.port}"
    assert issuer.discovery_url == issuer.issuer + "/.well-known/openid-configuration"
    assert issuer.url("/x") == f"http://127.0.0.1:{issuer.port}/x"
    assert issuer.discovery_count == 1
    assert issuer.fetch_count == 0


def test_discovery_overrides(issuer: LocalIssuer) -> None:
    issuer.set_discovery(issuer="https://elsewhere.example", subject_types_supported=None)
    document = get(issuer.discovery_url).json()
    assert document["issuer"] == "https://elsewhere.example"
    assert "subject_types_supported" not in document
    issuer.reset()
    assert get(issuer.discovery_url).json()["issuer"] == issuer.issuer


@pytest.mark.parametrize(
    ("preset", "issuer_path", "jwks_suffix", "content_type", "cache_control"),
    [
        ("generic", r"", "/jwks.json", "application/json", "max-age=300"),
        ("eks", r"/id/[0-9A-F]{32}", "/keys", "application/json", "max-age=300"),
        (
            "kubernetes",
            r"",
            "/openid/v1/jwks",
            "application/jwk-set+json",
            "public, max-age=3600",
        ),
        (
            "appsso",
            r"",
            "/oauth2/jwks",
            "application/json",
            "no-cache, no-store, max-age=0, must-revalidate",
        ),
    ],
)
def test_preset_shapes(
    preset: str, issuer_path: str, jwks_suffix: str, content_type: str, cache_control: str
) -> None:
    with LocalIssuer(preset) as issuer:
        assert re.fullmatch(rf"http://127\.0\.0\.1:{issuer.port}{issuer_path}", issuer.issuer)
        assert issuer.jwks_uri == issuer.issuer + jwks_suffix
        discovery = get(issuer.issuer + "/.well-known/openid-configuration").json()
        assert discovery["issuer"] == issuer.issuer
        assert discovery["jwks_uri"] == issuer.jwks_uri

        response = get(discovery["jwks_uri"])
        assert response.status == 200
        assert response.headers["Content-Type"] == content_type
        assert response.headers["Cache-Control"] == cache_control
        (key,) = response.json()["keys"]
        assert key == issuer.jwks()["keys"][0]
        assert {k: key[k] for k in ("kty", "use", "alg", "e")} == {
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "e": "AQAB",
        }
        assert len(base64.urlsafe_b64decode(key["n"] + "==")) == 256

        token = issuer.mint(audience="api")
        assert verify(issuer, token, audience="api", issuer=issuer.issuer)["iss"] == issuer.issuer


def test_eks_ids_differ_and_validators() -> None:
    with LocalIssuer("eks") as first, LocalIssuer("eks") as second:
        assert first.issuer.rsplit("/", 1)[1] != second.issuer.rsplit("/", 1)[1]
        response = get(first.jwks_uri)
        assert response.headers["ETag"]
        assert response.headers["Last-Modified"].endswith(" GMT")


def test_appsso_sends_spring_security_cache_headers() -> None:
    with LocalIssuer("appsso") as issuer:
        response = get(issuer.jwks_uri)
        assert response.headers["Pragma"] == "no-cache"
        assert response.headers["Expires"] == "0"
        assert "ETag" not in response.headers


def test_kubernetes_preset_matches_the_api_server() -> None:
    expected = _vector("kubernetes/openid_metadata_expected.json")
    with LocalIssuer("kubernetes") as issuer:
        served = get(issuer.discovery_url)
        document = served.json()
        want = json.loads(expected["discovery_document_exact"])
        assert list(document) == list(want)
        assert document["jwks_uri"] == issuer.issuer + expected["jwks_path"]
        assert document["response_types_supported"] == want["response_types_supported"]
        assert document["subject_types_supported"] == want["subject_types_supported"]
        for name, value in expected["http_headers"]["discovery"].items():
            assert served.headers[name] == value
        for name, value in expected["http_headers"]["jwks"].items():
            assert get(issuer.jwks_uri).headers[name] == value
        for path, status in expected["url_boundaries"].items():
            assert get(issuer.url(path)).status == status, path
        # The API server's key IDs: base64url(SHA-256(DER SubjectPublicKeyInfo)).
        public = issuer.private_key().public_key()
        assert issuer.current_kid == kubernetes_kid(public)


def test_kubernetes_kid_derivation_matches_vector() -> None:
    keys = _vector("kubernetes/serviceaccount_test_keys.json")
    for name in ("rsa", "ecdsa_p256"):
        public = serialization.load_pem_public_key(keys[name]["public_pem"].encode())
        assert kubernetes_kid(public) == keys[name]["kid"]


def test_rfc7638_thumbprint_matches_vector() -> None:
    vector = _vector("rfc/rfc7517_a1_public_jwks.json")
    rsa_key = next(k for k in vector["jwks"]["keys"] if k["kty"] == "RSA")
    assert rfc7638_thumbprint(rsa_key) == vector["expect"]["rsa_rfc7638_sha256_thumbprint"]


def test_default_kid_is_the_rfc7638_thumbprint(issuer: LocalIssuer) -> None:
    (key,) = get(issuer.jwks_uri).json()["keys"]
    assert key["kid"] == rfc7638_thumbprint(key) == issuer.current_kid
    assert issuer.kids == [key["kid"]]


def test_constructor_options() -> None:
    with LocalIssuer(
        issuer_path="/tenant/a",
        jwks_path="/certs",
        kid="first",
        cache_control=None,
        content_type="application/jwk-set+json",
        etag=None,
        expires="Thu, 01 Jan 2099 00:00:00 GMT",
    ) as issuer:
        assert issuer.issuer.endswith("/tenant/a")
        assert issuer.jwks_uri == issuer.url("/certs")
        assert get(issuer.issuer + "/.well-known/openid-configuration").status == 200
        response = get(issuer.jwks_uri)
        assert "Cache-Control" not in response.headers
        assert "ETag" not in response.headers
        assert response.headers["Content-Type"] == "application/jwk-set+json"
        assert response.headers["Expires"] == "Thu, 01 Jan 2099 00:00:00 GMT"
        assert issuer.kids == ["first"]
        assert claims_of(issuer.mint())
        assert jwt.get_unverified_header(issuer.mint())["kid"] == "first"


def test_unknown_preset_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown preset 'okta'"):
        LocalIssuer("okta")
    assert set(PRESETS) == {"generic", "eks", "kubernetes", "appsso"}


# -- headers and conditional requests -------------------------------------------------------


def test_etag_answers_if_none_match_with_304(issuer: LocalIssuer) -> None:
    first = get(issuer.jwks_uri)
    etag = first.headers["ETag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    again = get(issuer.jwks_uri, headers={"If-None-Match": etag})
    assert again.status == 304
    assert again.body == b""
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == "max-age=300"
    assert get(issuer.jwks_uri, headers={"If-None-Match": f'"other", W/{etag}'}).status == 304
    assert get(issuer.jwks_uri, headers={"If-None-Match": "*"}).status == 304
    assert get(issuer.jwks_uri, headers={"If-None-Match": '"other"'}).status == 200

    issuer.rotate()
    changed = get(issuer.jwks_uri, headers={"If-None-Match": etag})
    assert changed.status == 200
    assert changed.headers["ETag"] != etag
    assert [r.status for r in issuer.requests] == [200, 304, 304, 304, 200, 200]


def test_fixed_etag(issuer: LocalIssuer) -> None:
    issuer.set_headers(etag="v1")
    assert get(issuer.jwks_uri).headers["ETag"] == '"v1"'
    assert get(issuer.jwks_uri, headers={"If-None-Match": '"v1"'}).status == 304
    issuer.set_headers(etag=None)
    assert get(issuer.jwks_uri, headers={"If-None-Match": '"v1"'}).status == 200


def test_last_modified_answers_if_modified_since_with_304(issuer: LocalIssuer) -> None:
    issuer.set_headers(etag=None, last_modified=True)
    first = get(issuer.jwks_uri)
    stamp = first.headers["Last-Modified"]
    assert get(issuer.jwks_uri, headers={"If-Modified-Since": stamp}).status == 304
    older = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert get(issuer.jwks_uri, headers={"If-Modified-Since": older}).status == 200
    assert get(issuer.jwks_uri, headers={"If-Modified-Since": "not a date"}).status == 200

    issuer.rotate()  # the key set changes: Last-Modified moves forward, even within a second
    changed = get(issuer.jwks_uri, headers={"If-Modified-Since": stamp})
    assert changed.status == 200
    assert changed.headers["Last-Modified"] != stamp

    issuer.set_headers(last_modified="Mon, 01 Jan 2001 00:00:00 GMT")
    assert get(issuer.jwks_uri, headers={"If-Modified-Since": older}).status == 304


def test_if_none_match_wins_over_if_modified_since(issuer: LocalIssuer) -> None:
    issuer.set_headers(last_modified=True)
    first = get(issuer.jwks_uri)
    conditional = {"If-None-Match": '"stale"', "If-Modified-Since": first.headers["Last-Modified"]}
    assert get(issuer.jwks_uri, headers=conditional).status == 200


def test_set_headers(issuer: LocalIssuer) -> None:
    issuer.set_headers(
        cache_control="public, max-age=60",
        expires=120,
        age=7,
        content_type="text/plain",
        extra={"X-Test": "yes"},
    )
    response = get(issuer.jwks_uri)
    assert response.headers["Cache-Control"] == "public, max-age=60"
    assert response.headers["Age"] == "7"
    assert response.headers["Content-Type"] == "text/plain"
    assert response.headers["X-Test"] == "yes"
    expires = datetime.datetime.strptime(response.headers["Expires"], "%a, %d %b %Y %H:%M:%S GMT")
    date = datetime.datetime.strptime(response.headers["Date"], "%a, %d %b %Y %H:%M:%S GMT")
    assert 110 <= (expires - date).total_seconds() <= 130

    moment = datetime.datetime(2030, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc)
    issuer.set_headers(cache_control=None, expires=moment, age=None, extra={"X-Test": None})
    response = get(issuer.jwks_uri)
    assert response.headers["Expires"] == "Mon, 06 May 2030 07:08:09 GMT"
    for name in ("Cache-Control", "Age", "X-Test"):
        assert name not in response.headers

    issuer.reset()
    response = get(issuer.jwks_uri)
    assert response.headers["Cache-Control"] == "max-age=300"
    assert "Expires" not in response.headers


def test_head_404_and_405(issuer: LocalIssuer) -> None:
    head = get(issuer.jwks_uri, method="HEAD")
    assert head.status == 200
    assert head.body == b""
    assert int(head.headers["Content-Length"]) == len(get(issuer.jwks_uri).body)
    assert get(issuer.url("/nope")).status == 404
    assert get(issuer.jwks_uri + "/").status == 404
    posted = get(issuer.jwks_uri, method="POST")
    assert posted.status == 405
    assert posted.headers["Allow"] == "GET, HEAD"


def test_keep_alive_connection(issuer: LocalIssuer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", issuer.port, timeout=10)
    try:
        for _ in range(3):
            connection.request("GET", issuer.jwks_path)
            response = connection.getresponse()
            assert response.status == 200
            assert json.loads(response.read())["keys"]
    finally:
        connection.close()
    assert issuer.fetch_count == 3


# -- TLS and bearer auth --------------------------------------------------------------------


def test_tls_with_its_ca() -> None:
    with LocalIssuer(tls=True) as issuer:
        assert issuer.ca_file is not None
        ca_file = Path(issuer.ca_file)
        assert issuer.issuer.startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=issuer.ca_file)
        assert get(issuer.jwks_uri, context=context).status == 200
        by_name = f"https://localhost:{issuer.port}{issuer.jwks_path}"
        assert get(by_name, context=context).status == 200

        with pytest.raises(urllib.error.URLError) as refused:
            get(issuer.jwks_uri, context=ssl.create_default_context())
        assert isinstance(refused.value.reason, ssl.SSLCertVerificationError)

        client = jwt.PyJWKClient(issuer.jwks_uri, ssl_context=issuer.client_ssl_context())
        token = issuer.mint()
        assert client.get_signing_key_from_jwt(token).key_id == issuer.current_kid
        # the refused handshake did not stop the server
        assert get(issuer.discovery_url, context=context).json()["jwks_uri"] == issuer.jwks_uri
        assert ca_file.exists()
    assert not ca_file.exists()


def test_plain_http_has_no_ca(issuer: LocalIssuer) -> None:
    assert issuer.ca_file is None
    assert issuer.client_ssl_context() is None


def test_bearer_auth() -> None:
    with LocalIssuer("kubernetes", bearer_token="sa-token") as issuer:
        denied = get(issuer.jwks_uri)
        assert denied.status == 401
        assert denied.headers["WWW-Authenticate"].startswith("Bearer")
        assert denied.json()["reason"] == "Unauthorized"
        assert get(issuer.jwks_uri, headers={"Authorization": "Bearer wrong"}).status == 401
        assert get(issuer.jwks_uri, headers={"Authorization": "Basic sa-token"}).status == 401
        allowed = get(issuer.jwks_uri, headers={"Authorization": "Bearer sa-token"})
        assert allowed.status == 200
        assert get(issuer.discovery_url).status == 401

        client = jwt.PyJWKClient(issuer.jwks_uri, headers={"Authorization": "Bearer sa-token"})
        assert client.get_signing_key(issuer.current_kid).key_id == issuer.current_kid

        issuer.set_bearer_token(None)
        assert get(issuer.jwks_uri).status == 200
        issuer.reset()
        assert get(issuer.jwks_uri).status == 401
        assert [r.status for r in issuer.requests] == [401]


# -- faults ---------------------------------------------------------------------------------


def test_fail_next(issuer: LocalIssuer) -> None:
    issuer.fail_next(2)
    first = get(issuer.jwks_uri)
    assert first.status == 503
    assert first.body == b"Service Unavailable"
    assert get(issuer.discovery_url).status == 200  # faults aim at the JWKS by default
    assert get(issuer.jwks_uri).status == 503
    assert get(issuer.jwks_uri).status == 200
    assert issuer.fault_counts["fail"] == 2

    issuer.fail_next(1, 429, body='{"error":"slow down"}', headers={"Retry-After": "1"})
    limited = get(issuer.jwks_uri)
    assert (limited.status, limited.headers["Retry-After"]) == (429, "1")
    assert limited.json() == {"error": "slow down"}

    issuer.fail_next(1, 500)
    with pytest.raises(jwt.PyJWKClientConnectionError, match="500"):
        jwt.PyJWKClient(issuer.jwks_uri).get_signing_keys()
    assert issuer.fault_counts["fail"] == 4
    assert issuer.fetch_count == 5


def test_fault_on_another_path_or_any_path(issuer: LocalIssuer) -> None:
    issuer.fail_next(1, 500, path=issuer.discovery_path)
    assert get(issuer.jwks_uri).status == 200
    assert get(issuer.discovery_url).status == 500
    issuer.fail_next(2, 502, path="*")
    assert get(issuer.discovery_url).status == 502
    assert get(issuer.url("/anything")).status == 502
    assert get(issuer.url("/anything")).status == 404


def test_faults_queue_in_order(issuer: LocalIssuer) -> None:
    issuer.fail_next(1, 500)
    issuer.serve_body("[]", times=1)
    issuer.fail_next(1, 502)
    seen = [(r.status, r.body) for r in (get(issuer.jwks_uri) for _ in range(4))]
    assert [status for status, _ in seen] == [500, 200, 502, 200]
    assert seen[1][1] == b"[]"
    assert seen[3][1] == json.dumps(issuer.jwks(), separators=(",", ":")).encode()


def test_latency(issuer: LocalIssuer) -> None:
    issuer.set_latency(1.0)
    with pytest.raises(TIMED_OUT):
        get(issuer.jwks_uri, timeout=0.2)
    issuer.set_latency(0.05)
    assert get(issuer.discovery_url).status == 200  # every path
    issuer.set_latency(0)
    assert get(issuer.jwks_uri).status == 200
    assert issuer.fault_counts["latency"] == 2


def test_hang_past_the_client_timeout(issuer: LocalIssuer) -> None:
    issuer.hang_next(1, seconds=1.5)
    with pytest.raises(TIMED_OUT):
        get(issuer.jwks_uri, timeout=0.3)
    assert get(issuer.jwks_uri).status == 200  # only the next one hangs
    assert issuer.fault_counts["hang"] == 1
    assert [r.status for r in issuer.requests] == [200, 200]

    issuer.hang_next(1, seconds=1.5)
    # (PyJWT wraps the timeout from Python 3.10 on, where socket.timeout is TimeoutError)
    with pytest.raises((jwt.PyJWKClientConnectionError, socket.timeout)):
        jwt.PyJWKClient(issuer.jwks_uri, timeout=0.3).get_signing_keys()


def test_short_hang_then_answer(issuer: LocalIssuer) -> None:
    issuer.hang_next(1, seconds=0.2)
    assert get(issuer.jwks_uri, timeout=10).status == 200


def test_close_does_not_wait_for_a_hanging_handler() -> None:
    issuer = LocalIssuer()
    port = issuer.port
    issuer.hang_next(1, seconds=60)
    with pytest.raises(TIMED_OUT):
        get(issuer.jwks_uri, timeout=0.3)
    # an idle keep-alive connection stays open as well
    idle = socket.create_connection(("127.0.0.1", port))
    try:
        closer = threading.Thread(target=issuer.close)
        closer.start()
        closer.join(30)  # generous: the point is that it does not wait the 60 s out
        assert not closer.is_alive()
        with contextlib.suppress(ConnectionResetError):  # closed, or reset: either way, gone
            assert idle.recv(1) == b""
    finally:
        idle.close()
    with socket.socket() as probe:  # the port is free again
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
    issuer.close()  # a second close does nothing


def test_drop_next(issuer: LocalIssuer) -> None:
    issuer.drop_next(1)
    with pytest.raises(http.client.RemoteDisconnected):
        get(issuer.jwks_uri)
    assert get(issuer.jwks_uri).status == 200
    issuer.drop_next(1)
    with pytest.raises(jwt.PyJWKClientConnectionError, match="closed connection"):
        jwt.PyJWKClient(issuer.jwks_uri).get_signing_keys()
    assert issuer.fault_counts["drop"] == 2
    assert [r.status for r in issuer.requests] == [0, 200, 0]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ('{"keys": [{"kty": "RSA", "n": "', json.JSONDecodeError),  # truncated JSON
        ("<html><body>502 Bad Gateway</body></html>", json.JSONDecodeError),  # not JSON
        ('[{"kty": "RSA"}]', jwt.PyJWKClientError),  # not an object
        ('{"keys": []}', jwt.PyJWKSetError),  # empty key set
        ('{"keys": "none"}', jwt.PyJWKSetError),  # keys not a list
    ],
    ids=["truncated", "not-json", "not-object", "empty-keys", "keys-not-a-list"],
)
def test_serve_body(issuer: LocalIssuer, body: str, error: type[Exception]) -> None:
    issuer.serve_body(body)
    for _ in range(2):  # until reset
        response = get(issuer.jwks_uri)
        assert (response.status, response.body) == (200, body.encode())
        assert response.headers["Content-Type"] == "application/json"
    with pytest.raises(error):
        jwt.PyJWKClient(issuer.jwks_uri).get_signing_keys()
    assert issuer.fault_counts["body"] == 3
    issuer.reset_faults()
    assert get(issuer.jwks_uri).json() == issuer.jwks()
    assert issuer.fault_counts == dict.fromkeys(FAULT_KINDS, 0)


def test_serve_huge_body(issuer: LocalIssuer) -> None:
    huge = b'{"keys": [' + b",".join([b'{"kty": "oct", "k": "AAAA"}'] * 200_000) + b"]}"
    assert len(huge) > 5_000_000
    issuer.serve_body(huge, times=1)
    assert get(issuer.jwks_uri).body == huge
    assert get(issuer.jwks_uri).json() == issuer.jwks()


def test_serve_body_status_and_content_type(issuer: LocalIssuer) -> None:
    issuer.serve_body(b"\x00\xff", status=500, content_type=None, times=2)
    issuer.serve_body("later")  # standing bodies apply once counted faults are used up
    responses = [get(issuer.jwks_uri) for _ in range(3)]
    assert [(r.status, r.body) for r in responses] == [
        (500, b"\x00\xff"),
        (500, b"\x00\xff"),
        (200, b"later"),
    ]
    assert "Content-Type" not in responses[0].headers


def test_redirect_next(issuer: LocalIssuer) -> None:
    issuer.redirect_next(issuer.jwks_path + "?moved=1")
    raw = get(issuer.jwks_uri, follow=False)
    assert (raw.status, raw.headers["Location"]) == (302, issuer.jwks_path + "?moved=1")

    issuer.redirect_next(issuer.jwks_uri, status=301)
    followed = get(issuer.jwks_uri)
    assert followed.status == 200
    assert followed.json() == issuer.jwks()
    assert [(r.status, r.query) for r in issuer.requests] == [(302, ""), (301, ""), (200, "")]

    issuer.redirect_next("https://elsewhere.invalid/keys", status=307)
    with pytest.raises(jwt.PyJWKClientConnectionError, match="307"):  # PyJWT never follows
        jwt.PyJWKClient(issuer.jwks_uri).get_signing_keys()
    assert issuer.fault_counts["redirect"] == 3


# -- keys -----------------------------------------------------------------------------------


def test_rotate_and_retire(issuer: LocalIssuer) -> None:
    client = jwt.PyJWKClient(issuer.jwks_uri, cooldown_duration=0)
    old_kid = issuer.current_kid
    old_token = issuer.mint(audience="api")
    assert client.get_signing_key_from_jwt(old_token).key_id == old_kid

    new_kid = issuer.rotate()
    assert new_kid != old_kid
    assert issuer.current_kid == new_kid
    assert issuer.kids == [old_kid, new_kid]
    new_token = issuer.mint(audience="api")
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    # an unknown kid makes PyJWKClient refetch: it sees the new key
    assert client.get_signing_key_from_jwt(new_token).key_id == new_kid
    assert verify(issuer, old_token, audience="api")  # previous key: verify-only
    assert verify(issuer, new_token, audience="api")

    issuer.retire(old_kid)
    assert issuer.kids == [new_kid]
    with pytest.raises(jwt.PyJWKClientError, match="Unable to find a signing key"):
        verify(issuer, old_token, audience="api")
    # a retired key can still sign: tokens a client must now refuse
    assert jwt.get_unverified_header(issuer.mint(kid=old_kid))["kid"] == old_kid

    issuer.publish(old_kid)
    assert issuer.kids == [old_kid, new_kid]
    with pytest.raises(KeyError, match="no key with kid 'missing'"):
        issuer.retire("missing")


def test_rotate_retiring_the_previous_key(issuer: LocalIssuer) -> None:
    old_kid = issuer.current_kid
    new_kid = issuer.rotate(retire_previous=True)
    assert issuer.kids == [new_kid]
    assert old_kid not in {k["kid"] for k in get(issuer.jwks_uri).json()["keys"]}


def test_add_key_types_clients_skip(issuer: LocalIssuer) -> None:
    enc = issuer.add_key(use="enc", alg="RSA-OAEP")
    ec_kid = issuer.add_key("EC")
    p384 = issuer.add_key("EC", crv="P-384", kid="p384")
    okp = issuer.add_key("OKP")
    oct_kid = issuer.add_key("oct", use=None, extra={"alg": None})
    x5c = issuer.add_key(extra={"x5c": ["MIIB"], "key_ops": ["verify"]})
    served = {k["kid"]: k for k in get(issuer.jwks_uri).json()["keys"]}
    assert list(served) == [issuer.current_kid, enc, ec_kid, "p384", okp, oct_kid, x5c]
    assert served[enc]["use"] == "enc"
    assert (served[ec_kid]["crv"], served[ec_kid]["alg"]) == ("P-256", "ES256")
    assert (served[p384]["crv"], served[p384]["alg"]) == ("P-384", "ES384")
    assert (served[okp]["kty"], served[okp]["crv"], served[okp]["alg"]) == (
        "OKP",
        "Ed25519",
        "EdDSA",
    )
    assert served[oct_kid]["kty"] == "oct"
    assert "use" not in served[oct_kid]
    assert "alg" not in served[oct_kid]
    assert served[x5c]["x5c"] == ["MIIB"]
    assert served[ec_kid]["kid"] == rfc7638_thumbprint(served[ec_kid])

    signing = {k.key_id for k in jwt.PyJWKClient(issuer.jwks_uri).get_signing_keys()}
    assert enc not in signing
    assert issuer.current_kid in signing

    # EC keys sign too, with their own algorithm
    token = issuer.mint(kid=ec_kid)
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    assert verify(issuer, token, algorithms=["ES256"])
    assert issuer.current_kid != ec_kid  # publish_only: not the signing key

    with pytest.raises(ValueError, match="unsupported kty 'DSA'"):
        issuer.add_key("DSA")
    with pytest.raises(ValueError, match="already exists"):
        issuer.add_key("EC", kid="p384")


def test_add_key_as_signing_key(issuer: LocalIssuer) -> None:
    kid = issuer.add_key("EC", publish_only=False)
    assert issuer.current_kid == kid
    assert jwt.get_unverified_header(issuer.mint())["alg"] == "ES256"
    assert issuer.discovery()["id_token_signing_alg_values_supported"] == ["ES256", "RS256"]


# -- tokens ---------------------------------------------------------------------------------


def test_mint_defaults(issuer: LocalIssuer) -> None:
    before = int(time.time())
    token = issuer.mint()
    after = int(time.time())
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "RS256", "kid": issuer.current_kid, "typ": "JWT"}
    claims = verify(issuer, token, issuer=issuer.issuer)
    assert set(claims) == {"iss", "iat", "nbf", "exp", "jti"}
    assert before <= claims["iat"] <= after
    assert claims["nbf"] == claims["iat"]
    assert claims["exp"] == claims["iat"] + 300
    assert claims["jti"] != claims_of(issuer.mint())["jti"]


def test_mint_options(issuer: LocalIssuer) -> None:
    now = int(time.time())
    token = issuer.mint(
        {"scope": "read write", "iss": "overridden-by-claims"},
        audience=["api", "other"],
        subject="user-1",
        expires_in=datetime.timedelta(minutes=2),
        issued_at=now - 10,
        not_before=now - 5,
    )
    claims = verify(issuer, token, audience="api", issuer="overridden-by-claims")
    assert claims["aud"] == ["api", "other"]
    assert (claims["sub"], claims["scope"]) == ("user-1", "read write")
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (now - 10, now - 5, now + 110)

    moment = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
    claims = claims_of(issuer.mint(issued_at=moment, issuer="https://other", expires_in=None))
    assert (claims["iat"], claims["iss"]) == (now, "https://other")
    assert "exp" not in claims
    assert "jti" not in claims_of(issuer.mint({"jti": None}))


def test_minted_tokens_fail_as_they_should(issuer: LocalIssuer) -> None:
    with pytest.raises(jwt.ExpiredSignatureError):
        verify(issuer, issuer.mint(expires_in=-60))
    with pytest.raises(jwt.ImmatureSignatureError):
        verify(issuer, issuer.mint(not_before=time.time() + 3600))
    with pytest.raises(jwt.InvalidAudienceError):
        verify(issuer, issuer.mint(audience="other"), audience="api")
    with pytest.raises(jwt.InvalidIssuerError):
        verify(issuer, issuer.mint(issuer="https://evil"), issuer=issuer.issuer)
    with pytest.raises(jwt.MissingRequiredClaimError):
        verify(issuer, issuer.mint({"exp": None}), options={"require": ["exp"]})


def test_mint_headers(issuer: LocalIssuer) -> None:
    no_kid = issuer.mint(headers={"kid": None})
    assert "kid" not in jwt.get_unverified_header(no_kid)
    extra = jwt.get_unverified_header(issuer.mint(headers={"typ": "at+jwt", "x-test": 1}))
    assert (extra["typ"], extra["x-test"]) == ("at+jwt", 1)
    unsigned = issuer.mint(headers={"alg": "none"})
    assert unsigned.endswith(".")
    assert jwt.get_unverified_header(unsigned)["alg"] == "none"
    with pytest.raises(KeyError):
        issuer.mint(kid="unknown")


def test_mint_service_account(issuer: LocalIssuer) -> None:
    token = issuer.mint_service_account(
        "myns", "mysvcacct", pod="mypod", node="node-1", audience="sts.amazonaws.com"
    )
    assert "typ" not in jwt.get_unverified_header(token)  # as the API server signs them
    claims = verify(issuer, token, audience="sts.amazonaws.com", issuer=issuer.issuer)
    assert claims["sub"] == "system:serviceaccount:myns:mysvcacct"
    assert claims["aud"] == "sts.amazonaws.com"  # one audience: a string, as go-jose writes it
    assert claims["exp"] - claims["iat"] == 3600
    private = claims["kubernetes.io"]
    assert private["namespace"] == "myns"
    assert private["serviceaccount"]["name"] == "mysvcacct"
    assert private["pod"]["name"] == "mypod"
    assert private["node"]["name"] == "node-1"
    # the same shape as Kubernetes' own claims (its private claim and members)
    expected = _vector("kubernetes/claims_expected.json")["cases"][0]
    want = expected["private_claims"]["kubernetes.io"]
    assert {k: sorted(v) if isinstance(v, dict) else v for k, v in want.items()} == {
        k: sorted(private[k]) if isinstance(private[k], dict) else private[k] for k in want
    }
    assert set(expected["standard_claims"]) <= set(claims)

    # default audience: the issuer; several audiences stay a list
    default = claims_of(issuer.mint_service_account())
    assert default["aud"] == issuer.issuer
    assert default["sub"] == "system:serviceaccount:default:default"
    many = claims_of(issuer.mint_service_account(audience=["a", "b"]))
    assert many["aud"] == ["a", "b"]
    # a uid is stable for the same object
    again = claims_of(issuer.mint_service_account("myns", "mysvcacct"))
    assert again["kubernetes.io"]["serviceaccount"]["uid"] == private["serviceaccount"]["uid"]


# -- observability and reset ----------------------------------------------------------------


def test_request_log(issuer: LocalIssuer) -> None:
    before = time.time()
    get(issuer.jwks_uri + "?format=yaml", headers={"X-Trace": "abc"})
    get(issuer.discovery_url)
    get(issuer.url("/missing"))
    after = time.time()
    records = issuer.requests
    assert [(r.method, r.path, r.query, r.status) for r in records] == [
        ("GET", issuer.jwks_path, "format=yaml", 200),
        ("GET", issuer.discovery_path, "", 200),
        ("GET", "/missing", "", 404),
    ]
    assert all(isinstance(r, RequestRecord) for r in records)
    assert records[0].headers["x-trace"] == "abc"
    assert records[0].headers["host"] == f"127.0.0.1:{issuer.port}"
    assert before <= records[0].time <= records[-1].time <= after
    records.clear()  # a copy
    assert len(issuer.requests) == 3
    assert (issuer.fetch_count, issuer.discovery_count) == (1, 1)


def test_concurrent_clients(issuer: LocalIssuer) -> None:
    errors: list[BaseException] = []

    def fetch() -> None:
        try:
            assert get(issuer.jwks_uri).status == 200
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=fetch) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert issuer.fetch_count == 16


def test_wait_for_fetches(issuer: LocalIssuer) -> None:
    fetcher = threading.Timer(0.05, lambda: get(issuer.jwks_uri))
    fetcher.start()
    assert issuer.wait_for_fetches(1, timeout=10)
    fetcher.join()
    assert not issuer.wait_for_fetches(2, timeout=0.05)


def test_reset(issuer: LocalIssuer) -> None:
    initial = issuer.jwks()
    first_kid = issuer.current_kid
    issuer.rotate()
    issuer.add_key("EC")
    issuer.retire(first_kid)
    issuer.set_headers(cache_control="no-store", etag=None)
    issuer.fail_next(5)
    issuer.set_latency(0.01)
    issuer.serve_body("x")
    get(issuer.jwks_uri)
    get(issuer.discovery_url)

    issuer.reset()
    assert issuer.jwks() == initial
    assert issuer.current_kid == first_kid
    assert (issuer.requests, issuer.fetch_count, issuer.discovery_count) == ([], 0, 0)
    assert issuer.fault_counts == dict.fromkeys(FAULT_KINDS, 0)
    response = get(issuer.jwks_uri)
    assert response.status == 200
    assert response.json() == initial
    assert response.headers["Cache-Control"] == "max-age=300"
    assert "ETag" in response.headers


def test_repr_and_context_manager() -> None:
    with LocalIssuer("eks") as issuer:
        assert repr(issuer) == f"<LocalIssuer 'eks' {issuer.issuer} serving>"
        assert issuer.preset.name == "eks"
    assert repr(issuer).endswith("closed>")


def test_missing_cryptography_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import jwkscache

    monkeypatch.setattr(jwkscache, "testing", sys.modules["jwkscache.testing"])
    for name in [m for m in sys.modules if m.startswith("jwkscache.testing")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "cryptography", None)
    with pytest.raises(ImportError, match=r'pip install "jwkscache\[testing\]"'):
        from jwkscache.testing import LocalIssuer  # noqa: F401


@pytest.mark.parametrize(
    ("alg", "kty", "crv"), [("ES256", "EC", "P-256"), ("EdDSA", "OKP", "Ed25519")]
)
def test_signing_keys_of_other_algorithms(alg: str, kty: str, crv: str) -> None:
    import jwkscache
    from jwkscache.testing import kubernetes_kid

    with LocalIssuer("kubernetes", alg=alg) as issuer:
        [jwk] = issuer.jwks()["keys"]
        assert (jwk["kty"], jwk["crv"], jwk["alg"]) == (kty, crv, alg)
        assert jwk["kid"] == kubernetes_kid(issuer.private_key().public_key())
        assert issuer.discovery()["id_token_signing_alg_values_supported"] == [alg]
        keys = jwkscache.JWKSCache(issuer.jwks_uri, algorithms=["RS256", alg])
        token = issuer.mint_service_account("ns", "sa", audience="api")
        assert keys.decode(token, audience="api")["sub"] == "system:serviceaccount:ns:sa"
        new = issuer.rotate()
        assert issuer.jwks()["keys"][1]["kty"] == kty
        assert keys.decode(issuer.mint(audience="api"), audience="api")["iss"] == issuer.issuer
        assert keys.kids[-1] == new
    with pytest.raises(ValueError, match="unsupported signing alg"):
        LocalIssuer(alg="HS256")
