//! Python arguments -> core types: tokens, JWK Set documents, PyJWT's
//! keyword arguments, cache settings.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jwkscache_core::claims::Validation;
use jwkscache_core::client::Config;
use jwkscache_core::fetch::FetchConfig;
use jwkscache_core::jws;
use jwkscache_core::Error;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple};

use crate::py_errors::{to_pyerr, IntoPyResult};

pub(crate) fn config(
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
        if config.algorithms.is_empty() {
            return Err(PyValueError::new_err(format!(
                "algorithms {names:?} names no algorithm a JWK Set can serve (none and HS* keys are \
                 secrets no issuer publishes); name at least one of RS*, PS*, ES256, ES384, ES512, EdDSA"
            )));
        }
    }
    if max_token_bytes == 0 {
        return Err(PyValueError::new_err("max_token_bytes must be positive"));
    }
    Ok(config)
}

pub(crate) fn fetch_config(
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
        ca_only: false,
        bearer_token_file: None,
    })
}

pub(crate) fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// A token's bytes: `str` (UTF-8) or `bytes`, as PyJWT accepts. A `str` is
/// encoded once into a `bytes` object that is then borrowed (the abi3 API of
/// Python 3.9 cannot lend a `str`'s UTF-8 buffer).
pub(crate) fn token_bytes<'a>(token: &'a Bound<'_, PyAny>) -> PyResult<&'a [u8]> {
    // A str's UTF-8 is borrowed (cached in the str; no copy for ASCII).
    if let Ok(text) = token.cast::<PyString>() {
        return text
            .to_str()
            .map(str::as_bytes)
            .map_err(|_| to_pyerr(Error::Decode("Invalid token: the str is not valid UTF-8".into())));
    }
    if let Ok(bytes) = token.cast::<PyBytes>() {
        return Ok(bytes.as_bytes());
    }
    let type_name = token.get_type().name().map_or_else(|_| "?".to_owned(), |n| n.to_string());
    Err(to_pyerr(Error::Decode(format!("Invalid token type. Token must be a str or bytes, got {type_name}"))))
}

/// A JWK Set document's bytes from a dict, str or bytes.
pub(crate) fn document_bytes(py: Python<'_>, jwks: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
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

/// The claim checks from PyJWT's keyword arguments; `default_issuer` (the
/// cache's) applies when `issuer` is not given.
pub(crate) fn validation(
    audience: Option<&Bound<'_, PyAny>>,
    issuer: Option<&Bound<'_, PyAny>>,
    subject: Option<String>,
    leeway: Option<&Bound<'_, PyAny>>,
    options: Option<&Bound<'_, PyAny>>,
    default_issuer: Option<&str>,
) -> PyResult<Validation> {
    let mut v = Validation { subject, ..Validation::default() };
    if let Some(audience) = audience.filter(|a| !a.is_none()) {
        v.audience_is_str = audience.is_instance_of::<PyString>();
        v.audience = Some(audiences(audience)?);
    }
    match issuer.filter(|i| !i.is_none()) {
        Some(issuer) => v.issuer = Some(strings(issuer, "issuer")?),
        None => v.issuer = default_issuer.map(|issuer| vec![issuer.to_owned()]),
    }
    if let Some(leeway) = leeway.filter(|l| !l.is_none()) {
        v.leeway = seconds(leeway)?;
    }
    if let Some(options) = options.filter(|o| !o.is_none()) {
        // Any mapping, as PyJWT takes (a dict, a MappingProxyType, ...).
        let options = match options.cast::<PyDict>() {
            Ok(dict) => dict.clone(),
            Err(_) => options
                .py()
                .get_type::<PyDict>()
                .call1((options,))
                .and_then(|d| Ok(d.cast_into::<PyDict>()?))
                .map_err(|_| PyTypeError::new_err("options must be a mapping of option names"))?,
        };
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

/// A constructor's `audience=`: `None`, a str, or an iterable of str (kept
/// as a tuple, so later changes to the caller's list change nothing).
pub(crate) fn default_audience(audience: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Py<PyAny>>> {
    let Some(audience) = audience.filter(|a| !a.is_none()) else { return Ok(None) };
    if audience.is_instance_of::<PyString>() {
        return Ok(Some(audience.clone().unbind()));
    }
    let list = strings(audience, "audience")?;
    if list.is_empty() {
        return Err(PyValueError::new_err("audience must name at least one audience"));
    }
    Ok(Some(PyTuple::new(audience.py(), list)?.into_any().unbind()))
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

/// The expected audiences, as PyJWT compares them: a str is one; any other
/// iterable is compared item by item with the token's (str) audiences, so
/// an item that is not a str never matches (bytes iterate as ints: none do).
fn audiences(value: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if let Ok(text) = value.cast::<PyString>() {
        return Ok(vec![text.to_cow()?.into_owned()]);
    }
    if value.is_instance_of::<PyBytes>() {
        return Ok(Vec::new());
    }
    let iter = value
        .try_iter()
        .map_err(|_| PyTypeError::new_err("audience must be a string, an iterable of strings or None"))?;
    let mut out = Vec::new();
    for item in iter {
        if let Ok(text) = item?.cast::<PyString>() {
            out.push(text.to_cow()?.into_owned());
        }
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
