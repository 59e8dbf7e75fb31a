//! `jwkscache.JWKSCache`: the Python face of the core [`Client`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use jwkscache_core::cache::Policy;
use jwkscache_core::claims::Validation;
use jwkscache_core::client::{system_clock, Client, Level, Lookup, Source};
use jwkscache_core::fetch::Fetcher;
use jwkscache_core::in_cluster::InCluster;
use jwkscache_core::jwk::JwkSet;
use jwkscache_core::jws::{self, Verified};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList, PyType};

use crate::py_args::{config, default_audience, document_bytes, fetch_config, now, token_bytes, validation};
use crate::py_errors::IntoPyResult;
use crate::py_gil::{brief, GilPolicy};
use crate::py_json::{claims_to_py, json_to_dict};
use crate::py_signing_key::SigningKey;
use crate::py_store::{shared_config, shared_stats};

/// The algorithms `in_cluster` allows by default: what kube-apiserver signs with.
const IN_CLUSTER_ALGORITHMS: [&str; 4] = ["RS256", "ES256", "ES384", "ES512"];

/// A JWK Set, fetched and kept fresh (or fixed), and the rules to verify
/// tokens against it.
#[pyclass(frozen, weakref, name = "JWKSCache", module = "jwkscache")]
pub struct PyJwksCache {
    client: Arc<Client>,
    /// Expected `iss` when `decode` is not given one.
    issuer: Option<String>,
    /// Expected `aud` when `decode` is not given one (a str or a tuple of str).
    audience: Option<Py<PyAny>>,
    /// Where the keys come from, for `__repr__`.
    origin: String,
    /// When the GIL is released around the signature check.
    gil: GilPolicy,
}

#[pymethods]
impl PyJwksCache {
    /// A cache over the JWKS at `jwks_uri` (see the README for each option).
    #[new]
    #[pyo3(signature = (jwks_uri, /, *, issuer = None, audience = None, headers = None, timeout = 5.0, ca_file = None,
        lifespan = 300.0, min_ttl = 60.0, max_ttl = 3600.0, refresh_cooldown = 30.0, max_stale = 3600.0,
        refresh_ahead = true, algorithms = None, max_token_bytes = 16384,
        max_body_bytes = 524_288, allow_insecure_http = false, token_cache_size = 1024, release_gil = None,
        shared = None, shared_wait = 2.0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        jwks_uri: String,
        issuer: Option<String>,
        audience: Option<&Bound<'_, PyAny>>,
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
        release_gil: Option<bool>,
        shared: Option<&Bound<'_, PyAny>>,
        shared_wait: f64,
    ) -> PyResult<Self> {
        let config = config(algorithms, max_token_bytes, token_cache_size)?;
        let fetch = fetch_config(headers, timeout, ca_file, max_body_bytes, allow_insecure_http)?;
        let policy = Policy { lifespan, min_ttl, max_ttl, refresh_cooldown, max_stale, refresh_ahead };
        let shared = shared_config(shared, shared_wait)?;
        let source = Source::JwksUri(jwks_uri.clone());
        let client =
            brief(py, || Client::remote_shared(source, fetch, policy, config, system_clock(), shared))
                .py()?;
        Ok(Self {
            client,
            issuer,
            audience: default_audience(audience)?,
            origin: jwks_uri,
            gil: GilPolicy::from_option(py, release_gil),
        })
    }

    /// A cache over an OIDC issuer's keys, found by discovery (lazily, on
    /// first use); `jwks_uri` overrides the discovered one. The issuer is
    /// also the default expected `iss`.
    #[classmethod]
    #[pyo3(signature = (issuer, /, *, jwks_uri = None, audience = None, headers = None, timeout = 5.0, ca_file = None,
        lifespan = 300.0, min_ttl = 60.0, max_ttl = 3600.0, refresh_cooldown = 30.0, max_stale = 3600.0,
        refresh_ahead = true, algorithms = None, max_token_bytes = 16384,
        max_body_bytes = 524_288, allow_insecure_http = false, token_cache_size = 1024, release_gil = None,
        shared = None, shared_wait = 2.0))]
    #[allow(clippy::too_many_arguments)]
    fn from_issuer(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        issuer: String,
        jwks_uri: Option<String>,
        audience: Option<&Bound<'_, PyAny>>,
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
        release_gil: Option<bool>,
        shared: Option<&Bound<'_, PyAny>>,
        shared_wait: f64,
    ) -> PyResult<Self> {
        let config = config(algorithms, max_token_bytes, token_cache_size)?;
        let fetch = fetch_config(headers, timeout, ca_file, max_body_bytes, allow_insecure_http)?;
        let policy = Policy { lifespan, min_ttl, max_ttl, refresh_cooldown, max_stale, refresh_ahead };
        let source = Source::Issuer { issuer: issuer.clone(), jwks_uri };
        let shared = shared_config(shared, shared_wait)?;
        let client =
            brief(py, || Client::remote_shared(source, fetch, policy, config, system_clock(), shared))
                .py()?;
        Ok(Self {
            client,
            origin: issuer.clone(),
            issuer: Some(issuer),
            audience: default_audience(audience)?,
            gil: GilPolicy::from_option(py, release_gil),
        })
    }

    /// A cache over a fixed JWK Set (dict, str or bytes); no network.
    #[classmethod]
    #[pyo3(signature = (jwks, /, *, issuer = None, audience = None, algorithms = None, max_token_bytes = 16384, token_cache_size = 1024, release_gil = None))]
    #[allow(clippy::too_many_arguments)]
    fn from_jwks(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        jwks: &Bound<'_, PyAny>,
        issuer: Option<String>,
        audience: Option<&Bound<'_, PyAny>>,
        algorithms: Option<Vec<String>>,
        max_token_bytes: usize,
        token_cache_size: usize,
        release_gil: Option<bool>,
    ) -> PyResult<Self> {
        let config = config(algorithms, max_token_bytes, token_cache_size)?;
        let document = document_bytes(py, jwks)?;
        let set = JwkSet::parse(&document, &config.algorithms).py()?;
        Ok(Self {
            client: brief(py, || Client::from_set(set, config)),
            issuer,
            audience: default_audience(audience)?,
            origin: "static".into(),
            gil: GilPolicy::from_option(py, release_gil),
        })
    }

    /// The Kubernetes API server's keys, from inside a pod: the JWKS at
    /// `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/openid/v1/jwks`
    /// (never the discovery document's `jwks_uri`), read with the pod's
    /// service-account token as bearer (re-read every minute and after a
    /// 401) and the cluster CA trusted. The expected `iss` is `issuer`, or
    /// the one the API server's discovery document names (read now).
    #[classmethod]
    #[pyo3(signature = (*, issuer = None, audience = None, api_server = None, token_file = None, ca_file = None,
        timeout = 5.0, lifespan = 300.0, min_ttl = 60.0, max_ttl = 3600.0, refresh_cooldown = 30.0,
        max_stale = 3600.0, refresh_ahead = true, algorithms = None, max_token_bytes = 16384,
        max_body_bytes = 524_288, token_cache_size = 1024, release_gil = None, shared = None, shared_wait = 2.0))]
    #[allow(clippy::too_many_arguments)]
    fn in_cluster(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        issuer: Option<String>,
        audience: Option<&Bound<'_, PyAny>>,
        api_server: Option<&str>,
        token_file: Option<PathBuf>,
        ca_file: Option<PathBuf>,
        timeout: f64,
        lifespan: f64,
        min_ttl: f64,
        max_ttl: f64,
        refresh_cooldown: f64,
        max_stale: f64,
        refresh_ahead: bool,
        algorithms: Option<Vec<String>>,
        max_token_bytes: usize,
        max_body_bytes: usize,
        token_cache_size: usize,
        release_gil: Option<bool>,
        shared: Option<&Bound<'_, PyAny>>,
        shared_wait: f64,
    ) -> PyResult<Self> {
        let shared = shared_config(shared, shared_wait)?;
        let path = |p: Option<PathBuf>| p.map(|p| p.to_string_lossy().into_owned());
        let (token_file, ca_file) = (path(token_file), path(ca_file));
        let cluster = InCluster::locate(api_server, token_file.as_deref(), ca_file.as_deref(), |name| {
            std::env::var(name).ok()
        })
        .py()?;
        // What kube-apiserver signs with: RS256 for an RSA key, ES256/384/512 for an EC key.
        let algorithms = algorithms.or_else(|| Some(IN_CLUSTER_ALGORITHMS.map(str::to_owned).to_vec()));
        let config = config(algorithms, max_token_bytes, token_cache_size)?;
        let fetch = cluster.fetch_config(fetch_config(None, timeout, None, max_body_bytes, false)?);
        let issuer = match issuer {
            Some(issuer) => issuer,
            None => {
                let fetcher = Fetcher::new(fetch.clone()).py()?;
                py.detach(|| cluster.discover_issuer(&fetcher)).py()?
            }
        };
        let policy = Policy { lifespan, min_ttl, max_ttl, refresh_cooldown, max_stale, refresh_ahead };
        let source = Source::JwksUri(cluster.jwks_uri());
        let client =
            brief(py, || Client::remote_shared(source, fetch, policy, config, system_clock(), shared))
                .py()?;
        Ok(Self {
            client,
            origin: format!("in-cluster {}", cluster.api_server),
            issuer: Some(issuer),
            audience: default_audience(audience)?,
            gil: GilPolicy::from_option(py, release_gil),
        })
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
        options: Option<&Bound<'py, PyAny>>,
        algorithms: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let audience = audience.or(self.audience.as_ref().map(|a| a.bind(py)));
        let validation = validation(audience, issuer, subject, leeway, options, self.issuer.as_deref())?;
        let (_, claims) =
            self.verified_claims(py, token, algorithms, &validation, true)?.expect("I/O allowed");
        Ok(claims.into_any())
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
        options: Option<&Bound<'py, PyAny>>,
        algorithms: Option<Vec<String>>,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let audience = audience.or(self.audience.as_ref().map(|a| a.bind(py)));
        let validation = validation(audience, issuer, subject, leeway, options, self.issuer.as_deref())?;
        Ok(self.verified_claims(py, token, algorithms, &validation, false)?.map(|(_, claims)| claims))
    }

    /// `await cache.decode_async(token, ...)`: verifies inline when the keys
    /// are at hand, and runs any fetch in a worker thread.
    #[pyo3(signature = (token, /, **kwargs))]
    fn decode_async<'py>(
        slf: &Bound<'py, Self>,
        token: &Bound<'py, PyAny>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        static DECODE_ASYNC: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let py = slf.py();
        let decode_async = DECODE_ASYNC.import(py, "jwkscache._aio", "decode_async")?;
        decode_async.call((slf, token), kwargs)
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
        options: Option<&Bound<'py, PyAny>>,
        algorithms: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let audience = audience.or(self.audience.as_ref().map(|a| a.bind(py)));
        let validation = validation(audience, issuer, subject, leeway, options, self.issuer.as_deref())?;
        let (verified, payload) =
            self.verified_claims(py, token, algorithms, &validation, true)?.expect("I/O allowed");
        let result = PyDict::new(py);
        result.set_item("header", json_to_dict(py, verified.header.json())?)?;
        result.set_item("payload", payload)?;
        result.set_item("signature", PyBytes::new(py, &verified.signature))?;
        Ok(result)
    }

    /// The key with this `kid` (fetching as the cache policy allows).
    fn get_signing_key(&self, py: Python<'_>, kid: &str) -> PyResult<SigningKey> {
        self.key_for(py, Some(kid))
    }

    /// The key a token's header selects (the token is not verified).
    fn get_signing_key_from_jwt(&self, py: Python<'_>, token: &Bound<'_, PyAny>) -> PyResult<SigningKey> {
        let kid = jws::unverified_kid(token_bytes(token)?, self.client.config().max_token_bytes).py()?;
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
        let s = brief(py, || self.client.stats());
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
        match &s.shared {
            Some(shared) => d.set_item("shared", shared_stats(py, shared)?)?,
            None => d.set_item("shared", py.None())?,
        }
        Ok(d)
    }

    /// Stops background refreshes; the cache still answers (fetching on demand).
    fn close(&self, py: Python<'_>) {
        brief(py, || self.client.close());
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: &Bound<'_, PyAny>,
        _exc: &Bound<'_, PyAny>,
        _tb: &Bound<'_, PyAny>,
    ) {
        self.close(py);
    }

    /// The `kid` of every usable key held now (`None` for a key without one).
    #[getter]
    fn kids(&self, py: Python<'_>) -> Vec<Option<String>> {
        brief(py, || self.client.keys())
            .map(|keys| keys.keys().iter().map(|k| k.kid.clone()).collect())
            .unwrap_or_default()
    }

    /// The keys of the current set that were skipped: dicts with `index`,
    /// `kid`, `kty`, `reason`.
    #[getter]
    fn skipped<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for skipped in brief(py, || self.client.keys()).iter().flat_map(|k| k.skipped().to_vec()) {
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

    /// The default expected audience, if any (a str or a tuple of str).
    #[getter]
    fn audience<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        self.audience.as_ref().map(|a| a.bind(py).clone())
    }

    fn __len__(&self, py: Python<'_>) -> usize {
        brief(py, || self.client.keys()).map_or(0, |k| k.len())
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!("JWKSCache({:?}, keys={}, algorithms={:?})", self.origin, self.__len__(py), self.algorithms())
    }
}

impl PyJwksCache {
    /// The verified token and its claims dict, checked by `validation`; a
    /// token that passed every check is offered to the verified-token cache
    /// (a refused one never is). `None` only without `allow_io`, when a
    /// fetch is due.
    fn verified_claims<'py>(
        &self,
        py: Python<'py>,
        token: &Bound<'py, PyAny>,
        algorithms: Option<Vec<String>>,
        validation: &Validation,
        allow_io: bool,
    ) -> PyResult<Option<(Arc<Verified>, Bound<'py, PyDict>)>> {
        let Some((verified, hit)) = self.verify(py, token, algorithms, allow_io)? else { return Ok(None) };
        // Built first: building parses the payload, once, for both.
        let claims = claims_to_py(py, &verified, hit)?;
        validation.validate(&verified.claims, now()).py()?;
        if !hit {
            let bytes = token_bytes(token)?;
            brief(py, || self.client.remember(bytes, &verified));
        }
        Ok(Some((verified, claims)))
    }

    fn verify(
        &self,
        py: Python<'_>,
        token: &Bound<'_, PyAny>,
        algorithms: Option<Vec<String>>,
        allow_io: bool,
    ) -> PyResult<Option<(Arc<Verified>, bool)>> {
        let bytes = token_bytes(token)?;
        let client = &self.client;
        let allowed = match algorithms {
            None => Cow::Borrowed(client.config().algorithms.as_slice()),
            Some(names) => Cow::Owned(jws::allow_list(&names).py()?),
        };
        // By default a cache hit, or a refusal before the signature check,
        // holds the GIL: it is shorter than taking the GIL back can be. The
        // signature check runs as the policy says (py_gil.rs);
        // `release_gil=True` releases the whole verify. A fetch, always
        // without the GIL.
        let lookup = if self.gil == GilPolicy::Release {
            crate::py_gil::detach(py, || client.verify(bytes, &allowed, false))
        } else {
            brief(py, || client.lookup(bytes, &allowed, false)).and_then(|lookup| match lookup {
                Lookup::Cached(verified) => Ok(Some((verified, true))),
                Lookup::Check(checked) => {
                    self.gil.run(py, || client.finish(checked)).map(|verified| Some((verified, false)))
                }
                Lookup::FetchDue => Ok(None),
            })
        };
        let result = match lookup {
            Ok(None) if allow_io => py.detach(|| client.verify(bytes, &allowed, true)),
            other => other,
        };
        self.emit_events(py)?;
        result.py()
    }

    fn key_for(&self, py: Python<'_>, kid: Option<&str>) -> PyResult<SigningKey> {
        let client = &self.client;
        let mut found = brief(py, || client.find_key(kid, false));
        if matches!(found, Ok(None)) {
            found = py.detach(|| client.find_key(kid, true));
        }
        self.emit_events(py)?;
        Ok(SigningKey(found.py()?.expect("I/O allowed")))
    }

    /// Hands pending core log events to the `jwkscache` Python logger.
    fn emit_events(&self, py: Python<'_>) -> PyResult<()> {
        let events = brief(py, || self.client.drain_events());
        if events.is_empty() {
            return Ok(());
        }
        // Until something imports `logging`, no handler exists to show a
        // debug record (and importing it costs milliseconds); warnings still
        // reach logging's last-resort handler.
        let only_debug = events.iter().all(|event| event.level == Level::Debug);
        if only_debug && !py.import("sys")?.getattr("modules")?.contains("logging")? {
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
}
