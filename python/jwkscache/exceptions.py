"""The exceptions jwkscache raises: PyJWT's own classes, or subclasses of them.

Code written for PyJWT (``except jwt.ExpiredSignatureError:``) catches ours.
"""

from __future__ import annotations

from jwt.exceptions import (
    DecodeError,
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAlgorithmError,
    InvalidAudienceError,
    InvalidIssuedAtError,
    InvalidIssuerError,
    InvalidJTIError,
    InvalidKeyError,
    InvalidSignatureError,
    InvalidSubjectError,
    InvalidTokenError,
    MissingRequiredClaimError,
    PyJWKClientConnectionError,
    PyJWKClientError,
    PyJWKError,
    PyJWKSetError,
    PyJWTError,
)

__all__ = [
    "DecodeError",
    "ExpiredSignatureError",
    "ImmatureSignatureError",
    "InvalidAlgorithmError",
    "InvalidAudienceError",
    "InvalidIssuedAtError",
    "InvalidIssuerError",
    "InvalidJTIError",
    "InvalidKeyError",
    "InvalidServiceAccountTokenError",
    "InvalidSignatureError",
    "InvalidSubjectError",
    "InvalidTokenError",
    "MissingRequiredClaimError",
    "PyJWKClientConnectionError",
    "PyJWKClientError",
    "PyJWKError",
    "PyJWKSetError",
    "PyJWTError",
    "ServiceAccountNotAllowedError",
    "SigningKeyNotFoundError",
]


class SigningKeyNotFoundError(PyJWKClientError, InvalidTokenError):
    """No key of the JWK Set matches the token's ``kid``.

    A ``jwt.PyJWKClientError`` (what PyJWT's ``PyJWKClient`` raises) and also a
    ``jwt.InvalidTokenError``, so a handler that turns invalid tokens into 401
    answers catches it too.
    """


class InvalidServiceAccountTokenError(InvalidTokenError):
    """The claims are not a Kubernetes service-account token's (``jwkscache.kubernetes``).

    No or a malformed ``kubernetes.io`` claim, a ``sub`` that does not name the same service
    account, or a legacy secret-based token where those are not allowed.
    """


class ServiceAccountNotAllowedError(InvalidTokenError):
    """A valid service-account token, but not of a namespace or service account required."""
