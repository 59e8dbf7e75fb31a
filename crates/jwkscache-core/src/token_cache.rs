//! The verified-token cache: the same token presented again skips the RSA
//! operation. Only the signature check is cached: the caller still checks
//! the key is current (same freshness rules) and validates every claim.
//!
//! Entries are keyed by the first 16 characters of the token's signature
//! segment (96 random-looking bits: cheap to hash, and no second copy of the
//! signature) and hold the whole token, compared byte for byte on a hit, so a
//! token that shares a key or reuses a cached signature with another header
//! or payload never hits.
//!
//! Admission: a token is remembered on its second verification, not its
//! first (a doorkeeper of fingerprints, as in TinyLFU), so a stream of
//! one-off tokens costs what it costs with the cache off and never evicts
//! the tokens that do come back. The doorkeeper remembers at least the last
//! `capacity` distinct tokens verified, so a token presented twice within
//! them is a hit from its third presentation on.

use std::collections::HashSet;
use std::num::NonZeroUsize;
use std::sync::Arc;

use lru::LruCache;
use parking_lot::Mutex;

use crate::jwk::JwkSet;
use crate::jws::Verified;

/// Default number of tokens kept.
pub const DEFAULT_TOKEN_CACHE_SIZE: usize = 1024;

/// A bounded LRU of verified tokens, admitted on their second verification.
pub struct TokenCache {
    entries: Option<Mutex<Entries>>,
}

struct Entries {
    lru: LruCache<Key, Entry>,
    doorkeeper: Doorkeeper,
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
        let entries = NonZeroUsize::new(capacity)
            .map(|c| Entries { lru: LruCache::new(c), doorkeeper: Doorkeeper::new(c.get()) });
        Self { entries: entries.map(Mutex::new) }
    }

    /// Most tokens kept (0: off).
    pub fn capacity(&self) -> usize {
        self.entries.as_ref().map_or(0, |e| e.lock().lru.cap().get())
    }

    /// Tokens held now.
    pub fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, |e| e.lock().lru.len())
    }

    /// True when no token is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The verification of exactly this token, if cached.
    pub fn get(&self, token: &[u8]) -> Option<Arc<Verified>> {
        let entries = self.entries.as_ref()?;
        let mut entries = entries.lock();
        let entry = entries.lru.get(&key(token))?;
        (*entry.token == *token).then(|| Arc::clone(&entry.verified))
    }

    /// A token just verified: remembered if it was verified once before
    /// (recently enough for the doorkeeper to know), else noted as seen.
    /// Returns true when it was remembered.
    pub fn admit(&self, token: &[u8], verified: &Arc<Verified>) -> bool {
        let Some(entries) = &self.entries else { return false };
        let key = key(token);
        let mut entries = entries.lock();
        if !entries.doorkeeper.seen_before(&key) {
            return false;
        }
        let entry = Entry { token: token.into(), verified: Arc::clone(verified) };
        entries.lru.put(key, entry);
        true
    }

    /// Remembers a verified token at once, without admission.
    #[cfg(test)]
    fn insert(&self, token: &[u8], verified: Arc<Verified>) {
        if let Some(entries) = &self.entries {
            let entry = Entry { token: token.into(), verified };
            entries.lock().lru.put(key(token), entry);
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
        let entries = &mut entries.lock().lru;
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

/// Fingerprints of tokens verified once, in two generations of at least
/// `capacity` each: a fingerprint is forgotten only after `capacity` newer
/// ones. A fingerprint collision (64 bits of a signature) can only admit a
/// token early, which is harmless: entries compare the whole token.
struct Doorkeeper {
    current: HashSet<u64>,
    previous: HashSet<u64>,
    generation: usize,
}

impl Doorkeeper {
    fn new(capacity: usize) -> Self {
        // Keyed hashing (SipHash, a per-process random key): on issuers that
        // sign tokens for anyone, an attacker picks which valid tokens to
        // present, and must not be able to aim them at one bucket.
        let set = || HashSet::with_capacity(capacity);
        Self { current: set(), previous: set(), generation: capacity }
    }

    /// True when `key` was seen (and is now forgotten: it moves to the LRU);
    /// else notes it.
    fn seen_before(&mut self, key: &Key) -> bool {
        let fingerprint = fingerprint(key);
        if self.current.remove(&fingerprint) || self.previous.remove(&fingerprint) {
            return true;
        }
        if self.current.len() >= self.generation {
            std::mem::swap(&mut self.current, &mut self.previous);
            self.current.clear();
        }
        self.current.insert(fingerprint);
        false
    }
}

/// A token's key folded to 64 bits (then hashed, keyed, by the set).
fn fingerprint(key: &Key) -> u64 {
    let (low, high) = key.split_at(8);
    let low = u64::from_le_bytes(low.try_into().expect("8 bytes"));
    let high = u64::from_le_bytes(high.try_into().expect("8 bytes"));
    low ^ high.rotate_left(29)
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
    fn admitted_on_the_second_verification() {
        let cache = TokenCache::new(4);
        let set = set();
        let v = verified(&set);
        assert!(!cache.admit(b"a.b.repeat", &v), "first sight: only noted");
        assert!(cache.get(b"a.b.repeat").is_none());
        assert!(cache.admit(b"a.b.repeat", &v), "second: remembered");
        assert!(cache.get(b"a.b.repeat").is_some());
    }

    #[test]
    fn one_off_tokens_never_evict_repeated_ones() {
        let cache = TokenCache::new(2);
        let set = set();
        let v = verified(&set);
        for token in [&b"a.b.keep1"[..], b"a.b.keep2"] {
            cache.admit(token, &v);
            cache.admit(token, &v);
        }
        for n in 0..1000 {
            assert!(!cache.admit(format!("a.b.once{n}").as_bytes(), &v));
        }
        assert!(cache.get(b"a.b.keep1").is_some());
        assert!(cache.get(b"a.b.keep2").is_some());
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn the_doorkeeper_remembers_at_least_capacity_tokens() {
        let cache = TokenCache::new(8);
        let set = set();
        let v = verified(&set);
        cache.admit(b"a.b.early", &v);
        for n in 0..8 {
            cache.admit(format!("a.b.other{n}").as_bytes(), &v);
        }
        assert!(cache.admit(b"a.b.early", &v), "seen within the last 8");
        cache.admit(b"a.b.late", &v);
        for n in 0..100 {
            cache.admit(format!("a.b.more{n}").as_bytes(), &v);
        }
        assert!(!cache.admit(b"a.b.late", &v), "forgotten after two generations");
        let off = TokenCache::new(0);
        assert!(!off.admit(b"a.b.late", &v) && !off.admit(b"a.b.late", &v));
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
