"""jwkscache: fetch and cache an issuer's JWKS, verify RS256 JWTs in Rust.

Start with :class:`JWKSCache`; see the README for the rules it applies.
"""

from __future__ import annotations

from jwkscache import exceptions
from jwkscache._core import JWKSCache, SigningKey, __version__

__all__ = ["JWKSCache", "SigningKey", "__version__", "exceptions"]
