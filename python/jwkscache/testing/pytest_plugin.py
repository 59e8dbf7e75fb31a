"""pytest fixtures for a local OIDC issuer, in the manner of pytest-httpserver.

Loaded automatically through the ``pytest11`` entry point once jwkscache is installed.
Loading it imports the ``jwkscache`` package (its Rust extension and PyJWT);
``jwkscache.testing`` and the ``testing`` extra it needs (cryptography) are imported only
when a test asks for a fixture.

Fixtures:
    oidc_issuer_options: Session-scoped, overridable: keyword arguments for
        :class:`~jwkscache.testing.LocalIssuer` (default ``{}``).
    oidc_issuer_server: The issuer for the options in effect, started once per session (a
        directory whose ``conftest.py`` overrides the options gets its own).
    oidc_issuer: The session's issuer, :meth:`~jwkscache.testing.LocalIssuer.reset` before
        and after each test.
    mint_token: ``oidc_issuer.mint``.

Example:
    Override the options in a ``conftest.py``::

        @pytest.fixture(scope="session")
        def oidc_issuer_options():
            return {"preset": "eks", "tls": True}
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from jwkscache.testing import LocalIssuer


@pytest.fixture(scope="session")
def oidc_issuer_options() -> dict[str, Any]:
    """Keyword arguments for the session's ``LocalIssuer``; override it to configure it.

    Returns:
        ``{}``: a ``"generic"`` issuer over plain HTTP.
    """
    return {}


@pytest.fixture(scope="session")
def _oidc_issuers() -> Iterator[dict[str, LocalIssuer]]:
    """Every issuer started this session, by its options; all closed at the end."""
    issuers: dict[str, LocalIssuer] = {}
    yield issuers
    for issuer in issuers.values():
        issuer.close()


@pytest.fixture
def oidc_issuer_server(
    oidc_issuer_options: dict[str, Any], _oidc_issuers: dict[str, LocalIssuer]
) -> LocalIssuer:
    """The ``LocalIssuer`` for the options in effect, serving on 127.0.0.1 until the session ends.

    Started on first use for each distinct set of options (pytest caches a session fixture
    once, whatever a directory's ``conftest.py`` overrides, so the issuers are kept by
    options instead). Prefer :func:`oidc_issuer`, which also resets it for each test.
    """
    from jwkscache.testing import LocalIssuer

    key = repr(sorted(oidc_issuer_options.items()))
    if key not in _oidc_issuers:
        _oidc_issuers[key] = LocalIssuer(**oidc_issuer_options)
    return _oidc_issuers[key]


@pytest.fixture
def oidc_issuer(oidc_issuer_server: LocalIssuer) -> Iterator[LocalIssuer]:
    """The session's ``LocalIssuer``, reset before and after the test.

    Keys added or rotated, faults, headers and the request log never leak from one test to
    the next; the issuer's URL and first key stay the same for the whole session.
    """
    oidc_issuer_server.reset()
    yield oidc_issuer_server
    oidc_issuer_server.reset()


@pytest.fixture
def mint_token(oidc_issuer: LocalIssuer) -> Callable[..., str]:
    """``oidc_issuer.mint``: sign a token with the issuer's current key.

    Example:
        ``token = mint_token({"scope": "read"}, audience="api", subject="user-1")``
    """
    return oidc_issuer.mint
