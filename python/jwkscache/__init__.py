"""jwkscache: fetch and cache an issuer's JWKS, verify JWTs (RS*, PS*, ES*, EdDSA) in Rust.

Start with :class:`JWKSCache`; see the README for the rules it applies.
"""

from __future__ import annotations

import os

from jwkscache import bearer, exceptions, kubernetes, shared  # bearer: RFC 6750, no web framework
from jwkscache._core import (
    JWKSCache,
    SigningKey,
    __version__,
    _after_fork,
    _after_fork_in_child,
    _prepare_fork,
)
from jwkscache.issuers import Issuers
from jwkscache.jwks_client import PyJWKClient

__all__ = [
    "Issuers",
    "JWKSCache",
    "PyJWKClient",
    "SigningKey",
    "__version__",
    "bearer",
    "exceptions",
    "kubernetes",
    "shared",
]

# gunicorn/uwsgi preload: a child must not inherit a lock held by a thread of
# the parent; the HTTP client is rebuilt in the child on first use.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_prepare_fork, after_in_parent=_after_fork, after_in_child=_after_fork_in_child
    )
