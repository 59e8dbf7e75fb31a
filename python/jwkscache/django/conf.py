"""``settings.JWKSCACHE``, read once, re-read on ``setting_changed``; one cache per process.

The ``JWKSCache`` is built on first use (the middleware asks for it when Django loads it,
so under ``gunicorn --preload`` it is built in the parent and inherited by each worker; its
fork hooks make that safe). ``override_settings(JWKSCACHE=...)`` in a test drops the
settings, the cache and the ``BearerAuth`` built from them.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from jwkscache._settings import Settings
from jwkscache.bearer import BearerAuth

__all__ = ["get_auth", "get_keys", "get_settings"]

_lock = threading.Lock()
_settings: Settings | None = None
_auth: BearerAuth | None = None


def get_settings() -> Settings:
    """``settings.JWKSCACHE`` as read (problems not checked: see the system checks)."""
    global _settings
    found = _settings
    if found is None:
        with _lock:
            found = _settings = Settings.from_mapping(getattr(django_settings, "JWKSCACHE", {}))
    return found


def get_auth() -> BearerAuth:
    """The process's ``BearerAuth`` over its ``JWKSCache``, built on first use.

    Raises:
        ImproperlyConfigured: ``settings.JWKSCACHE`` has a problem the checks report.
    """
    global _auth
    auth = _auth
    if auth is not None:
        return auth
    with _lock:
        if _auth is None:
            current = _settings or Settings.from_mapping(getattr(django_settings, "JWKSCACHE", {}))
            problems = current.problems(prefix="settings.JWKSCACHE")
            if problems:
                raise ImproperlyConfigured(
                    "; ".join(f"{p.message} ({p.id}): {p.hint}" for p in problems)
                )
            _auth = current.bearer_auth(current.build_keys())
        return _auth


def get_keys() -> Any:
    """The process's ``JWKSCache`` (call it in ``wsgi.py`` to build it before a fork)."""
    return get_auth().keys


def _reset(*, setting: str, **kwargs: Any) -> None:
    global _settings, _auth
    if setting != "JWKSCACHE":
        return
    with _lock:
        old, _settings, _auth = _auth, None, None
    close = getattr(old.keys, "close", None) if old is not None else None
    if close is not None:
        close()


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # never inherit it held


setting_changed.connect(_reset, dispatch_uid="jwkscache.django.conf")
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
