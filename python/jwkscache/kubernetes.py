"""Kubernetes service-account tokens: a typed view of their claims, and verify-and-require.

A bound (projected) service-account token names its service account twice: in ``sub``
(``system:serviceaccount:<namespace>:<name>``) and in the private ``kubernetes.io`` claim,
which also holds the pod, node or secret it is bound to. :class:`ServiceAccountToken` reads
that claim after checking the two agree; :func:`verify` verifies a token with any
``JWKSCache`` (or ``jwkscache.Issuers``) and requires a namespace and service account in the
same call::

    keys = jwkscache.JWKSCache.from_issuer("https://oidc.eks.eu-west-1.amazonaws.com/id/ABC")
    sa = jwkscache.kubernetes.verify(
        keys, token, audience="my-api", namespace="payments", service_account="api"
    )
    sa.pod.name  # the pod the token was issued to

Offline verification proves the API server issued the token and it has not expired. It
cannot see that the pod, service account or secret has been deleted since: only a
``TokenReview`` against the API server can. ``warn_after`` is exposed, not enforced: past it
the API server only audits the token's use.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Union

from jwkscache.exceptions import InvalidServiceAccountTokenError, ServiceAccountNotAllowedError

if TYPE_CHECKING:
    from jwkscache._core import JWKSCache
    from jwkscache.issuers import Issuers

__all__ = [
    "LEGACY_ISSUER",
    "InvalidServiceAccountTokenError",
    "Keys",
    "ObjectRef",
    "ServiceAccountNotAllowedError",
    "ServiceAccountToken",
    "verify",
    "verify_async",
]

#: The ``iss`` of legacy secret-based tokens (before bound tokens; no ``exp``).
LEGACY_ISSUER = "kubernetes/serviceaccount"
_SUBJECT_PREFIX = "system:serviceaccount:"
_PRIVATE = "kubernetes.io"
_LEGACY_NAMESPACE = "kubernetes.io/serviceaccount/namespace"
_LEGACY_NAME = "kubernetes.io/serviceaccount/service-account.name"
_LEGACY_UID = "kubernetes.io/serviceaccount/service-account.uid"
_LEGACY_SECRET = "kubernetes.io/serviceaccount/secret.name"


#: What :func:`verify` verifies with.
Keys = Union["JWKSCache", "Issuers"]


@dataclass(frozen=True)
class ObjectRef:
    """A Kubernetes object a token names: its name and uid.

    Attributes:
        name: The object's name.
        uid: The object's uid (``None`` where the token does not carry one, as a legacy
            token's secret).
    """

    name: str
    uid: str | None


@dataclass(frozen=True)
class ServiceAccountToken:
    """The claims of a Kubernetes service-account token, typed.

    Build it with :meth:`from_claims` (or :func:`verify`), never from unverified claims you
    then trust.

    Attributes:
        namespace: The service account's namespace.
        service_account: The service account (name, uid).
        pod: The pod a bound token was issued to, or ``None``.
        node: The node that pod runs on (Kubernetes 1.30+), or ``None``.
        secret: The secret the token is bound to (a legacy token's secret, by name), or
            ``None``.
        jti: The token's ID (Kubernetes 1.29+), or ``None``.
        warn_after: When the token's real lifetime ended, for an admission-injected token
            extended to a year (90 days on EKS); ``None`` otherwise. Not enforced.
        issued_at: ``iat`` as an aware UTC datetime, or ``None``.
        expires_at: ``exp`` as an aware UTC datetime, or ``None`` (legacy tokens).
        audiences: ``aud`` as a tuple (a one-member ``aud`` may be a JSON string).
        issuer: ``iss``, or ``None``.
        subject: ``sub``: ``system:serviceaccount:<namespace>:<name>``.
        legacy: True for a legacy secret-based token.
        claims: Every claim, read-only (unknown members included).
    """

    namespace: str
    service_account: ObjectRef
    pod: ObjectRef | None
    node: ObjectRef | None
    secret: ObjectRef | None
    jti: str | None
    warn_after: datetime.datetime | None
    issued_at: datetime.datetime | None
    expires_at: datetime.datetime | None
    audiences: tuple[str, ...]
    issuer: str | None
    subject: str
    legacy: bool
    claims: Mapping[str, Any]

    @classmethod
    def from_claims(
        cls, claims: Mapping[str, Any], *, allow_legacy: bool = False
    ) -> ServiceAccountToken:
        """Read a service-account token's claims (already verified, e.g. by ``decode``).

        Args:
            claims: The token's claims.
            allow_legacy: Accept a legacy secret-based token (``iss``
                ``kubernetes/serviceaccount``, flat ``kubernetes.io/serviceaccount/...``
                claims, no ``exp``): such tokens never expire and are only revoked by
                deleting their secret, so they are refused unless asked for.

        Raises:
            InvalidServiceAccountTokenError: (a ``jwt.InvalidTokenError``) the claims are not
                a service-account token's: no or malformed ``kubernetes.io`` claim, a ``sub``
                that does not name the same service account, or a legacy token without
                ``allow_legacy``.
        """
        if not isinstance(claims, Mapping):
            raise _invalid(f"the claims must be a mapping, got {type(claims).__name__}")
        legacy = claims.get("iss") == LEGACY_ISSUER or (
            _PRIVATE not in claims and _LEGACY_NAMESPACE in claims
        )
        if legacy and not allow_legacy:
            raise _invalid(
                "it is a legacy secret-based token (iss 'kubernetes/serviceaccount', no "
                "expiry); pass allow_legacy=True to accept such tokens"
            )
        if legacy:
            namespace = _string(claims, _LEGACY_NAMESPACE)
            account = ObjectRef(
                _string(claims, _LEGACY_NAME), _optional_string(claims, _LEGACY_UID)
            )
            secret_name = _optional_string(claims, _LEGACY_SECRET)
            secret = ObjectRef(secret_name, None) if secret_name is not None else None
            pod = node = None
            warn_after = None
        else:
            private = claims.get(_PRIVATE)
            if not isinstance(private, Mapping):
                what = "missing" if private is None else f"a {type(private).__name__}"
                raise _invalid(f'the "{_PRIVATE}" claim is {what}, expected an object')
            namespace = _string(private, "namespace", _PRIVATE)
            account_ref = _ref(private, "serviceaccount")
            if account_ref is None:
                raise _invalid(f'"{_PRIVATE}" has no "serviceaccount"')
            account = account_ref
            pod, node, secret = (_ref(private, kind) for kind in ("pod", "node", "secret"))
            warn_after = _time(private, "warnafter", f'"{_PRIVATE}".')
        expected = f"{_SUBJECT_PREFIX}{namespace}:{account.name}"
        subject = claims.get("sub")
        if subject != expected:
            raise _invalid(f'"sub" is {subject!r}, expected {expected!r}')
        return cls(
            namespace=namespace,
            service_account=account,
            pod=pod,
            node=node,
            secret=secret,
            jti=_optional_string(claims, "jti"),
            warn_after=warn_after,
            issued_at=_time(claims, "iat"),
            expires_at=_time(claims, "exp"),
            audiences=_audiences(claims),
            issuer=_optional_string(claims, "iss"),
            subject=expected,
            legacy=legacy,
            claims=MappingProxyType(dict(claims)),
        )

    def require(
        self,
        *,
        namespace: str | Iterable[str] | None = None,
        service_account: str | Iterable[str] | None = None,
    ) -> ServiceAccountToken:
        """Require a namespace and service account (each one name or several); returns self.

        Raises:
            ServiceAccountNotAllowedError: (a ``jwt.InvalidTokenError``) the token's
                service account is not one of those required.
        """
        who = f"{self.namespace}:{self.service_account.name}"
        for what, value, allowed in (
            ("namespace", self.namespace, namespace),
            ("service account", self.service_account.name, service_account),
        ):
            if allowed is None:
                continue
            names = (allowed,) if isinstance(allowed, str) else tuple(allowed)
            if value not in names:
                expected = repr(names[0]) if len(names) == 1 else f"one of {list(names)!r}"
                raise ServiceAccountNotAllowedError(
                    f"Service account {who!r} is not allowed: its {what} is {value!r}, "
                    f"expected {expected}"
                )
        return self


def verify(
    keys: Keys,
    token: str | bytes,
    *,
    audience: str | Iterable[str] | None,
    namespace: str | Iterable[str] | None = None,
    service_account: str | Iterable[str] | None = None,
    allow_legacy: bool = False,
    **decode_kwargs: Any,
) -> ServiceAccountToken:
    """Verify a service-account token and require who it names, in one call.

    Args:
        keys: A ``jwkscache.JWKSCache`` or a ``jwkscache.Issuers``.
        token: The compact JWT.
        audience: The audience the token must carry (``None``: the cache's default);
            always name one for service-account tokens, whose default audience is the
            API server itself.
        namespace: The namespace (or namespaces) allowed; ``None``: any.
        service_account: The service-account name (or names) allowed; ``None``: any.
        allow_legacy: Accept legacy secret-based tokens (see
            :meth:`ServiceAccountToken.from_claims`).
        **decode_kwargs: More keyword arguments for ``keys.decode`` (``issuer``,
            ``leeway``, ``options`` ...).

    Raises:
        jwt.InvalidTokenError: as ``keys.decode`` raises (signature, expiry, audience ...),
            or :class:`InvalidServiceAccountTokenError` or
            :class:`ServiceAccountNotAllowedError`.
        jwt.PyJWKClientError: the issuer's keys could not be fetched.
    """
    claims = keys.decode(token, audience=audience, **decode_kwargs)
    return ServiceAccountToken.from_claims(claims, allow_legacy=allow_legacy).require(
        namespace=namespace, service_account=service_account
    )


async def verify_async(
    keys: Keys,
    token: str | bytes,
    *,
    audience: str | Iterable[str] | None,
    namespace: str | Iterable[str] | None = None,
    service_account: str | Iterable[str] | None = None,
    allow_legacy: bool = False,
    **decode_kwargs: Any,
) -> ServiceAccountToken:
    """:func:`verify` with ``keys.decode_async``: never blocks the event loop on a fetch."""
    claims = await keys.decode_async(token, audience=audience, **decode_kwargs)
    return ServiceAccountToken.from_claims(claims, allow_legacy=allow_legacy).require(
        namespace=namespace, service_account=service_account
    )


def _invalid(why: str) -> InvalidServiceAccountTokenError:
    return InvalidServiceAccountTokenError(f"Invalid Kubernetes service-account token: {why}")


def _string(claims: Mapping[str, Any], name: str, within: str | None = None) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        where = f'"{within}".' if within else ""
        what = "missing" if value is None else repr(value)
        raise _invalid(f'{where}"{name}" is {what}, expected a non-empty string')
    return value


def _optional_string(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid(f'"{name}" is {value!r}, expected a string')
    return value


def _ref(private: Mapping[str, Any], kind: str) -> ObjectRef | None:
    value = private.get(kind)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise _invalid(f'"{_PRIVATE}".{kind} is {value!r}, expected an object')
    name = _string(value, "name", f"{_PRIVATE}.{kind}")
    uid = value.get("uid")
    if uid is not None and not isinstance(uid, str):
        raise _invalid(f'"{_PRIVATE}".{kind}.uid is {uid!r}, expected a string')
    return ObjectRef(name, uid)


def _time(claims: Mapping[str, Any], name: str, where: str = "") -> datetime.datetime | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _invalid(f'{where}"{name}" is {value!r}, expected a NumericDate')
    try:
        return datetime.datetime.fromtimestamp(value, tz=datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise _invalid(f'{where}"{name}" is {value!r}, out of range for a date') from None


def _audiences(claims: Mapping[str, Any]) -> tuple[str, ...]:
    value = claims.get("aud")
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise _invalid(f'"aud" is {value!r}, expected a string or a list of strings')
