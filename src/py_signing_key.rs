//! `jwkscache.SigningKey`: what a key of the set is, never its material.

use std::sync::Arc;

use jwkscache_core::jwk::Jwk;
use jwkscache_core::verify::Alg;
use pyo3::prelude::*;

/// A verification key of the set: what it is, never its material.
#[pyclass(frozen, name = "SigningKey", module = "jwkscache")]
pub struct SigningKey(pub(crate) Arc<Jwk>);

#[pymethods]
impl SigningKey {
    /// The key's `kid`, if it has one.
    #[getter]
    fn kid(&self) -> Option<&str> {
        self.0.kid.as_deref()
    }

    /// The key's own `alg`, if it states one.
    #[getter]
    fn alg(&self) -> Option<&'static str> {
        self.0.alg.map(Alg::name)
    }

    /// The JWK `kty`: `"RSA"`, `"EC"` or `"OKP"`.
    #[getter]
    fn key_type(&self) -> &'static str {
        self.0.key.kty()
    }

    /// RSA modulus size, or the curve's size (EC: 256, 384, 521; Ed25519: 256), in bits.
    #[getter]
    fn key_size(&self) -> usize {
        self.0.key.bits()
    }

    /// The JWK as published (a new dict each call).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py.import("json")?.call_method1("loads", (self.0.json.as_str(),))
    }

    /// The key as a real `jwt.PyJWK`, for `jwt.decode`.
    fn to_pyjwk<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let data = self.to_dict(py)?;
        // A key without `alg`: RS256 for RSA, the one algorithm of an EC or OKP key.
        let algorithm = self.0.alg.unwrap_or(self.0.key.algorithms()[0]).name();
        py.import("jwt")?.getattr("PyJWK")?.call1((data, algorithm))
    }

    fn __repr__(&self) -> String {
        format!("SigningKey(kid={:?}, alg={:?}, key_size={})", self.kid(), self.alg(), self.key_size())
    }
}
