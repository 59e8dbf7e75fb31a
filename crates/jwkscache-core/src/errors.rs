//! The one error type of the core, with messages in PyJWT's words.
//!
//! Each variant names the PyJWT exception class it becomes in Python; the
//! mapping itself lives in one place, the bindings' `py_errors.rs`.

use std::fmt;

/// Everything that can go wrong while fetching keys or verifying a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The token is malformed (segments, base64url, JSON). `jwt.DecodeError`.
    Decode(String),
    /// The token is structurally fine but refused as a whole (`crit`, `kid`
    /// type). `jwt.InvalidTokenError`.
    InvalidToken(String),
    /// The signature does not verify. `jwt.InvalidSignatureError`.
    InvalidSignature,
    /// The `alg` header is not in the allow-list or does not fit the key.
    /// `jwt.InvalidAlgorithmError`.
    InvalidAlgorithm(String),
    /// No key in the set matches the token. `jwt.PyJWKClientError` (and, in
    /// jwkscache, also a `jwt.InvalidTokenError`).
    KeyNotFound(String),
    /// `exp` is in the past. `jwt.ExpiredSignatureError`.
    Expired,
    /// `nbf` or `iat` is in the future. `jwt.ImmatureSignatureError`.
    Immature(&'static str),
    /// `iat` is not a number. `jwt.InvalidIssuedAtError`.
    InvalidIssuedAt(String),
    /// `jwt.InvalidAudienceError`.
    InvalidAudience(String),
    /// `jwt.InvalidIssuerError`.
    InvalidIssuer(String),
    /// `jwt.InvalidSubjectError`.
    InvalidSubject(String),
    /// `jwt.InvalidJTIError`.
    InvalidJti(String),
    /// A required claim is absent. `jwt.MissingRequiredClaimError(claim)`.
    MissingClaim(String),
    /// The document is not a usable JWK Set. `jwt.PyJWKSetError`.
    JwkSet(String),
    /// The issuer could not be reached or answered badly.
    /// `jwt.PyJWKClientConnectionError`.
    Fetch(String),
    /// The issuer answered 429 or 503 with a `Retry-After` (its raw value,
    /// and the response's `Date` to read an HTTP date against): a failed
    /// fetch like [`Error::Fetch`], whose next attempt waits as asked
    /// (`cache::Policy::retry_after`). `jwt.PyJWKClientConnectionError`.
    RetryLater { message: String, retry_after: String, date: Option<String> },
    /// A caller's argument is invalid (a programming error). `ValueError`.
    Config(String),
}

/// The core's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Decode(m)
            | Self::InvalidToken(m)
            | Self::InvalidAlgorithm(m)
            | Self::KeyNotFound(m)
            | Self::InvalidIssuedAt(m)
            | Self::InvalidAudience(m)
            | Self::InvalidIssuer(m)
            | Self::InvalidSubject(m)
            | Self::InvalidJti(m)
            | Self::JwkSet(m)
            | Self::Fetch(m)
            | Self::Config(m)
            | Self::RetryLater { message: m, .. } => f.write_str(m),
            Self::InvalidSignature => f.write_str("Signature verification failed"),
            Self::Expired => f.write_str("Signature has expired"),
            Self::Immature(m) => f.write_str(m),
            Self::MissingClaim(claim) => write!(f, "Token is missing the \"{claim}\" claim"),
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    /// `Error::Decode` from anything printable.
    pub(crate) fn decode(msg: impl Into<String>) -> Self {
        Self::Decode(msg.into())
    }
}
