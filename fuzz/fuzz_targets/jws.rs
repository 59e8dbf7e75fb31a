//! Compact JWS: the whole check (`verify_token`, every algorithm allowed, against RSA, EC
//! and Ed25519 keys from the RFC vectors) and the unverified readers (`unverified_kid`,
//! `checked_kid`, `unverified_issuer`). Any input: an error or a verified token, never a
//! panic.
#![no_main]

use std::sync::OnceLock;

use jwkscache_core::jwk::JwkSet;
use jwkscache_core::jws;
use jwkscache_core::verify::Alg;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

fn public(vector: &str, member: &str) -> Value {
    let document: Value = serde_json::from_str(vector).expect("a vector is JSON");
    let mut jwk = document[member].clone();
    jwk.as_object_mut().expect("a JWK is an object").remove("d");
    jwk
}

fn keys() -> &'static JwkSet {
    static KEYS: OnceLock<JwkSet> = OnceLock::new();
    KEYS.get_or_init(|| {
        let rsa = public(include_str!("../../tests/vectors/rfc/rfc7515_a2_rs256_jws.json"), "jwk_public");
        let ec = public(include_str!("../../tests/vectors/rfc/rfc7515_a3_es256_jws.json"), "jwk");
        let ed = public(include_str!("../../tests/vectors/rfc/rfc8037_a4_ed25519_jws.json"), "jwk");
        JwkSet::from_value(&json!({"keys": [rsa, ec, ed]}), &Alg::ALL).expect("the vectors' keys are usable")
    })
}

fuzz_target!(|data: &[u8]| {
    let keys = keys();
    if let Ok(verified) = jws::verify_token(data, &Alg::ALL, jws::DEFAULT_MAX_TOKEN_BYTES, |kid| {
        // Without a kid, each key in turn would be the token's one candidate: take the first.
        keys.select(kid)
            .or_else(|| keys.keys().first())
            .cloned()
            .ok_or_else(|| jws::key_not_found(kid, keys.len()))
    }) {
        let _ = verified.claims.registered();
        let _ = verified.header.kid();
    }
    let _ = jws::unverified_kid(data, jws::DEFAULT_MAX_TOKEN_BYTES);
    let _ = jws::checked_kid(data, jws::DEFAULT_MAX_TOKEN_BYTES);
    let _ = jws::unverified_issuer(data, jws::DEFAULT_MAX_TOKEN_BYTES);
});
