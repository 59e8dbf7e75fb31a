//! JWK Set bytes -> usable keys, parsed once, plus the keys skipped and why.
//!
//! Rules (RFC 7517; documented in the README):
//! - A key is usable when `use` (if present) is `sig`, `key_ops` (if
//!   present) contains `verify`, an algorithm it verifies is in the allow-list
//!   (its own `alg` if it states one, which must fit the key), and its
//!   material is valid: `kty` RSA with `n`/`e` a 2048..=8192-bit key (RS*,
//!   PS*); `kty` EC with `crv` P-256, P-384 or P-521 and `x`/`y` a point of
//!   the curve's exact size (ES256, ES384, ES512 respectively, nothing else);
//!   `kty` OKP with `crv` Ed25519 and a 32-byte `x` (EdDSA). Any other key
//!   is skipped with its reason; it never makes the whole set fail.
//! - Duplicate `kid`: the first usable key wins, later ones are skipped.
//! - A key without `kid` is usable, but only a token without `kid` can select
//!   it, and only when it is the one usable key of the set.
//! - A set with no usable key is an error ([`Error::JwkSet`]).

use std::sync::Arc;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use serde_json::{Map, Value};

use crate::errors::{Error, Result};
use crate::verify::{Alg, Curve, EcPublicKey, Ed25519PublicKey, PublicKey, RsaPublicKey};

/// Most keys kept from one set; the rest are skipped (bounds memory and lookup).
pub const MAX_KEYS: usize = 100;

/// `n` and `e` are base64url; trailing `=` is tolerated there (seen in the
/// field), unlike in tokens.
const KEY_B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// One usable verification key.
#[derive(Debug)]
pub struct Jwk {
    /// The `kid`, if the key has one.
    pub kid: Option<String>,
    /// The key's own `alg`, if it states one; a token must then use exactly it.
    pub alg: Option<Alg>,
    /// The key material, validated.
    pub key: PublicKey,
    /// The JWK object as it was published (JSON text), for `jwt.PyJWK`.
    pub json: String,
}

/// A key of the document that can't be used, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    /// Position in the document's `keys` array.
    pub index: usize,
    /// The key's `kid`, if it had a string one.
    pub kid: Option<String>,
    /// The key's `kty`, if it had a string one.
    pub kty: Option<String>,
    /// Why it was skipped, in a sentence.
    pub reason: String,
}

/// A parsed JWK Set: usable keys in document order, and skipped keys.
#[derive(Debug, Default)]
pub struct JwkSet {
    keys: Vec<Arc<Jwk>>,
    skipped: Vec<SkippedKey>,
}

/// A JWK Set document's JSON: refused whole if any object in it (the set,
/// a key) names a member twice, as no reading of it is the issuer's alone.
fn document(bytes: &[u8]) -> Result<Value> {
    let value = serde_json::from_slice(bytes)
        .map_err(|e| Error::JwkSet(format!("Invalid JWK Set value: not JSON ({e})")))?;
    crate::pick::refuse_duplicate_members(bytes)
        .map_err(|e| Error::JwkSet(format!("Invalid JWK Set value: {e}")))?;
    Ok(value)
}

impl JwkSet {
    /// Parses a JWK Set document, keeping keys usable with `allowed`.
    pub fn parse(bytes: &[u8], allowed: &[Alg]) -> Result<Self> {
        Self::from_value(&document(bytes)?, allowed)
    }

    /// Like [`JwkSet::parse`], but a well-formed set whose keys are all
    /// unusable (or `{"keys": []}`) gives an empty set instead of an error:
    /// from an issuer, that is its word that no key is valid now.
    pub fn parse_allowing_no_usable_key(bytes: &[u8], allowed: &[Alg]) -> Result<Self> {
        Self::build(&document(bytes)?, allowed)
    }

    /// Builds the set from an already parsed document.
    pub fn from_value(document: &Value, allowed: &[Alg]) -> Result<Self> {
        let set = Self::build(document, allowed)?;
        if set.keys.is_empty() {
            if set.skipped.is_empty() {
                return Err(Error::JwkSet("The JWK Set did not contain any keys".into()));
            }
            let reasons: Vec<String> = set.skipped.iter().map(SkippedKey::describe).collect();
            return Err(Error::JwkSet(format!(
                "The JWK Set did not contain any usable keys: {}",
                reasons.join("; ")
            )));
        }
        Ok(set)
    }

    /// The set's usable and skipped keys; empty is not an error here.
    fn build(document: &Value, allowed: &[Alg]) -> Result<Self> {
        let Value::Object(document) = document else {
            return Err(Error::JwkSet(format!(
                "Invalid JWK Set value: expected a JSON object with \"keys\", got {}",
                json_type(document)
            )));
        };
        let keys = match document.get("keys") {
            None => &Vec::new(),
            Some(Value::Array(keys)) => keys,
            Some(other) => {
                return Err(Error::JwkSet(format!(
                    "Invalid JWK Set value: \"keys\" must be an array, got {}",
                    json_type(other)
                )))
            }
        };
        let mut set = JwkSet::default();
        for (index, entry) in keys.iter().enumerate() {
            let skip = |reason: String| SkippedKey {
                index,
                kid: str_field(entry, "kid").map(str::to_owned),
                kty: str_field(entry, "kty").map(str::to_owned),
                reason,
            };
            if set.keys.len() >= MAX_KEYS {
                set.skipped.push(skip(format!("the set holds more than {MAX_KEYS} usable keys")));
                continue;
            }
            match parse_key(entry, allowed) {
                Ok(jwk) if jwk.kid.is_some() && set.find_exact(jwk.kid.as_deref()).is_some() => {
                    set.skipped.push(skip("duplicate kid: an earlier key of the set has it".into()));
                }
                Ok(jwk) => set.keys.push(Arc::new(jwk)),
                Err(reason) => set.skipped.push(skip(reason)),
            }
        }
        Ok(set)
    }

    /// The usable keys, in document order.
    pub fn keys(&self) -> &[Arc<Jwk>] {
        &self.keys
    }

    /// The keys that were skipped, with reasons.
    pub fn skipped(&self) -> &[SkippedKey] {
        &self.skipped
    }

    /// Number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when the set holds no usable key (never true for a parsed set).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key a token with this `kid` header selects, or `None`.
    ///
    /// With a `kid`: the key with that `kid`. Without: the set's only key.
    pub fn select(&self, kid: Option<&str>) -> Option<&Arc<Jwk>> {
        match kid {
            Some(_) => self.find_exact(kid),
            None if self.keys.len() == 1 => self.keys.first(),
            None => None,
        }
    }

    /// True when a key with this `kid` is in the set.
    pub fn contains(&self, kid: &str) -> bool {
        self.find_exact(Some(kid)).is_some()
    }

    fn find_exact(&self, kid: Option<&str>) -> Option<&Arc<Jwk>> {
        self.keys.iter().find(|key| key.kid.as_deref() == kid)
    }
}

impl SkippedKey {
    /// `kid "x" (EC): reason`.
    pub fn describe(&self) -> String {
        let kid =
            self.kid.as_deref().map_or_else(|| format!("key #{}", self.index), |k| format!("kid {k:?}"));
        let kty = self.kty.as_deref().unwrap_or("no kty");
        format!("{kid} ({kty}): {}", self.reason)
    }
}

fn parse_key(entry: &Value, allowed: &[Alg]) -> std::result::Result<Jwk, String> {
    let Value::Object(object) = entry else {
        return Err(format!("a key must be a JSON object, got {}", json_type(entry)));
    };
    let kty = match object.get("kty") {
        Some(Value::String(kty)) => kty.as_str(),
        Some(_) => return Err("\"kty\" is not a string".into()),
        None => return Err("\"kty\" is missing".into()),
    };
    if !matches!(kty, "RSA" | "EC" | "OKP") {
        return Err(format!("kty {kty:?} is not supported (RSA, EC and OKP keys only)"));
    }
    let kid = match object.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err("\"kid\" is not a string".into()),
    };
    match object.get("use") {
        None => {}
        Some(Value::String(use_)) if use_ == "sig" => {}
        Some(other) => return Err(format!("use {other} is not \"sig\"")),
    }
    if let Some(ops) = object.get("key_ops") {
        let verifies = ops.as_array().is_some_and(|ops| ops.iter().any(|op| op == "verify"));
        if !verifies {
            return Err(format!("key_ops {ops} does not include \"verify\""));
        }
    }
    let alg = match object.get("alg") {
        None => None,
        Some(Value::String(name)) => match Alg::from_name(name) {
            Some(alg) if allowed.contains(&alg) => Some(alg),
            _ => return Err(format!("alg {name:?} is not among the allowed algorithms {}", names(allowed))),
        },
        Some(_) => return Err("\"alg\" is not a string".into()),
    };
    let key = match kty {
        "RSA" => {
            let n = b64_field(object, "n")?;
            let e = b64_field(object, "e")?;
            PublicKey::Rsa(RsaPublicKey::from_components(&n, &e)?)
        }
        "EC" => {
            let curve = match object.get("crv") {
                Some(Value::String(crv)) => Curve::from_name(crv)
                    .ok_or_else(|| format!("crv {crv:?} is not supported (P-256, P-384 and P-521 only)"))?,
                Some(_) => return Err("\"crv\" is not a string".into()),
                None => return Err("\"crv\" is missing".into()),
            };
            let x = b64_field(object, "x")?;
            let y = b64_field(object, "y")?;
            PublicKey::Ec(EcPublicKey::from_coordinates(curve, &x, &y)?)
        }
        _ => {
            match object.get("crv") {
                Some(Value::String(crv)) if crv == "Ed25519" => {}
                Some(Value::String(crv)) => {
                    return Err(format!("crv {crv:?} is not supported (OKP keys: Ed25519 only)"))
                }
                Some(_) => return Err("\"crv\" is not a string".into()),
                None => return Err("\"crv\" is missing".into()),
            }
            PublicKey::Ed25519(Ed25519PublicKey::from_bytes(&b64_field(object, "x")?)?)
        }
    };
    usable_for(&key, alg, allowed)?;
    key.prepare(alg.as_ref().map_or(allowed, std::slice::from_ref));
    let json = Value::Object(object.clone()).to_string();
    Ok(Jwk { kid, alg, key, json })
}

/// Checks a key that verifies `verifies` can serve: its own `alg` (already
/// known allowed) must be one of them, or one of them must be allowed.
fn usable_for(key: &PublicKey, alg: Option<Alg>, allowed: &[Alg]) -> std::result::Result<(), String> {
    let verifies = key.algorithms();
    let what = match key {
        PublicKey::Rsa(_) => "an RSA key".to_owned(),
        PublicKey::Ec(key) => format!("an EC {} key", key.curve().name()),
        PublicKey::Ed25519(_) => "an Ed25519 key".to_owned(),
    };
    match alg {
        Some(alg) if !verifies.contains(&alg) => {
            Err(format!("alg {:?} does not fit the key: {what} verifies {}", alg.name(), names(verifies)))
        }
        Some(_) => Ok(()),
        None if verifies.iter().any(|alg| allowed.contains(alg)) => Ok(()),
        None => Err(format!(
            "{what} verifies {}, none of which is among the allowed algorithms {}",
            names(verifies),
            names(allowed)
        )),
    }
}

fn b64_field(object: &Map<String, Value>, name: &str) -> std::result::Result<Vec<u8>, String> {
    match object.get(name) {
        Some(Value::String(text)) => {
            KEY_B64.decode(text).map_err(|e| format!("\"{name}\" is not valid base64url ({e})"))
        }
        Some(_) => Err(format!("\"{name}\" is not a string")),
        None => Err(format!("\"{name}\" is missing")),
    }
}

fn str_field<'a>(value: &'a Value, name: &str) -> Option<&'a str> {
    value.get(name).and_then(Value::as_str)
}

/// `["RS256", "PS256"]`, for messages.
pub(crate) fn names(algs: &[Alg]) -> String {
    let names: Vec<&str> = algs.iter().map(|a| a.name()).collect();
    format!("{names:?}")
}

/// The JSON type of a value, for messages.
pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_given_twice_refuses_the_whole_set() {
        let key = a1()["keys"][1].to_string();
        let issuer = format!(r#"{{"keys":[{key}]}}"#);
        assert_eq!(JwkSet::parse(issuer.as_bytes(), &[Alg::RS256]).unwrap().len(), 1);
        let appended = format!(r#"{{"keys":[{key}],"keys":[]}}"#);
        let kid_twice = key.replacen('{', r#"{"kid":"other","#, 1);
        let nested = format!(r#"{{"keys":[{key}],"x":{{"a":1,"a":2}}}}"#);
        for document in [appended, format!(r#"{{"keys":[{kid_twice}]}}"#), nested] {
            match JwkSet::parse_allowing_no_usable_key(document.as_bytes(), &[Alg::RS256]) {
                Err(Error::JwkSet(message)) => assert!(message.contains("given twice"), "{message}"),
                other => panic!("{document}: {other:?}"),
            }
        }
    }
    use serde_json::json;

    // RFC 7517 A.1 (also in tests/vectors/rfc).
    const RFC7517_A1: &str = include_str!("../../../tests/vectors/rfc/rfc7517_a1_public_jwks.json");

    fn a1() -> Value {
        let vector: Value = serde_json::from_str(RFC7517_A1).unwrap();
        vector["jwks"].clone()
    }

    fn rsa_key(kid: &str) -> Value {
        let mut key = a1()["keys"].as_array().unwrap().iter().find(|k| k["kty"] == "RSA").unwrap().clone();
        key["kid"] = json!(kid);
        key
    }

    #[test]
    fn rfc7517_a1_skips_the_enc_ec_key() {
        let set = JwkSet::from_value(&a1(), &[Alg::RS256]).unwrap();
        assert_eq!(set.len(), 1);
        assert_eq!(set.keys()[0].kid.as_deref(), Some("2011-04-29"));
        assert_eq!(set.keys()[0].key.bits(), 2048);
        let both = JwkSet::from_value(&a1(), &[Alg::RS256, Alg::ES256]).unwrap();
        assert_eq!(both.len(), 1, "the EC key is for encryption");
        assert_eq!(set.skipped().len(), 1);
        assert_eq!(set.skipped()[0].kty.as_deref(), Some("EC"));
    }

    #[test]
    fn each_unusable_key_is_skipped_with_its_reason() {
        let mut bad_use = rsa_key("enc");
        bad_use["use"] = json!("enc");
        let mut no_verify = rsa_key("ops");
        no_verify["key_ops"] = json!(["encrypt"]);
        let mut other_alg = rsa_key("rs512");
        other_alg["alg"] = json!("RS512");
        let mut bad_n = rsa_key("bad-n");
        bad_n["n"] = json!("not*base64");
        let mut small = rsa_key("small");
        small["n"] = json!("AQAB");
        let doc = json!({"keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "kid": "ed"},
            bad_use, no_verify, other_alg, bad_n, small, "not an object",
            rsa_key("good"), rsa_key("good"),
        ]});
        let set = JwkSet::from_value(&doc, &[Alg::RS256]).unwrap();
        assert_eq!(set.len(), 1);
        let reasons: Vec<&str> = set.skipped().iter().map(|s| s.reason.as_str()).collect();
        assert!(reasons[0].contains("\"oct\""));
        assert!(reasons[1].contains("an Ed25519 key is 32"), "{}", reasons[1]);
        assert!(reasons[2].contains("not \"sig\""));
        assert!(reasons[3].contains("verify"));
        assert!(reasons[4].contains("RS512"));
        assert!(reasons[5].contains("base64url"));
        assert!(reasons[6].contains("minimum"));
        assert!(reasons[7].contains("JSON object"));
        assert!(reasons[8].contains("duplicate kid"));
    }

    #[test]
    fn ec_and_okp_keys_serve_their_one_algorithm() {
        let a3: Value =
            serde_json::from_str(include_str!("../../../tests/vectors/rfc/rfc7515_a3_es256_jws.json"))
                .unwrap();
        let ed: Value =
            serde_json::from_str(include_str!("../../../tests/vectors/rfc/rfc8037_a4_ed25519_jws.json"))
                .unwrap();
        let with = |key: &Value, kid: &str, extra: Value| {
            let mut key = key.clone();
            key.as_object_mut().unwrap().remove("d");
            key["kid"] = json!(kid);
            for (name, value) in extra.as_object().unwrap() {
                key[name] = value.clone();
            }
            key
        };
        let doc = json!({"keys": [
            rsa_key("rsa"),
            with(&a3["jwk"], "p256", json!({})),
            with(&a3["jwk"], "p256-alg", json!({"alg": "ES256"})),
            with(&ed["jwk"], "ed", json!({"alg": "EdDSA"})),
            with(&a3["jwk"], "k1", json!({"crv": "secp256k1"})),
            with(&ed["jwk"], "ed448", json!({"crv": "Ed448"})),
            with(&a3["jwk"], "lies", json!({"alg": "ES512"})),
            with(&a3["jwk"], "short", json!({"x": "AAAA"})),
        ]});
        let names = |set: &JwkSet| set.keys().iter().map(|k| k.kid.clone().unwrap()).collect::<Vec<_>>();
        // The default allow-list: the EC and OKP keys are skipped, saying why.
        let set = JwkSet::from_value(&doc, &[Alg::RS256]).unwrap();
        assert_eq!(names(&set), ["rsa"]);
        let reasons: Vec<&str> = set.skipped().iter().map(|s| s.reason.as_str()).collect();
        assert!(reasons[0].contains("an EC P-256 key verifies [\"ES256\"], none of which"), "{}", reasons[0]);
        assert!(reasons[1].contains("\"ES256\" is not among the allowed"), "{}", reasons[1]);
        let all = JwkSet::from_value(&doc, &Alg::ALL).unwrap();
        assert_eq!(names(&all), ["rsa", "p256", "p256-alg", "ed"]);
        let reasons: Vec<&str> = all.skipped().iter().map(|s| s.reason.as_str()).collect();
        assert!(reasons[0].contains("crv \"secp256k1\" is not supported"));
        assert!(reasons[1].contains("crv \"Ed448\" is not supported"));
        assert!(reasons[2].contains("alg \"ES512\" does not fit the key"));
        assert!(reasons[3].contains("\"x\" is 3 bytes"));
        assert_eq!(all.keys()[1].key.kty(), "EC");
        assert_eq!(all.keys()[3].key.algorithms(), &[Alg::EdDSA]);
        // Only ES256 allowed: the RS256 key is skipped.
        let es = JwkSet::from_value(&doc, &[Alg::ES256]).unwrap();
        assert_eq!(names(&es), ["p256", "p256-alg"]);
        assert!(es.skipped()[0].reason.contains("\"RS256\" is not among the allowed"));
    }

    #[test]
    fn selection_rules() {
        let one_without_kid = {
            let mut key = rsa_key("x");
            key.as_object_mut().unwrap().remove("kid");
            json!({"keys": [key]})
        };
        let set = JwkSet::from_value(&one_without_kid, &[Alg::RS256]).unwrap();
        assert!(set.select(None).is_some());
        assert!(set.select(Some("x")).is_none());

        let two = json!({"keys": [rsa_key("a"), rsa_key("b")]});
        let set = JwkSet::from_value(&two, &[Alg::RS256]).unwrap();
        assert!(set.select(None).is_none());
        assert_eq!(set.select(Some("b")).unwrap().kid.as_deref(), Some("b"));
        assert!(set.select(Some("c")).is_none());
    }

    #[test]
    fn documents_that_are_not_sets() {
        for (doc, needle) in [
            (&b"nope"[..], "not JSON"),
            (b"[]", "expected a JSON object"),
            (b"{}", "did not contain any keys"),
            (b"{\"keys\": []}", "did not contain any keys"),
            (b"{\"keys\": {}}", "must be an array"),
            (b"{\"keys\": [{\"kty\": \"EC\"}]}", "did not contain any usable keys: key #0 (EC)"),
        ] {
            let err = JwkSet::parse(doc, &[Alg::RS256]).unwrap_err();
            assert!(matches!(&err, Error::JwkSet(m) if m.contains(needle)), "{err:?}");
        }
    }
}
