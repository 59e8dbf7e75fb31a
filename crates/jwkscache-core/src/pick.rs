//! Picking named members out of a JSON object without building the rest.
//!
//! A token's header and claims are parsed for the few members the verifier
//! reads (`alg`, `kid`, `crit`; the registered claims); every other member
//! is skipped, after the same checks a full parse makes ([`Strictness`]:
//! escapes, the number marker below), or skimmed for JSON syntax only, as
//! lenient as Python's `json` module. A name given twice: the last wins, as
//! in Python's `json.loads`.
//!
//! serde_json (with `arbitrary_precision`, which keeps big integers exact)
//! hands a float or a big integer to a visitor as a one-entry object under
//! the member name [`NUMBER_MARKER`], the number's text an owned string. Its
//! own `Value` reads a literal object of that shape in a token as a number
//! too; [`ValueSeed`] tells the two apart (the parser lends a literal's text,
//! never hands it over owned) and refuses the literal.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// serde_json's private member name for a number handed over as text.
pub const NUMBER_MARKER: &str = "$serde_json::private::Number";

/// The error for a literal member named [`NUMBER_MARKER`].
pub fn reserved_member<E: de::Error>() -> E {
    E::custom(format_args!("the member name {NUMBER_MARKER:?} is reserved"))
}

/// How the members that are not picked are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// As a full parse would: every string's escapes decoded (a lone UTF-16
    /// surrogate refused), the number marker refused.
    Full,
    /// JSON syntax only (what PyJWT's `json.loads` accepts, and more): for
    /// the PyJWT drop-in's lookup, which must not refuse what PyJWT takes.
    Skim,
}

/// Parses `json`, one JSON object and nothing after it, into one slot per
/// name of `names`; the other members checked as `strictness` says.
pub fn pick<const N: usize>(
    json: &str,
    names: &[&str; N],
    strictness: Strictness,
) -> std::result::Result<[Option<Value>; N], serde_json::Error> {
    let mut slots = std::array::from_fn(|_| None);
    let mut deserializer = serde_json::Deserializer::from_str(json);
    Picker { names, slots: &mut slots, strictness }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(slots)
}

/// Checks that no object in `json` names a member twice (a JWK Set read by
/// its last `keys` would trust what a proxy reading the first never saw).
pub fn refuse_duplicate_members(json: &[u8]) -> std::result::Result<(), serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    Unique.deserialize(&mut deserializer)?;
    deserializer.end()
}

/// Walks a JSON value, refusing an object that names a member twice.
#[derive(Clone, Copy)]
struct Unique;

impl<'de> DeserializeSeed<'de> for Unique {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> std::result::Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Unique {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> std::result::Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> std::result::Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> std::result::Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> std::result::Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> std::result::Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> std::result::Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(name) = map.next_key::<String>()? {
            if !seen.insert(name.clone()) {
                return Err(de::Error::custom(format_args!("the member {name:?} is given twice")));
            }
            map.next_value_seed(self)?;
        }
        Ok(())
    }
}

/// Parses `json`, one JSON value and nothing after it, whole (with
/// [`ValueSeed`]'s rule for the number marker).
pub fn pick_all(json: &str) -> std::result::Result<Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let value = ValueSeed.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

struct Picker<'a, const N: usize> {
    names: &'a [&'a str; N],
    slots: &'a mut [Option<Value>; N],
    strictness: Strictness,
}

impl<'de, const N: usize> DeserializeSeed<'de> for Picker<'_, N> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, const N: usize> Visitor<'de> for Picker<'_, N> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(slot) = map.next_key_seed(SlotOf(self.names))? {
            match slot {
                Some(slot) => self.slots[slot] = Some(map.next_value_seed(ValueSeed)?),
                None if self.strictness == Strictness::Skim => drop(map.next_value::<IgnoredAny>()?),
                None => map.next_value_seed(Skip)?,
            }
        }
        Ok(())
    }
}

/// A key's slot among `names`, if it has one (no allocation).
struct SlotOf<'a, const N: usize>(&'a [&'a str; N]);

impl<'de, const N: usize> DeserializeSeed<'de> for SlotOf<'_, N> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<usize>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<const N: usize> Visitor<'_> for SlotOf<'_, N> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|name| *name == key))
    }
}

/// A JSON value as a `serde_json::Value`, as serde_json's own would build
/// it, except that a literal object member named [`NUMBER_MARKER`] is an
/// error rather than a number.
#[derive(Clone, Copy)]
pub struct ValueSeed;

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            if name == NUMBER_MARKER {
                // Only serde_json's number hand-over is an object's one
                // member under this name with an owned string.
                if !object.is_empty() {
                    return Err(reserved_member());
                }
                return map.next_value_seed(NumberText).map(Value::Number);
            }
            object.insert(name, map.next_value_seed(self)?);
        }
        Ok(Value::Object(object))
    }
}

/// A JSON value checked as [`ValueSeed`] would build it, and dropped: no
/// allocation but serde_json's own for numbers and escaped strings.
#[derive(Clone, Copy)]
struct Skip;

impl<'de> DeserializeSeed<'de> for Skip {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut first = true;
        while let Some(marker) = map.next_key_seed(SlotOf(&[NUMBER_MARKER]))? {
            if marker.is_some() {
                if !first {
                    return Err(reserved_member());
                }
                return map.next_value_seed(NumberText).map(drop);
            }
            first = false;
            map.next_value_seed(self)?;
        }
        Ok(())
    }
}

/// A number's text as serde_json hands it over (an owned string); a lent
/// string is a literal member's value, refused.
pub struct NumberText;

impl<'de> DeserializeSeed<'de> for NumberText {
    type Value = Number;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Number, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Visitor<'_> for NumberText {
    type Value = Number;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number")
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Number, E> {
        Number::from_str(&text).map_err(E::custom)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Number, E> {
        Err(reserved_member())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn picks_named_members_last_one_wins() {
        let picked = pick(
            r#"{"b": [1, {"a": 0}], "a": 1, "\u0061": "two", "c": null}"#,
            &["a", "c", "d"],
            Strictness::Full,
        )
        .unwrap();
        assert_eq!(picked, [Some(json!("two")), Some(Value::Null), None]);
        for strictness in [Strictness::Full, Strictness::Skim] {
            assert!(pick(r#"{"a": 1} {}"#, &["a"], strictness).is_err());
            assert!(pick(r#"{"a": 1, "b": [1,]}"#, &["a"], strictness).is_err());
            assert!(pick("[1]", &["a"], strictness).is_err());
        }
        assert_eq!(pick_all(r#"{"a": [1, 2.5]}"#).unwrap(), json!({"a": [1, 2.5]}));
        assert!(pick_all(r#"{"a": {"$serde_json::private::Number": "1"}}"#).is_err());
    }

    #[test]
    fn values_are_serde_json_values_without_the_number_marker_ambiguity() {
        let [a, b] = pick(
            r#"{"a": [1.5, -0.0, 123456789012345678901234567890, "x", {"y": null}], "b": 1e400}"#,
            &["a", "b"],
            Strictness::Full,
        )
        .unwrap();
        let expected: Value =
            serde_json::from_str(r#"[1.5, -0.0, 123456789012345678901234567890, "x", {"y": null}]"#).unwrap();
        assert_eq!(a, Some(expected));
        assert!(b.is_some_and(|b| b.is_number()));
        for literal in [
            r#"{"a": {"$serde_json::private::Number": "12"}}"#,
            r#"{"a": {"\u0024serde_json::private::Number": "12"}}"#,
            r#"{"a": {"x": 1, "$serde_json::private::Number": "12"}}"#,
            r#"{"a": [{"$serde_json::private::Number": 12}]}"#,
        ] {
            let error = pick(literal, &["a"], Strictness::Full).unwrap_err().to_string();
            assert!(error.contains("is reserved") || error.contains("invalid type"), "{literal}: {error}");
            // The same, in a member that is not picked: refused when Full.
            let unpicked = literal.replacen(r#"{"a""#, r#"{"z""#, 1);
            let error = pick(&unpicked, &["a"], Strictness::Full).unwrap_err().to_string();
            assert!(error.contains("is reserved") || error.contains("invalid type"), "{unpicked}: {error}");
            assert!(pick(&unpicked, &["a"], Strictness::Skim).is_ok());
        }
        // A lone surrogate escape: refused by a full parse, skimmed past by Skim.
        let lone = r#"{"a": 1, "z": ["\ud800"]}"#;
        assert!(pick(lone, &["a"], Strictness::Full).is_err());
        assert_eq!(pick(lone, &["a"], Strictness::Skim).unwrap(), [Some(json!(1))]);
    }
}
