//! `jwkscache.JWKSCache`: the Python face of the core [`Client`].

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use jwkscache_core::claims::Validation;
use jwkscache_core::client::{Client, Config};
use jwkscache_core::jwk::{Jwk, JwkSet};
use jwkscache_core::jws::{self, Token, Verified};
use jwkscache_core::verify::Alg;
use jwkscache_core::Error;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};

use crate::py_errors::{to_pyerr, IntoPyResult};
use crate::py_json::object_to_py;

/// Whether `decode` releases the GIL around the signature check. Held by
/// default: see docs/performance.md for the measurements behind it.
static RELEASE_GIL: AtomicBool = AtomicBool::new(false);

/// Sets the GIL policy of `decode` (for benchmarks; returns the old value).
#[pyfunction]
pub fn _set_release_gil(release: bool) -> bool {
    RELEASE_GIL.swap(release, Ordering::Relaxed)
}

/// The `kid` header of a token, without verifying it (`None` when absent).
#[pyfunction]
pub fn unverified_kid(token: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    jws::unverified_kid(&token_bytes(token)?, jws::DEFAULT_MAX_TOKEN_BYTES).py()
}

/// A JWK Set and the rules to verify tokens against it.
#[pyclass(frozen, name = "JWKSCache", module = "jwkscache")]
pub struct PyJwksCache {
    client: Arc<Client>,
}

#[pymethods]
impl PyJwksCache {
    /// A cache over a fixed JWK Set (dict, str or bytes); no network.
    #[classmethod]
    #[pyo3(signature = (jwks, /, *, algorithms = None, max_token_bytes = jws::DEFAULT_MAX_TOKEN_BYTES))]
    fn from_jwks(
        _cls: &Bound<'_, pyo3::types::PyType>,
        py: Python<'_>,
        jwks: &Bound<'_, PyAny>,
        algorithms: Option<Vec<String>>,
        max_token_bytes: usize,
    ) -> PyResult<Self> {
        let config = config(algorithms, max_token_bytes)?;
        let document = document_bytes(py, jwks)?;
        let set = JwkSet::parse(&document, &config.algorithms).py()?;
        Ok(Self { client: Arc::new(Client::from_set(set, config)) })
    }

    /// Verifies `token` and returns its claims (see the README for the rules).
    #[pyo3(signature = (token, /, *, audience = None, issuer = None, subject = None, leeway = None, options = None, algorithms = None))]
    #[allow(clippy::too_many_arguments)]
    fn decode<'py>(
        &self,
        py: Python<'py>,
        token: &Bound<'py, PyAny>,
        audience: Option<&Bound<'py, PyAny>>,
        issuer: Option<&Bound<'py, PyAny>>,
        subject: Option<String>,
        leeway: Option<&Bound<'py, PyAny>>,
        options: Option<&Bound<'py, PyDict>>,
        algorithms: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let validation = validation(audience, issuer, subject, leeway, options)?;
        let verified = self.verify(py, token, algorithms)?;
        validation.validate(&verified.claims, now()).py()?;
        object_to_py(py, &verified.claims)
    }

    /// Like `decode`, returning `{"header": ..., "payload": ..., "signature": bytes}`.
    #[pyo3(signature = (token, /, *, audience = None, issuer = None, subject = None, leeway = None, options = None, algorithms = None))]
    #[allow(clippy::too_many_arguments)]
    fn decode_complete<'py>(
        &self,
        py: Python<'py>,
        token: &Bound<'py, PyAny>,
        audience: Option<&Bound<'py, PyAny>>,
        issuer: Option<&Bound<'py, PyAny>>,
        subject: Option<String>,
        leeway: Option<&Bound<'py, PyAny>>,
        options: Option<&Bound<'py, PyDict>>,
        algorithms: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let validation = validation(audience, issuer, subject, leeway, options)?;
        let verified = self.verify(py, token, algorithms)?;
        validation.validate(&verified.claims, now()).py()?;
        let result = PyDict::new(py);
        result.set_item("header", object_to_py(py, &verified.header)?)?;
        result.set_item("payload", object_to_py(py, &verified.claims)?)?;
        result.set_item("signature", PyBytes::new(py, &verified.signature))?;
        Ok(result)
    }

    /// The key with this `kid`.
    fn get_signing_key(&self, kid: &str) -> PyResult<SigningKey> {
        self.client.find_key(Some(kid)).py().map(SigningKey)
    }

    /// The key a token's header selects (the token is not verified).
    fn get_signing_key_from_jwt(&self, token: &Bound<'_, PyAny>) -> PyResult<SigningKey> {
        let bytes = token_bytes(token)?;
        let parsed = Token::parse(&bytes, self.client.config().max_token_bytes).py()?;
        let kid = parsed.kid().py()?;
        self.client.find_key(kid).py().map(SigningKey)
    }

    /// The `kid` of every usable key (`None` for a key without one).
    #[getter]
    fn kids(&self) -> Vec<Option<String>> {
        self.client.keys().keys().iter().map(|k| k.kid.clone()).collect()
    }

    /// The keys that were skipped: dicts with `index`, `kid`, `kty`, `reason`.
    #[getter]
    fn skipped<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for skipped in self.client.keys().skipped() {
            let item = PyDict::new(py);
            item.set_item("index", skipped.index)?;
            item.set_item("kid", skipped.kid.as_deref())?;
            item.set_item("kty", skipped.kty.as_deref())?;
            item.set_item("reason", &skipped.reason)?;
            list.append(item)?;
        }
        Ok(list)
    }

    /// The algorithm allow-list.
    #[getter]
    fn algorithms(&self) -> Vec<&'static str> {
        self.client.config().algorithms.iter().map(|a| a.name()).collect()
    }

    fn __len__(&self) -> usize {
        self.client.keys().len()
    }

    fn __repr__(&self) -> String {
        format!("JWKSCache(source='static', keys={}, algorithms={:?})", self.__len__(), self.algorithms())
    }
}

impl PyJwksCache {
    fn verify(
        &self,
        py: Python<'_>,
        token: &Bound<'_, PyAny>,
        algorithms: Option<Vec<String>>,
    ) -> PyResult<Verified> {
        let bytes = token_bytes(token)?;
        let client = &self.client;
        let run = |allowed: &[Alg]| {
            let config = client.config();
            jws::verify_token(&bytes, allowed, config.max_token_bytes, |kid| client.find_key(kid))
        };
        let allowed = match algorithms {
            None => Cow::Borrowed(client.config().algorithms.as_slice()),
            Some(names) => Cow::Owned(jws::allow_list(&names).py()?),
        };
        let result =
            if RELEASE_GIL.load(Ordering::Relaxed) { py.detach(|| run(&allowed)) } else { run(&allowed) };
        result.py()
    }
}

/// A verification key of the set: what it is, never its material.
#[pyclass(frozen, name = "SigningKey", module = "jwkscache")]
pub struct SigningKey(Arc<Jwk>);

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

    /// Always `"RSA"`.
    #[getter]
    #[allow(clippy::unused_self)] // a getter, for symmetry with jwt.PyJWK.key_type
    fn key_type(&self) -> &'static str {
        "RSA"
    }

    /// Modulus size in bits.
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
        let algorithm = self.0.alg.map_or("RS256", Alg::name);
        py.import("jwt")?.getattr("PyJWK")?.call1((data, algorithm))
    }

    fn __repr__(&self) -> String {
        format!("SigningKey(kid={:?}, alg={:?}, key_size={})", self.kid(), self.alg(), self.key_size())
    }
}

fn config(algorithms: Option<Vec<String>>, max_token_bytes: usize) -> PyResult<Config> {
    let mut config = Config { max_token_bytes, ..Config::default() };
    if let Some(names) = algorithms {
        config.algorithms = jws::allow_list(&names).py()?;
    }
    if max_token_bytes == 0 {
        return Err(PyValueError::new_err("max_token_bytes must be positive"));
    }
    Ok(config)
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// A token's bytes: `str` (UTF-8) or `bytes`, as PyJWT accepts.
fn token_bytes<'a>(token: &'a Bound<'_, PyAny>) -> PyResult<Cow<'a, [u8]>> {
    if let Ok(text) = token.cast::<PyString>() {
        let text = text
            .to_cow()
            .map_err(|_| to_pyerr(Error::Decode("Invalid token: the str is not valid UTF-8".into())))?;
        return Ok(match text {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        });
    }
    if let Ok(bytes) = token.cast::<PyBytes>() {
        return Ok(Cow::Borrowed(bytes.as_bytes()));
    }
    let type_name = token.get_type().name().map_or_else(|_| "?".to_owned(), |n| n.to_string());
    Err(to_pyerr(Error::Decode(format!("Invalid token type. Token must be a str or bytes, got {type_name}"))))
}

/// A JWK Set document's bytes from a dict, str or bytes.
fn document_bytes(py: Python<'_>, jwks: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(bytes) = jwks.cast::<PyBytes>() {
        return Ok(bytes.as_bytes().to_vec());
    }
    if let Ok(text) = jwks.cast::<PyString>() {
        return Ok(text.to_cow()?.as_bytes().to_vec());
    }
    if jwks.cast::<PyDict>().is_ok() {
        let text: String = py.import("json")?.call_method1("dumps", (jwks,))?.extract()?;
        return Ok(text.into_bytes());
    }
    Err(PyTypeError::new_err("jwks must be a dict, str or bytes holding a JWK Set"))
}

/// The claim checks from PyJWT's keyword arguments.
fn validation(
    audience: Option<&Bound<'_, PyAny>>,
    issuer: Option<&Bound<'_, PyAny>>,
    subject: Option<String>,
    leeway: Option<&Bound<'_, PyAny>>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<Validation> {
    let mut v = Validation { subject, ..Validation::default() };
    if let Some(audience) = audience.filter(|a| !a.is_none()) {
        v.audience_is_str = audience.is_instance_of::<PyString>();
        v.audience = Some(strings(audience, "audience")?);
    }
    if let Some(issuer) = issuer.filter(|i| !i.is_none()) {
        v.issuer = Some(strings(issuer, "issuer")?);
    }
    if let Some(leeway) = leeway.filter(|l| !l.is_none()) {
        v.leeway = seconds(leeway)?;
    }
    if let Some(options) = options {
        for (key, value) in options.iter() {
            let key: String = key.extract()?;
            let flag = || value.is_truthy();
            match key.as_str() {
                "verify_signature" => {
                    if !flag()? {
                        return Err(PyValueError::new_err(
                            "verify_signature=False is not supported: jwkscache always verifies signatures",
                        ));
                    }
                }
                "verify_exp" => v.verify_exp = flag()?,
                "verify_nbf" => v.verify_nbf = flag()?,
                "verify_iat" => v.verify_iat = flag()?,
                "verify_aud" => v.verify_aud = flag()?,
                "verify_iss" => v.verify_iss = flag()?,
                "verify_sub" => v.verify_sub = flag()?,
                "verify_jti" => v.verify_jti = flag()?,
                "strict_aud" => v.strict_aud = flag()?,
                "require" => v.require = strings(&value, "options['require']")?,
                // Always enforced here (2048-bit minimum).
                "enforce_minimum_key_length" => {}
                other => {
                    return Err(PyValueError::new_err(format!(
                        "unknown option {other:?}; expected verify_signature, verify_exp, verify_nbf, verify_iat, \
                         verify_aud, verify_iss, verify_sub, verify_jti, strict_aud, require"
                    )))
                }
            }
        }
    }
    Ok(v)
}

/// A str or an iterable of str, as a list.
fn strings(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<String>> {
    if let Ok(text) = value.cast::<PyString>() {
        return Ok(vec![text.to_cow()?.into_owned()]);
    }
    let type_error =
        || PyTypeError::new_err(format!("{what} must be a string, an iterable of strings or None"));
    let mut out = Vec::new();
    for item in value.try_iter().map_err(|_| type_error())? {
        out.push(item?.extract::<String>().map_err(|_| type_error())?);
    }
    Ok(out)
}

/// Seconds from a number or a `datetime.timedelta`.
fn seconds(value: &Bound<'_, PyAny>) -> PyResult<f64> {
    let secs = if value.hasattr("total_seconds")? {
        value.call_method0("total_seconds")?.extract::<f64>()?
    } else {
        value
            .extract::<f64>()
            .map_err(|_| PyTypeError::new_err("leeway must be a number of seconds or a timedelta"))?
    };
    if secs.is_finite() {
        Ok(secs)
    } else {
        Err(PyValueError::new_err("leeway must be finite"))
    }
}
