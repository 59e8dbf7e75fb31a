//! The verified-token cache: the same token presented again skips the RSA
//! operation. Only the signature check is cached: the caller still checks
//! the key is current (same freshness rules) and validates every claim.
//!
//! Entries are keyed by the first 16 characters of the token's signature
//! segment (96 random-looking bits: cheap to hash, and no second copy of the
//! signature) and hold the whole token, compared byte for byte on a hit, so a
//! token that shares a key or reuses a cached signature with another header
//! or payload never hits.

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
    entries: Option<Mutex<LruCache<Key, Entry>>>,
}

/// An entry's key: the start of the token's signature segment.
type Key = [u8; 16];

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
        let entry = entries.get(&key(token))?;
        (*entry.token == *token).then(|| Arc::clone(&entry.verified))
    }

    /// Remembers a verified token.
    pub fn insert(&self, token: &[u8], verified: Arc<Verified>) {
        if let Some(entries) = &self.entries {
            let entry = Entry { token: token.into(), verified };
            entries.lock().put(key(token), entry);
        }
    }

    /// Holds the lock across `fork()` (see `fork.rs`).
    pub(crate) fn lock_for_fork(&self) {
        if let Some(entries) = &self.entries {
            std::mem::forget(entries.lock());
        }
    }

    /// Releases the lock taken by [`TokenCache::lock_for_fork`].
    ///
    /// # Safety
    /// Only after `lock_for_fork`, in the same thread.
    pub(crate) unsafe fn unlock_after_fork(&self) {
        if let Some(entries) = &self.entries {
            // SAFETY: the caller guarantees this thread leaked the guard.
            unsafe { entries.force_unlock() };
        }
    }

    /// Drops the tokens whose key is not in `set` (or differs there).
    pub fn retain_keys_of(&self, set: &JwkSet) {
        let Some(entries) = &self.entries else { return };
        let mut entries = entries.lock();
        let gone: Vec<Key> = entries
            .iter()
            .filter(|(_, entry)| {
                let verified = &entry.verified;
                set.select(verified.kid.as_deref()).is_none_or(|current| !verified.still_verified_by(current))
            })
            .map(|(key, _)| *key)
            .collect();
        for key in gone {
            entries.pop(&key);
        }
    }
}

fn key(token: &[u8]) -> Key {
    let signature = &token[memchr::memrchr(b'.', token).map_or(0, |dot| dot + 1)..];
    let mut key = Key::default();
    let len = signature.len().min(key.len());
    key[..len].copy_from_slice(&signature[..len]);
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::Alg;
    use serde_json::{json, Value};

    const RFC7517_A1: &str = include_str!("../../../tests/vectors/rfc/rfc7517_a1_public_jwks.json");

    fn set() -> JwkSet {
        let vector: Value = serde_json::from_str(RFC7517_A1).unwrap();
        JwkSet::from_value(&vector["jwks"], &[Alg::RS256]).unwrap()
    }

    fn verified(set: &JwkSet) -> Arc<Verified> {
        Arc::new(Verified {
            header: crate::jws::Header::parse(b"{}".to_vec(), crate::pick::Strictness::Full).unwrap(),
            claims: crate::claims::Claims::parse(b"{}".to_vec()).unwrap(),
            signature: Vec::new(),
            kid: set.keys()[0].kid.clone(),
            key: Arc::clone(&set.keys()[0]),
            alg: Alg::RS256,
            attachment: std::sync::OnceLock::new(),
        })
    }

    #[test]
    fn hits_only_the_exact_token() {
        let cache = TokenCache::new(2);
        let set = set();
        cache.insert(b"h.p.sig", verified(&set));
        assert!(cache.get(b"h.p.sig").is_some());
        assert!(cache.get(b"h.other.sig").is_none(), "same signature, other payload");
        assert!(cache.get(b"h.p.sig2").is_none());
        // Tokens sharing a key (the signature's first 16 characters) never
        // answer for each other: the last one inserted holds the entry.
        let long = b"h.p.0123456789abcdefXYZ";
        cache.insert(long, verified(&set));
        assert!(cache.get(long).is_some());
        assert!(cache.get(b"h.p.0123456789abcdefXY").is_none());
        cache.insert(b"h.q.0123456789abcdefOTHER", verified(&set));
        assert!(cache.get(long).is_none());
        assert!(cache.get(b"h.q.0123456789abcdefOTHER").is_some());
    }

    #[test]
    fn bounded_and_off() {
        let cache = TokenCache::new(2);
        let set = set();
        for token in [&b"a.b.1"[..], b"a.b.2", b"a.b.3"] {
            cache.insert(token, verified(&set));
        }
        assert_eq!(cache.len(), 2);
        assert!(cache.get(b"a.b.1").is_none());
        let off = TokenCache::new(0);
        off.insert(b"a.b.1", verified(&set));
        assert!(off.is_empty());
        assert_eq!(off.capacity(), 0);
    }

    #[test]
    fn entries_of_a_removed_key_are_dropped() {
        let cache = TokenCache::new(4);
        let old = set();
        cache.insert(b"a.b.1", verified(&old));
        let mut other_key = old.keys()[0].json.parse::<Value>().unwrap();
        other_key["kid"] = json!("rotated");
        let new = JwkSet::from_value(&json!({"keys": [other_key]}), &[Alg::RS256]).unwrap();
        cache.retain_keys_of(&old);
        assert_eq!(cache.len(), 1);
        cache.retain_keys_of(&new);
        assert!(cache.is_empty());
    }
}
