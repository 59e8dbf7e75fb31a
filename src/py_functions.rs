//! Module-level functions: the fork hooks, the unverified `kid` and `iss`
//! readers, what the GIL policy decided, and the panic guards' test switch.

use jwkscache_core::jws;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::py_args::token_bytes;
use crate::py_errors::IntoPyResult;

/// Before `fork()`: holds every cache's locks (see `os.register_at_fork`).
#[pyfunction]
pub fn _prepare_fork(py: Python<'_>) {
    py.detach(jwkscache_core::fork::prepare_fork_slow);
    jwkscache_core::fork::prepare_fork_fast();
}

/// After `fork()`, in the parent.
#[pyfunction]
pub fn _after_fork() {
    jwkscache_core::fork::after_fork();
}

/// After `fork()`, in the child: also forgets what the GIL policy learnt
/// (the parent's threads, a busy one included, are not the child's).
#[pyfunction]
pub fn _after_fork_in_child() {
    jwkscache_core::fork::after_fork();
    crate::py_gil::forget();
}

/// The `kid` header of a token, without verifying it (`None` when absent).
#[pyfunction]
pub fn unverified_kid(token: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    jws::unverified_kid(token_bytes(token)?, jws::DEFAULT_MAX_TOKEN_BYTES).py()
}

/// The `kid` of a token that is well formed as PyJWT requires (three
/// base64url segments, JSON object header and payload, no unsupported
/// `crit`), without verifying it.
#[pyfunction]
pub fn checked_kid(token: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    jws::checked_kid(token_bytes(token)?, jws::DEFAULT_MAX_TOKEN_BYTES).py()
}

/// What the adaptive GIL policy (`release_gil=None`) decided so far in this
/// process: signature checks run `released` and `held`, `holds_started`, and
/// whether it is `holding` now. For tests and `jwkscache bench`.
#[pyfunction]
pub fn _gil_decisions(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let (decisions, holding) = crate::py_gil::decisions();
    let d = PyDict::new(py);
    d.set_item("released", decisions.released)?;
    d.set_item("held", decisions.held)?;
    d.set_item("holds_started", decisions.holds_started)?;
    d.set_item("holding", holding)?;
    Ok(d)
}

/// The `iss` claim of a token, without verifying it (`None` when absent):
/// `jwkscache.Issuers` routes by it.
#[pyfunction]
#[pyo3(signature = (token, /, max_token_bytes = 16384))]
pub fn unverified_issuer(token: &Bound<'_, PyAny>, max_token_bytes: usize) -> PyResult<Option<String>> {
    jws::unverified_issuer(token_bytes(token)?, max_token_bytes).py()
}

/// Makes the core's next pass through `site` (`"lookup"`: a token's
/// parse and key selection; `"fetch"`: a JWK Set fetch) panic, once: for the
/// tests that show a panic reaches Python as a refused token or a failed
/// fetch, and that a background refresh survives one.
#[pyfunction]
pub fn _arm_panic(site: &str) -> PyResult<()> {
    let site = jwkscache_core::panics::Site::from_name(site)
        .ok_or_else(|| pyo3::exceptions::PyValueError::new_err(format!("no panic site {site:?}")))?;
    jwkscache_core::panics::arm(site);
    Ok(())
}
