"""The pytest plugin, run by pytest's own pytester: fixtures, reset, options, lazy import."""

from __future__ import annotations

import pytest

from _plugin import plugin_args

pytest_plugins = ["pytester"]


def test_fixtures_are_listed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest("--fixtures", *plugin_args())
    result.stdout.fnmatch_lines(
        [
            "oidc_issuer_options [[]session scope[]]*",
            "*Keyword arguments for the session's ``LocalIssuer``*",
            "oidc_issuer_server -- *",
            "oidc_issuer -- *",
            "mint_token -- *",
        ]
    )


def test_tokens_verify_against_the_served_jwks(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import jwt

        def test_verify(oidc_issuer, mint_token):
            token = mint_token({"scope": "read"}, audience="api", subject="user-1")
            client = jwt.PyJWKClient(oidc_issuer.jwks_uri)
            key = client.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token, key, algorithms=["RS256"], audience="api", issuer=oidc_issuer.issuer
            )
            assert claims["sub"] == "user-1"
            assert claims["scope"] == "read"
            assert oidc_issuer.fetch_count == 1

        def test_mint_token_is_the_issuer_s_mint(oidc_issuer, mint_token):
            assert mint_token == oidc_issuer.mint
        """
    )
    pytester.runpytest(*plugin_args()).assert_outcomes(passed=2)


def test_one_server_per_session_reset_for_each_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import json
        import urllib.request

        SEEN = []

        def fetch(url):
            with urllib.request.urlopen(url, timeout=10) as response:
                return json.load(response)

        def test_first(oidc_issuer):
            SEEN.append((oidc_issuer.issuer, oidc_issuer.current_kid))
            oidc_issuer.rotate()
            oidc_issuer.add_key("EC")
            oidc_issuer.fail_next(3)
            oidc_issuer.set_headers(cache_control="no-store")
            assert len(fetch(oidc_issuer.discovery_url)) > 0

        def test_second(oidc_issuer):
            assert (oidc_issuer.issuer, oidc_issuer.current_kid) == SEEN[0]
            assert oidc_issuer.requests == []
            assert oidc_issuer.discovery_count == 0
            assert len(fetch(oidc_issuer.jwks_uri)["keys"]) == 1  # no fault left over
            assert oidc_issuer.fault_counts["fail"] == 0

        def test_third(oidc_issuer_server):
            # the bare session server: reset after test_second as well
            assert oidc_issuer_server.requests == []
        """
    )
    pytester.runpytest(*plugin_args()).assert_outcomes(passed=3)


def test_options_through_an_overriding_fixture(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def oidc_issuer_options():
            return {"preset": "eks", "tls": True, "bearer_token": "secret"}
        """
    )
    pytester.makepyfile(
        """
        import ssl
        import urllib.error
        import urllib.request

        import pytest

        def test_eks_over_tls(oidc_issuer):
            assert oidc_issuer.issuer.startswith("https://127.0.0.1:")
            assert "/id/" in oidc_issuer.issuer
            assert oidc_issuer.jwks_uri == oidc_issuer.issuer + "/keys"
            context = ssl.create_default_context(cafile=oidc_issuer.ca_file)
            request = urllib.request.Request(
                oidc_issuer.jwks_uri, headers={"Authorization": "Bearer secret"}
            )
            with urllib.request.urlopen(request, context=context, timeout=10) as response:
                assert response.status == 200
            with pytest.raises(urllib.error.HTTPError) as denied:
                urllib.request.urlopen(oidc_issuer.jwks_uri, context=context, timeout=10)
            denied.value.close()
            assert denied.value.code == 401
        """
    )
    pytester.runpytest(*plugin_args()).assert_outcomes(passed=1)


def test_loading_the_plugin_imports_no_issuer(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import sys

        def test_not_imported():
            assert "jwkscache.testing._issuer" not in sys.modules
            assert "jwkscache.testing.pytest_plugin" in sys.modules
        """
    )
    pytester.runpytest_subprocess(*plugin_args()).assert_outcomes(passed=1)


def test_missing_extra_fails_only_the_tests_that_use_it(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import sys

        sys.modules["cryptography"] = None  # as if the testing extra were not installed
        """
    )
    pytester.makepyfile(
        """
        def test_without_issuer():
            pass

        def test_with_issuer(oidc_issuer):
            pass
        """
    )
    result = pytester.runpytest_subprocess(*plugin_args())
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(['*pip install "jwkscache[[]testing[]]"*'])


def test_directories_overriding_the_options_get_their_own_issuer(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        **{
            "a/test_a": """
                def test_generic(oidc_issuer):
                    assert oidc_issuer.preset.name == "generic"
            """,
            "b/conftest": """
                import pytest

                @pytest.fixture(scope="session")
                def oidc_issuer_options():
                    return {"preset": "kubernetes"}
            """,
            "b/test_b": """
                def test_kubernetes(oidc_issuer):
                    assert oidc_issuer.preset.name == "kubernetes"
            """,
        }
    )
    result = pytester.runpytest_subprocess(*plugin_args())
    result.assert_outcomes(passed=2)
