"""A FastAPI app written for PyJWT's PyJWKClient works after the one-line import change.

The app below is the usual PyJWT recipe (an ``HTTPBearer`` dependency, the client's
``get_signing_key_from_jwt`` then ``jwt.decode``). It is loaded twice, as written and with
``from jwt import PyJWKClient`` changed to ``from jwkscache import PyJWKClient``, and both
must answer the same requests with the same statuses and bodies, at the same cost to the
issuer.
"""

from __future__ import annotations

import difflib
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx2")  # starlette.testclient needs it

from fastapi.testclient import TestClient

from jwkscache.jwks_client import PyJWKClient
from jwkscache.testing import LocalIssuer

PYJWT_IMPORT = "from jwt import PyJWKClient\n"
JWKSCACHE_IMPORT = "from jwkscache import PyJWKClient\n"

APP = '''\
"""A service that accepts bearer tokens from an OIDC issuer."""

from typing import Annotated, Any

import jwt
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jwt import PyJWKClient


def create_app(jwks_uri: str, issuer: str, audience: str = "orders-api") -> FastAPI:
    app = FastAPI()
    app.state.jwks_client = jwks_client = PyJWKClient(jwks_uri)
    bearer = HTTPBearer()

    def claims(
        credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)],
    ) -> dict[str, Any]:
        token = credentials.credentials
        try:
            signing_key = jwks_client.get_signing_key_from_jwt(token)
            return jwt.decode(
                token,
                signing_key.key,
                algorithms=["RS256"],
                audience=audience,
                issuer=issuer,
            )
        except jwt.PyJWKClientConnectionError:
            raise HTTPException(503, "the issuer's keys are unavailable") from None
        except jwt.PyJWKClientError as exc:
            raise HTTPException(401, f"unknown signing key: {exc}") from None
        except jwt.InvalidTokenError as exc:
            raise HTTPException(401, f"invalid token: {type(exc).__name__}") from None

    @app.get("/orders")
    def orders(claims: Annotated[dict[str, Any], Depends(claims)]) -> dict[str, Any]:
        return {"owner": claims["sub"], "scope": claims.get("scope", "")}

    return app
'''


def load(source: str, path: Path) -> ModuleType:
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_change_is_one_line() -> None:
    changed = APP.replace(PYJWT_IMPORT, JWKSCACHE_IMPORT)
    diff = [
        line
        for line in difflib.unified_diff(APP.splitlines(), changed.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert diff == ["-" + PYJWT_IMPORT.strip(), "+" + JWKSCACHE_IMPORT.strip()]


def requests(issuer: LocalIssuer, client: TestClient) -> list[tuple[str, int, Any, int]]:
    """A day in the service's life: (what, status, body, JWKS fetches so far)."""
    seen: list[tuple[str, int, Any, int]] = []

    def get(what: str, token: str | None) -> None:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        response = client.get("/orders", headers=headers)
        body = response.json()
        if isinstance(body.get("detail"), str):
            body["detail"] = body["detail"].replace(issuer.current_kid, "KID")
        seen.append((what, response.status_code, body, issuer.fetch_count))

    def mint(**kwargs: Any) -> str:
        return issuer.mint({"scope": "orders:read"}, **{"audience": "orders-api", **kwargs})

    issuer.fail_next(1)
    get("issuer down at start", mint(subject="alice"))
    get("valid", mint(subject="alice"))
    get("valid again", mint(subject="bob"))
    get("no token", None)
    get("garbage", "not-a-token")
    get("wrong audience", mint(subject="alice", audience="billing-api"))
    get("expired", mint(subject="alice", expires_in=-120))
    get("other issuer", mint(subject="alice", issuer="https://evil.example"))
    get("unsigned", mint(subject="alice", headers={"alg": "none"}))
    get("unknown kid", mint(subject="alice", headers={"kid": "not-published"}))
    issuer.rotate()
    get("rotated key, within the cooldown", mint(subject="carol"))
    return seen


def test_the_app_behaves_the_same_with_either_client(
    oidc_issuer: LocalIssuer, tmp_path: Path
) -> None:
    runs = []
    for name, source in [
        ("app_pyjwt", APP),
        ("app_jwkscache", APP.replace(PYJWT_IMPORT, JWKSCACHE_IMPORT)),
    ]:
        oidc_issuer.reset()
        module = load(source, tmp_path / f"{name}.py")
        app = module.create_app(oidc_issuer.jwks_uri, oidc_issuer.issuer)
        with TestClient(app) as client:
            runs.append(requests(oidc_issuer, client))
        if name == "app_jwkscache":
            assert type(app.state.jwks_client) is PyJWKClient
        else:
            assert type(app.state.jwks_client) is not PyJWKClient
    assert runs[0] == runs[1]
    statuses = {what: status for what, status, _, _ in runs[1]}
    assert statuses["issuer down at start"] == 503
    assert statuses["valid"] == statuses["valid again"] == 200
    assert statuses["unknown kid"] == 401
    assert runs[1][1][2] == {"owner": "alice", "scope": "orders:read"}
    assert runs[1][-1][3] == 2  # the failed fetch and one good one, for every request
