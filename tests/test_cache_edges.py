"""Edge cases of the cache: fork next to a decoding thread, cache hits after a key changes,
an issuer that publishes no usable key, and 304s to unconditional requests."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

import jwkscache
from jwkscache.exceptions import SigningKeyNotFoundError
from jwkscache.testing import LocalIssuer


@pytest.fixture
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer(etag=None, last_modified=None) as running:
        yield running


def assert_prints_ok(script: str) -> None:
    """Runs ``script`` in a fresh interpreter (so a deadlock fails by timeout, not hangs)."""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_fork_while_another_thread_decodes_does_not_deadlock() -> None:
    # In a subprocess, so a deadlock fails this test (timeout) instead of hanging the suite.
    # The static cache releases the GIL around every signature check, so the fork often
    # lands while the other thread is inside the crypto library (whose key lock a child
    # must not inherit held).
    script = textwrap.dedent(
        """
        import os, threading
        import jwkscache
        from jwkscache.testing import LocalIssuer

        with LocalIssuer() as issuer:
            cache = jwkscache.JWKSCache(issuer.jwks_uri)
            static = jwkscache.JWKSCache.from_jwks(
                issuer.jwks(), token_cache_size=0, release_gil=True
            )
            token = issuer.mint()
            cache.decode(token)
            stop = threading.Event()

            def spin():
                while not stop.is_set():
                    cache.decode(token)
                    static.decode(token)

            thread = threading.Thread(target=spin)
            thread.start()
            for _ in range(100):
                pid = os.fork()
                if pid == 0:
                    ok = cache.decode(token) and static.decode(token)
                    os._exit(0 if ok else 1)
                _, status = os.waitpid(pid, 0)
                assert os.waitstatus_to_exitcode(status) == 0
            stop.set()
            thread.join()
        print("ok")
        """
    )
    assert_prints_ok(script)


def test_a_cached_token_stops_verifying_when_its_key_alg_changes(issuer: LocalIssuer) -> None:
    cache = jwkscache.JWKSCache(issuer.jwks_uri, algorithms=["RS256", "PS256"], min_ttl=0)
    token = issuer.mint()
    cache.decode(token)
    cache.decode(token)
    document = issuer.jwks()
    for key in document["keys"]:
        key["alg"] = "PS256"
    issuer.serve_body(json.dumps(document))
    cache.refresh()
    with pytest.raises(jwt.InvalidAlgorithmError):
        cache.decode(token)


def test_a_cached_kidless_token_follows_the_one_key_rule(issuer: LocalIssuer) -> None:
    cache = jwkscache.JWKSCache(issuer.jwks_uri, min_ttl=0)
    token = issuer.mint(headers={"kid": None})
    cache.decode(token)
    cache.decode(token)
    issuer.add_key("RSA")
    cache.refresh()
    assert len(cache.kids) == 2
    with pytest.raises(SigningKeyNotFoundError, match='no "kid" header'):
        cache.decode(token)


@pytest.mark.parametrize(
    "document",
    [{"keys": []}, {"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "kid": "e"}]}],
)
def test_an_issuer_that_publishes_no_usable_key_is_believed(
    issuer: LocalIssuer, document: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    cache = jwkscache.JWKSCache(issuer.jwks_uri, min_ttl=0)
    token = issuer.mint()
    cache.decode(token)
    issuer.serve_body(json.dumps(document))
    cache.refresh()  # a successful fetch: not an outage
    assert cache.kids == []
    assert cache.stats()["failures"] == 0
    with pytest.raises(SigningKeyNotFoundError):
        cache.decode(token)
    assert any("no usable key" in record.getMessage() for record in caplog.records)


def test_a_304_to_an_unconditional_request_is_a_failure(issuer: LocalIssuer) -> None:
    cache = jwkscache.JWKSCache(issuer.jwks_uri, min_ttl=0)
    token = issuer.mint()
    cache.decode(token)
    issuer.serve_body(b"", status=304, times=1)
    with pytest.raises(jwt.PyJWKClientConnectionError, match="304"):
        cache.refresh()
    stats = cache.stats()
    assert (stats["not_modified"], stats["failures"]) == (0, 1)
    assert "if-none-match" not in issuer.requests[-1].headers
    assert cache.decode(token)  # the last good set is kept


@pytest.mark.parametrize(
    "append", ['"keys": []', '"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]']
)
def test_a_jwk_set_with_keys_twice_is_a_failed_fetch(issuer: LocalIssuer, append: str) -> None:
    # A second set appended to the issuer's bytes would be the one read last: no reading
    # of such a document is the issuer's alone, so it is refused whole.
    cache = jwkscache.JWKSCache(issuer.jwks_uri, min_ttl=0)
    token = issuer.mint()
    cache.decode(token)
    body = json.dumps(issuer.jwks())
    issuer.serve_body(body[:-1] + ", " + append + "}")
    with pytest.raises(jwt.PyJWKClientConnectionError, match="given twice"):
        cache.refresh()
    assert cache.stats()["failures"] == 1
    assert cache.decode(token)["iss"] == issuer.issuer  # the last good set stays


def test_a_key_with_a_member_twice_is_a_failed_fetch(issuer: LocalIssuer) -> None:
    cache = jwkscache.JWKSCache(issuer.jwks_uri, min_ttl=0)
    token = issuer.mint()
    cache.decode(token)
    body = json.dumps(issuer.jwks()).replace('"kid": ', '"kid": "other", "kid": ', 1)
    issuer.serve_body(body)
    with pytest.raises(jwt.PyJWKClientConnectionError, match="given twice"):
        cache.refresh()
    assert cache.decode(token)["iss"] == issuer.issuer


def test_a_ca_file_path_that_is_not_a_file_fails_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a file"):
        jwkscache.JWKSCache("https://127.0.0.1:9/keys", ca_file=str(tmp_path))


def test_fork_with_a_later_hook_that_releases_the_gil_does_not_deadlock() -> None:
    # Before-fork hooks run in reverse order of registration: one registered before
    # jwkscache's runs after it, while our hook holds the cache's locks. Here it sleeps
    # (releasing the GIL), so the decoding thread surely runs then and must not wait for
    # those locks while holding the GIL (it did: 1 run in 6 of the test above hung).
    script = textwrap.dedent(
        """
        import os, threading, time
        os.register_at_fork(before=lambda: time.sleep(0.005))
        import jwkscache
        from jwkscache.testing import LocalIssuer

        with LocalIssuer() as issuer:
            cache = jwkscache.JWKSCache(issuer.jwks_uri)
            token = issuer.mint()
            for _ in range(3):
                cache.decode(token)  # a verified-token cache hit from now on
            stop = threading.Event()

            def spin():
                while not stop.is_set():
                    cache.decode(token)
                    cache.stats()

            thread = threading.Thread(target=spin)
            thread.start()
            for _ in range(20):
                pid = os.fork()
                if pid == 0:
                    os._exit(0 if cache.decode(token) else 1)
                _, status = os.waitpid(pid, 0)
                assert os.waitstatus_to_exitcode(status) == 0
            stop.set()
            thread.join()
        print("ok")
        """
    )
    assert_prints_ok(script)
