"""A real local OIDC issuer for tests: discovery, a JWKS, token minting, rotation and faults.

``LocalIssuer`` serves real HTTP (or HTTPS) on 127.0.0.1 from a background thread and signs
real tokens with PyJWT. The pytest plugin (``jwkscache.testing.pytest_plugin``, loaded
automatically once jwkscache is installed) offers it as the ``oidc_issuer`` and
``mint_token`` fixtures.

Needs the ``testing`` extra: ``pip install "jwkscache[testing]"``. The names below are
imported on first use, so that loading the pytest plugin costs nothing and never fails
where the extra is not installed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._faults import FAULT_KINDS, FaultKind
    from ._issuer import LocalIssuer
    from ._keys import kubernetes_kid, rfc7638_thumbprint
    from ._presets import PRESETS, Preset
    from ._records import RequestRecord

__all__ = [
    "FAULT_KINDS",
    "PRESETS",
    "FaultKind",
    "LocalIssuer",
    "Preset",
    "RequestRecord",
    "kubernetes_kid",
    "rfc7638_thumbprint",
]

_HOMES = {
    "FAULT_KINDS": "._faults",
    "FaultKind": "._faults",
    "LocalIssuer": "._issuer",
    "kubernetes_kid": "._keys",
    "rfc7638_thumbprint": "._keys",
    "PRESETS": "._presets",
    "Preset": "._presets",
    "RequestRecord": "._records",
}


def _require_extra() -> None:
    try:
        import cryptography  # noqa: F401
        import jwt.algorithms
    except ImportError as exc:
        raise ImportError(
            "jwkscache.testing needs the 'cryptography' package, which the testing extra "
            'installs: pip install "jwkscache[testing]"'
        ) from exc
    if not jwt.algorithms.has_crypto:  # pragma: no cover - PyJWT imported before it was
        raise ImportError(
            "PyJWT cannot use 'cryptography' in this process: pip install \"jwkscache[testing]\""
        )


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    _require_extra()
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
