"""System checks (``manage.py check``, and at every startup) for ``settings.JWKSCACHE``.

(Outside management commands the app's ``ready()`` raises ``ImproperlyConfigured`` on the
same problems: servers such as gunicorn run no system checks.)

- ``jwkscache.E001``: neither ``ISSUER`` nor ``JWKS_URI``;
- ``jwkscache.E002``: no ``AUDIENCE`` (``None`` needs ``NO_AUDIENCE_REASON``);
- ``jwkscache.E003``: plain ``http://`` to a host that is not loopback;
- ``jwkscache.E004``: an algorithm jwkscache does not verify;
- ``jwkscache.E005``: an unknown setting (or ``JWKSCACHE`` not a dict);
- ``jwkscache.E006``: the ``JWKSCache`` cannot be built (``CACHE`` options, the URL), or a
  setting has the wrong type (``LEEWAY``, ``RETRY_AFTER`` ...);
- ``jwkscache.W001`` (a warning): ``JWKS_URI`` without ``ISSUER``, so ``iss`` is not checked.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from jwkscache._settings import Settings


@register("jwkscache")
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every problem of ``settings.JWKSCACHE``, each an ``Error`` (or ``Warning``) with its id."""
    current = Settings.from_mapping(getattr(settings, "JWKSCACHE", {}))
    found: list[CheckMessage] = [
        Error(problem.message, hint=problem.hint, id=problem.id)
        for problem in current.problems(prefix="settings.JWKSCACHE")
    ]
    found += [
        Warning(problem.message, hint=problem.hint, id=problem.id)
        for problem in current.warnings(prefix="settings.JWKSCACHE")
    ]
    return found
