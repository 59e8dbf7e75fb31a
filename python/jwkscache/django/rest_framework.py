"""Django REST framework: ``JWKSAuthentication`` and the ``HasScopes`` permission.

Example:
    ::

        class OrderList(APIView):
            authentication_classes = [JWKSAuthentication]
            permission_classes = [HasScopes]
            required_scopes = ["orders:read"]     # django-oauth-toolkit's convention

            def get(self, request):
                return Response({"owner": request.user.username, "iss": request.auth.issuer})

``request.user`` is a :class:`~jwkscache.django.TokenUser`, ``request.auth`` the
:class:`~jwkscache.bearer.VerifiedToken`. The settings are ``settings.JWKSCACHE``, as for
the middleware. A request without a bearer token is left to the next authenticator; a
refused one gets the RFC 6750 answer (401 with the challenge, never DRF's 403), a missing
scope a 403 ``insufficient_scope`` with its header, an issuer outage a 503.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured

try:
    from rest_framework import exceptions
    from rest_framework.authentication import BaseAuthentication
    from rest_framework.permissions import BasePermission
    from rest_framework.request import Request
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        'jwkscache.django.rest_framework needs Django REST framework: pip install "jwkscache[drf]"'
    ) from exc

from jwkscache.bearer import (
    BearerError,
    IssuerUnavailableError,
    MissingTokenError,
    VerifiedToken,
)
from jwkscache.django.conf import get_auth
from jwkscache.django.user import TokenUser

__all__ = ["BearerAPIException", "HasScopes", "JWKSAuthentication"]


class BearerAPIException(exceptions.APIException):
    """A DRF exception carrying a :class:`~jwkscache.bearer.BearerError`'s answer.

    DRF's exception handler sends ``status_code``, ``detail`` (the JSON body as is),
    ``auth_header`` (``WWW-Authenticate``) and ``wait`` (``Retry-After``).
    """

    def __init__(self, error: BearerError) -> None:
        super().__init__(detail=error.body)
        self.status_code = error.status_code
        self.bearer_error = error
        self.auth_header = error.headers.get("WWW-Authenticate")
        if isinstance(error, IssuerUnavailableError):
            self.wait = error.retry_after


class JWKSAuthentication(BaseAuthentication):
    """Authenticates a bearer token: ``(TokenUser, VerifiedToken)``, or ``None`` without one.

    When :class:`~jwkscache.django.JWKSAuthMiddleware` already verified the request's token
    (``request.jwt``), that one is used: a token is verified once.
    """

    def authenticate(self, request: Request) -> tuple[TokenUser, VerifiedToken] | None:
        """The token's user and the token; ``None`` without bearer credentials.

        Raises:
            BearerAPIException: A malformed header, a refused token, or no keys (503).
        """
        verified = getattr(request._request, "jwt", None)
        if not isinstance(verified, VerifiedToken):
            try:
                verified = get_auth().authenticate(request.META.get("HTTP_AUTHORIZATION"))
            except MissingTokenError:
                return None
            except BearerError as error:
                raise BearerAPIException(error) from error
        return TokenUser(verified), verified

    def authenticate_header(self, request: Request) -> str:
        """The plain challenge, so that DRF answers an unauthenticated request 401, not 403."""
        return get_auth().missing_token().headers["WWW-Authenticate"]


class HasScopes(BasePermission):
    """Allows a request whose token carries every scope of ``view.required_scopes``.

    ``required_scopes`` is a list of names, or one string of space-separated names. Listed
    on its own in ``permission_classes``, a refusal is the exact RFC 6750 answer: without a
    token 401 with the challenge, a scope missing 403 ``insufficient_scope`` with its
    ``WWW-Authenticate`` header. Composed (``HasScopes | IsAdminUser``, ``~HasScopes``) it
    only answers ``False`` (with ``message`` and ``code``), so the composition decides and
    DRF answers a refusal itself (401 with the challenge without a token, else 403). A view
    without ``required_scopes`` is refused (fail closed): set it to ``[]`` to ask for a
    token and no scope.
    """

    message: Any = None
    code: str | None = None

    def has_permission(self, request: Request, view: Any) -> bool:
        """Whether the token has the view's scopes (standalone: raises the RFC 6750 answer)."""
        required = getattr(view, "required_scopes", None)
        if required is None:
            raise ImproperlyConfigured(
                f"{type(view).__name__} has no required_scopes (HasScopes needs it)"
            )
        if isinstance(required, str):  # "orders:read", or "a b" as OAuth writes scopes
            required = required.split()
        auth = get_auth()
        token = request.auth
        error: BearerError
        if not isinstance(token, VerifiedToken):
            error = auth.missing_token()
        elif not token.has_scopes(*required):
            error = auth.insufficient_scope(required)
        else:
            return True
        if type(self) in getattr(view, "permission_classes", ()):  # standalone: exact answer
            raise BearerAPIException(error)
        self.message, self.code = error.body, error.error
        return False
