"""Django: ``settings.JWKSCACHE``, system checks, ``JWKSAuthMiddleware``, ``scopes_required``.

Example:
    ``settings.py``::

        INSTALLED_APPS = [..., "jwkscache.django"]          # the system checks
        MIDDLEWARE = [..., "jwkscache.django.JWKSAuthMiddleware"]
        JWKSCACHE = {"ISSUER": "https://issuer.example", "AUDIENCE": "orders-api"}

    ``views.py``::

        @scopes_required("orders:read")
        def orders(request):
            return JsonResponse({"owner": request.user.username})

DRF: :mod:`jwkscache.django.rest_framework`. Needs the ``django`` extra:
``pip install "jwkscache[django]"``.
"""

from __future__ import annotations

try:
    import django  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError('jwkscache.django needs Django: pip install "jwkscache[django]"') from exc

from jwkscache.django.conf import get_auth, get_keys, get_settings
from jwkscache.django.decorators import scopes_required
from jwkscache.django.middleware import JWKSAuthMiddleware
from jwkscache.django.responses import bearer_response
from jwkscache.django.user import AnonymousTokenUser, TokenUser

__all__ = [
    "AnonymousTokenUser",
    "JWKSAuthMiddleware",
    "TokenUser",
    "bearer_response",
    "get_auth",
    "get_keys",
    "get_settings",
    "scopes_required",
]
