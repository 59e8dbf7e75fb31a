"""Integration settings shared by Django (``JWKSCACHE = {...}``) and Flask (``JWKSCACHE_*``).

No framework here: the settings as a frozen value, the problems a startup check reports
(each with its ``jwkscache.E00n`` id), and the ``JWKSCache`` and ``BearerAuth`` they build.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, cast
from urllib.parse import urlsplit

from jwkscache._core import JWKSCache
from jwkscache.bearer import BearerAuth, KeySource

NAMES = (
    "ISSUER",
    "JWKS_URI",
    "AUDIENCE",
    "NO_AUDIENCE_REASON",
    "ALGORITHMS",
    "LEEWAY",
    "SCOPE_CLAIMS",
    "EXEMPT_PATHS",
    "REQUIRED",
    "REALM",
    "RETRY_AFTER",
    "CACHE",
)
_UNSET: Any = object()


class Problem(NamedTuple):
    """A misconfiguration: its id (``jwkscache.E001`` ...), what is wrong, how to fix it."""

    id: str
    message: str
    hint: str


@dataclass(frozen=True)
class Settings:
    """The integration's settings, read once from the framework's configuration."""

    issuer: str | None = None
    jwks_uri: str | None = None
    audience: Any = _UNSET
    no_audience_reason: str | None = None
    algorithms: tuple[str, ...] | None = None
    leeway: float = 0
    scope_claims: tuple[str, ...] = ("scope", "scp")
    exempt_paths: tuple[str, ...] = ()
    required: bool = True
    realm: str | None = None
    retry_after: int = 30
    cache: Mapping[str, Any] | None = None
    unknown: tuple[str, ...] = ()

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Settings:
        """From a mapping of the ``NAMES`` above (unknown names are kept, to be reported)."""
        if not isinstance(values, Mapping):
            return cls(unknown=(f"not a dict but {type(values).__name__}",))

        def names(key: str) -> tuple[str, ...] | None:
            value = values.get(key)
            if isinstance(value, str):  # one name for a list of one
                return (value,)
            return None if value is None else tuple(value)

        return cls(
            issuer=values.get("ISSUER"),
            jwks_uri=values.get("JWKS_URI"),
            audience=values.get("AUDIENCE", _UNSET),
            no_audience_reason=values.get("NO_AUDIENCE_REASON"),
            algorithms=names("ALGORITHMS"),
            leeway=values.get("LEEWAY", 0),
            scope_claims=names("SCOPE_CLAIMS") or ("scope", "scp"),
            exempt_paths=names("EXEMPT_PATHS") or (),
            required=bool(values.get("REQUIRED", True)),
            realm=values.get("REALM"),
            retry_after=values.get("RETRY_AFTER", 30),
            cache=values.get("CACHE"),
            unknown=tuple(sorted(str(name) for name in values if name not in NAMES)),
        )

    def problems(self, *, keys_given: bool = False, prefix: str = "JWKSCACHE") -> list[Problem]:
        """Every misconfiguration, each with its id; ``[]`` when the settings are usable.

        Args:
            keys_given: The application passed its own keys (no issuer needed).
            prefix: How the settings are named, for the messages.
        """
        found: list[Problem] = []
        if self.unknown:
            found.append(
                Problem(
                    "jwkscache.E005",
                    f"{prefix}: unknown settings {', '.join(self.unknown)}",
                    f"The settings are {', '.join(NAMES)}.",
                )
            )
        if not keys_given and not (self.issuer or self.jwks_uri):
            found.append(
                Problem(
                    "jwkscache.E001",
                    f"{prefix} names no ISSUER and no JWKS_URI",
                    "Set ISSUER (OIDC discovery) or JWKS_URI to your identity provider's.",
                )
            )
        if self.audience is _UNSET or (self.audience is None and not self.no_audience_reason):
            found.append(
                Problem(
                    "jwkscache.E002",
                    f"{prefix} has no AUDIENCE: tokens minted for any service would be accepted",
                    "Set AUDIENCE to this service's audience, or AUDIENCE None with "
                    "NO_AUDIENCE_REASON saying why the audience is not checked.",
                )
            )
        allow_http = bool((self.cache or {}).get("allow_insecure_http"))
        for name, url in (("ISSUER", self.issuer), ("JWKS_URI", self.jwks_uri)):
            if url and not allow_http and _insecure(url):
                found.append(
                    Problem(
                        "jwkscache.E003",
                        f"{prefix} {name} is plain http:// to a host that is not loopback: {url}",
                        "Use https:// (keys fetched over plain HTTP can be replaced in transit).",
                    )
                )
        unsupported = [alg for alg in self.algorithms or () if not _verifies(alg)]
        if unsupported:
            found.append(
                Problem(
                    "jwkscache.E004",
                    f"{prefix} ALGORITHMS has algorithms jwkscache does not verify: "
                    f"{', '.join(map(str, unsupported))}",
                    f"Use {', '.join(supported_algorithms())}.",
                )
            )
        if not found:
            try:  # BearerAuth checks LEEWAY, RETRY_AFTER, SCOPE_CLAIMS; keys are not used
                if keys_given:
                    self.bearer_auth(cast(KeySource, object()))
                else:
                    with self.build_keys() as keys:
                        self.bearer_auth(keys)
            except (TypeError, ValueError) as exc:
                found.append(
                    Problem(
                        "jwkscache.E006",
                        f"{prefix} cannot build its JWKSCache: {exc}",
                        "Check ISSUER / JWKS_URI; CACHE takes JWKSCache's keyword arguments "
                        "(timeout, lifespan, ...).",
                    )
                )
        return found

    def build_keys(self) -> JWKSCache:
        """A ``JWKSCache`` for these settings (nothing is fetched until first use)."""
        options: dict[str, Any] = dict(self.cache or {})
        if isinstance(options.get("shared"), type):
            # A store class (jwkscache.shared.DjangoCacheStore): built with the cache, once the
            # framework's own caches are ready (a settings file cannot build one).
            options["shared"] = options["shared"]()
        if self.algorithms is not None:
            options.setdefault("algorithms", list(self.algorithms))
        if self.issuer and not self.jwks_uri:
            return JWKSCache.from_issuer(self.issuer, **options)
        if self.issuer:
            return JWKSCache.from_issuer(self.issuer, jwks_uri=self.jwks_uri, **options)
        assert self.jwks_uri is not None
        return JWKSCache(self.jwks_uri, **options)

    def bearer_auth(self, keys: KeySource) -> BearerAuth:
        """The ``BearerAuth`` for these settings over ``keys``."""
        audience = None if self.audience is _UNSET else self.audience
        audience = (
            list(audience)
            if isinstance(audience, Sequence) and not isinstance(audience, str)
            else audience
        )
        return BearerAuth(
            keys,
            audience=audience,
            issuer=self.issuer,
            algorithms=self.algorithms,
            leeway=self.leeway,
            # AUDIENCE None (with its reason): not checked, even when a token names one.
            options={"verify_aud": False} if audience is None else None,
            scope_claims=self.scope_claims,
            realm=self.realm,
            retry_after=self.retry_after,
        )

    def is_exempt(self, path: str) -> bool:
        """Whether ``path`` is one of ``EXEMPT_PATHS`` (an entry ending in ``/`` is a prefix)."""
        if not self.exempt_paths:
            return False
        return any(
            path == entry or (entry.endswith("/") and path.startswith(entry))
            for entry in self.exempt_paths
        )


def _insecure(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme.lower() != "http":
        return False
    host = (parts.hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


_KNOWN = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")


def supported_algorithms() -> list[str]:
    """The JWS algorithms this build of jwkscache verifies."""
    return [alg for alg in (*_KNOWN, "EdDSA") if _verifies(alg)]


def _verifies(alg: object) -> bool:
    if not isinstance(alg, str):
        return False
    try:  # The Rust side is the authority on what it verifies; nothing is fetched here.
        JWKSCache("https://127.0.0.1/jwks", algorithms=[alg]).close()
    except ValueError:
        return False
    return True
