"""The README's "Web frameworks" examples: each framework's app runs as written.

Each ``###`` subsection runs in a fresh interpreter (Django's settings are once per
process), after the section's opening block (the local issuer), with warnings as errors.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from _plugin import plugin_args
from _readme import section

pytest_plugins = ["pytester"]

BLOCK = re.compile(r"^```python\n(?P<body>.*?)^```$", re.M | re.S)
TEXT = section("Web frameworks")
FRAMEWORKS = ["FastAPI", "Starlette", "Django", "Django REST framework", "Flask"]


def subsection(name: str) -> str:
    start = TEXT.index(f"### {name}\n")
    following = re.search(r"^### ", TEXT[start + 4 :], re.M)
    return TEXT[start : start + 4 + following.start()] if following else TEXT[start:]


def preamble() -> str:
    return TEXT[: TEXT.index("### ")]


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_the_example_app_runs(name: str, tmp_path: Path) -> None:
    (setup,) = BLOCK.findall(preamble())
    blocks = BLOCK.findall(subsection(name))
    assert len(blocks) == 2, "an app, then its requests"
    script = "\n".join(
        ["try:", *(f"    {line}" for line in (setup + "".join(blocks)).splitlines())]
    )
    script += "\nfinally:\n    issuer.close()\n"
    (tmp_path / "example.py").write_text(script)
    result = subprocess.run(
        [sys.executable, "-W", "error", "example.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_every_block_of_the_section_is_run() -> None:
    run = len(BLOCK.findall(preamble())) + sum(
        len(BLOCK.findall(subsection(name))) for name in FRAMEWORKS
    )
    assert run == len(BLOCK.findall(TEXT))
    assert re.findall(r"^### (.+)$", TEXT, re.M) == FRAMEWORKS


DOC = Path(__file__).parent.parent / "docs" / "frameworks.md"
FILE_BLOCK = re.compile(r"^```python\n# (?P<name>\w+\.py)\n(?P<body>.*?)^```$", re.M | re.S)


def test_the_frameworks_doc_example_tests_pass(pytester: pytest.Pytester) -> None:
    text = DOC.read_text()
    files = {m["name"]: f"# {m['name']}\n{m['body']}" for m in FILE_BLOCK.finditer(text)}
    assert list(files) == ["test_orders.py"]
    assert text.count("```python\n") == len(files)
    source = files["test_orders.py"]
    pytester.makepyfile(test_orders=source)
    result = pytester.runpytest_subprocess(*plugin_args())
    result.assert_outcomes(passed=len(re.findall(r"^def test_", source, re.M)))
