"""One Django configuration for the in-process Django and DRF tests (settings once per process).

``setup()`` configures it; each test points ``JWKSCACHE`` at its ``LocalIssuer`` with
``override_settings`` (see ``jwkscache_settings``). The URLconf is this module.
"""

from __future__ import annotations

from typing import Any, ClassVar

import django
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import path

from _bearer_cases import AUDIENCE, REALM, SCOPE
from jwkscache.testing import LocalIssuer


def setup() -> None:
    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        SECRET_KEY="not-a-secret: tests only",
        ALLOWED_HOSTS=["testserver", "127.0.0.1", "localhost"],
        ROOT_URLCONF="_django_project",
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "rest_framework",
            "jwkscache.django",
        ],
        MIDDLEWARE=["jwkscache.django.JWKSAuthMiddleware"],
        DATABASES={},
        USE_TZ=True,
        JWKSCACHE={"ISSUER": "https://issuer.invalid", "AUDIENCE": AUDIENCE},
        REST_FRAMEWORK={
            "DEFAULT_AUTHENTICATION_CLASSES": [],
            "DEFAULT_PERMISSION_CLASSES": [],
            "UNAUTHENTICATED_USER": None,
        },
    )
    django.setup()


def jwkscache_settings(issuer: LocalIssuer, **extra: Any) -> dict[str, Any]:
    """``settings.JWKSCACHE`` for a test's issuer."""
    return {
        "ISSUER": issuer.issuer,
        "AUDIENCE": AUDIENCE,
        "REALM": REALM,
        "EXEMPT_PATHS": ["/health", "/api/"],
        "CACHE": {"timeout": 5},
        **extra,
    }


setup()

# Views and URLs: imported after setup() (DRF reads the settings on import).
from django.contrib.auth.decorators import login_required  # noqa: E402
from rest_framework.permissions import BasePermission, IsAuthenticated  # noqa: E402
from rest_framework.request import Request  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

from jwkscache.django import scopes_required  # noqa: E402
from jwkscache.django.rest_framework import HasScopes, JWKSAuthentication  # noqa: E402


def _welcome(request: HttpRequest) -> JsonResponse:
    token = request.jwt  # type: ignore[attr-defined]
    assert request.user.username == token.subject  # type: ignore[union-attr]
    return JsonResponse({"sub": token.subject, "scopes": sorted(token.scopes)})


@scopes_required(SCOPE)
def orders(request: HttpRequest) -> JsonResponse:
    return _welcome(request)


@scopes_required(SCOPE)
async def orders_async(request: HttpRequest) -> JsonResponse:
    return _welcome(request)


def whoami(request: HttpRequest) -> JsonResponse:
    token = getattr(request, "jwt", "unset")
    user = request.user  # set by JWKSAuthMiddleware, without django.contrib.auth's middleware
    return JsonResponse(
        {
            "jwt": token if token in (None, "unset") else token.subject,
            "user": [user.pk, user.is_authenticated, sorted(user.scopes)],  # type: ignore[union-attr]
        }
    )


@login_required
async def private_async(request: HttpRequest) -> JsonResponse:
    user = await request.auser()
    return JsonResponse({"user": user.pk, "same": user is request.user})


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"jwt": getattr(request, "jwt", "unset")})


class ApiOrders(APIView):
    authentication_classes: ClassVar[list[Any]] = [JWKSAuthentication]
    permission_classes: ClassVar[list[Any]] = [HasScopes]
    required_scopes: ClassVar[list[Any]] = [SCOPE]

    def get(self, request: Request) -> Response:
        return Response({"sub": request.user.username, "scopes": sorted(request.auth.scopes)})


class ApiMe(APIView):
    authentication_classes: ClassVar[list[Any]] = [JWKSAuthentication]
    permission_classes: ClassVar[list[Any]] = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response({"sub": request.user.pk, "iss": request.auth.issuer})


class ApiScopesAsString(ApiOrders):
    required_scopes = SCOPE  # type: ignore[assignment]  # one string: a list of one


class _Never(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return False


class _Always(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return True


class ApiScopesOrNever(ApiOrders):
    permission_classes: ClassVar[list[Any]] = [HasScopes | _Never]


class ApiScopesOrAnyone(APIView):
    authentication_classes: ClassVar[list[Any]] = [JWKSAuthentication]
    permission_classes: ClassVar[list[Any]] = [HasScopes | _Always]
    required_scopes: ClassVar[list[Any]] = [SCOPE]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class ApiNoScopesSet(APIView):
    authentication_classes: ClassVar[list[Any]] = [JWKSAuthentication]
    permission_classes: ClassVar[list[Any]] = [HasScopes]

    def get(self, request: Request) -> Response:
        return Response("never")


urlpatterns = [
    path("orders", orders),
    path("orders-async", orders_async),
    path("whoami", whoami),
    path("health", health),
    path("private-async", private_async),
    path("api/orders", ApiOrders.as_view()),
    path("api/me", ApiMe.as_view()),
    path("api/misconfigured", ApiNoScopesSet.as_view()),
    path("api/scopes-as-string", ApiScopesAsString.as_view()),
    path("api/scopes-or-never", ApiScopesOrNever.as_view()),
    path("api/scopes-or-anyone", ApiScopesOrAnyone.as_view()),
]
