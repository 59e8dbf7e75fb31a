"""jwkscache.fastapi.JWKSBearer through FastAPI's TestClient, against a LocalIssuer."""

# No `from __future__ import annotations`: FastAPI reads these annotations at run time, and
# they name local variables (`auth`).
import asyncio
from collections.abc import Iterator
from typing import Annotated, Any

import httpx2
import pytest
from fastapi import APIRouter, Depends, FastAPI, Security, WebSocket
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

import jwkscache
from _bearer_cases import (
    AUDIENCE,
    REALM,
    SCOPE,
    Answer,
    Case,
    case_params,
    check_outage_cold,
    check_outage_warm,
    check_rotation,
    token,
)
from jwkscache.bearer import VerifiedToken
from jwkscache.fastapi import JWKSBearer
from jwkscache.testing import LocalIssuer


class CountingKeys:
    """A JWKSCache seen through a counter of its decode calls."""

    def __init__(self, keys: jwkscache.JWKSCache) -> None:
        self.keys = keys
        self.calls = 0

    def decode(self, token: str, /, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        return self.keys.decode(token, **kwargs)

    async def decode_async(self, token: str, /, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        return await self.keys.decode_async(token, **kwargs)


def make_app(keys: Any, **options: Any) -> FastAPI:
    auth = JWKSBearer(keys, audience=AUDIENCE, realm=REALM, **options)
    app = FastAPI()

    @app.get("/orders")
    async def orders(
        token: Annotated[VerifiedToken, Security(auth, scopes=[SCOPE])],
    ) -> dict[str, Any]:
        return {"sub": token.subject, "scopes": sorted(token.scopes)}

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


@pytest.fixture
def keys(oidc_issuer: LocalIssuer) -> Iterator[jwkscache.JWKSCache]:
    with jwkscache.JWKSCache(oidc_issuer.jwks_uri, issuer=oidc_issuer.issuer) as cache:
        yield cache


@pytest.fixture
def client(keys: jwkscache.JWKSCache) -> Iterator[TestClient]:
    with TestClient(make_app(keys)) as test_client:
        yield test_client


def answer(response: httpx2.Response) -> Answer:
    body = response.json()
    if response.status_code != 200:
        assert list(body) == ["detail"]  # FastAPI's own error shape
        body = body["detail"]
    return Answer(
        response.status_code,
        response.headers.get("www-authenticate"),
        response.headers.get("retry-after"),
        body,
    )


def getter(client: TestClient, path: str = "/orders") -> Any:
    def get(values: list[str]) -> Answer:
        return answer(client.get(path, headers=[("Authorization", v) for v in values]))

    return get


@case_params()
def test_every_case(case: Case, oidc_issuer: LocalIssuer, client: TestClient) -> None:
    assert getter(client)(case.headers(oidc_issuer)) == case.expected


def test_rotation(oidc_issuer: LocalIssuer, client: TestClient) -> None:
    check_rotation(oidc_issuer, getter(client))


def test_issuer_down_with_nothing_cached(oidc_issuer: LocalIssuer, client: TestClient) -> None:
    check_outage_cold(oidc_issuer, getter(client))


def test_issuer_down_with_keys_cached(
    oidc_issuer: LocalIssuer, client: TestClient, keys: jwkscache.JWKSCache
) -> None:
    check_outage_warm(oidc_issuer, getter(client), keys)


def test_router_and_route_scopes_combine_and_verify_once(
    oidc_issuer: LocalIssuer, keys: jwkscache.JWKSCache
) -> None:
    counting = CountingKeys(keys)
    auth = JWKSBearer(counting, audience=AUDIENCE)
    router = APIRouter(dependencies=[Security(auth, scopes=["orders:read"])])

    @router.post("/orders")
    def create(token: Annotated[VerifiedToken, Security(auth, scopes=["orders:write"])]) -> str:
        return f"created for {token.subject}"

    app = FastAPI()
    app.include_router(router)
    with TestClient(app) as client:

        def post(scope: str) -> tuple[int, Any]:
            response = client.post(
                "/orders", headers={"Authorization": f"Bearer {token(oidc_issuer, scope)}"}
            )
            return response.status_code, response.headers.get("www-authenticate")

        assert post("orders:read orders:write") == (200, None)
        assert counting.calls == 1  # two dependencies, one verification
        status, challenge = post("orders:read")
        assert status == 403
        assert challenge.endswith('scope="orders:write"')
        status, challenge = post("orders:write")
        assert status == 403
        assert challenge.endswith('scope="orders:read"')
        assert counting.calls == 3
    security = app.openapi()["paths"]["/orders"]["post"]["security"]
    assert security == [{"JWKSBearer": ["orders:read", "orders:write"]}]


def test_optional_auth(oidc_issuer: LocalIssuer, keys: jwkscache.JWKSCache) -> None:
    auth = JWKSBearer(keys, audience=AUDIENCE, auto_error=False)
    app = FastAPI()

    @app.get("/")
    def home(token: Annotated[VerifiedToken | None, Depends(auth)]) -> dict[str, Any]:
        return {"user": None if token is None else token.subject}

    with TestClient(app) as client:
        assert client.get("/").json() == {"user": None}
        assert client.get("/", headers={"Authorization": "Basic eDp5"}).json() == {"user": None}
        good = {"Authorization": f"Bearer {token(oidc_issuer)}"}
        assert client.get("/", headers=good).json() == {"user": "alice"}
        bad = client.get(
            "/", headers={"Authorization": f"Bearer {token(oidc_issuer, expires_in=-9)}"}
        )
        assert bad.status_code == 401
        assert bad.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
        assert client.get("/", headers={"Authorization": "Bearer"}).status_code == 400


def test_websocket(oidc_issuer: LocalIssuer, keys: jwkscache.JWKSCache) -> None:
    auth = JWKSBearer(keys, audience=AUDIENCE)
    app = FastAPI()

    @app.websocket("/ws")
    async def feed(websocket: WebSocket, token: Annotated[VerifiedToken, Depends(auth)]) -> None:
        await websocket.accept()
        await websocket.send_json({"sub": token.subject})
        await websocket.close()

    with TestClient(app) as client:
        good = {"Authorization": f"Bearer {token(oidc_issuer)}"}
        with client.websocket_connect("/ws", headers=good) as websocket:
            assert websocket.receive_json() == {"sub": "alice"}
        expired = {"Authorization": f"Bearer {token(oidc_issuer, expires_in=-60)}"}
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            client.websocket_connect("/ws", headers=expired),
        ):
            pass
        assert refused.value.code == 1008
        assert refused.value.reason == "Signature has expired"
        with pytest.raises(WebSocketDisconnect) as missing, client.websocket_connect("/ws"):
            pass
        assert missing.value.code == 1008


def test_websocket_while_the_issuer_is_down(
    oidc_issuer: LocalIssuer, keys: jwkscache.JWKSCache
) -> None:
    auth = JWKSBearer(keys, audience=AUDIENCE)
    app = FastAPI()

    @app.websocket("/ws")
    async def feed(websocket: WebSocket, token: Annotated[VerifiedToken, Depends(auth)]) -> None:
        await websocket.accept()
        await websocket.close()

    oidc_issuer.fail_next(10)
    good = {"Authorization": f"Bearer {token(oidc_issuer)}"}
    with (
        TestClient(app) as client,
        pytest.raises(WebSocketDisconnect) as unavailable,
        client.websocket_connect("/ws", headers=good),
    ):
        pass
    assert unavailable.value.code == 1013  # try again later: the token was not judged


def test_openapi_schemes(oidc_issuer: LocalIssuer, keys: jwkscache.JWKSCache) -> None:
    schemes = make_app(keys).openapi()["components"]["securitySchemes"]
    assert schemes == {"JWKSBearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
    oidc = make_app(
        keys,
        openid_connect_url=oidc_issuer.discovery_url,
        scheme_name="issuer",
        description="Tokens from our issuer",
    ).openapi()
    assert oidc["components"]["securitySchemes"] == {
        "issuer": {
            "type": "openIdConnect",
            "openIdConnectUrl": oidc_issuer.discovery_url,
            "description": "Tokens from our issuer",
        }
    }
    assert oidc["paths"]["/orders"]["get"]["security"] == [{"issuer": [SCOPE]}]


def test_dependency_overrides_stand_in_for_the_token(keys: jwkscache.JWKSCache) -> None:
    app = FastAPI()
    auth = JWKSBearer(keys, audience=AUDIENCE)

    @app.get("/me")
    def me(token: Annotated[VerifiedToken, Security(auth, scopes=[SCOPE])]) -> str | None:
        return token.subject

    fake = VerifiedToken.from_claims({"sub": "test-user", "scope": SCOPE}, "not-a-real-token")
    app.dependency_overrides[auth] = lambda: fake
    with TestClient(app) as client:
        assert client.get("/me").json() == "test-user"


def test_a_fetch_never_blocks_the_event_loop(
    oidc_issuer: LocalIssuer, keys: jwkscache.JWKSCache
) -> None:
    app = make_app(keys)

    async def scenario() -> tuple[int, int, bool]:
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://test") as client:
            old = {"Authorization": f"Bearer {token(oidc_issuer)}"}
            assert (await client.get("/orders", headers=old)).status_code == 200
            oidc_issuer.rotate()
            oidc_issuer.hang_next(1, seconds=3)
            new = {"Authorization": f"Bearer {token(oidc_issuer)}"}
            waiting = asyncio.ensure_future(client.get("/orders", headers=new))
            for _ in range(500):  # until the refetch has reached the issuer, at most 5 s
                if oidc_issuer.fetch_count == 2:
                    break
                await asyncio.sleep(0.01)
            other = await client.get("/orders", headers=old)
            still_waiting = not waiting.done()
            return other.status_code, (await waiting).status_code, still_waiting

    assert asyncio.run(scenario()) == (200, 200, True)
    assert oidc_issuer.fetch_count == 2
