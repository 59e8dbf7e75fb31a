"""FastAPI: ``JWKSBearer``, an ``HTTPBearer`` that verifies the token with ``jwkscache``.

Example:
    ::

        keys = jwkscache.JWKSCache.from_issuer("https://issuer.example")
        auth = JWKSBearer(keys, audience="orders-api")

        @app.get("/orders")
        async def orders(token: VerifiedToken = Security(auth, scopes=["orders:read"])):
            return {"owner": token.subject}

The answers are :mod:`jwkscache.bearer`'s, raised as an ``HTTPException`` (FastAPI's own
handler renders it): the status, the ``WWW-Authenticate`` (or ``Retry-After``) header, and
``{"detail": {"error": ..., "error_description": ...}}``. On a WebSocket route a refused
token closes the connection with code 1008 (1013 while the issuer is unreachable).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

try:
    from fastapi import HTTPException, WebSocketException
    from fastapi.openapi.models import OpenIdConnect
    from fastapi.security import HTTPBearer, SecurityScopes
    from starlette.requests import HTTPConnection
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError('jwkscache.fastapi needs FastAPI: pip install "jwkscache[fastapi]"') from exc

from jwkscache.bearer import (
    BearerAuth,
    BearerError,
    IssuerUnavailableError,
    KeySource,
    MissingTokenError,
    VerifiedToken,
)

__all__ = ["BearerHTTPException", "JWKSBearer", "VerifiedToken"]

# RFC 6455 close codes: 1008 policy violation, 1013 try again later.
WS_POLICY_VIOLATION = 1008
WS_TRY_AGAIN_LATER = 1013
_SCOPE_KEY = "jwkscache.verified"


class BearerHTTPException(HTTPException):
    """The ``HTTPException`` a refused request raises; ``bearer_error`` is the core's answer."""

    def __init__(self, error: BearerError) -> None:
        super().__init__(error.status_code, detail=error.body, headers=error.headers)
        self.bearer_error = error


class JWKSBearer(HTTPBearer):
    """A FastAPI security dependency: the bearer token, verified, as a ``VerifiedToken``.

    Use it with ``Depends(auth)`` or ``Security(auth, scopes=[...])``; scopes given at router
    and route level combine, and the token is verified once per request however many times
    the dependency appears. Any fetch of the issuer's keys runs in a worker thread, never on
    the event loop.

    Args:
        keys: A :class:`~jwkscache.JWKSCache` (build it once per process) or an object with
            its ``decode`` and ``decode_async``.
        audience: The expected ``aud``.
        issuer: The expected ``iss`` (``None``: the cache's own).
        algorithms: The allowed ``alg`` values (``None``: the cache's).
        leeway: Clock skew allowed, in seconds.
        options: PyJWT's ``options`` for ``decode``.
        scope_claims: The claims scopes are read from.
        realm: The challenge's ``realm``.
        max_token_bytes: The longest token read from the header.
        retry_after: ``Retry-After`` seconds of a 503.
        auto_error: ``False`` gives ``None`` for a request without bearer credentials
            (optional authentication); a bad token is refused all the same.
        scheme_name: The scheme's name in the OpenAPI schema.
        description: The scheme's description in the OpenAPI schema.
        bearer_format: The OpenAPI ``bearerFormat`` (``"JWT"``).
        openid_connect_url: Describe the scheme in OpenAPI as OpenID Connect, with this
            discovery URL (``https://issuer/.well-known/openid-configuration``).
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
        auto_error: bool = True,
        scheme_name: str | None = None,
        description: str | None = None,
        bearer_format: str | None = "JWT",
        openid_connect_url: str | None = None,
    ) -> None:
        super().__init__(
            bearerFormat=bearer_format,
            scheme_name=scheme_name,
            description=description,
            auto_error=auto_error,
        )
        if openid_connect_url is not None:
            self.model = OpenIdConnect(  # type: ignore[assignment]
                openIdConnectUrl=openid_connect_url, description=description
            )
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

    # FastAPI reads this signature: the connection (HTTP or WebSocket) and the scopes.
    async def __call__(  # type: ignore[override]
        self, request: HTTPConnection, security_scopes: SecurityScopes
    ) -> VerifiedToken | None:
        """Verifies the request's token (once per request) and checks the scopes."""
        # FastAPI calls a dependency once per set of scopes: keep the outcome per request,
        # in the ASGI scope (one dict for the whole request, whatever wraps it).
        scope = request.scope
        outcomes: dict[int, VerifiedToken | BearerError | None] | None = scope.get(_SCOPE_KEY)
        if outcomes is None:
            outcomes = scope[_SCOPE_KEY] = {}
        key = id(self)
        outcome: VerifiedToken | BearerError | None
        if key in outcomes:
            outcome = outcomes[key]
        else:
            try:
                authorization = request.headers.getlist("authorization")
                outcome = await self.auth.authenticate_async(authorization)
            except MissingTokenError as error:
                outcome = None if not self.auto_error else error
            except BearerError as error:
                outcome = error
            outcomes[key] = outcome
        try:
            if isinstance(outcome, BearerError):
                raise outcome
            if outcome is None:
                return None
            return self.auth.check_scopes(outcome, security_scopes.scopes)
        except BearerError as error:
            raise self._exception(request, error) from None

    @staticmethod
    def _exception(request: HTTPConnection, error: BearerError) -> Exception:
        if request.scope["type"] == "websocket":
            unavailable = isinstance(error, IssuerUnavailableError)
            code = WS_TRY_AGAIN_LATER if unavailable else WS_POLICY_VIOLATION
            return WebSocketException(code=code, reason=error.description)
        return BearerHTTPException(error)
