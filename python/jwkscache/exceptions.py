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
    "InvalidSignatureError",
    "InvalidSubjectError",
    "InvalidTokenError",
    "MissingRequiredClaimError",
    "PyJWKClientConnectionError",
    "PyJWKClientError",
    "PyJWKError",
    "PyJWKSetError",
    "PyJWTError",
    "SigningKeyNotFoundError",
]


class SigningKeyNotFoundError(PyJWKClientError, InvalidTokenError):
    """No key of the JWK Set matches the token's ``kid``.

    A ``jwt.PyJWKClientError`` (what PyJWT's ``PyJWKClient`` raises) and also a
    ``jwt.InvalidTokenError``, so a handler that turns invalid tokens into 401
    answers catches it too.
    """
