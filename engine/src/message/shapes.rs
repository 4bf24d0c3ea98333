//! Reading a message into the few shapes the Tracking Spec rules look at.
//!
//! Building a `serde_json::Value` tree first costs an allocation per key and a map per
//! object before a single field is read; on the ingest path that was most of the cost of
//! parsing. These shapes are read straight from the JSON text (or from a tree, through the
//! same code), and every value the rules do not read is skipped. A value of an unexpected
//! type is not an error here: it is kept as `Other`, so that [`super::rules`] can report it
//! in the same order as every other rule. Within one object a repeated key keeps its last
//! value, as it does in a tree.

use crate::value::Value;
use serde_core::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// A JSON value as the scalar field rules see it.
pub(super) enum Scalar<'de> {
    Null,
    Text(Cow<'de, str>),
    /// An integer, as its decimal digits.
    Integer(String),
    /// A float, a bool, an array or an object.
    Other,
}

/// A JSON value that should be an object of shape `T`.
pub(super) enum Shaped<T> {
    Null,
    Object(T),
    Other,
}

/// The top-level fields the rules read.
#[derive(Default)]
pub(super) struct Root<'de> {
    pub(super) kind: Option<Scalar<'de>>,
    pub(super) message_id: Option<Scalar<'de>>,
    /// `timestamp`, `originalTimestamp`, `receivedAt`, `sentAt`, in precedence order.
    pub(super) times: [Option<Scalar<'de>>; 4],
    pub(super) user_id: Option<Scalar<'de>>,
    pub(super) anonymous_id: Option<Scalar<'de>>,
    pub(super) previous_id: Option<Scalar<'de>>,
    pub(super) group_id: Option<Scalar<'de>>,
    pub(super) event: Option<Scalar<'de>>,
    pub(super) name: Option<Scalar<'de>>,
    pub(super) context: Option<Shaped<Context<'de>>>,
    pub(super) traits: Option<Shaped<Tree<'de>>>,
    pub(super) properties: Option<Shaped<Tree<'de>>>,
}

/// The `context` fields the rules read.
#[derive(Default)]
pub(super) struct Context<'de> {
    pub(super) ip: Option<Scalar<'de>>,
    pub(super) device: Option<Shaped<Device<'de>>>,
    pub(super) external_ids: Option<ExternalIds<'de>>,
    pub(super) traits: Option<Shaped<Tree<'de>>>,
}

/// `context.device`.
#[derive(Default)]
pub(super) struct Device<'de> {
    pub(super) id: Option<Scalar<'de>>,
}

/// `context.externalIds`.
pub(super) enum ExternalIds<'de> {
    Null,
    List(Vec<Shaped<ExternalId<'de>>>),
    Other,
}

/// One entry of `context.externalIds`.
#[derive(Default)]
pub(super) struct ExternalId<'de> {
    pub(super) id: Option<Scalar<'de>>,
    pub(super) kind: Option<Scalar<'de>>,
}

/// The entries of a `traits` or `properties` object in text order, before flattening.
pub(super) struct Tree<'de>(pub(super) Vec<(Cow<'de, str>, Node<'de>)>);

/// One entry's value in a [`Tree`].
pub(super) enum Node<'de> {
    Leaf(Value),
    Nested(Tree<'de>),
    /// An array holding something other than strings.
    BadArray,
}

/// Reads a message's root value, from text or from a tree.
pub(super) fn read_root<'de, D: Deserializer<'de>>(
    input: D,
) -> Result<Shaped<Root<'de>>, D::Error> {
    Read::deserialize(input).map(|read: Read<Shaped<Root<'de>>>| read.0)
}

/// How a shape takes each kind of JSON value; a kind it does not take becomes
/// [`Shape::other`], read whole and dropped.
trait Shape<'de>: Sized {
    /// The shape of a value of a kind this shape does not take.
    fn other() -> Self;

    fn null() -> Self {
        Self::other()
    }

    fn boolean(_: bool) -> Self {
        Self::other()
    }

    fn signed(_: i64) -> Self {
        Self::other()
    }

    fn unsigned(_: u64) -> Self {
        Self::other()
    }

    fn float(_: f64) -> Self {
        Self::other()
    }

    fn text(_: Cow<'de, str>) -> Self {
        Self::other()
    }

    fn list<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Self::other())
    }

    fn object<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Self::other())
    }
}

/// A type read from the entries of a JSON object.
trait FromMap<'de>: Sized {
    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error>;
}

/// Reads a [`Shape`] (the orphan rule forbids implementing `Deserialize` for every one).
struct Read<T>(T);

impl<'de, T: Shape<'de>> Deserialize<'de> for Read<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(ShapeVisitor(PhantomData))
            .map(Read)
    }
}

struct ShapeVisitor<T>(PhantomData<T>);

impl<'de, T: Shape<'de>> Visitor<'de> for ShapeVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: serde_core::de::Error>(self) -> Result<T, E> {
        Ok(T::null())
    }

    fn visit_bool<E: serde_core::de::Error>(self, v: bool) -> Result<T, E> {
        Ok(T::boolean(v))
    }

    fn visit_i64<E: serde_core::de::Error>(self, v: i64) -> Result<T, E> {
        Ok(T::signed(v))
    }

    fn visit_u64<E: serde_core::de::Error>(self, v: u64) -> Result<T, E> {
        Ok(T::unsigned(v))
    }

    fn visit_f64<E: serde_core::de::Error>(self, v: f64) -> Result<T, E> {
        // A tree stores a non-finite float as `null` (the text parser never makes one).
        Ok(if v.is_finite() {
            T::float(v)
        } else {
            T::null()
        })
    }

    fn visit_borrowed_str<E: serde_core::de::Error>(self, v: &'de str) -> Result<T, E> {
        Ok(T::text(Cow::Borrowed(v)))
    }

    fn visit_str<E: serde_core::de::Error>(self, v: &str) -> Result<T, E> {
        Ok(T::text(Cow::Owned(v.to_owned())))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        T::list(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::object(map)
    }
}

impl<'de> Shape<'de> for Scalar<'de> {
    fn other() -> Self {
        Scalar::Other
    }

    fn null() -> Self {
        Scalar::Null
    }

    fn signed(v: i64) -> Self {
        Scalar::Integer(v.to_string())
    }

    fn unsigned(v: u64) -> Self {
        Scalar::Integer(v.to_string())
    }

    fn text(v: Cow<'de, str>) -> Self {
        Scalar::Text(v)
    }
}

impl<'de, T: FromMap<'de>> Shape<'de> for Shaped<T> {
    fn other() -> Self {
        Shaped::Other
    }

    fn null() -> Self {
        Shaped::Null
    }

    fn object<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        T::from_map(map).map(Shaped::Object)
    }
}

impl<'de> Shape<'de> for ExternalIds<'de> {
    fn other() -> Self {
        ExternalIds::Other
    }

    fn null() -> Self {
        ExternalIds::Null
    }

    fn list<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut list = Vec::new();
        while let Some(Read(entry)) = seq.next_element()? {
            list.push(entry);
        }
        Ok(ExternalIds::List(list))
    }
}

/// A leaf of a flattened object: every kind of value is taken.
impl<'de> Shape<'de> for Node<'de> {
    fn other() -> Self {
        // Not reached: every kind of value is taken below.
        Node::Leaf(Value::Null)
    }

    fn null() -> Self {
        Node::Leaf(Value::Null)
    }

    fn boolean(v: bool) -> Self {
        Node::Leaf(Value::Bool(v))
    }

    fn signed(v: i64) -> Self {
        Node::Leaf(Value::Int64(v))
    }

    fn unsigned(v: u64) -> Self {
        // Beyond i64::MAX an integer becomes a float, as `Number::as_i64` decides.
        Node::Leaf(i64::try_from(v).map_or(Value::Float64(v as f64), Value::Int64))
    }

    fn float(v: f64) -> Self {
        Node::Leaf(Value::Float64(v))
    }

    fn text(v: Cow<'de, str>) -> Self {
        Node::Leaf(Value::String(v.into_owned()))
    }

    fn list<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut strings = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(Read(item)) = seq.next_element::<Read<ListItem>>()? {
            match item.0 {
                Some(text) => strings.push(text),
                None => {
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    return Ok(Node::BadArray);
                }
            }
        }
        Ok(Node::Leaf(Value::StringList(strings)))
    }

    fn object<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        Tree::from_map(map).map(Node::Nested)
    }
}

/// An array item: a string, or `None` for anything else.
struct ListItem(Option<String>);

impl<'de> Shape<'de> for ListItem {
    fn other() -> Self {
        ListItem(None)
    }

    fn text(v: Cow<'de, str>) -> Self {
        ListItem(Some(v.into_owned()))
    }
}

/// Reads every entry of `map` with `read(key, map)`, which must consume the entry's value.
fn each_entry<'de, A: MapAccess<'de>>(
    mut map: A,
    mut read: impl FnMut(&str, &mut A) -> Result<(), A::Error>,
) -> Result<(), A::Error> {
    while let Some(key) = map.next_key::<Key<'de>>()? {
        read(&key.0, &mut map)?;
    }
    Ok(())
}

/// Reads the next value into `slot` (replacing an earlier duplicate).
fn read_into<'de, A: MapAccess<'de>, T: Shape<'de>>(
    map: &mut A,
    slot: &mut Option<T>,
) -> Result<(), A::Error> {
    *slot = Some(map.next_value::<Read<T>>()?.0);
    Ok(())
}

/// Skips the next value.
fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<IgnoredAny>().map(drop)
}

impl<'de> FromMap<'de> for Root<'de> {
    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let mut root = Root::default();
        each_entry(map, |key, map| match key {
            "type" => read_into(map, &mut root.kind),
            "messageId" => read_into(map, &mut root.message_id),
            "timestamp" => read_into(map, &mut root.times[0]),
            "originalTimestamp" => read_into(map, &mut root.times[1]),
            "receivedAt" => read_into(map, &mut root.times[2]),
            "sentAt" => read_into(map, &mut root.times[3]),
            "userId" => read_into(map, &mut root.user_id),
            "anonymousId" => read_into(map, &mut root.anonymous_id),
            "previousId" => read_into(map, &mut root.previous_id),
            "groupId" => read_into(map, &mut root.group_id),
            "event" => read_into(map, &mut root.event),
            "name" => read_into(map, &mut root.name),
            "context" => read_into(map, &mut root.context),
            "traits" => read_into(map, &mut root.traits),
            "properties" => read_into(map, &mut root.properties),
            _ => skip(map),
        })?;
        Ok(root)
    }
}

impl<'de> FromMap<'de> for Context<'de> {
    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let mut context = Context::default();
        each_entry(map, |key, map| match key {
            "ip" => read_into(map, &mut context.ip),
            "device" => read_into(map, &mut context.device),
            "externalIds" => read_into(map, &mut context.external_ids),
            "traits" => read_into(map, &mut context.traits),
            _ => skip(map),
        })?;
        Ok(context)
    }
}

impl<'de> FromMap<'de> for Device<'de> {
    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let mut device = Device::default();
        each_entry(map, |key, map| match key {
            "id" => read_into(map, &mut device.id),
            _ => skip(map),
        })?;
        Ok(device)
    }
}

impl<'de> FromMap<'de> for ExternalId<'de> {
    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let mut entry = ExternalId::default();
        each_entry(map, |key, map| match key {
            "id" => read_into(map, &mut entry.id),
            "type" => read_into(map, &mut entry.kind),
            _ => skip(map),
        })?;
        Ok(entry)
    }
}

impl<'de> FromMap<'de> for Tree<'de> {
    fn from_map<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some(key) = map.next_key::<Key<'de>>()? {
            entries.push((key.0, map.next_value::<Read<Node<'de>>>()?.0));
        }
        Ok(Tree(entries))
    }
}

/// An object key, borrowed from the input unless it holds escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E: serde_core::de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(v)))
    }

    fn visit_str<E: serde_core::de::Error>(self, v: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(v.to_owned())))
    }
}
