"""jwkscache.PyJWKClient against PyJWT's jwt.PyJWKClient, over real HTTP (LocalIssuer).

The parity scenarios run once with each class against the same issuer (reset in between) and
compare traces: what every call returned or raised (PyJWT's exception class and message) and
how many requests the JWKS endpoint had received after it. Time is moved by ageing the
client's state (the JWK Set's timestamp, the last fetch), as PyJWT's own tests do, never by
sleeping. The tests after them cover what PyJWT does not have: key objects built once per
set, ``revoke_removed_keys``, ``decode`` and thread safety.
"""

from __future__ import annotations

import json
import threading
import types
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import jwt
import pytest
from jwt.api_jwk import PyJWK, PyJWKSet
from jwt.utils import base64url_encode

from jwkscache.exceptions import SigningKeyNotFoundError
from jwkscache.jwks_client import PyJWKClient
from jwkscache.testing import LocalIssuer

AnyClient = jwt.PyJWKClient
CLASSES = [jwt.PyJWKClient, PyJWKClient]


# -- harness -----------------------------------------------------------------------------


def expire(client: AnyClient) -> None:
    """Age the cached JWK Set past its lifespan."""
    cache = client.jwk_set_cache
    assert cache is not None
    assert cache.jwk_set_with_timestamp is not None
    cache.jwk_set_with_timestamp.timestamp -= cache.lifespan + 1


def cool(client: AnyClient) -> None:
    """Age the last fetch past the unknown-kid cooldown."""
    assert client._last_successful_fetch is not None
    client._last_successful_fetch -= client.cooldown_duration + 1


def pyjwt_class(error: BaseException) -> str:
    """The PyJWT exception class an error is (ours are subclasses of PyJWT's)."""
    for cls in type(error).__mro__:
        if cls.__module__.startswith("jwt"):
            return cls.__name__
    return type(error).__name__


class Trace:
    """What each call returned or raised, and the JWKS fetch count after it."""

    def __init__(self, issuer: LocalIssuer, client: AnyClient) -> None:
        self.issuer = issuer
        self.client = client
        self.events: list[tuple[Any, ...]] = []
        self.labels: dict[str, str] = {}

    def label(self, kid: str, name: str) -> str:
        self.labels[kid] = name
        return kid

    def name(self, value: Any) -> Any:
        return self.labels.get(value, value) if isinstance(value, str) else value

    def scrub(self, text: str) -> str:
        for kid, name in self.labels.items():
            text = text.replace(kid, name)
        return text.replace(str(self.issuer.port), "PORT")

    def describe(self, value: Any) -> Any:
        if isinstance(value, PyJWK):
            return ("PyJWK", self.name(value.key_id), value.algorithm_name, type(value.key))
        if isinstance(value, PyJWKSet):
            return ("PyJWKSet", [self.describe(k) for k in value.keys])
        if isinstance(value, list):
            return [self.describe(v) for v in value]
        return value

    def __call__(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            result = fn(*args)
        except Exception as error:
            outcome: Any = ("raises", pyjwt_class(error), self.scrub(str(error)))
            result = None
        else:
            outcome = self.describe(result)
        self.events.append((what, outcome, self.issuer.fetch_count))
        return result


Scenario = Callable[[type[AnyClient], LocalIssuer], Trace]


def run_both(issuer: LocalIssuer, scenario: Scenario) -> list[tuple[Any, ...]]:
    """Runs the scenario with PyJWT's class and ours; the traces must be equal."""
    traces = []
    for cls in CLASSES:
        issuer.reset()
        traces.append(scenario(cls, issuer).events)
    assert traces[0] == traces[1]
    return traces[0]


def outcomes(events: list[tuple[Any, ...]]) -> list[Any]:
    return [outcome for _, outcome, _ in events]


def fetches(events: list[tuple[Any, ...]]) -> list[int]:
    return [count for _, _, count in events]


def segment(data: Any) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64url_encode(raw).decode()


# -- parity: caching, refetch, rotation ---------------------------------------------------------


def test_warm_lookups_fetch_once(oidc_issuer: LocalIssuer) -> None:
    def scenario(cls: type[AnyClient], iss: LocalIssuer) -> Trace:
        t = Trace(iss, cls(iss.jwks_uri))
        kid = t.label(iss.current_kid, "K1")
        token = iss.mint()
        for _ in range(3):
            t("from_jwt", t.client.get_signing_key_from_jwt, token)
            t("from_jwt bytes", t.client.get_signing_key_from_jwt, token.encode())
        t("get_signing_key", t.client.get_signing_key, kid)
        t("get_signing_keys", t.client.get_signing_keys)
        t("get_jwk_set", t.client.get_jwk_set)
        return t

    events = run_both(oidc_issuer, scenario)
    assert fetches(events) == [1] * len(events)
    assert outcomes(events)[0][:3] == ("PyJWK", "K1", "RS256")


def test_lifespan_expiry_refetches(oidc_issuer: LocalIssuer) -> None:
    def scenario(cls: type[AnyClient], iss: LocalIssuer) -> Trace:
        t = Trace(iss, cls(iss.jwks_uri, lifespan=60))
        token = iss.mint()
        t("first", t.client.get_signing_key_from_jwt, token)
        expire(t.client)
        t("expired", t.client.get_signing_key_from_jwt, token)
        t("warm again", t.client.get_signing_key_from_jwt, token)
        expire(t.client)
        t("expired, by kid", t.client.get_signing_key, iss.current_kid)
        return t

    assert fetches(run_both(oidc_issuer, scenario)) == [1, 2, 2, 3]


@pytest.mark.parametrize("cooldown", [30, 0])
def test_rotation_waits_for_the_cooldown(oidc_issuer: LocalIssuer, cooldown: float) -> None:
    def scenario(cls: type[AnyClient], iss: LocalIssuer) -> Trace:
        t = Trace(iss, cls(iss.jwks_uri, cooldown_duration=cooldown))
        t.label(iss.current_kid, "OLD")
        old_token = iss.mint()
        t("old", t.client.get_signing_key_from_jwt, old_token)
        t.label(iss.rotate(), "NEW")
        new_token = iss.mint()
        t("new", t.client.get_signing_key_from_jwt, new_token)
        t("new again", t.client.get_signing_key_from_jwt, new_token)
        cool(t.client)
        t("new after cooldown", t.client.get_signing_key_from_jwt, new_token)
        t("old, still published", t.client.get_signing_key_from_jwt, old_token)
        return t

    events = run_both(oidc_issuer, scenario)
    if cooldown:  # every fetch starts the cooldown, the first one included (PyJWT 2.15)
        assert outcomes(events)[1] == (
            "raises",
            "PyJWKClientError",
            'Unable to find a signing key that matches: "NEW"',
        )
        assert fetches(events) == [1, 1, 1, 2, 2]
    else:
        assert outcomes(events)[1][:2] == ("PyJWK", "NEW")
        assert fetches(events) == [1, 2, 2, 2, 2]


def test_a_removed_key_stops_once_the_set_is_refetched(oidc_issuer: LocalIssuer) -> None:
    def scenario(cls: type[AnyClient], iss: LocalIssuer) -> Trace:
        t = Trace(iss, cls(iss.jwks_uri))
        old = t.label(iss.current_kid, "OLD")
        old_token = iss.mint()
        t("old", t.client.get_signing_key_from_jwt, old_token)
        t.label(iss.rotate(), "NEW")
        iss.retire(old)
        t("old, cached set", t.client.get_signing_key_from_jwt, old_token)
        expire(t.client)
        t("old, set refetched", t.client.get_signing_key_from_jwt, old_token)
        t("new", t.client.get_signing_key_from_jwt, iss.mint())
        return t

    events = run_both(oidc_issuer, scenario)
    assert outcomes(events)[2][:2] == ("raises", "PyJWKClientError")
    assert fetches(events) == [1, 1, 2, 2]


def test_cache_keys_serves_a_removed_key_as_pyjwt_does(oidc_issuer: LocalIssuer) -> None:
    """pyjwt#1051, matched by default: the LRU never looks at the set again for a known kid."""

    def scenario(cls: type[AnyClient], iss: LocalIssuer) -> Trace:
        t = Trace(iss, cls(iss.jwks_uri, cache_keys=True))
        old = t.label(iss.current_kid, "OLD")
        old_token = iss.mint()
        t("old", t.client.get_signing_key_from_jwt, old_token)
        t.label(iss.rotate(), "NEW")
        iss.retire(old)
        expire(t.client)
        t("old, set expired", t.client.get_signing_key_from_jwt, old_token)
        t("old, by kid", t.client.get_signing_key, old)
        cool(t.client)
        t("new", t.client.get_signing_key_from_jwt, iss.mint())
        t("old after refetch", t.client.get_signing_key_from_jwt, old_token)
        return t

    events = run_both(oidc_issuer, scenario)
    assert [o[1] for o in outcomes(events)] == ["OLD", "OLD", "OLD", "NEW", "OLD"]
    assert fetches(events) == [1, 1, 1, 2, 2]


def test_unknown_kids_cost_one_fetch_per_cooldown(oidc_issuer: LocalIssuer) -> None:
    def scenario(cls: type[AnyClient], iss: LocalIssuer) -> Trace:
        t = Trace(iss, cls(iss.jwks_uri))
        t("known", t.client.get_signing_key_from_jwt, iss.mint())
        for n in range(5):
            t(f"random {n}", t.client.get_signing_key, f"random-{n}")
            t(
                f"random token {n}",
                t.client.get_signing_key_from_jwt,
                iss.mint(headers={"kid": f"x{n}"}),
            )
        cool(t.client)
        for n in range(3):
            t(f"after cooldown {n}", t.client.get_signing_key, f"random-{n}")
        return t

    events = run_both(oidc_issuer, scenario)
    assert fetches(events) == [1] * 11 + [2, 2, 2]


def test_concurrent_misses_are_serialised(oidc_issuer: LocalIssuer) -> None:
    def scenario(cls: type[AnyClient], iss: LocalIssuer) -> Trace:
        t = Trace(iss, cls(iss.jwks_uri))
        t("old", t.client.get_signing_key_from_jwt, iss.mint())
        t.label(iss.rotate(), "NEW")
        token = iss.mint()
        cool(t.client)
        results: list[Any] = []
        barrier = threading.Barrier(8)

        def lookup() -> None:
            barrier.wait()
            try:
                results.append(t.client.get_signing_key_from_jwt(token).key_id)
            except Exception as error:  # pragma: no cover - reported by the trace
                results.append(repr(error))

        threads = [threading.Thread(target=lookup) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        t("results", lambda: sorted(t.name(r) for r in results))
        return t

    events = run_both(oidc_issuer, scenario)
    assert events[-1] == ("results", ["NEW"] * 8, 2)


def test_a_token_without_kid(oidc_issuer: LocalIssuer) -> None:
    def scenario(cls: type[AnyClient], iss: LocalIssuer) -> Trace:
        t = Trace(iss, cls(iss.jwks_uri, cooldown_duration=0))
        t("warm", t.client.get_signing_key_from_jwt, iss.mint())
        t("no kid", t.client.get_signing_key_from_jwt, iss.mint(headers={"kid": None}))
        return t

    events = run_both(oidc_issuer, scenario)
    assert outcomes(events)[1] == (
        "raises",
        "PyJWKClientError",
        'Unable to find a signing key that matches: "None"',
    )
    assert fetches(events) == [1, 2]


# -- parity: failures ---------------------------------------------------------------------------


def test_a_failed_refresh_keeps_the_cached_set(oidc_issuer: LocalIssuer) -> None:
    def scenario(cls: type[AnyClient], iss: LocalIssuer) -> Trace:
        t = Trace(iss, cls(iss.jwks_uri))
        kid = iss.current_kid
        token = iss.mint()
        t("warm", t.client.get_signing_key_from_jwt, token)
        cool(t.client)
        iss.fail_next(1)
        t("unknown kid, refresh fails", t.client.get_signing_key, "unknown")
        t("known kid, cache kept", t.client.get_signing_key_from_jwt, token)
        expire(t.client)
        iss.fail_next(2, status=500)
        t("expired, issuer down", t.client.get_signing_key_from_jwt, token)
        t("expired, issuer down", t.client.get_signing_key, kid)
        t("issuer back", t.client.get_signing_key_from_jwt, token)
        return t

    events = run_both(oidc_issuer, scenario)
    assert outcomes(events)[1] == (
        "raises",
        "PyJWKClientConnectionError",
        'Fail to fetch data from the url, err: "HTTP Error 503: Service Unavailable"',
    )
    assert outcomes(events)[2][0] == "PyJWK"
    assert fetches(events) == [1, 2, 2, 3, 4, 5]


def test_dropped_connection_and_redirect(oidc_issuer: LocalIssuer) -> None:
    def scenario(cls: type[AnyClient], iss: LocalIssuer) -> Trace:
        t = Trace(iss, cls(iss.jwks_uri))
        token = iss.mint()
        iss.redirect_next(iss.url("/elsewhere.json"))
        t("redirect refused", t.client.get_signing_key_from_jwt, token)
        iss.drop_next(1)
        t("dropped", t.client.get_signing_key_from_jwt, token)
        t("then fine", t.client.get_signing_key_from_jwt, token)
        t("paths", lambda: [r.path for r in iss.requests])
        return t

    events = run_both(oidc_issuer, scenario)
    assert [o[:2] for o in outcomes(events)[:2]] == [("raises", "PyJWKClientConnectionError")] * 2
    assert events[-1][1] == ["/jwks.json"] * 3  # the redirect was not followed


BAD_BODIES = {
    "not json": ("not json", "application/json"),
    "html": ("<html><body>Sign in</body></html>", "text/html"),
    "a list": ("[]", "application/json"),
    "no keys member": ("{}", "application/json"),
    "empty keys": ('{"keys": []}', "application/json"),
    "keys not a list": ('{"keys": "abc"}', "application/json"),
    "only junk members": ('{"keys": [1, "x", null]}', "application/json"),
    "unusable keys": ('{"keys": [{"kty": "EC", "crv": "P-999"}, {"kty": "XYZ"}]}', None),
    "encryption keys only": ("ENC", "application/json"),
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_bad_jwks_documents(oidc_issuer: LocalIssuer, case: str) -> None:
    def scenario(cls: type[AnyClient], iss: LocalIssuer) -> Trace:
        body, content_type = BAD_BODIES[case]
        if body == "ENC":
            jwk = dict(iss.jwks()["keys"][0], use="enc")
            body = json.dumps({"keys": [jwk]})
        t = Trace(iss, cls(iss.jwks_uri, cooldown_duration=0))
        token = iss.mint()
        iss.serve_body(body, content_type=content_type or "application/json", times=2)
        t("from_jwt", t.client.get_signing_key_from_jwt, token)
        t("get_jwk_set", t.client.get_jwk_set)
        cache = t.client.jwk_set_cache
        if cache is not None and cache.jwk_set_with_timestamp is not None:
            expire(t.client)  # a set was cached (the encryption keys): age it
        iss.reset_faults()
        t("good again", t.client.get_signing_key_from_jwt, token)
        return t

    events = run_both(oidc_issuer, scenario)
    assert outcomes(events)[0][0] == "raises"
    assert outcomes(events)[2][0] == "PyJWK"


def test_an_error_status(oidc_issuer: LocalIssuer) -> None:
    def scenario(cls: type[AnyClient], iss: LocalIssuer) -> Trace:
        t = Trace(iss, cls(iss.jwks_uri))
        iss.fail_next(1, status=404)
        t("404", t.client.get_signing_key_from_jwt, iss.mint())
        return t

    events = run_both(oidc_issuer, scenario)
    assert outcomes(events)[0][:2] == ("raises", "PyJWKClientConnectionError")


def malformed_tokens(iss: LocalIssuer, *, known_kid: bool | None = None) -> dict[str, Any]:
    """Tokens PyJWT's get_signing_key_from_jwt refuses; ``known_kid`` selects by their kid."""
    good = iss.mint()
    header, payload, signature = good.split(".")
    kid = iss.current_kid
    tokens = {
        "empty": "",
        "one segment": "abc",
        "two segments": "abc.def",
        "header not base64": f"!!.{payload}.{signature}",
        "header not json": f"{segment(b'nope')}.{payload}.{signature}",
        "header a list": f"{segment([1])}.{payload}.{signature}",
        "kid an int": f"{segment({'alg': 'RS256', 'kid': 7})}.{payload}.{signature}",
        "payload not json, unknown kid": (
            f"{segment({'alg': 'RS256', 'kid': 'nope'})}.{segment(b'{')}.{signature}"
        ),
        "payload not json, known kid": f"{segment({'alg': 'RS256', 'kid': kid})}.x{payload}.",
        "payload a list": f"{segment({'alg': 'RS256', 'kid': kid})}.{segment([1])}.{signature}",
        "signature not base64": f"{header}.{payload}.!!",
        "not a string": 12345,
        "none": None,
    }
    known = {"payload not json, known kid", "payload a list", "signature not base64"}
    if known_kid is None:
        return tokens
    return {name: token for name, token in tokens.items() if (name in known) == known_kid}


def test_malformed_tokens_raise_before_any_fetch(oidc_issuer: LocalIssuer) -> None:
    def scenario(cls: type[AnyClient], iss: LocalIssuer) -> Trace:
        t = Trace(iss, cls(iss.jwks_uri))
        for name, token in malformed_tokens(iss).items():
            t(name, t.client.get_signing_key_from_jwt, token)
        return t

    events = run_both(oidc_issuer, scenario)
    assert all(outcome[0] == "raises" for outcome in outcomes(events))
    assert fetches(events) == [0] * len(events)


def test_malformed_tokens_with_an_unknown_kid_cost_no_refetch(oidc_issuer: LocalIssuer) -> None:
    def scenario(cls: type[AnyClient], iss: LocalIssuer) -> Trace:
        t = Trace(iss, cls(iss.jwks_uri))
        t("warm", t.client.get_signing_key_from_jwt, iss.mint())
        cool(t.client)
        for name, token in malformed_tokens(iss, known_kid=False).items():
            t(name, t.client.get_signing_key_from_jwt, token)
        return t

    events = run_both(oidc_issuer, scenario)
    assert fetches(events) == [1] * len(events)


# -- parity: options and extension points -------------------------------------------------------


def test_without_the_jwk_set_cache_every_lookup_fetches(oidc_issuer: LocalIssuer) -> None:
    def scenario(cls: type[AnyClient], iss: LocalIssuer) -> Trace:
        t = Trace(iss, cls(iss.jwks_uri, cache_jwk_set=False))
        token = iss.mint()
        t("first", t.client.get_signing_key_from_jwt, token)
        t("second", t.client.get_signing_key_from_jwt, token)
        t("unknown kid: lookup and refresh", t.client.get_signing_key, "unknown")
        t("cache", lambda: t.client.jwk_set_cache)
        return t

    assert fetches(run_both(oidc_issuer, scenario)) == [1, 2, 4, 4]


def test_constructor_validation_is_pyjwts() -> None:
    cases: list[tuple[tuple[str], dict[str, Any]]] = [
        (("file:///etc/passwd",), {}),
        (("http://x/jwks",), {"lifespan": 0}),
        (("http://x/jwks",), {"cooldown_duration": -1}),
        (("http://x/jwks",), {"cooldown_duration": float("nan")}),
    ]
    for args, kwargs in cases:
        messages = []
        for cls in CLASSES:
            with pytest.raises(jwt.PyJWKClientError) as info:
                cls(*args, **kwargs)
            messages.append(str(info.value))
        assert messages[0] == messages[1]


def test_headers_reach_the_issuer_and_fetch_data_overrides_work(oidc_issuer: LocalIssuer) -> None:
    def scenario(cls: type[AnyClient], iss: LocalIssuer) -> Trace:
        dropped = iss.add_key()

        class Filtering(cls):  # type: ignore[valid-type,misc]
            def fetch_data(self) -> Any:
                data = super().fetch_data()
                return {"keys": [k for k in data["keys"] if k["kid"] != dropped]}

        t = Trace(iss, Filtering(iss.jwks_uri, headers={"User-Agent": "svc/1.0", "X-Key": "k"}))
        t.label(dropped, "DROPPED")
        t.label(iss.current_kid, "K1")
        t("kept", t.client.get_signing_key_from_jwt, iss.mint())
        t("dropped", t.client.get_signing_key, dropped)
        t("set", t.client.get_jwk_set)
        headers = iss.requests[-1].headers
        t("headers", lambda: (headers["user-agent"], headers["x-key"]))
        return t

    events = run_both(oidc_issuer, scenario)
    assert outcomes(events)[1][:2] == ("raises", "PyJWKClientError")
    assert events[-1][1] == ("svc/1.0", "k")


@pytest.fixture(scope="module")
def tls_issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer(tls=True) as issuer:
        yield issuer


def test_an_ssl_context_is_used(tls_issuer: LocalIssuer) -> None:
    def scenario(cls: type[AnyClient], iss: LocalIssuer) -> Trace:
        token = iss.mint()
        trusting = Trace(iss, cls(iss.jwks_uri, ssl_context=iss.client_ssl_context()))
        trusting("trusted", trusting.client.get_signing_key_from_jwt, token)
        default = Trace(iss, cls(iss.jwks_uri))
        default("untrusted", default.client.get_signing_key_from_jwt, token)
        trusting.events += default.events
        return trusting

    events = run_both(tls_issuer, scenario)
    assert outcomes(events)[0][0] == "PyJWK"
    assert outcomes(events)[1][:2] == ("raises", "PyJWKClientConnectionError")


# -- ours: keys built once, exceptions, options ------------------------------------------------


def test_lookups_return_one_pyjwk_per_key_and_set(oidc_issuer: LocalIssuer) -> None:
    client = PyJWKClient(oidc_issuer.jwks_uri)
    token = oidc_issuer.mint(audience="api")
    first = client.get_signing_key_from_jwt(token)
    assert isinstance(first, PyJWK)
    assert client.get_signing_key_from_jwt(token) is first
    assert client.get_signing_key(oidc_issuer.current_kid) is first
    assert first in client.get_signing_keys()
    claims = jwt.decode(token, first.key, algorithms=["RS256"], audience="api")
    assert claims["iss"] == oidc_issuer.issuer
    expire(client)
    second = client.get_signing_key_from_jwt(token)
    assert second is not first  # a new set, new objects
    assert second.key_id == first.key_id
    assert oidc_issuer.fetch_count == 2


def test_an_unknown_kid_is_also_an_invalid_token(oidc_issuer: LocalIssuer) -> None:
    client = PyJWKClient(oidc_issuer.jwks_uri)
    with pytest.raises(SigningKeyNotFoundError) as info:
        client.get_signing_key_from_jwt(oidc_issuer.mint(headers={"kid": "gone"}))
    assert isinstance(info.value, jwt.PyJWKClientError)
    assert isinstance(info.value, jwt.InvalidTokenError)
    assert str(info.value) == 'Unable to find a signing key that matches: "gone"'


def malformed_tokens_with_a_known_kid(iss: LocalIssuer) -> dict[str, Any]:
    """Tokens whose header names a key of the set, that PyJWT's lookup refuses all the same."""
    good = iss.mint()
    header, payload, signature = good.split(".")
    kid = iss.current_kid
    crit = {"alg": "RS256", "kid": kid, "crit": ["unknown-extension"], "unknown-extension": 1}
    return {
        **malformed_tokens(iss, known_kid=True),
        "two segments": f"{header}.{payload}",
        "four segments": f"{good}.{signature}",
        "trailing newline": f"{good}\n",
        "trailing newline, bytes": f"{good}\n".encode(),
        "payload garbage": f"{header}.{segment(b'garbage')}.{signature}",
        "payload not base64": f"{header}.!!.{signature}",
        "payload a string": f"{header}.{segment('claims')}.{signature}",
        "payload a number": f"{header}.{segment(7)}.{signature}",
        "payload null": f"{header}.{segment(None)}.{signature}",
        "signature with padding": f"{header}.{payload}.{signature}=",
        "unsupported crit": f"{segment(crit)}.{payload}.{signature}",
        "crit not a list": f"{segment(dict(crit, crit='x'))}.{payload}.{signature}",
        "empty crit": f"{segment(dict(crit, crit=[]))}.{payload}.{signature}",
    }


def test_malformed_tokens_with_a_known_kid_raise_as_in_pyjwt(oidc_issuer: LocalIssuer) -> None:
    """Finding 3: a known kid no longer lets a malformed token through the lookup."""

    def scenario(cls: type[AnyClient], iss: LocalIssuer) -> Trace:
        t = Trace(iss, cls(iss.jwks_uri))
        t.label(iss.current_kid, "K1")
        t("warm", t.client.get_signing_key_from_jwt, iss.mint())
        for name, token in malformed_tokens_with_a_known_kid(iss).items():
            t(name, t.client.get_signing_key_from_jwt, token)
        expire(t.client)  # and with the set expired (a refetch first, then the same error)
        for name, token in malformed_tokens_with_a_known_kid(iss).items():
            t(f"{name}, expired", t.client.get_signing_key_from_jwt, token)
        return t

    events = run_both(oidc_issuer, scenario)
    refused = outcomes(events)[1:]
    assert refused
    assert all(outcome[0] == "raises" for outcome in refused)
    assert {outcome[1] for outcome in refused} == {"DecodeError", "InvalidTokenError"}
    assert max(fetches(events)) == 1  # PyJWT parses before looking: no refetch either


def test_malformed_tokens_with_a_known_kid_are_refused_by_decode(oidc_issuer: LocalIssuer) -> None:
    client = PyJWKClient(oidc_issuer.jwks_uri)
    assert client.decode(oidc_issuer.mint())
    for token in malformed_tokens_with_a_known_kid(oidc_issuer).values():
        with pytest.raises(jwt.InvalidTokenError):
            client.decode(token)
    assert oidc_issuer.fetch_count == 1


def test_cache_keys_keeps_pyjwts_lru(oidc_issuer: LocalIssuer) -> None:
    client = PyJWKClient(oidc_issuer.jwks_uri, cache_keys=True, max_cached_keys=4)
    token = oidc_issuer.mint()
    for _ in range(3):
        client.get_signing_key_from_jwt(token)
    info = client.get_signing_key.cache_info()  # type: ignore[attr-defined]
    assert (info.hits, info.misses, info.maxsize) == (2, 1, 4)
    client.get_signing_key.cache_clear()  # type: ignore[attr-defined]


def test_revoke_removed_keys_drops_a_removed_key_once_the_set_is_refetched(
    oidc_issuer: LocalIssuer,
) -> None:
    client = PyJWKClient(oidc_issuer.jwks_uri, cache_keys=True, revoke_removed_keys=True)
    old = oidc_issuer.current_kid
    old_token = oidc_issuer.mint()
    assert client.get_signing_key_from_jwt(old_token).key_id == old
    oidc_issuer.rotate()
    oidc_issuer.retire(old)
    assert client.get_signing_key_from_jwt(old_token).key_id == old  # the set is still fresh
    expire(client)
    with pytest.raises(SigningKeyNotFoundError):
        client.get_signing_key_from_jwt(old_token)
    with pytest.raises(SigningKeyNotFoundError):
        client.get_signing_key(old)
    assert client.get_signing_key_from_jwt(oidc_issuer.mint()).key_id == oidc_issuer.current_kid
    assert oidc_issuer.fetch_count == 2
    assert not hasattr(client.get_signing_key, "cache_info")


def test_overridden_lookup_methods_are_honoured(oidc_issuer: LocalIssuer) -> None:
    calls: list[str] = []

    class Counting(PyJWKClient):
        def get_signing_key(self, kid: str) -> PyJWK:
            calls.append(kid)
            return super().get_signing_key(kid)

    class Aliasing(PyJWKClient):
        @staticmethod
        def match_kid(signing_keys: list[PyJWK], kid: str) -> PyJWK | None:
            return signing_keys[0] if kid == "alias" else PyJWKClient.match_kid(signing_keys, kid)

    token = oidc_issuer.mint()
    counting = Counting(oidc_issuer.jwks_uri)
    for _ in range(3):
        counting.get_signing_key_from_jwt(token)
    assert calls == [oidc_issuer.current_kid] * 3
    aliasing = Aliasing(oidc_issuer.jwks_uri)
    assert aliasing.get_signing_key("alias").key_id == oidc_issuer.current_kid
    assert aliasing.get_signing_key_from_jwt(oidc_issuer.mint(headers={"kid": "alias"}))


PATCH_TARGETS = ["this class", "jwt.PyJWKClient", "the instance"]


def patch_target(where: str, client: AnyClient) -> Any:
    if where == "this class":
        return type(client)
    if where == "jwt.PyJWKClient":
        return jwt.PyJWKClient
    return client


@pytest.mark.parametrize("where", PATCH_TARGETS)
@pytest.mark.parametrize("name", ["get_signing_keys", "match_kid"])
def test_mocked_lookup_methods_are_called(oidc_issuer: LocalIssuer, where: str, name: str) -> None:
    """Finding 1: mock.patch.object on a lookup method, after construction, is honoured."""
    calls: list[str] = []

    def scenario(cls: type[AnyClient], iss: LocalIssuer) -> Trace:
        t = Trace(iss, cls(iss.jwks_uri))
        t.label(iss.current_kid, "K1")
        token = iss.mint()
        t("warm", t.client.get_signing_key_from_jwt, token)
        # The mock finds no key: PyJWT's lookup then raises (the cooldown forbids a refetch).
        fake = {"get_signing_keys": [], "match_kid": None}[name]
        with mock.patch.object(patch_target(where, t.client), name, return_value=fake) as m:
            t("patched from_jwt", t.client.get_signing_key_from_jwt, token)
            t("patched by kid", t.client.get_signing_key, iss.current_kid)
            if isinstance(t.client, PyJWKClient):
                t("patched decode", t.client.decode, token)
            else:  # what decode does in PyJWT's terms
                t("patched decode", t.client.get_signing_key_from_jwt, token)
            calls.append(f"{cls.__module__}: {m.call_count}")
        t("unpatched", t.client.get_signing_key_from_jwt, token)
        return t

    events = run_both(oidc_issuer, scenario)
    assert [o[0] for o in outcomes(events)[1:4]] == ["raises"] * 3
    assert outcomes(events)[1][2] == 'Unable to find a signing key that matches: "K1"'
    assert outcomes(events)[4][:2] == ("PyJWK", "K1")
    assert calls[0].split(": ")[1] == calls[1].split(": ")[1] != "0"
    assert fetches(events) == [1] * len(events)


@pytest.mark.parametrize("where", PATCH_TARGETS)
def test_a_mocked_get_signing_keys_replaces_the_network(
    oidc_issuer: LocalIssuer, where: str
) -> None:
    """A test that mocks get_signing_keys must not reach the issuer, as with PyJWT."""
    keys = jwt.PyJWKClient(oidc_issuer.jwks_uri).get_signing_keys()
    token = oidc_issuer.mint()
    for cls in CLASSES:
        client = cls(oidc_issuer.jwks_uri)
        before = oidc_issuer.fetch_count
        target = patch_target(where, client)
        with mock.patch.object(target, "get_signing_keys", return_value=keys) as m:
            assert client.get_signing_key_from_jwt(token) is keys[0]
            if isinstance(client, PyJWKClient):
                assert client.decode(token)["iss"] == oidc_issuer.issuer
        assert m.called
        assert oidc_issuer.fetch_count == before


def test_repr_shows_configuration_only() -> None:
    client = PyJWKClient("https://issuer.example/keys", headers={"Authorization": "Bearer s3"})
    assert repr(client) == (
        "PyJWKClient(uri='https://issuer.example/keys', cache_jwk_set=True, lifespan=300, "
        "cache_keys=False, cooldown_duration=30)"
    )


def test_lookups_from_many_threads_during_rotations(oidc_issuer: LocalIssuer) -> None:
    client = PyJWKClient(oidc_issuer.jwks_uri, cooldown_duration=0)
    tokens = [oidc_issuer.mint()]
    errors: list[BaseException] = []
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            for token in list(tokens):
                try:
                    key = client.get_signing_key_from_jwt(token)
                    assert key.key_id == jwt.get_unverified_header(token)["kid"]
                except BaseException as error:  # pragma: no cover - the assertion reports it
                    errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(3):
            oidc_issuer.rotate()
            tokens.append(oidc_issuer.mint())
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert errors == []
    for token in tokens:
        assert client.get_signing_key_from_jwt(token)


# -- ours: decode ------------------------------------------------------------------------------


def test_decode_returns_what_jwt_decode_returns(oidc_issuer: LocalIssuer) -> None:
    client = PyJWKClient(oidc_issuer.jwks_uri)
    token = oidc_issuer.mint({"scope": "read", "n": [1, 2.5, None]}, audience="api", subject="u")
    key = client.get_signing_key_from_jwt(token)
    expected = jwt.decode(token, key.key, algorithms=["RS256"], audience="api")
    assert client.decode(token, audience="api") == expected
    assert client.decode(token, audience=["x", "api"], issuer=oidc_issuer.issuer, subject="u")
    assert oidc_issuer.fetch_count == 1


@pytest.mark.parametrize(
    ("mint_kwargs", "decode_kwargs", "error"),
    [
        ({"audience": "api"}, {"audience": "other"}, jwt.InvalidAudienceError),
        ({"audience": "api"}, {}, jwt.InvalidAudienceError),
        ({"expires_in": -120}, {}, jwt.ExpiredSignatureError),
        ({"issuer": "https://evil"}, {"issuer": "https://good"}, jwt.InvalidIssuerError),
        ({"headers": {"alg": "none"}}, {}, jwt.InvalidAlgorithmError),
        ({"expires_in": None}, {"options": {"require": ["exp"]}}, jwt.MissingRequiredClaimError),
    ],
)
def test_decode_raises_pyjwts_exceptions(
    oidc_issuer: LocalIssuer,
    mint_kwargs: dict[str, Any],
    decode_kwargs: dict[str, Any],
    error: type[Exception],
) -> None:
    client = PyJWKClient(oidc_issuer.jwks_uri)
    token = oidc_issuer.mint(**mint_kwargs)
    with pytest.raises(error):
        client.decode(token, **decode_kwargs)


def test_decode_accepts_a_timedelta_leeway_and_mapping_options(oidc_issuer: LocalIssuer) -> None:
    import datetime
    import types

    client = PyJWKClient(oidc_issuer.jwks_uri)
    token = oidc_issuer.mint(expires_in=-10)
    assert client.decode(token, leeway=datetime.timedelta(seconds=60))
    assert client.decode(token, options=types.MappingProxyType({"verify_exp": False}))


def test_decode_refreshes_once_for_an_unknown_kid(oidc_issuer: LocalIssuer) -> None:
    client = PyJWKClient(oidc_issuer.jwks_uri)
    assert client.decode(oidc_issuer.mint())
    oidc_issuer.rotate()
    new_token = oidc_issuer.mint()
    with pytest.raises(SigningKeyNotFoundError, match="Unable to find a signing key"):
        client.decode(new_token)  # cooling down, as get_signing_key
    assert oidc_issuer.fetch_count == 1
    cool(client)
    assert client.decode(new_token)
    assert oidc_issuer.fetch_count == 2
    for n in range(5):
        with pytest.raises(SigningKeyNotFoundError):
            client.decode(oidc_issuer.mint(headers={"kid": f"random-{n}"}))
    assert oidc_issuer.fetch_count == 2


def test_decode_refuses_a_removed_key_even_with_cache_keys(oidc_issuer: LocalIssuer) -> None:
    client = PyJWKClient(oidc_issuer.jwks_uri, cache_keys=True)
    old = oidc_issuer.current_kid
    old_token = oidc_issuer.mint()
    assert client.decode(old_token)
    oidc_issuer.rotate()
    oidc_issuer.retire(old)
    expire(client)
    with pytest.raises(SigningKeyNotFoundError):
        client.decode(old_token)
    assert client.decode(oidc_issuer.mint())
    assert oidc_issuer.fetch_count == 2


def test_decode_keeps_the_set_when_a_refresh_fails(oidc_issuer: LocalIssuer) -> None:
    client = PyJWKClient(oidc_issuer.jwks_uri)
    token = oidc_issuer.mint()
    assert client.decode(token)
    cool(client)
    oidc_issuer.fail_next(1)
    with pytest.raises(jwt.PyJWKClientConnectionError):
        client.decode(oidc_issuer.mint(headers={"kid": "unknown"}))
    assert client.decode(token)
    assert oidc_issuer.fetch_count == 2


def test_decode_with_keys_it_cannot_use(oidc_issuer: LocalIssuer) -> None:
    ec = oidc_issuer.add_key("EC", crv="secp256k1")
    client = PyJWKClient(oidc_issuer.jwks_uri)
    ec_token = oidc_issuer.mint(kid=ec)
    # PyJWT's path verifies it ...
    key = client.get_signing_key_from_jwt(ec_token)
    assert jwt.decode(ec_token, key.key, algorithms=["ES256K"])
    # ... decode's allow-list (the set's algorithms it verifies) refuses ES256K ...
    with pytest.raises(jwt.InvalidAlgorithmError):
        client.decode(ec_token)
    # ... decode cannot use a secp256k1 key, and says so when the token claims RS256.
    with pytest.raises(SigningKeyNotFoundError, match="cannot use it"):
        client.decode(with_alg(ec_token, "RS256"))
    assert client.decode(oidc_issuer.mint())
    assert oidc_issuer.fetch_count == 1


def _drop_by_get_signing_keys(dropped: str) -> type[PyJWKClient]:
    class Client(PyJWKClient):
        def get_signing_keys(self, refresh: bool = False) -> list[PyJWK]:
            return [k for k in super().get_signing_keys(refresh) if k.key_id != dropped]

    return Client


def _drop_by_match_kid(dropped: str) -> type[PyJWKClient]:
    class Client(PyJWKClient):
        @staticmethod
        def match_kid(signing_keys: list[PyJWK], kid: str) -> PyJWK | None:
            return None if kid == dropped else PyJWKClient.match_kid(signing_keys, kid)

    return Client


def _drop_by_jwk_set_filter(dropped: str) -> type[PyJWKClient]:
    class Client(PyJWKClient):
        @staticmethod
        def _get_signing_keys_from_jwk_set(jwk_set: PyJWKSet) -> list[PyJWK]:
            keys = jwt.PyJWKClient._get_signing_keys_from_jwk_set(jwk_set)
            return [k for k in keys if k.key_id != dropped]

    return Client


@pytest.mark.parametrize(
    "make", [_drop_by_get_signing_keys, _drop_by_match_kid, _drop_by_jwk_set_filter]
)
@pytest.mark.parametrize("cache_keys", [False, True])
def test_decode_honours_a_subclass_that_drops_a_key(
    oidc_issuer: LocalIssuer, make: Callable[[str], type[PyJWKClient]], cache_keys: bool
) -> None:
    """Finding 2 (security): a key the subclass's lookup drops does not verify in decode."""
    dropped = oidc_issuer.current_kid
    kept = oidc_issuer.add_key()
    client = make(dropped)(oidc_issuer.jwks_uri, cache_keys=cache_keys, cooldown_duration=0)
    dropped_token = oidc_issuer.mint(kid=dropped)
    kept_token = oidc_issuer.mint(kid=kept, subject="kept")
    with pytest.raises(jwt.PyJWKClientError, match="Unable to find a signing key"):
        client.get_signing_key_from_jwt(dropped_token)
    with pytest.raises(jwt.PyJWKClientError, match="Unable to find a signing key"):
        client.decode(dropped_token)
    with pytest.raises(jwt.PyJWKClientError, match="Unable to find a signing key"):
        client.decode(with_alg(dropped_token, "RS256"))
    for _ in range(2):  # the second time with the verifier built for the key
        assert client.decode(kept_token, options=types.MappingProxyType({}))["sub"] == "kept"
    # A dropped kid on a token signed with the kept key: refused as well.
    forged = oidc_issuer.mint(kid=kept, headers={"kid": dropped})
    with pytest.raises(jwt.PyJWKClientError):
        client.decode(forged)


def test_decode_verifies_with_the_key_the_override_returns_only(oidc_issuer: LocalIssuer) -> None:
    first = oidc_issuer.current_kid
    second = oidc_issuer.add_key()

    class Aliasing(PyJWKClient):
        @staticmethod
        def match_kid(signing_keys: list[PyJWK], kid: str) -> PyJWK | None:
            wanted = first if kid == "alias" else second  # every other kid: the second key
            return PyJWKClient.match_kid(signing_keys, wanted)

    client = Aliasing(oidc_issuer.jwks_uri)
    assert client.decode(oidc_issuer.mint(kid=first, headers={"kid": "alias"}, subject="a"))
    assert client.decode(oidc_issuer.mint(kid=second, subject="b"))["sub"] == "b"
    with pytest.raises(jwt.InvalidSignatureError):  # the second key cannot verify it
        client.decode(oidc_issuer.mint(kid=first))
    with pytest.raises(jwt.InvalidSignatureError):
        client.decode(oidc_issuer.mint(kid=second, headers={"kid": "alias"}))
    # The same, with get_signing_key_from_jwt patched on the instance after construction.
    plain = PyJWKClient(oidc_issuer.jwks_uri)
    second_key = plain.get_signing_key(second)
    token = oidc_issuer.mint(kid=first)
    assert plain.decode(token)
    patched = mock.patch.object(plain, "get_signing_key_from_jwt", return_value=second_key)
    with patched as m, pytest.raises(jwt.InvalidSignatureError):
        plain.decode(token)
    assert m.call_count == 1
    assert plain.decode(token)


def test_decode_with_an_overridden_lookup_and_a_key_it_cannot_use(
    oidc_issuer: LocalIssuer,
) -> None:
    ec = oidc_issuer.add_key("EC", crv="secp256k1")

    class Counting(PyJWKClient):
        def get_signing_key(self, kid: str) -> PyJWK:
            return super().get_signing_key(kid)

    client = Counting(oidc_issuer.jwks_uri)
    for _ in range(2):
        with pytest.raises(jwt.PyJWKSetError, match="Ed25519 keys only"):
            client.decode(oidc_issuer.mint(kid=ec))
    assert client.decode(oidc_issuer.mint())
    assert oidc_issuer.fetch_count == 1


@pytest.mark.parametrize("override", [False, True])
def test_decode_allows_only_rs256_for_a_key_without_alg(
    oidc_issuer: LocalIssuer, override: bool
) -> None:
    """Finding 4: PyJWT verifies with an RSA key that states no alg in RS256 only."""
    no_alg = oidc_issuer.add_key(alg="PS256", extra={"alg": None})  # signs PS256
    oidc_issuer.add_key(alg="PS256")  # so that the set's algorithms include PS256
    token = oidc_issuer.mint(kid=no_alg)
    assert jwt.get_unverified_header(token)["alg"] == "PS256"
    pyjwt_key = jwt.PyJWKClient(oidc_issuer.jwks_uri).get_signing_key_from_jwt(token)
    assert "alg" not in pyjwt_key._jwk_data
    with pytest.raises(jwt.InvalidAlgorithmError):
        jwt.decode(token, pyjwt_key, algorithms=["RS256", "PS256"])

    class Overriding(PyJWKClient):
        def get_signing_keys(self, refresh: bool = False) -> list[PyJWK]:
            return super().get_signing_keys(refresh)

    client = (Overriding if override else PyJWKClient)(oidc_issuer.jwks_uri)
    with pytest.raises(jwt.InvalidAlgorithmError):
        client.decode(token)
    with pytest.raises(jwt.InvalidAlgorithmError):
        client.decode(token, algorithms=["PS256"])
    # The same key signing RS256 verifies.
    signed = oidc_issuer.mint(kid=no_alg, headers={"alg": "RS256"})
    assert client.decode(signed)["iss"] == oidc_issuer.issuer


def test_decode_without_the_jwk_set_cache_fetches_as_pyjwt(oidc_issuer: LocalIssuer) -> None:
    """Finding 5: an unknown kid costs PyJWT's two requests, not three."""
    counts: list[list[int]] = []
    for cls in CLASSES:
        oidc_issuer.reset()
        client = cls(oidc_issuer.jwks_uri, cache_jwk_set=False)
        seen = []
        for token in (oidc_issuer.mint(), oidc_issuer.mint(headers={"kid": "unknown"})):
            try:
                if isinstance(client, PyJWKClient):
                    client.decode(token)
                else:
                    jwt.decode(token, client.get_signing_key_from_jwt(token), algorithms=["RS256"])
            except jwt.PyJWKClientError:
                pass
            seen.append(oidc_issuer.fetch_count)
        counts.append(seen)
    assert counts[0] == counts[1] == [1, 3]


def with_alg(token: str, alg: str) -> str:
    """The token with another alg in its header (its kid kept, the signature now wrong)."""
    header = jwt.get_unverified_header(token)
    _, payload, signature = token.split(".")
    return f"{segment(dict(header, alg=alg))}.{payload}.{signature}"


def test_decode_with_no_key_it_verifies_at_all() -> None:
    with LocalIssuer() as issuer:
        ec = issuer.add_key("EC", crv="secp256k1", publish_only=False)
        issuer.retire(issuer.kids[0])
        client = PyJWKClient(issuer.jwks_uri)
        token = issuer.mint(kid=ec)
        assert client.get_signing_key_from_jwt(token).key_id == ec
        with pytest.raises(jwt.PyJWKSetError, match="Ed25519 keys only"):
            client.decode(token)
        with pytest.raises(jwt.PyJWKSetError, match="Ed25519 keys only"):
            client.decode(token)
        assert issuer.fetch_count == 1


@pytest.mark.parametrize(("kty", "crv"), [("EC", "P-256"), ("EC", "P-384"), ("OKP", "Ed25519")])
def test_decode_verifies_ec_and_ed25519_keys_in_rust(kty: str, crv: str) -> None:
    with LocalIssuer() as issuer:
        kid = issuer.add_key(kty, crv=crv, publish_only=False)
        client = PyJWKClient(issuer.jwks_uri)
        token = issuer.mint({"sub": "svc"}, kid=kid)
        assert client.decode(token)["sub"] == "svc"
        pyjwk = client.get_signing_key_from_jwt(token)
        assert jwt.decode(token, pyjwk.key, algorithms=[pyjwk.algorithm_name])["sub"] == "svc"
        # The RSA key of the set still verifies, and the allow-list holds both algorithms.
        assert client.decode(issuer.mint({"sub": "rsa"}, kid=issuer.kids[0]))["sub"] == "rsa"
        assert issuer.fetch_count == 1


def test_decode_from_many_threads(oidc_issuer: LocalIssuer) -> None:
    client = PyJWKClient(oidc_issuer.jwks_uri)
    tokens = [oidc_issuer.mint(subject=str(uuid.uuid4())) for _ in range(8)]
    results: list[str] = []

    def work(token: str) -> None:
        for _ in range(20):
            results.append(client.decode(token)["sub"])

    threads = [threading.Thread(target=work, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 160
    assert oidc_issuer.fetch_count == 1


def test_decode_a_token_without_kid(oidc_issuer: LocalIssuer) -> None:
    """JWKSCache's rule: a token without kid selects the set's only key, if it has one."""
    client = PyJWKClient(oidc_issuer.jwks_uri)
    assert client.decode(oidc_issuer.mint(subject="a", headers={"kid": None}))["sub"] == "a"
    oidc_issuer.rotate()
    expire(client)  # the next decode fetches the set, two keys now
    with pytest.raises(SigningKeyNotFoundError, match='matches: "None"'):
        client.decode(oidc_issuer.mint(headers={"kid": None}))
    assert oidc_issuer.fetch_count == 2
