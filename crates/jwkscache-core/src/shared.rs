//! The fleet-wide tier: many processes share one copy of the issuer's JWKS
//! in a store (Redis, a Django cache), so the fleet asks the issuer once per
//! TTL instead of once per process.
//!
//! The store is reached only when a refresh is due, never on the verify path,
//! through the [`Store`] trait (the bindings implement it over a Python
//! object). It is a cache of the issuer's bytes, never a trust anchor: every
//! value carries an HMAC-SHA256 under a secret the fleet shares, and an entry
//! is adopted only after the checks a direct fetch gets (same parsing, same
//! rotation rules) plus its own (MAC, source, digest, size, time).
//!
//! Keys (one hash tag, so Redis Cluster keeps them on one slot):
//! `jwkscache:{<hash of issuer and JWKS URL>}:entry|lease|cooldown|backoff`.
//!
//! Everything that decides takes `now`; [`SharedTier::plan`] is the one
//! place that talks to the store before a fetch, [`SharedTier::after_fetch`]
//! the one after it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::cache::Policy;
use crate::fetch::{CacheHeaders, Validators};
use crate::jwk::JwkSet;
use crate::mac;
use crate::verify::Alg;

/// A store error (connection refused, timeout, anything the store raised).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

/// What the fleet shares: four operations, each bounded in time by the
/// store itself (about 250 ms). Called only when a refresh is due.
pub trait Store: Send + Sync {
    /// The value at `key`, if any.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Sets `key` to `value` for `ttl_ms` milliseconds.
    fn set(&self, key: &str, value: &[u8], ttl_ms: u64) -> Result<(), StoreError>;
    /// Sets `key` only if absent (atomically); true when it was set.
    fn add(&self, key: &str, value: &[u8], ttl_ms: u64) -> Result<bool, StoreError>;
    /// Removes `key`.
    fn delete(&self, key: &str) -> Result<(), StoreError>;
}

/// How a cache uses a shared store.
#[derive(Clone)]
pub struct SharedConfig {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The fleet's secret for the entries' HMAC; `None` runs unauthenticated
    /// (an explicit choice, logged).
    pub secret: Option<Vec<u8>>,
    /// Longest wait, in seconds, for another process's fetch when this one
    /// has no keys at all (cold start) or must wait for the result.
    pub wait: f64,
}

impl std::fmt::Debug for SharedConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedConfig")
            .field("secret", &self.secret.as_ref().map(|_| "<set>"))
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

/// Shortest secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 16;
/// Version of the entry format.
pub const ENTRY_VERSION: u32 = 1;
/// How far in the future a writer's clock may be, in seconds.
pub const MAX_CLOCK_SKEW: f64 = 5.0;
/// Metadata allowed in an entry beyond its (base64) body, in bytes.
const MAX_METADATA_BYTES: usize = 16 * 1024;
/// Prefix of every value this module writes.
const MAGIC: &[u8] = b"jwkscache1.";
/// First and longest pause between two reads while waiting, in seconds.
const POLL_FIRST: f64 = 0.02;
const POLL_MAX: f64 = 0.1;
/// After losing the lease with keys in hand: read the entry again after this.
pub const RECHECK_AFTER: f64 = 0.25;
/// Store errors in a row that open the circuit breaker, and for how long.
const BREAKER_ERRORS: u32 = 3;
const BREAKER_OPEN: f64 = 30.0;
/// Longest fleet-wide backoff a marker may ask for (cache.rs caps at 60 s).
const MAX_BACKOFF: f64 = 60.0;

impl SharedConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(secret) = &self.secret {
            if secret.len() < MIN_SECRET_BYTES {
                return Err(format!(
                    "the shared store's secret must be at least {MIN_SECRET_BYTES} bytes, got {}",
                    secret.len()
                ));
            }
        }
        if !self.wait.is_finite() || !(0.0..=60.0).contains(&self.wait) {
            return Err(format!("shared_wait must be between 0 and 60 seconds, got {}", self.wait));
        }
        Ok(())
    }
}

/// What an entry is bound to: the configured issuer (empty for a plain JWKS
/// URL) and the configured JWKS URL (empty when found by discovery).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub issuer: String,
    pub jwks_uri: String,
}

impl Identity {
    /// The store keys for this identity.
    pub fn keys(&self) -> Keys {
        let digest = mac::sha256(
            &[b"jwkscache-identity\0", self.issuer.as_bytes(), b"\0", self.jwks_uri.as_bytes()].concat(),
        );
        let tag = mac::to_hex(&digest[..16]);
        let key = |kind: &str| format!("jwkscache:{{{tag}}}:{kind}");
        Keys { entry: key("entry"), lease: key("lease"), cooldown: key("cooldown"), backoff: key("backoff") }
    }
}

/// The store keys of one identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    pub entry: String,
    pub lease: String,
    pub cooldown: String,
    pub backoff: String,
}

/// Why a value read from the store was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// Not a value this module wrote (garbage, truncated, not JSON).
    Malformed,
    /// A version this build does not read.
    Version,
    /// No MAC, while this process has a secret.
    NoMac,
    /// The MAC does not verify under the fleet's secret.
    BadMac,
    /// Another issuer's or JWKS URL's entry.
    WrongSource,
    /// The body does not match its digest.
    Digest,
    /// `fetched_at` is in the future.
    Future,
    /// Larger than `max_body_bytes` allows.
    Oversized,
    /// The body is not a JWK Set this cache can use.
    Unusable,
}

impl Reject {
    /// Every reason, in the order of [`SharedStats::rejected`].
    pub const ALL: [Reject; 9] = [
        Reject::Malformed,
        Reject::Version,
        Reject::NoMac,
        Reject::BadMac,
        Reject::WrongSource,
        Reject::Digest,
        Reject::Future,
        Reject::Oversized,
        Reject::Unusable,
    ];

    /// The name used in `stats()` and the log.
    pub fn name(self) -> &'static str {
        match self {
            Reject::Malformed => "malformed",
            Reject::Version => "version",
            Reject::NoMac => "no_mac",
            Reject::BadMac => "bad_mac",
            Reject::WrongSource => "wrong_source",
            Reject::Digest => "digest",
            Reject::Future => "future",
            Reject::Oversized => "oversized",
            Reject::Unusable => "unusable",
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }
}

/// `MAGIC + hex(HMAC(secret, kind NUL payload)) + "." + payload`, or `-`
/// for the MAC without a secret.
pub fn seal(secret: Option<&[u8]>, kind: &str, payload: &[u8]) -> Vec<u8> {
    let tag = secret
        .map_or_else(|| "-".to_owned(), |s| mac::to_hex(&mac::sign(s, &[kind.as_bytes(), b"\0", payload])));
    [MAGIC, tag.as_bytes(), b".", payload].concat()
}

/// The payload of a sealed value, after checking its MAC.
pub fn open<'a>(secret: Option<&[u8]>, kind: &str, value: &'a [u8]) -> Result<&'a [u8], Reject> {
    let rest = value.strip_prefix(MAGIC).ok_or(Reject::Malformed)?;
    let dot = rest.iter().position(|&b| b == b'.').ok_or(Reject::Malformed)?;
    let (tag, payload) = (&rest[..dot], &rest[dot + 1..]);
    match (secret, tag) {
        (None, _) => Ok(payload),
        (Some(_), b"-") => Err(Reject::NoMac),
        (Some(secret), tag) => {
            let tag = mac::from_hex(tag).filter(|t| t.len() == mac::TAG_LEN).ok_or(Reject::Malformed)?;
            if mac::verify(secret, &[kind.as_bytes(), b"\0", payload], &tag) {
                Ok(payload)
            } else {
                Err(Reject::BadMac)
            }
        }
    }
}

/// The issuer's exact response, its HTTP metadata and freshness, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub v: u32,
    /// The identity it is bound to.
    pub issuer: String,
    pub source_uri: String,
    /// The URL the body came from.
    pub jwks_uri: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub cache_control: Option<String>,
    pub expires: Option<String>,
    pub age: Option<String>,
    pub date: Option<String>,
    /// The writer's TTL, fetch (or 304) time, expiry and end of stale use.
    pub ttl: f64,
    pub fetched_at: f64,
    pub expires_at: f64,
    pub stale_until: f64,
    /// Hex SHA-256 of the body, and the body in base64url.
    pub body_sha256: String,
    pub body: String,
}

#[derive(Deserialize)]
struct VersionOnly {
    v: u32,
}

impl Entry {
    /// An entry for `body` as fetched (or renewed by a 304) at `fetched_at`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        identity: &Identity,
        jwks_uri: &str,
        body: &[u8],
        validators: &Validators,
        cache: &CacheHeaders,
        fetched_at: f64,
        ttl: f64,
        max_stale: f64,
    ) -> Self {
        Self {
            v: ENTRY_VERSION,
            issuer: identity.issuer.clone(),
            source_uri: identity.jwks_uri.clone(),
            jwks_uri: jwks_uri.to_owned(),
            etag: validators.etag.clone(),
            last_modified: validators.last_modified.clone(),
            cache_control: cache.cache_control.clone(),
            expires: cache.expires.clone(),
            age: cache.age.clone(),
            date: cache.date.clone(),
            ttl,
            fetched_at,
            expires_at: fetched_at + ttl,
            stale_until: fetched_at + ttl + max_stale,
            body_sha256: mac::to_hex(&mac::sha256(body)),
            body: URL_SAFE_NO_PAD.encode(body),
        }
    }

    /// The sealed bytes to store.
    pub fn encode(&self, secret: Option<&[u8]>) -> Vec<u8> {
        let json = serde_json::to_vec(self).expect("an entry always serializes");
        seal(secret, "entry", &json)
    }

    /// An entry read from the store, with its body, after every check but
    /// the JWK Set parse.
    pub fn decode(
        value: &[u8],
        secret: Option<&[u8]>,
        identity: &Identity,
        max_body_bytes: usize,
        now: f64,
    ) -> Result<(Self, Vec<u8>), Reject> {
        if value.len() > max_entry_bytes(max_body_bytes) {
            return Err(Reject::Oversized);
        }
        let payload = open(secret, "entry", value)?;
        let version: VersionOnly = serde_json::from_slice(payload).map_err(|_| Reject::Malformed)?;
        if version.v != ENTRY_VERSION {
            return Err(Reject::Version);
        }
        let entry: Entry = serde_json::from_slice(payload).map_err(|_| Reject::Malformed)?;
        if entry.issuer != identity.issuer || entry.source_uri != identity.jwks_uri {
            return Err(Reject::WrongSource);
        }
        let times = [entry.ttl, entry.fetched_at, entry.expires_at, entry.stale_until];
        if times.iter().any(|t| !t.is_finite()) || entry.ttl < 0.0 {
            return Err(Reject::Malformed);
        }
        if entry.fetched_at > now + MAX_CLOCK_SKEW {
            return Err(Reject::Future);
        }
        let body = URL_SAFE_NO_PAD.decode(entry.body.as_bytes()).map_err(|_| Reject::Malformed)?;
        if body.len() > max_body_bytes {
            return Err(Reject::Oversized);
        }
        if mac::to_hex(&mac::sha256(&body)) != entry.body_sha256 {
            return Err(Reject::Digest);
        }
        Ok((entry, body))
    }

    /// The validators for a conditional request.
    pub fn validators(&self) -> Validators {
        Validators { etag: self.etag.clone(), last_modified: self.last_modified.clone() }
    }

    /// The freshness headers.
    pub fn cache_headers(&self) -> CacheHeaders {
        CacheHeaders {
            cache_control: self.cache_control.clone(),
            expires: self.expires.clone(),
            age: self.age.clone(),
            date: self.date.clone(),
        }
    }

    /// The TTL this process gives the entry: what its own policy computes
    /// from the headers at fetch time, never more than the writer's.
    pub fn ttl_for(&self, policy: &Policy) -> f64 {
        policy.ttl(&self.cache_headers(), self.fetched_at).min(self.ttl)
    }

    /// True when it is newer than a set fetched at `ours` (or there is none).
    pub fn is_newer_than(&self, ours: Option<f64>) -> bool {
        ours.is_none_or(|ours| self.fetched_at > ours)
    }

    /// True when still fresh at `now` under `policy`.
    pub fn is_fresh(&self, now: f64, policy: &Policy) -> bool {
        now < self.fetched_at + self.ttl_for(policy)
    }
}

/// Bound on a stored entry for bodies of at most `max_body_bytes`.
pub fn max_entry_bytes(max_body_bytes: usize) -> usize {
    max_body_bytes.div_ceil(3) * 4 + MAX_METADATA_BYTES
}

/// A lease, cooldown or backoff marker: who, until when, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Marker {
    pub v: u32,
    /// The identity's key tag, so a marker is not moved between keys.
    pub key: String,
    pub pid: u32,
    pub since: f64,
    pub until: f64,
    pub error: Option<String>,
}

impl Marker {
    /// A backoff marker as the plan: no fetch before its end.
    fn defer(self, first: Option<Adoptable>) -> Plan {
        Plan::Defer { first, retry_at: Some(self.until), error: self.error }
    }

    fn encode(&self, secret: Option<&[u8]>) -> Vec<u8> {
        seal(secret, "marker", &serde_json::to_vec(self).expect("a marker always serializes"))
    }

    /// A marker read from the store, if valid for `key` at `now` and no
    /// longer than `longest` seconds (a forged endless lease is void).
    fn decode(value: &[u8], secret: Option<&[u8]>, key: &str, now: f64, longest: f64) -> Option<Self> {
        let payload = open(secret, "marker", value).ok()?;
        let marker: Marker = serde_json::from_slice(payload).ok()?;
        let valid = marker.v == ENTRY_VERSION
            && marker.key == key
            && marker.since.is_finite()
            && marker.until.is_finite()
            && marker.since <= now + MAX_CLOCK_SKEW
            && now < marker.until
            && marker.until - marker.since <= longest + MAX_CLOCK_SKEW;
        valid.then_some(marker)
    }
}

/// Skips the store for a while after repeated errors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Breaker {
    errors: u32,
    open_until: f64,
}

impl Breaker {
    /// True when the store may be called at `now`.
    pub fn allows(&self, now: f64) -> bool {
        now >= self.open_until
    }

    /// Records an error; true when this one opens the breaker.
    pub fn on_error(&mut self, now: f64) -> bool {
        self.errors += 1;
        if self.errors >= BREAKER_ERRORS {
            self.errors = 0;
            self.open_until = now + BREAKER_OPEN;
            return true;
        }
        false
    }

    /// Records a successful call.
    pub fn on_success(&mut self) {
        self.errors = 0;
    }
}

/// How long a lease lasts for this HTTP timeout: a discovery plus a JWKS
/// request, plus a margin.
pub fn lease_ttl(timeout: f64) -> f64 {
    (2.0 * timeout + 1.0).clamp(1.0, 120.0)
}

fn millis(seconds: f64) -> u64 {
    // Truncation is intended: whole milliseconds, at least one.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let ms = (seconds * 1000.0).clamp(1.0, 1e12) as u64;
    ms
}

/// The shared tier's counters for `stats()`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SharedStats {
    pub adopted: u64,
    pub written: u64,
    pub lease_won: u64,
    pub lease_lost: u64,
    pub waited: u64,
    pub wait_timeouts: u64,
    pub store_errors: u64,
    pub breaker_opened: u64,
    pub breaker_open: bool,
    /// Rejected values by reason (every reason listed).
    pub rejected: Vec<(&'static str, u64)>,
}

#[derive(Debug, Default)]
struct Counters {
    adopted: AtomicU64,
    written: AtomicU64,
    lease_won: AtomicU64,
    lease_lost: AtomicU64,
    waited: AtomicU64,
    wait_timeouts: AtomicU64,
    store_errors: AtomicU64,
    breaker_opened: AtomicU64,
    rejected: [AtomicU64; Reject::ALL.len()],
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// An entry that passed every check, its body parsed.
#[derive(Debug)]
pub struct Adoptable {
    pub entry: Entry,
    pub body: Vec<u8>,
    pub set: JwkSet,
}

/// Proof of a lease taken at `since` until `until`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lease {
    pub until: f64,
}

/// What this process knows, for [`SharedTier::plan`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Local {
    /// When our set was fetched (or adopted, by the writer's clock).
    pub fetched_at: Option<f64>,
    /// True when we hold keys we may serve now (fresh or stale within `max_stale`).
    pub usable: bool,
    /// A refresh-ahead: nobody waits for it.
    pub ahead: bool,
    /// An unknown kid: the fleet-wide cooldown applies.
    pub unknown_kid: bool,
}

/// What to do instead of (or before) fetching.
#[derive(Debug)]
pub enum Plan {
    /// A newer, fresh entry: adopt it, make no request.
    Adopt(Adoptable),
    /// Fetch from the issuer (holding the lease, if any), after adopting
    /// the newer but expired entry, if any (its validators make the request
    /// conditional).
    Fetch { lease: Option<Lease>, first: Option<Adoptable> },
    /// Another process fetches, or the fleet backs off: no request now; no
    /// refresh before `retry_at`; `error` is the fleet's last one.
    Defer { first: Option<Adoptable>, retry_at: Option<f64>, error: Option<String> },
}

/// A message for the `jwkscache` logger: (is a warning, text).
pub type Note = (bool, String);

/// The store, the keys and the counters of one cache.
pub struct SharedTier {
    store: Arc<dyn Store>,
    secret: Option<Vec<u8>>,
    wait: f64,
    identity: Identity,
    keys: Keys,
    tag: String,
    breaker: Mutex<Breaker>,
    counters: Counters,
}

impl std::fmt::Debug for SharedTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedTier").field("keys", &self.keys).finish_non_exhaustive()
    }
}

/// What one `plan` needs beyond the store: policy, clock, sleep.
pub struct Context<'a> {
    pub policy: &'a Policy,
    pub algorithms: &'a [Alg],
    pub max_body_bytes: usize,
    pub lease_ttl: f64,
    pub now: &'a dyn Fn() -> f64,
    pub sleep: &'a dyn Fn(f64),
    pub notes: &'a mut Vec<Note>,
}

enum Read {
    Entry(Box<Adoptable>),
    /// Absent, or not newer than ours.
    Nothing,
    /// Present but refused (counted and logged).
    Rejected,
    Error,
}

impl SharedTier {
    /// The tier for one cache's identity.
    pub fn new(config: SharedConfig, identity: Identity) -> Self {
        let keys = identity.keys();
        let tag = keys.entry.trim_end_matches(":entry").to_owned();
        Self {
            store: config.store,
            secret: config.secret,
            wait: config.wait,
            identity,
            keys,
            tag,
            breaker: Mutex::new(Breaker::default()),
            counters: Counters::default(),
        }
    }

    /// The store keys.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// True when entries are authenticated.
    pub fn has_secret(&self) -> bool {
        self.secret.is_some()
    }

    /// Counters and state.
    pub fn stats(&self, now: f64) -> SharedStats {
        let c = &self.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SharedStats {
            adopted: load(&c.adopted),
            written: load(&c.written),
            lease_won: load(&c.lease_won),
            lease_lost: load(&c.lease_lost),
            waited: load(&c.waited),
            wait_timeouts: load(&c.wait_timeouts),
            store_errors: load(&c.store_errors),
            breaker_opened: load(&c.breaker_opened),
            breaker_open: !self.breaker.lock().allows(now),
            rejected: Reject::ALL.iter().map(|r| (r.name(), load(&c.rejected[r.index()]))).collect(),
        }
    }

    /// Fork, fast phase: the breaker's lock (held for moments).
    pub(crate) fn lock_for_fork(&self) {
        std::mem::forget(self.breaker.lock());
    }

    /// # Safety
    /// Only after [`SharedTier::lock_for_fork`], in the thread that forked.
    pub(crate) unsafe fn unlock_after_fork(&self) {
        // SAFETY: the caller guarantees this thread leaked the guard.
        unsafe { self.breaker.force_unlock() };
    }

    /// One store call through the breaker: `None` when skipped or failed.
    fn call<T>(
        &self,
        now: f64,
        notes: &mut Vec<Note>,
        op: impl FnOnce(&dyn Store) -> Result<T, StoreError>,
    ) -> Option<T> {
        if !self.breaker.lock().allows(now) {
            return None;
        }
        match op(self.store.as_ref()) {
            Ok(value) => {
                self.breaker.lock().on_success();
                Some(value)
            }
            Err(StoreError(message)) => {
                bump(&self.counters.store_errors);
                let opened = self.breaker.lock().on_error(now);
                if opened {
                    bump(&self.counters.breaker_opened);
                    notes.push((
                        true,
                        format!(
                            "shared store failing ({message}); skipped for {BREAKER_OPEN:.0}s, each process fetching for itself"
                        ),
                    ));
                } else {
                    notes.push((true, format!("shared store error, fetching without it: {message}")));
                }
                None
            }
        }
    }

    fn reject(&self, reason: Reject, notes: &mut Vec<Note>) {
        bump(&self.counters.rejected[reason.index()]);
        notes.push((
            true,
            format!(
                "ignored the shared JWK Set entry at {} ({}); fetching for ourselves",
                self.keys.entry,
                reason.name()
            ),
        ));
    }

    /// Reads the entry; `Nothing` when absent, rejected or not newer.
    fn read_entry(&self, cx: &mut Context<'_>, ours: Option<f64>) -> Read {
        let now = (cx.now)();
        let Some(value) = self.call(now, cx.notes, |s| s.get(&self.keys.entry)) else { return Read::Error };
        let Some(value) = value else { return Read::Nothing };
        let secret = self.secret.as_deref();
        let (entry, body) = match Entry::decode(&value, secret, &self.identity, cx.max_body_bytes, now) {
            Ok(decoded) => decoded,
            Err(reason) => {
                self.reject(reason, cx.notes);
                return Read::Rejected;
            }
        };
        if !entry.is_newer_than(ours) {
            return Read::Nothing;
        }
        match JwkSet::parse_allowing_no_usable_key(&body, cx.algorithms) {
            Ok(set) => Read::Entry(Box::new(Adoptable { entry, body, set })),
            Err(_) => {
                self.reject(Reject::Unusable, cx.notes);
                Read::Rejected
            }
        }
    }

    fn marker(&self, now: f64, longest: f64, error: Option<String>) -> Marker {
        Marker {
            v: ENTRY_VERSION,
            key: self.tag.clone(),
            pid: std::process::id(),
            since: now,
            until: now + longest,
            error,
        }
    }

    /// The valid marker at `key`, if any; `Err` on a store error.
    fn read_marker(
        &self,
        cx: &mut Context<'_>,
        key: &str,
        longest: f64,
    ) -> Result<Option<Marker>, Unavailable> {
        let now = (cx.now)();
        let value = self.call(now, cx.notes, |s| s.get(key)).ok_or(Unavailable)?;
        Ok(value.and_then(|v| Marker::decode(&v, self.secret.as_deref(), &self.tag, now, longest)))
    }

    /// Takes the marker at `key` for `longest` seconds: `Some(true)` when
    /// taken, `Some(false)` with the holder's marker when held, `None` on a
    /// store error. A holder's marker that is void (forged, endless) is
    /// overwritten.
    fn take(&self, cx: &mut Context<'_>, key: &str, longest: f64) -> Option<Result<(), Marker>> {
        let now = (cx.now)();
        let mine = self.marker(now, longest, None).encode(self.secret.as_deref());
        if self.call(now, cx.notes, |s| s.add(key, &mine, millis(longest)))? {
            return Some(Ok(()));
        }
        match self.read_marker(cx, key, longest).ok()? {
            Some(theirs) => Some(Err(theirs)),
            None => {
                // Gone since, or not a marker of ours: take it over.
                self.call(now, cx.notes, |s| s.set(key, &mine, millis(longest)))?;
                Some(Ok(()))
            }
        }
    }

    /// Waits (polling the entry) for one newer than `ours`, until `deadline`;
    /// takes the lease if it lapses meanwhile.
    fn wait_for_entry(
        &self,
        cx: &mut Context<'_>,
        ours: Option<f64>,
        deadline: f64,
        mut lease_until: f64,
    ) -> Waited {
        bump(&self.counters.waited);
        let mut pause = POLL_FIRST;
        loop {
            let now = (cx.now)();
            // Within a millisecond is there: a clock of large floats may not
            // move by a smaller step.
            if now >= deadline - 0.001 {
                bump(&self.counters.wait_timeouts);
                return Waited::Timeout;
            }
            (cx.sleep)(pause.min(deadline - now).max(0.0));
            pause = (pause * 2.0).min(POLL_MAX);
            match self.read_entry(cx, ours) {
                Read::Entry(found) => return Waited::Entry(found),
                Read::Error => return Waited::Error,
                Read::Nothing | Read::Rejected => {}
            }
            // The holder failed: the fleet backs off instead of each fetching alone.
            match self.read_marker(cx, &self.keys.backoff, MAX_BACKOFF) {
                Err(Unavailable) => return Waited::Error,
                Ok(Some(backoff)) => return Waited::Backoff(backoff),
                Ok(None) => {}
            }
            if (cx.now)() >= lease_until {
                match self.take(cx, &self.keys.lease, cx.lease_ttl) {
                    None => return Waited::Error,
                    Some(Ok(())) => {
                        bump(&self.counters.lease_won);
                        return Waited::Lease(Lease { until: (cx.now)() + cx.lease_ttl });
                    }
                    Some(Err(theirs)) => lease_until = theirs.until,
                }
            }
        }
    }

    /// Before a fetch (the caller holds the single-flight lock): adopt,
    /// fetch, or defer. Any store error means "fetch", as without the tier.
    pub fn plan(&self, cx: &mut Context<'_>, local: Local) -> Plan {
        let fetch_alone = |first| Plan::Fetch { lease: None, first };
        let mut ours = local.fetched_at;
        let mut rejected = false;
        let first = match self.read_entry(cx, ours) {
            Read::Error => return fetch_alone(None),
            Read::Nothing => None,
            Read::Rejected => {
                rejected = true;
                None
            }
            Read::Entry(found) => {
                if found.entry.is_fresh((cx.now)(), cx.policy) {
                    return Plan::Adopt(*found);
                }
                ours = Some(found.entry.fetched_at);
                Some(*found)
            }
        };
        // The fleet backs off after a failed fetch.
        match self.read_marker(cx, &self.keys.backoff, MAX_BACKOFF) {
            Err(Unavailable) => return fetch_alone(first),
            Ok(Some(backoff)) => return backoff.defer(first),
            Ok(None) => {}
        }
        let usable = local.usable || first.is_some();
        if local.unknown_kid {
            match self.take(cx, &self.keys.cooldown, cx.policy.refresh_cooldown) {
                None => return fetch_alone(first),
                Some(Ok(())) => {}
                Some(Err(theirs)) => {
                    // Someone refetched within the fleet's cooldown: its result,
                    // if it is still coming, is worth a short wait.
                    let deadline = (theirs.since + self.wait).min(theirs.until);
                    return match self.wait_for_entry(cx, ours, deadline, f64::INFINITY) {
                        Waited::Entry(found) => Plan::Adopt(*found),
                        Waited::Error => fetch_alone(first),
                        Waited::Backoff(backoff) => backoff.defer(first),
                        Waited::Timeout | Waited::Lease(_) => {
                            Plan::Defer { first, retry_at: None, error: None }
                        }
                    };
                }
            }
        }
        match self.take(cx, &self.keys.lease, cx.lease_ttl) {
            None => fetch_alone(first),
            Some(Ok(())) => {
                bump(&self.counters.lease_won);
                let lease = Lease { until: (cx.now)() + cx.lease_ttl };
                // The previous holder may have written and released it since our read
                // (not worth a second look when what we read was refused).
                let again = if rejected { Read::Nothing } else { self.read_entry(cx, ours) };
                if let Read::Entry(found) = again {
                    if found.entry.is_fresh((cx.now)(), cx.policy) {
                        let now = (cx.now)();
                        self.call(now, cx.notes, |s| s.delete(&self.keys.lease));
                        return Plan::Adopt(*found);
                    }
                }
                Plan::Fetch { lease: Some(lease), first }
            }
            Some(Err(theirs)) => {
                bump(&self.counters.lease_lost);
                let now = (cx.now)();
                if local.ahead {
                    return Plan::Defer { first, retry_at: Some(now + RECHECK_AFTER), error: None };
                }
                match self.wait_for_entry(cx, ours, now + self.wait, theirs.until) {
                    Waited::Entry(found) => Plan::Adopt(*found),
                    Waited::Lease(lease) => Plan::Fetch { lease: Some(lease), first },
                    Waited::Error => fetch_alone(first),
                    Waited::Backoff(backoff) => backoff.defer(first),
                    Waited::Timeout if usable => {
                        Plan::Defer { first, retry_at: Some((cx.now)() + RECHECK_AFTER), error: None }
                    }
                    Waited::Timeout => {
                        cx.notes
                            .push((true, "no shared JWK Set after waiting; fetching for ourselves".into()));
                        fetch_alone(first)
                    }
                }
            }
        }
    }

    /// After our own fetch: share the entry (or the fleet's backoff after a
    /// failure), then release the lease if still ours.
    pub fn after_fetch(
        &self,
        now: f64,
        outcome: std::result::Result<&Entry, (f64, &str)>,
        lease: Option<Lease>,
        notes: &mut Vec<Note>,
    ) {
        match outcome {
            Ok(entry) => {
                let ttl = (entry.stale_until - now).max(1.0);
                let value = entry.encode(self.secret.as_deref());
                if self.call(now, notes, |s| s.set(&self.keys.entry, &value, millis(ttl))).is_some() {
                    bump(&self.counters.written);
                }
            }
            Err((retry_at, error)) => {
                let delay = (retry_at - now).clamp(0.001, MAX_BACKOFF);
                let mut marker = self.marker(now, delay, Some(error.chars().take(500).collect()));
                marker.until = now + delay;
                let value = marker.encode(self.secret.as_deref());
                self.call(now, notes, |s| s.set(&self.keys.backoff, &value, millis(delay)));
            }
        }
        // Released only while still ours: past its TTL another may hold it.
        if lease.is_some_and(|lease| now < lease.until) {
            self.call(now, notes, |s| s.delete(&self.keys.lease));
        }
    }

    /// Counts an adoption.
    pub fn on_adopted(&self) {
        bump(&self.counters.adopted);
    }
}

/// The store could not be asked (an error, or the breaker is open).
struct Unavailable;

enum Waited {
    Entry(Box<Adoptable>),
    Backoff(Marker),
    Lease(Lease),
    Timeout,
    Error,
}

#[cfg(test)]
#[allow(clippy::float_cmp)]
mod tests {
    use std::cell::Cell;
    use std::collections::HashMap;

    use super::*;

    const NOW: f64 = 1_700_000_000.0;
    const SECRET: &[u8] = b"0123456789abcdef0123";
    const JWKS: &[u8] = br#"{"keys":[{"kty":"RSA","kid":"k1","n":"xjlCRBqkWVQ8HB5u2gzPRu4wDCpHBdBvTIkF1iS4OtC3BbXz3EoxMYkqrEa5PODzBSOmxYk3SOQPnTQrXhm4qUodE6qJT5n8kGs3uxN3EoDj_VQsvEeOmOOVpj6xCPlA9wzxOYZ2LPVxmjeJQ5tuM2rsLBnZsyUpg3rMtWcPaeIqKKBmkaE7zJmdmCFiz7N3mApxL1P6yTgsJjvsjKMrOMbZr0MWbgtqXw9A7H-9brXWrKk65FHUjbW05q6OGs7fFNjUsqwV3MCjvhHYvnj5KqYW0jjp-3iQWBGtdDYDIRnu6TW0Bdaog-6jUHf_UU7aNwPVSfYQmGNsDaprDhKf2Q","e":"AQAB"}]}"#;

    /// A store in memory, expiring against the test clock.
    struct MemoryStore {
        now: Arc<Mutex<f64>>,
        data: Mutex<HashMap<String, (Vec<u8>, f64)>>,
        fail: Mutex<bool>,
    }

    impl MemoryStore {
        fn live(&self, key: &str) -> Option<Vec<u8>> {
            let now = *self.now.lock();
            self.data.lock().get(key).filter(|(_, until)| now < *until).map(|(v, _)| v.clone())
        }
        fn check(&self) -> Result<(), StoreError> {
            if *self.fail.lock() {
                Err(StoreError("connection refused".into()))
            } else {
                Ok(())
            }
        }
    }

    impl Store for MemoryStore {
        fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
            self.check()?;
            Ok(self.live(key))
        }
        fn set(&self, key: &str, value: &[u8], ttl_ms: u64) -> Result<(), StoreError> {
            self.check()?;
            let until = *self.now.lock() + ttl_ms as f64 / 1000.0;
            self.data.lock().insert(key.into(), (value.to_vec(), until));
            Ok(())
        }
        fn add(&self, key: &str, value: &[u8], ttl_ms: u64) -> Result<bool, StoreError> {
            self.check()?;
            if self.live(key).is_some() {
                return Ok(false);
            }
            self.set(key, value, ttl_ms)?;
            Ok(true)
        }
        fn delete(&self, key: &str) -> Result<(), StoreError> {
            self.check()?;
            self.data.lock().remove(key);
            Ok(())
        }
    }

    fn identity() -> Identity {
        Identity { issuer: String::new(), jwks_uri: "https://issuer.example/keys".into() }
    }

    fn fixture(secret: Option<&[u8]>) -> (Arc<MemoryStore>, SharedTier, Arc<Mutex<f64>>) {
        let now = Arc::new(Mutex::new(NOW));
        let store = Arc::new(MemoryStore {
            now: Arc::clone(&now),
            data: Mutex::new(HashMap::new()),
            fail: Mutex::new(false),
        });
        let config = SharedConfig {
            store: Arc::clone(&store) as Arc<dyn Store>,
            secret: secret.map(<[u8]>::to_vec),
            wait: 2.0,
        };
        (store, SharedTier::new(config, identity()), now)
    }

    fn entry_at(fetched_at: f64, ttl: f64) -> Entry {
        let cache = CacheHeaders { cache_control: Some(format!("max-age={ttl}")), ..CacheHeaders::default() };
        let validators = Validators { etag: Some("\"v1\"".into()), last_modified: None };
        Entry::new(
            &identity(),
            "https://issuer.example/keys",
            JWKS,
            &validators,
            &cache,
            fetched_at,
            ttl,
            3600.0,
        )
    }

    fn policy() -> Policy {
        Policy { min_ttl: 0.0, ..Policy::default() }
    }

    /// Runs `plan` with a clock that `sleep` advances.
    fn plan(tier: &SharedTier, now: &Arc<Mutex<f64>>, local: Local) -> (Plan, Vec<Note>) {
        let policy = policy();
        let mut notes = Vec::new();
        let clock = Arc::clone(now);
        let sleeps = Cell::new(0u32);
        let read = move || *clock.lock();
        let advance = |d: f64| {
            sleeps.set(sleeps.get() + 1);
            *now.lock() += d;
        };
        let mut cx = Context {
            policy: &policy,
            algorithms: &[Alg::RS256],
            max_body_bytes: 512 * 1024,
            lease_ttl: 3.0,
            now: &read,
            sleep: &advance,
            notes: &mut notes,
        };
        let plan = tier.plan(&mut cx, local);
        (plan, notes)
    }

    const COLD: Local = Local { fetched_at: None, usable: false, ahead: false, unknown_kid: false };

    #[test]
    fn seal_and_open() {
        let sealed = seal(Some(SECRET), "entry", b"{}");
        assert_eq!(open(Some(SECRET), "entry", &sealed), Ok(&b"{}"[..]));
        assert_eq!(open(Some(b"another secret, 16+"), "entry", &sealed), Err(Reject::BadMac));
        assert_eq!(open(Some(SECRET), "marker", &sealed), Err(Reject::BadMac));
        assert_eq!(open(Some(SECRET), "entry", &seal(None, "entry", b"{}")), Err(Reject::NoMac));
        assert_eq!(open(None, "entry", &sealed), Ok(&b"{}"[..]));
        assert_eq!(open(Some(SECRET), "entry", b"garbage"), Err(Reject::Malformed));
        assert_eq!(open(Some(SECRET), "entry", b"jwkscache1.zz.{}"), Err(Reject::Malformed));
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() = b']';
        assert_eq!(open(Some(SECRET), "entry", &flipped), Err(Reject::BadMac));
    }

    #[test]
    fn entry_round_trip_and_checks() {
        let entry = entry_at(NOW, 300.0);
        let value = entry.encode(Some(SECRET));
        let (decoded, body) = Entry::decode(&value, Some(SECRET), &identity(), 512 * 1024, NOW).unwrap();
        assert_eq!(decoded, entry);
        assert_eq!(body, JWKS);
        let other = Identity { issuer: "https://other".into(), jwks_uri: identity().jwks_uri };
        assert_eq!(Entry::decode(&value, Some(SECRET), &other, 512 * 1024, NOW), Err(Reject::WrongSource));
        assert_eq!(Entry::decode(&value, Some(SECRET), &identity(), 100, NOW), Err(Reject::Oversized));
        let future = entry_at(NOW + 60.0, 300.0).encode(Some(SECRET));
        assert_eq!(Entry::decode(&future, Some(SECRET), &identity(), 512 * 1024, NOW), Err(Reject::Future));
        let mut tampered = entry.clone();
        tampered.body = URL_SAFE_NO_PAD.encode(br#"{"keys":[]}"#);
        let tampered = tampered.encode(Some(SECRET));
        assert_eq!(Entry::decode(&tampered, Some(SECRET), &identity(), 512 * 1024, NOW), Err(Reject::Digest));
        let mut v2 = serde_json::to_value(&entry).unwrap();
        v2["v"] = 2.into();
        let v2 = seal(Some(SECRET), "entry", &serde_json::to_vec(&v2).unwrap());
        assert_eq!(Entry::decode(&v2, Some(SECRET), &identity(), 512 * 1024, NOW), Err(Reject::Version));
        let garbage = seal(Some(SECRET), "entry", b"not json");
        assert_eq!(
            Entry::decode(&garbage, Some(SECRET), &identity(), 512 * 1024, NOW),
            Err(Reject::Malformed)
        );
    }

    #[test]
    fn freshness_decisions() {
        let entry = entry_at(NOW, 300.0);
        assert!(entry.is_newer_than(None));
        assert!(entry.is_newer_than(Some(NOW - 1.0)));
        assert!(!entry.is_newer_than(Some(NOW)));
        assert!(entry.is_fresh(NOW + 299.0, &policy()));
        assert!(!entry.is_fresh(NOW + 300.0, &policy()));
        // Never fresher than either side's policy says.
        let strict = Policy { max_ttl: 60.0, min_ttl: 0.0, ..Policy::default() };
        assert!(!entry.is_fresh(NOW + 61.0, &strict));
        assert_eq!(lease_ttl(5.0), 11.0);
        assert_eq!(millis(0.0), 1);
        assert_eq!(millis(2.5), 2500);
    }

    #[test]
    fn breaker_opens_after_errors_and_closes_later() {
        let mut breaker = Breaker::default();
        assert!(!breaker.on_error(NOW));
        breaker.on_success();
        assert!(!breaker.on_error(NOW));
        assert!(!breaker.on_error(NOW));
        assert!(breaker.on_error(NOW));
        assert!(!breaker.allows(NOW + 29.0));
        assert!(breaker.allows(NOW + 30.0));
    }

    #[test]
    fn cold_start_takes_the_lease_then_others_adopt() {
        let (_store, tier, now) = fixture(Some(SECRET));
        let (first, _) = plan(&tier, &now, COLD);
        let Plan::Fetch { lease: Some(lease), first: None } = first else { panic!("{first:?}") };
        // A second process: lease held, waits, times out, fetches alone.
        let (second, _) = plan(&tier, &now, COLD);
        assert!(matches!(second, Plan::Fetch { lease: None, .. }), "{second:?}");
        assert_eq!(tier.stats(NOW).wait_timeouts, 1);
        // The first writes; a third adopts without a request.
        let mut notes = Vec::new();
        let t = *now.lock();
        tier.after_fetch(t, Ok(&entry_at(t, 300.0)), Some(lease), &mut notes);
        let (third, _) = plan(&tier, &now, COLD);
        assert!(matches!(third, Plan::Adopt(_)), "{third:?}");
        let stats = tier.stats(NOW);
        assert_eq!((stats.lease_won, stats.lease_lost, stats.written), (1, 1, 1));
    }

    #[test]
    fn a_waiter_adopts_what_the_leaseholder_writes() {
        let (store, tier, now) = fixture(Some(SECRET));
        let (Plan::Fetch { lease: Some(_), .. }, _) = plan(&tier, &now, COLD) else { panic!() };
        // The entry appears while the second process waits.
        let value = entry_at(NOW, 300.0).encode(Some(SECRET));
        store.set(&tier.keys().entry, &value, 10_000).unwrap();
        let (second, _) = plan(&tier, &now, COLD);
        assert!(matches!(second, Plan::Adopt(_)), "{second:?}");
    }

    #[test]
    fn ahead_and_usable_processes_defer_instead_of_waiting_long() {
        let (_store, tier, now) = fixture(Some(SECRET));
        let (Plan::Fetch { lease: Some(_), .. }, _) = plan(&tier, &now, COLD) else { panic!() };
        let warm = Local { fetched_at: Some(NOW - 400.0), usable: true, ahead: true, unknown_kid: false };
        let (ahead, _) = plan(&tier, &now, warm);
        assert!(matches!(ahead, Plan::Defer { retry_at: Some(_), .. }), "{ahead:?}");
        let (expired, _) = plan(&tier, &now, Local { ahead: false, ..warm });
        assert!(matches!(expired, Plan::Defer { retry_at: Some(_), .. }), "{expired:?}");
    }

    #[test]
    fn a_lapsed_lease_is_taken_over_while_waiting() {
        let (_store, tier, now) = fixture(Some(SECRET));
        let (Plan::Fetch { lease: Some(_), .. }, _) = plan(&tier, &now, COLD) else { panic!() };
        // The holder dies: its lease (3 s) lapses before our wait (2 s) ends
        // only if we arrive late.
        *now.lock() += 2.0;
        let (second, _) = plan(&tier, &now, COLD);
        assert!(matches!(second, Plan::Fetch { lease: Some(_), .. }), "{second:?}");
    }

    #[test]
    fn forged_and_foreign_values_are_rejected_and_counted() {
        let (store, tier, now) = fixture(Some(SECRET));
        let keys = tier.keys().clone();
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (entry_at(NOW, 300.0).encode(None), "no_mac"),
            (entry_at(NOW, 300.0).encode(Some(b"the wrong secret!!")), "bad_mac"),
            (b"\x00\xffgarbage".to_vec(), "malformed"),
            (vec![b'x'; max_entry_bytes(512 * 1024) + 1], "oversized"),
            (
                {
                    let mut e = entry_at(NOW, 300.0);
                    e.issuer = "https://another.example".into();
                    e.encode(Some(SECRET))
                },
                "wrong_source",
            ),
            (
                {
                    let mut e = entry_at(NOW, 300.0);
                    e.body = URL_SAFE_NO_PAD.encode(b"[1,2]");
                    e.body_sha256 = mac::to_hex(&mac::sha256(b"[1,2]"));
                    e.encode(Some(SECRET))
                },
                "unusable",
            ),
        ];
        for (value, reason) in cases {
            store.set(&keys.entry, &value, 10_000).unwrap();
            store.delete(&keys.lease).unwrap();
            let (plan, notes) = plan(&tier, &now, COLD);
            assert!(matches!(plan, Plan::Fetch { lease: Some(_), .. }), "{reason}: {plan:?}");
            assert!(notes.iter().any(|(_, n)| n.contains(reason)), "{reason}: {notes:?}");
            let stats = tier.stats(NOW);
            assert_eq!(stats.rejected.iter().find(|(r, _)| *r == reason).unwrap().1, 1, "{reason}");
        }
        assert_eq!(tier.stats(NOW).adopted, 0);
    }

    #[test]
    fn endless_forged_lease_is_void() {
        let (store, tier, now) = fixture(Some(SECRET));
        let forged =
            Marker { v: 1, key: tier.tag.clone(), pid: 1, since: NOW, until: NOW + 1e9, error: None };
        store.set(&tier.keys().lease, &forged.encode(Some(SECRET)), 1_000_000_000).unwrap();
        let (plan, _) = plan(&tier, &now, COLD);
        assert!(matches!(plan, Plan::Fetch { lease: Some(_), .. }), "{plan:?}");
    }

    #[test]
    fn unknown_kid_cooldown_is_fleet_wide() {
        let (_store, tier, now) = fixture(Some(SECRET));
        let warm = Local { fetched_at: Some(NOW - 10.0), usable: true, ahead: false, unknown_kid: true };
        let (first, _) = plan(&tier, &now, warm);
        let Plan::Fetch { lease: Some(lease), .. } = first else { panic!("{first:?}") };
        let mut notes = Vec::new();
        let t = *now.lock();
        tier.after_fetch(t, Ok(&entry_at(t, 300.0)), Some(lease), &mut notes);
        // Another process, another random kid: adopts (newer), no request.
        let (second, _) = plan(&tier, &now, warm);
        assert!(matches!(second, Plan::Adopt(_)), "{second:?}");
        // One that already has that entry: within the fleet's cooldown, defers.
        *now.lock() += 5.0;
        let current = Local { fetched_at: Some(NOW), ..warm };
        let (third, _) = plan(&tier, &now, current);
        assert!(matches!(third, Plan::Defer { retry_at: None, .. }), "{third:?}");
        *now.lock() += 30.0;
        let (later, _) = plan(&tier, &now, current);
        assert!(matches!(later, Plan::Fetch { lease: Some(_), .. }), "{later:?}");
    }

    #[test]
    fn failures_back_the_fleet_off() {
        let (_store, tier, now) = fixture(Some(SECRET));
        let (Plan::Fetch { lease, .. }, _) = plan(&tier, &now, COLD) else { panic!() };
        let mut notes = Vec::new();
        tier.after_fetch(NOW, Err((NOW + 4.0, "HTTP 503")), lease, &mut notes);
        let (second, _) = plan(&tier, &now, COLD);
        let Plan::Defer { retry_at: Some(at), error: Some(error), .. } = second else { panic!("{second:?}") };
        assert_eq!((at, error.as_str()), (NOW + 4.0, "HTTP 503"));
        *now.lock() += 4.0;
        assert!(matches!(plan(&tier, &now, COLD).0, Plan::Fetch { lease: Some(_), .. }));
    }

    #[test]
    fn store_errors_mean_fetch_and_open_the_breaker() {
        let (store, tier, now) = fixture(Some(SECRET));
        *store.fail.lock() = true;
        for _ in 0..3 {
            assert!(matches!(plan(&tier, &now, COLD).0, Plan::Fetch { lease: None, first: None }));
        }
        let stats = tier.stats(*now.lock());
        assert_eq!((stats.store_errors, stats.breaker_opened, stats.breaker_open), (3, 1, true));
        // While open, the store is not called at all.
        *store.fail.lock() = false;
        assert!(matches!(plan(&tier, &now, COLD).0, Plan::Fetch { lease: None, .. }));
        assert_eq!(tier.stats(*now.lock()).store_errors, 3);
        *now.lock() += 30.0;
        assert!(matches!(plan(&tier, &now, COLD).0, Plan::Fetch { lease: Some(_), .. }));
    }

    #[test]
    fn unauthenticated_mode_reads_and_writes_without_mac() {
        let (_store, tier, now) = fixture(None);
        let (Plan::Fetch { lease, .. }, _) = plan(&tier, &now, COLD) else { panic!() };
        let mut notes = Vec::new();
        tier.after_fetch(NOW, Ok(&entry_at(NOW, 300.0)), lease, &mut notes);
        assert!(matches!(plan(&tier, &now, COLD).0, Plan::Adopt(_)));
        assert!(!tier.has_secret());
    }
}
