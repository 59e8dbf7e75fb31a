"""``jwkscache.Issuers``: many issuers at once, each token routed to its own issuer's keys.

The router reads a token's ``iss`` without verifying it, looks it up in an allow-list of
issuers, and hands the token to that issuer's :class:`jwkscache.JWKSCache`, which verifies it
with that issuer's keys and options and checks that ``iss`` is the issuer routed to. An
``iss`` not in the list is refused before anything else happens: no fetch, no discovery, no
request to a URL a token named.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

from jwkscache._core import JWKSCache, unverified_issuer
from jwkscache.exceptions import InvalidIssuerError, MissingRequiredClaimError

__all__ = ["Issuers"]


class Issuers(Mapping[str, JWKSCache]):
    """An allow-list of issuers, each with its own :class:`~jwkscache.JWKSCache`.

    ``decode``, ``decode_async`` and ``decode_complete`` take ``JWKSCache``'s arguments; a
    token goes to the cache of its ``iss``, so a key of one issuer never verifies another's
    token (even under the same ``kid``), and each cache keeps its own algorithms, audience
    and cache settings. Read-only mapping of issuer to cache.

    Args:
        caches: Issuer (the exact ``iss`` string) to its cache. A cache with a default
            ``issuer`` (``JWKSCache.from_issuer``) must name the same one.
        max_token_bytes: Bound on a token before its ``iss`` is read.

    Raises:
        ValueError: No issuer, or a cache whose own issuer differs from its key.
        TypeError: A value that is not a ``JWKSCache``.

    Example:
        >>> router = Issuers({  # doctest: +SKIP
        ...     "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC": eks_keys,
        ...     "https://sso.example.com": sso_keys,
        ... })
        >>> claims = router.decode(token)  # doctest: +SKIP
    """

    def __init__(self, caches: Mapping[str, JWKSCache], *, max_token_bytes: int = 16384) -> None:
        if not caches:
            raise ValueError("Issuers needs at least one issuer")
        for issuer, cache in caches.items():
            if not isinstance(issuer, str) or not issuer:
                raise ValueError(f"an issuer must be a non-empty str, got {issuer!r}")
            if not isinstance(cache, JWKSCache):
                raise TypeError(f"the cache of {issuer!r} must be a JWKSCache, got {cache!r}")
            if cache.issuer is not None and cache.issuer != issuer:
                raise ValueError(f"the cache listed for {issuer!r} expects issuer {cache.issuer!r}")
        if max_token_bytes <= 0:
            raise ValueError("max_token_bytes must be positive")
        self._caches: Mapping[str, JWKSCache] = MappingProxyType(dict(caches))
        self._max_token_bytes = max_token_bytes
        self._lock = threading.Lock()
        self._refused = 0

    @classmethod
    def from_issuers(
        cls,
        issuers: Iterable[str] | Mapping[str, Mapping[str, Any]],
        /,
        **options: Any,
    ) -> Issuers:
        """A router over issuer URLs, each cache built with ``JWKSCache.from_issuer``.

        Args:
            issuers: Issuer URLs, or a mapping of issuer URL to that issuer's own
                ``from_issuer`` options (``{"https://a": {"audience": "api"}}``).
            **options: ``from_issuer`` options shared by every issuer (the per-issuer ones
                win).

        Returns:
            The router; nothing is fetched until a token of an issuer arrives.
        """
        own: Mapping[str, Mapping[str, Any]] = (
            issuers if isinstance(issuers, Mapping) else {issuer: {} for issuer in issuers}
        )
        return cls(
            {
                issuer: JWKSCache.from_issuer(issuer, **{**options, **dict(settings)})
                for issuer, settings in own.items()
            }
        )

    def cache_for(self, token: str | bytes) -> tuple[str, JWKSCache]:
        """The issuer and cache a token is routed to (the token is not verified).

        Raises:
            jwt.DecodeError: The token is malformed.
            jwt.MissingRequiredClaimError: It has no ``iss``.
            jwt.InvalidIssuerError: Its ``iss`` is not a string, or not one of these issuers.
        """
        try:
            issuer = unverified_issuer(token, self._max_token_bytes)
        except InvalidIssuerError:
            self._count_refusal()
            raise
        if issuer is None:
            self._count_refusal()
            raise MissingRequiredClaimError("iss")
        cache = self._caches.get(issuer)
        if cache is None:
            self._count_refusal()
            raise InvalidIssuerError("Invalid issuer")
        return issuer, cache

    def decode(self, token: str | bytes, /, **kwargs: Any) -> dict[str, Any]:
        """Verifies ``token`` with its issuer's cache and returns its claims.

        Args:
            token: The compact JWT.
            **kwargs: ``JWKSCache.decode``'s (``audience``, ``leeway``, ``options`` ...);
                ``issuer`` defaults to the issuer the token was routed to.

        Raises:
            jwt.InvalidTokenError: (or a subclass) the token is refused.
            jwt.PyJWKClientError: that issuer's keys could not be fetched.
        """
        issuer, cache = self.cache_for(token)
        kwargs.setdefault("issuer", issuer)
        return cache.decode(token, **kwargs)

    async def decode_async(self, token: str | bytes, /, **kwargs: Any) -> dict[str, Any]:
        """``decode`` that runs any fetch in a worker thread (see ``JWKSCache.decode_async``)."""
        issuer, cache = self.cache_for(token)
        kwargs.setdefault("issuer", issuer)
        return await cache.decode_async(token, **kwargs)

    def decode_complete(self, token: str | bytes, /, **kwargs: Any) -> dict[str, Any]:
        """Like ``decode``, returning ``{"header": ..., "payload": ..., "signature": ...}``."""
        issuer, cache = self.cache_for(token)
        kwargs.setdefault("issuer", issuer)
        return cache.decode_complete(token, **kwargs)

    def stats(self) -> dict[str, Any]:
        """Each issuer's ``JWKSCache.stats()``, and ``refused``: tokens of no listed issuer."""
        with self._lock:
            refused = self._refused
        return {
            "issuers": {issuer: cache.stats() for issuer, cache in self._caches.items()},
            "refused": refused,
        }

    def close(self) -> None:
        """Stops every cache's background refreshes."""
        for cache in self._caches.values():
            cache.close()

    def __enter__(self) -> Issuers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __getitem__(self, issuer: str) -> JWKSCache:
        return self._caches[issuer]

    def __iter__(self) -> Iterator[str]:
        return iter(self._caches)

    def __len__(self) -> int:
        return len(self._caches)

    def __repr__(self) -> str:
        return f"Issuers({list(self._caches)!r})"

    def _count_refusal(self) -> None:
        with self._lock:
            self._refused += 1
