"""Flask: the ``JWKSAuth`` extension, a ``required`` view decorator and ``current_token``.

Example:
    ::

        app = Flask(__name__)
        app.config["JWKSCACHE_ISSUER"] = "https://issuer.example"
        app.config["JWKSCACHE_AUDIENCE"] = "orders-api"
        auth = JWKSAuth(app)          # or JWKSAuth() then auth.init_app(app)

        @app.get("/orders")
        @auth.required(scopes=["orders:read"])
        def orders():
            return {"owner": current_token.subject}

The settings have Django's names with a ``JWKSCACHE_`` prefix: ``JWKSCACHE_ISSUER``,
``JWKSCACHE_JWKS_URI``, ``JWKSCACHE_AUDIENCE``, ``JWKSCACHE_NO_AUDIENCE_REASON``,
``JWKSCACHE_ALGORITHMS``, ``JWKSCACHE_LEEWAY``, ``JWKSCACHE_SCOPE_CLAIMS``,
``JWKSCACHE_REALM``, ``JWKSCACHE_RETRY_AFTER``, ``JWKSCACHE_OPTIONS`` (PyJWT's ``decode``
options, over the default ``{"require": ["exp"]}``) and ``JWKSCACHE_CACHE`` (``JWKSCache``
options). A misconfiguration is a ``ValueError`` at ``init_app``, not at the first request;
so are Django's ``REQUIRED`` and ``EXEMPT_PATHS`` (Flask protects each view with
``required``).
Refusals are :mod:`jwkscache.bearer`'s RFC 6750 JSON answers: ``required`` returns them
as the view's response (so no blueprint error handler can swallow them), and the extension
registers an error handler for a ``BearerError`` raised anywhere else.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

try:
    from flask import Flask, Response, current_app, g, jsonify, request
    from werkzeug.local import LocalProxy
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError('jwkscache.flask needs Flask: pip install "jwkscache[flask]"') from exc

from jwkscache._settings import Problem, Settings
from jwkscache.bearer import (
    BearerAuth,
    BearerError,
    KeySource,
    MissingTokenError,
    VerifiedToken,
    check_scope_names,
)

__all__ = ["JWKSAuth", "VerifiedToken", "bearer_response", "current_token", "get_current_token"]

F = TypeVar("F", bound=Callable[..., Any])
_EXTENSION = "jwkscache"
_PREFIX = "JWKSCACHE_"
_DJANGO_ONLY = ("REQUIRED", "EXEMPT_PATHS")


def get_current_token() -> VerifiedToken | None:
    """The request's ``VerifiedToken``, or ``None`` (an ``optional=True`` view called without
    bearer credentials, or outside a ``required`` view).

    Use it in optional views: ``if (token := get_current_token()) is None: ...``.
    """
    return cast("VerifiedToken | None", g.get("_jwkscache_token"))


#: The ``VerifiedToken`` of a ``required`` view's request: a proxy, typed for required
#: views. It is never ``is None`` (a proxy): in an ``optional=True`` view use
#: :func:`get_current_token`, or test it with ``if current_token:``.
current_token: VerifiedToken = LocalProxy(get_current_token)  # type: ignore[assignment]


def bearer_response(error: BearerError) -> Response:
    """The RFC 6750 JSON response for ``error``."""
    response = jsonify(error.body)
    response.status_code = error.status_code
    response.headers.update(error.headers)
    return response


class JWKSAuth:
    """The Flask extension: one ``BearerAuth`` per app, in ``app.extensions["jwkscache"]``.

    Args:
        app: The app to initialise now (or call :meth:`init_app` later).
        keys: Verify with these keys instead of building a ``JWKSCache`` from the config
            (tests, or a cache shared with other code).
    """

    def __init__(self, app: Flask | None = None, *, keys: KeySource | None = None) -> None:
        self.keys = keys
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Reads ``app.config``, builds the cache and registers the error handler.

        Raises:
            ValueError: The ``JWKSCACHE_*`` settings are missing or wrong.
        """
        values = {k[len(_PREFIX) :]: v for k, v in app.config.items() if k.startswith(_PREFIX)}
        settings = Settings.from_mapping(values)
        problems = settings.problems(keys_given=self.keys is not None, prefix="JWKSCACHE_*")
        django_only = [_PREFIX + name for name in _DJANGO_ONLY if name in values]
        if django_only:  # accepted and ignored, they would suggest views are protected
            problems.insert(
                0,
                Problem(
                    "jwkscache.E005",
                    f"{', '.join(django_only)}: Django's middleware settings, not used by Flask",
                    "Remove them: protect each view with @auth.required(...) "
                    "(optional=True lets a request without a token through).",
                ),
            )
        if problems:
            raise ValueError("; ".join(f"{p.message} ({p.id}): {p.hint}" for p in problems))
        keys = self.keys if self.keys is not None else settings.build_keys()
        app.extensions[_EXTENSION] = settings.bearer_auth(keys)
        app.register_error_handler(BearerError, bearer_response)

    @staticmethod
    def auth(app: Flask | None = None) -> BearerAuth:
        """The app's ``BearerAuth`` (the current app's by default)."""
        found = (app or current_app).extensions.get(_EXTENSION)
        if not isinstance(found, BearerAuth):
            raise RuntimeError("JWKSAuth.init_app(app) was not called for this app")
        return found

    def required(self, *, scopes: Iterable[str] = (), optional: bool = False) -> Callable[[F], F]:
        """A view decorator: a verified token with ``scopes``, else the RFC 6750 answer.

        Works on sync and async views; in the view the token is :data:`current_token` (or
        :func:`get_current_token`, which is ``None`` in an optional view without one).

        Args:
            scopes: Every scope the token must carry.
            optional: A request without bearer credentials reaches the view with
                ``get_current_token()`` ``None`` (``current_token`` is a proxy to it:
                false, but never ``is None``); a bad token is refused all the same.
        """
        required = check_scope_names(scopes)

        def decorator(func: F) -> F:
            # A refusal is returned as the view's response, not raised: Flask looks up a
            # blueprint's handlers first, and a catch-all @bp.errorhandler(Exception) would
            # turn it into a 500 without its challenge.
            if inspect.iscoroutinefunction(func):

                @functools.wraps(func)
                async def async_view(*args: Any, **kwargs: Any) -> Any:
                    auth = self.auth()
                    header = request.environ.get("HTTP_AUTHORIZATION")  # repeats joined by WSGI
                    try:
                        g._jwkscache_token = await auth.authenticate_async(header, required)
                    except MissingTokenError as error:
                        if not optional:
                            return bearer_response(error)
                        g._jwkscache_token = None
                    except BearerError as error:
                        return bearer_response(error)
                    return await func(*args, **kwargs)

                return cast(F, async_view)

            @functools.wraps(func)
            def sync_view(*args: Any, **kwargs: Any) -> Any:
                auth = self.auth()
                header = request.environ.get("HTTP_AUTHORIZATION")  # repeats joined by WSGI
                try:
                    g._jwkscache_token = auth.authenticate(header, required)
                except MissingTokenError as error:
                    if not optional:
                        return bearer_response(error)
                    g._jwkscache_token = None
                except BearerError as error:
                    return bearer_response(error)
                return func(*args, **kwargs)

            return cast(F, sync_view)

        return decorator
