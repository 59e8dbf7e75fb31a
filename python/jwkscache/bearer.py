"""Bearer tokens in the ``Authorization`` header (RFC 6750), with no web framework.

:class:`BearerAuth` reads the header, verifies the token with a :class:`~jwkscache.JWKSCache`
(or anything with the same ``decode`` / ``decode_async``), checks scopes and returns a
:class:`VerifiedToken`. Every refusal is a :class:`BearerError` that carries the whole answer:
``status_code``, ``headers`` (``WWW-Authenticate``, or ``Retry-After``) and a JSON ``body``.
The framework adapters (``jwkscache.fastapi``, ``.starlette``, ``.django``, ``.flask``) only
turn that answer into their own response; the decisions are all made here.

RFC 6750 section 3, as answered:

- no credentials, or another scheme (``Basic ...``): 401, ``WWW-Authenticate: Bearer``
  (with ``realm``) and no ``error``;
- a malformed header (``Bearer`` alone, a token outside the b64token syntax, the header
  given twice): 400 ``invalid_request``;
- a refused token (any ``jwt.InvalidTokenError``): 401 ``invalid_token``;
- a token without a required scope: 403 ``insufficient_scope`` with ``scope``;
- no usable keys because the issuer cannot be reached (``jwt.PyJWKClientError``): 503 with
  ``Retry-After``, never a 401, so a client keeps its good token.

Example:
    >>> auth = BearerAuth(keys, audience="orders-api")  # doctest: +SKIP
    >>> token = auth.authenticate(request_headers.get("Authorization"), ["orders:read"])
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import jwt

from jwkscache._aio import _to_thread
from jwkscache._core import JWKSCache

__all__ = [
    "BearerAuth",
    "BearerError",
    "InsufficientScopeError",
    "InvalidRequestError",
    "InvalidTokenError",
    "IssuerUnavailableError",
    "KeySource",
    "MissingTokenError",
    "VerifiedToken",
    "check_scope_names",
]

if TYPE_CHECKING:
    #: What a framework hands over: the header's value, ``None`` when absent, or every
    #: value when the framework keeps repeated headers apart.
    HeaderValue = str | Sequence[str] | None

# RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
# RFC 9110 auth-scheme: a token.
_SCHEME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# (checked with bytes.translate: a regex over a 2 KB token costs microseconds)
_B64BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"
# RFC 6750 section 3: error_description and scope values exclude '"' and '\'.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
_NOT_DESCRIPTION = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]+")
_MAX_DESCRIPTION = 200
_CHECKED_SCOPES: set[tuple[str, ...]] = set()
_MAX_CHECKED_SCOPES = 1024
_OWS = " \t"
_JOINED_BEARER = re.compile(r",[ \t]*bearer(?:[ \t]|$)", re.IGNORECASE)
# The options every BearerAuth starts from: a token must carry exp.
_DEFAULT_OPTIONS: Mapping[str, Any] = MappingProxyType({"require": ("exp",)})


class KeySource(Protocol):
    """What :class:`BearerAuth` verifies with: a ``JWKSCache`` or an object like it."""

    def decode(
        self,
        token: str,
        /,
        *,
        audience: str | Iterable[str] | None = ...,
        issuer: str | Iterable[str] | None = ...,
        leeway: float | timedelta | None = ...,
        options: Mapping[str, Any] | None = ...,
        algorithms: Sequence[str] | None = ...,
    ) -> dict[str, Any]:
        """Verifies ``token`` and returns its claims (raises PyJWT's exceptions)."""
        ...

    def decode_async(self, token: str, /, **kwargs: Any) -> Awaitable[dict[str, Any]]:
        """``decode`` that never blocks the event loop on the network."""
        ...


def _quoted(value: str, limit: int | None = _MAX_DESCRIPTION) -> str:
    return '"' + _NOT_DESCRIPTION.sub("", value)[:limit] + '"'


def _challenge(realm: str | None, **params: str | None) -> str:
    parts = [] if realm is None else [f"realm={_quoted(realm)}"]
    # scope is never cut: a client must see every required name, whole.
    parts += [
        f"{name}={_quoted(value, None if name == 'scope' else _MAX_DESCRIPTION)}"
        for name, value in params.items()
        if value is not None
    ]
    return "Bearer " + ", ".join(parts) if parts else "Bearer"


class BearerError(Exception):
    """A request refused: the whole answer to send back.

    Attributes:
        status_code: The HTTP status (400, 401, 403 or 503).
        error: The RFC 6750 error code, or ``None`` for a plain challenge.
        description: What went wrong, in words safe for a header.
        headers: ``WWW-Authenticate`` (and ``Retry-After`` for a 503).
        body: ``{"error": ..., "error_description": ...}`` (no ``error`` for a plain challenge).
    """

    status_code: ClassVar[int] = 401
    error: ClassVar[str | None] = None

    def __init__(self, description: str, *, realm: str | None = None) -> None:
        self.description = _NOT_DESCRIPTION.sub("", description)[:_MAX_DESCRIPTION]
        self.realm = realm
        super().__init__(self.description)

    @property
    def headers(self) -> dict[str, str]:
        """The response headers: the ``WWW-Authenticate`` challenge."""
        return {"WWW-Authenticate": self._challenge()}

    @property
    def body(self) -> dict[str, str]:
        """The JSON body."""
        if self.error is None:
            return {"error_description": self.description}
        return {"error": self.error, "error_description": self.description}

    def _challenge(self) -> str:
        return _challenge(self.realm, error=self.error, error_description=self.description)


class MissingTokenError(BearerError):
    """No bearer credentials (no header, or another scheme): 401 with a plain challenge."""

    def __init__(
        self, description: str = "A bearer token is required", *, realm: str | None = None
    ) -> None:
        super().__init__(description, realm=realm)

    def _challenge(self) -> str:
        return _challenge(self.realm)


class InvalidRequestError(BearerError):
    """A malformed ``Authorization`` header: 400 ``invalid_request``."""

    status_code = 400
    error = "invalid_request"


class InvalidTokenError(BearerError):
    """A refused token (signature, expiry, audience, issuer, key): 401 ``invalid_token``."""

    error = "invalid_token"


class InsufficientScopeError(BearerError):
    """A valid token without every required scope: 403 ``insufficient_scope``."""

    status_code = 403
    error = "insufficient_scope"

    def __init__(
        self,
        required: Iterable[str],
        description: str = "The token lacks a required scope",
        *,
        realm: str | None = None,
    ) -> None:
        self.required = tuple(required)
        super().__init__(description, realm=realm)

    def _challenge(self) -> str:
        return _challenge(
            self.realm,
            error=self.error,
            error_description=self.description,
            scope=" ".join(self.required),
        )


class IssuerUnavailableError(BearerError):
    """No usable keys: the issuer cannot be reached. 503 with ``Retry-After``, never a 401."""

    status_code = 503
    error = "temporarily_unavailable"

    def __init__(
        self,
        description: str = "The token issuer's keys are unavailable",
        *,
        retry_after: int = 30,
        realm: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(description, realm=realm)

    @property
    def headers(self) -> dict[str, str]:
        """``Retry-After`` only: the token was not judged, so there is no challenge."""
        return {"Retry-After": str(self.retry_after)}


@dataclass(frozen=True, eq=False)
class VerifiedToken:
    """A token that verified: its claims and what a handler asks of them.

    Attributes:
        claims: The claims ``decode`` returned.
        subject: ``sub``, or ``None`` when absent or not a string.
        issuer: ``iss``, or ``None`` when absent or not a string.
        scopes: Read from the ``scope`` claim (space-separated) and ``scp`` (a string or a
            list), or the claims ``BearerAuth`` was told to read, when the token verified.
        token: The raw token (left out of the ``repr``).
    """

    claims: dict[str, Any]
    subject: str | None
    issuer: str | None
    scopes: frozenset[str]
    token: str = field(repr=False)

    @classmethod
    def from_claims(
        cls, claims: dict[str, Any], token: str, scope_claims: Iterable[str] = ("scope", "scp")
    ) -> VerifiedToken:
        """Builds the view of verified ``claims`` (nothing is checked here)."""
        sub, iss = claims.get("sub"), claims.get("iss")
        # Built on every request: filling __dict__ costs a quarter of the frozen __init__'s
        # five object.__setattr__ calls, and the instance is as frozen afterwards.
        verified = object.__new__(cls)
        verified.__dict__.update(
            claims=claims,
            subject=sub if isinstance(sub, str) else None,
            issuer=iss if isinstance(iss, str) else None,
            scopes=_scopes(claims, scope_claims),
            token=token,
        )
        return verified

    def has_scopes(self, *names: str) -> bool:
        """Whether the token carries every one of ``names``."""
        return self.scopes.issuperset(names)


def _scopes(claims: Mapping[str, Any], names: Iterable[str]) -> frozenset[str]:
    found: frozenset[str] = _NO_SCOPES
    for name in names:
        value = claims.get(name)
        if value is None:
            continue
        if isinstance(value, str):
            items: Iterable[str] = value.split()
        elif isinstance(value, (list, tuple)):
            items = [item for item in value if isinstance(item, str) and item]
        else:
            continue
        found = found.union(items) if found else frozenset(items)
    return found


_NO_SCOPES: frozenset[str] = frozenset()


def check_scope_names(scopes: Iterable[str]) -> tuple[str, ...]:
    """``scopes`` as a tuple, each checked to be an RFC 6749 ``scope-token``.

    Raises:
        TypeError: One string was given instead of a list of names.
        ValueError: A name with a space, ``"`` or ``\\`` (it could not go in a header).
    """
    if isinstance(scopes, str):
        raise TypeError("required scopes must be a list of names, not one string")
    checked = tuple(scopes)
    if checked in _CHECKED_SCOPES:  # the same few lists, on every request
        return checked
    for scope in checked:
        if not isinstance(scope, str) or not _SCOPE_TOKEN.fullmatch(scope):
            raise ValueError(f"not a scope name (RFC 6749 scope-token): {scope!r}")
    if len(_CHECKED_SCOPES) < _MAX_CHECKED_SCOPES:
        _CHECKED_SCOPES.add(checked)
    return checked


class BearerAuth:
    """Verifies bearer tokens from the ``Authorization`` header and answers as RFC 6750 says.

    Args:
        keys: A :class:`~jwkscache.JWKSCache`, or any object with its ``decode`` and
            ``decode_async``.
        audience: The expected ``aud`` (a string or a list); ``None`` skips the check.
        issuer: The expected ``iss``; ``None`` leaves it to ``keys`` (a cache made by
            ``JWKSCache.from_issuer`` checks its issuer).
        algorithms: The allowed ``alg`` values; ``None`` leaves it to ``keys``.
        leeway: Seconds of clock skew allowed on ``exp``, ``nbf`` and ``iat``.
        options: PyJWT's ``options`` for ``decode`` (``require``, ``verify_exp`` ...), over
            the default ``{"require": ["exp"]}``: a token without ``exp`` (one that never
            expires) is refused unless ``options`` sets its own ``require`` (``[]`` to opt
            out).
        scope_claims: The claims scopes are read from.
        realm: The ``realm`` of the challenge, if any.
        max_token_bytes: The longest token read from the header; longer ones are refused
            before any parsing.
        retry_after: The ``Retry-After`` seconds of a 503.
    """

    def __init__(
        self,
        keys: KeySource,
        *,
        audience: str | Sequence[str] | None = None,
        issuer: str | Sequence[str] | None = None,
        algorithms: Sequence[str] | None = None,
        leeway: float | timedelta = 0,
        options: Mapping[str, Any] | None = None,
        scope_claims: Sequence[str] = ("scope", "scp"),
        realm: str | None = None,
        max_token_bytes: int = 16384,
        retry_after: int = 30,
    ) -> None:
        if not isinstance(leeway, (int, float, timedelta)) or isinstance(leeway, bool):
            raise TypeError(f"leeway must be seconds or a timedelta, not {leeway!r}")
        if isinstance(scope_claims, str):
            raise TypeError("scope_claims must be a list of claim names, not one string")
        if any(
            not isinstance(n, int) or isinstance(n, bool) for n in (retry_after, max_token_bytes)
        ):
            raise TypeError("retry_after and max_token_bytes must be integers")
        if realm is not None and not isinstance(realm, str):
            raise TypeError(f"realm must be a string, not {realm!r}")
        if max_token_bytes < 1 or retry_after < 0:
            raise ValueError("max_token_bytes must be positive and retry_after not negative")
        self.keys = keys
        self._syntax_checked_by_keys = isinstance(keys, JWKSCache)
        self.realm = realm
        self.scope_claims = tuple(scope_claims)
        self.max_token_bytes = max_token_bytes
        self.retry_after = retry_after
        kwargs: dict[str, Any] = {"audience": audience, "issuer": issuer, "leeway": leeway or None}
        # Fail closed: a token without exp would be valid forever. An explicit "require"
        # (even []) replaces the default.
        kwargs.update(options={**_DEFAULT_OPTIONS, **(options or {})}, algorithms=algorithms)
        self._decode_kwargs = {name: value for name, value in kwargs.items() if value is not None}
        # A JWKSCache answers from its cached keys without any I/O, or says a fetch is due:
        # the common path then costs no coroutine (decode_async does the same split).
        self._decode_no_io: Callable[[str], dict[str, Any] | None] | None = None
        if isinstance(keys, JWKSCache):
            self._decode_no_io = functools.partial(keys._decode_no_io, **self._decode_kwargs)
        # The longest header value worth reading: the scheme, a space and the longest token.
        self._max_header = max_token_bytes + 64

    def __repr__(self) -> str:
        return f"BearerAuth({self.keys!r}, realm={self.realm!r})"

    def token_from_header(self, authorization: HeaderValue) -> str:
        """The bearer token of an ``Authorization`` header, syntax checked, not verified.

        Args:
            authorization: The header's value; ``None`` when absent; a sequence when the
                framework gives every value of a repeated header.

        Raises:
            MissingTokenError: No header, or another scheme.
            InvalidRequestError: A malformed header, or the header given twice.
            InvalidTokenError: A token longer than ``max_token_bytes``.
        """
        token = self._token(authorization)
        if self._syntax_checked_by_keys:
            self._check_b64token(token)
        return token

    def _token(self, authorization: HeaderValue) -> str:
        """:meth:`token_from_header`, less the b64token check when ``keys`` make it.

        A :class:`~jwkscache.JWKSCache` refuses any token outside the JWS compact syntax (a
        subset of b64token), so the check then runs only once a decode has failed, to tell a
        malformed request (400) from a refused token (401): 0.8 µs less per request.
        """
        if authorization is not None and not isinstance(authorization, str):
            values = list(authorization)
            if len(values) > 1:
                raise self._invalid_request("The Authorization header is given more than once")
            authorization = values[0] if values else None
        if authorization is None:
            raise MissingTokenError(realm=self.realm)
        if len(authorization) > self._max_header:
            scheme = authorization[:16].lstrip(_OWS).partition(" ")[0]
            if scheme.lower() != "bearer":
                raise MissingTokenError(realm=self.realm)
            raise InvalidTokenError(
                f"The token is over the {self.max_token_bytes}-byte limit", realm=self.realm
            )
        if "," in authorization and _JOINED_BEARER.search(authorization):
            # A repeated header joined by the server ("Basic x, Bearer t"): a b64token has
            # no comma, so a comma then "bearer" is a second value, whatever came first.
            raise self._invalid_request("The Authorization header is given more than once")
        scheme, _, token = authorization.strip(_OWS).partition(" ")
        if scheme.lower() != "bearer":
            if scheme and not _SCHEME.fullmatch(scheme):
                raise self._invalid_request("The Authorization header is malformed")
            raise MissingTokenError(realm=self.realm)  # no credentials, or another scheme
        token = token.lstrip(" ")
        if not token:
            raise self._invalid_request("The Authorization header has no bearer token")
        if not self._syntax_checked_by_keys or len(token) > self.max_token_bytes:
            self._check_b64token(token)
        if len(token) > self.max_token_bytes:
            raise InvalidTokenError(
                f"The token is over the {self.max_token_bytes}-byte limit", realm=self.realm
            )
        return token

    def _check_b64token(self, token: str) -> None:
        body = token.encode().rstrip(b"=") if token.isascii() else b"\x00"
        if not body or body.translate(None, _B64BYTES):
            if "," in token:  # WSGI servers join a repeated header's values with ", "
                raise self._invalid_request("The Authorization header is given more than once")
            raise self._invalid_request("The bearer token has characters outside b64token")

    def authenticate(
        self, authorization: HeaderValue, required_scopes: Iterable[str] = ()
    ) -> VerifiedToken:
        """Verifies the request's bearer token (may wait on the issuer: use it in sync code).

        Args:
            authorization: The ``Authorization`` header (see :meth:`token_from_header`).
            required_scopes: Scopes the token must carry, every one of them.

        Returns:
            The verified token.

        Raises:
            BearerError: One of its subclasses, carrying the answer to send.
        """
        required = check_scope_names(required_scopes)
        token = self._token(authorization)
        try:
            claims = self.keys.decode(token, **self._decode_kwargs)
        except jwt.PyJWTError as exc:
            raise self._refusal(exc, token) from exc
        return self._with_scopes(self._verified(claims, token), required)

    async def authenticate_async(
        self, authorization: HeaderValue, required_scopes: Iterable[str] = ()
    ) -> VerifiedToken:
        """:meth:`authenticate` for async code: inline on cached keys, any fetch in a thread."""
        required = check_scope_names(required_scopes)
        token = self._token(authorization)
        try:
            claims: dict[str, Any] | None
            if self._decode_no_io is None:
                claims = await self.keys.decode_async(token, **self._decode_kwargs)
            else:
                claims = self._decode_no_io(token)
                if claims is None:  # a fetch is due: in a worker thread
                    claims = await _to_thread(self.keys.decode, token, **self._decode_kwargs)
        except jwt.PyJWTError as exc:
            raise self._refusal(exc, token) from exc
        return self._with_scopes(self._verified(claims, token), required)

    def check_scopes(self, token: VerifiedToken, required_scopes: Iterable[str]) -> VerifiedToken:
        """Returns ``token`` if it carries every required scope.

        Raises:
            InsufficientScopeError: A scope is missing.
        """
        return self._with_scopes(token, check_scope_names(required_scopes))

    def _with_scopes(self, token: VerifiedToken, required: tuple[str, ...]) -> VerifiedToken:
        if required and not token.scopes.issuperset(required):
            raise InsufficientScopeError(required, realm=self.realm)
        return token

    def missing_token(self) -> MissingTokenError:
        """The plain challenge (401, no ``error``) with this auth's realm."""
        return MissingTokenError(realm=self.realm)

    def insufficient_scope(self, required_scopes: Iterable[str]) -> InsufficientScopeError:
        """The 403 ``insufficient_scope`` answer for ``required_scopes``."""
        return InsufficientScopeError(check_scope_names(required_scopes), realm=self.realm)

    def _verified(self, claims: dict[str, Any], token: str) -> VerifiedToken:
        return VerifiedToken.from_claims(claims, token, self.scope_claims)

    def _invalid_request(self, description: str) -> InvalidRequestError:
        return InvalidRequestError(description, realm=self.realm)

    def _refusal(self, exc: jwt.PyJWTError, token: str | None = None) -> BearerError:
        if token is not None and self._syntax_checked_by_keys:
            self._check_b64token(token)  # a malformed request is a 400, not a refused token
        # The issuer unreachable (an unknown kid whose refetch failed included): no keys to
        # judge with, so 503, checked first. SigningKeyNotFoundError is both an
        # InvalidTokenError and a PyJWKClientError: an unknown key refuses the token. Any
        # other client error means no keys to judge with.
        if isinstance(exc, jwt.PyJWKClientConnectionError):
            return IssuerUnavailableError(retry_after=self.retry_after, realm=self.realm)
        if isinstance(exc, jwt.InvalidTokenError):
            return InvalidTokenError(str(exc) or type(exc).__name__, realm=self.realm)
        return IssuerUnavailableError(retry_after=self.retry_after, realm=self.realm)
