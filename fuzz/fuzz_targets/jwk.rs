//! JWK Set documents: parsed for every algorithm and for RS256 only, as a fetched body is
//! (`parse_allowing_no_usable_key`); every usable key selectable by its kid, every skipped
//! one describable. Never a panic, never more than `MAX_KEYS` usable keys.
#![no_main]

use jwkscache_core::jwk::{JwkSet, MAX_KEYS};
use jwkscache_core::verify::Alg;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for allowed in [&Alg::ALL[..], &[Alg::RS256][..]] {
        if let Ok(set) = JwkSet::parse_allowing_no_usable_key(data, allowed) {
            assert!(set.len() <= MAX_KEYS);
            for key in set.keys() {
                if let Some(kid) = key.kid.as_deref() {
                    assert!(set.select(Some(kid)).is_some());
                }
            }
            for skipped in set.skipped() {
                let _ = skipped.describe();
            }
        }
        let _ = JwkSet::parse(data, allowed);
    }
});
