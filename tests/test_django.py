"""jwkscache.django through Django's Client and AsyncClient, against a LocalIssuer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.test import AsyncClient, Client, override_settings

import _django_project
import jwkscache
from _bearer_cases import (
    SCOPE,
    WELCOME,
    Answer,
    Case,
    bearer,
    case_params,
    check_outage_cold,
    check_outage_warm,
    check_rotation,
    token,
)
from jwkscache.django import JWKSAuthMiddleware, TokenUser, get_auth, get_keys, get_settings
from jwkscache.testing import LocalIssuer


@pytest.fixture
def configured(oidc_issuer: LocalIssuer) -> Iterator[LocalIssuer]:
    with override_settings(JWKSCACHE=_django_project.jwkscache_settings(oidc_issuer)):
        yield oidc_issuer
        get_keys().close()


def answer(response: Any) -> Answer:
    return Answer(
        response.status_code,
        response.headers.get("WWW-Authenticate"),
        response.headers.get("Retry-After"),
        response.json(),
    )


def header(values: list[str]) -> dict[str, str]:
    assert len(values) <= 1
    return {"Authorization": values[0]} if values else {}


def sync_get(path: str = "/orders") -> Any:
    client = Client()
    return lambda values: answer(client.get(path, headers=header(values)))


def async_get(path: str = "/orders-async") -> Any:
    client = AsyncClient()
    return lambda values: answer(asyncio.run(client.get(path, headers=header(values))))


@case_params(repeated_header=False)
def test_every_case_sync(case: Case, configured: LocalIssuer) -> None:
    assert sync_get()(case.headers(configured)) == case.expected


@case_params(repeated_header=False)
def test_every_case_async(case: Case, configured: LocalIssuer) -> None:
    assert async_get()(case.headers(configured)) == case.expected


def test_a_repeated_header_joined_by_the_server(configured: LocalIssuer) -> None:
    joined = f"Bearer {token(configured)}, Bearer {token(configured)}"
    response = Client().get("/orders", HTTP_AUTHORIZATION=joined)
    assert response.status_code == 400
    assert response.json()["error_description"] == (
        "The Authorization header is given more than once"
    )


@pytest.mark.parametrize("make_get", [sync_get, async_get])
def test_rotation(configured: LocalIssuer, make_get: Any) -> None:
    check_rotation(configured, make_get())


@pytest.mark.parametrize("make_get", [sync_get, async_get])
def test_issuer_down_with_nothing_cached(configured: LocalIssuer, make_get: Any) -> None:
    check_outage_cold(configured, make_get())


@pytest.mark.parametrize("make_get", [sync_get, async_get])
def test_issuer_down_with_keys_cached(configured: LocalIssuer, make_get: Any) -> None:
    check_outage_warm(configured, make_get(), get_keys())


def test_user_jwt_and_vary(configured: LocalIssuer) -> None:
    client = Client()
    response = client.get("/whoami", headers={"Authorization": f"Bearer {token(configured)}"})
    assert response.json() == {"jwt": "alice", "user": ["alice", True, [SCOPE]]}
    assert response.headers["Vary"] == "Authorization"
    refused = client.get("/whoami", headers={"Authorization": "Bearer x.y.z"})
    assert refused.status_code == 401
    assert refused.headers["Vary"] == "Authorization"
    # Exempt paths are left alone: no verification, no request.jwt.
    assert client.get("/health").json() == {"jwt": "unset"}
    assert client.get("/health", headers={"Authorization": "Bearer x.y.z"}).status_code == 200


def test_optional_when_not_required(oidc_issuer: LocalIssuer) -> None:
    settings = _django_project.jwkscache_settings(oidc_issuer, REQUIRED=False)
    with override_settings(JWKSCACHE=settings):
        client = Client()
        assert client.get("/whoami").json() == {"jwt": None, "user": None}
        assert client.get("/whoami", headers={"Authorization": "Basic eDp5"}).json() == {
            "jwt": None,
            "user": None,
        }
        expired = f"Bearer {token(oidc_issuer, expires_in=-60)}"
        assert client.get("/whoami", headers={"Authorization": expired}).status_code == 401
        # scopes_required still asks for a token.
        assert answer(client.get("/orders")).status == 401
        get_keys().close()


def test_settings_are_reread_when_they_change(oidc_issuer: LocalIssuer) -> None:
    with override_settings(JWKSCACHE=_django_project.jwkscache_settings(oidc_issuer)):
        first = get_auth()
        assert get_auth() is first
        assert get_settings().realm == "orders"
        with override_settings(
            JWKSCACHE=_django_project.jwkscache_settings(oidc_issuer, REALM="other")
        ):
            assert get_settings().realm == "other"
            assert get_auth() is not first
            assert get_auth().realm == "other"
            get_keys().close()
        assert isinstance(get_keys(), jwkscache.JWKSCache)
        get_keys().close()


def test_a_bad_setting_fails_when_the_middleware_loads() -> None:
    with (
        override_settings(JWKSCACHE={"AUDIENCE": "x"}),
        pytest.raises(ImproperlyConfigured, match=r"jwkscache\.E001"),
    ):
        JWKSAuthMiddleware(lambda request: HttpResponse())


def test_the_middleware_is_not_adapted_under_asgi(
    configured: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="django.request"):
        assert async_get()(bearer(token(configured))) == WELCOME
    adapted = [r.getMessage() for r in caplog.records if "adapted" in r.getMessage()]
    assert not any("JWKSAuthMiddleware" in message for message in adapted), adapted


def test_an_async_view_keeps_answering_while_the_issuer_hangs(configured: LocalIssuer) -> None:
    client = AsyncClient()

    async def scenario() -> tuple[int, int, bool]:
        old = {"Authorization": f"Bearer {token(configured)}"}
        assert (await client.get("/orders-async", headers=old)).status_code == 200
        configured.rotate()
        configured.hang_next(1, seconds=3)
        new = {"Authorization": f"Bearer {token(configured)}"}
        waiting = asyncio.ensure_future(client.get("/orders-async", headers=new))
        for _ in range(500):  # until the refetch has reached the issuer, at most 5 s
            if configured.fetch_count == 2:
                break
            await asyncio.sleep(0.01)
        other = await client.get("/orders-async", headers=old)
        still_waiting = not waiting.done()
        return other.status_code, (await waiting).status_code, still_waiting

    assert asyncio.run(scenario()) == (200, 200, True)
    assert configured.fetch_count == 2


def test_token_user() -> None:
    from jwkscache.bearer import VerifiedToken

    user = TokenUser(VerifiedToken.from_claims({"sub": "bob", "scp": ["a", "b"]}, "raw"))
    assert (user.pk, user.id, user.username, user.get_username(), str(user)) == ("bob",) * 5
    assert user.is_authenticated
    assert not user.is_anonymous
    assert user.has_scopes("a")
    assert not user.has_scopes("c")
    assert not user.has_perm("orders.view_order")
    assert user == TokenUser(VerifiedToken.from_claims({"sub": "bob", "scp": ["a", "b"]}, "x"))
    assert repr(user) == "TokenUser('bob')"
