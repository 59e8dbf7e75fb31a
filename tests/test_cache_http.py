"""JWKSCache over real HTTP against LocalIssuer: freshness, rotation, outages, limits."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

import jwkscache
from conftest import wait_until
from jwkscache.exceptions import SigningKeyNotFoundError
from jwkscache.testing import LocalIssuer

# Fast-moving policy for tests: TTLs of seconds, no floor.
QUICK: dict[str, Any] = {"min_ttl": 0, "max_ttl": 3600, "timeout": 2}


@pytest.fixture
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer() as running:
        yield running


def cache_for(issuer: LocalIssuer, **options: Any) -> jwkscache.JWKSCache:
    return jwkscache.JWKSCache(issuer.jwks_uri, **{**QUICK, **options})


def ttl_of(cache: jwkscache.JWKSCache) -> float:
    stats = cache.stats()
    return float(stats["expires_at"] - stats["last_fetch_at"])


@pytest.mark.parametrize(
    ("headers", "options", "expected"),
    [
        ({"cache_control": "public, max-age=3600"}, {}, 3600),
        ({"cache_control": "max-age=600", "age": 100}, {}, 500),
        ({"cache_control": None, "expires": 900}, {}, 900),
        ({"cache_control": None}, {"lifespan": 120}, 120),
        ({"cache_control": "no-store"}, {"min_ttl": 45}, 45),
        ({"cache_control": "no-cache, no-store, max-age=0, must-revalidate"}, {"min_ttl": 7}, 7),
        ({"cache_control": "max-age=5"}, {"min_ttl": 60}, 60),
        ({"cache_control": "max-age=86400"}, {"max_ttl": 7200}, 7200),
    ],
)
def test_ttl_from_headers_and_clamps(
    issuer: LocalIssuer, headers: dict[str, Any], options: dict[str, Any], expected: float
) -> None:
    issuer.set_headers(**headers)
    cache = cache_for(issuer, **options)
    assert cache.decode(issuer.mint(subject="a"))["sub"] == "a"
    assert ttl_of(cache) == pytest.approx(expected, abs=2)


def test_kubernetes_preset_is_cached_for_its_max_age() -> None:
    with LocalIssuer("kubernetes") as issuer:
        cache = jwkscache.JWKSCache(issuer.jwks_uri)
        for _ in range(20):
            cache.decode(issuer.mint(audience="api"), audience="api")
        assert issuer.fetch_count == 1
        assert ttl_of(cache) == pytest.approx(3600, abs=2)


def test_304_renews_the_ttl_without_reparsing(issuer: LocalIssuer) -> None:
    issuer.set_headers(cache_control="max-age=1", etag=True)
    cache = cache_for(issuer)
    token = issuer.mint()
    cache.decode(token)
    first_expiry = cache.stats()["expires_at"]
    time.sleep(1.1)
    cache.decode(token)  # answered from the expired set, revalidated in the background
    assert wait_until(lambda: cache.stats()["not_modified"] == 1)
    stats = cache.stats()
    assert (stats["fetches"], stats["not_modified"]) == (1, 1)
    assert stats["expires_at"] > first_expiry
    last = issuer.requests[-1]
    assert last.status == 304
    assert "if-none-match" in last.headers


def test_unknown_kid_from_50_threads_gives_exactly_one_fetch(issuer: LocalIssuer) -> None:
    cache = cache_for(issuer)
    cache.decode(issuer.mint())
    issuer.rotate()
    token = issuer.mint(subject="rotated")
    barrier = threading.Barrier(50)
    results: list[Any] = []

    def worker() -> None:
        barrier.wait()
        try:
            results.append(cache.decode(token)["sub"])
        except Exception as error:
            results.append(error)

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["rotated"] * 50
    assert issuer.fetch_count == 2
    assert cache.stats()["unknown_kid_refreshes"] == 1


def test_flood_of_random_kids_costs_at_most_one_fetch_per_cooldown(issuer: LocalIssuer) -> None:
    cache = cache_for(issuer, refresh_cooldown=30)
    cache.decode(issuer.mint())
    for _ in range(300):
        with pytest.raises(SigningKeyNotFoundError):
            cache.decode(issuer.mint(kid=None, headers={"kid": uuid.uuid4().hex}))
    assert issuer.fetch_count == 2
    stats = cache.stats()
    assert stats["unknown_kid_refreshes"] == 1
    assert stats["cooldown_rejections"] == 299


def test_rotation_and_removal_revokes_at_once(issuer: LocalIssuer) -> None:
    cache = cache_for(issuer, refresh_cooldown=0)
    old_kid = issuer.current_kid
    old_token = issuer.mint(subject="old")
    assert cache.decode(old_token)["sub"] == "old"
    new_kid = issuer.rotate()
    # AppSSO model: the previous key is still published, verify-only.
    assert cache.decode(issuer.mint(subject="new"))["sub"] == "new"
    assert cache.decode(old_token)["sub"] == "old"
    assert set(cache.kids) == {old_kid, new_kid}
    issuer.retire(old_kid)
    cache.refresh()
    assert cache.kids == [new_kid]
    with pytest.raises(SigningKeyNotFoundError):
        cache.decode(old_token)


def test_a_new_kid_while_the_issuer_is_down_is_an_outage_not_a_bad_token(
    issuer: LocalIssuer,
) -> None:
    # A rotation during an outage: the new key's tokens are valid, we just cannot
    # fetch the key. PyJWT's client raises its connection error here too; a 401
    # would make clients throw away good tokens.
    cache = cache_for(issuer, refresh_cooldown=3600)
    old = issuer.mint(subject="old")
    assert cache.decode(old)["sub"] == "old"
    issuer.rotate()
    issuer.fail_next(10)
    with pytest.raises(jwt.PyJWKClientConnectionError, match="503"):
        cache.decode(issuer.mint(subject="new"))
    # Within the cooldown, the answer stays "unknown: the issuer failed".
    with pytest.raises(jwt.PyJWKClientConnectionError):
        cache.decode(issuer.mint(subject="newer"))
    stats = cache.stats()
    assert (stats["unknown_kid_refreshes"], stats["failures"]) == (1, 1)
    assert cache.decode(old)["sub"] == "old"  # the keys at hand still verify


def test_stale_if_error_within_max_stale_then_fail_closed(
    issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    issuer.set_headers(cache_control="max-age=1")
    cache = cache_for(issuer, max_stale=2)
    token = issuer.mint(subject="a")
    cache.decode(token)
    issuer.fail_next(1000, status=503)
    time.sleep(1.2)
    with caplog.at_level(logging.WARNING, logger="jwkscache"):
        assert cache.decode(token)["sub"] == "a"  # at once; the refetch runs in the background
        assert wait_until(lambda: cache.stats()["failures"] >= 1)
        assert cache.decode(token)["sub"] == "a"  # the failure is known now: a warning
    stats = cache.stats()
    assert stats["serving_stale"] is True
    assert stats["failures"] >= 1
    assert "503" in stats["last_error"]
    assert any("past its expiry" in r.getMessage() for r in caplog.records)
    assert any("refresh failed" in r.getMessage() for r in caplog.records)
    time.sleep(2.2)
    with pytest.raises(jwt.PyJWKClientConnectionError, match="max_stale"):
        cache.decode(token)


def test_cold_start_failure_and_backoff(issuer: LocalIssuer) -> None:
    issuer.fail_next(1000, status=500)
    cache = cache_for(issuer)
    token = issuer.mint()
    with pytest.raises(jwt.PyJWKClientConnectionError, match="500"):
        cache.decode(token)
    # Within the backoff, callers fail fast without asking the issuer again.
    for _ in range(20):
        with pytest.raises(jwt.PyJWKClientConnectionError):
            cache.decode(token)
    assert issuer.fetch_count == 1


def test_a_hanging_issuer_costs_no_more_than_the_timeout(issuer: LocalIssuer) -> None:
    issuer.hang_next(1, seconds=10)
    cache = cache_for(issuer, timeout=0.5)
    start = time.monotonic()
    with pytest.raises(jwt.PyJWKClientConnectionError, match="timed out|timeout"):
        cache.decode(issuer.mint())
    # A bound, not a speed claim: the 10 s hang must not be waited out.
    assert time.monotonic() - start < 5


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"keys": [', "usable JWK Set"),
        ("<html>gateway</html>", "usable JWK Set"),
        ("[]", "usable JWK Set"),
        ('{"keys": {}}', "must be an array"),
        ("x" * 5000, "1000-byte limit"),
    ],
)
def test_hostile_responses(issuer: LocalIssuer, body: str, message: str) -> None:
    issuer.serve_body(body)
    cache = cache_for(issuer, max_body_bytes=1000)
    with pytest.raises(jwt.PyJWKClientConnectionError, match=message):
        cache.decode(issuer.mint())


def test_redirects_are_not_followed(issuer: LocalIssuer) -> None:
    issuer.redirect_next(issuer.jwks_uri, n=5)
    cache = cache_for(issuer)
    with pytest.raises(jwt.PyJWKClientConnectionError, match="redirects are not followed"):
        cache.decode(issuer.mint())
    assert issuer.fetch_count == 1


def test_dropped_connection(issuer: LocalIssuer) -> None:
    issuer.drop_next(1)
    cache = cache_for(issuer)
    with pytest.raises(jwt.PyJWKClientConnectionError):
        cache.decode(issuer.mint())


def test_failed_refresh_keeps_the_cache(issuer: LocalIssuer) -> None:
    cache = cache_for(issuer)
    token = issuer.mint()
    cache.decode(token)
    issuer.fail_next(1)
    with pytest.raises(jwt.PyJWKClientConnectionError):
        cache.refresh()
    assert cache.decode(token)


def test_tls_with_the_issuers_ca_and_failure_without_it() -> None:
    with LocalIssuer(tls=True) as issuer:
        assert issuer.jwks_uri.startswith("https://")
        trusted = jwkscache.JWKSCache(issuer.jwks_uri, ca_file=issuer.ca_file)
        assert trusted.decode(issuer.mint(subject="tls"))["sub"] == "tls"
        untrusted = jwkscache.JWKSCache(issuer.jwks_uri, timeout=2)
        with pytest.raises(jwt.PyJWKClientConnectionError, match="(?i)certificate|unknown ?issuer"):
            untrusted.decode(issuer.mint())


def test_https_is_required_except_for_loopback() -> None:
    with pytest.raises(ValueError, match="refusing plain http"):
        jwkscache.JWKSCache("http://issuer.example/keys")
    with pytest.raises(ValueError, match="scheme"):
        jwkscache.JWKSCache("ftp://issuer.example/keys")
    jwkscache.JWKSCache("http://issuer.example/keys", allow_insecure_http=True)
    jwkscache.JWKSCache("http://localhost:1/keys")
    with pytest.raises(ValueError, match="CA file"):
        jwkscache.JWKSCache("https://issuer.example/keys", ca_file="/nonexistent.pem")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timeout": 0}, "timeout"),
        ({"lifespan": 0}, "lifespan"),
        ({"min_ttl": 100, "max_ttl": 10}, "min_ttl"),
        ({"max_stale": float("inf")}, "max_stale"),
        ({"refresh_cooldown": -1}, "refresh_cooldown"),
        ({"headers": {"bad header": "x"}}, "header name"),
    ],
)
def test_bad_configuration(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        jwkscache.JWKSCache("https://issuer.example/keys", **options)


def test_bearer_auth_headers_are_sent() -> None:
    with LocalIssuer("kubernetes", bearer_token="sa-token") as issuer:
        denied = jwkscache.JWKSCache(issuer.jwks_uri)
        with pytest.raises(jwt.PyJWKClientConnectionError, match="401"):
            denied.decode(issuer.mint())
        allowed = jwkscache.JWKSCache(issuer.jwks_uri, headers={"Authorization": "Bearer sa-token"})
        assert allowed.decode(issuer.mint(subject="k8s"))["sub"] == "k8s"
        assert issuer.requests[-1].headers["user-agent"].startswith("jwkscache/")


@pytest.mark.parametrize("preset", ["generic", "eks", "kubernetes", "appsso"])
def test_from_issuer_discovers_the_jwks_and_checks_iss(preset: str) -> None:
    with LocalIssuer(preset) as issuer:
        cache = jwkscache.JWKSCache.from_issuer(issuer.issuer)
        assert cache.issuer == issuer.issuer
        assert cache.decode(issuer.mint(subject="d"))["sub"] == "d"
        assert cache.stats()["jwks_uri"] == issuer.jwks_uri
        assert issuer.discovery_count == 1
        with pytest.raises(jwt.InvalidIssuerError):
            cache.decode(issuer.mint(issuer="https://elsewhere.example"))


def test_from_issuer_rejects_a_document_naming_another_issuer(issuer: LocalIssuer) -> None:
    issuer.set_discovery(issuer="https://impostor.example")
    cache = jwkscache.JWKSCache.from_issuer(issuer.issuer)
    with pytest.raises(jwt.PyJWKClientConnectionError, match="impostor"):
        cache.decode(issuer.mint())


def test_from_issuer_with_an_explicit_jwks_uri_skips_discovery(issuer: LocalIssuer) -> None:
    issuer.set_discovery(jwks_uri="https://unreachable.invalid/keys")
    cache = jwkscache.JWKSCache.from_issuer(issuer.issuer, jwks_uri=issuer.jwks_uri)
    assert cache.decode(issuer.mint(subject="x"))["sub"] == "x"
    assert issuer.discovery_count == 0


def test_refresh_ahead_keeps_requests_off_the_network(issuer: LocalIssuer) -> None:
    # Refresh-ahead starts in the last quarter of the TTL (1 s of 4), more
    # than the issuer's 0.5 s latency.
    issuer.set_headers(cache_control="max-age=4")
    cache = cache_for(issuer)
    token = issuer.mint()
    cache.decode(token)
    issuer.set_latency(0.5)
    slowest = 0.0
    deadline = time.monotonic() + 5.5
    while time.monotonic() < deadline:
        start = time.monotonic()
        cache.decode(token)
        slowest = max(slowest, time.monotonic() - start)
        time.sleep(0.02)
    # Refreshes happened in the background, and no request waited a 0.5 s fetch.
    assert issuer.fetch_count >= 2
    assert slowest < 0.4
    cache.close()


def test_close_stops_refresh_ahead_and_the_context_manager_closes(issuer: LocalIssuer) -> None:
    issuer.set_headers(cache_control="max-age=1")
    with cache_for(issuer) as cache:
        token = issuer.mint()
        cache.decode(token)
    fetches = issuer.fetch_count
    time.sleep(0.9)
    cache.decode(token)  # in the refresh-ahead window, but closed: no background fetch
    time.sleep(0.3)
    assert issuer.fetch_count == fetches


def test_decode_async_keeps_the_event_loop_responsive(issuer: LocalIssuer) -> None:
    issuer.hang_next(1, seconds=3)
    cache = cache_for(issuer, timeout=1)
    token = issuer.mint(subject="async")

    async def main() -> tuple[int, BaseException | None, dict[str, Any]]:
        ticks = 0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        error: BaseException | None = None
        try:
            await cache.decode_async(token)
        except jwt.PyJWKClientConnectionError as caught:
            error = caught
        ticks_during_hang = ticks
        issuer.reset_faults()
        time.sleep(1.1)  # past the backoff
        claims = await cache.decode_async(token)
        stop.set()
        await task
        return ticks_during_hang, error, claims

    ticks, error, claims = asyncio.run(main())
    assert isinstance(error, jwt.PyJWKClientConnectionError)
    assert ticks > 20  # the loop ran while the fetch hung in a worker thread
    assert claims["sub"] == "async"


def test_decode_async_on_a_warm_cache_is_inline(issuer: LocalIssuer) -> None:
    cache = cache_for(issuer)
    token = issuer.mint(subject="warm")
    cache.decode(token)

    async def main() -> dict[str, Any]:
        return await cache.decode_async(token, audience=None)

    assert asyncio.run(main())["sub"] == "warm"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_verifies_and_refreshes(issuer: LocalIssuer) -> None:
    cache = cache_for(issuer)
    cache.decode(issuer.mint())
    issuer.rotate()
    new_token = issuer.mint(subject="child")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        code = 1
        try:
            if cache.decode(new_token)["sub"] == "child" and cache.stats()["fetches"] == 2:
                cache.refresh()
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert issuer.fetch_count == 3  # initial, child's unknown kid, child's refresh
    assert cache.stats()["fetches"] == 1  # the parent's cache is untouched


def test_stats_and_repr(issuer: LocalIssuer) -> None:
    cache = cache_for(issuer)
    assert len(cache) == 0
    assert cache.kids == []
    cache.decode(issuer.mint())
    stats = cache.stats()
    assert stats["fetches"] == 1
    assert stats["hits"] == 1
    assert stats["kids"] == [issuer.current_kid]
    assert stats["last_error"] is None
    assert issuer.jwks_uri in repr(cache)
    assert "keys=1" in repr(cache)


def test_proxy_environment_variables_are_honoured(
    issuer: LocalIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import http.server
    import urllib.request

    seen: list[str] = []
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    class Proxy(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)  # a forward proxy gets the absolute URL
            with direct.open(self.path, timeout=5) as upstream:
                body = upstream.read()
                self.send_response(upstream.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        for name in ("HTTP_PROXY", "http_proxy"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{server.server_address[1]}")
        # A setting no other test uses, so this cache builds its own HTTP client now.
        cache = jwkscache.JWKSCache(issuer.jwks_uri, timeout=3.25)
        assert cache.decode(issuer.mint(subject="proxied"))["sub"] == "proxied"
        assert seen == [issuer.jwks_uri]
    finally:
        server.shutdown()
        server.server_close()


def test_gzip_responses_are_accepted_and_bounded_after_decompression(issuer: LocalIssuer) -> None:
    import gzip

    body = json.dumps(issuer.jwks()).encode()
    gzip_headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    issuer.fail_next(1, status=200, body=gzip.compress(body), headers=gzip_headers)
    cache = cache_for(issuer)
    assert cache.decode(issuer.mint(subject="gz"))["sub"] == "gz"
    assert "gzip" in issuer.requests[-1].headers.get("accept-encoding", "")
    # A small compressed body that inflates past the limit is refused.
    bomb = gzip.compress(b'{"keys": [' + b" " * 2_000_000 + b"]}")
    issuer.fail_next(1, status=200, body=bomb, headers=gzip_headers)
    bounded = cache_for(issuer, max_body_bytes=100_000)
    with pytest.raises(jwt.PyJWKClientConnectionError, match="100000-byte limit"):
        bounded.decode(issuer.mint())
