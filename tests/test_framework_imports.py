"""Each integration imports only its own framework, and says which extra it needs without it."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("module", "blocked", "hint"),
    [
        ("jwkscache.fastapi", "fastapi", 'pip install "jwkscache[fastapi]"'),
        ("jwkscache.starlette", "starlette", 'pip install "jwkscache[starlette]"'),
        ("jwkscache.flask", "flask", 'pip install "jwkscache[flask]"'),
        ("jwkscache.django", "django", 'pip install "jwkscache[django]"'),
        ("jwkscache.django.rest_framework", "rest_framework", 'pip install "jwkscache[drf]"'),
    ],
)
def test_a_missing_framework_names_the_extra(module: str, blocked: str, hint: str) -> None:
    code = (
        "import sys\n"
        f"sys.modules[{blocked!r}] = None  # as if it were not installed\n"
        "try:\n"
        f"    import {module}\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = run(code)
    assert result.returncode == 0, result.stderr
    assert hint in result.stdout


@pytest.mark.parametrize(
    ("module", "allowed"),
    [
        ("jwkscache.bearer", set()),
        ("jwkscache.fastapi", {"fastapi", "starlette"}),
        ("jwkscache.starlette", {"starlette"}),
        ("jwkscache.flask", {"flask", "werkzeug"}),
        ("jwkscache.django", {"django"}),
    ],
)
def test_each_module_imports_only_its_framework(module: str, allowed: set[str]) -> None:
    frameworks = {"fastapi", "starlette", "django", "rest_framework", "flask", "werkzeug"}
    code = (
        f"import sys, {module}\n"
        f"print(sorted(name for name in {sorted(frameworks)!r} if name in sys.modules))\n"
    )
    result = run(code)
    assert result.returncode == 0, result.stderr
    assert set(ast.literal_eval(result.stdout)) == allowed
