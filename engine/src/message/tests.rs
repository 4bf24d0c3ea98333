//! Tests for message parsing: one per rule.

use super::*;
use serde_json::json;

fn parse(v: serde_json::Value) -> Result<Message, MessageError> {
    parse_message(&v)
}

fn identify() -> serde_json::Value {
    json!({"type": "identify", "messageId": "m1", "timestamp": "2024-01-02T03:04:05Z", "userId": "u1"})
}

fn with(mut base: serde_json::Value, key: &str, value: serde_json::Value) -> serde_json::Value {
    base.as_object_mut().unwrap().insert(key.to_owned(), value);
    base
}

fn without(mut base: serde_json::Value, key: &str) -> serde_json::Value {
    base.as_object_mut().unwrap().remove(key);
    base
}

#[test]
fn all_six_kinds_parse() {
    let base = json!({"messageId": "m", "timestamp": "2024-01-02T03:04:05Z", "anonymousId": "a"});
    for (kind, extra) in [
        ("identify", json!({})),
        ("track", json!({"event": "Signed Up"})),
        ("page", json!({"name": "Home"})),
        ("screen", json!({"name": "Settings"})),
        ("group", json!({"groupId": "g1"})),
        ("alias", json!({"userId": "u", "previousId": "p"})),
    ] {
        let mut v = with(base.clone(), "type", json!(kind));
        for (k, x) in extra.as_object().unwrap() {
            v = with(v, k, x.clone());
        }
        let m = parse(v).unwrap();
        assert_eq!(m.kind.name(), kind);
    }
    assert_eq!(
        MessageKind::from_name("IDENTIFY"),
        Some(MessageKind::Identify)
    );
}

#[test]
fn timestamps_with_any_offset_become_utc_micros() {
    let a = parse(with(identify(), "timestamp", json!("2024-01-02T03:04:05Z"))).unwrap();
    let b = parse(with(
        identify(),
        "timestamp",
        json!("2024-01-02T03:04:05+00:00"),
    ))
    .unwrap();
    let c = parse(with(
        identify(),
        "timestamp",
        json!("2024-01-01T21:34:05.000000000-05:30"),
    ))
    .unwrap();
    assert_eq!(a.timestamp_micros, 1_704_164_645_000_000);
    assert_eq!(a.timestamp_micros, b.timestamp_micros);
    assert_eq!(a.timestamp_micros, c.timestamp_micros);
}

#[test]
fn invalid_date_is_a_clear_error() {
    let err = parse(with(identify(), "timestamp", json!("2024-02-30T00:00:00Z"))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "field `timestamp`: `2024-02-30T00:00:00Z` is not a valid RFC 3339 timestamp: day does not exist in that month"
    );
    let err = parse(with(identify(), "timestamp", json!(1_704_164_645))).unwrap_err();
    assert!(matches!(err, MessageError::Invalid { ref field, .. } if field == "timestamp"));
}

#[test]
fn timestamp_falls_back_to_received_at_then_sent_at() {
    let no_ts = without(identify(), "timestamp");
    let received = with(no_ts.clone(), "receivedAt", json!("2024-01-01T00:00:01Z"));
    let both = with(received.clone(), "sentAt", json!("2024-01-01T00:00:02Z"));
    assert_eq!(parse(both).unwrap().timestamp_micros, 1_704_067_201_000_000);
    let sent = with(no_ts.clone(), "sentAt", json!("2024-01-01T00:00:02Z"));
    assert_eq!(parse(sent).unwrap().timestamp_micros, 1_704_067_202_000_000);
    let null_ts = with(
        with(no_ts.clone(), "timestamp", json!(null)),
        "sentAt",
        json!("2024-01-01T00:00:02Z"),
    );
    assert_eq!(
        parse(null_ts).unwrap().timestamp_micros,
        1_704_067_202_000_000
    );
    assert_eq!(parse(no_ts).unwrap_err(), MessageError::NoTimestamp);
}

#[test]
fn null_ids_are_absent_and_numeric_ids_are_digits() {
    let m = parse(with(
        with(identify(), "userId", json!(42)),
        "anonymousId",
        json!(null),
    ))
    .unwrap();
    assert_eq!(m.user_id.as_deref(), Some("42"));
    assert_eq!(m.anonymous_id, None);
    let err = parse(with(identify(), "userId", json!(4.5))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "field `userId` must be a string or an integer"
    );
    let err = parse(with(identify(), "userId", json!(null))).unwrap_err();
    assert_eq!(err, MessageError::NoIdentity);
    let err = parse(with(identify(), "userId", json!(""))).unwrap_err();
    assert_eq!(err, MessageError::NoIdentity);
    let m = parse(with(identify(), "messageId", json!(7))).unwrap();
    assert_eq!(m.message_id, "7");
}

#[test]
fn message_id_is_required() {
    assert_eq!(
        parse(without(identify(), "messageId")).unwrap_err(),
        MessageError::Missing { field: "messageId" }
    );
    assert_eq!(
        parse(with(identify(), "messageId", json!(""))).unwrap_err(),
        MessageError::Missing { field: "messageId" }
    );
}

#[test]
fn kind_specific_requirements() {
    let track = with(identify(), "type", json!("track"));
    assert_eq!(
        parse(track.clone()).unwrap_err(),
        MessageError::Missing { field: "event" }
    );
    assert_eq!(
        parse(with(track, "event", json!("Order Completed")))
            .unwrap()
            .event
            .as_deref(),
        Some("Order Completed")
    );
    let alias = with(identify(), "type", json!("alias"));
    assert_eq!(
        parse(alias.clone()).unwrap_err(),
        MessageError::Missing {
            field: "previousId"
        }
    );
    let anon_alias = with(without(alias.clone(), "userId"), "anonymousId", json!("a"));
    let anon_alias = with(anon_alias, "previousId", json!("p"));
    assert_eq!(
        parse(anon_alias).unwrap_err(),
        MessageError::Missing { field: "userId" }
    );
    let m = parse(with(alias, "previousId", json!("anon-1"))).unwrap();
    assert_eq!(m.previous_id.as_deref(), Some("anon-1"));
    let group = with(identify(), "type", json!("group"));
    assert_eq!(
        parse(group).unwrap_err(),
        MessageError::Missing { field: "groupId" }
    );
    assert!(matches!(
        parse(with(identify(), "type", json!("purchase"))).unwrap_err(),
        MessageError::UnknownType { .. }
    ));
    assert_eq!(
        parse(without(identify(), "type")).unwrap_err(),
        MessageError::Missing { field: "type" }
    );
}

#[test]
fn page_name_falls_back_to_properties_name() {
    let page = with(identify(), "type", json!("page"));
    let m = parse(with(
        page.clone(),
        "properties",
        json!({"name": "Pricing", "path": "/p"}),
    ))
    .unwrap();
    assert_eq!(m.event.as_deref(), Some("Pricing"));
    let m = parse(with(page, "name", json!("Home"))).unwrap();
    assert_eq!(m.event.as_deref(), Some("Home"));
}

#[test]
fn traits_flatten_with_dots_and_root_wins_over_context() {
    let v = with(
        with(
            identify(),
            "traits",
            json!({"address": {"city": "X", "zip": 12}, "plan": "pro"}),
        ),
        "context",
        json!({"traits": {"plan": "free", "email": "a@b.c"}, "ip": "1.2.3.4"}),
    );
    let m = parse(v).unwrap();
    assert_eq!(
        m.traits,
        vec![
            ("address.city".to_owned(), Value::String("X".into())),
            ("address.zip".to_owned(), Value::Int64(12)),
            ("email".to_owned(), Value::String("a@b.c".into())),
            ("plan".to_owned(), Value::String("pro".into())),
        ]
    );
    assert_eq!(m.context_ip.as_deref(), Some("1.2.3.4"));
}

#[test]
fn group_traits_are_the_groups_own() {
    let v = json!({"type": "group", "messageId": "m", "timestamp": "2024-01-02T03:04:05Z",
        "userId": "u", "groupId": 99, "traits": {"name": "Acme"}, "context": {"traits": {"email": "a@b.c"}}});
    let m = parse(v).unwrap();
    assert_eq!(m.group_id.as_deref(), Some("99"));
    assert_eq!(
        m.traits,
        vec![("name".to_owned(), Value::String("Acme".into()))]
    );
}

#[test]
fn json_values_map_to_engine_values() {
    let v = with(
        with(identify(), "type", json!("track")),
        "properties",
        json!({"b": true, "i": -3, "f": 1.5, "big": 18_446_744_073_709_551_615_u64, "s": "x",
               "l": ["a", "b"], "e": [], "n": null}),
    );
    let m = parse(with(v, "event", json!("E"))).unwrap();
    let get = |k: &str| {
        m.properties
            .iter()
            .find(|(key, _)| key == k)
            .unwrap()
            .1
            .clone()
    };
    assert_eq!(get("b"), Value::Bool(true));
    assert_eq!(get("i"), Value::Int64(-3));
    assert_eq!(get("f"), Value::Float64(1.5));
    assert_eq!(
        get("big"),
        Value::Float64(18_446_744_073_709_551_615_u64 as f64)
    );
    assert_eq!(get("s"), Value::String("x".into()));
    assert_eq!(get("l"), Value::StringList(vec!["a".into(), "b".into()]));
    assert_eq!(get("e"), Value::StringList(vec![]));
    assert_eq!(get("n"), Value::Null);
}

#[test]
fn non_string_arrays_are_errors_naming_the_key() {
    let v = with(identify(), "traits", json!({"cart": {"items": [1, 2]}}));
    let err = parse(v).unwrap_err();
    assert_eq!(
        err,
        MessageError::UnsupportedArray {
            key: "cart.items".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "field `cart.items`: arrays must contain only strings"
    );
}

#[test]
fn context_device_and_external_ids() {
    let v = with(
        identify(),
        "context",
        json!({"device": {"id": "dev-1"}, "externalIds": [
            {"id": "c-9", "type": "crm_id", "collection": "users", "encoding": "none"},
            {"id": 77, "type": "loyalty"}]}),
    );
    let m = parse(v).unwrap();
    assert_eq!(m.device_id.as_deref(), Some("dev-1"));
    assert_eq!(
        m.external_ids,
        vec![
            ("crm_id".into(), "c-9".into()),
            ("loyalty".into(), "77".into())
        ]
    );
    let bad = with(identify(), "context", json!({"externalIds": [{"id": "x"}]}));
    assert_eq!(
        parse(bad).unwrap_err().to_string(),
        "field `context.externalIds[0].type` is required"
    );
}

#[test]
fn unknown_fields_ignored_and_wrong_shapes_rejected() {
    let m = parse(with(identify(), "integrations", json!({"All": false}))).unwrap();
    assert_eq!(m.user_id.as_deref(), Some("u1"));
    let err = parse(with(identify(), "traits", json!("x"))).unwrap_err();
    assert_eq!(err.to_string(), "field `traits` must be an object");
    assert_eq!(parse(json!([1])).unwrap_err(), MessageError::NotAnObject);
}

#[test]
fn text_lines_parse_and_bad_json_reports_position() {
    let m = parse_message_line(
        r#"{"type":"track","event":"Clicked","messageId":"m","anonymousId":"a","sentAt":"2024-01-01T00:00:00.123Z"}"#,
    )
    .unwrap();
    assert_eq!(m.timestamp_micros, 1_704_067_200_123_000);
    assert!(matches!(
        parse_message_line("{\"type\":"),
        Err(MessageError::Json { line: 1, .. })
    ));
}
