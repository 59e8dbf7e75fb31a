"""``manage.py check`` reports each misconfiguration of ``settings.JWKSCACHE`` with its id."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

import _django_project  # noqa: F401  (configures Django)

GOOD: dict[str, Any] = {"ISSUER": "https://issuer.example", "AUDIENCE": "orders-api"}


@pytest.mark.parametrize(
    ("setting", "ids"),
    [
        ({"AUDIENCE": "orders-api"}, ["jwkscache.E001"]),
        (
            {"JWKS_URI": "https://issuer.example/keys", "AUDIENCE": None},
            ["jwkscache.E002", "jwkscache.W001"],
        ),
        ({"ISSUER": "https://issuer.example"}, ["jwkscache.E002"]),
        ({}, ["jwkscache.E001", "jwkscache.E002"]),
        ({**GOOD, "ISSUER": "http://issuer.example"}, ["jwkscache.E003"]),
        ({**GOOD, "JWKS_URI": "http://10.0.0.1/keys"}, ["jwkscache.E003"]),
        ({**GOOD, "ALGORITHMS": ["RS256", "HS256", "none"]}, ["jwkscache.E004"]),
        ({**GOOD, "AUDIENCES": ["typo"]}, ["jwkscache.E005"]),
        (["not", "a", "dict"], ["jwkscache.E001", "jwkscache.E002", "jwkscache.E005"]),
        ({**GOOD, "CACHE": {"lifespan": -5}}, ["jwkscache.E006"]),
        ({**GOOD, "CACHE": {"no_such_option": 1}}, ["jwkscache.E006"]),
        ({**GOOD, "LEEWAY": "thirty"}, ["jwkscache.E006"]),
        ({**GOOD, "RETRY_AFTER": -1}, ["jwkscache.E006"]),
        ({**GOOD, "EXEMPT_PATHS": 5}, ["jwkscache.E006"]),
        ({**GOOD, "REALM": 5}, ["jwkscache.E006"]),
        ({**GOOD, "RETRY_AFTER": True}, ["jwkscache.E006"]),
        ({**GOOD, "RETRY_AFTER": "30"}, ["jwkscache.E006"]),
        ({**GOOD, "REQUIRED": "false"}, ["jwkscache.E006"]),
        ({**GOOD, "CACHE": "timeout=5"}, ["jwkscache.E006"]),
        ({**GOOD, "OPTIONS": ["require"]}, ["jwkscache.E006"]),
        ({**GOOD, "SCOPE_CLAIMS": 5}, ["jwkscache.E006"]),
        ({**GOOD, "NO_AUDIENCE_REASON": 5}, ["jwkscache.E006"]),
        ({**GOOD, "ISSUER": 5}, ["jwkscache.E001", "jwkscache.E006"]),  # no usable issuer
        ({**GOOD, "AUDIENCE": 5}, ["jwkscache.E002", "jwkscache.E006"]),
        ({**GOOD, "EXEMPT_PATHS": ["health"]}, ["jwkscache.E006"]),
        ({**GOOD, "EXEMPT_PATHS": ["/health", 5]}, ["jwkscache.E006"]),
    ],
)
def test_each_misconfiguration_has_its_id(setting: Any, ids: list[str]) -> None:
    with override_settings(JWKSCACHE=setting):
        found = sorted(message.id for message in run_checks(tags=["jwkscache"]))
        assert found == ids
        with pytest.raises(SystemCheckError) as caught:
            call_command("check")
    for check_id in ids:
        assert f"({check_id})" in str(caught.value)


@pytest.mark.parametrize(
    "setting",
    [
        GOOD,
        {**GOOD, "JWKS_URI": "https://issuer.example/keys", "AUDIENCE": ["a", "b"]},
        {**GOOD, "ISSUER": "http://127.0.0.1:8080", "ALGORITHMS": ["RS256", "PS256"]},
        {"ISSUER": "http://localhost:8080", "AUDIENCE": None, "NO_AUDIENCE_REASON": "single-use"},
        {**GOOD, "ISSUER": "http://issuer.internal", "CACHE": {"allow_insecure_http": True}},
        {**GOOD, "CACHE": {"timeout": 2, "lifespan": 600}, "EXEMPT_PATHS": ["/health"]},
        {**GOOD, "ALGORITHMS": "RS256", "SCOPE_CLAIMS": "scp", "LEEWAY": 30, "REQUIRED": False},
    ],
)
def test_good_settings_pass(setting: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    with override_settings(JWKSCACHE=setting):
        assert run_checks(tags=["jwkscache"]) == []
        call_command("check")
    assert "no issues" in capsys.readouterr().out


_STARTUP = """
import django
from django.conf import settings
settings.configure(
    INSTALLED_APPS=["rest_framework", "jwkscache.django"],
    DATABASES={},
    JWKSCACHE={"ISSUER": "https://issuer.example"},  # AUDIENCE forgotten: E002
)
try:
    django.setup()  # what get_wsgi_application() does under gunicorn
except Exception as exc:
    print(type(exc).__name__, exc)
else:
    print("started")
"""


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("serve.py", "ImproperlyConfigured settings.JWKSCACHE has no AUDIENCE"),
        ("manage.py", "started"),
    ],
)
def test_a_misconfiguration_fails_at_startup_outside_management_commands(
    tmp_path: Path, script: str, expected: str
) -> None:
    """DRF-only (no middleware built at startup): the app's ready() refuses a bad JWKSCACHE
    under a server; manage.py leaves it to the system checks, which report it."""
    path = tmp_path / script
    path.write_text(_STARTUP)
    done = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.startswith(expected)
    if script == "serve.py":
        assert "(jwkscache.E002)" in done.stdout


def test_jwks_uri_without_issuer_is_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    setting = {"JWKS_URI": "https://issuer.example/keys", "AUDIENCE": "orders-api"}
    with override_settings(JWKSCACHE=setting):
        found = run_checks(tags=["jwkscache"])
        assert [(type(m).__name__, m.id) for m in found] == [("Warning", "jwkscache.W001")]
        assert "iss is not checked" in found[0].msg
        call_command("check")  # a warning: reported, not fatal
    assert "(jwkscache.W001)" in capsys.readouterr().err
