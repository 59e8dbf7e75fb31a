//! Picking named members out of a JSON object without building the rest.
//!
//! A token's header and claims are parsed for the few members the verifier
//! reads (`alg`, `kid`, `crit`; the registered claims); every other member
//! is checked for syntax and skipped. A name given twice: the last wins, as
//! in Python's `json.loads`.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

/// Parses `json`, one JSON object and nothing after it, into one slot per
/// name of `names`.
pub(crate) fn pick<const N: usize>(
    json: &str,
    names: &[&str; N],
) -> std::result::Result<[Option<Value>; N], serde_json::Error> {
    let mut slots = std::array::from_fn(|_| None);
    let mut deserializer = serde_json::Deserializer::from_str(json);
    Picker { names, slots: &mut slots }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(slots)
}

struct Picker<'a, const N: usize> {
    names: &'a [&'a str; N],
    slots: &'a mut [Option<Value>; N],
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
                Some(slot) => self.slots[slot] = Some(map.next_value()?),
                None => drop(map.next_value::<IgnoredAny>()?),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn picks_named_members_last_one_wins() {
        let picked =
            pick(r#"{"b": [1, {"a": 0}], "a": 1, "\u0061": "two", "c": null}"#, &["a", "c", "d"]).unwrap();
        assert_eq!(picked, [Some(json!("two")), Some(Value::Null), None]);
        assert!(pick(r#"{"a": 1} {}"#, &["a"]).is_err());
        assert!(pick(r#"{"a": 1, "b": [1,]}"#, &["a"]).is_err());
        assert!(pick("[1]", &["a"]).is_err());
    }
}
