"""Type stubs for the Rust extension ``jwkscache._core``."""

import os
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from datetime import timedelta
from types import TracebackType
from typing import Any, final

import jwt
from typing_extensions import Self

from jwkscache.shared import SharedStore

__version__: str

_Options = Mapping[str, Any]

@final
class SigningKey:
    """A verification key of the set: what it is, never its material."""

    @property
    def kid(self) -> str | None:
        """The key's ``kid``, if it has one."""
    @property
    def alg(self) -> str | None:
        """The key's own ``alg``, if it states one."""
    @property
    def key_type(self) -> str:
        """The JWK ``kty``: ``"RSA"``, ``"EC"`` or ``"OKP"``."""
    @property
    def key_size(self) -> int:
        """RSA modulus size, or the curve size (EC 256/384/521, Ed25519 256), in bits."""
    def to_dict(self) -> dict[str, Any]:
        """The JWK as published (a new dict each call)."""
    def to_pyjwk(self) -> jwt.PyJWK:
        """The key as a real ``jwt.PyJWK``, for ``jwt.decode``."""

@final
class JWKSCache:
    """A JWK Set, fetched and kept fresh (or fixed), and the rules to verify tokens.

    See the README for every option and its default.
    """

    def __new__(
        cls,
        jwks_uri: str,
        /,
        *,
        issuer: str | None = None,
        audience: str | Iterable[str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 5.0,
        ca_file: str | os.PathLike[str] | None = None,
        lifespan: float = 300.0,
        min_ttl: float = 60.0,
        max_ttl: float = 3600.0,
        refresh_cooldown: float = 30.0,
        max_stale: float = 3600.0,
        refresh_ahead: bool = True,
        algorithms: Sequence[str] | None = None,
        max_token_bytes: int = 16384,
        max_body_bytes: int = 524288,
        allow_insecure_http: bool = False,
        token_cache_size: int = 1024,
        release_gil: bool | None = None,
        shared: SharedStore | None = None,
        shared_wait: float = 2.0,
    ) -> Self:
        """A cache over the JWKS at ``jwks_uri`` (nothing is fetched until first use).

        ``shared`` is a store the fleet shares (``jwkscache.shared``): asked only when a
        refresh is due; ``shared_wait`` bounds how long a process without keys waits for
        another's fetch before fetching itself.

        Raises:
            ValueError: a bad URL (plain http to a non-loopback host), option or CA file.
            TypeError: ``shared`` lacks a method of the store protocol or its ``secret``.
        """
    @classmethod
    def from_issuer(
        cls,
        issuer: str,
        /,
        *,
        jwks_uri: str | None = None,
        audience: str | Iterable[str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 5.0,
        ca_file: str | os.PathLike[str] | None = None,
        lifespan: float = 300.0,
        min_ttl: float = 60.0,
        max_ttl: float = 3600.0,
        refresh_cooldown: float = 30.0,
        max_stale: float = 3600.0,
        refresh_ahead: bool = True,
        algorithms: Sequence[str] | None = None,
        max_token_bytes: int = 16384,
        max_body_bytes: int = 524288,
        allow_insecure_http: bool = False,
        token_cache_size: int = 1024,
        release_gil: bool | None = None,
        shared: SharedStore | None = None,
        shared_wait: float = 2.0,
    ) -> JWKSCache:
        """A cache over an OIDC issuer's keys, found by discovery on first use.

        The discovery document must name exactly ``issuer``; ``jwks_uri`` overrides
        the discovered one. ``issuer`` is the default expected ``iss`` of ``decode``.
        """
    @classmethod
    def from_jwks(
        cls,
        jwks: Mapping[str, Any] | str | bytes,
        /,
        *,
        issuer: str | None = None,
        audience: str | Iterable[str] | None = None,
        algorithms: Sequence[str] | None = None,
        max_token_bytes: int = 16384,
        token_cache_size: int = 1024,
        release_gil: bool | None = None,
    ) -> JWKSCache:
        """A cache over a fixed JWK Set (dict, str or bytes); no network.

        Raises:
            jwt.PyJWKSetError: the document is not a JWK Set or has no usable key.
            ValueError: an algorithm is not one jwkscache verifies.
        """
    @classmethod
    def in_cluster(
        cls,
        *,
        issuer: str | None = None,
        audience: str | Iterable[str] | None = None,
        api_server: str | None = None,
        token_file: str | os.PathLike[str] | None = None,
        ca_file: str | os.PathLike[str] | None = None,
        timeout: float = 5.0,
        lifespan: float = 300.0,
        min_ttl: float = 60.0,
        max_ttl: float = 3600.0,
        refresh_cooldown: float = 30.0,
        max_stale: float = 3600.0,
        refresh_ahead: bool = True,
        algorithms: Sequence[str] | None = None,
        max_token_bytes: int = 16384,
        max_body_bytes: int = 524288,
        token_cache_size: int = 1024,
        release_gil: bool | None = None,
        shared: SharedStore | None = None,
        shared_wait: float = 2.0,
    ) -> JWKSCache:
        """The Kubernetes API server's own keys, read from inside a pod.

        The JWKS is fetched from ``{api_server}/openid/v1/jwks``, never from the discovery
        document's ``jwks_uri`` (often an address a pod cannot reach). ``api_server``
        defaults to ``https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT``,
        ``token_file`` to the pod's service-account token (sent as bearer, read again at
        least once a minute and after a 401) and ``ca_file`` to the cluster CA (trusted alone:
        not the system roots, not ``SSL_CERT_FILE``), each under
        ``/var/run/secrets/kubernetes.io/serviceaccount/``. The expected ``iss`` is
        ``issuer``, or else the ``issuer`` the API server's discovery document names, read
        now. ``algorithms`` defaults to what the API server signs with: RS256, ES256,
        ES384, ES512.

        Raises:
            ValueError: not in a pod (no ``KUBERNETES_SERVICE_HOST``/``PORT``) and no
                ``api_server``; the token or CA file missing or unreadable; a bad option.
            jwt.PyJWKClientConnectionError: ``issuer`` not given and the discovery
                document could not be read.
        """
    def decode(
        self,
        token: str | bytes,
        /,
        *,
        audience: str | Iterable[str] | None = None,
        issuer: str | Iterable[str] | None = None,
        subject: str | None = None,
        leeway: float | timedelta | None = None,
        options: _Options | None = None,
        algorithms: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Verifies ``token`` and returns its claims.

        Raises:
            jwt.InvalidTokenError: (or a subclass) the token is refused.
        """
    def _decode_no_io(
        self,
        token: str | bytes,
        /,
        *,
        audience: str | Iterable[str] | None = None,
        issuer: str | Iterable[str] | None = None,
        subject: str | None = None,
        leeway: float | timedelta | None = None,
        options: _Options | None = None,
        algorithms: Sequence[str] | None = None,
    ) -> dict[str, Any] | None: ...
    def decode_async(
        self, token: str | bytes, /, **kwargs: Any
    ) -> Coroutine[Any, Any, dict[str, Any]]:
        """``await`` it: ``decode`` that runs any fetch in a worker thread."""
    def decode_complete(
        self,
        token: str | bytes,
        /,
        *,
        audience: str | Iterable[str] | None = None,
        issuer: str | Iterable[str] | None = None,
        subject: str | None = None,
        leeway: float | timedelta | None = None,
        options: _Options | None = None,
        algorithms: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Like ``decode``, returning ``{"header", "payload", "signature"}``."""
    def get_signing_key(self, kid: str) -> SigningKey:
        """The key with this ``kid``; ``SigningKeyNotFoundError`` if none."""
    def get_signing_key_from_jwt(self, token: str | bytes) -> SigningKey:
        """The key a token's header selects (the token is not verified)."""
    def refresh(self) -> None:
        """Fetches the JWK Set now; ``PyJWKClientConnectionError`` if that fails."""
    def stats(self) -> dict[str, Any]:
        """Counters and state: fetches, not_modified, failures, hits, misses,
        unknown_kid_refreshes, cooldown_rejections, stale_served, token_cache_hits,
        token_cache_size, last_fetch_at,
        expires_at, serving_stale, last_error, kids, jwks_uri; and ``shared``: ``None``
        without a shared store, else a dict of adopted, written, lease_won, lease_lost,
        waited, wait_timeouts, store_errors, breaker_opened, breaker_open and rejected
        (entries ignored, by reason: malformed, version, no_mac, bad_mac, wrong_source,
        digest, future, oversized, unusable)."""
    def close(self) -> None:
        """Stops background refreshes (the cache still answers)."""
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    @property
    def issuer(self) -> str | None:
        """The default expected issuer, if any."""
    @property
    def audience(self) -> str | tuple[str, ...] | None:
        """The default expected audience of ``decode``, if any."""
    @property
    def kids(self) -> list[str | None]:
        """The ``kid`` of every usable key."""
    @property
    def skipped(self) -> list[dict[str, Any]]:
        """Keys that were skipped: ``index``, ``kid``, ``kty``, ``reason``."""
    @property
    def algorithms(self) -> list[str]:
        """The algorithm allow-list."""
    def __len__(self) -> int: ...

def unverified_kid(token: str | bytes) -> str | None:
    """The ``kid`` header of a token, without verifying it (``None`` when absent).

    Raises:
        jwt.DecodeError: the header segment is malformed.
    """

def unverified_issuer(token: str | bytes, /, max_token_bytes: int = 16384) -> str | None:
    """The ``iss`` claim of a token, without verifying it (``None`` when absent).

    Raises:
        jwt.DecodeError: the payload segment is malformed.
        jwt.InvalidIssuerError: ``iss`` is not a string.
    """

def checked_kid(token: str | bytes) -> str | None:
    """The ``kid`` of a token well formed as PyJWT requires, without verifying it.

    Three base64url segments, JSON object header and payload, no unsupported ``crit``.

    Raises:
        jwt.DecodeError: a malformed segment or JSON.
        jwt.InvalidTokenError: an unsupported ``crit`` or a non-string ``kid``.
    """

def _prepare_fork() -> None: ...
def _after_fork() -> None: ...
def _after_fork_in_child() -> None: ...
def _gil_decisions() -> dict[str, Any]:
    """What the adaptive GIL policy decided so far in this process.

    ``released`` and ``held`` signature checks, ``holds_started``, and ``holding`` now.
    """

def _arm_panic(site: str) -> None:
    """Make the core's next pass through ``site`` panic, once (tests of the panic guards).

    ``"lookup"``: a token's parse and key selection (the token is refused with
    ``jwt.InvalidTokenError``); ``"fetch"``: a JWK Set fetch (a failed fetch). ``ValueError``
    for another name.
    """
