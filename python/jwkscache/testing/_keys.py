"""Key material for the local issuer: generation, public JWKs and key IDs."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

KeyType = Literal["RSA", "EC", "OKP", "oct"]
KidStyle = Literal["rfc7638", "kubernetes"]
PrivateKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
    | bytes
)

_CURVES: dict[str, tuple[ec.EllipticCurve, str, int]] = {
    # JWK curve name -> (curve, default JWS alg, coordinate size in bytes)
    "P-256": (ec.SECP256R1(), "ES256", 32),
    "P-384": (ec.SECP384R1(), "ES384", 48),
    "P-521": (ec.SECP521R1(), "ES512", 66),
    "secp256k1": (ec.SECP256K1(), "ES256K", 32),
}
_OCT_SIZES = {"HS256": 32, "HS384": 48, "HS512": 64}
# RFC 7638 section 3.2: the required members of each key type, in lexicographic order.
_THUMBPRINT_MEMBERS = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
    "oct": ("k", "kty"),
}


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint(value: int, size: int | None = None) -> str:
    length = size if size is not None else max(1, (value.bit_length() + 7) // 8)
    return b64url(value.to_bytes(length, "big"))


def rfc7638_thumbprint(jwk: dict[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a JWK, base64url-encoded.

    Args:
        jwk: A public (or private) JWK with at least the members RFC 7638 requires.

    Returns:
        The thumbprint, as used for a default ``kid``.
    """
    members = _THUMBPRINT_MEMBERS[jwk["kty"]]
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def kubernetes_kid(public_key: Any) -> str:
    """The key ID the Kubernetes API server derives: base64url(SHA-256(DER SPKI)).

    Args:
        public_key: A ``cryptography`` public key.

    Returns:
        The key ID, as in ``pkg/serviceaccount`` ``keyIDFromPublicKey``.
    """
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return b64url(hashlib.sha256(der).digest())


def public_jwk_members(private: PrivateKey) -> dict[str, Any]:
    """The key-type-specific public JWK members (``kty`` and the key itself)."""
    if isinstance(private, rsa.RSAPrivateKey):
        numbers = private.public_key().public_numbers()
        return {"kty": "RSA", "n": _uint(numbers.n), "e": _uint(numbers.e)}
    if isinstance(private, ec.EllipticCurvePrivateKey):
        crv = next(name for name, (c, _, _) in _CURVES.items() if c.name == private.curve.name)
        size = _CURVES[crv][2]
        point = private.public_key().public_numbers()
        return {"kty": "EC", "crv": crv, "x": _uint(point.x, size), "y": _uint(point.y, size)}
    if isinstance(private, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        crv = "Ed25519" if isinstance(private, ed25519.Ed25519PrivateKey) else "Ed448"
        raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return {"kty": "OKP", "crv": crv, "x": b64url(raw)}
    return {"kty": "oct", "k": b64url(private)}


def default_alg(kty: str, crv: str | None = None) -> str:
    """The JWS algorithm a key of this type signs with unless told otherwise."""
    if kty == "RSA":
        return "RS256"
    if kty == "EC":
        return _CURVES[crv or "P-256"][1]
    if kty == "OKP":
        return "EdDSA"
    if kty == "oct":
        return "HS256"
    raise ValueError(f"unsupported kty {kty!r}: expected 'RSA', 'EC', 'OKP' or 'oct'")


def key_type_for(alg: str) -> tuple[str, str | None]:
    """The key type and curve that sign with a JWS algorithm: ``("EC", "P-256")`` for ES256.

    Raises:
        ValueError: No asymmetric key signs with ``alg``.
    """
    if alg in ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"):
        return "RSA", None
    for crv, (_, curve_alg, _) in _CURVES.items():
        if curve_alg == alg:
            return "EC", crv
    if alg == "EdDSA":
        return "OKP", "Ed25519"
    raise ValueError(
        f"unsupported signing alg {alg!r}: expected RS*, PS*, ES256, ES384, ES512, ES256K or EdDSA"
    )


def generate_private_key(
    kty: str, *, key_size: int = 2048, crv: str | None = None, alg: str | None = None
) -> PrivateKey:
    """Generate a fresh private key (or an HMAC secret for ``oct``).

    Args:
        kty: ``"RSA"``, ``"EC"``, ``"OKP"`` or ``"oct"``.
        key_size: RSA modulus size in bits.
        crv: Curve for EC (``P-256`` default) or OKP (``Ed25519`` default).
        alg: For ``oct``, the HMAC algorithm that decides the secret's length.

    Returns:
        A ``cryptography`` private key, or ``bytes`` for ``oct``.
    """
    if kty == "RSA":
        return rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    if kty == "EC":
        name = crv or "P-256"
        if name not in _CURVES:
            raise ValueError(f"unsupported EC curve {name!r}: expected one of {sorted(_CURVES)}")
        return ec.generate_private_key(_CURVES[name][0])
    if kty == "OKP":
        name = crv or "Ed25519"
        if name == "Ed25519":
            return ed25519.Ed25519PrivateKey.generate()
        if name == "Ed448":
            return ed448.Ed448PrivateKey.generate()
        raise ValueError(f"unsupported OKP curve {name!r}: expected 'Ed25519' or 'Ed448'")
    if kty == "oct":
        return secrets.token_bytes(_OCT_SIZES.get(alg or "HS256", 64))
    raise ValueError(f"unsupported kty {kty!r}: expected 'RSA', 'EC', 'OKP' or 'oct'")


@dataclass
class IssuerKey:
    """One key the issuer holds: its private half and the JWK it publishes.

    Attributes:
        kid: The key ID.
        alg: The algorithm tokens signed with this key use.
        private: The private key (``bytes`` for an ``oct`` secret).
        jwk: The JWK served in the key set (public members only, except ``oct``).
        published: Whether the key is in the served JWKS.
    """

    kid: str
    alg: str
    private: PrivateKey
    jwk: dict[str, Any] = field(default_factory=dict)
    published: bool = True


def make_key(
    private: PrivateKey,
    *,
    kid: str | None = None,
    kid_style: KidStyle = "rfc7638",
    use: str | None = "sig",
    alg: str | None = None,
    extra: dict[str, Any] | None = None,
) -> IssuerKey:
    """Wrap a private key into an :class:`IssuerKey` with its public JWK.

    Args:
        private: The private key.
        kid: Key ID; defaults to the RFC 7638 thumbprint (or Kubernetes' SPKI hash).
        kid_style: How to derive a missing ``kid``.
        use: The JWK ``use`` member; ``None`` leaves it out.
        alg: The JWK ``alg`` member; defaults to the key type's usual algorithm.
        extra: More JWK members (``key_ops``, ``x5c`` ...); a ``None`` value removes a member.

    Returns:
        The key, published.
    """
    members = public_jwk_members(private)
    algorithm = alg or default_alg(members["kty"], members.get("crv"))
    if kid is None:
        if kid_style == "kubernetes" and not isinstance(private, bytes):
            kid = kubernetes_kid(private.public_key())
        else:
            kid = rfc7638_thumbprint(members)
    jwk: dict[str, Any] = {"kty": members["kty"], "use": use, "alg": algorithm, "kid": kid}
    jwk.update((k, v) for k, v in members.items() if k != "kty")
    jwk.update(extra or {})
    jwk = {k: v for k, v in jwk.items() if v is not None}
    return IssuerKey(kid=kid, alg=algorithm, private=private, jwk=jwk)
