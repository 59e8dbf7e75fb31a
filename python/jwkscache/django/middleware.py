"""``JWKSAuthMiddleware``: bearer tokens on every request, sync and async alike.

Add it to ``MIDDLEWARE`` after ``django.contrib.auth``'s ``AuthenticationMiddleware`` (if
you use that one): a verified token sets ``request.user`` (and ``request.auser``, for async
code) to a :class:`~jwkscache.django.TokenUser` and ``request.jwt`` to the
:class:`~jwkscache.bearer.VerifiedToken`. A refused token is answered at once with the
RFC 6750 response, never let through as anonymous. A request with a verified token is exempt
from ``CsrfViewMiddleware`` (a browser never sends a bearer token by itself). A request
without a token gets the 401 challenge when ``REQUIRED`` (the default), else goes on with
``request.jwt = None`` (and, when no other middleware set one, ``request.user`` an
:class:`~jwkscache.django.AnonymousTokenUser`). Paths in ``EXEMPT_PATHS`` go on untouched
(an entry ending in ``/`` is a prefix, except ``/`` itself: the root only).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_vary_headers

from jwkscache.bearer import BearerError, MissingTokenError, VerifiedToken
from jwkscache.django.conf import get_auth, get_settings
from jwkscache.django.responses import bearer_response
from jwkscache.django.user import ANONYMOUS, AnonymousTokenUser, TokenUser

__all__ = ["JWKSAuthMiddleware"]


class JWKSAuthMiddleware:
    """Verifies the bearer token of each request (see the module's description).

    Both sync and async capable: under ASGI Django calls it on the event loop and it runs
    any fetch of the issuer's keys in a worker thread; under WSGI it verifies inline.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)
        get_auth()  # now, at startup: a bad setting fails here, and a preload fork inherits it

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        if get_settings().is_exempt(request.path_info):
            return self.get_response(request)
        try:
            token = get_auth().authenticate(request.META.get("HTTP_AUTHORIZATION"))
        except BearerError as error:
            refusal = self._refusal(request, error)
            if refusal is not None:
                return refusal
            token = None
        self._attach(request, token)
        return self._vary(self.get_response(request))

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        if get_settings().is_exempt(request.path_info):
            response: HttpResponseBase = await self.get_response(request)
            return response
        try:
            token = await get_auth().authenticate_async(request.META.get("HTTP_AUTHORIZATION"))
        except BearerError as error:
            refusal = self._refusal(request, error)
            if refusal is not None:
                return refusal
            token = None
        self._attach(request, token)
        get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
        return self._vary(await get_response(request))

    @staticmethod
    def _refusal(request: HttpRequest, error: BearerError) -> HttpResponseBase | None:
        if isinstance(error, MissingTokenError) and not get_settings().required:
            return None
        return bearer_response(error)

    @staticmethod
    def _attach(request: HttpRequest, token: VerifiedToken | None) -> None:
        request.jwt = token  # type: ignore[attr-defined]
        if token is not None:
            user = TokenUser(token)
            request.user = user  # type: ignore[assignment]

            async def auser() -> TokenUser:  # Django 5's async login_required awaits it
                return user

            request.auser = auser  # type: ignore[assignment]
            # A bearer token is not sent by a browser on its own (unlike a cookie): a
            # cross-site request cannot forge it, so CsrfViewMiddleware need not check.
            request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
        elif not hasattr(request, "user"):  # no auth middleware: anonymous, never missing
            request.user = ANONYMOUS  # type: ignore[assignment]

            async def anonymous() -> AnonymousTokenUser:
                return ANONYMOUS

            request.auser = anonymous  # type: ignore[assignment]

    @staticmethod
    def _vary(response: HttpResponseBase) -> HttpResponseBase:
        if response.has_header("Vary"):
            patch_vary_headers(response, ("Authorization",))
        else:  # the common case, without patch_vary_headers' parsing
            response.headers["Vary"] = "Authorization"
        return response
