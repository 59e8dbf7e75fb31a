//! A Python object as the shared tier's store (`jwkscache.shared`:
//! `RedisStore`, `DjangoCacheStore`, or any object with the four methods).
//!
//! The core calls it only when a refresh is due, from a thread that does not
//! hold the GIL; each call takes the GIL for its own duration only. Whatever
//! the object raises is a store error (a miss for the core), never an
//! exception to the caller of `decode`.

use jwkscache_core::shared::{SharedConfig, SharedStats, Store, StoreError};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

/// The protocol's methods, checked when the cache is built.
const METHODS: [&str; 4] = ["get", "set", "add", "delete"];

/// A store object held for the core.
pub(crate) struct PyStore {
    store: Py<PyAny>,
}

impl PyStore {
    fn call<T>(&self, op: impl FnOnce(&Bound<'_, PyAny>) -> PyResult<T>) -> Result<T, StoreError> {
        Python::try_attach(|py| op(self.store.bind(py)).map_err(|error| StoreError(error.to_string())))
            .unwrap_or_else(|| Err(StoreError("the interpreter is shutting down".into())))
    }
}

impl Store for PyStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.call(|store| {
            let value = store.call_method1("get", (key,))?;
            if value.is_none() {
                return Ok(None);
            }
            let bytes = value.cast::<PyBytes>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "the shared store's get() must return bytes or None, got {}",
                    value.get_type().name().map_or_else(|_| "?".into(), |n| n.to_string())
                ))
            })?;
            Ok(Some(bytes.as_bytes().to_vec()))
        })
    }

    fn set(&self, key: &str, value: &[u8], ttl_ms: u64) -> Result<(), StoreError> {
        self.call(|store| {
            store.call_method1("set", (key, PyBytes::new(store.py(), value), ttl_ms))?;
            Ok(())
        })
    }

    fn add(&self, key: &str, value: &[u8], ttl_ms: u64) -> Result<bool, StoreError> {
        self.call(|store| {
            store.call_method1("add", (key, PyBytes::new(store.py(), value), ttl_ms))?.is_truthy()
        })
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.call(|store| {
            store.call_method1("delete", (key,))?;
            Ok(())
        })
    }
}

/// `shared=` and `shared_wait=` as the core's settings; `None` without a store.
pub(crate) fn shared_config(store: Option<&Bound<'_, PyAny>>, wait: f64) -> PyResult<Option<SharedConfig>> {
    let Some(store) = store else { return Ok(None) };
    for method in METHODS {
        if !store.getattr(method).is_ok_and(|m| m.is_callable()) {
            return Err(PyTypeError::new_err(format!(
                "shared= needs a store with get, set, add and delete methods (jwkscache.shared.RedisStore, \
                 DjangoCacheStore or your own); {} has no {method}()",
                store.get_type().name().map_or_else(|_| "?".into(), |n| n.to_string())
            )));
        }
    }
    let secret = store.getattr("secret").map_err(|_| {
        PyTypeError::new_err(
            "the shared store needs a `secret` attribute: bytes, or None to run unauthenticated",
        )
    })?;
    let secret = if secret.is_none() {
        None
    } else {
        let bytes = secret
            .cast::<PyBytes>()
            .map_err(|_| PyTypeError::new_err("the shared store's secret must be bytes or None"))?;
        Some(bytes.as_bytes().to_vec())
    };
    let config =
        SharedConfig { store: std::sync::Arc::new(PyStore { store: store.clone().unbind() }), secret, wait };
    config.validate().map_err(PyValueError::new_err)?;
    Ok(Some(config))
}

/// The shared tier's counters as a dict for `stats()["shared"]`.
pub(crate) fn shared_stats<'py>(py: Python<'py>, s: &SharedStats) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("adopted", s.adopted)?;
    d.set_item("written", s.written)?;
    d.set_item("lease_won", s.lease_won)?;
    d.set_item("lease_lost", s.lease_lost)?;
    d.set_item("waited", s.waited)?;
    d.set_item("wait_timeouts", s.wait_timeouts)?;
    d.set_item("store_errors", s.store_errors)?;
    d.set_item("breaker_opened", s.breaker_opened)?;
    d.set_item("breaker_open", s.breaker_open)?;
    let rejected = PyDict::new(py);
    for (reason, count) in &s.rejected {
        rejected.set_item(reason, count)?;
    }
    d.set_item("rejected", rejected)?;
    Ok(d)
}
