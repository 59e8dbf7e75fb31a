//! The verified-token cache: the same token presented again skips the RSA
//! operation. Only the signature check is cached: the caller still checks
//! the key is current (same freshness rules) and validates every claim.
//!
//! Entries are keyed by the token's signature segment (short to hash) and
//! hold the whole token, compared byte for byte on a hit, so a token that
//! reuses a cached signature with another header or payload never hits.

use std::num::NonZeroUsize;
use std::sync::Arc;

use lru::LruCache;
use parking_lot::Mutex;

use crate::jwk::JwkSet;
use crate::jws::Verified;

/// Default number of tokens kept.
pub const DEFAULT_TOKEN_CACHE_SIZE: usize = 1024;

/// A bounded LRU of verified tokens.
pub struct TokenCache {
    entries: Option<Mutex<LruCache<Box<[u8]>, Entry>>>,
}

struct Entry {
    token: Box<[u8]>,
    verified: Arc<Verified>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache").field("capacity", &self.capacity()).finish()
    }
}

impl TokenCache {
    /// A cache of at most `capacity` tokens; 0 turns it off.
    pub fn new(capacity: usize) -> Self {
        Self { entries: NonZeroUsize::new(capacity).map(|c| Mutex::new(LruCache::new(c))) }
    }

    /// Most tokens kept (0: off).
    pub fn capacity(&self) -> usize {
        self.entries.as_ref().map_or(0, |e| e.lock().cap().get())
    }

    /// Tokens held now.
    pub fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, |e| e.lock().len())
    }

    /// True when no token is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The verification of exactly this token, if cached.
    pub fn get(&self, token: &[u8]) -> Option<Arc<Verified>> {
        let entries = self.entries.as_ref()?;
        let mut entries = entries.lock();
        let entry = entries.get(signature_segment(token))?;
        (*entry.token == *token).then(|| Arc::clone(&entry.verified))
    }

    /// Remembers a verified token.
    pub fn insert(&self, token: &[u8], verified: Arc<Verified>) {
        if let Some(entries) = &self.entries {
            let entry = Entry { token: token.into(), verified };
            entries.lock().put(signature_segment(token).into(), entry);
        }
    }

    /// Drops the tokens whose key is not in `set` (or differs there).
    pub fn retain_keys_of(&self, set: &JwkSet) {
        let Some(entries) = &self.entries else { return };
        let mut entries = entries.lock();
        let gone: Vec<Box<[u8]>> = entries
            .iter()
            .filter(|(_, entry)| {
                let key = &entry.verified.key;
                set.select(key.kid.as_deref()).is_none_or(|current| current.key != key.key)
            })
            .map(|(signature, _)| signature.clone())
            .collect();
        for signature in gone {
            entries.pop(&signature);
        }
    }
}

fn signature_segment(token: &[u8]) -> &[u8] {
    token.rsplit(|&b| b == b'.').next().unwrap_or(token)
}
