"""The shared tier in one process, on a real redis-server: adapters, forged entries, breaker."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import jwt
import pytest
import redis
import redis.asyncio
from cryptography.hazmat.primitives.asymmetric import rsa

import jwkscache
from jwkscache.exceptions import SigningKeyNotFoundError
from jwkscache.shared import RedisStore
from jwkscache.testing import LocalIssuer

SECRET = b"single-process-secret-0123456789"


def store_key(jwks_uri: str, kind: str = "entry", issuer: str = "") -> str:
    """The store key the core computes for a cache over ``jwks_uri`` (docs/architecture.md)."""
    digest = hashlib.sha256(f"jwkscache-identity\0{issuer}\0{jwks_uri}".encode()).hexdigest()
    return f"jwkscache:{{{digest[:32]}}}:{kind}"


def seal(secret: bytes | None, payload: bytes, kind: str = "entry") -> bytes:
    """A value in the store's format: magic, HMAC (or ``-``), payload."""
    tag = (
        "-"
        if secret is None
        else hmac.new(secret, kind.encode() + b"\0" + payload, "sha256").hexdigest()
    )
    return b"jwkscache1." + tag.encode() + b"." + payload


def unseal(value: bytes) -> dict[str, Any]:
    """The JSON payload of a stored value (no MAC check)."""
    rest = value[len(b"jwkscache1.") :]
    payload: dict[str, Any] = json.loads(rest.partition(b".")[2])
    return payload


def forged_entry(jwks_uri: str, document: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A fresh entry for ``document``, as a writer with the fleet's format would build it."""
    body = json.dumps(document).encode()
    now = time.time()
    entry = {
        "v": 1,
        "issuer": "",
        "source_uri": jwks_uri,
        "jwks_uri": jwks_uri,
        "etag": None,
        "last_modified": None,
        "cache_control": "max-age=300",
        "expires": None,
        "age": None,
        "date": None,
        "ttl": 300.0,
        "fetched_at": now,
        "expires_at": now + 300,
        "stale_until": now + 3900,
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "body": base64.urlsafe_b64encode(body).rstrip(b"=").decode(),
    }
    entry.update(changes)
    return entry


class Attacker:
    """A key pair the issuer never published, and its JWK."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid="attacker", alg="RS256", use="sig")
        self.jwk = jwk

    def mint(self, issuer: LocalIssuer) -> str:
        now = int(time.time())
        claims = {"iss": issuer.issuer, "aud": "api", "iat": now, "exp": now + 300}
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "attacker"})


def store(server: Any, secret: bytes | None = SECRET) -> RedisStore:
    return RedisStore(server.client(), secret=secret)


def test_two_caches_share_one_fetch(redis_clean: Any) -> None:
    with LocalIssuer() as issuer:
        token = issuer.mint(audience="api")
        first = jwkscache.JWKSCache(issuer.jwks_uri, shared=store(redis_clean))
        second = jwkscache.JWKSCache(issuer.jwks_uri, shared=store(redis_clean))
        assert first.decode(token, audience="api")["aud"] == "api"
        assert second.decode(token, audience="api")["aud"] == "api"
        assert issuer.fetch_count == 1
        assert first.stats()["shared"]["written"] == 1
        assert second.stats()["shared"]["adopted"] == 1
        assert second.stats()["fetches"] == 0
        stored = unseal(redis_clean.client().get(store_key(issuer.jwks_uri)))
        assert json.loads(base64.urlsafe_b64decode(stored["body"] + "==")) == issuer.jwks()
        assert stored["jwks_uri"] == issuer.jwks_uri
        assert jwkscache.JWKSCache(issuer.jwks_uri).stats()["shared"] is None


def test_key_tag_matches_the_documented_derivation(redis_clean: Any) -> None:
    with LocalIssuer() as issuer:
        cache = jwkscache.JWKSCache(issuer.jwks_uri, shared=store(redis_clean))
        cache.refresh()
        keys = sorted(k.decode() for k in redis_clean.client().keys("jwkscache:*"))
        assert keys == [store_key(issuer.jwks_uri)]


def _forgeries(issuer: LocalIssuer, attacker: Attacker) -> list[tuple[str, bytes]]:
    uri = issuer.jwks_uri
    evil = {"keys": [*issuer.jwks()["keys"], attacker.jwk]}
    good = json.dumps(forged_entry(uri, evil)).encode()
    other = json.dumps(forged_entry("http://127.0.0.1:1/other", evil)).encode()
    future = json.dumps(forged_entry(uri, evil, fetched_at=time.time() + 3600)).encode()
    bad_digest = forged_entry(uri, evil)
    bad_digest["body_sha256"] = "0" * 64
    return [
        ("no_mac", seal(None, good)),
        ("bad_mac", seal(b"not-the-fleet-secret-0123456789", good)),
        ("wrong_source", seal(SECRET, other)),
        ("future", seal(SECRET, future)),
        ("digest", seal(SECRET, json.dumps(bad_digest).encode())),
        ("oversized", b"x" * (4 * 1024 * 1024)),
        ("malformed", b"\x00\xff garbage"),
        ("malformed", seal(SECRET, b"{not json")),
    ]


@pytest.mark.parametrize("case", range(8))
def test_forged_entries_are_rejected_counted_and_never_verify(
    redis_clean: Any, case: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="jwkscache")  # cli demo tests quiet it
    attacker = Attacker()
    with LocalIssuer() as issuer:
        reason, value = _forgeries(issuer, attacker)[case]
        redis_clean.client().set(store_key(issuer.jwks_uri), value)
        cache = jwkscache.JWKSCache(issuer.jwks_uri, shared=store(redis_clean))
        with pytest.raises(SigningKeyNotFoundError):
            cache.decode(attacker.mint(issuer), audience="api")
        assert cache.decode(issuer.mint(audience="api"), audience="api")["aud"] == "api"
        shared = cache.stats()["shared"]
        assert shared["rejected"][reason] == 1
        assert shared["adopted"] == 0
        assert issuer.fetch_count == 1  # fetched for itself
        assert any(reason in r.getMessage() for r in caplog.records if r.name == "jwkscache")
        # The forged entry was replaced by the real one.
        assert "attacker" not in redis_clean.client().get(store_key(issuer.jwks_uri)).decode(
            "latin-1"
        )


def test_an_entry_that_is_not_a_jwk_set_is_rejected(redis_clean: Any) -> None:
    with LocalIssuer() as issuer:
        entry = forged_entry(issuer.jwks_uri, {})
        body = b"[1, 2, 3]"
        entry.update(
            body=base64.urlsafe_b64encode(body).rstrip(b"=").decode(),
            body_sha256=hashlib.sha256(body).hexdigest(),
        )
        redis_clean.client().set(
            store_key(issuer.jwks_uri), seal(SECRET, json.dumps(entry).encode())
        )
        cache = jwkscache.JWKSCache(issuer.jwks_uri, shared=store(redis_clean))
        cache.refresh()
        assert cache.stats()["shared"]["rejected"]["unusable"] == 1
        assert issuer.fetch_count == 1


def test_a_removed_key_replayed_from_an_old_entry_stays_removed(redis_clean: Any) -> None:
    with LocalIssuer(cache_control="max-age=1") as issuer:
        old_kid = issuer.current_kid
        old_token = issuer.mint(audience="api")
        writer = jwkscache.JWKSCache(issuer.jwks_uri, min_ttl=0, shared=store(redis_clean))
        writer.refresh()
        old_entry = redis_clean.client().get(store_key(issuer.jwks_uri))
        issuer.rotate(retire_previous=True)
        time.sleep(1.1)
        reader = jwkscache.JWKSCache(issuer.jwks_uri, min_ttl=0, shared=store(redis_clean))
        assert reader.decode(issuer.mint(audience="api"), audience="api")
        assert old_kid not in reader.kids
        adopted = reader.stats()["shared"]["adopted"]  # the expired entry, then a fetch
        # A valid but older entry put back (a replay): not newer than ours, ignored.
        redis_clean.client().set(store_key(issuer.jwks_uri), old_entry)
        with pytest.raises(SigningKeyNotFoundError):
            reader.decode(old_token, audience="api")
        reader.refresh()
        assert old_kid not in reader.kids
        assert reader.stats()["shared"]["adopted"] == adopted


def test_store_errors_are_misses_then_the_breaker_opens(
    redis_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="jwkscache")  # cli demo tests quiet it
    from _redis import free_port

    dead = RedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0", secret=SECRET)
    with LocalIssuer() as issuer:
        cache = jwkscache.JWKSCache(issuer.jwks_uri, shared=dead)
        assert cache.decode(issuer.mint(audience="api"), audience="api")
        for _ in range(4):
            cache.refresh()
        shared = cache.stats()["shared"]
        assert shared["store_errors"] == 3
        assert shared["breaker_opened"] == 1
        assert shared["breaker_open"] is True
        assert issuer.fetch_count == 5
        assert any("skipped for 30s" in r.getMessage() for r in caplog.records)


def test_without_a_secret_is_explicit_and_logged(
    redis_clean: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="jwkscache")  # cli demo tests quiet it
    with LocalIssuer() as issuer:
        unauthenticated = store(redis_clean, secret=None)
        assert unauthenticated.secret is None
        cache = jwkscache.JWKSCache(issuer.jwks_uri, shared=unauthenticated)
        cache.refresh()
        other = jwkscache.JWKSCache(issuer.jwks_uri, shared=store(redis_clean, secret=None))
        other.refresh()
        assert other.stats()["shared"]["adopted"] == 1
        # A fleet with a secret refuses what the unauthenticated one wrote.
        strict = jwkscache.JWKSCache(issuer.jwks_uri, shared=store(redis_clean))
        strict.refresh()
        assert strict.stats()["shared"]["rejected"]["no_mac"] == 1
        warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        assert any("without a secret" in m for m in warnings)


def test_redis_store_refuses_clients_it_cannot_use(redis_server: Any) -> None:
    port = redis_server.port
    with pytest.raises(TypeError, match=r"redis\.asyncio"):
        RedisStore(redis.asyncio.Redis(port=port), secret=SECRET)
    with pytest.raises(ValueError, match="socket_timeout"):
        RedisStore(redis.Redis(port=port, socket_timeout=None), secret=SECRET)
    with pytest.raises(TypeError, match="decode_responses"):
        RedisStore(
            redis.Redis(
                port=port, socket_timeout=1, socket_connect_timeout=1, decode_responses=True
            ),
            secret=SECRET,
        )
    with pytest.raises(ValueError, match="at least 16 bytes"):
        RedisStore(redis_server.client(), secret="short")
    with pytest.raises(TypeError, match="redis.Redis client"):
        RedisStore(object(), secret=SECRET)
    assert "secret=<set>" in repr(RedisStore.from_url(redis_server.url(), secret=SECRET))


def test_shared_argument_is_checked() -> None:
    class NoSecret:
        def get(self, key: str) -> None: ...
        def set(self, key: str, value: bytes, ttl_ms: int) -> None: ...
        def add(self, key: str, value: bytes, ttl_ms: int) -> bool: ...
        def delete(self, key: str) -> None: ...

    class NoDelete:
        secret = SECRET

        def get(self, key: str) -> None: ...
        def set(self, key: str, value: bytes, ttl_ms: int) -> None: ...
        def add(self, key: str, value: bytes, ttl_ms: int) -> bool: ...

    class Good(NoSecret):
        secret = SECRET

    url = "http://127.0.0.1:1/jwks"
    with pytest.raises(TypeError, match="no delete"):
        jwkscache.JWKSCache(url, shared=NoDelete())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="secret"):
        jwkscache.JWKSCache(url, shared=NoSecret())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shared_wait"):
        jwkscache.JWKSCache(url, shared=Good(), shared_wait=-1)
    assert jwkscache.JWKSCache(url, shared=Good()).stats()["shared"]["adopted"] == 0


def test_store_returning_the_wrong_type_is_a_store_error() -> None:
    class Texts:
        secret = SECRET

        def get(self, key: str) -> str:
            return "text"

        def set(self, key: str, value: bytes, ttl_ms: int) -> None: ...
        def add(self, key: str, value: bytes, ttl_ms: int) -> bool:
            return True

        def delete(self, key: str) -> None: ...

    with LocalIssuer() as issuer:
        cache = jwkscache.JWKSCache(issuer.jwks_uri, shared=Texts())  # type: ignore[arg-type]
        assert cache.decode(issuer.mint(audience="api"), audience="api")
        assert cache.stats()["shared"]["store_errors"] == 1


def test_import_jwkscache_imports_neither_redis_nor_django() -> None:
    code = (
        "import sys, jwkscache, jwkscache.shared; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'redis', 'django'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


DJANGO_SCRIPT = """
import django, sys
from django.conf import settings
settings.configure(
    SECRET_KEY="django-insecure-test-key-for-jwkscache",
    CACHES={
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": sys.argv[1],
            "OPTIONS": {"socket_timeout": 0.25, "socket_connect_timeout": 0.25},
        },
        "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "dummy": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    },
)
django.setup()
from django.core.cache import caches
import jwkscache
from jwkscache.shared import DjangoCacheStore
from jwkscache.testing import LocalIssuer

for alias in ("local", "dummy"):
    try:
        DjangoCacheStore(caches[alias])
    except ValueError as error:
        assert "shared between processes" in str(error), error
    else:
        raise AssertionError(alias + " accepted")
store = DjangoCacheStore()
assert store.secret is not None and len(store.secret) == 32
with LocalIssuer() as issuer:
    token = issuer.mint(audience="api")
    first = jwkscache.JWKSCache(issuer.jwks_uri, shared=store)
    second = jwkscache.JWKSCache(issuer.jwks_uri, shared=DjangoCacheStore(caches["default"]))
    assert first.decode(token, audience="api")["aud"] == "api"
    assert second.decode(token, audience="api")["aud"] == "api"
    # The Django integration's settings name the store class; it is built with the cache.
    from jwkscache._settings import Settings
    third = Settings.from_mapping(
        {"JWKS_URI": issuer.jwks_uri, "CACHE": {"shared": DjangoCacheStore}}
    ).build_keys()
    assert third.decode(token, audience="api")["aud"] == "api"
    assert third.stats()["shared"]["adopted"] == 1
    print(issuer.fetch_count, first.stats()["shared"]["written"],
          second.stats()["shared"]["adopted"])
"""


def test_django_redis_cache_through_django_cache_store(redis_clean: Any) -> None:
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(DJANGO_SCRIPT), redis_clean.url()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "1", "1"]


def test_many_threads_of_one_process_share_one_refresh(redis_clean: Any) -> None:
    with LocalIssuer() as issuer:
        token = issuer.mint(audience="api")
        cache = jwkscache.JWKSCache(issuer.jwks_uri, shared=store(redis_clean))
        barrier = threading.Barrier(8)
        outcomes: list[str] = []

        def decode() -> None:
            barrier.wait()
            outcomes.append(cache.decode(token, audience="api")["aud"])

        threads = [threading.Thread(target=decode) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert outcomes == ["api"] * 8
        assert issuer.fetch_count == 1
        assert cache.stats()["shared"]["written"] == 1
