"""PyJWT's own ``tests/test_jwks_client.py`` (2.15.1, from its sdist) run against our client.

Nothing of PyJWT's tests is committed: the pinned sdist is fetched from PyPI with pip on first
use (checked against its SHA-256) and kept in ``.pyjwt-tests/`` (gitignored). Its test file,
the helpers it imports and PyJWT's pytest settings run in a child pytest whose
``conftest.py`` puts ``jwkscache.PyJWKClient`` in place of ``jwt.PyJWKClient`` before the test
module is imported; the child checks that every test module really got ours.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

VERSION = "2.15.1"
SDIST = f"pyjwt-{VERSION}.tar.gz"
SHA256 = "4f259e80cdfb6b3fc18a7de51fd1ef9ec79652f25019bae68975ca2468a34df8"
CACHE = Path(__file__).resolve().parent.parent / ".pyjwt-tests"
# What test_jwks_client.py needs: itself, its package and the helpers it imports.
MEMBERS = ("tests/__init__.py", "tests/utils.py", "tests/test_jwks_client.py")

CONFTEST = '''\
"""Written by jwkscache's tests/test_pyjwt_suite.py: PyJWT's tests, our PyJWKClient."""

import jwt
import jwt.jwks_client

from jwkscache.jwks_client import PyJWKClient

jwt.PyJWKClient = PyJWKClient
jwt.jwks_client.PyJWKClient = PyJWKClient


def pytest_collection_modifyitems(session, config, items):
    for item in items:
        used = getattr(item.module, "PyJWKClient", None)
        assert used is PyJWKClient, f"{item.nodeid} would test {used!r}, not jwkscache's"
'''

# PyJWT's own [tool.pytest.ini_options] (its pyproject.toml).
PYTEST_INI = """\
[pytest]
addopts = -ra
filterwarnings =
    error
    ignore::jwt.warnings.InsecureKeyLengthWarning
testpaths = tests
"""


def sdist() -> Path:
    """The pinned PyJWT sdist, downloaded once with pip and checked."""
    path = CACHE / SDIST
    if not path.exists():
        CACHE.mkdir(exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
        command += ["--no-binary", ":all:", f"pyjwt=={VERSION}", "-d", str(CACHE)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        if done.returncode != 0 or not path.exists():
            pytest.fail(f"could not download PyJWT {VERSION}'s sdist from PyPI:\n{done.stderr}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SHA256:
        path.unlink()
        pytest.fail(f"{SDIST} has SHA-256 {digest}, expected {SHA256}; deleted, run again")
    return path


def extract(archive: Path, into: Path) -> None:
    prefix = f"pyjwt-{VERSION}/"
    with tarfile.open(archive) as tar:
        for name in MEMBERS:
            member = tar.getmember(prefix + name)
            data = tar.extractfile(member)
            assert data is not None, name
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data.read())


def test_pyjwt_jwks_client_suite_passes_with_our_client(tmp_path: Path) -> None:
    extract(sdist(), tmp_path)
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "pytest.ini").write_text(PYTEST_INI)
    report = tmp_path / "report.xml"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["--rootdir", str(tmp_path), "-c", str(tmp_path / "pytest.ini")]
    command += [f"--junitxml={report}", "tests/test_jwks_client.py"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert report.exists(), output
    root = ET.parse(report).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite is not None, output
    counts = {k: int(suite.get(k, "0")) for k in ("tests", "failures", "errors", "skipped")}
    assert counts["tests"] > 40, (counts, output)
    assert counts == {"tests": counts["tests"], "failures": 0, "errors": 0, "skipped": 0}, output
    assert done.returncode == 0, output
