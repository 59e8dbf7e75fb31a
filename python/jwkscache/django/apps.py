"""``INSTALLED_APPS = [..., "jwkscache.django"]``: registers the system checks.

Outside management commands (under gunicorn, uwsgi or an ASGI server, which run no system
checks) a misconfigured ``settings.JWKSCACHE`` also fails at startup, in ``ready()``, so a
DRF-only setup (no middleware built at startup) does not find it at its first request.
"""

from __future__ import annotations

import sys
from pathlib import Path

from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured


def _management_command() -> bool:
    """Whether this process is ``manage.py ...`` / ``django-admin ...`` (checks report there)."""
    program = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    if program.name == "__main__.py":  # python -m django
        return program.parent.name == "django"
    return program.name in ("manage.py", "django-admin", "django-admin.py")


class JWKSCacheConfig(AppConfig):
    """jwkscache's Django app: no models, the ``settings.JWKSCACHE`` checks."""

    name = "jwkscache.django"
    label = "jwkscache"
    verbose_name = "jwkscache"

    def ready(self) -> None:
        """Registers the checks; outside management commands, fails on a misconfiguration.

        Raises:
            ImproperlyConfigured: ``settings.JWKSCACHE`` has a problem the checks report.
        """
        from django.conf import settings

        from jwkscache._settings import Settings
        from jwkscache.django import checks  # noqa: F401

        if _management_command():
            return
        problems = Settings.from_mapping(getattr(settings, "JWKSCACHE", {})).problems(
            prefix="settings.JWKSCACHE"
        )
        if problems:
            raise ImproperlyConfigured(
                "; ".join(f"{p.message} ({p.id}): {p.hint}" for p in problems)
            )
