//! The key store that `decode` asks for keys: today a static JWK Set.
//!
//! A fetched set (with its refresh policy) plugs in here; callers see the
//! same `find_key` / `verify` whatever the source.

use std::sync::Arc;

use parking_lot::RwLock;

use crate::errors::Result;
use crate::jwk::{Jwk, JwkSet};
use crate::jws::{self, Verified, DEFAULT_MAX_TOKEN_BYTES};
use crate::verify::Alg;

/// Settings shared by every source.
#[derive(Debug, Clone)]
pub struct Config {
    /// The algorithm allow-list (also decides which keys are usable).
    pub algorithms: Vec<Alg>,
    /// Bound on a token's length, checked before parsing.
    pub max_token_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self { algorithms: vec![Alg::RS256], max_token_bytes: DEFAULT_MAX_TOKEN_BYTES }
    }
}

/// Keys plus the rules to verify tokens against them.
#[derive(Debug)]
pub struct Client {
    config: Config,
    keys: RwLock<Arc<JwkSet>>,
}

impl Client {
    /// A client over a fixed JWK Set (no network).
    pub fn from_set(set: JwkSet, config: Config) -> Self {
        Self { config, keys: RwLock::new(Arc::new(set)) }
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The current key set (a snapshot: replaced, never mutated).
    pub fn keys(&self) -> Arc<JwkSet> {
        Arc::clone(&self.keys.read())
    }

    /// The key a token with this `kid` selects.
    pub fn find_key(&self, kid: Option<&str>) -> Result<Arc<Jwk>> {
        let keys = self.keys.read();
        keys.select(kid).cloned().ok_or_else(|| jws::key_not_found(kid, keys.len()))
    }

    /// Verifies a token's header and signature; claims are left to the caller.
    pub fn verify(&self, token: &[u8]) -> Result<Verified> {
        jws::verify_token(token, &self.config.algorithms, self.config.max_token_bytes, |kid| {
            self.find_key(kid)
        })
    }
}
