//! The only network code: GET a JWKS (or a discovery document) over HTTPS.
//!
//! reqwest's blocking client on rustls, with the crypto backend of
//! `verify.rs`; system trust roots plus an optional CA file; no redirects;
//! proxy variables honoured; bounded time and body size; conditional
//! requests. Callers get bytes and cache headers, never a reqwest type.
//!
//! Trust roots (the system's, `ca_file`, `SSL_CERT_FILE`) are loaded when
//! the first `https` request needs them (5-10 ms of reading and parsing
//! certificates): plain `http` to a loopback issuer (tests, a sidecar) never
//! pays for them.

use std::io::Read;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use reqwest::blocking::Client;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::redirect::Policy;
use reqwest::{StatusCode, Url};
use serde_json::Value;

use crate::errors::{Error, Result};
use crate::token_file::TokenFile;

/// HTTP clients kept for reuse, per settings and process.
static SHARED: Mutex<Vec<(FetchConfig, u32, Arc<Clients>)>> = Mutex::new(Vec::new());
/// Distinct settings remembered (a process rarely has more than a few).
const MAX_SHARED_CLIENTS: usize = 16;

/// Before `fork()`: holds the shared-client registry (see `client::prepare_fork_all`).
pub(crate) fn prepare_fork() {
    std::mem::forget(SHARED.lock());
}

/// After `fork()`, in parent and child.
pub(crate) fn after_fork() {
    // SAFETY: prepare_fork leaked this guard in the forking thread.
    unsafe { SHARED.force_unlock() };
}

/// Default bound on a response body (decompressed), in bytes.
pub const DEFAULT_MAX_BODY_BYTES: usize = 512 * 1024;

/// How to reach the issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchConfig {
    /// Bound on connecting, and on the whole request.
    pub timeout: Duration,
    /// Bound on the response body, after decompression.
    pub max_body_bytes: usize,
    /// Extra request headers (e.g. `Authorization` for an in-cluster JWKS).
    pub headers: Vec<(String, String)>,
    /// PEM file of extra trusted CAs (added to the system roots).
    pub ca_file: Option<String>,
    /// Allow plain `http://` to hosts other than loopback.
    pub allow_insecure_http: bool,
    /// Trust `ca_file` alone: not the system roots, not `SSL_CERT_FILE` (as
    /// client-go trusts only the cluster CA in a pod).
    pub ca_only: bool,
    /// A file holding the bearer token to send (a pod's service-account
    /// token), re-read as [`TokenFile`] says.
    pub bearer_token_file: Option<String>,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            headers: Vec::new(),
            ca_file: None,
            allow_insecure_http: false,
            ca_only: false,
            bearer_token_file: None,
        }
    }
}

/// The validators of a cached response, sent back on a conditional request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// The response headers that decide freshness.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheHeaders {
    pub cache_control: Option<String>,
    pub expires: Option<String>,
    pub age: Option<String>,
    pub date: Option<String>,
}

/// What a GET brought back.
#[derive(Debug)]
pub enum Fetched {
    /// 200: a new body.
    Body { body: Vec<u8>, cache: CacheHeaders, validators: Validators },
    /// 304: the cached body is still current.
    NotModified { cache: CacheHeaders },
}

/// An HTTP client for one cache; rebuilt after `fork()` by its owner.
#[derive(Debug)]
pub struct Fetcher {
    clients: Arc<Clients>,
    config: FetchConfig,
    pid: u32,
    token_file: Option<TokenFile>,
}

/// The clients for one set of settings: one for plain `http` (no trust
/// roots), one for `https` built on first use (the system roots loaded then).
#[derive(Debug)]
struct Clients {
    plain: Client,
    /// Built by the first https request that succeeds in building it (a
    /// failure, such as a CA file missing for a moment, is tried again).
    tls: OnceLock<Client>,
    /// PEM files of extra CAs, read with the system roots.
    ca_files: Vec<String>,
    config: FetchConfig,
}

impl Fetcher {
    /// The client for `config`: shared by every cache of this process with
    /// the same settings (loading trust roots costs milliseconds), and never
    /// shared across `fork()`.
    pub fn new(config: FetchConfig) -> Result<Self> {
        let token_file = config
            .bearer_token_file
            .as_deref()
            .map(|path| TokenFile::open(path, Instant::now()))
            .transpose()?;
        let pid = std::process::id();
        let mut shared = SHARED.lock();
        // Clients built before a fork: dropping one would join a runtime
        // thread that stayed in the parent, so they are leaked.
        let (ours, inherited): (Vec<_>, Vec<_>) =
            std::mem::take(&mut *shared).into_iter().partition(|e| e.1 == pid);
        std::mem::forget(inherited);
        *shared = ours;
        if let Some((_, _, clients)) = shared.iter().find(|(c, _, _)| *c == config) {
            return Ok(Self { clients: Arc::clone(clients), config, pid, token_file });
        }
        let clients = Arc::new(Clients::new(&config)?);
        if shared.len() >= MAX_SHARED_CLIENTS {
            shared.remove(0);
        }
        shared.push((config.clone(), pid, Arc::clone(&clients)));
        Ok(Self { clients, config, pid, token_file })
    }

    /// True when this client was built in another process (before a fork).
    pub fn is_inherited(&self) -> bool {
        self.pid != std::process::id()
    }

    /// The settings it was built with.
    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    /// GETs `url`, conditionally when `validators` are given; with a bearer
    /// token file, its token is sent, and after a 401 the file is read again
    /// and the request made once more.
    /// Both requests share one `timeout`.
    pub fn get(&self, url: &str, validators: Option<&Validators>) -> Result<Fetched> {
        let deadline = Instant::now() + self.config.timeout;
        let Some(file) = &self.token_file else {
            let fetched = self.get_with(url, validators, None, deadline)?;
            return Ok(fetched.expect("only a bearer request answers None"));
        };
        let token = file.current(Instant::now())?;
        if let Some(fetched) = self.get_with(url, validators, Some(&token), deadline)? {
            return Ok(fetched);
        }
        let token = file.reload(Instant::now())?;
        self.get_with(url, validators, Some(&token), deadline)?.ok_or_else(|| {
            Error::Fetch(format!(
                "Fail to fetch data from the url, err: \"{url} answered 401 Unauthorized to the bearer token of {:?}, read again after a first 401\"",
                file.path()
            ))
        })
    }

    /// One GET; `Ok(None)` when a request with a bearer token was answered 401.
    fn get_with(
        &self,
        url: &str,
        validators: Option<&Validators>,
        bearer: Option<&str>,
        deadline: Instant,
    ) -> Result<Option<Fetched>> {
        let url = check_url(url, self.config.allow_insecure_http)?;
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(Error::Fetch(format!("Fail to fetch data from the url, err: \"{url}: timed out\"")));
        }
        let mut request = self.clients.for_url(&url)?.get(url.clone()).timeout(remaining);
        if let Some(token) = bearer {
            let mut value = HeaderValue::try_from(format!("Bearer {token}"))
                .map_err(|e| Error::Config(format!("invalid bearer token: {e}")))?;
            value.set_sensitive(true);
            request = request.header(header::AUTHORIZATION, value);
        }
        if let Some(v) = validators {
            if let Some(etag) = &v.etag {
                request = request.header(header::IF_NONE_MATCH, etag);
            }
            if let Some(date) = &v.last_modified {
                request = request.header(header::IF_MODIFIED_SINCE, date);
            }
        }
        let response = request.send().map_err(|e| fetch_error(&url, &e))?;
        let status = response.status();
        let cache = cache_headers(response.headers());
        if status == StatusCode::NOT_MODIFIED && validators.is_some() {
            return Ok(Some(Fetched::NotModified { cache }));
        }
        if status == StatusCode::UNAUTHORIZED && bearer.is_some() {
            return Ok(None);
        }
        if status.is_redirection() {
            let to = response.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("?");
            return Err(Error::Fetch(format!(
                "Fail to fetch data from the url, err: \"{url} answered {status} (redirect to {to}); redirects are not followed\""
            )));
        }
        if status != StatusCode::OK {
            return Err(refused(&url, status, response.headers()));
        }
        let validators = Validators {
            etag: header_str(response.headers(), &header::ETAG),
            last_modified: header_str(response.headers(), &header::LAST_MODIFIED),
        };
        let body = read_bounded(response, self.config.max_body_bytes, deadline, &url)?;
        Ok(Some(Fetched::Body { body, cache, validators }))
    }

    /// OIDC discovery: the `jwks_uri` of `issuer`, whose document must name
    /// exactly that issuer (OpenID Connect Discovery 1.0 §4.3).
    pub fn discover(&self, issuer: &str) -> Result<String> {
        let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        let Fetched::Body { body, .. } = self.get(&url, None)? else {
            unreachable!("an unconditional GET never answers NotModified")
        };
        let document: Value = serde_json::from_slice(&body)
            .map_err(|e| Error::Fetch(format!("OIDC discovery document at {url} is not JSON: {e}")))?;
        // A second `jwks_uri` or `issuer` appended would be the one read.
        crate::pick::refuse_duplicate_members(&body)
            .map_err(|e| Error::Fetch(format!("OIDC discovery document at {url} is refused: {e}")))?;
        let named = document.get("issuer").and_then(Value::as_str).unwrap_or("");
        if named != issuer {
            return Err(Error::Fetch(format!(
                "OIDC discovery document at {url} names issuer {named:?}, expected {issuer:?}"
            )));
        }
        match document.get("jwks_uri").and_then(Value::as_str) {
            Some(uri) => Ok(uri.to_owned()),
            None => Err(Error::Fetch(format!("OIDC discovery document at {url} has no \"jwks_uri\""))),
        }
    }
}

impl Clients {
    /// Builds the plain-http client; the https one waits for its first use.
    /// The extra CA files are opened now, so a bad path fails here.
    fn new(config: &FetchConfig) -> Result<Self> {
        install_crypto_provider();
        let from_env = if config.ca_only { None } else { std::env::var("SSL_CERT_FILE").ok() };
        let ca_files: Vec<String> = [config.ca_file.clone(), from_env].into_iter().flatten().collect();
        for path in &ca_files {
            match std::fs::File::open(path).and_then(|file| file.metadata()) {
                Ok(metadata) if metadata.is_file() => {}
                Ok(_) => return Err(Error::Config(format!("cannot read CA file {path:?}: not a file"))),
                Err(e) => return Err(Error::Config(format!("cannot read CA file {path:?}: {e}"))),
            }
        }
        // No root at all: this client never completes a TLS handshake.
        let plain = Self::builder(config)?.tls_certs_only([]).build().map_err(|e| build_error(&e))?;
        Ok(Self { plain, tls: OnceLock::new(), ca_files, config: config.clone() })
    }

    /// The https client: the system roots plus the CA files (the CA file
    /// alone with `ca_only`).
    fn build_tls(&self) -> std::result::Result<Client, String> {
        let mut builder = Self::builder(&self.config).map_err(|e| e.to_string())?;
        let mut only = Vec::new();
        for path in &self.ca_files {
            let pem = std::fs::read(path).map_err(|e| format!("cannot read CA file {path:?}: {e}"))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("CA file {path:?} holds no usable PEM certificate: {e}"))?;
            if self.config.ca_only {
                only.extend(certs);
            } else {
                builder = builder.tls_certs_merge(certs);
            }
        }
        if self.config.ca_only {
            builder = builder.tls_certs_only(only);
        }
        builder.build().map_err(|e| build_error(&e).to_string())
    }

    /// The client to reach `url` with.
    fn for_url(&self, url: &Url) -> Result<&Client> {
        if url.scheme() != "https" {
            return Ok(&self.plain);
        }
        if let Some(client) = self.tls.get() {
            return Ok(client);
        }
        // Not kept on failure: a CA file missing for a moment must not fail
        // every later fetch of every cache with these settings.
        let client = self
            .build_tls()
            .map_err(|e| Error::Fetch(format!("Fail to fetch data from the url, err: \"{url}: {e}\"")))?;
        Ok(self.tls.get_or_init(|| client))
    }

    /// A client builder with the settings common to both clients.
    fn builder(config: &FetchConfig) -> Result<reqwest::blocking::ClientBuilder> {
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers {
            let name = header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| Error::Config(format!("invalid header name {name:?}: {e}")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|e| Error::Config(format!("invalid value for header {name}: {e}")))?;
            headers.insert(name, value);
        }
        headers
            .insert(header::ACCEPT, HeaderValue::from_static("application/jwk-set+json, application/json"));
        Ok(Client::builder()
            .user_agent(concat!("jwkscache/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .redirect(Policy::none())
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .gzip(true))
    }
}

fn build_error(error: &reqwest::Error) -> Error {
    Error::Config(format!("cannot build the HTTP client: {error}"))
}

/// A URL we may fetch: http(s) only; plain http only to loopback unless allowed.
pub fn check_url(url: &str, allow_insecure_http: bool) -> Result<Url> {
    let parsed = Url::parse(url).map_err(|e| Error::Config(format!("invalid URL {url:?}: {e}")))?;
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if allow_insecure_http || is_loopback(&parsed) => Ok(parsed),
        "http" => Err(Error::Config(format!(
            "refusing plain http for {url:?}: use https, or allow_insecure_http=True for a trusted network"
        ))),
        other => Err(Error::Config(format!("unsupported URL scheme {other:?} in {url:?}: use https"))),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

fn read_bounded(
    response: reqwest::blocking::Response,
    max: usize,
    deadline: Instant,
    url: &Url,
) -> Result<Vec<u8>> {
    if response.content_length().is_some_and(|len| len > max as u64) {
        return Err(too_large(url, max));
    }
    let expected = response.content_length().and_then(|l| usize::try_from(l).ok()).unwrap_or(8192);
    let mut body = Vec::with_capacity(expected.min(max));
    let mut reader = response.take(max as u64 + 1);
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if Instant::now() > deadline {
            return Err(Error::Fetch(format!(
                "Fail to fetch data from the url, err: \"{url}: timed out reading the body\""
            )));
        }
        match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(Error::Fetch(format!(
                    "Fail to fetch data from the url, err: \"{url}: {}\"",
                    with_causes(&e)
                )))
            }
        }
        if body.len() > max {
            return Err(too_large(url, max));
        }
    }
    Ok(body)
}

/// A status other than 200 as an error; a 429 or 503 hands its
/// `Retry-After` back (with `Date`), for the cache policy to honour.
fn refused(url: &Url, status: StatusCode, headers: &HeaderMap) -> Error {
    let retry_after = (status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE)
        .then(|| header_str(headers, &header::RETRY_AFTER))
        .flatten();
    match retry_after {
        Some(retry_after) => Error::RetryLater {
            message: format!(
                "Fail to fetch data from the url, err: \"{url} answered {status} (Retry-After: {retry_after})\""
            ),
            retry_after,
            date: header_str(headers, &header::DATE),
        },
        None => Error::Fetch(format!("Fail to fetch data from the url, err: \"{url} answered {status}\"")),
    }
}

fn too_large(url: &Url, max: usize) -> Error {
    Error::Fetch(format!(
        "Fail to fetch data from the url, err: \"{url}: response body is over the {max}-byte limit\""
    ))
}

/// An error's message followed by its causes': reqwest's own are terse, the
/// source chain says why (refused, TLS, timeout, a bad chunk size).
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut reason = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    reason
}

fn fetch_error(url: &Url, error: &reqwest::Error) -> Error {
    let mut reason = with_causes(error);
    if error.is_timeout() {
        reason.push_str(" (timed out)");
    }
    Error::Fetch(format!("Fail to fetch data from the url, err: \"{url}: {reason}\""))
}

fn cache_headers(headers: &HeaderMap) -> CacheHeaders {
    CacheHeaders {
        cache_control: header_str(headers, &header::CACHE_CONTROL),
        expires: header_str(headers, &header::EXPIRES),
        age: header_str(headers, &header::AGE),
        date: header_str(headers, &header::DATE),
    }
}

fn header_str(headers: &HeaderMap, name: &header::HeaderName) -> Option<String> {
    let values: Vec<&str> = headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
    if values.is_empty() {
        None
    } else {
        Some(values.join(", "))
    }
}

fn install_crypto_provider() {
    // reqwest is built without a default provider; ours matches verify.rs.
    // An error means one is installed already (ours, earlier): fine.
    #[cfg(feature = "ring")]
    let _ = rustls::crypto::ring::default_provider().install_default();
    #[cfg(not(feature = "ring"))]
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_rules() {
        assert!(check_url("https://issuer.example/keys", false).is_ok());
        assert!(check_url("http://127.0.0.1:8080/keys", false).is_ok());
        assert!(check_url("http://localhost/keys", false).is_ok());
        assert!(check_url("http://[::1]:9/keys", false).is_ok());
        assert!(
            matches!(check_url("http://issuer.example/keys", false), Err(Error::Config(m)) if m.contains("plain http"))
        );
        assert!(check_url("http://issuer.example/keys", true).is_ok());
        assert!(
            matches!(check_url("file:///etc/passwd", true), Err(Error::Config(m)) if m.contains("scheme"))
        );
        assert!(check_url("not a url", false).is_err());
    }
}
