"""The issuer shapes the kit can imitate: paths, headers, key IDs and discovery fields."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ._keys import KidStyle

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class Preset:
    """How a kind of issuer lays out its endpoints and answers.

    Paths are relative to the issuer path; ``"{eks_id}"`` in ``issuer_path`` is replaced by a
    fresh 32-character upper-case hex ID, and ``"{issuer}"`` in discovery values by the
    issuer URL.

    Attributes:
        name: The preset's name.
        issuer_path: The issuer's path on the server (``""`` for the bare base URL).
        jwks_path: The JWKS path, appended to the issuer path.
        content_type: ``Content-Type`` of the JWKS.
        cache_control: ``Cache-Control`` of the JWKS and discovery responses (``None``: none).
        expires: ``Expires`` of the JWKS, as sent (``None``: none).
        etag: Whether the JWKS carries an automatic ``ETag``.
        last_modified: Whether the JWKS carries an automatic ``Last-Modified``.
        extra_headers: More JWKS response headers.
        kid_style: How default key IDs are derived (``"rfc7638"`` or ``"kubernetes"``).
        discovery_extra: More discovery document members.
    """

    name: str
    issuer_path: str = ""
    jwks_path: str = "/jwks.json"
    content_type: str = "application/json"
    cache_control: str | None = "max-age=300"
    expires: str | None = None
    etag: bool = False
    last_modified: bool = False
    extra_headers: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    kid_style: KidStyle = "rfc7638"
    discovery_extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    def resolve_issuer_path(self) -> str:
        """The issuer path with its placeholders filled in."""
        return self.issuer_path.replace("{eks_id}", secrets.token_hex(16).upper())


PRESETS: Mapping[str, Preset] = MappingProxyType(
    {
        # A plain OIDC issuer at the server root.
        "generic": Preset(name="generic", etag=True),
        # Amazon EKS: https://oidc.eks.REGION.amazonaws.com/id/<ID>, JWKS at {issuer}/keys.
        "eks": Preset(
            name="eks",
            issuer_path="/id/{eks_id}",
            jwks_path="/keys",
            etag=True,
            last_modified=True,
            discovery_extra=MappingProxyType({"claims_supported": ["sub", "iss"]}),
        ),
        # The Kubernetes API server (pkg/serviceaccount/openidmetadata.go): its own content
        # type, an hour of caching, and key IDs derived from the SPKI.
        "kubernetes": Preset(
            name="kubernetes",
            jwks_path="/openid/v1/jwks",
            content_type="application/jwk-set+json",
            cache_control="public, max-age=3600",
            kid_style="kubernetes",
        ),
        # An AppSSO AuthServer (Spring Authorization Server): JWKS at {issuer}/oauth2/jwks,
        # with Spring Security's default no-cache response headers.
        "appsso": Preset(
            name="appsso",
            jwks_path="/oauth2/jwks",
            cache_control="no-cache, no-store, max-age=0, must-revalidate",
            expires="0",
            extra_headers=MappingProxyType({"Pragma": "no-cache"}),
            discovery_extra=MappingProxyType(
                {
                    "authorization_endpoint": "{issuer}/oauth2/authorize",
                    "token_endpoint": "{issuer}/oauth2/token",
                    "scopes_supported": ["openid"],
                }
            ),
        ),
    }
)


def get_preset(preset: str | Preset) -> Preset:
    """Look a preset up by name (or pass a :class:`Preset` through).

    Raises:
        ValueError: The name is not a known preset.
    """
    if isinstance(preset, Preset):
        return preset
    try:
        return PRESETS[preset]
    except KeyError:
        known = ", ".join(repr(name) for name in PRESETS)
        raise ValueError(f"unknown preset {preset!r}: expected one of {known}") from None
