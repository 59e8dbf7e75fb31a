"""jwkscache.django.rest_framework through DRF's APIClient, against a LocalIssuer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

import _django_project
from _bearer_cases import (
    CHALLENGE,
    INSUFFICIENT,
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
from jwkscache.django import get_keys
from jwkscache.testing import LocalIssuer


@pytest.fixture
def configured(oidc_issuer: LocalIssuer) -> Iterator[LocalIssuer]:
    with override_settings(JWKSCACHE=_django_project.jwkscache_settings(oidc_issuer)):
        yield oidc_issuer
        get_keys().close()


def api_client() -> Any:
    from rest_framework.test import APIClient  # after _django_project configured Django

    return APIClient()


def get(path: str = "/api/orders") -> Any:
    client = api_client()

    def call(values: list[str]) -> Answer:
        assert len(values) <= 1
        extra = {"HTTP_AUTHORIZATION": values[0]} if values else {}
        response = client.get(path, **extra)
        return Answer(
            response.status_code,
            response.headers.get("WWW-Authenticate"),
            response.headers.get("Retry-After"),
            response.json(),
        )

    return call


@case_params(repeated_header=False)
def test_every_case(case: Case, configured: LocalIssuer) -> None:
    assert get()(case.headers(configured)) == case.expected


def test_rotation(configured: LocalIssuer) -> None:
    check_rotation(configured, get())


def test_issuer_down_with_nothing_cached(configured: LocalIssuer) -> None:
    check_outage_cold(configured, get())


def test_issuer_down_with_keys_cached(configured: LocalIssuer) -> None:
    check_outage_warm(configured, get(), get_keys())


def test_unknown_kid_while_the_issuer_is_down(configured: LocalIssuer) -> None:
    check_outage_unknown_kid(configured, get())


def test_is_authenticated_answers_401_with_the_challenge(configured: LocalIssuer) -> None:
    # DRF's own IsAuthenticated: 401 (not DRF's 403) because authenticate_header answers.
    missing = get("/api/me")([])
    assert missing.status == 401
    assert missing.challenge == CHALLENGE.challenge
    assert missing.body == {"detail": "Authentication credentials were not provided."}
    signed = get("/api/me")(bearer(token(configured)))
    assert signed == Answer(200, None, None, {"sub": "alice", "iss": configured.issuer})
    expired = get("/api/me")(bearer(token(configured, expires_in=-60)))
    assert expired.status == 401
    assert expired.body == {"error": "invalid_token", "error_description": "Signature has expired"}


def test_a_view_without_required_scopes_is_refused(configured: LocalIssuer) -> None:
    client = api_client()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token(configured)}")
    with pytest.raises(ImproperlyConfigured, match="required_scopes"):
        client.get("/api/misconfigured")


def test_the_middleware_token_is_reused(oidc_issuer: LocalIssuer) -> None:
    # Without the exemption the middleware verifies first; DRF reads request.jwt.
    settings = _django_project.jwkscache_settings(oidc_issuer, EXEMPT_PATHS=[])
    with override_settings(JWKSCACHE=settings):
        keys = get_keys()
        answer = get()(bearer(token(oidc_issuer)))
        assert answer.status == 200
        assert keys.stats()["hits"] + keys.stats()["misses"] == 1  # one decode in all
        keys.close()


def test_required_scopes_as_one_string(configured: LocalIssuer) -> None:
    assert get("/api/scopes-as-string")(bearer(token(configured))) == WELCOME
    assert get("/api/scopes-as-string")(bearer(token(configured, scope="profile"))) == INSUFFICIENT


def test_has_scopes_composes(configured: LocalIssuer) -> None:
    """In a composition HasScopes answers False, not an exception: the composition decides."""
    anyone = get("/api/scopes-or-anyone")
    assert anyone(bearer(token(configured, scope="profile"))) == Answer(
        200, None, None, {"ok": True}
    )
    assert anyone([]).status == 200  # no token: the other permission allows it
    never = get("/api/scopes-or-never")
    assert never(bearer(token(configured))) == WELCOME
    refused = never(bearer(token(configured, scope="profile")))
    assert (refused.status, refused.body) == (
        403,
        {"detail": "You do not have permission to perform this action."},
    )
    missing = never([])
    assert (missing.status, missing.challenge) == (401, CHALLENGE.challenge)
