//! The `jwkscache._core` extension module: registrations only.
//!
//! Bindings live in `py_*.rs`; everything they call is the pyo3-free
//! `jwkscache-core` crate.

mod py_cache;
mod py_errors;
mod py_json;

use pyo3::prelude::*;

#[pymodule(gil_used = false)]
mod _core {
    #[pymodule_export]
    use super::py_cache::{_after_fork, _prepare_fork, unverified_kid, PyJwksCache, SigningKey};

    #[pymodule_init]
    fn init(m: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
        use pyo3::types::PyModuleMethods;
        m.add("__version__", env!("CARGO_PKG_VERSION"))
    }
}
