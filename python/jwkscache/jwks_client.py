"""``PyJWKClient``: PyJWT's JWKS client with the key lookup done once per key, not per call.

Change ``from jwt import PyJWKClient`` to ``from jwkscache import PyJWKClient`` and the rest of
the code stays as it is. The class is a subclass of ``jwt.PyJWKClient`` (PyJWT 2.15): its
constructor, its validation, ``fetch_data()`` (urllib, redirects refused), ``get_jwk_set()``,
``get_signing_keys()``, the JWK Set cache and every exception message are PyJWT's own, so
subclasses that override ``fetch_data()``, ``headers`` or ``ssl_context`` and tests that fake
the network the way PyJWT's own tests do keep working.

What changes is the hot path. PyJWT's ``get_signing_key_from_jwt`` decodes the whole token
(header and payload) and walks the key set on every call; here the token is checked as PyJWT
checks it and its ``kid`` read in Rust, and the key comes from a ``kid -> jwt.PyJWK`` dict
built once per fetched JWK Set. ``decode()`` goes further: it verifies the token and its
claims in Rust, with a :class:`jwkscache.JWKSCache` built once per fetched set.

When a lookup method (``get_signing_key``, ``get_signing_keys``, ``match_kid``,
``_get_signing_keys_from_jwk_set``) is overridden, by a subclass or by ``mock.patch`` on the
class, on PyJWT's class or on the instance, at any time, the lookup runs PyJWT's own code and
``decode()`` verifies with the one key ``get_signing_key_from_jwt`` returns.

Example:
    >>> from jwkscache import PyJWKClient  # doctest: +SKIP
    >>> client = PyJWKClient("https://issuer.example/.well-known/jwks.json")  # doctest: +SKIP
    >>> key = client.get_signing_key_from_jwt(token)  # doctest: +SKIP
    >>> claims = jwt.decode(token, key.key, algorithms=["RS256"], audience="api")  # doctest: +SKIP
    >>> claims = client.decode(token, audience="api")  # doctest: +SKIP
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from ssl import SSLContext
from typing import Any

from jwt.api_jwk import PyJWK, PyJWKSet
from jwt.exceptions import PyJWKSetError, PyJWTError
from jwt.jwks_client import PyJWKClient as _PyJWTClient

from jwkscache._core import JWKSCache, checked_kid, unverified_kid
from jwkscache.exceptions import SigningKeyNotFoundError

__all__ = ["PyJWKClient"]

# The algorithms JWKSCache verifies; the others of a set stay PyJWT's to verify.
_RUST_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)

# Methods that decide which key a kid selects. When a subclass overrides one of them, the
# lookup runs PyJWT's own code so that the override is honoured.
_LOOKUP_METHODS = (
    "get_signing_key",
    "get_signing_keys",
    "match_kid",
    "_get_signing_keys_from_jwk_set",
)
# decode() also honours an overridden get_signing_key_from_jwt.
_DECODE_METHODS = (*_LOOKUP_METHODS, "get_signing_key_from_jwt")

# PyJWT's own attributes as the class returns them (a staticmethod's function), recorded at
# import (before any test patches them); ours are added after the class below. Compared by
# identity at each call: see PyJWKClient._overridden.
_ORIGINALS: dict[str, object] = {
    name: getattr(_PyJWTClient, name) for name in _DECODE_METHODS if name in _PyJWTClient.__dict__
}
# PyJWT's key filter (use "sig" or absent, a kid), as a plain function.
_pyjwt_signing_keys = _PyJWTClient.__dict__["_get_signing_keys_from_jwk_set"].__func__
_MISSING = object()
# Verifiers built for single keys (decode with an overridden lookup), per client.
_MAX_KEY_VERIFIERS = 32


def _not_found(kid: object) -> SigningKeyNotFoundError:
    return SigningKeyNotFoundError(f'Unable to find a signing key that matches: "{kid}"')


def _document(key: PyJWK, kid: object = _MISSING) -> dict[str, Any]:
    """The JWK a ``PyJWK`` was built from, with the ``alg`` PyJWT gives it.

    PyJWT verifies with a key that states no ``alg`` in its type's default algorithm only
    (RS256 for RSA), so the verifier gets that ``alg`` too. ``kid`` replaces the key's.
    """
    # PyJWK keeps the JWK it was built from only as _jwk_data (PyJWT 2.x).
    data = getattr(key, "_jwk_data", None)
    if not isinstance(data, Mapping):
        raise PyJWKSetError(f"PyJWKClient.decode needs a jwt.PyJWK, got {type(key).__name__}")
    document = dict(data)
    if document.get("alg") is None:
        document["alg"] = key.algorithm_name
    if kid is not _MISSING:
        if kid is None:
            document.pop("kid", None)
        else:
            document["kid"] = kid
    return document


def _rsa_only(error: Exception) -> str:
    return (
        f"{error} (PyJWKClient.decode verifies RSA, EC P-256/384/521 and Ed25519 keys only; "
        "for other keys use "
        "jwt.decode(token, client.get_signing_key_from_jwt(token).key, ...))"
    )


def _not_usable(kid: object, reason: str) -> SigningKeyNotFoundError:
    return SigningKeyNotFoundError(
        f'Unable to find a signing key that matches: "{kid}" (PyJWKClient.decode '
        f"cannot use it: {reason})"
    )


class _KeyIndex:
    """The signing keys of one fetched ``PyJWKSet``, by ``kid``, and its Rust verifier.

    Built once per set object: a new fetch makes a new set, hence a new index.
    """

    __slots__ = ("_verifier", "_verifier_error", "keys", "source")

    def __init__(self, source: PyJWKSet) -> None:
        self.source = source
        # PyJWT's own filter (use "sig" or absent, a kid) and its error when nothing is left.
        signing_keys = _pyjwt_signing_keys(source)
        self.keys: dict[Any, PyJWK] = {}
        for key in signing_keys:
            try:
                self.keys.setdefault(key.key_id, key)  # the first match wins, as in match_kid
            except TypeError:  # an unhashable kid (a JSON list): no str kid can match it
                continue
        self._verifier: JWKSCache | None = None
        self._verifier_error: str | None = None

    def get(self, kid: object) -> PyJWK | None:
        try:
            return self.keys.get(kid)
        except TypeError:  # get_signing_key called with an unhashable kid
            return None

    def verifier(self) -> JWKSCache:
        """The set's keys as a ``JWKSCache`` (built on first use, then kept).

        Raises:
            jwt.PyJWKSetError: the set has no key ``JWKSCache`` can verify with.
        """
        if self._verifier is not None:
            return self._verifier
        if self._verifier_error is not None:  # a new exception each time: no traceback growth
            raise PyJWKSetError(self._verifier_error)
        documents = [_document(key) for key in self.keys.values()]
        algorithms = sorted({k.algorithm_name for k in self.keys.values()} & _RUST_ALGORITHMS)
        try:
            self._verifier = JWKSCache.from_jwks({"keys": documents}, algorithms=algorithms or None)
        except PyJWKSetError as error:
            self._verifier_error = _rsa_only(error)
            raise PyJWKSetError(self._verifier_error) from error
        return self._verifier

    def unusable(self, kid: str | None) -> str | None:
        """Why the verifier skipped the key with this kid, if it did."""
        verifier = self._verifier
        if verifier is None:
            return None
        for skipped in verifier.skipped:
            if skipped["kid"] == kid:
                return str(skipped["reason"])
        return None


class PyJWKClient(_PyJWTClient):
    """PyJWT's ``PyJWKClient`` (2.15), with keys looked up by ``kid`` once per fetched set.

    Same constructor, attributes, methods, return types (real ``jwt.PyJWK`` and
    ``jwt.PyJWKSet``), caching rules and exceptions as ``jwt.PyJWKClient``; see PyJWT's
    documentation for those. An unknown ``kid`` raises
    :class:`~jwkscache.exceptions.SigningKeyNotFoundError` with PyJWT's message: a subclass
    of the ``jwt.PyJWKClientError`` PyJWT raises, and of ``jwt.InvalidTokenError``.

    Args:
        uri: The URL of the JWKS endpoint (``http`` or ``https``).
        cache_keys: PyJWT's per-``kid`` LRU cache of signing keys. As in PyJWT, a cached key
            is served without looking at the JWK Set again, even after the issuer removed
            it (pyjwt#1051); ``revoke_removed_keys=True`` fixes that.
        max_cached_keys: Size of that LRU cache.
        cache_jwk_set: Cache the fetched JWK Set for ``lifespan`` seconds.
        lifespan: Seconds a fetched JWK Set is used before it is fetched again.
        headers: HTTP headers sent with the request.
        timeout: HTTP timeout in seconds.
        ssl_context: ``ssl.SSLContext`` for an ``https`` URL.
        cooldown_duration: Minimum seconds between the refetches an unknown ``kid`` causes.
        revoke_removed_keys: Serve keys from the current JWK Set only: with ``cache_keys``
            the LRU cache is not installed (each key is already built once per fetched set),
            so a key the issuer removed stops being served once the set is fetched again,
            at most ``lifespan`` seconds later. No effect without ``cache_keys``, where this
            is PyJWT's behaviour already.

    Raises:
        jwt.PyJWKClientError: an invalid argument (PyJWT's checks and messages).
    """

    def __init__(
        self,
        uri: str,
        cache_keys: bool = False,
        max_cached_keys: int = 16,
        cache_jwk_set: bool = True,
        lifespan: float = 300,
        headers: dict[str, Any] | None = None,
        timeout: float = 30,
        ssl_context: SSLContext | None = None,
        cooldown_duration: float = 30,
        *,
        revoke_removed_keys: bool = False,
    ) -> None:
        super().__init__(
            uri,
            cache_keys=cache_keys and not revoke_removed_keys,
            max_cached_keys=max_cached_keys,
            cache_jwk_set=cache_jwk_set,
            lifespan=lifespan,
            headers=headers,
            timeout=timeout,
            ssl_context=ssl_context,
            cooldown_duration=cooldown_duration,
        )
        self.revoke_removed_keys = revoke_removed_keys
        # PyJWT replaced get_signing_key on the instance with an lru_cache wrapper.
        self._lru = cache_keys and not revoke_removed_keys
        self._lru_wrapper: object = self.__dict__.get("get_signing_key", _MISSING)
        self._index: _KeyIndex | None = None
        self._key_verifiers: dict[tuple[int, Any], tuple[PyJWK, JWKSCache | str]] = {}
        self._key_verifiers_lock = threading.Lock()

    def _overridden(self, names: tuple[str, ...] = _LOOKUP_METHODS) -> bool:
        """Whether one of these methods is not ours (or PyJWT's, for those we inherit).

        Checked at each call, so that a subclass, a ``mock.patch.object`` on this class or
        on ``jwt.PyJWKClient``, or an attribute set on the instance after construction are
        all honoured. The class attribute is read with ``getattr`` on the class (these are
        plain functions, which a class returns as themselves; CPython caches the lookup),
        then the instance's ``__dict__`` is checked.
        """
        klass = type(self)
        for name in names:
            if getattr(klass, name, _MISSING) is not _ORIGINALS[name]:
                return True
        own = self.__dict__
        for name in names:
            value = own.get(name, _MISSING)
            if value is not _MISSING and (
                name != "get_signing_key" or value is not self._lru_wrapper
            ):
                return True
        return False

    def __repr__(self) -> str:
        cache = self.jwk_set_cache
        lifespan = cache.lifespan if cache is not None else None
        return (
            f"{type(self).__name__}(uri={self.uri!r}, cache_jwk_set={cache is not None}, "
            f"lifespan={lifespan!r}, cache_keys={self._lru}, "
            f"cooldown_duration={self.cooldown_duration!r})"
        )

    def get_signing_key(self, kid: str) -> PyJWK:
        """The signing key with this ``kid``, refreshing the JWK Set once if it is unknown.

        PyJWT's rules: the refresh happens at most once per ``cooldown_duration`` (every
        successful fetch starts the cooldown), concurrent misses are serialised, and a failed
        refresh raises while the cached set is kept.

        Args:
            kid: The key ID.

        Returns:
            The key, a ``jwt.PyJWK`` built once for the fetched set it belongs to.

        Raises:
            SigningKeyNotFoundError: no signing key has this ``kid`` (a
                ``jwt.PyJWKClientError``, with PyJWT's message).
            jwt.PyJWKClientConnectionError: the JWK Set could not be fetched.
            jwt.PyJWKClientError: the endpoint returned no signing keys or no JSON object.
        """
        if self._overridden():
            return super().get_signing_key(kid)
        key = self._lookup(kid)[1]
        if key is None:
            raise _not_found(kid)
        return key

    def get_signing_key_from_jwt(self, token: str | bytes) -> PyJWK:
        """The signing key a token's ``kid`` header selects (the token is not verified).

        The token is checked as PyJWT checks it (three base64url segments, JSON object
        header and payload, no unsupported ``crit``), in Rust; a malformed token raises
        PyJWT's ``jwt.DecodeError`` (or ``jwt.InvalidTokenError``) without reaching the
        network.

        Args:
            token: The encoded JWT.

        Returns:
            The ``jwt.PyJWK`` for ``jwt.decode(token, key.key, ...)``.

        Raises:
            jwt.DecodeError: the token is malformed.
            SigningKeyNotFoundError: no signing key has the token's ``kid``.
            jwt.PyJWKClientConnectionError: the JWK Set could not be fetched.
        """
        index = self._index
        if index is not None and not self._overridden():
            try:
                kid = checked_kid(token)
            except PyJWTError:
                pass  # PyJWT's parse below raises its own error (and message) for this token
            else:
                key = index.keys.get(kid)
                if key is not None and kid is not None:
                    if not self._lru:
                        cache = self.jwk_set_cache
                        if cache is not None and cache.get() is index.source:
                            return key
                    # The set expired (or is not cached), or the LRU decides: the kid
                    # is well formed and known, so skip PyJWT's parse.
                    return self.get_signing_key(kid)
        return super().get_signing_key_from_jwt(token)

    def decode(
        self,
        token: str | bytes,
        /,
        *,
        audience: str | Iterable[str] | None = None,
        issuer: str | Iterable[str] | None = None,
        subject: str | None = None,
        leeway: float | timedelta | None = None,
        options: Mapping[str, Any] | None = None,
        algorithms: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Verifies ``token`` in Rust with the client's keys and returns its claims.

        The contract of :meth:`jwkscache.JWKSCache.decode` (PyJWT's keyword arguments and
        exceptions; RSA, EC P-256/384/521 and Ed25519 keys), over the JWK Set this client
        fetches and caches. An
        unknown ``kid`` refreshes the set once, under the same cooldown as
        :meth:`get_signing_key`. ``cache_keys`` does not apply: keys come from the current
        set, so a key the issuer removed stops verifying when the set is fetched again.
        A key that states no ``alg`` verifies its type's default algorithm only (RS256), as
        in PyJWT.

        When a lookup method or ``get_signing_key_from_jwt`` is overridden, the key is the
        one ``get_signing_key_from_jwt(token)`` returns (``cache_keys`` then applies), and
        only that key can verify the token.

        Args:
            token: The encoded JWT.
            audience: The expected ``aud`` (one or several); required if the token has one.
            issuer: The expected ``iss`` (one or several).
            subject: The expected ``sub``.
            leeway: Seconds (or a ``timedelta``) of clock skew allowed on time claims.
            options: PyJWT's ``options`` (``verify_exp``, ``require``, ``strict_aud`` ...).
            algorithms: Allowed algorithms (default: those of the set's keys).

        Returns:
            The claims.

        Raises:
            jwt.InvalidTokenError: (or a subclass) the token is refused.
            SigningKeyNotFoundError: no key of the set has the token's ``kid``.
            jwt.PyJWKClientConnectionError: the JWK Set could not be fetched.
            jwt.PyJWKSetError: the JWK Set has no key ``JWKSCache`` verifies with.
        """
        kwargs: dict[str, Any] = {
            "audience": audience,
            "issuer": issuer,
            "subject": subject,
            "leeway": leeway,
            "options": options,
            "algorithms": algorithms,
        }
        if options is not None and not isinstance(options, dict):
            kwargs["options"] = dict(options)
        if self._overridden(_DECODE_METHODS):
            return self._decode_with_key(token, kwargs)
        index = self._index
        cache = self.jwk_set_cache
        if index is None or cache is None or cache.get() is not index.source:
            with self._client_lock:
                index = self._current()
        try:
            return index.verifier().decode(token, **kwargs)
        except SigningKeyNotFoundError:
            pass
        kid = unverified_kid(token)
        # Without the JWK Set cache the index was fetched just now: look in it first, as
        # PyJWT's get_signing_key does with the set it fetched (one fetch, not two).
        index, key = self._lookup(kid, index if cache is None else None)
        if key is None:
            raise _not_found(kid)
        try:
            return index.verifier().decode(token, **kwargs)
        except SigningKeyNotFoundError as error:
            reason = index.unusable(kid)
            if reason is None:
                raise
            raise _not_usable(kid, reason) from error

    def _decode_with_key(self, token: str | bytes, kwargs: dict[str, Any]) -> dict[str, Any]:
        """``decode`` with the key ``get_signing_key_from_jwt`` returns, and that key only."""
        key = self.get_signing_key_from_jwt(token)
        kid = checked_kid(token)
        verifier = self._key_verifier(key, kid)
        if isinstance(verifier, str):  # a new exception each time: no traceback growth
            raise PyJWKSetError(verifier)
        try:
            return verifier.decode(token, **kwargs)
        except SigningKeyNotFoundError as error:
            for skipped in verifier.skipped:
                raise _not_usable(kid, str(skipped["reason"])) from error
            raise

    def _key_verifier(self, key: PyJWK, kid: str | None) -> JWKSCache | str:
        """A ``JWKSCache`` over this one key, under the token's ``kid`` (or why not)."""
        cache_key = (id(key), kid)
        entry = self._key_verifiers.get(cache_key)
        if entry is not None and entry[0] is key:
            return entry[1]
        document = _document(key, kid)
        algorithm = document["alg"]
        verifier: JWKSCache | str
        try:
            verifier = JWKSCache.from_jwks(
                {"keys": [document]},
                algorithms=[algorithm] if algorithm in _RUST_ALGORITHMS else None,
            )
        except PyJWKSetError as error:
            verifier = _rsa_only(error)
        with self._key_verifiers_lock:
            if len(self._key_verifiers) >= _MAX_KEY_VERIFIERS:
                self._key_verifiers.clear()
            # The key is kept with its verifier, so its id is not reused meanwhile.
            self._key_verifiers[cache_key] = (key, verifier)
        return verifier

    def _current(self, refresh: bool = False) -> _KeyIndex:
        """The index of the set ``get_jwk_set`` returns (fetching as PyJWT would)."""
        jwk_set = self.get_jwk_set(refresh)
        index = self._index
        if index is None or index.source is not jwk_set:
            index = _KeyIndex(jwk_set)
            self._index = index
        return index

    def _lookup(
        self, kid: object, index: _KeyIndex | None = None
    ) -> tuple[_KeyIndex, PyJWK | None]:
        """PyJWT 2.15's ``get_signing_key``, over the index: the key, or ``None``.

        ``index``: the set to look in first (default: the one ``get_jwk_set`` returns).
        """
        with self._client_lock:
            if index is None:
                index = self._current()
            key = index.get(kid)
            if key is None:
                last_fetch = self._last_successful_fetch
                cooling_down = (
                    self.jwk_set_cache is not None
                    and last_fetch is not None
                    and time.monotonic() - last_fetch < self.cooldown_duration
                )
                if not cooling_down:
                    index = self._current(refresh=True)
                    self._last_successful_fetch = time.monotonic()
                    key = index.get(kid)
            return index, key


# Ours, for the methods we define (the others are PyJWT's, recorded above).
_ORIGINALS.update(
    (name, getattr(PyJWKClient, name)) for name in _DECODE_METHODS if name in PyJWKClient.__dict__
)
