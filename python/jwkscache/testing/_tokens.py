"""Claims for the tokens the issuer mints, and the signing itself (PyJWT)."""

from __future__ import annotations

import datetime
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import jwt

from ._keys import IssuerKey

TimeValue = int | float | datetime.datetime
Audience = str | Sequence[str]


def epoch(value: TimeValue) -> int:
    """Whole seconds since the Unix epoch."""
    if isinstance(value, datetime.datetime):
        return int(value.timestamp())
    return int(value)


def seconds(value: float | datetime.timedelta) -> float:
    """A duration in seconds."""
    return value.total_seconds() if isinstance(value, datetime.timedelta) else float(value)


def standard_claims(
    *,
    issuer: str,
    expires_in: float | datetime.timedelta | None,
    audience: Audience | None,
    subject: str | None,
    not_before: TimeValue | None,
    issued_at: TimeValue | None,
) -> dict[str, Any]:
    """The registered claims of a freshly minted token.

    ``exp`` counts from ``issued_at`` (now by default), so a back-dated token expires
    accordingly; ``nbf`` defaults to ``iat``.
    """
    iat = epoch(issued_at) if issued_at is not None else int(time.time())
    claims: dict[str, Any] = {"iss": issuer, "iat": iat, "nbf": iat, "jti": uuid.uuid4().hex}
    if expires_in is not None:
        claims["exp"] = iat + int(seconds(expires_in))
    if not_before is not None:
        claims["nbf"] = epoch(not_before)
    if subject is not None:
        claims["sub"] = subject
    if audience is not None:
        claims["aud"] = audience if isinstance(audience, str) else list(audience)
    return claims


def _uid(*parts: str) -> str:
    # Stable per object, like a real cluster's UIDs are for the object's lifetime.
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "jwkscache-testing:" + "/".join(parts)))


def service_account_claims(
    namespace: str,
    name: str,
    *,
    pod: str | None,
    node: str | None,
    secret: str | None = None,
    warn_after: TimeValue | None = None,
) -> dict[str, Any]:
    """The private ``kubernetes.io`` claim of a bound service-account token."""
    private: dict[str, Any] = {
        "namespace": namespace,
        "serviceaccount": {"name": name, "uid": _uid(namespace, "serviceaccount", name)},
    }
    if pod is not None:
        private["pod"] = {"name": pod, "uid": _uid(namespace, "pod", pod)}
    if node is not None:
        private["node"] = {"name": node, "uid": _uid("node", node)}
    if secret is not None:
        private["secret"] = {"name": secret, "uid": _uid(namespace, "secret", secret)}
    if warn_after is not None:
        private["warnafter"] = epoch(warn_after)
    return {"kubernetes.io": private}


#: The ``iss`` of a legacy secret-based service-account token.
LEGACY_SERVICE_ACCOUNT_ISSUER = "kubernetes/serviceaccount"


def legacy_service_account_claims(namespace: str, name: str, secret: str) -> dict[str, Any]:
    """The claims of a legacy secret-based token (pkg/serviceaccount/legacy.go): flat, no
    ``exp``, ``iss`` ``kubernetes/serviceaccount``."""
    prefix = "kubernetes.io/serviceaccount/"
    return {
        "iss": LEGACY_SERVICE_ACCOUNT_ISSUER,
        "sub": f"system:serviceaccount:{namespace}:{name}",
        prefix + "namespace": namespace,
        prefix + "secret.name": secret,
        prefix + "service-account.name": name,
        prefix + "service-account.uid": _uid(namespace, "serviceaccount", name),
    }


def kubernetes_audience(audience: Audience) -> str | list[str]:
    """An audience as go-jose serializes it: a one-member list becomes a string."""
    auds = [audience] if isinstance(audience, str) else list(audience)
    return auds[0] if len(auds) == 1 else auds


def sign(
    payload: Mapping[str, Any], key: IssuerKey, headers: Mapping[str, Any] | None = None
) -> str:
    """Sign a payload with PyJWT (``jwt.encode``).

    Args:
        payload: The claims; members whose value is ``None`` are left out.
        key: The key to sign with; its ``kid`` and ``alg`` go into the header.
        headers: Header members to add or override; ``None`` removes ``kid`` or ``typ``.
            ``{"alg": "none"}`` makes an unsigned token.

    Returns:
        The compact JWS.
    """
    claims = {name: value for name, value in payload.items() if value is not None}
    header: dict[str, Any] = {"kid": key.kid}
    header.update(headers or {})
    if header.get("kid") is None:
        header.pop("kid", None)
    # PyJWT drops a falsy "typ" itself; every other None is left out here.
    header = {k: v for k, v in header.items() if v is not None or k == "typ"}
    algorithm = str(header.get("alg") or key.alg)
    signing_key: Any = None if algorithm == "none" else key.private
    return jwt.encode(claims, signing_key, algorithm=algorithm, headers=header)
