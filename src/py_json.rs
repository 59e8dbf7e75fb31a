//! JSON values (claims, headers) -> Python objects, types kept.
//!
//! Integers stay exact however large (serde_json keeps their digits);
//! nesting is bounded by serde_json's recursion limit (128) at parse time.

use jwkscache_core::jws::Verified;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyList, PyString};
use serde_json::{Map, Number, Value};

/// A new claims dict for a verified token. On a verified-token cache hit the
/// token keeps a template dict, and each caller gets a copy of it (new dicts
/// and lists, the immutable leaves shared): cheaper than building from JSON
/// values, and no caller ever sees another's dict.
pub fn claims_to_py<'py>(py: Python<'py>, verified: &Verified, hit: bool) -> PyResult<Bound<'py, PyDict>> {
    if let Some(template) = verified.attachment.get().and_then(|a| a.downcast_ref::<Py<PyDict>>()) {
        return copy_dict(template.bind(py));
    }
    let claims = object_to_py(py, &verified.claims)?;
    if hit {
        let template = copy_dict(&claims)?.unbind();
        // Another thread may have set it first: either template is right.
        let _ = verified.attachment.set(Box::new(template));
    }
    Ok(claims)
}

fn copy_dict<'py>(dict: &Bound<'py, PyDict>) -> PyResult<Bound<'py, PyDict>> {
    let copy = PyDict::new(dict.py());
    for (key, value) in dict.iter() {
        copy.set_item(key, copy_value(value)?)?;
    }
    Ok(copy)
}

fn copy_value(value: Bound<'_, PyAny>) -> PyResult<Bound<'_, PyAny>> {
    if let Ok(dict) = value.cast::<PyDict>() {
        return Ok(copy_dict(dict)?.into_any());
    }
    if let Ok(list) = value.cast::<PyList>() {
        let copy = PyList::empty(value.py());
        for item in list.iter() {
            copy.append(copy_value(item)?)?;
        }
        return Ok(copy.into_any());
    }
    Ok(value) // str, int, float, bool, None: immutable, shared
}

/// A JSON object as a new `dict`.
pub fn object_to_py<'py>(py: Python<'py>, object: &Map<String, Value>) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (key, value) in object {
        dict.set_item(PyString::new(py, key), value_to_py(py, value)?)?;
    }
    Ok(dict)
}

/// Any JSON value as a new Python object.
pub fn value_to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => number_to_py(py, n)?,
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(value_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(object) => object_to_py(py, object)?.into_any(),
    })
}

fn number_to_py<'py>(py: Python<'py>, n: &Number) -> PyResult<Bound<'py, PyAny>> {
    if let Some(i) = n.as_i64() {
        return Ok(i.into_pyobject(py)?.into_any());
    }
    if let Some(u) = n.as_u64() {
        return Ok(u.into_pyobject(py)?.into_any());
    }
    let text = n.as_str();
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        // An integer beyond 64 bits: Python's int() parses it exactly.
        return py.get_type::<pyo3::types::PyInt>().call1((text,));
    }
    Ok(PyFloat::new(py, n.as_f64().unwrap_or(f64::NAN)).into_any())
}
