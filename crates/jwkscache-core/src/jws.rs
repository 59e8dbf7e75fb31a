//! Compact JWS: split, strict base64url, header checks, signature check.
//!
//! The order is PyJWT's where it matters to callers (all three segments are
//! decoded before anything is verified), with two deliberate differences:
//! base64url is strict (no `=` padding: RFC 7515 §2), and the payload JSON is
//! parsed only after the signature verifies.

use std::any::Any;
use std::fmt;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

use crate::claims::Claims;
use crate::errors::{Error, Result};
use crate::jwk::{names, Jwk};
use crate::pick::Strictness;
use crate::verify::{Alg, UNSERVABLE};

/// Default bound on a token's length, checked before any parsing.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 16 * 1024;

/// A JOSE header: its JSON text, and the parameters this verifier reads
/// (`alg`, `kid`, `crit`) parsed out of it.
pub struct Header {
    json: String,
    alg: Option<Value>,
    kid: Option<Value>,
    crit: Option<Value>,
    b64: Option<Value>,
}

impl Header {
    /// Parses a decoded header segment: UTF-8 holding one JSON object, the
    /// members not read checked as `strictness` says.
    pub(crate) fn parse(bytes: Vec<u8>, strictness: Strictness) -> Result<Self> {
        let json = String::from_utf8(bytes)
            .map_err(|e| Error::decode(format!("Invalid header string: not UTF-8 ({})", e.utf8_error())))?;
        if !json.trim_start().starts_with('{') {
            return Err(Error::decode("Invalid header string: must be a json object"));
        }
        let [alg, kid, crit, b64] = crate::pick::pick(&json, &["alg", "kid", "crit", "b64"], strictness)
            .map_err(|e| Error::decode(format!("Invalid header string: {e}")))?;
        Ok(Self { json, alg, kid, crit, b64 })
    }

    /// The header's JSON text.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The `kid` header: `None` when absent, an error when not a string.
    pub fn kid(&self) -> Result<Option<&str>> {
        match &self.kid {
            None => Ok(None),
            Some(Value::String(kid)) => Ok(Some(kid)),
            Some(_) => Err(Error::InvalidToken("Key ID header parameter must be a string".into())),
        }
    }

    /// True when the header says the payload is not base64url-encoded
    /// (RFC 7797 `"b64": false`).
    fn unencoded(&self) -> bool {
        self.b64 == Some(Value::Bool(false))
    }

    /// PyJWT's header checks, in its order, classes and words: `kid` a
    /// string; `crit` a non-empty list of strings naming only `b64` (the
    /// one extension PyJWT knows), present in the header; then an
    /// unencoded payload refused. A JWT's payload is always base64url:
    /// reading an unencoded one as base64url would verify other bytes than
    /// its signer signed, and a detached payload has no place in a JWT.
    fn check(&self) -> Result<()> {
        self.kid()?;
        if let Some(crit) = &self.crit {
            let invalid = |why: &str| Error::InvalidToken(format!("Invalid 'crit' header: {why}"));
            let list = crit
                .as_array()
                .filter(|list| !list.is_empty())
                .ok_or_else(|| invalid("must be a non-empty list"))?;
            for extension in list {
                let extension = extension.as_str().ok_or_else(|| invalid("values must be strings"))?;
                if extension != "b64" {
                    return Err(Error::InvalidToken(format!("Unsupported critical extension: {extension}")));
                }
                if self.b64.is_none() {
                    return Err(Error::InvalidToken(format!(
                        "Critical extension '{extension}' is missing from headers"
                    )));
                }
            }
        }
        if !self.unencoded() {
            return Ok(());
        }
        Err(if self.crit.is_some() {
            // Only `b64` can be listed by now.
            Error::decode(
                "It is required that you pass in a value for the \"detached_payload\" argument to decode a message having the b64 header set to false.",
            )
        } else {
            Error::InvalidToken("The 'b64' header parameter requires 'b64' to be listed in 'crit'.".into())
        })
    }
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.json)
    }
}

/// A compact JWS with its segments decoded and its header parsed; not yet
/// verified.
#[derive(Debug)]
pub struct Token<'a> {
    signing_input: &'a [u8],
    header: Header,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl<'a> Token<'a> {
    /// Splits and decodes `token` (at most `max_len` bytes).
    pub fn parse(token: &'a [u8], max_len: usize) -> Result<Self> {
        let (header, payload, signature) = split(token, max_len)?;
        let signing_input = &token[..header.len() + 1 + payload.len()];
        // PyJWT's order: the header decoded and parsed, then the payload and
        // signature decoded.
        let header = Header::parse(b64("header", header)?, Strictness::Full)?;
        // PyJWT's order: an unencoded payload's segment is checked before
        // anything is decoded (it must be empty: a detached payload).
        refuse_unencoded_segment(&header, payload)?;
        let payload = b64("payload", payload)?;
        let signature = b64("crypto", signature)?;
        Ok(Self { signing_input, header, payload, signature })
    }

    /// The parsed JOSE header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The `kid` header: `None` when absent, an error when not a string.
    pub fn kid(&self) -> Result<Option<&str>> {
        self.header.kid()
    }

    /// Checks the header against the allow-list and returns the algorithm.
    ///
    /// `alg` must be present and allowed (the allow-list never holds `none`
    /// or `HS*`: [`allow_list`] leaves them out); any `crit` is refused, as this
    /// verifier implements no extension.
    pub fn algorithm(&self, allowed: &[Alg]) -> Result<Alg> {
        // PyJWT's order: the header's own checks come before the alg's.
        self.header.check()?;
        let alg = match &self.header.alg {
            None => return Err(Error::InvalidAlgorithm("Algorithm not specified".into())),
            Some(Value::String(name)) => Alg::from_name(name).filter(|alg| allowed.contains(alg)),
            Some(_) => None,
        };
        let Some(alg) = alg else {
            return Err(Error::InvalidAlgorithm("The specified alg value is not allowed".into()));
        };
        Ok(alg)
    }

    /// Verifies the signature with `key`; the key's own `alg` must agree.
    pub fn verify(&self, alg: Alg, key: &Jwk) -> Result<()> {
        key_agrees(key, alg)?;
        key.key.verify(alg, self.signing_input, &self.signature)
    }

    /// The payload as claims (call after [`Token::verify`]).
    pub fn claims(&self) -> Result<Claims> {
        Claims::parse(self.payload.clone())
    }

    /// The raw payload bytes (call after [`Token::verify`]).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }
}

/// A token whose signature verified, with its parsed parts.
pub struct Verified {
    /// The JOSE header.
    pub header: Header,
    /// The claims (not yet validated: see [`crate::claims::Validation`]).
    pub claims: Claims,
    /// The decoded signature bytes.
    pub signature: Vec<u8>,
    /// The token's own `kid` header (which selected the key).
    pub kid: Option<String>,
    /// The key that verified it.
    pub key: Arc<Jwk>,
    /// The algorithm it was verified with.
    pub alg: Alg,
    /// A slot where a caller may keep its own conversion of the claims (the
    /// Python bindings keep a dict to copy on verified-token cache hits).
    pub attachment: OnceLock<Box<dyn Any + Send + Sync>>,
}

impl Verified {
    /// True when `key` (what the token's `kid` selects now) would verify this
    /// token as it did: the same key material, and an `alg` that still agrees.
    pub fn still_verified_by(&self, key: &Jwk) -> bool {
        key.key == self.key.key && key.alg.is_none_or(|alg| alg == self.alg)
    }
}

impl fmt::Debug for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verified")
            .field("header", &self.header)
            .field("claims", &self.claims)
            .field("kid", &self.key.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// A token parsed, its header checked against the allow-list and its key
/// found: everything that can refuse it before the signature check, which
/// is all that [`Checked::verify`] has left to do.
#[derive(Debug)]
pub struct Checked<'a> {
    token: Token<'a>,
    alg: Alg,
    kid: Option<String>,
    key: Arc<Jwk>,
}

/// Parses `token`, checks its header against `allowed`, and asks `find_key`
/// for the key its `kid` selects (whose own `alg` must agree): cheap, next
/// to the signature check.
pub fn check_token<'a>(
    token: &'a [u8],
    allowed: &[Alg],
    max_len: usize,
    find_key: impl FnOnce(Option<&str>) -> Result<Arc<Jwk>>,
) -> Result<Checked<'a>> {
    let parsed = Token::parse(token, max_len)?;
    let alg = parsed.algorithm(allowed)?;
    let kid = parsed.kid()?.map(str::to_owned);
    let key = find_key(kid.as_deref())?;
    key_agrees(&key, alg)?;
    Ok(Checked { token: parsed, alg, kid, key })
}

impl Checked<'_> {
    /// Verifies the signature and takes the claims (checked as UTF-8 and an
    /// object's start; parsed on first use: [`Claims`]).
    pub fn verify(self) -> Result<Verified> {
        let Self { token, alg, kid, key } = self;
        key.key.verify(alg, token.signing_input, &token.signature)?;
        let Token { header, payload, signature, .. } = token;
        Ok(Verified {
            header,
            // Parsed on first use, or by the caller's own parse (the bindings').
            claims: Claims::new(payload)?,
            signature,
            kid,
            key,
            alg,
            attachment: OnceLock::new(),
        })
    }
}

/// Refuses a non-empty payload segment under `"b64": false` (PyJWT's first
/// check of such a token: the segment is then never decoded).
fn refuse_unencoded_segment(header: &Header, payload_segment: &[u8]) -> Result<()> {
    if header.unencoded() && !payload_segment.is_empty() {
        return Err(Error::decode("Payload segment must be empty when 'b64' is false."));
    }
    Ok(())
}

/// Refuses a key whose own `alg` is not the token's.
fn key_agrees(key: &Jwk, alg: Alg) -> Result<()> {
    match key.alg {
        Some(key_alg) if key_alg != alg => Err(Error::InvalidAlgorithm(format!(
            "The key's alg {key_alg} does not match the token's alg {alg}"
        ))),
        _ => Ok(()),
    }
}

/// [`check_token`], then [`Checked::verify`].
pub fn verify_token(
    token: &[u8],
    allowed: &[Alg],
    max_len: usize,
    find_key: impl FnOnce(Option<&str>) -> Result<Arc<Jwk>>,
) -> Result<Verified> {
    check_token(token, allowed, max_len, find_key)?.verify()
}

/// The error for a token whose `kid` selects no key, in PyJWT's words.
pub fn key_not_found(kid: Option<&str>, usable_keys: usize) -> Error {
    match kid {
        Some(kid) => Error::KeyNotFound(format!("Unable to find a signing key that matches: \"{kid}\"")),
        None => Error::KeyNotFound(format!(
            "Unable to find a signing key that matches: \"None\" (the token has no \"kid\" header and the JWK Set holds {usable_keys} usable keys)"
        )),
    }
}

/// The `kid` of a token's header, decoding the header segment only (the
/// token is not verified). Errors as [`Token::parse`] for that segment.
pub fn unverified_kid(token: &[u8], max_len: usize) -> Result<Option<String>> {
    if token.len() > max_len {
        return Err(Error::decode(format!(
            "Invalid token: {} bytes is over the {max_len}-byte limit",
            token.len()
        )));
    }
    let Some(end) = memchr::memchr(b'.', token) else {
        return Err(Error::decode("Not enough segments"));
    };
    Ok(Header::parse(b64("header", &token[..end])?, Strictness::Skim)?.kid()?.map(str::to_owned))
}

/// The `iss` claim of a token, decoding its payload segment only (the token
/// is not verified): what a router of tokens to their issuer's own keys
/// reads. `None` when the claim is absent; an error when it is not a string,
/// or the segment is not base64url holding a JSON object.
pub fn unverified_issuer(token: &[u8], max_len: usize) -> Result<Option<String>> {
    let (_, payload, _) = split(token, max_len)?;
    let payload = b64("payload", payload)?;
    let text = std::str::from_utf8(&payload)
        .map_err(|e| Error::decode(format!("Invalid payload string: not UTF-8 ({e})")))?;
    if !text.trim_start().starts_with('{') {
        return Err(Error::decode("Invalid payload string: must be a json object"));
    }
    let [iss] = crate::pick::pick(text, &["iss"], Strictness::Full)
        .map_err(|e| Error::decode(format!("Invalid payload string: {e}")))?;
    match iss {
        None => Ok(None),
        Some(Value::String(iss)) => Ok(Some(iss)),
        Some(_) => Err(Error::InvalidIssuer("Invalid issuer".into())),
    }
}

/// The `kid` of a token that is well formed the way PyJWT's
/// `decode_complete(..., verify_signature=False)` requires: three segments,
/// base64url in each, header and payload JSON objects, no unsupported
/// `crit`. Not verified. For the PyJWT drop-in's key lookup.
pub fn checked_kid(token: &[u8], max_len: usize) -> Result<Option<String>> {
    // The same checks as Token::parse + claims(), without building the
    // claims: this runs on every lookup of the PyJWT drop-in.
    let (header, payload, signature) = split(token, max_len)?;
    // Skimmed, as PyJWT's json.loads would take it: the drop-in must not
    // refuse a token PyJWT's own jwt.decode then accepts.
    let header = Header::parse(b64("header", header)?, Strictness::Skim)?;
    refuse_unencoded_segment(&header, payload)?;
    let payload = b64("payload", payload)?;
    b64("crypto", signature)?;
    header.check()?;
    check_claims_syntax(&payload)?;
    Ok(header.kid()?.map(str::to_owned))
}

/// Checks a payload is a JSON object (as [`Claims::parse`] would accept)
/// without building it: UTF-8, then a syntax-only parse.
fn check_claims_syntax(payload: &[u8]) -> Result<()> {
    let text = std::str::from_utf8(payload)
        .map_err(|e| Error::decode(format!("Invalid payload string: not UTF-8 ({e})")))?;
    if !text.trim_start().starts_with('{') {
        return Err(Error::decode("Invalid payload string: must be a json object"));
    }
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map(drop)
        .map_err(|e| Error::decode(format!("Invalid payload string: {e}")))
}

/// The algorithms, checked: every name must be one this crate verifies, or
/// one PyJWT knows that no JWK Set can serve ([`UNSERVABLE`]: `none`, `HS*`),
/// which is accepted and left out, so a token using it is refused with
/// [`Error::InvalidAlgorithm`]. Any other name is a [`Error::Config`].
pub fn allow_list<S: AsRef<str>>(algorithms: &[S]) -> Result<Vec<Alg>> {
    if algorithms.is_empty() {
        return Err(Error::Config("algorithms must name at least one algorithm".into()));
    }
    let mut allowed = Vec::with_capacity(algorithms.len());
    for name in algorithms {
        let name = name.as_ref();
        match Alg::from_name(name) {
            Some(alg) if !allowed.contains(&alg) => allowed.push(alg),
            Some(_) => {}
            None if UNSERVABLE.contains(&name) => {}
            None => {
                return Err(Error::Config(format!(
                    "algorithm {name:?} is not supported: jwkscache verifies {} (and accepts {UNSERVABLE:?}, \
                     whose keys no JWK Set serves, refusing their tokens)",
                    names(&Alg::ALL)
                )))
            }
        }
    }
    Ok(allowed)
}

/// The three segments of a compact JWS of at most `max_len` bytes.
fn split(token: &[u8], max_len: usize) -> Result<(&[u8], &[u8], &[u8])> {
    if token.len() > max_len {
        return Err(Error::decode(format!(
            "Invalid token: {} bytes is over the {max_len}-byte limit",
            token.len()
        )));
    }
    // memchr finds the dots with SIMD: a byte-at-a-time split was ~1 µs of
    // a 1.5 KB token's decode.
    let mut dots = memchr::memchr_iter(b'.', token);
    match (dots.next(), dots.next(), dots.next()) {
        (Some(first), Some(second), None) => {
            Ok((&token[..first], &token[first + 1..second], &token[second + 1..]))
        }
        (None, _, _) | (_, None, _) => Err(Error::decode("Not enough segments")),
        (Some(_), Some(_), Some(_)) => {
            let count = memchr::memchr_iter(b'.', token).count() + 1;
            Err(Error::decode(format!("Invalid token: a compact JWS has 3 segments, this one has {count}")))
        }
    }
}

/// Strict: a segment with any byte outside the URL-safe alphabet is
/// refused. `jwkscache.bearer` relies on it (a token that verifies is
/// RFC 6750 b64token syntax, checked there only after a refusal; pinned by
/// `tests/test_properties.py`): do not loosen it.
fn b64(name: &str, segment: &[u8]) -> Result<Vec<u8>> {
    // SIMD decoding: ~4x faster than the `base64` crate on a 1.2 KB payload
    // (0.15 against 0.59 µs), and as strict (URL-safe alphabet, no padding,
    // canonical trailing bits).
    base64_simd::URL_SAFE_NO_PAD.decode_to_vec(segment).map_err(|_| {
        let why = match segment.iter().position(|&b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_')) {
            Some(offset) => format!("byte {:?} at offset {offset}", char::from(segment[offset])),
            None if segment.len() % 4 == 1 => format!("{} characters cannot be base64url", segment.len()),
            None => "the last character has bits set that encode nothing".to_owned(),
        };
        Error::decode(format!("Invalid {name} padding: not base64url without padding ({why})"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwk::JwkSet;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use serde_json::json;
    use serde_json::Map;

    const RFC7515_A2: &str = include_str!("../../../tests/vectors/rfc/rfc7515_a2_rs256_jws.json");
    const RFC7515_A3: &str = include_str!("../../../tests/vectors/rfc/rfc7515_a3_es256_jws.json");
    const RFC8037_A4: &str = include_str!("../../../tests/vectors/rfc/rfc8037_a4_ed25519_jws.json");
    const RFC7520_4_1: &str =
        include_str!("../../../tests/vectors/jose-cookbook/rfc7520_4_1.rsa_v15_signature.json");
    const RFC7520_KEY: &str =
        include_str!("../../../tests/vectors/jose-cookbook/rfc7520_3_3.rsa_public_key.json");

    fn a2() -> (JwkSet, String) {
        let vector: Value = serde_json::from_str(RFC7515_A2).unwrap();
        let set = JwkSet::from_value(&json!({"keys": [vector["jwk_public"]]}), &[Alg::RS256]).unwrap();
        (set, vector["compact"].as_str().unwrap().to_owned())
    }

    fn check(set: &JwkSet, token: &str) -> Result<Map<String, Value>> {
        let token = Token::parse(token.as_bytes(), DEFAULT_MAX_TOKEN_BYTES)?;
        let alg = token.algorithm(&[Alg::RS256])?;
        let key = set.select(token.kid()?).ok_or_else(|| Error::KeyNotFound("none".into()))?;
        token.verify(alg, key)?;
        token.claims().map(|claims| claims.map().clone())
    }

    #[test]
    fn rfc7515_a2_verifies() {
        let (set, token) = a2();
        let claims = check(&set, &token).unwrap();
        assert_eq!(claims["iss"], "joe");
        assert_eq!(claims["exp"].as_i64(), Some(1_300_819_380));
    }

    #[test]
    fn rfc7520_4_1_verifies_but_its_payload_is_not_json() {
        let vector: Value = serde_json::from_str(RFC7520_4_1).unwrap();
        let key: Value = serde_json::from_str(RFC7520_KEY).unwrap();
        let set = JwkSet::from_value(&json!({"keys": [key]}), &[Alg::RS256]).unwrap();
        let compact = vector["output"]["compact"].as_str().unwrap();
        let token = Token::parse(compact.as_bytes(), DEFAULT_MAX_TOKEN_BYTES).unwrap();
        assert_eq!(token.kid().unwrap(), Some("bilbo.baggins@hobbiton.example"));
        let alg = token.algorithm(&[Alg::RS256]).unwrap();
        token.verify(alg, set.select(token.kid().unwrap()).unwrap()).unwrap();
        assert!(matches!(token.claims(), Err(Error::Decode(m)) if m.starts_with("Invalid payload string")));
    }

    #[test]
    fn tampering_fails() {
        let (set, token) = a2();
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(br#"{"iss":"eve"}"#);
        assert_eq!(check(&set, &parts.join(".")), Err(Error::InvalidSignature));
        let (_, token) = a2();
        let mut sig = URL_SAFE_NO_PAD.decode(token.rsplit('.').next().unwrap()).unwrap();
        sig[10] ^= 1;
        let forged = format!("{}.{}", token.rsplit_once('.').unwrap().0, URL_SAFE_NO_PAD.encode(sig));
        assert_eq!(check(&set, &forged), Err(Error::InvalidSignature));
    }

    #[test]
    fn structural_errors() {
        let (set, token) = a2();
        let (head, rest) = token.split_once('.').unwrap();
        let cases: Vec<(String, &str)> = vec![
            ("a.b".into(), "Not enough segments"),
            (format!("{token}.x"), "3 segments"),
            (format!("{head}=.{rest}"), "Invalid header padding"),
            (format!("{head}.{rest}="), "Invalid crypto padding"),
            (format!("{}.{rest}", URL_SAFE_NO_PAD.encode("[1]")), "must be a json object"),
            (format!("{}.{rest}", URL_SAFE_NO_PAD.encode("{")), "Invalid header string"),
            (format!("{}.{rest}", URL_SAFE_NO_PAD.encode(b"\xff\xfe")), "Invalid header string"),
            ("x".repeat(DEFAULT_MAX_TOKEN_BYTES + 1), "limit"),
        ];
        for (token, needle) in cases {
            match check(&set, &token) {
                Err(Error::Decode(m)) => assert!(m.contains(needle), "{m} lacks {needle}"),
                other => panic!("{token:.40}: {other:?}"),
            }
        }
    }

    #[test]
    fn header_rules() {
        let (set, token) = a2();
        let rest = token.split_once('.').unwrap().1;
        let with = |header: Value| format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header.to_string()));
        for alg in ["none", "HS256", "RS512", "rs256"] {
            let err = check(&set, &with(json!({ "alg": alg }))).unwrap_err();
            assert!(matches!(err, Error::InvalidAlgorithm(_)), "{alg}");
        }
        assert!(matches!(check(&set, &with(json!({}))), Err(Error::InvalidAlgorithm(_))));
        assert!(matches!(
            check(&set, &with(json!({"alg": "RS256", "crit": ["exp"]}))),
            Err(Error::InvalidToken(m)) if m.contains("Unsupported critical extension: exp")
        ));
        assert!(matches!(
            check(&set, &with(json!({"alg": "RS256", "kid": 7}))),
            Err(Error::InvalidToken(m)) if m.contains("must be a string")
        ));
    }

    #[test]
    fn deeply_nested_header_is_a_decode_error() {
        let (set, token) = a2();
        let rest = token.split_once('.').unwrap().1;
        let nested = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        let bad = format!("{}.{rest}", URL_SAFE_NO_PAD.encode(nested));
        assert!(matches!(check(&set, &bad), Err(Error::Decode(_))));
    }

    #[test]
    fn checked_kid_is_as_strict_as_pyjwt_parse() {
        let (_, token) = a2();
        assert_eq!(checked_kid(token.as_bytes(), DEFAULT_MAX_TOKEN_BYTES), Ok(None));
        let (_, rest) = token.split_once('.').unwrap();
        let sig = rest.rsplit_once('.').unwrap().1;
        let enc = |text: &[u8]| URL_SAFE_NO_PAD.encode(text);
        let with =
            |header: &str, payload: &[u8]| format!("{}.{}.{sig}", enc(header.as_bytes()), enc(payload));
        let ok = with(r#"{"alg":"RS256","kid":"k"}"#, b"{}");
        assert_eq!(checked_kid(ok.as_bytes(), DEFAULT_MAX_TOKEN_BYTES), Ok(Some("k".into())));
        for (bad, needle) in [
            (with(r#"{"alg":"RS256","crit":["b64"]}"#, b"{}"), "Critical extension 'b64' is missing"),
            (
                with(r#"{"alg":"RS256","crit":["b64","x"],"b64":true}"#, b"{}"),
                "Unsupported critical extension: x",
            ),
            (with(r#"{"kid":7}"#, b"{}"), "must be a string"),
            (with(r#"["kid"]"#, b"{}"), "must be a json object"),
            (with("{}", b"[1]"), "must be a json object"),
            (with("{}", b"{\"a\": 1"), "Invalid payload string"),
            (with("{}", b"{\"a\": \"\xff\"}"), "not UTF-8"),
            (format!("{ok}\n"), "Invalid crypto padding"),
            (format!("{ok}.x"), "3 segments"),
            ("a.b".into(), "Not enough segments"),
        ] {
            let err = checked_kid(bad.as_bytes(), DEFAULT_MAX_TOKEN_BYTES).unwrap_err();
            assert!(err.to_string().contains(needle), "{bad:.30}: {err}");
        }
    }

    #[test]
    fn allow_list_names_verifiable_algorithms() {
        assert_eq!(allow_list(&["RS256", "PS512"]).unwrap(), vec![Alg::RS256, Alg::PS512]);
        assert_eq!(allow_list(&["ES256", "EdDSA", "ES256"]).unwrap(), vec![Alg::ES256, Alg::EdDSA]);
        // PyJWT's names for what a JWK Set never serves: accepted, left out.
        assert_eq!(allow_list(&["RS256", "HS256", "none"]).unwrap(), vec![Alg::RS256]);
        assert_eq!(allow_list(&["HS512"]).unwrap(), Vec::<Alg>::new());
        for bad in ["rs256", "ES256K", "HS1", ""] {
            assert!(matches!(allow_list(&[bad]), Err(Error::Config(m)) if m.contains(&format!("{bad:?}"))));
        }
        assert!(allow_list::<&str>(&[]).is_err());
    }

    #[test]
    fn unverified_issuer_reads_the_payload_only() {
        let (_, token) = a2();
        assert_eq!(unverified_issuer(token.as_bytes(), DEFAULT_MAX_TOKEN_BYTES), Ok(Some("joe".into())));
        let enc = |text: &str| URL_SAFE_NO_PAD.encode(text);
        let with = |payload: &str| format!("{}.{}.c2ln", enc(r#"{"alg":"RS256"}"#), enc(payload));
        assert_eq!(unverified_issuer(with("{}").as_bytes(), 100), Ok(None));
        assert!(matches!(
            unverified_issuer(with(r#"{"iss":7}"#).as_bytes(), 100),
            Err(Error::InvalidIssuer(_))
        ));
        for bad in [with("[1]"), with("{"), "a.b".into(), with(&"x".repeat(200))] {
            assert!(matches!(unverified_issuer(bad.as_bytes(), 100), Err(Error::Decode(_))), "{bad}");
        }
    }

    #[test]
    fn unservable_algorithms_are_refused_per_token() {
        let (set, token) = a2();
        let rest = token.split_once('.').unwrap().1;
        let allowed = allow_list(&["RS256", "HS256", "none"]).unwrap();
        for alg in ["HS256", "none"] {
            let forged = format!("{}.{rest}", URL_SAFE_NO_PAD.encode(json!({ "alg": alg }).to_string()));
            let parsed = Token::parse(forged.as_bytes(), DEFAULT_MAX_TOKEN_BYTES).unwrap();
            assert!(matches!(parsed.algorithm(&allowed), Err(Error::InvalidAlgorithm(_))), "{alg}");
        }
        assert!(check(&set, &token).is_ok());
    }

    #[test]
    fn rfc7515_a3_es256_verifies_and_binds_its_curve() {
        let vector: Value = serde_json::from_str(RFC7515_A3).unwrap();
        let mut jwk = vector["jwk"].clone();
        jwk.as_object_mut().unwrap().remove("d");
        let set = JwkSet::from_value(&json!({"keys": [jwk]}), &[Alg::ES256]).unwrap();
        let compact = vector["compact"].as_str().unwrap();
        let token = Token::parse(compact.as_bytes(), DEFAULT_MAX_TOKEN_BYTES).unwrap();
        let alg = token.algorithm(&[Alg::ES256, Alg::ES384]).unwrap();
        let key = set.select(None).unwrap();
        token.verify(alg, key).unwrap();
        assert_eq!(token.claims().unwrap().map()["iss"], "joe");
        // The same signature DER-encoded (r and s as INTEGERs) is refused.
        let raw = URL_SAFE_NO_PAD.decode(compact.rsplit('.').next().unwrap()).unwrap();
        let der = der_signature(&raw[..32], &raw[32..]);
        let (input, _) = compact.rsplit_once('.').unwrap();
        let der_token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(der));
        let parsed = Token::parse(der_token.as_bytes(), DEFAULT_MAX_TOKEN_BYTES).unwrap();
        assert_eq!(parsed.verify(Alg::ES256, key), Err(Error::InvalidSignature));
        // Its token header claims ES384: the P-256 key refuses it.
        assert!(
            matches!(token.verify(Alg::ES384, key), Err(Error::InvalidAlgorithm(m)) if m.contains("P-256"))
        );
        // A P-256 key that states alg ES384 is skipped: the alg is bound to the curve.
        let mut lying = vector["jwk"].clone();
        lying["alg"] = json!("ES384");
        let err = JwkSet::from_value(&json!({"keys": [lying]}), &[Alg::ES384]).unwrap_err();
        assert!(err.to_string().contains("does not fit the key"), "{err}");
    }

    #[test]
    fn rfc8037_a4_a5_ed25519_verifies() {
        let vector: Value = serde_json::from_str(RFC8037_A4).unwrap();
        let mut jwk = vector["jwk"].clone();
        jwk.as_object_mut().unwrap().remove("d");
        let set = JwkSet::from_value(&json!({"keys": [jwk]}), &[Alg::EdDSA]).unwrap();
        let compact = vector["compact"].as_str().unwrap();
        let token = Token::parse(compact.as_bytes(), DEFAULT_MAX_TOKEN_BYTES).unwrap();
        let alg = token.algorithm(&[Alg::EdDSA]).unwrap();
        let key = set.select(None).unwrap();
        // A.5: the signature validates; the payload is text, not claims.
        token.verify(alg, key).unwrap();
        assert_eq!(token.payload(), b"Example of Ed25519 signing");
        assert!(matches!(token.claims(), Err(Error::Decode(_))));
        let mut parts: Vec<&str> = compact.split('.').collect();
        let other = URL_SAFE_NO_PAD.encode("Example of Ed25519 signinG");
        parts[1] = &other;
        let forged_text = parts.join(".");
        let forged = Token::parse(forged_text.as_bytes(), DEFAULT_MAX_TOKEN_BYTES).unwrap();
        assert_eq!(forged.verify(alg, key), Err(Error::InvalidSignature));
        assert!(matches!(token.algorithm(&[Alg::ES256]), Err(Error::InvalidAlgorithm(_))));
    }

    /// `SEQUENCE { INTEGER r, INTEGER s }`, as X.509 and OpenSSL write ECDSA.
    fn der_signature(r: &[u8], s: &[u8]) -> Vec<u8> {
        let int = |v: &[u8]| {
            let v = &v[v.iter().position(|&b| b != 0).unwrap_or(v.len() - 1)..];
            let mut out = vec![2];
            if v[0] & 0x80 != 0 {
                out.push(u8::try_from(v.len() + 1).unwrap());
                out.push(0);
            } else {
                out.push(u8::try_from(v.len()).unwrap());
            }
            out.extend_from_slice(v);
            out
        };
        let body = [int(r), int(s)].concat();
        [vec![0x30, u8::try_from(body.len()).unwrap()], body].concat()
    }

    #[test]
    fn base64url_is_strict_and_says_why() {
        assert_eq!(b64("payload", b"QUFB").unwrap(), b"AAA");
        assert_eq!(b64("payload", b"_-8").unwrap(), [0xff, 0xef]);
        let why = |segment: &[u8]| match b64("payload", segment) {
            Err(Error::Decode(message)) => message,
            other => panic!("{segment:?}: {other:?}"),
        };
        assert!(why(b"QUF=").ends_with("(byte '=' at offset 3)"), "{}", why(b"QUF="));
        assert!(why(b"Q+8").contains("byte '+' at offset 1"));
        assert!(why(b"QUFBQ").ends_with("(5 characters cannot be base64url)"));
        assert!(why(b"QR").ends_with("(the last character has bits set that encode nothing)"));
        assert!(why(b"QR").starts_with("Invalid payload padding"));
    }
}
