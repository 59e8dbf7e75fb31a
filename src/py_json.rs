//! JSON -> Python objects, types kept.
//!
//! A token's claims and header go from their JSON text straight into Python
//! objects, in one pass with no intermediate tree ([`claims_to_py`],
//! [`json_to_dict`]). Integers stay exact however large, up to Python's
//! `int()` digit limit (past it: a `DecodeError`, as PyJWT gives); nesting
//! is bounded by serde_json's recursion limit (128).

use std::cell::RefCell;
use std::fmt;

use jwkscache_core::claims::{payload_error, Claims, Registered, REGISTERED};
use jwkscache_core::errors::Error;
use jwkscache_core::jws::Verified;
use jwkscache_core::pick::{reserved_member, NumberText, ValueSeed, NUMBER_MARKER};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::py_errors::IntoPyResult;
use crate::py_template::Template;

/// A new claims dict for a verified token. On a verified-token cache hit the
/// token keeps a template dict, and each caller gets a copy of it (new dicts
/// and lists, the immutable leaves shared): cheaper than building from JSON,
/// and no caller ever sees another's dict.
///
/// The first build also hands the registered claims to the core (the one
/// parse of the payload: see `Claims`); a syntax error is a `DecodeError`.
pub fn claims_to_py<'py>(py: Python<'py>, verified: &Verified, hit: bool) -> PyResult<Bound<'py, PyDict>> {
    if let Some(template) = verified.attachment.get().and_then(|a| a.downcast_ref::<Template>()) {
        return template.copy(py);
    }
    let registered = (!verified.claims.has_registered()).then(|| RefCell::new(Registered::default()));
    let claims = build(py, verified.claims.json(), "payload", registered.as_ref())?.cast_into::<PyDict>()?;
    if let Some(registered) = registered {
        verified.claims.set_registered(registered.into_inner());
    }
    if hit {
        let template = Template::of(&claims)?;
        // Another thread may have set it first: either template is right.
        let _ = verified.attachment.set(Box::new(template));
    }
    Ok(claims)
}

/// A JSON object's text (a token's header) as a new dict.
pub fn json_to_dict<'py>(py: Python<'py>, json: &str) -> PyResult<Bound<'py, PyDict>> {
    Ok(build(py, json, "header", None)?.cast_into::<PyDict>()?)
}

/// JSON text (the token's `what`: header or payload) as new Python objects;
/// with `registered`, the top-level object's registered claims are also
/// collected there as JSON values.
fn build<'py>(
    py: Python<'py>,
    json: &str,
    what: &str,
    registered: Option<&RefCell<Registered>>,
) -> PyResult<Bound<'py, PyAny>> {
    let failed = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let seed = PySeed { py, failed: &failed, registered, top: true };
    match seed.deserialize(&mut deserializer).and_then(|object| deserializer.end().map(|()| object)) {
        Ok(object) => Ok(object),
        // A Python error (MemoryError, say) comes back as itself.
        Err(_) if failed.borrow().is_some() => Err(failed.into_inner().expect("checked")),
        Err(e) if what == "payload" => Err(payload_error(json, &e)).py(),
        Err(e) => Err(Error::Decode(format!("Invalid {what} string: {e}"))).py(),
    }
}

/// Builds one JSON value as a Python object; a Python error is kept in
/// `failed` (serde errors carry only text).
#[derive(Clone, Copy)]
struct PySeed<'a, 'py> {
    py: Python<'py>,
    failed: &'a RefCell<Option<PyErr>>,
    /// Where the top-level object's registered claims go, if collected.
    registered: Option<&'a RefCell<Registered>>,
    /// The payload itself, not a value inside it.
    top: bool,
}

impl PySeed<'_, '_> {
    /// The seed for a value inside this one.
    fn nested(self) -> Self {
        Self { registered: None, top: false, ..self }
    }

    fn keep<T, E: de::Error>(self, result: PyResult<T>) -> Result<T, E> {
        result.map_err(|err| {
            *self.failed.borrow_mut() = Some(err);
            E::custom("Python error")
        })
    }
}

/// A number's JSON text as a Python float, or an exact int when it has no
/// fraction or exponent (Python's `int()` parses any size up to its digit
/// limit, past which it is a syntax error here, as in `json.loads`).
fn number_from_text<'py>(py: Python<'py>, text: &str) -> Result<Bound<'py, PyAny>, String> {
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return py
            .get_type::<PyInt>()
            .call1((text,))
            .map_err(|e| format!("integer of {} digits: {e}", text.len()));
    }
    let value = text.parse::<f64>().map_err(|_| format!("invalid number {text:?}"))?;
    Ok(PyFloat::new(py, value).into_any())
}

impl<'de, 'py> DeserializeSeed<'de> for PySeed<'_, 'py> {
    type Value = Bound<'py, PyAny>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, 'py> Visitor<'de> for PySeed<'_, 'py> {
    type Value = Bound<'py, PyAny>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(self.py.None().into_bound(self.py))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(PyBool::new(self.py, v).to_owned().into_any())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.keep(v.into_pyobject(self.py).map(Bound::into_any).map_err(Into::into))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.keep(v.into_pyobject(self.py).map(Bound::into_any).map_err(Into::into))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(PyFloat::new(self.py, v).into_any())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(PyString::new(self.py, v).into_any())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let list = PyList::empty(self.py);
        while let Some(item) = seq.next_element_seed(self.nested())? {
            self.keep(list.append(item))?;
        }
        Ok(list.into_any())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let dict = PyDict::new(self.py);
        let mut first = true;
        let key_seed = |first| KeySeed {
            py: self.py,
            number_marker: first && !self.top,
            slots: self.registered.is_some(),
        };
        while let Some(key) = map.next_key_seed(key_seed(first))? {
            first = false;
            let (name, slot) = match key {
                // serde_json's hand-over of a float or a big integer (see
                // `jwkscache_core::pick`), not an object.
                Key::NumberMarker => {
                    let number = map.next_value_seed(NumberText)?;
                    return self.keep(number_to_py(self.py, &number));
                }
                Key::Name(name, slot) => (name, slot),
            };
            let value = match slot {
                None => map.next_value_seed(self.nested())?,
                Some(slot) => {
                    let json = map.next_value_seed(ValueSeed)?;
                    let value = self.keep(value_to_py(self.py, &json))?;
                    if let Some(registered) = self.registered {
                        registered.borrow_mut()[slot] = Some(json);
                    }
                    value
                }
            };
            self.keep(dict.set_item(name, value))?;
        }
        Ok(dict.into_any())
    }
}

/// An object key: a name (with its registered-claim slot when those are
/// collected), or serde_json's number marker.
enum Key<'py> {
    Name(Bound<'py, PyString>, Option<usize>),
    NumberMarker,
}

/// Reads an object key as a Python str.
struct KeySeed<'py> {
    py: Python<'py>,
    /// Whether serde_json's number marker may come here (a nested object's
    /// first key); anywhere else the name is refused.
    number_marker: bool,
    /// Whether to look up the registered-claim slot.
    slots: bool,
}

impl<'de, 'py> DeserializeSeed<'de> for KeySeed<'py> {
    type Value = Key<'py>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'py> Visitor<'_> for KeySeed<'py> {
    type Value = Key<'py>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if v == NUMBER_MARKER {
            return if self.number_marker { Ok(Key::NumberMarker) } else { Err(reserved_member()) };
        }
        if let Some(slot) = self.slots.then(|| Claims::slot(v)).flatten() {
            return Ok(Key::Name(registered_name(self.py, slot), Some(slot)));
        }
        Ok(Key::Name(PyString::new(self.py, v), None))
    }
}

/// A registered claim's name as one interned str per process: nearly every
/// token has most of them, and a reused str needs no allocation, no UTF-8
/// decoding and no new hash.
fn registered_name(py: Python<'_>, slot: usize) -> Bound<'_, PyString> {
    static NAMES: [PyOnceLock<Py<PyString>>; REGISTERED.len()] =
        [const { PyOnceLock::new() }; REGISTERED.len()];
    NAMES[slot].get_or_init(py, || PyString::intern(py, REGISTERED[slot]).unbind()).bind(py).clone()
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
    number_from_text(py, n.as_str())
        .or_else(|e| Err(Error::Decode(format!("Invalid payload string: {e}"))).py())
}
