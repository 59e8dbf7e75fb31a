"""Starlette: an ``AuthenticationBackend`` for the stock ``AuthenticationMiddleware``.

Example:
    ::

        backend = JWKSAuthBackend(keys, audience="orders-api")
        app = Starlette(
            routes=[Route("/orders", orders)],
            middleware=[
                Middleware(AuthenticationMiddleware, backend=backend, on_error=backend.on_error)
            ],
        )

        @requires_scopes("orders:read")
        async def orders(request):
            return JSONResponse({"owner": request.user.identity})

A request without bearer credentials is anonymous (``request.user.is_authenticated`` is
false); a malformed header or a refused token is answered at once through ``on_error`` with
:mod:`jwkscache.bearer`'s RFC 6750 response. Over a WebSocket the stock middleware closes
the connection (code 1000) instead.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any, TypeVar

try:
    from starlette.authentication import (
        AuthCredentials,
        AuthenticationBackend,
        AuthenticationError,
        BaseUser,
    )
    from starlette.requests import HTTPConnection
    from starlette.responses import JSONResponse, PlainTextResponse, Response
    from starlette.websockets import WebSocket
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        'jwkscache.starlette needs Starlette: pip install "jwkscache[starlette]"'
    ) from exc

from jwkscache.bearer import (
    BearerAuth,
    BearerError,
    InsufficientScopeError,
    KeySource,
    MissingTokenError,
    VerifiedToken,
    check_scope_names,
)

__all__ = [
    "BearerAuthenticationError",
    "JWKSAuthBackend",
    "TokenUser",
    "bearer_response",
    "requires_scopes",
]

F = TypeVar("F", bound=Callable[..., Any])
WS_POLICY_VIOLATION = 1008
_REALM_KEY = "jwkscache.realm"


class TokenUser(BaseUser):
    """``request.user`` for a verified token.

    Attributes:
        token: The :class:`~jwkscache.bearer.VerifiedToken`.
    """

    def __init__(self, token: VerifiedToken) -> None:
        self.token = token

    @property
    def is_authenticated(self) -> bool:
        """Always true."""
        return True

    @property
    def identity(self) -> str:
        """The token's ``sub`` (``""`` without one)."""
        return self.token.subject or ""

    @property
    def display_name(self) -> str:
        """The token's ``sub`` (``""`` without one)."""
        return self.token.subject or ""

    @property
    def claims(self) -> dict[str, Any]:
        """The verified claims."""
        return self.token.claims

    @property
    def scopes(self) -> frozenset[str]:
        """The token's scopes."""
        return self.token.scopes

    def __repr__(self) -> str:
        return f"TokenUser({self.identity!r})"


class BearerAuthenticationError(AuthenticationError):
    """The ``AuthenticationError`` the backend raises; ``bearer_error`` holds the answer."""

    def __init__(self, error: BearerError) -> None:
        super().__init__(error.description)
        self.bearer_error = error


def bearer_response(error: BearerError) -> Response:
    """The RFC 6750 JSON response for ``error``."""
    return JSONResponse(error.body, status_code=error.status_code, headers=error.headers)


class JWKSAuthBackend(AuthenticationBackend):
    """Verifies the bearer token; ``request.auth.scopes`` are ``authenticated`` and its scopes.

    Args:
        keys: A :class:`~jwkscache.JWKSCache`, or an object with its ``decode`` and
            ``decode_async``.
        audience, issuer, algorithms, leeway, options, scope_claims, realm,
            max_token_bytes, retry_after: As :class:`~jwkscache.bearer.BearerAuth` takes them.
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
        self.auth = BearerAuth(
            keys,
            audience=audience,
            issuer=issuer,
            algorithms=algorithms,
            leeway=leeway,
            options=options,
            scope_claims=scope_claims,
            realm=realm,
            max_token_bytes=max_token_bytes,
            retry_after=retry_after,
        )

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        """The token's credentials and user; ``None`` (anonymous) without bearer credentials.

        Raises:
            BearerAuthenticationError: A malformed header, a refused token, or no keys.
        """
        conn.scope[_REALM_KEY] = self.auth.realm  # for requires_scopes(realm=None)
        try:
            token = await self.auth.authenticate_async(conn.headers.getlist("authorization"))
        except MissingTokenError:
            return None
        except BearerError as error:
            raise BearerAuthenticationError(error) from error
        return AuthCredentials(["authenticated", *sorted(token.scopes)]), TokenUser(token)

    @staticmethod
    def on_error(conn: HTTPConnection, exc: AuthenticationError) -> Response:
        """Pass as ``AuthenticationMiddleware(on_error=...)``: the RFC 6750 answer."""
        if isinstance(exc, BearerAuthenticationError):
            return bearer_response(exc.bearer_error)
        return PlainTextResponse(str(exc), status_code=400)  # another backend's error


def requires_scopes(*scopes: str, realm: str | None = None) -> Callable[[F], F]:
    """Like Starlette's ``requires``, with RFC 6750 answers.

    Unauthenticated: 401 with the challenge; a scope missing: 403 ``insufficient_scope``.
    Over a WebSocket either closes the connection with code 1008. The endpoint takes a
    ``request`` (or ``websocket``) argument, and may be sync or async.

    Args:
        scopes: Every scope the token must carry.
        realm: The challenge's ``realm``; ``None``: the ``JWKSAuthBackend``'s.
    """
    check_scope_names(scopes)

    def refusal(conn: HTTPConnection) -> BearerError | None:
        user = conn.scope.get("user")
        in_realm = realm if realm is not None else conn.scope.get(_REALM_KEY)
        if user is None or not user.is_authenticated:
            return MissingTokenError(realm=in_realm)
        granted = user.scopes if isinstance(user, TokenUser) else conn.auth.scopes
        if not set(scopes).issubset(granted):
            return InsufficientScopeError(scopes, realm=in_realm)
        return None

    def decorator(func: F) -> F:
        names = list(inspect.signature(func).parameters)
        kind = next((name for name in names if name in ("request", "websocket")), None)
        if kind is None:
            raise TypeError(f'no "request" or "websocket" argument on {func!r}')
        index = names.index(kind)

        def connection(args: tuple[Any, ...], kwargs: dict[str, Any]) -> HTTPConnection:
            conn = kwargs[kind] if kind in kwargs else args[index]
            assert isinstance(conn, HTTPConnection)
            return conn

        if kind == "websocket":

            @functools.wraps(func)
            async def websocket_wrapper(*args: Any, **kwargs: Any) -> Any:
                websocket = connection(args, kwargs)
                assert isinstance(websocket, WebSocket)
                error = refusal(websocket)
                if error is not None:
                    await websocket.close(WS_POLICY_VIOLATION, error.description)
                    return None
                return await func(*args, **kwargs)

            return websocket_wrapper  # type: ignore[return-value]

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                error = refusal(connection(args, kwargs))
                if error is not None:
                    return bearer_response(error)
                return await func(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            error = refusal(connection(args, kwargs))
            if error is not None:
                return bearer_response(error)
            return func(*args, **kwargs)

        return sync_wrapper  # type: ignore[return-value]

    return decorator
