//! A payload's JSON read in place: the tree the read-back schema check runs on, without building a
//! `serde_json::Value`.
//!
//! Reading a log back checks every payload against its schema (`schema.rs`), then decodes it into
//! its typed event. Building a `serde_json::Value` for the check costs more than the check itself
//! (one allocation per key, per string and per node, then all of them freed again), so replay
//! parses each payload into a [`Tree`] instead: strings and keys borrow from the payload bytes
//! where they have no escapes, integers are kept as machine integers, and each object or array is
//! one `Vec`. jsonschema validates it through its custom-representation interface
//! ([`PayloadJson`]: the `Json`, `Node`, `Object`, `Array` and `JsonNumber` traits), and the
//! typed event is then decoded from the same tree ([`from_tree`]), as `serde_json::from_value`
//! decodes from a `Value`.
//!
//! What this is not: a second JSON parser. The syntax is serde_json's (the tree is built by a
//! serde visitor over `serde_json::Deserializer`), and so are its limits (nesting depth, UTF-8,
//! escapes, numbers). A tree differs from a `Value` in one way: an object with a repeated key is
//! refused here, where a `Value` keeps the last. [`crate::state::decode`] then falls back to the
//! `Value` path, so a payload reads the same either way (see its tests).

use std::borrow::Cow;
use std::fmt;

use jsonschema::json::{Array, Json, JsonNumber, Node, NodeIdentity, Object};
use jsonschema::JsonType;
use serde::de::value::{BorrowedStrDeserializer, MapDeserializer, SeqDeserializer};
use serde::de::{self, Deserialize, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// The key under which serde_json (with `arbitrary_precision`) hands a visitor a number that is
/// neither a `u64` nor an `i64`, as a one-entry map holding the number's text. serde_json's own
/// `Value` visitor recognises numbers the same way.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// One JSON value of a payload, borrowing from the payload's bytes.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Tree<'p> {
    #[default]
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    /// Any other number, exactly as written (`1.5`, `-0`, `1e2`, `12345678901234567890123`).
    Number(serde_json::Number),
    String(Cow<'p, str>),
    Array(Vec<Tree<'p>>),
    /// Members in the payload's order; no key appears twice.
    Object(Vec<(Cow<'p, str>, Tree<'p>)>),
}

/// Parses `bytes` (one JSON value, nothing after it but whitespace). Fails where serde_json fails,
/// and on an object with a repeated key.
pub fn parse(bytes: &[u8]) -> Result<Tree<'_>, serde_json::Error> {
    serde_json::from_slice(bytes)
}

impl<'p> Tree<'p> {
    /// The same value as a `serde_json::Value` (for error messages; slow).
    pub fn to_value(&self) -> Value {
        match self {
            Tree::Null => Value::Null,
            Tree::Bool(b) => Value::Bool(*b),
            Tree::U64(n) => Value::Number((*n).into()),
            Tree::I64(n) => Value::Number((*n).into()),
            Tree::Number(n) => Value::Number(n.clone()),
            Tree::String(s) => Value::String(s.to_string()),
            Tree::Array(items) => Value::Array(items.iter().map(Tree::to_value).collect()),
            Tree::Object(members) => Value::Object(members.iter().map(|(k, v)| (k.to_string(), v.to_value())).collect()),
        }
    }
}

impl<'de> Deserialize<'de> for Tree<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TreeVisitor)
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Tree<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Tree<'de>, E> {
        Ok(Tree::Bool(b))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Tree<'de>, E> {
        Ok(Tree::U64(n))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Tree<'de>, E> {
        Ok(if n >= 0 { Tree::U64(n as u64) } else { Tree::I64(n) })
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Tree<'de>, E> {
        serde_json::Number::from_f64(n).map(Tree::Number).ok_or_else(|| E::custom("a number that is not finite"))
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Tree<'de>, E> {
        Ok(Tree::String(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Tree<'de>, E> {
        Ok(Tree::String(Cow::Owned(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<Tree<'de>, E> {
        Ok(Tree::String(Cow::Owned(s)))
    }
    fn visit_unit<E>(self) -> Result<Tree<'de>, E> {
        Ok(Tree::Null)
    }
    fn visit_none<E>(self) -> Result<Tree<'de>, E> {
        Ok(Tree::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Tree<'de>, D::Error> {
        Tree::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Tree::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree<'de>, A::Error> {
        let mut members: Vec<(Cow<'de, str>, Tree<'de>)> = Vec::with_capacity(16);
        // Keys in increasing order (as relic writes them) cannot repeat; past the first key out of
        // order, each new key is compared with all the others.
        let mut ascending = true;
        while let Some(Key(key)) = map.next_key()? {
            if members.is_empty() && key == NUMBER_TOKEN {
                let text: String = map.next_value()?;
                return text.parse().map(Tree::Number).map_err(de::Error::custom);
            }
            if let Some((last, _)) = members.last() {
                ascending = ascending && key.as_bytes() > last.as_bytes();
                if !ascending && members.iter().any(|(k, _)| *k == key) {
                    return Err(de::Error::custom(format!("the key {key:?} appears twice")));
                }
            }
            let value = map.next_value()?;
            members.push((key, value));
        }
        Ok(Tree::Object(members))
    }
}

/// An object key, borrowed from the payload when it has no escapes (serde's `Cow<str>` always
/// copies).
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// Decodes a `T` from `tree` the way `serde_json::from_value` decodes it from the same JSON as a
/// `Value` (with `arbitrary_precision`): the same visitor calls for every node, strings borrowed
/// where `T` can borrow. A number asked for as a given type is parsed from its text as that type,
/// as `serde_json::Number` does; asked for as anything, it is what `serde_json::Number` makes of it.
pub fn from_tree<'a, T: Deserialize<'a>>(tree: &'a Tree<'a>) -> Result<T, serde_json::Error> {
    T::deserialize(TreeDeserializer(tree))
}

/// The numeric methods of [`TreeDeserializer`]: a number node's text parsed as the type asked for
/// (what `serde_json::Number`'s own methods do), any other node as `deserialize_any`.
macro_rules! number {
    ($($method:ident => $visit:ident),* $(,)?) => {$(
        fn $method<W: Visitor<'a>>(self, v: W) -> Result<W::Value, serde_json::Error> {
            match self.number_text() {
                Some(text) => v.$visit(text.parse().map_err(|_| de::Error::custom("invalid number"))?),
                None => self.deserialize_any(v),
            }
        }
    )*};
}

impl TreeDeserializer<'_> {
    /// A number node's text, as written (integers written back in decimal); `None` for any other
    /// node.
    fn number_text(&self) -> Option<Cow<'_, str>> {
        match self.0 {
            Tree::U64(n) => Some(Cow::Owned(n.to_string())),
            Tree::I64(n) => Some(Cow::Owned(n.to_string())),
            Tree::Number(n) => Some(Cow::Borrowed(n.as_str())),
            _ => None,
        }
    }
}

/// A [`Tree`] node as a serde `Deserializer`.
#[derive(Clone, Copy)]
struct TreeDeserializer<'a>(&'a Tree<'a>);

impl<'a> IntoDeserializer<'a, serde_json::Error> for TreeDeserializer<'a> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'a> Deserializer<'a> for TreeDeserializer<'a> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'a>>(self, v: V) -> Result<V::Value, serde_json::Error> {
        match self.0 {
            Tree::Null => v.visit_unit(),
            Tree::Bool(b) => v.visit_bool(*b),
            Tree::U64(n) => v.visit_u64(*n),
            Tree::I64(n) => v.visit_i64(*n),
            Tree::Number(n) => Deserializer::deserialize_any(n, v),
            Tree::String(s) => v.visit_borrowed_str(s.as_ref()),
            Tree::Array(items) => {
                let mut seq = SeqDeserializer::new(items.iter().map(TreeDeserializer));
                let out = v.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(out)
            }
            Tree::Object(members) => {
                let pairs = members.iter().map(|(k, val)| (BorrowedStrDeserializer::<serde_json::Error>::new(k.as_ref()), TreeDeserializer(val)));
                let mut map = MapDeserializer::new(pairs);
                let out = v.visit_map(&mut map)?;
                map.end()?;
                Ok(out)
            }
        }
    }

    number! {
        deserialize_i8 => visit_i8, deserialize_i16 => visit_i16, deserialize_i32 => visit_i32,
        deserialize_i64 => visit_i64, deserialize_i128 => visit_i128, deserialize_u8 => visit_u8,
        deserialize_u16 => visit_u16, deserialize_u32 => visit_u32, deserialize_u128 => visit_u128,
        deserialize_f32 => visit_f32, deserialize_f64 => visit_f64,
    }

    /// As the other numeric methods; a `u64` node is handed over as it is (its text would parse
    /// back to itself), since ids and counts are read this way.
    fn deserialize_u64<W: Visitor<'a>>(self, v: W) -> Result<W::Value, serde_json::Error> {
        match self.0 {
            Tree::U64(n) => v.visit_u64(*n),
            _ => match self.number_text() {
                Some(text) => v.visit_u64(text.parse().map_err(|_| de::Error::custom("invalid number"))?),
                None => self.deserialize_any(v),
            },
        }
    }

    fn deserialize_option<V: Visitor<'a>>(self, v: V) -> Result<V::Value, serde_json::Error> {
        match self.0 {
            Tree::Null => v.visit_none(),
            _ => v.visit_some(self),
        }
    }

    /// A unit variant is a string, as serde_json writes it; any other shape is refused (no event
    /// type has variants with data).
    fn deserialize_enum<V: Visitor<'a>>(self, _name: &'static str, _variants: &'static [&'static str], v: V) -> Result<V::Value, serde_json::Error> {
        match self.0 {
            Tree::String(s) => v.visit_enum(BorrowedStrDeserializer::<serde_json::Error>::new(s.as_ref())),
            _ => Err(de::Error::custom("an enum that is not a string")),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'a>>(self, _name: &'static str, v: V) -> Result<V::Value, serde_json::Error> {
        v.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        <W: Visitor<'a>>
        bool char str string bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

/// The [`Tree`] representation, for `jsonschema::options_for::<PayloadJson>()`.
pub struct PayloadJson;

impl Json for PayloadJson {
    type Node<'a> = &'a Tree<'a>;
    type PreparedKey = String;
    type StringBuffer = Tree<'static>;

    /// Objects are small and looked up by a scan, so a pass over the members is cheaper than
    /// lookups once there are a few of them.
    const KEYS_PER_LOOKUP: usize = 8;

    fn prepare_key(key: &str) -> String {
        key.to_owned()
    }

    fn with_string_node<T>(buffer: &mut Tree<'static>, string: &str, f: impl FnOnce(Self::Node<'_>) -> T) -> T {
        *buffer = Tree::String(Cow::Owned(string.to_owned()));
        f(buffer)
    }
}

/// A number of a [`Tree`].
#[derive(Debug, Clone, Copy)]
pub enum Num<'a> {
    U64(u64),
    I64(i64),
    Other(&'a serde_json::Number),
}

impl JsonNumber for Num<'_> {
    fn as_u64(&self) -> Option<u64> {
        match self {
            Num::U64(n) => Some(*n),
            Num::I64(_) => None,
            Num::Other(n) => n.as_u64(),
        }
    }
    fn as_i64(&self) -> Option<i64> {
        match self {
            Num::U64(n) => i64::try_from(*n).ok(),
            Num::I64(n) => Some(*n),
            Num::Other(n) => n.as_i64(),
        }
    }
    fn as_f64(&self) -> Option<f64> {
        match self {
            Num::U64(n) => Some(*n as f64),
            Num::I64(n) => Some(*n as f64),
            Num::Other(n) => n.as_f64(),
        }
    }
    fn as_str(&self) -> Cow<'_, str> {
        match self {
            Num::U64(n) => Cow::Owned(n.to_string()),
            Num::I64(n) => Cow::Owned(n.to_string()),
            Num::Other(n) => JsonNumber::as_str(n),
        }
    }
    fn to_number(&self) -> Cow<'_, serde_json::Number> {
        match self {
            Num::U64(n) => Cow::Owned((*n).into()),
            Num::I64(n) => Cow::Owned((*n).into()),
            Num::Other(n) => Cow::Borrowed(*n),
        }
    }
    fn is_integer(&self) -> bool {
        match self {
            Num::U64(_) | Num::I64(_) => true,
            Num::Other(n) => JsonNumber::is_integer(n),
        }
    }
    fn is_written_as_integer(&self) -> bool {
        match self {
            Num::U64(_) | Num::I64(_) => true,
            Num::Other(n) => JsonNumber::is_written_as_integer(n),
        }
    }
}

impl<'a> Node<'a, PayloadJson> for &'a Tree<'a> {
    type Object = &'a [(Cow<'a, str>, Tree<'a>)];
    type Array = &'a [Tree<'a>];
    type Number = Num<'a>;

    fn as_object(&self) -> Option<Self::Object> {
        match self {
            Tree::Object(members) => Some(members),
            _ => None,
        }
    }
    fn as_array(&self) -> Option<Self::Array> {
        match self {
            Tree::Array(items) => Some(items),
            _ => None,
        }
    }
    fn as_string(&self) -> Option<Cow<'a, str>> {
        match self {
            Tree::String(s) => Some(Cow::Borrowed(s.as_ref())),
            _ => None,
        }
    }
    fn as_number(&self) -> Option<Num<'a>> {
        match self {
            Tree::U64(n) => Some(Num::U64(*n)),
            Tree::I64(n) => Some(Num::I64(*n)),
            Tree::Number(n) => Some(Num::Other(n)),
            _ => None,
        }
    }
    fn as_boolean(&self) -> Option<bool> {
        match self {
            Tree::Bool(b) => Some(*b),
            _ => None,
        }
    }
    fn is_null(&self) -> bool {
        matches!(self, Tree::Null)
    }
    fn json_type(&self) -> JsonType {
        match self {
            Tree::Null => JsonType::Null,
            Tree::Bool(_) => JsonType::Boolean,
            Tree::U64(_) | Tree::I64(_) | Tree::Number(_) => JsonType::Number,
            Tree::String(_) => JsonType::String,
            Tree::Array(_) => JsonType::Array,
            Tree::Object(_) => JsonType::Object,
        }
    }
    /// `enum` and `const` compare strings here without building a `Value` (every `enum` in the
    /// event schemas lists strings); anything else goes through jsonschema's own comparison.
    fn equals_value(&self, expected: &Value) -> bool {
        match (self, expected) {
            (Tree::String(s), Value::String(e)) => s.as_ref() == e.as_str(),
            (Tree::String(_), _) => false,
            _ => jsonschema::json::cmp::equal(&self.to_value(), expected),
        }
    }
    fn to_value(&self) -> Cow<'a, Value> {
        Cow::Owned(Tree::to_value(self))
    }
    fn identity(&self) -> Option<NodeIdentity> {
        Some(NodeIdentity::new(std::ptr::from_ref::<Tree<'a>>(*self) as usize))
    }
}

/// The members of an object of a [`Tree`].
pub struct Members<'a>(std::slice::Iter<'a, (Cow<'a, str>, Tree<'a>)>);

impl<'a> Iterator for Members<'a> {
    type Item = (&'a str, &'a Tree<'a>);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k.as_ref(), v))
    }
}

impl<'a> Object<'a, PayloadJson> for &'a [(Cow<'a, str>, Tree<'a>)] {
    type Node = &'a Tree<'a>;
    type MemberName = &'a str;
    type MembersIter = Members<'a>;

    fn len(&self) -> usize {
        <[_]>::len(self)
    }
    fn get(&self, key: &String) -> Option<&'a Tree<'a>> {
        self.iter().find(|(k, _)| k.as_ref() == key.as_str()).map(|(_, v)| v)
    }
    fn members(&self) -> Members<'a> {
        Members(self.iter())
    }
}

impl<'a> Array<'a, PayloadJson> for &'a [Tree<'a>] {
    type Node = &'a Tree<'a>;
    type ElementsIter = std::slice::Iter<'a, Tree<'a>>;

    fn len(&self) -> usize {
        <[_]>::len(self)
    }
    fn elements(&self) -> Self::ElementsIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// jsonschema's own check of a representation's accessor contract.
    #[test]
    fn passes_jsonschemas_conformance_check() {
        let text = serde_json::to_vec(&jsonschema::json::conformance::document()).unwrap();
        let tree = parse(&text).unwrap();
        jsonschema::json::conformance::assert_conformance::<PayloadJson>(&&tree);
    }

    #[test]
    fn reads_the_same_value_as_serde_json() {
        let texts: &[&str] = &[
            r#"{"a":1,"b":-2,"c":1.50,"d":-0,"e":1E2,"f":12345678901234567890123,"g":18446744073709551615,"h":-9223372036854775808}"#,
            r#"{"s":"caf\u00e9 \"q\" \n","t":"plain","u":[true,false,null,[],{}],"\u0041":{"nested":[1,{"x":"y"}]}}"#,
            r#"  {"z":1, "a":2, "m":3}  "#,
            r#"[1,"two",{"three":3}]"#,
        ];
        for text in texts {
            let tree = parse(text.as_bytes()).unwrap();
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(tree.to_value(), value, "{text}");
        }
        // Unescaped strings and keys borrow from the input.
        let tree = parse(br#"{"plain":"text","esc\n":"a\tb"}"#).unwrap();
        let Tree::Object(members) = &tree else { panic!("{tree:?}") };
        assert!(matches!(&members[0], (Cow::Borrowed("plain"), Tree::String(Cow::Borrowed("text")))));
        assert!(matches!(&members[1], (Cow::Owned(k), Tree::String(Cow::Owned(v))) if k == "esc\n" && v == "a\tb"));
    }

    #[test]
    fn refuses_what_serde_json_refuses_and_repeated_keys() {
        for bad in [&br#"{"a":1,"a":2}"#[..], br#"{"b":1,"a":2,"b":3}"#, br#"{"a":1"#, b"{\"a\":\"\xff\"}", br#"{"a":01}"#, br#"{} x"#, b""] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert!(parse(br#"{"a":{"k":1},"b":{"k":2}}"#).is_ok(), "the same key in two objects is fine");
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(parse(deep.as_bytes()).is_err(), "serde_json's nesting limit holds");
    }

    /// The schema check gives the same verdict on a tree as on a `Value`, for values that pass and
    /// fail each kind of keyword the event schemas use.
    #[test]
    fn validates_like_the_value_representation() {
        let schema = json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["id", "name", "kind"],
            "properties": {
                "id": {"type": "integer", "minimum": 1},
                "name": {"type": "string", "minLength": 1, "maxLength": 5, "pattern": "^[a-z]+$"},
                "kind": {"enum": ["package", "image"]},
                "at": {"type": "string", "format": "date-time"},
                "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": true},
                "maybe": {"type": ["string", "null"]},
                "ratio": {"type": "number", "maximum": 1.5}
            }
        });
        let on_tree = jsonschema::options_for::<PayloadJson>().should_validate_formats(true).build(&schema).unwrap();
        let on_value = jsonschema::options().should_validate_formats(true).build(&schema).unwrap();
        let cases = [
            r#"{"id":1,"name":"abc","kind":"image"}"#,
            r#"{"id":1.0,"name":"abc","kind":"image"}"#,
            r#"{"id":0,"name":"abc","kind":"image"}"#,
            r#"{"id":-1,"name":"abc","kind":"image"}"#,
            r#"{"id":1.5,"name":"abc","kind":"image"}"#,
            r#"{"id":"1","name":"abc","kind":"image"}"#,
            r#"{"id":1,"name":"","kind":"image"}"#,
            r#"{"id":1,"name":"abcdef","kind":"image"}"#,
            r#"{"id":1,"name":"ABC","kind":"image"}"#,
            r#"{"id":1,"name":"abc","kind":"other"}"#,
            r#"{"id":1,"name":"abc","kind":1}"#,
            r#"{"id":1,"name":"abc"}"#,
            r#"{"id":1,"name":"abc","kind":"image","extra":true}"#,
            r#"{"id":1,"name":"abc","kind":"image","at":"2026-06-01T10:00:00Z"}"#,
            r#"{"id":1,"name":"abc","kind":"image","at":"2026-13-01T10:00:00Z"}"#,
            r#"{"id":1,"name":"abc","kind":"image","tags":["a","b"]}"#,
            r#"{"id":1,"name":"abc","kind":"image","tags":["a","a"]}"#,
            r#"{"id":1,"name":"abc","kind":"image","tags":["a",1]}"#,
            r#"{"id":1,"name":"abc","kind":"image","maybe":null}"#,
            r#"{"id":1,"name":"abc","kind":"image","maybe":false}"#,
            r#"{"id":1,"name":"abc","kind":"image","ratio":1.5}"#,
            r#"{"id":1,"name":"abc","kind":"image","ratio":1.50000001}"#,
            r#"{"id":123456789012345678901234567890,"name":"abc","kind":"image"}"#,
            r#"{"id":1,"name":"a\u00e9","kind":"image"}"#,
            r#"[]"#,
        ];
        for text in cases {
            let value: Value = serde_json::from_str(text).unwrap();
            let tree = parse(text.as_bytes()).unwrap();
            assert_eq!(on_tree.is_valid(&tree), on_value.is_valid(&value), "{text}");
        }
    }
}
