"""``scopes_required``: a view decorator for sync and async views."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest

from jwkscache.bearer import VerifiedToken, check_scope_names
from jwkscache.django.conf import get_auth
from jwkscache.django.responses import bearer_response

__all__ = ["scopes_required"]

F = TypeVar("F", bound=Callable[..., Any])


def scopes_required(*scopes: str) -> Callable[[F], F]:
    """The view needs a verified token (``request.jwt``) carrying every one of ``scopes``.

    Without a token: the 401 challenge; a scope missing: 403 ``insufficient_scope``. Needs
    :class:`~jwkscache.django.JWKSAuthMiddleware` (which sets ``request.jwt``).
    """
    required = check_scope_names(scopes)

    def refusal(request: HttpRequest) -> Any:
        token = getattr(request, "jwt", None)
        if isinstance(token, VerifiedToken) and token.scopes.issuperset(required):
            return None
        auth = get_auth()
        if not isinstance(token, VerifiedToken):
            return bearer_response(auth.missing_token())
        if not token.has_scopes(*required):
            return bearer_response(auth.insufficient_scope(required))
        return None

    def decorator(view: F) -> F:
        if iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                refused = refusal(request)
                if refused is not None:
                    return refused
                return await view(request, *args, **kwargs)

            return cast(F, async_view)

        @functools.wraps(view)
        def sync_view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            refused = refusal(request)
            return refused if refused is not None else view(request, *args, **kwargs)

        return cast(F, sync_view)

    return decorator
