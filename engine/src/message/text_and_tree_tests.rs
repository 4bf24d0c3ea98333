//! Property: a line read in one pass gives exactly what its `serde_json::Value` tree gives,
//! for valid and invalid messages alike (the same message, or the same error). The text can
//! repeat keys and list them in any order; a tree has neither, so this checks that reading
//! the text follows a tree's rules for both.

use super::*;
use proptest::prelude::*;

/// A JSON value written out by hand, so that objects can repeat a key (a tree cannot).
#[derive(Debug, Clone)]
enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Big(u64),
    Float(f64),
    Text(&'static str),
    List(Vec<Json>),
    Object(Vec<(&'static str, Json)>),
}

impl Json {
    fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(i) => out.push_str(&i.to_string()),
            Json::Big(u) => out.push_str(&u.to_string()),
            Json::Float(f) => out.push_str(&format!("{f:?}")),
            // The pool's texts are already JSON string bodies (some with escapes).
            Json::Text(t) => {
                out.push('"');
                out.push_str(t);
                out.push('"');
            }
            Json::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Object(entries) => {
                out.push('{');
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push('"');
                    out.push_str(key);
                    out.push_str("\":");
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

const TEXTS: &[&str] = &[
    "",
    "  ",
    "u1",
    "a",
    "x\\\"y",
    "caf\\u00e9",
    "2024-01-02T03:04:05Z",
    "2024-01-01T21:34:05.5-05:30",
    "2024-02-30T00:00:00Z",
    "identify",
    "track",
    "page",
    "screen",
    "group",
    "alias",
    "TRACK",
    "purchase",
    "1.2.3.4",
    "crm_id",
];

const KEYS: &[&str] = &[
    "a", "b", "a.b", "b.c", "name", "id", "type", "x\\u0041", "xA", "",
];

const TOP_KEYS: &[&str] = &[
    "type",
    "messageId",
    "timestamp",
    "originalTimestamp",
    "receivedAt",
    "sentAt",
    "userId",
    "anonymousId",
    "previousId",
    "groupId",
    "event",
    "name",
    "context",
    "traits",
    "properties",
    "integrations",
];

const CONTEXT_KEYS: &[&str] = &["ip", "device", "externalIds", "traits", "library"];

fn leaf() -> impl Strategy<Value = Json> {
    prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        (-3i64..50).prop_map(Json::Int),
        Just(Json::Big(u64::MAX)),
        prop::sample::select(vec![1.5, -0.0, 2e10, 0.1]).prop_map(Json::Float),
        prop::sample::select(TEXTS).prop_map(Json::Text),
    ]
}

fn value() -> impl Strategy<Value = Json> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Json::List),
            prop::collection::vec(prop::sample::select(TEXTS).prop_map(Json::Text), 0..3)
                .prop_map(Json::List),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..5).prop_map(Json::Object),
        ]
    })
}

/// A `context` object that often has the fields the rules read, in good or bad shapes.
fn context() -> impl Strategy<Value = Json> {
    let external = prop::collection::vec(
        prop::collection::vec(
            (prop::sample::select(&["id", "type", "x"][..]), leaf()),
            0..4,
        )
        .prop_map(Json::Object),
        0..3,
    )
    .prop_map(Json::List);
    let entry = prop_oneof![
        (prop::sample::select(CONTEXT_KEYS), value()),
        external.prop_map(|list| ("externalIds", list)),
        leaf().prop_map(|id| ("device", Json::Object(vec![("id", id)]))),
    ];
    prop::collection::vec(entry, 0..5).prop_map(Json::Object)
}

/// A message: a mostly valid base with random entries mixed in (repeats included).
fn message() -> impl Strategy<Value = String> {
    let base = (
        prop::sample::select(&["identify", "track", "page", "screen", "group", "alias"][..]),
        prop::option::of(leaf()),
        prop::option::of(leaf()),
    );
    let extra = prop::collection::vec(
        prop_oneof![
            (prop::sample::select(TOP_KEYS), value()),
            context().prop_map(|c| ("context", c)),
        ],
        0..6,
    );
    (base, extra, any::<prop::sample::Index>(), 0..4u8).prop_map(
        |((kind, user, anonymous), extra, at, shape)| {
            let mut entries = vec![
                ("type", Json::Text(kind)),
                ("messageId", Json::Text("m1")),
                ("timestamp", Json::Text("2024-01-02T03:04:05Z")),
                ("event", Json::Text("Clicked")),
                ("groupId", Json::Int(9)),
                ("previousId", Json::Text("p1")),
            ];
            entries.extend(user.map(|u| ("userId", u)));
            entries.extend(anonymous.map(|a| ("anonymousId", a)));
            let split = at.index(entries.len() + 1);
            let tail = entries.split_off(split);
            entries.extend(extra);
            entries.extend(tail);
            let root = match shape {
                0 => Json::List(vec![Json::Object(entries)]),
                1 => Json::Null,
                _ => Json::Object(entries),
            };
            let mut text = String::new();
            root.write(&mut text);
            text
        },
    )
}

/// The reference: a `serde_json::Value` tree, then the tree rules.
fn through_tree(line: &str) -> Result<Message, MessageError> {
    let json: serde_json::Value = serde_json::from_str(line).map_err(|e| MessageError::Json {
        line: e.line(),
        column: e.column(),
        reason: e.to_string(),
    })?;
    parse_message(&json)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn one_pass_decoding_equals_the_tree_parser(line in message()) {
        prop_assert_eq!(parse_message_line(&line), through_tree(&line), "line: {}", line);
    }
}

#[test]
fn repeated_keys_and_dotted_keys_follow_the_tree() {
    let cases = [
        // A repeated top-level key keeps its last value, even after a bad one.
        r#"{"type":"identify","messageId":"m","timestamp":"2024-01-02T03:04:05Z","userId":{},"userId":"u"}"#,
        // A repeated nested object is replaced, not merged.
        r#"{"type":"identify","messageId":"m","timestamp":"2024-01-02T03:04:05Z","userId":"u","traits":{"a":{"x":1},"a":{"y":2}}}"#,
        // A literal dotted key and an equal nested path: the sorted-map order decides.
        r#"{"type":"identify","messageId":"m","timestamp":"2024-01-02T03:04:05Z","userId":"u","traits":{"a.b":1,"a":{"b":2}}}"#,
        r#"{"type":"identify","messageId":"m","timestamp":"2024-01-02T03:04:05Z","userId":"u","traits":{"a":{"b":2},"a.b":1}}"#,
        // Errors: the first bad array in key order, bad JSON, trailing text, not an object.
        r#"{"type":"track","event":"E","messageId":"m","timestamp":"2024-01-02T03:04:05Z","userId":"u","properties":{"z":[1],"b":[{}]}}"#,
        r#"{"type":"track","event":"E","messageId":"m","#,
        r#"{"type":"track"} x"#,
        r#"[{"type":"track"}]"#,
        r#""identify""#,
    ];
    for line in cases {
        assert_eq!(parse_message_line(line), through_tree(line), "line: {line}");
    }
    let merged = parse_message_line(cases[1]).unwrap();
    assert_eq!(merged.traits, vec![("a.y".to_owned(), Value::Int64(2))]);
}
