"""pytest fixtures for a local OIDC issuer, in the manner of pytest-httpserver.

Loaded automatically through the ``pytest11`` entry point once jwkscache is installed.
Loading it imports nothing beyond pytest: ``jwkscache.testing`` (and the ``testing`` extra it
needs) is imported only when a test asks for a fixture.

Fixtures:
    oidc_issuer_options: Session-scoped, overridable: keyword arguments for
        :class:`~jwkscache.testing.LocalIssuer` (default ``{}``).
    oidc_issuer_server: The session's issuer, started once.
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
def oidc_issuer_server(oidc_issuer_options: dict[str, Any]) -> Iterator[LocalIssuer]:
    """The session's ``LocalIssuer``, serving on 127.0.0.1 until the session ends.

    Prefer :func:`oidc_issuer`, which also resets it for each test.
    """
    from jwkscache.testing import LocalIssuer

    with LocalIssuer(**oidc_issuer_options) as issuer:
        yield issuer


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
