//! The key store that `decode` asks for keys: a static set, or a JWKS
//! fetched over HTTP and kept fresh.
//!
//! Composes `fetch` (I/O), `jwk` (parsing) and `cache` (policy):
//! - single flight: concurrent refreshes run one fetch (`refresh_lock` plus a
//!   generation counter: a thread that waited for someone else's fetch uses
//!   its result instead of fetching again);
//! - unknown `kid`: one refetch per `refresh_cooldown`, then fail fast;
//! - stale-while-revalidate and stale-if-error within `max_stale`: an expired
//!   set answers at once while a background refresh runs; backoff with
//!   jitter, lengthened to a 429/503's `Retry-After`; fail closed after;
//! - refresh-ahead on a short-lived background thread holding only a weak
//!   reference, so it never keeps the cache (or the interpreter) alive;
//! - fork: the HTTP client is rebuilt in a child, and `fork.rs` holds the
//!   locks across `fork()` so a child never inherits one locked by a thread
//!   that does not exist there.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, RwLock};

use crate::cache::{Freshness, Policy};
use crate::errors::{Error, Result};
use crate::fetch::{CacheHeaders, FetchConfig, Fetched, Fetcher, Validators};
use crate::jwk::{Jwk, JwkSet, SkippedKey};
use crate::jws::{self, Checked, Verified, DEFAULT_MAX_TOKEN_BYTES};
use crate::panics::{self, Site};
use crate::shared::{Adoptable, Identity, Lease, Plan, SharedConfig, SharedStats, SharedTier};
use crate::token_cache::{TokenCache, DEFAULT_TOKEN_CACHE_SIZE};
use crate::verify::Alg;

/// Settings shared by every source.
#[derive(Debug, Clone)]
pub struct Config {
    /// The algorithm allow-list (also decides which keys are usable).
    pub algorithms: Vec<Alg>,
    /// Bound on a token's length, checked before parsing.
    pub max_token_bytes: usize,
    /// Verified tokens remembered (0: off).
    pub token_cache_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            algorithms: vec![Alg::RS256],
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            token_cache_size: DEFAULT_TOKEN_CACHE_SIZE,
        }
    }
}

/// Where the keys come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A JWKS URL.
    JwksUri(String),
    /// OIDC discovery from this issuer, unless `jwks_uri` overrides it.
    Issuer { issuer: String, jwks_uri: Option<String> },
}

/// A clock: seconds since the Unix epoch.
pub type Clock = Arc<dyn Fn() -> f64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64()))
}

/// Severity of a [`Event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Debug,
    Warning,
}

/// Something worth logging; the bindings drain these into Python's logger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub level: Level,
    pub message: String,
}

/// Counters and state for `stats()`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub fetches: u64,
    pub not_modified: u64,
    pub failures: u64,
    pub hits: u64,
    pub misses: u64,
    pub unknown_kid_refreshes: u64,
    pub cooldown_rejections: u64,
    pub stale_served: u64,
    pub token_cache_hits: u64,
    pub token_cache_size: usize,
    pub last_fetch_at: Option<f64>,
    pub expires_at: Option<f64>,
    pub serving_stale: bool,
    pub last_error: Option<String>,
    pub kids: Vec<Option<String>>,
    pub jwks_uri: Option<String>,
    /// The shared tier's counters, when there is one.
    pub shared: Option<SharedStats>,
}

#[derive(Debug, Default)]
struct Counters {
    fetches: AtomicU64,
    not_modified: AtomicU64,
    failures: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    unknown_kid_refreshes: AtomicU64,
    cooldown_rejections: AtomicU64,
    stale_served: AtomicU64,
    token_cache_hits: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

#[derive(Debug, Default)]
struct State {
    keys: Option<Arc<JwkSet>>,
    validators: Validators,
    /// The freshness headers of the last 200, updated by 304s (RFC 9111 §4.3.4).
    cache_headers: CacheHeaders,
    freshness: Freshness,
    /// Bumped after every fetch attempt (success, 304 or failure).
    generation: u64,
    last_error: Option<String>,
    serving_stale: bool,
    jwks_uri: Option<String>,
    /// The issuer's exact bytes of the current set, kept only for the shared tier.
    raw: Option<Arc<Vec<u8>>>,
    /// The current set came from the shared tier, not from our own fetch.
    adopted: bool,
}

struct Remote {
    source: Source,
    fetch: FetchConfig,
    fetcher: Mutex<Option<Arc<Fetcher>>>,
    /// Held for the duration of a fetch: the single flight.
    refresh_lock: Mutex<()>,
    ahead_running: AtomicBool,
    closed: AtomicBool,
    pid: AtomicU64,
    /// The fleet-wide tier (shared.rs), if configured.
    shared: Option<SharedTier>,
}

impl Remote {
    /// The HTTP client, rebuilt when inherited across `fork()` (its runtime
    /// thread stayed in the parent).
    fn fetcher(&self) -> Result<Arc<Fetcher>> {
        let mut slot = self.fetcher.lock();
        match slot.as_ref() {
            Some(fetcher) if !fetcher.is_inherited() => Ok(Arc::clone(fetcher)),
            _ => {
                let fetcher = Arc::new(Fetcher::new(self.fetch.clone())?);
                if let Some(inherited) = slot.replace(Arc::clone(&fetcher)) {
                    // Dropping reqwest's blocking client joins its runtime
                    // thread, which stayed in the parent: it would hang here.
                    std::mem::forget(inherited);
                }
                Ok(fetcher)
            }
        }
    }

    /// The single-flight lock, waited for by polling, never by parking: a
    /// thread parked on a parking_lot lock when the process forks stays in
    /// the lock's queue in the child, where it does not exist, and the
    /// child's unlock may hand the lock to it (eventual fairness), so the
    /// child's next refresh would wait forever. Waits last as long as a
    /// fetch; a millisecond more is nothing next to one.
    fn join_flight(&self) -> parking_lot::MutexGuard<'_, ()> {
        loop {
            if let Some(flight) = self.refresh_lock.try_lock() {
                return flight;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// In a child after `fork()`, no refresh thread of ours runs.
    fn check_fork(&self) {
        let pid = u64::from(std::process::id());
        // Read first: a write on every call would bounce the cache line
        // between decoding threads.
        if self.pid.load(Ordering::Relaxed) != pid && self.pid.swap(pid, Ordering::Relaxed) != pid {
            self.ahead_running.store(false, Ordering::Relaxed);
        }
    }
}

/// What a token needs next ([`Client::lookup`]).
// Lives on the stack for one call: boxing the large variant would allocate
// for every fresh token.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Lookup<'t> {
    /// The same token verified before, by a key that is still current.
    Cached(Arc<Verified>),
    /// Parsed and matched to its key: the signature check remains.
    Check(Checked<'t>),
    /// The keys must be fetched first (only when I/O was not allowed).
    FetchDue,
}

/// Keys plus the rules to verify tokens against them.
pub struct Client {
    config: Config,
    policy: Policy,
    remote: Option<Remote>,
    state: RwLock<State>,
    tokens: TokenCache,
    counters: Counters,
    events: Mutex<VecDeque<Event>>,
    has_events: AtomicBool,
    clock: Clock,
    weak_self: Weak<Client>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Most events kept between two drains.
const MAX_EVENTS: usize = 64;

/// Why a refresh runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    Expired,
    UnknownKid,
    Ahead,
    Forced,
}

impl Client {
    /// A client over a fixed JWK Set (no network).
    pub fn from_set(set: JwkSet, config: Config) -> Arc<Self> {
        let state = State { keys: Some(Arc::new(set)), ..State::default() };
        let client = Self::build(config, Policy::default(), None, state, system_clock());
        crate::fork::register(&client);
        client
    }

    /// A client that fetches its keys from `source`.
    pub fn remote(
        source: Source,
        fetch: FetchConfig,
        policy: Policy,
        config: Config,
        clock: Clock,
    ) -> Result<Arc<Self>> {
        Self::remote_shared(source, fetch, policy, config, clock, None)
    }

    /// A client that fetches its keys from `source`, sharing them with the
    /// fleet through `shared` (see `shared.rs`).
    pub fn remote_shared(
        source: Source,
        fetch: FetchConfig,
        policy: Policy,
        config: Config,
        clock: Clock,
        shared: Option<SharedConfig>,
    ) -> Result<Arc<Self>> {
        policy.validate().map_err(Error::Config)?;
        if let Some(shared) = &shared {
            shared.validate().map_err(Error::Config)?;
        }
        match &source {
            Source::JwksUri(uri) => {
                crate::fetch::check_url(uri, fetch.allow_insecure_http)?;
            }
            Source::Issuer { issuer, jwks_uri } => {
                crate::fetch::check_url(issuer, fetch.allow_insecure_http)?;
                if let Some(uri) = jwks_uri {
                    crate::fetch::check_url(uri, fetch.allow_insecure_http)?;
                }
            }
        }
        let fetcher = Fetcher::new(fetch.clone())?;
        let unauthenticated = shared.as_ref().is_some_and(|s| s.secret.is_none());
        let shared = shared.map(|shared| SharedTier::new(shared, identity(&source)));
        let remote = Remote {
            source,
            fetch,
            fetcher: Mutex::new(Some(Arc::new(fetcher))),
            refresh_lock: Mutex::new(()),
            ahead_running: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            pid: AtomicU64::new(u64::from(std::process::id())),
            shared,
        };
        let client = Self::build(config, policy, Some(remote), State::default(), clock);
        if unauthenticated {
            client.log(
                Level::Warning,
                "shared JWKS store without a secret: its entries are not authenticated, so whoever \
                 can write to the store can make this process trust any key"
                    .into(),
            );
        }
        crate::fork::register(&client);
        Ok(client)
    }

    fn build(
        config: Config,
        policy: Policy,
        remote: Option<Remote>,
        state: State,
        clock: Clock,
    ) -> Arc<Self> {
        let tokens = TokenCache::new(config.token_cache_size);
        Arc::new_cyclic(|weak| Self {
            config,
            policy,
            remote,
            state: RwLock::new(state),
            tokens,
            counters: Counters::default(),
            events: Mutex::new(VecDeque::new()),
            has_events: AtomicBool::new(false),
            clock,
            weak_self: weak.clone(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The cache policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// True when the keys come from the network.
    pub fn is_remote(&self) -> bool {
        self.remote.is_some()
    }

    /// The current key set, if any (a snapshot: replaced, never mutated).
    pub fn keys(&self) -> Option<Arc<JwkSet>> {
        self.state.read().keys.clone()
    }

    /// What `token` needs next, found without the signature check: a
    /// verified-token cache hit (its key still current), the signature check
    /// (the token parsed and matched to a key), or a fetch first (only
    /// without `allow_io`).
    pub fn lookup<'t>(&self, token: &'t [u8], allowed: &[Alg], allow_io: bool) -> Result<Lookup<'t>> {
        panics::catch(internal_error, || self.lookup_unguarded(token, allowed, allow_io))
    }

    fn lookup_unguarded<'t>(&self, token: &'t [u8], allowed: &[Alg], allow_io: bool) -> Result<Lookup<'t>> {
        panics::fire(Site::Lookup);
        if let Some(hit) = self.tokens.get(token).filter(|hit| allowed.contains(&hit.alg)) {
            match self.find_key(hit.kid.as_deref(), allow_io) {
                Ok(Some(key)) if hit.still_verified_by(&key) => {
                    bump(&self.counters.token_cache_hits);
                    return Ok(Lookup::Cached(hit));
                }
                Ok(None) => return Ok(Lookup::FetchDue),
                // The key changed or is gone: the full check says precisely why.
                _ => {}
            }
        }
        let mut needs_io = false;
        let checked = jws::check_token(token, allowed, self.config.max_token_bytes, |kid| {
            match self.find_key(kid, allow_io)? {
                Some(key) => Ok(key),
                None => {
                    // Stops check_token here; the flag, not this error, is the answer.
                    needs_io = true;
                    Err(Error::Fetch("a fetch is due".into()))
                }
            }
        });
        match checked {
            Err(_) if needs_io => Ok(Lookup::FetchDue),
            Err(error) => Err(error),
            Ok(checked) => Ok(Lookup::Check(checked)),
        }
    }

    /// The signature check of a looked-up token.
    pub fn finish(&self, checked: Checked<'_>) -> Result<Arc<Verified>> {
        panics::catch(internal_error, || Ok(Arc::new(checked.verify()?)))
    }

    /// Offers a token that passed every check (signature and claims) to the
    /// verified-token cache, which keeps it as its admission allows. Never
    /// a token whose claims were refused: no one fills the cache with
    /// expired or foreign tokens, however many an issuer signs.
    pub fn remember(&self, token: &[u8], verified: &Arc<Verified>) {
        self.tokens.admit(token, verified);
    }

    /// [`Client::lookup`] then, if due, [`Client::finish`]: the verified token
    /// and whether it came from the verified-token cache. `Ok(None)` only
    /// when `allow_io` is false and a fetch is due.
    pub fn verify(
        &self,
        token: &[u8],
        allowed: &[Alg],
        allow_io: bool,
    ) -> Result<Option<(Arc<Verified>, bool)>> {
        match self.lookup(token, allowed, allow_io)? {
            Lookup::Cached(verified) => Ok(Some((verified, true))),
            Lookup::Check(checked) => Ok(Some((self.finish(checked)?, false))),
            Lookup::FetchDue => Ok(None),
        }
    }

    /// The key a token with this `kid` selects, fetching as the policy
    /// allows. `Ok(None)` only when `allow_io` is false and a fetch is due.
    pub fn find_key(&self, kid: Option<&str>, allow_io: bool) -> Result<Option<Arc<Jwk>>> {
        panics::catch(internal_error, || self.find_key_unguarded(kid, allow_io))
    }

    fn find_key_unguarded(&self, kid: Option<&str>, allow_io: bool) -> Result<Option<Arc<Jwk>>> {
        let Some(remote) = &self.remote else {
            let keys = self.keys().expect("a static client always has keys");
            return keys.select(kid).cloned().map(Some).ok_or_else(|| jws::key_not_found(kid, keys.len()));
        };
        remote.check_fork();
        let now = self.now();
        let (keys, generation, stale, wants_ahead) = {
            let state = self.state.read();
            (
                state.keys.clone(),
                state.generation,
                state.freshness.is_stale(now),
                state.freshness.wants_refresh_ahead(now, &self.policy),
            )
        };
        if let (Some(keys), false) = (&keys, stale) {
            if wants_ahead {
                self.spawn_refresh(remote, generation, Reason::Ahead);
            }
            if let Some(key) = keys.select(kid) {
                bump(&self.counters.hits);
                return Ok(Some(Arc::clone(key)));
            }
            return self.unknown_kid(kid, generation, allow_io);
        }
        // Expired but within max_stale: answered from it at once, refetched in
        // the background (stale-while-revalidate), so an issuer outage adds no
        // latency to a request that has keys to verify with.
        if let Some(keys) = keys.as_ref().filter(|_| self.revalidates(remote, generation, now)) {
            if let Some(key) = keys.select(kid) {
                self.served_stale();
                bump(&self.counters.hits);
                return Ok(Some(Arc::clone(key)));
            }
            return self.unknown_kid(kid, generation, allow_io);
        }
        // No set yet, or an expired one: refresh (or wait for the refresh
        // in flight), then use what we have if policy allows.
        if !allow_io {
            let state = self.state.read();
            let in_backoff = !state.freshness.may_retry(now);
            if !(in_backoff && state.freshness.stale_usable(now, &self.policy)) {
                return Ok(None);
            }
        } else if self.state.read().freshness.may_retry(now) {
            self.refresh(generation, Reason::Expired);
            // An adopted set is the fleet's, maybe older than the issuer's:
            // a kid it lacks is an unknown kid (one refetch per cooldown).
            let state = self.state.read();
            if let (true, Some(keys), false) =
                (state.adopted, &state.keys, state.freshness.is_stale(self.now()))
            {
                if keys.select(kid).is_none() {
                    let generation = state.generation;
                    drop(state);
                    return self.unknown_kid(kid, generation, allow_io);
                }
            }
        }
        self.after_refresh(kid)
    }

    /// Refetches now (single flight) and reports the outcome.
    pub fn refresh_now(&self) -> Result<()> {
        let Some(_) = &self.remote else { return Ok(()) };
        let generation = self.state.read().generation;
        self.refresh(generation, Reason::Forced);
        let state = self.state.read();
        match (&state.last_error, state.freshness.failures) {
            (Some(error), failures) if failures > 0 => Err(Error::Fetch(error.clone())),
            _ => Ok(()),
        }
    }

    /// Stops background refreshes (the cache keeps working on demand).
    pub fn close(&self) {
        if let Some(remote) = &self.remote {
            remote.closed.store(true, Ordering::Relaxed);
        }
    }

    /// Counters and state.
    pub fn stats(&self) -> Stats {
        let state = self.state.read();
        let c = &self.counters;
        Stats {
            fetches: c.fetches.load(Ordering::Relaxed),
            not_modified: c.not_modified.load(Ordering::Relaxed),
            failures: c.failures.load(Ordering::Relaxed),
            hits: c.hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            unknown_kid_refreshes: c.unknown_kid_refreshes.load(Ordering::Relaxed),
            cooldown_rejections: c.cooldown_rejections.load(Ordering::Relaxed),
            stale_served: c.stale_served.load(Ordering::Relaxed),
            token_cache_hits: c.token_cache_hits.load(Ordering::Relaxed),
            token_cache_size: self.tokens.len(),
            last_fetch_at: state.freshness.fetched_at,
            expires_at: state.freshness.expires_at,
            serving_stale: state.serving_stale,
            last_error: state.last_error.clone(),
            kids: state
                .keys
                .as_ref()
                .map(|k| k.keys().iter().map(|k| k.kid.clone()).collect())
                .unwrap_or_default(),
            jwks_uri: state.jwks_uri.clone(),
            shared: self.remote.as_ref().and_then(|r| r.shared.as_ref()).map(|t| t.stats(self.now())),
        }
    }

    /// Takes the pending log events (cheap when there are none).
    pub fn drain_events(&self) -> Vec<Event> {
        if !self.has_events.swap(false, Ordering::Acquire) {
            return Vec::new();
        }
        self.events.lock().drain(..).collect()
    }

    /// Fork, first phase (GIL released): waits for a fetch in flight and
    /// holds the locks that are held across network I/O.
    pub(crate) fn lock_for_fork_slow(&self) {
        if let Some(remote) = &self.remote {
            std::mem::forget(remote.refresh_lock.lock());
            std::mem::forget(remote.fetcher.lock());
        }
    }

    /// Fork, second phase (GIL held): the locks held only for moments, by
    /// threads that never wait for the GIL while holding them.
    pub(crate) fn lock_for_fork_fast(&self) {
        std::mem::forget(self.state.write());
        self.tokens.lock_for_fork();
        std::mem::forget(self.events.lock());
        if let Some(tier) = self.remote.as_ref().and_then(|r| r.shared.as_ref()) {
            tier.lock_for_fork();
        }
    }

    /// After `fork()`, in parent and child: releases what the two phases took.
    ///
    /// # Safety
    /// Only after [`Client::lock_for_fork_slow`] and
    /// [`Client::lock_for_fork_fast`], in the thread that forked.
    pub(crate) unsafe fn unlock_after_fork(&self) {
        // SAFETY: the caller guarantees this thread leaked exactly these guards.
        unsafe {
            if let Some(tier) = self.remote.as_ref().and_then(|r| r.shared.as_ref()) {
                tier.unlock_after_fork();
            }
            self.events.force_unlock();
            self.tokens.unlock_after_fork();
            self.state.force_unlock_write();
            if let Some(remote) = &self.remote {
                remote.fetcher.force_unlock();
                remote.refresh_lock.force_unlock();
            }
        }
    }

    fn now(&self) -> f64 {
        (self.clock)()
    }

    fn log(&self, level: Level, message: String) {
        let mut events = self.events.lock();
        if events.len() >= MAX_EVENTS {
            events.pop_front();
        }
        events.push_back(Event { level, message });
        self.has_events.store(true, Ordering::Release);
    }

    fn unknown_kid(&self, kid: Option<&str>, generation: u64, allow_io: bool) -> Result<Option<Arc<Jwk>>> {
        bump(&self.counters.misses);
        let now = self.now();
        if !self.state.read().freshness.may_refetch_unknown_kid(now, &self.policy) {
            // Within the cooldown. If the refetch that started it is still in
            // flight, its result may hold the kid: wait for it, don't fetch.
            // Either way, the set may be newer than the one the caller saw.
            if let Some(remote) = self.remote.as_ref().filter(|r| r.refresh_lock.is_locked()) {
                if !allow_io {
                    return Ok(None);
                }
                drop(remote.join_flight());
            }
            if let Some(key) = self.keys().as_ref().and_then(|k| k.select(kid).cloned()) {
                return Ok(Some(key));
            }
            bump(&self.counters.cooldown_rejections);
            return Err(self.kid_not_found(kid));
        }
        if !allow_io {
            return Ok(None);
        }
        self.refresh(generation, Reason::UnknownKid);
        match self.keys().as_ref().and_then(|k| k.select(kid)) {
            Some(key) => Ok(Some(Arc::clone(key))),
            None => Err(self.kid_not_found(kid)),
        }
    }

    /// A kid the set does not hold: not found, or, while the last refetch
    /// failed, unknown (the issuer could not be asked; PyJWT's client raises
    /// its connection error too), so a new key during an outage is never
    /// reported as a bad token.
    fn kid_not_found(&self, kid: Option<&str>) -> Error {
        let state = self.state.read();
        match &state.last_error {
            Some(error) => Error::Fetch(error.clone()),
            None => jws::key_not_found(kid, state.keys.as_ref().map_or(0, |k| k.len())),
        }
    }

    /// After a refresh attempt for an expired or missing set.
    fn after_refresh(&self, kid: Option<&str>) -> Result<Option<Arc<Jwk>>> {
        let now = self.now();
        let mut state = self.state.write();
        let Some(keys) = state.keys.clone() else {
            let error = state.last_error.clone().unwrap_or_else(|| "no JWK Set fetched yet".into());
            return Err(Error::Fetch(error));
        };
        if state.freshness.is_stale(now) {
            if !state.freshness.stale_usable(now, &self.policy) {
                state.serving_stale = false;
                let error = state.last_error.clone().unwrap_or_default();
                return Err(Error::Fetch(format!(
                    "the JWK Set expired more than max_stale ({}s) ago and cannot be refreshed: {error}",
                    self.policy.max_stale
                )));
            }
            if !state.serving_stale {
                state.serving_stale = true;
                drop(state);
                self.log(
                    Level::Warning,
                    "serving the last good JWK Set past its expiry while the issuer fails".into(),
                );
            }
            bump(&self.counters.stale_served);
        }
        match keys.select(kid) {
            Some(key) => {
                bump(&self.counters.hits);
                Ok(Some(Arc::clone(key)))
            }
            None => {
                bump(&self.counters.misses);
                Err(jws::key_not_found(kid, keys.len()))
            }
        }
    }

    /// True when an expired set may answer now while it is refetched: it is
    /// within `max_stale`, and a background refresh runs (started here if
    /// none does) or backoff forbids one yet. False means the caller
    /// refreshes itself (after `close()`, or when no thread can be spawned).
    fn revalidates(&self, remote: &Remote, generation: u64, now: f64) -> bool {
        let may_retry = {
            let state = self.state.read();
            if !state.freshness.stale_usable(now, &self.policy) {
                return false;
            }
            state.freshness.may_retry(now)
        };
        !may_retry || self.spawn_refresh(remote, generation, Reason::Expired)
    }

    /// Bookkeeping for an answer from an expired set; warns once per outage.
    fn served_stale(&self) {
        bump(&self.counters.stale_served);
        // A refetch in flight for a healthy issuer is not worth a warning.
        // Read first: every decode of an outage passes here.
        let flips = |state: &State| state.freshness.failures > 0 && !state.serving_stale;
        if !flips(&self.state.read()) {
            return;
        }
        let mut state = self.state.write();
        if flips(&state) {
            state.serving_stale = true;
            drop(state);
            self.log(
                Level::Warning,
                "serving the last good JWK Set past its expiry while the issuer fails".into(),
            );
        }
    }

    /// Starts a background refresh unless one runs; true when one runs
    /// (started now or before), false when closed or no thread could start.
    fn spawn_refresh(&self, remote: &Remote, generation: u64, reason: Reason) -> bool {
        if remote.closed.load(Ordering::Relaxed) {
            return false;
        }
        if remote.ahead_running.swap(true, Ordering::AcqRel) {
            return true;
        }
        let weak = self.weak_self.clone();
        let spawned = std::thread::Builder::new().name("jwkscache-refresh".into()).spawn(move || {
            if let Some(client) = weak.upgrade() {
                if let Some(remote) = &client.remote {
                    // Cleared however the refresh ends, a panic included:
                    // a flag left set would stop every later background refresh.
                    let _running = ClearOnDrop(&remote.ahead_running);
                    client.refresh(generation, reason);
                }
            }
        });
        if spawned.is_err() {
            remote.ahead_running.store(false, Ordering::Release);
            return false;
        }
        true
    }

    /// One fetch for everyone who saw `generation`: the first caller fetches,
    /// the others wait for it and use its result.
    fn refresh(&self, generation: u64, reason: Reason) {
        let Some(remote) = &self.remote else { return };
        let _flight = remote.join_flight();
        if self.state.read().generation != generation {
            return; // someone else fetched while we waited
        }
        let now = self.now();
        if reason == Reason::UnknownKid {
            let mut state = self.state.write();
            if !state.freshness.may_refetch_unknown_kid(now, &self.policy) {
                return;
            }
            state.freshness.on_unknown_kid_refetch(now);
            bump(&self.counters.unknown_kid_refreshes);
        }
        // The fleet's copy first: adopt it, or wait for another process's fetch.
        let mut lease = None;
        if let Some(tier) = &remote.shared {
            match self.shared_plan(remote, tier, reason) {
                Next::Fetch(ours) => lease = ours,
                Next::Done => return,
            }
        }
        let outcome = panics::catch(
            |panic| {
                Error::Fetch(format!(
                    "internal error in jwkscache while fetching (a bug: please report it): {panic}"
                ))
            },
            || {
                panics::fire(Site::Fetch);
                self.fetch_once(remote)
            },
        );
        let fetched = outcome.is_ok();
        let now = self.now();
        let mut state = self.state.write();
        state.generation += 1;
        match outcome {
            Ok(FetchOutcome::New { set, validators, cache, ttl, jwks_uri, body }) => {
                let kids: Vec<Option<String>> = set.keys().iter().map(|k| k.kid.clone()).collect();
                if set.is_empty() {
                    let skipped: Vec<String> = set.skipped().iter().map(SkippedKey::describe).collect();
                    self.log(
                        Level::Warning,
                        format!("{jwks_uri} published no usable key; every token is refused: {skipped:?}"),
                    );
                }
                self.tokens.retain_keys_of(&set);
                state.keys = Some(Arc::new(set));
                state.raw = remote.shared.is_some().then(|| Arc::new(body));
                state.adopted = false;
                state.validators = validators;
                state.cache_headers = cache;
                state.freshness.on_success(now, ttl);
                state.last_error = None;
                state.serving_stale = false;
                state.jwks_uri = Some(jwks_uri.clone());
                drop(state);
                bump(&self.counters.fetches);
                self.log(
                    Level::Debug,
                    format!("fetched {jwks_uri} ({reason:?}): kids {kids:?}, fresh for {ttl:.0}s"),
                );
            }
            Ok(FetchOutcome::NotModified { cache, ttl, jwks_uri }) => {
                state.cache_headers = cache;
                state.jwks_uri = Some(jwks_uri);
                state.adopted = false;
                state.freshness.on_success(now, ttl);
                state.last_error = None;
                state.serving_stale = false;
                drop(state);
                bump(&self.counters.not_modified);
                self.log(Level::Debug, format!("JWK Set not modified (304), fresh for {ttl:.0}s"));
            }
            Err(error) => {
                let message = error.to_string();
                let retry_after = match &error {
                    Error::RetryLater { retry_after, date, .. } => {
                        self.policy.retry_after(retry_after, date.as_deref(), now)
                    }
                    _ => None,
                };
                let delay = state.freshness.on_failure_retry_after(now, jitter(), retry_after);
                state.last_error = Some(message.clone());
                drop(state);
                bump(&self.counters.failures);
                self.log(
                    Level::Warning,
                    format!("JWK Set refresh failed ({reason:?}), retry in {delay:.1}s: {message}"),
                );
            }
        }
        if let Some(tier) = &remote.shared {
            self.shared_after(tier, lease, fetched);
        }
    }

    /// Before a fetch (single-flight lock held): the shared tier's plan.
    fn shared_plan(&self, remote: &Remote, tier: &SharedTier, reason: Reason) -> Next {
        let now = self.now();
        let local = {
            let state = self.state.read();
            let f = &state.freshness;
            crate::shared::Local {
                fetched_at: state.keys.as_ref().and(f.fetched_at),
                usable: state.keys.is_some() && (!f.is_stale(now) || f.stale_usable(now, &self.policy)),
                ahead: reason == Reason::Ahead,
                unknown_kid: reason == Reason::UnknownKid,
            }
        };
        let mut notes = Vec::new();
        let clock = || self.now();
        let sleep = |seconds: f64| std::thread::sleep(std::time::Duration::from_secs_f64(seconds));
        let mut cx = crate::shared::Context {
            policy: &self.policy,
            algorithms: &self.config.algorithms,
            max_body_bytes: remote.fetch.max_body_bytes,
            lease_ttl: crate::shared::lease_ttl(remote.fetch.timeout.as_secs_f64()),
            now: &clock,
            sleep: &sleep,
            notes: &mut notes,
        };
        let plan = tier.plan(&mut cx, local);
        for (warning, note) in notes {
            self.log(if warning { Level::Warning } else { Level::Debug }, note);
        }
        match plan {
            Plan::Fetch { lease, first } => {
                if let Some(found) = first {
                    self.adopt(tier, found);
                }
                Next::Fetch(lease)
            }
            Plan::Adopt(found) => {
                self.adopt(tier, found);
                self.state.write().generation += 1;
                Next::Done
            }
            Plan::Defer { first, retry_at, error } => {
                if let Some(found) = first {
                    self.adopt(tier, found);
                }
                let mut state = self.state.write();
                if let Some(at) = retry_at {
                    state.freshness.retry_at = state.freshness.retry_at.max(at);
                }
                if let Some(error) = error {
                    state.last_error = Some(format!("the fleet backs off after a failed fetch: {error}"));
                }
                state.generation += 1;
                Next::Done
            }
        }
    }

    /// Installs a shared entry as if this process had fetched it.
    fn adopt(&self, tier: &SharedTier, found: Adoptable) {
        let Adoptable { entry, body, set } = found;
        let ttl = entry.ttl_for(&self.policy);
        let kids: Vec<Option<String>> = set.keys().iter().map(|k| k.kid.clone()).collect();
        let mut state = self.state.write();
        self.tokens.retain_keys_of(&set);
        state.keys = Some(Arc::new(set));
        state.raw = Some(Arc::new(body));
        state.adopted = true;
        state.validators = entry.validators();
        state.cache_headers = entry.cache_headers();
        state.freshness.on_success(entry.fetched_at, ttl);
        state.last_error = None;
        state.serving_stale = false;
        // The discovered URL, from an authenticated entry only.
        if state.jwks_uri.is_none() && tier.has_secret() {
            state.jwks_uri = Some(entry.jwks_uri.clone());
        }
        drop(state);
        tier.on_adopted();
        self.log(Level::Debug, format!("adopted the shared JWK Set of {}: kids {kids:?}", entry.jwks_uri));
    }

    /// After our own fetch: share its result with the fleet.
    fn shared_after(&self, tier: &SharedTier, lease: Option<Lease>, fetched: bool) {
        let now = self.now();
        let mut notes = Vec::new();
        let state = self.state.read();
        if fetched {
            let (Some(raw), Some(fetched_at), Some(uri)) =
                (&state.raw, state.freshness.fetched_at, &state.jwks_uri)
            else {
                return;
            };
            let entry = crate::shared::Entry::new(
                &identity(&self.remote.as_ref().expect("remote").source),
                uri,
                raw,
                &state.validators,
                &state.cache_headers,
                fetched_at,
                state.freshness.ttl,
                self.policy.max_stale,
            );
            drop(state);
            tier.after_fetch(now, Ok(&entry), lease, &mut notes);
        } else {
            let (retry_at, error) = (state.freshness.retry_at, state.last_error.clone().unwrap_or_default());
            drop(state);
            tier.after_fetch(now, Err((retry_at, &error)), lease, &mut notes);
        }
        for (warning, note) in notes {
            self.log(if warning { Level::Warning } else { Level::Debug }, note);
        }
    }

    fn fetch_once(&self, remote: &Remote) -> Result<FetchOutcome> {
        let fetcher = remote.fetcher()?;
        let jwks_uri = self.jwks_uri(remote, &fetcher)?;
        // Conditional only when a set is held and the issuer gave validators:
        // a 304 to an unconditional request (a confused proxy) is not trusted.
        let (validators, stored) = {
            let state = self.state.read();
            let usable = state.keys.is_some()
                && (state.validators.etag.is_some() || state.validators.last_modified.is_some());
            (usable.then(|| state.validators.clone()), state.cache_headers.clone())
        };
        let fetched = fetcher.get(&jwks_uri, validators.as_ref())?;
        let now = self.now();
        match fetched {
            Fetched::Body { body, cache, validators } => {
                // A well-formed set without a usable key is the issuer's word
                // (every key removed): installed, so every token fails closed.
                // Anything else that is not a JWK Set is a failed fetch.
                let set = JwkSet::parse_allowing_no_usable_key(&body, &self.config.algorithms)
                    .map_err(|e| Error::Fetch(format!("{jwks_uri} did not serve a usable JWK Set: {e}")))?;
                let ttl = self.policy.ttl(&cache, now);
                Ok(FetchOutcome::New { set, validators, cache, ttl, jwks_uri, body })
            }
            Fetched::NotModified { cache } => {
                let merged = CacheHeaders {
                    cache_control: cache.cache_control.or(stored.cache_control),
                    expires: cache.expires.or(stored.expires),
                    age: cache.age,
                    date: cache.date.or(stored.date),
                };
                let ttl = self.policy.ttl(&merged, now);
                Ok(FetchOutcome::NotModified { cache: merged, ttl, jwks_uri })
            }
        }
    }

    fn jwks_uri(&self, remote: &Remote, fetcher: &Fetcher) -> Result<String> {
        match &remote.source {
            Source::JwksUri(uri) | Source::Issuer { jwks_uri: Some(uri), .. } => Ok(uri.clone()),
            Source::Issuer { issuer, jwks_uri: None } => {
                if let Some(uri) = self.state.read().jwks_uri.clone() {
                    return Ok(uri);
                }
                let uri = fetcher.discover(issuer)?;
                crate::fetch::check_url(&uri, remote.fetch.allow_insecure_http)?;
                Ok(uri)
            }
        }
    }
}

enum FetchOutcome {
    New {
        set: JwkSet,
        validators: Validators,
        cache: CacheHeaders,
        ttl: f64,
        jwks_uri: String,
        body: Vec<u8>,
    },
    NotModified {
        cache: CacheHeaders,
        ttl: f64,
        jwks_uri: String,
    },
}

/// After the shared tier's plan: fetch (holding the lease, if any), or done
/// (an entry adopted, or deferred to the fleet).
enum Next {
    Fetch(Option<Lease>),
    Done,
}

/// What a shared entry is bound to: the configured source.
fn identity(source: &Source) -> Identity {
    match source {
        Source::JwksUri(uri) => Identity { issuer: String::new(), jwks_uri: uri.clone() },
        Source::Issuer { issuer, jwks_uri } => {
            Identity { issuer: issuer.clone(), jwks_uri: jwks_uri.clone().unwrap_or_default() }
        }
    }
}

/// Clears a flag when dropped (on unwind too).
struct ClearOnDrop<'a>(&'a AtomicBool);

impl Drop for ClearOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// A panic in a token's lookup or check, as a refusal of the token: fails
/// closed, and of a class every caller already handles.
#[allow(clippy::needless_pass_by_value)] // the shape panics::catch hands a message in
fn internal_error(panic: String) -> Error {
    Error::InvalidToken(format!("internal error in jwkscache (a bug: please report it): {panic}"))
}

/// A number in [0, 1) that differs between processes and calls (for backoff
/// jitter; not for security).
fn jitter() -> f64 {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let mixed =
        (u64::from(nanos) ^ (u64::from(std::process::id()) << 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> 11) as f64 / (1u64 << 53) as f64
}
