//! `jwkscache.JWKSCache`: the Python face of the core [`Client`].

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use jwkscache_core::cache::Policy;
use jwkscache_core::claims::Validation;
use jwkscache_core::client::{system_clock, Client, Config, Level, Source};
use jwkscache_core::fetch::FetchConfig;
use jwkscache_core::jwk::{Jwk, JwkSet};
use jwkscache_core::jws::{self, Verified};
use jwkscache_core::verify::Alg;
use jwkscache_core::Error;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyType};

use crate::py_errors::{to_pyerr, IntoPyResult};
use crate::py_json::{claims_to_py, object_to_py};

/// Before `fork()`: holds every cache's locks (see `os.register_at_fork`).
#[pyfunction]
pub fn _prepare_fork(py: Python<'_>) {
    py.detach(jwkscache_core::client::prepare_fork_all);
}

/// After `fork()`, in parent and child.
#[pyfunction]
pub fn _after_fork() {
    jwkscache_core::client::after_fork_all();
}

/// The `kid` header of a token, without verifying it (`None` when absent).
#[pyfunction]
pub fn unverified_kid(token: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    jws::unverified_kid(token_bytes(token)?.as_bytes(), jws::DEFAULT_MAX_TOKEN_BYTES).py()
}

/// A JWK Set, fetched and kept fresh (or fixed), and the rules to verify
/// tokens against it.
#[pyclass(frozen, weakref, name = "JWKSCache", module = "jwkscache")]
pub struct PyJwksCache {
    client: Arc<Client>,
    /// Expected `iss` when `decode` is not given one.
    issuer: Option<String>,
    /// Where the keys come from, for `__repr__`.
    origin: String,
    /// Release the GIL around the signature check (off by default: see
    /// docs/performance.md for the measurements behind it).
    release_gil: bool,
}

#[pymethods]
impl PyJwksCache {
    /// A cache over the JWKS at `jwks_uri` (see the README for each option).
    #[new]
    #[pyo3(signature = (jwks_uri, /, *, issuer = None, headers = None, timeout = 5.0, ca_file = None,
        lifespan = 300.0, min_ttl = 60.0, max_ttl = 3600.0, refresh_cooldown = 30.0, max_stale = 3600.0,
        refresh_ahead = true, algorithms = None, max_token_bytes = 16384,
        max_body_bytes = 524_288, allow_insecure_http = false, token_cache_size = 1024, release_gil = false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        jwks_uri: String,
        issuer: Option<String>,
        headers: Option<HashMap<String, String>>,
        timeout: f64,
        ca_file: Option<PathBuf>,
        lifespan: f64,
        min_ttl: f64,
        max_ttl: f64,
        refresh_cooldown: f64,
        max_stale: f64,
        refresh_ahead: bool,
        algorithms: Option<Vec<String>>,
        max_token_bytes: usize,
        max_body_bytes: usize,
        allow_insecure_http: bool,
        token_cache_size: usize,
        release_gil: bool,
    ) -> PyResult<Self> {
        let config = config(algorithms, max_token_bytes, token_cache_size)?;
        let fetch = fetch_config(headers, timeout, ca_file, max_body_bytes, allow_insecure_http)?;
        let policy = Policy { lifespan, min_ttl, max_ttl, refresh_cooldown, max_stale, refresh_ahead };
        let client =
            Client::remote(Source::JwksUri(jwks_uri.clone()), fetch, policy, config, system_clock()).py()?;
        Ok(Self { client, issuer, origin: jwks_uri, release_gil })
    }

    /// A cache over an OIDC issuer's keys, found by discovery (lazily, on
    /// first use); `jwks_uri` overrides the discovered one. The issuer is
    /// also the default expected `iss`.
    #[classmethod]
    #[pyo3(signature = (issuer, /, *, jwks_uri = None, headers = None, timeout = 5.0, ca_file = None,
        lifespan = 300.0, min_ttl = 60.0, max_ttl = 3600.0, refresh_cooldown = 30.0, max_stale = 3600.0,
        refresh_ahead = true, algorithms = None, max_token_bytes = 16384,
        max_body_bytes = 524_288, allow_insecure_http = false, token_cache_size = 1024, release_gil = false))]
    #[allow(clippy::too_many_arguments)]
    fn from_issuer(
        _cls: &Bound<'_, PyType>,
        issuer: String,
        jwks_uri: Option<String>,
        headers: Option<HashMap<String, String>>,
        timeout: f64,
        ca_file: Option<PathBuf>,
        lifespan: f64,
        min_ttl: f64,
        max_ttl: f64,
        refresh_cooldown: f64,
        max_stale: f64,
        refresh_ahead: bool,
        algorithms: Option<Vec<String>>,
        max_token_bytes: usize,
        max_body_bytes: usize,
        allow_insecure_http: bool,
        token_cache_size: usize,
        release_gil: bool,
    ) -> PyResult<Self> {
        let config = config(algorithms, max_token_bytes, token_cache_size)?;
        let fetch = fetch_config(headers, timeout, ca_file, max_body_bytes, allow_insecure_http)?;
        let policy = Policy { lifespan, min_ttl, max_ttl, refresh_cooldown, max_stale, refresh_ahead };
        let source = Source::Issuer { issuer: issuer.clone(), jwks_uri };
        let client = Client::remote(source, fetch, policy, config, system_clock()).py()?;
        Ok(Self { client, origin: issuer.clone(), issuer: Some(issuer), release_gil })
    }

    /// A cache over a fixed JWK Set (dict, str or bytes); no network.
    #[classmethod]
    #[pyo3(signature = (jwks, /, *, issuer = None, algorithms = None, max_token_bytes = 16384, token_cache_size = 1024, release_gil = false))]
    #[allow(clippy::too_many_arguments)]
    fn from_jwks(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        jwks: &Bound<'_, PyAny>,
        issuer: Option<String>,
        algorithms: Option<Vec<String>>,
        max_token_bytes: usize,
        token_cache_size: usize,
        release_gil: bool,
    ) -> PyResult<Self> {
        let config = config(algorithms, max_token_bytes, token_cache_size)?;
        let document = document_bytes(py, jwks)?;
        let set = JwkSet::parse(&document, &config.algorithms).py()?;
        Ok(Self { client: Client::from_set(set, config), issuer, origin: "static".into(), release_gil })
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
    ) -> PyResult<Bound<'py, PyAny>> {
        let validation = self.validation(audience, issuer, subject, leeway, options)?;
        let (verified, hit) = self.verify(py, token, algorithms, true)?.expect("I/O allowed");
        validation.validate(&verified.claims, now()).py()?;
        Ok(claims_to_py(py, &verified, hit)?.into_any())
    }

    /// Like `decode`, but returns `None` instead of touching the network
    /// (used by `decode_async` to keep fetches off the event loop).
    #[pyo3(signature = (token, /, *, audience = None, issuer = None, subject = None, leeway = None, options = None, algorithms = None))]
    #[allow(clippy::too_many_arguments)]
    fn _decode_no_io<'py>(
        &self,
        py: Python<'py>,
        token: &Bound<'py, PyAny>,
        audience: Option<&Bound<'py, PyAny>>,
        issuer: Option<&Bound<'py, PyAny>>,
        subject: Option<String>,
        leeway: Option<&Bound<'py, PyAny>>,
        options: Option<&Bound<'py, PyDict>>,
        algorithms: Option<Vec<String>>,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let validation = self.validation(audience, issuer, subject, leeway, options)?;
        let Some((verified, hit)) = self.verify(py, token, algorithms, false)? else { return Ok(None) };
        validation.validate(&verified.claims, now()).py()?;
        claims_to_py(py, &verified, hit).map(Some)
    }

    /// `await cache.decode_async(token, ...)`: verifies inline when the keys
    /// are at hand, and runs any fetch in a worker thread.
    #[pyo3(signature = (token, /, **kwargs))]
    fn decode_async<'py>(
        slf: &Bound<'py, Self>,
        token: &Bound<'py, PyAny>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        py.import("jwkscache._aio")?.getattr("decode_async")?.call((slf, token), kwargs)
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
        let validation = self.validation(audience, issuer, subject, leeway, options)?;
        let (verified, _) = self.verify(py, token, algorithms, true)?.expect("I/O allowed");
        validation.validate(&verified.claims, now()).py()?;
        let result = PyDict::new(py);
        result.set_item("header", object_to_py(py, &verified.header)?)?;
        result.set_item("payload", object_to_py(py, &verified.claims)?)?;
        result.set_item("signature", PyBytes::new(py, &verified.signature))?;
        Ok(result)
    }

    /// The key with this `kid` (fetching as the cache policy allows).
    fn get_signing_key(&self, py: Python<'_>, kid: &str) -> PyResult<SigningKey> {
        self.key_for(py, Some(kid))
    }

    /// The key a token's header selects (the token is not verified).
    fn get_signing_key_from_jwt(&self, py: Python<'_>, token: &Bound<'_, PyAny>) -> PyResult<SigningKey> {
        let kid =
            jws::unverified_kid(token_bytes(token)?.as_bytes(), self.client.config().max_token_bytes).py()?;
        self.key_for(py, kid.as_deref())
    }

    /// Fetches the JWK Set now (single flight with other refreshes); raises
    /// `PyJWKClientConnectionError` if the fetch fails (the cache keeps its keys).
    fn refresh(&self, py: Python<'_>) -> PyResult<()> {
        let client = &self.client;
        let result = py.detach(|| client.refresh_now());
        self.emit_events(py)?;
        result.py()
    }

    /// Counters and state: fetches, 304s, failures, hits, misses, refreshes
    /// for unknown kids, cooldown rejections, expiry, stale serving, last
    /// error, kids.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.emit_events(py)?;
        let s = self.client.stats();
        let d = PyDict::new(py);
        d.set_item("fetches", s.fetches)?;
        d.set_item("not_modified", s.not_modified)?;
        d.set_item("failures", s.failures)?;
        d.set_item("hits", s.hits)?;
        d.set_item("misses", s.misses)?;
        d.set_item("unknown_kid_refreshes", s.unknown_kid_refreshes)?;
        d.set_item("cooldown_rejections", s.cooldown_rejections)?;
        d.set_item("stale_served", s.stale_served)?;
        d.set_item("token_cache_hits", s.token_cache_hits)?;
        d.set_item("token_cache_size", s.token_cache_size)?;
        d.set_item("last_fetch_at", s.last_fetch_at)?;
        d.set_item("expires_at", s.expires_at)?;
        d.set_item("serving_stale", s.serving_stale)?;
        d.set_item("last_error", s.last_error)?;
        d.set_item("kids", s.kids)?;
        d.set_item("jwks_uri", s.jwks_uri)?;
        Ok(d)
    }

    /// Stops background refreshes; the cache still answers (fetching on demand).
    fn close(&self) {
        self.client.close();
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(&self, _exc_type: &Bound<'_, PyAny>, _exc: &Bound<'_, PyAny>, _tb: &Bound<'_, PyAny>) {
        self.close();
    }

    /// The `kid` of every usable key held now (`None` for a key without one).
    #[getter]
    fn kids(&self) -> Vec<Option<String>> {
        self.client.keys().map(|keys| keys.keys().iter().map(|k| k.kid.clone()).collect()).unwrap_or_default()
    }

    /// The keys of the current set that were skipped: dicts with `index`,
    /// `kid`, `kty`, `reason`.
    #[getter]
    fn skipped<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for skipped in self.client.keys().iter().flat_map(|k| k.skipped().to_vec()) {
            let item = PyDict::new(py);
            item.set_item("index", skipped.index)?;
            item.set_item("kid", skipped.kid)?;
            item.set_item("kty", skipped.kty)?;
            item.set_item("reason", skipped.reason)?;
            list.append(item)?;
        }
        Ok(list)
    }

    /// The algorithm allow-list.
    #[getter]
    fn algorithms(&self) -> Vec<&'static str> {
        self.client.config().algorithms.iter().map(|a| a.name()).collect()
    }

    /// The default expected issuer, if any.
    #[getter]
    fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    fn __len__(&self) -> usize {
        self.client.keys().map_or(0, |k| k.len())
    }

    fn __repr__(&self) -> String {
        format!("JWKSCache({:?}, keys={}, algorithms={:?})", self.origin, self.__len__(), self.algorithms())
    }
}

impl PyJwksCache {
    fn verify(
        &self,
        py: Python<'_>,
        token: &Bound<'_, PyAny>,
        algorithms: Option<Vec<String>>,
        allow_io: bool,
    ) -> PyResult<Option<(Arc<Verified>, bool)>> {
        let encoded = token_bytes(token)?;
        let bytes = encoded.as_bytes();
        let client = &self.client;
        let allowed = match algorithms {
            None => Cow::Borrowed(client.config().algorithms.as_slice()),
            Some(names) => Cow::Owned(jws::allow_list(&names).py()?),
        };
        // The cache-hit path keeps the GIL (see docs/performance.md); any
        // fetch runs with the GIL released.
        let mut result = if self.release_gil {
            py.detach(|| client.verify(bytes, &allowed, false))
        } else {
            client.verify(bytes, &allowed, false)
        };
        if allow_io && matches!(result, Ok(None)) {
            result = py.detach(|| client.verify(bytes, &allowed, true));
        }
        self.emit_events(py)?;
        result.py()
    }

    fn key_for(&self, py: Python<'_>, kid: Option<&str>) -> PyResult<SigningKey> {
        let client = &self.client;
        let mut found = client.find_key(kid, false);
        if matches!(found, Ok(None)) {
            found = py.detach(|| client.find_key(kid, true));
        }
        self.emit_events(py)?;
        Ok(SigningKey(found.py()?.expect("I/O allowed")))
    }

    /// Hands pending core log events to the `jwkscache` Python logger.
    fn emit_events(&self, py: Python<'_>) -> PyResult<()> {
        let events = self.client.drain_events();
        if events.is_empty() {
            return Ok(());
        }
        let logger = py.import("logging")?.call_method1("getLogger", ("jwkscache",))?;
        for event in events {
            let method = match event.level {
                Level::Debug => "debug",
                Level::Warning => "warning",
            };
            logger.call_method1(method, ("%s", event.message))?;
        }
        Ok(())
    }

    fn validation(
        &self,
        audience: Option<&Bound<'_, PyAny>>,
        issuer: Option<&Bound<'_, PyAny>>,
        subject: Option<String>,
        leeway: Option<&Bound<'_, PyAny>>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Validation> {
        let mut v = validation(audience, issuer, subject, leeway, options)?;
        if v.issuer.is_none() {
            v.issuer = self.issuer.clone().map(|issuer| vec![issuer]);
        }
        Ok(v)
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

fn config(
    algorithms: Option<Vec<String>>,
    max_token_bytes: usize,
    token_cache_size: usize,
) -> PyResult<Config> {
    if token_cache_size > 1_000_000 {
        return Err(PyValueError::new_err("token_cache_size must be at most 1000000"));
    }
    let mut config = Config { max_token_bytes, token_cache_size, ..Config::default() };
    if let Some(names) = algorithms {
        config.algorithms = jws::allow_list(&names).py()?;
    }
    if max_token_bytes == 0 {
        return Err(PyValueError::new_err("max_token_bytes must be positive"));
    }
    Ok(config)
}

fn fetch_config(
    headers: Option<HashMap<String, String>>,
    timeout: f64,
    ca_file: Option<PathBuf>,
    max_body_bytes: usize,
    allow_insecure_http: bool,
) -> PyResult<FetchConfig> {
    if !(timeout.is_finite() && timeout > 0.0 && timeout <= 300.0) {
        return Err(PyValueError::new_err(format!("timeout must be in (0, 300] seconds, got {timeout}")));
    }
    if max_body_bytes == 0 {
        return Err(PyValueError::new_err("max_body_bytes must be positive"));
    }
    Ok(FetchConfig {
        timeout: Duration::from_secs_f64(timeout),
        max_body_bytes,
        headers: headers.map(|h| h.into_iter().collect()).unwrap_or_default(),
        ca_file: ca_file.map(|p| p.to_string_lossy().into_owned()),
        allow_insecure_http,
    })
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// A token's bytes: `str` (UTF-8) or `bytes`, as PyJWT accepts. A `str` is
/// encoded once into a `bytes` object that is then borrowed (the abi3 API of
/// Python 3.9 cannot lend a `str`'s UTF-8 buffer).
fn token_bytes<'py>(token: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    if let Ok(text) = token.cast::<PyString>() {
        return text
            .encode_utf8()
            .map_err(|_| to_pyerr(Error::Decode("Invalid token: the str is not valid UTF-8".into())));
    }
    if let Ok(bytes) = token.cast::<PyBytes>() {
        return Ok(bytes.clone());
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
