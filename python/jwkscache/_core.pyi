"""Type stubs for the Rust extension ``jwkscache._core``."""

from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any, final

import jwt

__version__: str

Options = Mapping[str, Any]

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
        """Always ``"RSA"``."""
    @property
    def key_size(self) -> int:
        """Modulus size in bits."""
    def to_dict(self) -> dict[str, Any]:
        """The JWK as published (a new dict each call)."""
    def to_pyjwk(self) -> jwt.PyJWK:
        """The key as a real ``jwt.PyJWK``, for ``jwt.decode``."""

@final
class JWKSCache:
    """A JWK Set and the rules to verify tokens against it."""

    @classmethod
    def from_jwks(
        cls,
        jwks: Mapping[str, Any] | str | bytes,
        /,
        *,
        algorithms: Sequence[str] | None = None,
        max_token_bytes: int = 16384,
    ) -> JWKSCache:
        """A cache over a fixed JWK Set (dict, str or bytes); no network.

        Raises:
            jwt.PyJWKSetError: the document is not a JWK Set or has no usable key.
            ValueError: an algorithm is not one jwkscache verifies.
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
        options: Options | None = None,
        algorithms: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Verifies ``token`` and returns its claims.

        Raises:
            jwt.InvalidTokenError: (or a subclass) the token is refused.
        """
    def decode_complete(
        self,
        token: str | bytes,
        /,
        *,
        audience: str | Iterable[str] | None = None,
        issuer: str | Iterable[str] | None = None,
        subject: str | None = None,
        leeway: float | timedelta | None = None,
        options: Options | None = None,
        algorithms: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Like ``decode``, returning ``{"header", "payload", "signature"}``."""
    def get_signing_key(self, kid: str) -> SigningKey:
        """The key with this ``kid``; ``SigningKeyNotFoundError`` if none."""
    def get_signing_key_from_jwt(self, token: str | bytes) -> SigningKey:
        """The key a token's header selects (the token is not verified)."""
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

def _set_release_gil(release: bool) -> bool: ...
