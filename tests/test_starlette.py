"""jwkscache.starlette through Starlette's TestClient, against a LocalIssuer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

import jwkscache
from _bearer_cases import (
    AUDIENCE,
    CHALLENGE,
    INSUFFICIENT,
    REALM,
    SCOPE,
    WELCOME,
    Answer,
    Case,
    bearer,
    case_params,
    check_outage_cold,
    check_outage_unknown_kid,
    check_outage_warm,
    check_rotation,
    token,
)
from jwkscache.starlette import JWKSAuthBackend, TokenUser, requires_scopes
from jwkscache.testing import LocalIssuer


@requires_scopes(SCOPE, realm=REALM)
async def orders(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.user.identity, "scopes": sorted(request.user.scopes)})


@requires_scopes(SCOPE, realm=REALM)
def orders_sync(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.user.display_name, "scopes": sorted(request.user.scopes)})


@requires_scopes(SCOPE)  # no realm: the backend's
async def orders_backend_realm(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.user.identity, "scopes": sorted(request.user.scopes)})


async def whoami(request: Request) -> JSONResponse:
    user = request.user
    return JSONResponse(
        {
            "authenticated": user.is_authenticated,
            "auth": request.auth.scopes,
            "claims_sub": user.claims["sub"] if isinstance(user, TokenUser) else None,
        }
    )


@requires_scopes(SCOPE)
async def feed(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"sub": websocket.user.identity})
    await websocket.close()


def make_app(keys: Any) -> Starlette:
    backend = JWKSAuthBackend(keys, audience=AUDIENCE, realm=REALM)
    return Starlette(
        routes=[
            Route("/orders", orders),
            Route("/orders-sync", orders_sync),
            Route("/orders-backend-realm", orders_backend_realm),
            Route("/whoami", whoami),
            WebSocketRoute("/ws", feed),
        ],
        middleware=[
            Middleware(AuthenticationMiddleware, backend=backend, on_error=backend.on_error)
        ],
    )


@pytest.fixture
def keys(oidc_issuer: LocalIssuer) -> Iterator[jwkscache.JWKSCache]:
    with jwkscache.JWKSCache(oidc_issuer.jwks_uri, issuer=oidc_issuer.issuer) as cache:
        yield cache


@pytest.fixture
def client(keys: jwkscache.JWKSCache) -> Iterator[TestClient]:
    with TestClient(make_app(keys)) as test_client:
        yield test_client


def answer(response: httpx2.Response) -> Answer:
    return Answer(
        response.status_code,
        response.headers.get("www-authenticate"),
        response.headers.get("retry-after"),
        response.json(),
    )


def getter(client: TestClient, path: str = "/orders") -> Any:
    def get(values: list[str]) -> Answer:
        return answer(client.get(path, headers=[("Authorization", v) for v in values]))

    return get


@case_params()
@pytest.mark.parametrize("path", ["/orders", "/orders-sync"])
def test_every_case(case: Case, path: str, oidc_issuer: LocalIssuer, client: TestClient) -> None:
    assert getter(client, path)(case.headers(oidc_issuer)) == case.expected


def test_rotation(oidc_issuer: LocalIssuer, client: TestClient) -> None:
    check_rotation(oidc_issuer, getter(client))


def test_issuer_down_with_nothing_cached(oidc_issuer: LocalIssuer, client: TestClient) -> None:
    check_outage_cold(oidc_issuer, getter(client))


def test_issuer_down_with_keys_cached(
    oidc_issuer: LocalIssuer, client: TestClient, keys: jwkscache.JWKSCache
) -> None:
    check_outage_warm(oidc_issuer, getter(client), keys)


def test_unknown_kid_while_the_issuer_is_down(oidc_issuer: LocalIssuer, client: TestClient) -> None:
    check_outage_unknown_kid(oidc_issuer, getter(client))


def test_user_and_credentials(oidc_issuer: LocalIssuer, client: TestClient) -> None:
    signed = {"Authorization": f"Bearer {token(oidc_issuer, 'b a')}"}
    assert client.get("/whoami", headers=signed).json() == {
        "authenticated": True,
        "auth": ["authenticated", "a", "b"],
        "claims_sub": "alice",
    }
    anonymous = {"authenticated": False, "auth": [], "claims_sub": None}
    assert client.get("/whoami").json() == anonymous
    assert client.get("/whoami", headers={"Authorization": "Basic eDp5"}).json() == anonymous
    # A refused token is answered by on_error at once, never treated as anonymous.
    expired = {"Authorization": f"Bearer {token(oidc_issuer, expires_in=-60)}"}
    assert client.get("/whoami", headers=expired).status_code == 401


def test_requires_scopes_answers_401_then_403(oidc_issuer: LocalIssuer, client: TestClient) -> None:
    assert getter(client)([]) == CHALLENGE
    assert getter(client)(bearer(token(oidc_issuer, "profile"))) == INSUFFICIENT


def test_requires_scopes_takes_the_backends_realm(
    oidc_issuer: LocalIssuer, client: TestClient
) -> None:
    get = getter(client, "/orders-backend-realm")
    assert get([]) == CHALLENGE  # realm="orders", the backend's
    assert get(bearer(token(oidc_issuer, "profile"))) == INSUFFICIENT
    assert get(bearer(token(oidc_issuer))) == WELCOME


def test_websocket(oidc_issuer: LocalIssuer, client: TestClient) -> None:
    good = {"Authorization": f"Bearer {token(oidc_issuer)}"}
    with client.websocket_connect("/ws", headers=good) as websocket:
        assert websocket.receive_json() == {"sub": "alice"}
    with pytest.raises(WebSocketDisconnect) as missing, client.websocket_connect("/ws") as ws:
        ws.receive_json()
    assert missing.value.code == 1008
    narrow = {"Authorization": f"Bearer {token(oidc_issuer, 'profile')}"}
    with (
        pytest.raises(WebSocketDisconnect) as scoped,
        client.websocket_connect("/ws", headers=narrow) as ws,
    ):
        ws.receive_json()
    assert scoped.value.code == 1008


def test_an_endpoint_without_request_is_refused() -> None:
    def nothing() -> None:
        return None

    with pytest.raises(TypeError, match="request"):
        requires_scopes(SCOPE)(nothing)
    with pytest.raises(ValueError, match="scope"):
        requires_scopes("two words")
