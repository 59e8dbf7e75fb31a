"""jwkscache.flask.JWKSAuth through Flask's test client, against a LocalIssuer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Blueprint, Flask
from flask.testing import FlaskClient

import jwkscache
from _bearer_cases import (
    AUDIENCE,
    CHALLENGE,
    INSUFFICIENT,
    REALM,
    SCOPE,
    UNAVAILABLE,
    Answer,
    Case,
    bearer,
    case_params,
    check_outage_cold,
    check_outage_unknown_kid,
    check_outage_warm,
    check_rotation,
    refused,
    token,
)
from jwkscache.bearer import BearerAuth
from jwkscache.flask import JWKSAuth, current_token, get_current_token
from jwkscache.testing import LocalIssuer


def make_app(issuer: LocalIssuer, **config: Any) -> Flask:
    app = Flask(__name__)
    app.config.update(
        JWKSCACHE_ISSUER=issuer.issuer,
        JWKSCACHE_AUDIENCE=AUDIENCE,
        JWKSCACHE_REALM=REALM,
        JWKSCACHE_CACHE={"timeout": 5},
        **config,
    )
    auth = JWKSAuth()
    auth.init_app(app)

    @app.get("/orders")
    @auth.required(scopes=[SCOPE])
    def orders() -> dict[str, Any]:
        return {"sub": current_token.subject, "scopes": sorted(current_token.scopes)}

    @app.get("/orders-async")
    @auth.required(scopes=[SCOPE])
    async def orders_async() -> dict[str, Any]:
        return {"sub": current_token.subject, "scopes": sorted(current_token.scopes)}

    @app.get("/maybe")
    @auth.required(optional=True)
    def maybe() -> dict[str, Any]:
        return {"user": current_token.subject if current_token else None}

    @app.get("/maybe-typed")
    @auth.required(optional=True)
    def maybe_typed() -> dict[str, Any]:
        found = get_current_token()
        return {"user": None if found is None else found.subject, "proxy": bool(current_token)}

    return app


@pytest.fixture
def app(oidc_issuer: LocalIssuer) -> Iterator[Flask]:
    app = make_app(oidc_issuer)
    yield app
    JWKSAuth.auth(app).keys.close()  # type: ignore[attr-defined]


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def getter(client: FlaskClient, path: str = "/orders") -> Any:
    def get(values: list[str]) -> Answer:
        response = client.get(path, headers=[("Authorization", v) for v in values])
        return Answer(
            response.status_code,
            response.headers.get("WWW-Authenticate"),
            response.headers.get("Retry-After"),
            response.get_json(),
        )

    return get


@case_params()
@pytest.mark.parametrize("path", ["/orders", "/orders-async"])
def test_every_case(case: Case, path: str, oidc_issuer: LocalIssuer, client: FlaskClient) -> None:
    assert getter(client, path)(case.headers(oidc_issuer)) == case.expected


@pytest.mark.parametrize("path", ["/orders", "/orders-async"])
def test_rotation(oidc_issuer: LocalIssuer, client: FlaskClient, path: str) -> None:
    check_rotation(oidc_issuer, getter(client, path))


def test_issuer_down_with_nothing_cached(oidc_issuer: LocalIssuer, client: FlaskClient) -> None:
    check_outage_cold(oidc_issuer, getter(client))


def test_issuer_down_with_keys_cached(
    oidc_issuer: LocalIssuer, client: FlaskClient, app: Flask
) -> None:
    check_outage_warm(oidc_issuer, getter(client), JWKSAuth.auth(app).keys)


@pytest.mark.parametrize("path", ["/orders", "/orders-async"])
def test_unknown_kid_while_the_issuer_is_down(
    oidc_issuer: LocalIssuer, client: FlaskClient, path: str
) -> None:
    check_outage_unknown_kid(oidc_issuer, getter(client, path))


@pytest.mark.parametrize("is_async", [False, True])
def test_a_blueprint_catch_all_handler_does_not_swallow_refusals(
    oidc_issuer: LocalIssuer, is_async: bool
) -> None:
    app = make_app(oidc_issuer)
    auth = JWKSAuth(keys=JWKSAuth.auth(app).keys)
    api = Blueprint("api", __name__, url_prefix="/api")

    @api.errorhandler(Exception)
    def oops(exc: Exception) -> tuple[dict[str, str], int]:
        return {"error": "internal"}, 500

    if is_async:

        @api.get("/orders")
        @auth.required(scopes=[SCOPE])
        async def orders() -> dict[str, Any]:
            return {"sub": current_token.subject, "scopes": sorted(current_token.scopes)}
    else:

        @api.get("/orders")
        @auth.required(scopes=[SCOPE])
        def orders() -> dict[str, Any]:
            return {"sub": current_token.subject, "scopes": sorted(current_token.scopes)}

    app.register_blueprint(api)
    get = getter(app.test_client(), "/api/orders")
    try:
        assert get([]) == CHALLENGE
        assert get(bearer(token(oidc_issuer, expires_in=-60))) == refused("Signature has expired")
        assert get(bearer(token(oidc_issuer, scope="profile"))) == INSUFFICIENT
        assert get(["Bearer"]).status == 400
        oidc_issuer.rotate()
        oidc_issuer.fail_next(100)
        assert get(bearer(token(oidc_issuer))) == UNAVAILABLE
    finally:
        JWKSAuth.auth(app).keys.close()  # type: ignore[attr-defined]


def test_optional(oidc_issuer: LocalIssuer, client: FlaskClient) -> None:
    assert client.get("/maybe").get_json() == {"user": None}
    assert client.get("/maybe", headers={"Authorization": "Basic eDp5"}).get_json() == {
        "user": None
    }
    good = {"Authorization": f"Bearer {token(oidc_issuer)}"}
    assert client.get("/maybe", headers=good).get_json() == {"user": "alice"}
    expired = client.get(
        "/maybe", headers={"Authorization": f"Bearer {token(oidc_issuer, expires_in=-60)}"}
    )
    assert expired.status_code == 401
    assert expired.get_json()["error"] == "invalid_token"


def test_get_current_token_is_none_in_an_optional_view_without_a_token(
    oidc_issuer: LocalIssuer, client: FlaskClient
) -> None:
    assert client.get("/maybe-typed").get_json() == {"user": None, "proxy": False}
    good = {"Authorization": f"Bearer {token(oidc_issuer)}"}
    assert client.get("/maybe-typed", headers=good).get_json() == {"user": "alice", "proxy": True}


def test_the_extension_is_stored_on_the_app(oidc_issuer: LocalIssuer, app: Flask) -> None:
    auth = app.extensions["jwkscache"]
    assert isinstance(auth, BearerAuth)
    assert isinstance(auth.keys, jwkscache.JWKSCache)
    assert auth.realm == REALM


def test_keys_can_be_given(oidc_issuer: LocalIssuer) -> None:
    app = Flask(__name__)
    app.config["JWKSCACHE_AUDIENCE"] = AUDIENCE
    with jwkscache.JWKSCache.from_jwks(oidc_issuer.jwks(), issuer=oidc_issuer.issuer) as keys:
        auth = JWKSAuth(app, keys=keys)

        @app.get("/")
        @auth.required()
        def home() -> str:
            return str(current_token.subject)

        signed = {"Authorization": f"Bearer {token(oidc_issuer)}"}
        assert app.test_client().get("/", headers=signed).get_data(as_text=True) == "alice"
    assert oidc_issuer.fetch_count == 0


@pytest.mark.parametrize(
    ("config", "ids"),
    [
        ({}, ["jwkscache.E001", "jwkscache.E002"]),
        ({"JWKSCACHE_ISSUER": "https://i.example", "JWKSCACHE_AUDIENCE": None}, ["jwkscache.E002"]),
        (
            {"JWKSCACHE_JWKS_URI": "http://keys.example/jwks", "JWKSCACHE_AUDIENCE": "a"},
            ["jwkscache.E003"],
        ),
        (
            {
                "JWKSCACHE_ISSUER": "https://i.example",
                "JWKSCACHE_AUDIENCE": "a",
                "JWKSCACHE_ALGORITHMS": ["RS256", "HS256"],
            },
            ["jwkscache.E004"],
        ),
        (
            {"JWKSCACHE_ISSUER": "https://i.example", "JWKSCACHE_AUDIENCE": "a", "JWKSCACHE_X": 1},
            ["jwkscache.E005"],
        ),
        (
            {
                "JWKSCACHE_ISSUER": "https://i.example",
                "JWKSCACHE_AUDIENCE": "a",
                "JWKSCACHE_CACHE": {"timeout": -1},
            },
            ["jwkscache.E006"],
        ),
        (
            {
                "JWKSCACHE_ISSUER": "https://i.example",
                "JWKSCACHE_AUDIENCE": "a",
                "JWKSCACHE_REQUIRED": True,
                "JWKSCACHE_EXEMPT_PATHS": ["/health"],
            },
            ["jwkscache.E005"],
        ),
    ],
)
def test_misconfiguration_fails_at_init_app(config: dict[str, Any], ids: list[str]) -> None:
    app = Flask(__name__)
    app.config.update(config)
    with pytest.raises(ValueError, match=r"\(jwkscache\.E00\d\)") as caught:
        JWKSAuth(app)
    message = str(caught.value)
    if "JWKSCACHE_REQUIRED" in config:
        assert "JWKSCACHE_REQUIRED, JWKSCACHE_EXEMPT_PATHS: Django's middleware settings" in message
    assert [i for i in ("E001", "E002", "E003", "E004", "E005", "E006") if i in message] == [
        i.split(".")[1] for i in ids
    ]


def test_no_audience_with_a_reason_is_allowed(oidc_issuer: LocalIssuer) -> None:
    app = Flask(__name__)
    app.config.update(
        JWKSCACHE_ISSUER=oidc_issuer.issuer,
        JWKSCACHE_AUDIENCE=None,
        JWKSCACHE_NO_AUDIENCE_REASON="our issuer mints tokens for this service only",
    )
    auth = JWKSAuth(app)

    @app.get("/")
    @auth.required()
    def home() -> str:
        return str(current_token.subject)

    other = {"Authorization": f"Bearer {token(oidc_issuer, audience='anything')}"}
    assert app.test_client().get("/", headers=other).get_data(as_text=True) == "alice"
    JWKSAuth.auth(app).keys.close()  # type: ignore[attr-defined]


def test_an_app_without_init_app_is_a_clear_error(oidc_issuer: LocalIssuer) -> None:
    auth = JWKSAuth()
    app = Flask(__name__)

    @app.get("/")
    @auth.required()
    def home() -> str:
        return "never"

    app.config["TESTING"] = True
    with pytest.raises(RuntimeError, match="init_app"):
        app.test_client().get("/", headers={"Authorization": f"Bearer {token(oidc_issuer)}"})
