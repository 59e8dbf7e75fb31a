//! Claims and the JSON pickers under them: a payload parsed (`Claims::parse`), its
//! registered claims read and validated with PyJWT's defaults and with an audience, issuer,
//! `require` and `strict_aud`; the same bytes through `pick` (both strictness levels),
//! `pick_all` and `refuse_duplicate_members`. Never a panic.
#![no_main]

use jwkscache_core::claims::{Claims, Validation};
use jwkscache_core::pick::{self, Strictness};
use libfuzzer_sys::fuzz_target;

const NOW: f64 = 1_700_000_000.0;

fuzz_target!(|data: &[u8]| {
    if let Ok(claims) = Claims::parse(data.to_vec()) {
        let _ = claims.registered();
        let _ = Validation::default().validate(&claims, NOW);
        let strict = Validation {
            audience: Some(vec!["api".into()]),
            audience_is_str: true,
            strict_aud: true,
            issuer: Some(vec!["https://issuer.example".into()]),
            subject: Some("alice".into()),
            require: vec!["exp".into(), "iat".into(), "jti".into()],
            leeway: 30.0,
            ..Validation::default()
        };
        let _ = strict.validate(&claims, NOW);
        let _ = Validation { strict_aud: false, audience_is_str: false, ..strict }.validate(&claims, NOW);
    }
    let _ = pick::refuse_duplicate_members(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = pick::pick(text, &["alg", "kid", "crit", "b64"], Strictness::Full);
        let _ = pick::pick(text, &["iss", "aud"], Strictness::Skim);
        let _ = pick::pick_all(text);
    }
});
