"""``INSTALLED_APPS = [..., "jwkscache.django"]``: registers the system checks."""

from __future__ import annotations

from django.apps import AppConfig


class JWKSCacheConfig(AppConfig):
    """jwkscache's Django app: no models, the ``settings.JWKSCACHE`` checks."""

    name = "jwkscache.django"
    label = "jwkscache"
    verbose_name = "jwkscache"

    def ready(self) -> None:
        """Registers the checks."""
        from jwkscache.django import checks  # noqa: F401
