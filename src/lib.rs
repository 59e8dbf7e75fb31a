//! The `jwkscache._core` extension module: registrations only.
//!
//! Bindings live in `py_*.rs`; everything they call is the pyo3-free
//! `jwkscache-core` crate.

mod py_args;
mod py_cache;
mod py_errors;
mod py_functions;
mod py_gil;
mod py_json;
mod py_signing_key;
mod py_store;
mod py_template;

use pyo3::prelude::*;

#[pymodule(gil_used = false)]
mod _core {
    #[pymodule_export]
    use super::py_cache::PyJwksCache;
    #[pymodule_export]
    use super::py_functions::{
        _after_fork, _after_fork_in_child, _arm_panic, _gil_decisions, _prepare_fork, checked_kid,
        unverified_issuer, unverified_kid,
    };
    #[pymodule_export]
    use super::py_signing_key::SigningKey;

    #[pymodule_init]
    fn init(m: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
        use pyo3::types::PyModuleMethods;
        m.add("__version__", env!("CARGO_PKG_VERSION"))
    }
}
