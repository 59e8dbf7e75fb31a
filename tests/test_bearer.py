"""jwkscache.bearer, the framework-free RFC 6750 core, against a LocalIssuer over HTTP."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

import jwkscache
from _bearer_cases import (
    AUDIENCE,
    REALM,
    SCOPE,
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
from jwkscache import _aio
from jwkscache._settings import Settings
from jwkscache.bearer import (
    BearerAuth,
    BearerError,
    InsufficientScopeError,
    IssuerUnavailableError,
    MissingTokenError,
    VerifiedToken,
)
from jwkscache.testing import LocalIssuer


@pytest.fixture
def keys(oidc_issuer: LocalIssuer) -> Iterator[jwkscache.JWKSCache]:
    with jwkscache.JWKSCache(oidc_issuer.jwks_uri, issuer=oidc_issuer.issuer) as cache:
        yield cache


@pytest.fixture
def auth(keys: jwkscache.JWKSCache) -> BearerAuth:
    return BearerAuth(keys, audience=AUDIENCE, realm=REALM)


def answer_of(call: Any) -> Answer:
    """Runs an authenticate call the way an adapter does: a token, or the error's answer."""
    try:
        verified = call()
    except BearerError as error:
        return Answer(
            error.status_code,
            error.headers.get("WWW-Authenticate"),
            error.headers.get("Retry-After"),
            error.body,
        )
    return Answer(200, None, None, {"sub": verified.subject, "scopes": sorted(verified.scopes)})


def sync_get(auth: BearerAuth) -> Any:
    return lambda values: answer_of(lambda: auth.authenticate(values or None, [SCOPE]))


def async_get(auth: BearerAuth) -> Any:
    def get(values: list[str]) -> Answer:
        return answer_of(lambda: asyncio.run(auth.authenticate_async(values or None, [SCOPE])))

    return get


@case_params()
def test_every_case_sync(case: Case, oidc_issuer: LocalIssuer, auth: BearerAuth) -> None:
    assert sync_get(auth)(case.headers(oidc_issuer)) == case.expected


@case_params()
def test_every_case_async(case: Case, oidc_issuer: LocalIssuer, auth: BearerAuth) -> None:
    assert async_get(auth)(case.headers(oidc_issuer)) == case.expected


@pytest.mark.parametrize("make_get", [sync_get, async_get])
def test_rotation(oidc_issuer: LocalIssuer, auth: BearerAuth, make_get: Any) -> None:
    check_rotation(oidc_issuer, make_get(auth))


@pytest.mark.parametrize("make_get", [sync_get, async_get])
def test_issuer_down_with_nothing_cached(
    oidc_issuer: LocalIssuer, auth: BearerAuth, make_get: Any
) -> None:
    check_outage_cold(oidc_issuer, make_get(auth))


@pytest.mark.parametrize("make_get", [sync_get, async_get])
def test_issuer_down_with_keys_cached(
    oidc_issuer: LocalIssuer, keys: jwkscache.JWKSCache, auth: BearerAuth, make_get: Any
) -> None:
    check_outage_warm(oidc_issuer, make_get(auth), keys)


@pytest.mark.parametrize("make_get", [sync_get, async_get])
def test_unknown_kid_while_the_issuer_is_down(
    oidc_issuer: LocalIssuer, auth: BearerAuth, make_get: Any
) -> None:
    check_outage_unknown_kid(oidc_issuer, make_get(auth))


def test_a_connection_error_is_a_503_even_if_it_is_an_invalid_token_error(
    keys: jwkscache.JWKSCache,
) -> None:
    class Both(jwt.PyJWKClientConnectionError, jwt.InvalidTokenError):
        pass

    assert isinstance(BearerAuth(keys)._refusal(Both("down")), IssuerUnavailableError)


def test_the_503_keeps_its_cause(oidc_issuer: LocalIssuer, keys: jwkscache.JWKSCache) -> None:
    oidc_issuer.fail_next(10)
    auth = BearerAuth(keys, audience=AUDIENCE, retry_after=7)
    with pytest.raises(IssuerUnavailableError) as caught:
        auth.authenticate(f"Bearer {token(oidc_issuer)}")
    assert isinstance(caught.value.__cause__, jwt.PyJWKClientConnectionError)
    assert caught.value.headers == {"Retry-After": "7"}
    assert caught.value.status_code == 503


def test_no_realm_and_several_scopes(oidc_issuer: LocalIssuer, keys: jwkscache.JWKSCache) -> None:
    auth = BearerAuth(keys, audience=AUDIENCE)
    assert answer_of(lambda: auth.authenticate(None)) == Answer(
        401, "Bearer", None, {"error_description": "A bearer token is required"}
    )
    with pytest.raises(InsufficientScopeError) as caught:
        auth.authenticate(f"Bearer {token(oidc_issuer)}", ["orders:read", "orders:write"])
    assert caught.value.headers["WWW-Authenticate"] == (
        'Bearer error="insufficient_scope", error_description="The token lacks a required '
        'scope", scope="orders:read orders:write"'
    )


def test_verified_token(oidc_issuer: LocalIssuer, keys: jwkscache.JWKSCache) -> None:
    auth = BearerAuth(keys, audience=AUDIENCE)
    raw = oidc_issuer.mint(
        {"scope": "a b", "scp": ["c", 7, ""], "roles": ["admin"]},
        audience=AUDIENCE,
        subject="alice",
    )
    verified = auth.authenticate(f"Bearer {raw}")
    assert verified.scopes == frozenset({"a", "b", "c"})
    assert verified.subject == "alice"
    assert verified.issuer == oidc_issuer.issuer
    assert verified.token == raw
    assert verified.claims["roles"] == ["admin"]
    assert verified.has_scopes("a", "c")
    assert verified.has_scopes()
    assert not verified.has_scopes("a", "d")
    assert raw not in repr(verified)
    with pytest.raises(dataclasses.FrozenInstanceError):
        verified.subject = "mallory"  # type: ignore[misc]
    roles = BearerAuth(keys, audience=AUDIENCE, scope_claims=["roles"])
    assert roles.authenticate(f"Bearer {raw}").scopes == frozenset({"admin"})


def test_scp_as_a_string_and_no_sub(oidc_issuer: LocalIssuer, keys: jwkscache.JWKSCache) -> None:
    raw = oidc_issuer.mint({"scp": "x y", "sub": None}, audience=AUDIENCE)
    verified = BearerAuth(keys, audience=AUDIENCE).authenticate(f"  Bearer {raw}\t")
    assert verified.scopes == frozenset({"x", "y"})
    assert verified.subject is None


def test_descriptions_are_made_safe_for_the_header() -> None:
    error = MissingTokenError('a "quoted" \\ value\r\nSet-Cookie: x=1 \u00e9' + "x" * 500)
    assert error.description.startswith("a quoted  valueSet-Cookie: x=1 xxx")
    assert len(error.description) == 200
    assert InsufficientScopeError(["s"], realm='my "realm"').headers["WWW-Authenticate"] == (
        'Bearer realm="my realm", error="insufficient_scope", '
        'error_description="The token lacks a required scope", scope="s"'
    )


@pytest.mark.parametrize(
    ("scopes", "error"),
    [("orders:read", TypeError), (["two words"], ValueError), (['a"b'], ValueError)],
)
def test_required_scopes_are_checked(auth: BearerAuth, scopes: Any, error: type) -> None:
    with pytest.raises(error):
        auth.authenticate("Bearer abc", scopes)


def test_options_are_passed_to_decode(oidc_issuer: LocalIssuer, keys: jwkscache.JWKSCache) -> None:
    expired = oidc_issuer.mint(audience="x", expires_in=-60)
    lenient = BearerAuth(keys, audience="x", leeway=120)
    assert lenient.authenticate(f"Bearer {expired}").claims["aud"] == "x"
    strict = BearerAuth(keys, audience="x", options={"require": ["sub"]})
    with pytest.raises(BearerError, match="sub"):
        strict.authenticate(f"Bearer {oidc_issuer.mint(audience='x', subject=None)}")
    with pytest.raises(ValueError, match="max_token_bytes"):
        BearerAuth(keys, max_token_bytes=0)
    with pytest.raises(TypeError, match="retry_after"):
        BearerAuth(keys, retry_after=True)
    with pytest.raises(TypeError, match="realm"):
        BearerAuth(keys, realm=5)  # type: ignore[arg-type]


class Router:
    """Any object with decode/decode_async will do (the multi-issuer router will be one)."""

    def __init__(self, keys: jwkscache.JWKSCache) -> None:
        self.keys = keys
        self.calls: list[str] = []

    def decode(self, token: str, /, **kwargs: Any) -> dict[str, Any]:
        self.calls.append("decode")
        return self.keys.decode(token, **kwargs)

    async def decode_async(self, token: str, /, **kwargs: Any) -> dict[str, Any]:
        self.calls.append("decode_async")
        return await self.keys.decode_async(token, **kwargs)


def test_keys_can_be_any_decoder(oidc_issuer: LocalIssuer, keys: jwkscache.JWKSCache) -> None:
    router = Router(keys)
    auth = BearerAuth(router, audience=AUDIENCE)
    assert auth.authenticate(f"Bearer {token(oidc_issuer)}").subject == "alice"
    coroutine = auth.authenticate_async(f"Bearer {token(oidc_issuer)}")
    assert asyncio.run(coroutine).subject == "alice"
    assert router.calls == ["decode", "decode_async"]


@pytest.mark.parametrize(
    "header", ["Bearer ===", "Bearer a=b", "Bearer t\u00f6ken", "Bearer a\tb", "Bearer\tabc"]
)
def test_b64token_syntax(auth: BearerAuth, header: str) -> None:
    with pytest.raises(BearerError) as caught:
        auth.authenticate(header)
    assert caught.value.status_code == 400
    assert caught.value.error == "invalid_request"


class _AcceptsAnything:
    """A key source that verifies nothing: the b64token check must not lean on it."""

    def decode(self, token: str, /, **kwargs: Any) -> dict[str, Any]:
        return {"sub": token}

    async def decode_async(self, token: str, /, **kwargs: Any) -> dict[str, Any]:
        return {"sub": token}


@pytest.mark.parametrize("header", ["Bearer ===", "Bearer a=b", "Bearer t\u00f6ken", "Bearer a,b"])
def test_b64token_syntax_is_checked_before_decode_for_other_key_sources(header: str) -> None:
    auth = BearerAuth(_AcceptsAnything())
    for attempt in (auth.authenticate, lambda h: asyncio.run(auth.authenticate_async(h))):
        with pytest.raises(BearerError) as caught:
            attempt(header)
        assert (caught.value.status_code, caught.value.error) == (400, "invalid_request")
    assert auth.authenticate("Bearer a-b_c.d~e+f/g==").subject == "a-b_c.d~e+f/g=="


def test_b64token_syntax_decides_a_jwkscache_refusal(auth: BearerAuth) -> None:
    # A JWKSCache refuses such tokens itself; the check then tells 400 from 401, in
    # token_from_header too.
    for header in ("Bearer a=b", "Bearer a,b"):
        with pytest.raises(BearerError) as caught:
            auth.token_from_header(header)
        assert caught.value.status_code == 400
        with pytest.raises(BearerError) as caught:
            asyncio.run(auth.authenticate_async(header))
        assert caught.value.status_code == 400


@pytest.mark.parametrize("header", ["Bearer abc==", "Bearer a-b_c.d~e+f/g"])
def test_b64token_syntax_accepted_then_refused_as_a_token(auth: BearerAuth, header: str) -> None:
    with pytest.raises(BearerError) as caught:
        auth.authenticate(header)
    assert caught.value.status_code == 401
    assert caught.value.error == "invalid_token"


def test_a_huge_header_of_another_scheme_is_a_plain_challenge(auth: BearerAuth) -> None:
    with pytest.raises(MissingTokenError):
        auth.authenticate("Basic " + "A" * 100_000)


def test_a_token_is_verified_and_typed(oidc_issuer: LocalIssuer, auth: BearerAuth) -> None:
    verified = auth.authenticate(bearer(token(oidc_issuer)))
    assert isinstance(verified, VerifiedToken)
    assert verified.scopes == frozenset({SCOPE})


def test_importing_jwkscache_imports_no_web_framework() -> None:
    frameworks = ["fastapi", "starlette", "django", "rest_framework", "flask", "werkzeug"]
    code = (
        "import sys, jwkscache, jwkscache.bearer, jwkscache.testing\n"
        f"print(sorted(name for name in {frameworks!r} if name in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_the_issuers_router_is_a_key_source(oidc_issuer: LocalIssuer) -> None:
    with LocalIssuer("eks") as other:
        router = jwkscache.Issuers(
            {
                oidc_issuer.issuer: jwkscache.JWKSCache(oidc_issuer.jwks_uri),
                other.issuer: jwkscache.JWKSCache(other.jwks_uri),
            }
        )
        auth = BearerAuth(router, audience=AUDIENCE)
        for issuer in (oidc_issuer, other):
            verified = auth.authenticate(f"Bearer {token(issuer)}", [SCOPE])
            assert verified.issuer == issuer.issuer
            verified = asyncio.run(auth.authenticate_async(f"Bearer {token(issuer)}", [SCOPE]))
            assert verified.issuer == issuer.issuer
        stranger = token(oidc_issuer, issuer="https://not-listed.example")
        with pytest.raises(BearerError) as caught:
            auth.authenticate(f"Bearer {stranger}")
        assert (caught.value.status_code, caught.value.description) == (401, "Invalid issuer")
        for cache in router.values():
            cache.close()


def test_a_token_without_exp_is_refused_unless_opted_out(
    oidc_issuer: LocalIssuer, keys: jwkscache.JWKSCache
) -> None:
    forever = f"Bearer {oidc_issuer.mint(audience='x', expires_in=None)}"
    with pytest.raises(BearerError, match="Token is missing the exp claim"):
        BearerAuth(keys, audience="x").authenticate(forever)
    with pytest.raises(BearerError, match="exp"):  # other options keep the default
        BearerAuth(keys, audience="x", options={"verify_iat": False}).authenticate(forever)
    assert BearerAuth(keys, audience="x", options={"require": []}).authenticate(forever)
    settings = {"ISSUER": oidc_issuer.issuer, "AUDIENCE": "x"}
    with pytest.raises(BearerError, match="exp"):
        Settings.from_mapping(settings).bearer_auth(keys).authenticate(forever)
    opted_out = Settings.from_mapping({**settings, "OPTIONS": {"require": []}})
    assert opted_out.problems() == []
    assert opted_out.bearer_auth(keys).authenticate(forever).claims["aud"] == "x"
    no_aud = Settings.from_mapping(
        {**settings, "AUDIENCE": None, "NO_AUDIENCE_REASON": "test", "OPTIONS": {"require": []}}
    )
    assert no_aud.bearer_auth(keys).authenticate(forever).claims["aud"] == "x"
    assert [p.id for p in Settings.from_mapping({**settings, "OPTIONS": 5}).problems()] == [
        "jwkscache.E006"
    ]


def test_fetch_threads_are_limited_without_anyio(monkeypatch: pytest.MonkeyPatch) -> None:
    """The asyncio fallback (no anyio) also runs at most FETCH_THREADS fetches at once."""
    monkeypatch.setitem(sys.modules, "anyio.to_thread", None)  # import fails
    running, most, release = [0], [0], threading.Event()
    lock = threading.Lock()

    def fetch() -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        release.wait(10)
        with lock:
            running[0] -= 1
        return 1

    async def scenario() -> list[int]:
        tasks = [asyncio.ensure_future(_aio._to_thread(fetch)) for _ in range(10)]
        for _ in range(500):
            if running[0] == _aio.FETCH_THREADS:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0)  # the other six are parked on the semaphore
        assert running[0] == _aio.FETCH_THREADS
        release.set()
        return await asyncio.gather(*tasks)

    assert asyncio.run(scenario()) == [1] * 10
    assert most[0] == _aio.FETCH_THREADS


def test_the_scope_of_the_challenge_is_never_cut() -> None:
    names = [f"orders:scope-number-{n:03}" for n in range(20)]  # over 200 characters
    challenge = InsufficientScopeError(names).headers["WWW-Authenticate"]
    assert challenge.endswith(f'scope="{" ".join(names)}"')
    assert len(" ".join(names)) > 200


def test_scopes_are_read_when_the_token_verified() -> None:
    claims = {"sub": "a", "scope": "b c", "scp": ["c", "d", 3, ""], "roles": "r"}
    token = VerifiedToken.from_claims(claims, "t")
    assert token.scopes == {"b", "c", "d"}
    claims["scope"] = "admin"  # the app changing its claims dict later changes nothing
    assert token.scopes == {"b", "c", "d"}
    assert VerifiedToken.from_claims(claims, "t", ["roles"]).scopes == {"r"}
    assert VerifiedToken.from_claims({}, "t").scopes == frozenset()
    with pytest.raises(dataclasses.FrozenInstanceError):
        token.scopes = frozenset()  # type: ignore[misc]
