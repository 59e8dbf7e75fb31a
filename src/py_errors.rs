//! The one place core errors become Python exceptions.
//!
//! The classes are defined in `jwkscache/exceptions.py` (PyJWT's own, or
//! subclasses of them) and imported here, so `except jwt.DecodeError:`
//! written for PyJWT catches ours.

use jwkscache_core::Error;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

pyo3::import_exception!(jwkscache.exceptions, DecodeError);
pyo3::import_exception!(jwkscache.exceptions, InvalidTokenError);
pyo3::import_exception!(jwkscache.exceptions, InvalidSignatureError);
pyo3::import_exception!(jwkscache.exceptions, InvalidAlgorithmError);
pyo3::import_exception!(jwkscache.exceptions, SigningKeyNotFoundError);
pyo3::import_exception!(jwkscache.exceptions, ExpiredSignatureError);
pyo3::import_exception!(jwkscache.exceptions, ImmatureSignatureError);
pyo3::import_exception!(jwkscache.exceptions, InvalidIssuedAtError);
pyo3::import_exception!(jwkscache.exceptions, InvalidAudienceError);
pyo3::import_exception!(jwkscache.exceptions, InvalidIssuerError);
pyo3::import_exception!(jwkscache.exceptions, InvalidSubjectError);
pyo3::import_exception!(jwkscache.exceptions, InvalidJTIError);
pyo3::import_exception!(jwkscache.exceptions, MissingRequiredClaimError);
pyo3::import_exception!(jwkscache.exceptions, PyJWKSetError);
pyo3::import_exception!(jwkscache.exceptions, PyJWKClientConnectionError);

/// Turns a core [`Error`] into the matching Python exception.
pub fn to_pyerr(err: Error) -> PyErr {
    let message = err.to_string();
    match err {
        Error::Decode(_) => DecodeError::new_err(message),
        Error::InvalidToken(_) => InvalidTokenError::new_err(message),
        Error::InvalidSignature => InvalidSignatureError::new_err(message),
        Error::InvalidAlgorithm(_) => InvalidAlgorithmError::new_err(message),
        Error::KeyNotFound(_) => SigningKeyNotFoundError::new_err(message),
        Error::Expired => ExpiredSignatureError::new_err(message),
        Error::Immature(_) => ImmatureSignatureError::new_err(message),
        Error::InvalidIssuedAt(_) => InvalidIssuedAtError::new_err(message),
        Error::InvalidAudience(_) => InvalidAudienceError::new_err(message),
        Error::InvalidIssuer(_) => InvalidIssuerError::new_err(message),
        Error::InvalidSubject(_) => InvalidSubjectError::new_err(message),
        Error::InvalidJti(_) => InvalidJTIError::new_err(message),
        // PyJWT's class takes the claim name, not a message.
        Error::MissingClaim(claim) => MissingRequiredClaimError::new_err(claim),
        Error::JwkSet(_) => PyJWKSetError::new_err(message),
        Error::Fetch(_) | Error::RetryLater { .. } => PyJWKClientConnectionError::new_err(message),
        Error::Config(_) => PyValueError::new_err(message),
    }
}

/// `.py()` on a core result: the mapping above, as a method.
pub trait IntoPyResult<T> {
    /// Maps the error with [`to_pyerr`].
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for jwkscache_core::Result<T> {
    fn py(self) -> PyResult<T> {
        self.map_err(to_pyerr)
    }
}
