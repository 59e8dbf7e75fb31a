"""The README's "Testing your service" section: its example files run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import jwkscache
from _plugin import plugin_args
from _readme import section

pytest_plugins = ["pytester"]


DOC_TEXT = section("Testing your service")
# A fenced python block whose first line names the file it is: "# test_service.py".
BLOCK = re.compile(r"^```python\n# (?P<name>[\w/]+\.py)\n(?P<body>.*?)^```$", re.M | re.S)


def cache_fetches_urls() -> bool:
    """Whether this build's ``JWKSCache`` takes a JWKS URL (the example's service needs it)."""
    try:
        jwkscache.JWKSCache("http://127.0.0.1:9/never-served")  # type: ignore[call-arg]
    except TypeError:
        return False
    except Exception:
        return True
    return True


def example_files() -> dict[str, str]:
    files = {m["name"]: f"# {m['name']}\n{m['body']}" for m in BLOCK.finditer(DOC_TEXT)}
    assert files, "no runnable example in the README's Testing section"
    return files


def test_the_documented_example_passes(pytester: pytest.Pytester) -> None:
    if not cache_fetches_urls():
        pytest.skip("this build's jwkscache.JWKSCache does not fetch from a URL yet")
    files = example_files()
    assert "conftest.py" in files
    test_count = 0
    for name, source in files.items():
        pytester.makefile(Path(name).suffix, **{Path(name).stem: source})
        test_count += len(re.findall(r"^def test_", source, re.M))
    assert test_count >= 3
    result = pytester.runpytest_subprocess(*plugin_args())
    result.assert_outcomes(passed=test_count)


def test_every_python_block_is_run() -> None:
    text = DOC_TEXT
    assert text.count("```python\n") == len(example_files())
