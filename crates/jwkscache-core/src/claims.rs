//! A token's claims, and their validation with PyJWT's semantics, order and
//! messages.
//!
//! Differences from PyJWT, on purpose: a NumericDate must be a JSON number
//! (PyJWT also takes numeric strings and booleans through `int()`).

use std::fmt;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::errors::{Error, Result};

/// The registered claims validation reads, in [`Registered`] slot order.
pub const REGISTERED: [&str; 7] = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];

/// The registered claims' values, one slot per name (see [`Claims::slot`]).
pub type Registered = [Option<Value>; REGISTERED.len()];

/// A token's claims: the payload's JSON text, with the registered claims
/// parsed out of it for validation.
///
/// The registered claims are parsed on first use ([`Claims::registered`]),
/// or handed over by a caller that parsed the text itself
/// ([`Claims::set_registered`]): the Python bindings build their dict
/// straight from [`Claims::json`] and pick up the registered claims on the
/// way, so a decode parses its payload once and into no intermediate tree.
/// The whole object as a map is built only when asked for ([`Claims::map`]).
pub struct Claims {
    json: String,
    registered: OnceLock<Result<Registered>>,
    /// `exp`, `nbf`, `iat` as NumericDates, read once (a token kept by the
    /// verified-token cache is validated again on every hit).
    dates: OnceLock<Dates>,
    map: OnceLock<Map<String, Value>>,
}

/// `exp`, `nbf` and `iat`: `None` when absent, `Some(None)` when present
/// but not a finite number.
type Dates = [Option<Option<f64>>; 3];

impl Claims {
    /// Claims over a payload that is UTF-8 and starts as a JSON object (with
    /// PyJWT's messages); the rest of its syntax is checked by the first
    /// parse ([`Claims::registered`], or the caller's own).
    pub fn new(payload: Vec<u8>) -> Result<Self> {
        let json = String::from_utf8(payload)
            .map_err(|e| Error::decode(format!("Invalid payload string: not UTF-8 ({})", e.utf8_error())))?;
        if !json.trim_start().starts_with('{') {
            return Err(Error::decode("Invalid payload string: must be a json object"));
        }
        Ok(Self { json, registered: OnceLock::new(), dates: OnceLock::new(), map: OnceLock::new() })
    }

    /// [`Claims::new`], then the whole payload checked to be one JSON
    /// object and its registered claims parsed.
    pub fn parse(payload: Vec<u8>) -> Result<Self> {
        let claims = Self::new(payload)?;
        claims.registered()?;
        Ok(claims)
    }

    /// The payload's JSON text.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The slot of a registered claim's name in [`Registered`].
    pub fn slot(name: &str) -> Option<usize> {
        REGISTERED.iter().position(|r| *r == name)
    }

    /// The registered claims, parsing the payload on first use (a key given
    /// twice: the last wins, as in `json.loads`); a syntax error in the
    /// payload is a `Decode` error, on this call and every later one.
    pub fn registered(&self) -> Result<&Registered> {
        self.registered
            .get_or_init(|| {
                crate::pick::pick(&self.json, &REGISTERED, crate::pick::Strictness::Full)
                    .map_err(|e| payload_error(&self.json, &e))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Hands over the registered claims of a parse of [`Claims::json`] that
    /// succeeded, made by the caller (as [`Claims::registered`] would find
    /// them). Ignored if they are known already.
    pub fn set_registered(&self, registered: Registered) {
        let _ = self.registered.set(Ok(registered));
    }

    /// `exp`, `nbf` and `iat` as NumericDates (see [`Dates`]).
    fn dates(&self) -> Result<&Dates> {
        let registered = self.registered()?;
        Ok(self.dates.get_or_init(|| {
            ["exp", "nbf", "iat"].map(|name| {
                let slot = Self::slot(name).expect("a registered claim");
                registered[slot].as_ref().map(numeric_date)
            })
        }))
    }

    /// Whether the registered claims are known (parsed or handed over).
    pub fn has_registered(&self) -> bool {
        self.registered.get().is_some()
    }

    /// One claim's value (`None` also when the payload does not parse:
    /// [`Validation::validate`] reports that first).
    pub fn get(&self, name: &str) -> Option<&Value> {
        match Self::slot(name) {
            Some(slot) => self.registered().ok()?[slot].as_ref(),
            None => self.map().get(name),
        }
    }

    /// Every claim, parsed on first use.
    pub fn map(&self) -> &Map<String, Value> {
        // Empty when the payload does not parse: a `require`d claim is then
        // missing (fail closed), though `validate` reports the syntax first.
        self.map.get_or_init(|| match crate::pick::pick_all(&self.json) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        })
    }
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.json)
    }
}

/// What to check, with PyJWT's option names. `Default` is PyJWT's default.
#[derive(Debug, Clone, PartialEq)]
pub struct Validation {
    pub verify_exp: bool,
    pub verify_nbf: bool,
    pub verify_iat: bool,
    pub verify_aud: bool,
    pub verify_iss: bool,
    pub verify_sub: bool,
    pub verify_jti: bool,
    /// `aud` must equal the one expected audience, both as strings.
    pub strict_aud: bool,
    /// Claims that must be present and not null.
    pub require: Vec<String>,
    /// Accepted audiences (`None`: the token must carry no `aud`).
    pub audience: Option<Vec<String>>,
    /// `audience` was given as a single string (matters for `strict_aud`).
    pub audience_is_str: bool,
    /// Accepted issuers (`None`: `iss` is not checked).
    pub issuer: Option<Vec<String>>,
    /// Expected `sub`, if any.
    pub subject: Option<String>,
    /// Clock skew allowed, in seconds.
    pub leeway: f64,
}

impl Default for Validation {
    fn default() -> Self {
        Self {
            verify_exp: true,
            verify_nbf: true,
            verify_iat: true,
            verify_aud: true,
            verify_iss: true,
            verify_sub: true,
            verify_jti: true,
            strict_aud: false,
            require: Vec::new(),
            audience: None,
            audience_is_str: false,
            issuer: None,
            subject: None,
            leeway: 0.0,
        }
    }
}

impl Validation {
    /// Checks `claims` at time `now` (seconds since the Unix epoch).
    pub fn validate(&self, claims: &Claims, now: f64) -> Result<()> {
        let [exp, nbf, iat] = *claims.dates()?;
        for claim in &self.require {
            if claims.get(claim).is_none_or(Value::is_null) {
                return Err(Error::MissingClaim(claim.clone()));
            }
        }
        if self.verify_iat {
            if let Some(iat) = iat {
                let iat = iat.ok_or_else(|| {
                    Error::InvalidIssuedAt("Issued At claim (iat) must be an integer.".into())
                })?;
                if iat > now + self.leeway {
                    return Err(Error::Immature("The token is not yet valid (iat)"));
                }
            }
        }
        if self.verify_nbf {
            if let Some(nbf) = nbf {
                let nbf = nbf.ok_or_else(|| Error::decode("Not Before claim (nbf) must be an integer."))?;
                if nbf > now + self.leeway {
                    return Err(Error::Immature("The token is not yet valid (nbf)"));
                }
            }
        }
        if self.verify_exp {
            if let Some(exp) = exp {
                let exp =
                    exp.ok_or_else(|| Error::decode("Expiration Time claim (exp) must be an integer."))?;
                if exp <= now - self.leeway {
                    return Err(Error::Expired);
                }
            }
        }
        if self.verify_iss {
            self.check_issuer(claims)?;
        }
        if self.verify_aud {
            self.check_audience(claims)?;
        }
        if self.verify_sub {
            match claims.get("sub") {
                Some(Value::String(sub)) if self.subject.as_ref().is_some_and(|expected| expected != sub) => {
                    return Err(Error::InvalidSubject("Invalid subject".into()));
                }
                Some(Value::String(_)) | None => {}
                Some(_) => return Err(Error::InvalidSubject("Subject must be a string".into())),
            }
        }
        if self.verify_jti && claims.get("jti").is_some_and(|jti| !jti.is_string()) {
            return Err(Error::InvalidJti("JWT ID must be a string".into()));
        }
        Ok(())
    }

    fn check_issuer(&self, claims: &Claims) -> Result<()> {
        let Some(expected) = &self.issuer else {
            return Ok(());
        };
        match claims.get("iss") {
            None => Err(Error::MissingClaim("iss".into())),
            Some(Value::String(iss)) if expected.iter().any(|e| e == iss) => Ok(()),
            Some(Value::String(_)) => Err(Error::InvalidIssuer("Invalid issuer".into())),
            Some(_) => Err(Error::InvalidIssuer("Payload Issuer (iss) must be a string".into())),
        }
    }

    fn check_audience(&self, claims: &Claims) -> Result<()> {
        let present = claims.get("aud").filter(|aud| !is_falsy(aud));
        let Some(expected) = &self.audience else {
            return match present {
                None => Ok(()),
                Some(_) => Err(Error::InvalidAudience("Invalid audience".into())),
            };
        };
        let Some(aud) = present else {
            return Err(Error::MissingClaim("aud".into()));
        };
        if self.strict_aud {
            if !self.audience_is_str || expected.len() != 1 {
                return Err(Error::InvalidAudience("Invalid audience (strict)".into()));
            }
            let Value::String(aud) = aud else {
                return Err(Error::InvalidAudience("Invalid claim format in token (strict)".into()));
            };
            return if *aud == expected[0] {
                Ok(())
            } else {
                Err(Error::InvalidAudience("Audience doesn't match (strict)".into()))
            };
        }
        let matches = match aud {
            Value::String(aud) => expected.iter().any(|e| e == aud),
            Value::Array(list) => {
                if !list.iter().all(Value::is_string) {
                    return Err(Error::InvalidAudience("Invalid claim format in token".into()));
                }
                expected.iter().any(|e| list.iter().any(|a| a == e))
            }
            _ => return Err(Error::InvalidAudience("Invalid claim format in token".into())),
        };
        if matches {
            Ok(())
        } else {
            Err(Error::InvalidAudience("Audience doesn't match".into()))
        }
    }
}

/// A NumericDate as PyJWT's `int()` sees it (truncated); `None` if not a
/// finite JSON number.
/// The error for a payload that does not parse, in PyJWT's words. Python's
/// `json` (PyJWT's parser) reads `NaN`, `Infinity` and `-Infinity`, so for
/// PyJWT such an `exp`, `nbf` or `iat` is a claim that is not an integer,
/// with that claim's message and class; here, as JSON has no such values,
/// the payload does not parse, and the message says which claim it was.
pub fn payload_error(json: &str, error: &serde_json::Error) -> Error {
    let generic = || Error::decode(format!("Invalid payload string: {error}"));
    let Some(offset) = error_offset(json, error) else { return generic() };
    let (before, rest) = json.split_at(offset);
    let negative = before.ends_with('-');
    // Exactly Python's literals (`-NaN` is not one), then the member's end.
    let Some(after) =
        rest.strip_prefix("Infinity").or_else(|| rest.strip_prefix("NaN").filter(|_| !negative))
    else {
        return generic();
    };
    if !after.trim_start().starts_with([',', '}']) {
        return generic();
    }
    match top_level_member_before(before) {
        Some("iat") => Error::InvalidIssuedAt("Issued At claim (iat) must be an integer.".into()),
        Some("nbf") => Error::decode("Not Before claim (nbf) must be an integer."),
        Some("exp") => Error::decode("Expiration Time claim (exp) must be an integer."),
        _ => generic(),
    }
}

/// The byte offset serde_json's error points at (line and column, 1-based).
fn error_offset(json: &str, error: &serde_json::Error) -> Option<usize> {
    let line_start: usize = json.split_inclusive('\n').take(error.line().checked_sub(1)?).map(str::len).sum();
    let offset = line_start + error.column().checked_sub(1)?;
    json.is_char_boundary(offset).then_some(offset)
}

/// The name of the top-level member whose value starts where `before` ends
/// (`"name": -`, spaces allowed), if it is a plain name in the top object.
fn top_level_member_before(before: &str) -> Option<&str> {
    let head = before.trim_end().strip_suffix('-').unwrap_or(before).trim_end().strip_suffix(':')?;
    let head = head.trim_end().strip_suffix('"')?;
    let name_start = head.rfind('"')?;
    let name = &head[name_start + 1..];
    if name.contains('\\') {
        return None;
    }
    // The name's opening quote must sit directly inside the top object.
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for byte in head[..name_start].bytes() {
        match (in_string, escaped, byte) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') | (false, _, b'"') => in_string = !in_string,
            (false, _, b'{' | b'[') => depth += 1,
            (false, _, b'}' | b']') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    (depth == 1 && !in_string).then_some(name)
}

fn numeric_date(value: &Value) -> Option<f64> {
    value.as_f64().filter(|v| v.is_finite()).map(f64::trunc)
}

/// Python's truthiness of the JSON value (PyJWT tests `not payload["aud"]`).
fn is_falsy(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

#[cfg(test)]
mod payload_error_tests {
    use super::*;

    fn error_for(json: &str) -> Error {
        let error = serde_json::from_str::<Value>(json).unwrap_err();
        payload_error(json, &error)
    }

    #[test]
    fn non_finite_dates_name_their_claim_as_pyjwt_does() {
        assert_eq!(
            error_for(r#"{"sub":"a","iat": Infinity}"#),
            Error::InvalidIssuedAt("Issued At claim (iat) must be an integer.".into())
        );
        assert_eq!(
            error_for(r#"{"nbf":-Infinity}"#),
            Error::decode("Not Before claim (nbf) must be an integer.")
        );
        assert_eq!(
            error_for("{\"x\":1,\n \"exp\" :\n NaN}"),
            Error::decode("Expiration Time claim (exp) must be an integer.")
        );
    }

    #[test]
    fn other_syntax_errors_stay_generic() {
        for json in [
            r#"{"x": {"iat": Infinity}}"#,
            r#"{"s": "{", "other": NaN}"#,
            r#"{"iat": Inf}"#,
            r#"{"iat": 1,}"#,
            r#"{"a\"iat": NaN}"#,
            r#"{"iat": -NaN}"#,
            r#"{"iat": NaNx}"#,
            r#"{"iat": Infinityy}"#,
            r#"{"iat": Infinity 1}"#,
        ] {
            match error_for(json) {
                Error::Decode(message) => {
                    assert!(message.starts_with("Invalid payload string"), "{json}: {message}");
                }
                other => panic!("{json}: {other:?}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: f64 = 1_700_000_000.0;

    #[allow(clippy::needless_pass_by_value)] // called with json!(...) literals
    fn claims(value: Value) -> Claims {
        assert!(value.is_object());
        Claims::parse(value.to_string().into_bytes()).unwrap()
    }

    #[test]
    fn exp_boundary_with_and_without_leeway() {
        let v = Validation::default();
        assert_eq!(v.validate(&claims(json!({"exp": NOW})), NOW), Err(Error::Expired));
        assert!(v.validate(&claims(json!({"exp": NOW + 1.0})), NOW).is_ok());
        let lenient = Validation { leeway: 10.0, ..Validation::default() };
        assert!(lenient.validate(&claims(json!({"exp": NOW - 9.0})), NOW).is_ok());
        assert_eq!(lenient.validate(&claims(json!({"exp": NOW - 10.0})), NOW), Err(Error::Expired));
        let off = Validation { verify_exp: false, ..Validation::default() };
        assert!(off.validate(&claims(json!({"exp": 0})), NOW).is_ok());
        assert!(matches!(v.validate(&claims(json!({"exp": "soon"})), NOW), Err(Error::Decode(_))));
        assert!(matches!(v.validate(&claims(json!({"exp": true})), NOW), Err(Error::Decode(_))));
    }

    #[test]
    fn nbf_and_iat_boundaries() {
        let v = Validation::default();
        assert!(v.validate(&claims(json!({"nbf": NOW, "iat": NOW})), NOW).is_ok());
        assert_eq!(
            v.validate(&claims(json!({"nbf": NOW + 1.0})), NOW),
            Err(Error::Immature("The token is not yet valid (nbf)"))
        );
        assert_eq!(
            v.validate(&claims(json!({"iat": NOW + 1.0})), NOW),
            Err(Error::Immature("The token is not yet valid (iat)"))
        );
        let lenient = Validation { leeway: 5.0, ..Validation::default() };
        assert!(lenient.validate(&claims(json!({"nbf": NOW + 5.0, "iat": NOW + 5.0})), NOW).is_ok());
        assert!(matches!(v.validate(&claims(json!({"iat": "x"})), NOW), Err(Error::InvalidIssuedAt(_))));
        assert!(matches!(v.validate(&claims(json!({"nbf": null})), NOW), Err(Error::Decode(_))));
        // A huge integer is a very late date, not an error.
        let huge = Claims::parse(br#"{"exp": 123456789012345678901234567890}"#.to_vec()).unwrap();
        assert!(v.validate(&huge, NOW).is_ok());
    }

    #[test]
    fn audience_rules() {
        let want = |aud: &[&str]| Validation {
            audience: Some(aud.iter().map(|s| (*s).to_owned()).collect()),
            audience_is_str: aud.len() == 1,
            ..Validation::default()
        };
        let v = want(&["api"]);
        assert!(v.validate(&claims(json!({"aud": "api"})), NOW).is_ok());
        assert!(v.validate(&claims(json!({"aud": ["x", "api"]})), NOW).is_ok());
        assert!(want(&["x", "api"]).validate(&claims(json!({"aud": "api"})), NOW).is_ok());
        assert_eq!(
            v.validate(&claims(json!({"aud": "other"})), NOW),
            Err(Error::InvalidAudience("Audience doesn't match".into()))
        );
        assert_eq!(v.validate(&claims(json!({})), NOW), Err(Error::MissingClaim("aud".into())));
        assert_eq!(v.validate(&claims(json!({"aud": []})), NOW), Err(Error::MissingClaim("aud".into())));
        assert!(matches!(v.validate(&claims(json!({"aud": [1]})), NOW), Err(Error::InvalidAudience(_))));
        assert!(matches!(v.validate(&claims(json!({"aud": 5})), NOW), Err(Error::InvalidAudience(_))));
        // No audience expected but the token names one.
        let none = Validation::default();
        assert!(matches!(none.validate(&claims(json!({"aud": "api"})), NOW), Err(Error::InvalidAudience(_))));
        assert!(none.validate(&claims(json!({"aud": ""})), NOW).is_ok());
        // Strict.
        let strict = Validation { strict_aud: true, ..want(&["api"]) };
        assert!(strict.validate(&claims(json!({"aud": "api"})), NOW).is_ok());
        assert!(matches!(
            strict.validate(&claims(json!({"aud": ["api"]})), NOW),
            Err(Error::InvalidAudience(_))
        ));
        let strict_list = Validation { strict_aud: true, audience_is_str: false, ..want(&["api"]) };
        assert!(matches!(
            strict_list.validate(&claims(json!({"aud": "api"})), NOW),
            Err(Error::InvalidAudience(_))
        ));
    }

    #[test]
    fn issuer_subject_jti_require() {
        let v = Validation { issuer: Some(vec!["a".into(), "b".into()]), ..Validation::default() };
        assert!(v.validate(&claims(json!({"iss": "b"})), NOW).is_ok());
        assert!(matches!(v.validate(&claims(json!({"iss": "c"})), NOW), Err(Error::InvalidIssuer(_))));
        assert!(matches!(v.validate(&claims(json!({"iss": 1})), NOW), Err(Error::InvalidIssuer(_))));
        assert_eq!(v.validate(&claims(json!({})), NOW), Err(Error::MissingClaim("iss".into())));

        let v = Validation { subject: Some("me".into()), ..Validation::default() };
        assert!(v.validate(&claims(json!({"sub": "me"})), NOW).is_ok());
        assert!(v.validate(&claims(json!({})), NOW).is_ok());
        assert!(matches!(v.validate(&claims(json!({"sub": "you"})), NOW), Err(Error::InvalidSubject(_))));
        assert!(matches!(v.validate(&claims(json!({"sub": 1})), NOW), Err(Error::InvalidSubject(_))));
        assert!(matches!(v.validate(&claims(json!({"jti": 1})), NOW), Err(Error::InvalidJti(_))));

        let v = Validation { require: vec!["exp".into(), "sub".into()], ..Validation::default() };
        assert_eq!(
            v.validate(&claims(json!({"exp": NOW + 9.0})), NOW),
            Err(Error::MissingClaim("sub".into()))
        );
        assert_eq!(
            v.validate(&claims(json!({"exp": NOW + 9.0, "sub": null})), NOW),
            Err(Error::MissingClaim("sub".into()))
        );
    }

    #[test]
    fn claims_parse_checks_the_whole_object() {
        let parsed =
            Claims::parse(br#" {"exp": 1, "x": {"deep": [1, "a"]}, "\u0065xp": 2, "sub": "s"}"#.to_vec())
                .unwrap();
        // An escaped key is the same claim; a key given twice: the last wins.
        assert_eq!(parsed.get("exp"), Some(&json!(2)));
        assert_eq!(parsed.get("x"), Some(&json!({"deep": [1, "a"]})));
        assert_eq!(parsed.get("sub"), Some(&json!("s")));
        assert_eq!(parsed.get("iss"), None);
        assert_eq!(parsed.map().len(), 3);
        assert!(parsed.json().starts_with(" {"));
        let rejects = |payload: &[u8], start: &str| match Claims::parse(payload.to_vec()) {
            Err(Error::Decode(message)) => assert!(message.starts_with(start), "{message}"),
            other => panic!("{payload:?}: {other:?}"),
        };
        rejects(b"[1]", "Invalid payload string: must be a json object");
        rejects(b"\"x\"", "Invalid payload string: must be a json object");
        rejects(b"{\"a\": 1} x", "Invalid payload string: trailing characters");
        rejects(b"{\"a\": }", "Invalid payload string");
        rejects(b"{\"a\": \"\xff\"}", "Invalid payload string: not UTF-8");
        rejects(b"{\"a\": {\"b\": [1, {\"c\": nul}]}}", "Invalid payload string");
    }

    #[test]
    fn require_reaches_unregistered_claims() {
        let v = Validation { require: vec!["tenant".into()], ..Validation::default() };
        assert!(v.validate(&claims(json!({"tenant": "t1"})), NOW).is_ok());
        assert_eq!(
            v.validate(&claims(json!({"tenant": null})), NOW),
            Err(Error::MissingClaim("tenant".into()))
        );
        assert_eq!(v.validate(&claims(json!({})), NOW), Err(Error::MissingClaim("tenant".into())));
    }

    #[test]
    fn registered_claims_parse_once_or_come_from_the_caller() {
        // Syntax past the first byte is checked by the first parse.
        let broken = Claims::new(br#"{"exp": 1, "a": [1,]}"#.to_vec()).unwrap();
        assert!(!broken.has_registered());
        let error = Validation::default().validate(&broken, NOW).unwrap_err();
        assert!(matches!(&error, Error::Decode(m) if m.starts_with("Invalid payload string")), "{error:?}");
        assert_eq!(Validation::default().validate(&broken, NOW), Err(error));
        assert!(broken.get("exp").is_none());

        // A caller that parsed the text hands its registered claims over.
        let handed = Claims::new(br#"{"exp": 1, "sub": "s"}"#.to_vec()).unwrap();
        let mut registered = Registered::default();
        registered[Claims::slot("sub").unwrap()] = Some(json!("s"));
        registered[Claims::slot("exp").unwrap()] = Some(json!(NOW + 60.0));
        handed.set_registered(registered);
        assert!(handed.has_registered());
        assert_eq!(handed.get("exp"), Some(&json!(NOW + 60.0)));
        assert!(Validation::default().validate(&handed, NOW).is_ok());
        assert_eq!(Claims::slot("kubernetes.io"), None);
    }
}
