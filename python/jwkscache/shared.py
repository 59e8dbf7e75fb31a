"""The fleet-wide JWKS cache: one store shared by every process, asked only when a refresh is due.

Pass a store as ``JWKSCache(url, shared=store)``. Any object with the four methods of
:class:`SharedStore` and a ``secret`` attribute works; two adapters ship here:

- :class:`RedisStore` over a sync ``redis.Redis`` (or ``redis.cluster.RedisCluster``);
- :class:`DjangoCacheStore` over a Django cache (``django.core.cache``).

Neither imports its client library until it is built: ``import jwkscache`` never imports redis
or Django. The README's "Sharing one cache across a fleet" says how the tier behaves.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import logging
import math
from typing import Any, Protocol, runtime_checkable

__all__ = ["DjangoCacheStore", "RedisStore", "SharedStore"]

_log = logging.getLogger("jwkscache")

#: Shortest secret accepted, in bytes.
MIN_SECRET_BYTES = 16


@runtime_checkable
class SharedStore(Protocol):
    """What ``JWKSCache(..., shared=store)`` calls, only when a refresh is due.

    Each call must be bounded in time by the store itself (about 250 ms): an exception or a
    timeout counts as a miss, and after repeated errors the store is skipped for a while.
    Values are opaque bytes of at most about ``4/3 * max_body_bytes`` plus 16 KiB.

    Attributes:
        secret: The fleet's HMAC secret (bytes, at least 16), or ``None`` to run without
            authentication (whoever can write to the store can then make the fleet trust a key).
    """

    secret: bytes | None

    def get(self, key: str) -> bytes | None:
        """The value at ``key``, or ``None``."""

    def set(self, key: str, value: bytes, ttl_ms: int) -> None:
        """Stores ``value`` at ``key`` for ``ttl_ms`` milliseconds."""

    def add(self, key: str, value: bytes, ttl_ms: int) -> bool:
        """Stores ``value`` only if ``key`` is absent (atomically); ``True`` when stored."""

    def delete(self, key: str) -> None:
        """Removes ``key``."""


def _secret(secret: bytes | str | None, owner: str) -> bytes | None:
    if secret is None:
        _log.warning(
            "%s without a secret: shared JWKS entries are not authenticated (an explicit choice)",
            owner,
        )
        return None
    raw = secret.encode() if isinstance(secret, str) else bytes(secret)
    if len(raw) < MIN_SECRET_BYTES:
        raise ValueError(f"{owner}: secret must be at least {MIN_SECRET_BYTES} bytes")
    return raw


class RedisStore:
    """A :class:`SharedStore` on Redis through redis-py's sync client.

    ``add`` is ``SET key value NX PX ttl``; every key of one cache shares one hash tag, so
    Redis Cluster keeps them on one slot.

    Args:
        client: A ``redis.Redis`` (or ``redis.cluster.RedisCluster``) made with
            ``socket_timeout`` and ``socket_connect_timeout`` (about 0.25 s), without
            retries (``retry=Retry(NoBackoff(), 0)``: redis-py retries 3 times by default)
            and without ``decode_responses``; :meth:`from_url` makes one. An asyncio
            client is refused: the cache calls the store from worker threads, never from
            an event loop.
        secret: The fleet's secret for the entries' HMAC (``str`` or ``bytes``, at least 16
            bytes); ``None`` runs unauthenticated, an explicit choice that is logged.

    Raises:
        TypeError: ``client`` is not a sync redis-py client, or decodes responses.
        ValueError: the client has no socket timeouts, or the secret is too short.

    Example:
        >>> store = RedisStore(redis.Redis(socket_timeout=0.25, socket_connect_timeout=0.25),
        ...                    secret=os.environ["JWKS_SHARED_SECRET"])  # doctest: +SKIP
        >>> store = RedisStore.from_url("redis://redis:6379/0", secret=...)  # doctest: +SKIP
        >>> keys = jwkscache.JWKSCache(url, shared=store)  # doctest: +SKIP
    """

    def __init__(self, client: Any, *, secret: bytes | str | None) -> None:
        import redis

        self._client: Any = client

        try:
            import redis.asyncio as aioredis

            async_types: tuple[type, ...] = (aioredis.Redis, aioredis.RedisCluster)
        except (ImportError, AttributeError):  # pragma: no cover - old redis-py
            async_types = ()
        if async_types and isinstance(client, async_types):
            raise TypeError(
                "RedisStore needs a sync redis.Redis client, not redis.asyncio: the cache calls "
                "the store from worker threads"
            )
        sync_types: tuple[type, ...] = (redis.Redis,)
        cluster = getattr(redis, "RedisCluster", None)
        if cluster is not None:
            sync_types += (cluster,)
        if not isinstance(client, sync_types):
            raise TypeError(f"RedisStore needs a redis.Redis client, got {type(client).__name__}")
        kwargs: dict[str, Any] = self._client.get_connection_kwargs()
        if kwargs.get("decode_responses"):
            raise TypeError("RedisStore needs a client without decode_responses (values are bytes)")
        for name in ("socket_timeout", "socket_connect_timeout"):
            timeout = kwargs.get(name)
            if timeout is None:
                raise ValueError(
                    f"RedisStore needs a client with {name} set (about 0.25 s): a store that "
                    "hangs must not hang a refresh"
                )
            if timeout > 1:
                _log.warning(
                    "RedisStore: %s=%ss; about 0.25 s keeps a refresh short while Redis hangs",
                    name,
                    timeout,
                )
        retry = getattr(client, "get_retry", lambda: None)()
        retries = getattr(retry, "_retries", 0)
        if retries < 0:
            raise ValueError("RedisStore needs a client that does not retry forever")
        if retries > 0:
            _log.warning(
                "RedisStore: the client retries %d times, so one call may take that many "
                "timeouts; pass retry=redis.retry.Retry(redis.backoff.NoBackoff(), 0)",
                retries,
            )
        self.secret = _secret(secret, "RedisStore")

    @classmethod
    def from_url(cls, url: str, *, secret: bytes | str | None, timeout: float = 0.25) -> RedisStore:
        """A store on a new ``redis.Redis.from_url(url)``: ``timeout`` on every socket, no retry."""
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        client = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
        return cls(client, secret=secret)

    def get(self, key: str) -> bytes | None:
        """``GET key``."""
        value = self._client.get(key)
        return None if value is None else bytes(value)

    def set(self, key: str, value: bytes, ttl_ms: int) -> None:
        """``SET key value PX ttl_ms``."""
        self._client.set(key, value, px=max(1, int(ttl_ms)))

    def add(self, key: str, value: bytes, ttl_ms: int) -> bool:
        """``SET key value NX PX ttl_ms``: true when set."""
        return bool(self._client.set(key, value, nx=True, px=max(1, int(ttl_ms))))

    def delete(self, key: str) -> None:
        """``DEL key``."""
        self._client.delete(key)

    def __repr__(self) -> str:
        return f"RedisStore({self._client!r}, secret={'<set>' if self.secret else None})"


#: Django cache backends that no other process can see.
_PROCESS_LOCAL = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


class DjangoCacheStore:
    """A :class:`SharedStore` on Django's cache framework (``cache.add`` takes the lease).

    Args:
        cache: A Django cache (``django.core.cache.caches["jwks"]``); default: the
            ``default`` cache. Its timeouts bound each call: configure them (for
            ``RedisCache``: ``OPTIONS={"socket_timeout": 0.25, "socket_connect_timeout": 0.25}``).
        secret: The fleet's secret; default: derived from ``settings.SECRET_KEY`` (HMAC-SHA256
            with a fixed label, so the key itself is never stored or sent). ``None`` runs
            unauthenticated, an explicit choice that is logged.

    Raises:
        ValueError: the cache is not shared between processes (``LocMemCache``,
            ``DummyCache``), or the secret is too short.
    """

    _DERIVE = object()

    def __init__(self, cache: Any = None, *, secret: Any = _DERIVE) -> None:
        # Imported by name: Django is optional and ships no type information.
        django_cache: Any = importlib.import_module("django.core.cache")
        # The default cache is a proxy to each thread's backend: calls go through it.
        self._cache: Any = django_cache.cache if cache is None else cache
        backend = type(django_cache.caches["default"] if cache is None else cache)
        name = f"{backend.__module__}.{backend.__qualname__}"
        if name in _PROCESS_LOCAL:
            raise ValueError(
                f"DjangoCacheStore needs a cache shared between processes (RedisCache, "
                f"PyMemcacheCache, DatabaseCache), not {backend.__qualname__}: each process "
                "would have its own"
            )
        if secret is DjangoCacheStore._DERIVE:
            settings: Any = importlib.import_module("django.conf").settings
            key = str(settings.SECRET_KEY).encode()
            secret = hmac.new(key, b"jwkscache.shared.DjangoCacheStore", hashlib.sha256).digest()
        self.secret = _secret(secret, "DjangoCacheStore")

    @staticmethod
    def _seconds(ttl_ms: int) -> int:
        # Django's Redis and Memcached backends take whole seconds (0 deletes).
        return max(1, math.ceil(ttl_ms / 1000))

    def get(self, key: str) -> bytes | None:
        """``cache.get(key)``."""
        value = self._cache.get(key)
        return None if value is None else bytes(value)

    def set(self, key: str, value: bytes, ttl_ms: int) -> None:
        """``cache.set(key, value, seconds)``, rounded up to whole seconds."""
        self._cache.set(key, bytes(value), self._seconds(ttl_ms))

    def add(self, key: str, value: bytes, ttl_ms: int) -> bool:
        """``cache.add(key, value, seconds)``: true when added."""
        return bool(self._cache.add(key, bytes(value), self._seconds(ttl_ms)))

    def delete(self, key: str) -> None:
        """``cache.delete(key)``."""
        self._cache.delete(key)

    def __repr__(self) -> str:
        return f"DjangoCacheStore({self._cache!r}, secret={'<set>' if self.secret else None})"
