"""End to end: FastAPI under uvicorn, Django under gunicorn --preload with 2 workers.

Each server runs as a real process on 127.0.0.1 (a free port), verifying tokens from the
test's ``LocalIssuer`` over real HTTP, driven by httpx2 from 4 threads while the issuer
rotates its key: every answer must be the expected one, and the JWKS fetches stay within
the bound (at most two per worker: the first fetch, and one for the new kid or, for a worker
that only started after the rotation, one for a flood of unknown kids).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2
import pytest

from _bearer_cases import token
from jwkscache.testing import LocalIssuer

STARTUP_TIMEOUT = 60.0

FASTAPI_APP = """
import os

from fastapi import FastAPI, Security

import jwkscache
from jwkscache.bearer import VerifiedToken
from jwkscache.fastapi import JWKSBearer

keys = jwkscache.JWKSCache(os.environ["E2E_JWKS_URI"], issuer=os.environ["E2E_ISSUER"])
auth = JWKSBearer(keys, audience="orders-api")
app = FastAPI()


@app.get("/health")
def health() -> str:
    return "ok"


@app.get("/orders")
async def orders(token: VerifiedToken = Security(auth, scopes=["orders:read"])) -> dict:
    return {"sub": token.subject, "pid": os.getpid()}
"""

DJANGO_SETTINGS = """
import os

SECRET_KEY = "not-a-secret: tests only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
INSTALLED_APPS = ["jwkscache.django"]
MIDDLEWARE = ["jwkscache.django.JWKSAuthMiddleware"]
ROOT_URLCONF = "e2e_urls"
DATABASES = {}
USE_TZ = True
JWKSCACHE = {
    "ISSUER": os.environ.get("E2E_ISSUER"),
    "JWKS_URI": os.environ.get("E2E_JWKS_URI"),
    "AUDIENCE": "orders-api",
    "EXEMPT_PATHS": ["/health"],
}
"""

DJANGO_URLS = """
import os

from django.http import JsonResponse
from django.urls import path

from jwkscache.django import get_keys, scopes_required


def health(request):
    return JsonResponse("ok", safe=False)


@scopes_required("orders:read")
def orders(request):
    import e2e_wsgi  # the WSGI module gunicorn loaded

    assert get_keys() is e2e_wsgi.KEYS
    return JsonResponse(
        {"sub": request.jwt.subject, "pid": os.getpid(), "keys_built_in": e2e_wsgi.BUILT_IN}
    )


urlpatterns = [path("health", health), path("orders", orders)]
"""

DJANGO_WSGI = """
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "e2e_settings")

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()  # loads the middleware, which builds the cache

from jwkscache.django import get_keys

KEYS = get_keys()
BUILT_IN = os.getpid()  # under --preload: the gunicorn master, before the fork
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """A server process started by the test, stopped (then killed) on teardown."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str], port: int) -> None:
        self.base_url = f"http://127.0.0.1:{port}"
        self.log = cwd / "server.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if (
                    httpx2.get(f"{self.base_url}/health", timeout=2, trust_env=False).status_code
                    == 200
                ):
                    return
            except httpx2.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the server did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)


def environment(issuer: LocalIssuer, directory: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        E2E_ISSUER=issuer.issuer,
        E2E_JWKS_URI=issuer.jwks_uri,
        PYTHONPATH=os.pathsep.join([str(directory), env.get("PYTHONPATH", "")]),
        NO_PROXY="127.0.0.1",
    )
    return env


@pytest.fixture
def uvicorn_server(oidc_issuer: LocalIssuer, tmp_path: Path) -> Iterator[Server]:
    (tmp_path / "e2e_fastapi_app.py").write_text(FASTAPI_APP)
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "e2e_fastapi_app:app", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--log-level", "warning"]
    server = Server(argv, tmp_path, environment(oidc_issuer, tmp_path), port)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def django_project(directory: Path) -> None:
    (directory / "e2e_settings.py").write_text(DJANGO_SETTINGS)
    (directory / "e2e_urls.py").write_text(DJANGO_URLS)
    (directory / "e2e_wsgi.py").write_text(DJANGO_WSGI)


@pytest.fixture
def gunicorn_server(oidc_issuer: LocalIssuer, tmp_path: Path) -> Iterator[Server]:
    django_project(tmp_path)
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "--preload", "--workers", "2", "--threads", "2"]
    argv += ["--bind", f"127.0.0.1:{port}", "--graceful-timeout", "5", "e2e_wsgi:application"]
    server = Server(argv, tmp_path, environment(oidc_issuer, tmp_path), port)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def drive(issuer: LocalIssuer, server: Server, workers: int) -> list[dict[str, Any]]:
    """Traffic with a rotation in the middle; returns the 200 bodies. Asserts every answer."""
    plan: list[tuple[str, dict[str, str], int]] = []
    for i in range(60):
        plan.append(("valid", {"Authorization": f"Bearer {token(issuer)}"}, 200))
        if i % 10 == 0:
            expired = token(issuer, expires_in=-60)
            plan.append(("expired", {"Authorization": f"Bearer {expired}"}, 401))
            narrow = token(issuer, scope="profile")
            plan.append(("narrow", {"Authorization": f"Bearer {narrow}"}, 403))
            plan.append(("no token", {}, 401))
            plan.append(("malformed", {"Authorization": "Bearer"}, 400))
    bodies: list[dict[str, Any]] = []
    wrong: list[tuple[str, int, str]] = []
    with httpx2.Client(base_url=server.base_url, timeout=30, trust_env=False) as client:

        def send(item: tuple[str, dict[str, str], int]) -> None:
            what, headers, expected = item
            response = client.get("/orders", headers=headers)
            if response.status_code != expected:
                wrong.append((what, response.status_code, response.text))
            elif expected == 200:
                body = response.json()
                if body["sub"] != "alice":
                    wrong.append((what, 200, response.text))
                bodies.append(body)

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(send, plan))
            issuer.rotate()  # while requests flow: the next tokens carry a kid never seen
            rotated = [
                ("rotated", {"Authorization": f"Bearer {token(issuer)}"}, 200) for _ in range(60)
            ]
            list(pool.map(send, rotated + plan[: len(plan) // 2]))
            fetched = issuer.fetch_count
            # A flood of unknown kids within the cooldown costs the issuer nothing more.
            flood = [
                (
                    "unknown kid",
                    {"Authorization": f"Bearer {token(issuer, headers={'kid': kid})}"},
                    401,
                )
                for kid in (f"never-published-{i}" for i in range(40))
            ]
            list(pool.map(send, flood))
    assert wrong == []
    assert 2 <= fetched <= 2 * workers  # per worker: the first fetch and one for the new kid
    # The flood: nothing for a worker that just refetched for the new kid (its cooldown), at
    # most one refetch for a worker whose first fetch came after the rotation.
    assert issuer.fetch_count <= 2 * workers
    return bodies


def test_fastapi_under_uvicorn(oidc_issuer: LocalIssuer, uvicorn_server: Server) -> None:
    bodies = drive(oidc_issuer, uvicorn_server, workers=1)
    assert len({body["pid"] for body in bodies}) == 1
    assert oidc_issuer.fetch_count == 2


def test_django_under_gunicorn_preload(oidc_issuer: LocalIssuer, gunicorn_server: Server) -> None:
    bodies = drive(oidc_issuer, gunicorn_server, workers=2)
    pids = {body["pid"] for body in bodies}
    (built_in,) = {body["keys_built_in"] for body in bodies}
    assert built_in not in pids  # the cache was built in the master and used in the workers
    assert 1 <= len(pids) <= 2


def test_manage_py_check_reports_the_ids(tmp_path: Path) -> None:
    django_project(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    env.pop("E2E_ISSUER", None)
    env.pop("E2E_JWKS_URI", None)
    argv = [sys.executable, "-m", "django", "check", "--settings", "e2e_settings"]
    result = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "(jwkscache.E001) settings.JWKSCACHE names no ISSUER and no JWKS_URI" in result.stderr
    env["E2E_ISSUER"] = "http://issuer.example"
    result = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "(jwkscache.E003)" in result.stderr
    env["E2E_ISSUER"] = "https://issuer.example"
    result = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
