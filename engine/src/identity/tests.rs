//! Scenario tests of the identity graph.

use super::*;
use crate::message::parse_message;
use serde_json::json;

const T0: i64 = 1_700_000_000_000_000;

/// Parses a message, extracts its identifiers and resolves them.
fn ingest(g: &mut IdentityGraph, v: serde_json::Value) -> Resolution {
    let msg = parse_message(&v).unwrap();
    let (ids, _) = g.identifiers_of(&msg);
    g.resolve(&ids, &msg.message_id, msg.timestamp_micros)
}

fn identify(
    mid: &str,
    user: Option<&str>,
    anon: Option<&str>,
    traits: serde_json::Value,
) -> serde_json::Value {
    json!({"type": "identify", "messageId": mid, "timestamp": "2024-01-01T00:00:00Z",
           "userId": user, "anonymousId": anon, "traits": traits})
}

fn track(mid: &str, user: Option<&str>, anon: Option<&str>, device: &str) -> serde_json::Value {
    json!({"type": "track", "event": "E", "messageId": mid, "timestamp": "2024-01-01T00:00:00Z",
           "userId": user, "anonymousId": anon, "context": {"device": {"id": device}}})
}

#[test]
fn anonymous_browsing_then_login_merges_history() {
    let mut g = IdentityGraph::default();
    let first = ingest(
        &mut g,
        json!({"type": "page", "messageId": "p1", "anonymousId": "anon-1",
        "timestamp": "2024-01-01T00:00:00Z"}),
    );
    assert!(first.created);
    let login = ingest(
        &mut g,
        identify(
            "i1",
            Some("user-1"),
            Some("anon-1"),
            json!({"email": "A@x.com"}),
        ),
    );
    assert_eq!(login.profile, first.profile);
    assert!(!login.created);
    assert_eq!(g.profile_count(), 1);
    assert_eq!(
        g.lookup(&Identifier::user_id("user-1")),
        Some(first.profile)
    );
    assert_eq!(g.lookup(&Identifier::email("a@x.com")), Some(first.profile));
    assert_eq!(g.identifiers_of_profile(first.profile).len(), 3);
}

#[test]
fn two_known_profiles_merge_into_the_older() {
    let mut g = IdentityGraph::default();
    let a = g.resolve(&[Identifier::anonymous_id("a")], "m1", T0);
    let b = g.resolve(&[Identifier::user_id("u")], "m2", T0 + 1);
    let both = g.resolve(
        &[Identifier::user_id("u"), Identifier::anonymous_id("a")],
        "m3",
        T0 + 2,
    );
    assert_eq!(both.profile, a.profile);
    assert_eq!(
        both.merged,
        vec![Merge {
            survivor: a.profile,
            absorbed: b.profile
        }]
    );
    assert_eq!(g.canonical(b.profile), a.profile);
    assert_eq!(g.merge_history().len(), 1);
    assert_eq!(g.merge_history()[0].message_id, "m3");
    assert_eq!(g.profile_count(), 1);
}

#[test]
fn shared_tablet_does_not_collapse_two_users() {
    let mut g = IdentityGraph::default();
    let alice = ingest(&mut g, track("m1", Some("alice"), None, "phone-a"));
    ingest(&mut g, track("m2", Some("alice"), None, "tablet"));
    let bob = ingest(&mut g, track("m3", Some("bob"), None, "phone-b"));
    let shared = ingest(&mut g, track("m4", Some("bob"), None, "tablet"));
    assert_eq!(shared.profile, bob.profile);
    assert!(shared.merged.is_empty());
    assert_eq!(g.profile_count(), 2);
    assert_eq!(
        g.lookup(&Identifier::device_id("tablet")),
        Some(alice.profile)
    );
    let refused = g.refused_links();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].message_id, "m4");
    assert_eq!(refused[0].identifier, Identifier::device_id("tablet"));
    assert_eq!(refused[0].owner, Some(alice.profile));
    assert_eq!(refused[0].profile, bob.profile);
    assert_eq!(refused[0].limit_type, IdentifierType::UserId);
    assert_eq!(refused[0].limit, 1);
    // A new user on the shared tablet gets a profile of their own.
    let carol = ingest(&mut g, track("m5", Some("carol"), None, "tablet"));
    assert!(carol.created);
    assert_eq!(carol.refused.len(), 1);
    assert_eq!(g.profile_count(), 3);
}

#[test]
fn alias_links_previous_id_to_user_id() {
    let mut g = IdentityGraph::default();
    let anon = ingest(&mut g, track("m1", None, Some("anon-9"), "d1"));
    let alias = ingest(
        &mut g,
        json!({"type": "alias", "messageId": "a1", "userId": "user-9",
        "previousId": "anon-9", "timestamp": "2024-01-01T00:00:00Z"}),
    );
    assert_eq!(alias.profile, anon.profile);
    assert_eq!(g.lookup(&Identifier::user_id("user-9")), Some(anon.profile));
    // previousId that is a known user id is typed user_id, and the user_id limit refuses it.
    let msg = parse_message(
        &json!({"type": "alias", "messageId": "a2", "userId": "user-10",
        "previousId": "user-9", "timestamp": "2024-01-01T00:00:00Z"}),
    )
    .unwrap();
    let (ids, _) = g.identifiers_of(&msg);
    assert_eq!(ids[1], Identifier::user_id("user-9"));
}

#[test]
fn blocked_placeholder_email_does_not_merge() {
    let mut g = IdentityGraph::default();
    let (ids, rejected) = g.identifiers_of(
        &parse_message(&identify(
            "m1",
            Some("u1"),
            None,
            json!({"email": "test@test.com"}),
        ))
        .unwrap(),
    );
    assert_eq!(ids, vec![Identifier::user_id("u1")]);
    assert_eq!(rejected[0].reason, RejectReason::Blocked);
    ingest(
        &mut g,
        identify("m1", Some("u1"), None, json!({"email": "test@test.com"})),
    );
    ingest(
        &mut g,
        identify("m2", Some("u2"), None, json!({"email": "TEST@test.com"})),
    );
    assert_eq!(g.profile_count(), 2);
    // Even when passed straight to resolve, a blocked value links nothing.
    g.resolve(
        &[
            Identifier::user_id("u3"),
            Identifier::email("test@test.com"),
        ],
        "m3",
        T0,
    );
    g.resolve(
        &[
            Identifier::user_id("u4"),
            Identifier::email("test@test.com"),
        ],
        "m4",
        T0,
    );
    assert_eq!(g.profile_count(), 4);
    assert_eq!(g.lookup(&Identifier::email("test@test.com")), None);
}

#[test]
fn email_case_variants_are_one_identifier() {
    let mut g = IdentityGraph::default();
    let a = ingest(
        &mut g,
        identify("m1", None, Some("x"), json!({"email": "Jane@Example.com"})),
    );
    let b = ingest(
        &mut g,
        identify("m2", None, Some("y"), json!({"email": " jane@example.COM"})),
    );
    assert_eq!(a.profile, b.profile);
    let ids = g.identifiers_of_profile(a.profile);
    assert_eq!(
        ids.iter()
            .filter(|r| r.identifier.kind == IdentifierType::Email)
            .count(),
        1
    );
}

#[test]
fn phone_formats_are_one_identifier() {
    let mut g = IdentityGraph::default();
    let a = ingest(
        &mut g,
        identify("m1", None, Some("x"), json!({"phone": "(555) 123-4567"})),
    );
    let b = ingest(
        &mut g,
        identify("m2", None, Some("y"), json!({"phone": "+1 555-123-4567"})),
    );
    let c = ingest(
        &mut g,
        identify("m3", None, Some("z"), json!({"phone": 15_551_234_567_i64})),
    );
    assert_eq!(a.profile, b.profile);
    assert_eq!(a.profile, c.profile);
    assert_eq!(
        g.lookup(&Identifier::phone("555 123 4567")),
        Some(a.profile)
    );
}

#[test]
fn custom_types_from_traits_and_external_ids() {
    let config = IdentityConfig::default().with_custom_type("crm_id", "crm.id");
    let mut g = IdentityGraph::new(config).unwrap();
    let a = ingest(
        &mut g,
        identify("m1", None, Some("x"), json!({"crm": {"id": "C-1"}})),
    );
    let b = ingest(
        &mut g,
        json!({"type": "track", "event": "E", "messageId": "m2", "anonymousId": "y",
        "timestamp": "2024-01-01T00:00:00Z",
        "context": {"externalIds": [{"id": "C-1", "type": "crm_id"}, {"id": "z", "type": "other"}]}}),
    );
    assert_eq!(a.profile, b.profile);
    let crm = Identifier::new(IdentifierType::Custom("crm_id".into()), "C-1");
    assert_eq!(g.lookup(&crm), Some(a.profile));
    // Default custom limit is 1: a second CRM id is refused.
    let c = ingest(
        &mut g,
        identify("m3", None, Some("x"), json!({"crm": {"id": "C-2"}})),
    );
    assert_eq!(c.profile, a.profile);
    assert_eq!(c.refused.len(), 1);
    assert_eq!(
        g.lookup(&Identifier::new(
            IdentifierType::Custom("crm_id".into()),
            "C-2"
        )),
        None
    );
}

#[test]
fn first_and_last_seen_ignore_late_older_messages() {
    let mut g = IdentityGraph::default();
    let p = g
        .resolve(&[Identifier::user_id("u")], "m1", T0 + 10)
        .profile;
    g.resolve(&[Identifier::user_id("u")], "m2", T0 + 5);
    g.resolve(&[Identifier::user_id("u")], "m3", T0 + 20);
    let rec = &g.identifiers_of_profile(p)[0];
    assert_eq!((rec.first_seen, rec.last_seen), (T0 + 5, T0 + 20));
}

#[test]
fn shown_identifiers_are_the_last_seen_of_each_type() {
    let mut g = IdentityGraph::default();
    let p = g
        .resolve(
            &[Identifier::user_id("u"), Identifier::anonymous_id("a1")],
            "m1",
            T0 + 10,
        )
        .profile;
    // A later anonymous id wins; an older one arriving late does not.
    g.resolve(
        &[Identifier::user_id("u"), Identifier::anonymous_id("a2")],
        "m2",
        T0 + 20,
    );
    g.resolve(
        &[Identifier::user_id("u"), Identifier::anonymous_id("a0")],
        "m3",
        T0 + 5,
    );
    // Equal timestamps: the greater value wins.
    g.resolve(
        &[Identifier::user_id("u"), Identifier::email("b@x.com")],
        "m4",
        T0 + 30,
    );
    g.resolve(
        &[Identifier::user_id("u"), Identifier::email("a@x.com")],
        "m5",
        T0 + 30,
    );
    assert_eq!(
        g.shown_identifiers(p),
        vec![
            (IdentifierType::AnonymousId, "a2".to_owned()),
            (IdentifierType::Email, "b@x.com".to_owned()),
            (IdentifierType::UserId, "u".to_owned()),
        ]
    );
    let absorbed = g.resolve(&[Identifier::device_id("d")], "m6", T0).profile;
    let merged = g.resolve(
        &[Identifier::device_id("d"), Identifier::user_id("u")],
        "m7",
        T0 + 40,
    );
    assert_eq!(g.canonical(absorbed), merged.profile);
    assert_eq!(g.shown_identifiers(merged.profile).len(), 4);
    // An absorbed id shows its survivor's identifiers.
    assert_eq!(
        g.shown_identifiers(absorbed),
        g.shown_identifiers(merged.profile)
    );
}

#[test]
fn message_without_usable_identifiers_gets_its_own_profile() {
    let mut g = IdentityGraph::default();
    let r1 = g.resolve(&[Identifier::anonymous_id("null")], "m1", T0);
    let r2 = g.resolve(&[Identifier::anonymous_id("null")], "m2", T0);
    assert!(r1.created && r2.created);
    assert_ne!(r1.profile, r2.profile);
}

#[test]
fn explain_returns_the_chain_of_messages() {
    let mut g = IdentityGraph::default();
    g.resolve(
        &[Identifier::anonymous_id("a1"), Identifier::device_id("d1")],
        "m1",
        T0,
    );
    g.resolve(
        &[Identifier::user_id("u1"), Identifier::anonymous_id("a1")],
        "m2",
        T0,
    );
    g.resolve(
        &[Identifier::user_id("u1"), Identifier::email("e@x.com")],
        "m3",
        T0,
    );
    g.resolve(&[Identifier::user_id("u2")], "m4", T0);
    let steps = g
        .explain(&Identifier::device_id("d1"), &Identifier::email("E@x.com"))
        .unwrap();
    let ids: Vec<&str> = steps.iter().map(|s| s.message_id.as_str()).collect();
    assert_eq!(ids, ["m1", "m2", "m3"]);
    assert_eq!(steps[0].from, Identifier::device_id("d1"));
    assert_eq!(steps[2].to, Identifier::email("e@x.com"));
    assert_eq!(
        g.explain(&Identifier::device_id("d1"), &Identifier::user_id("u2")),
        None
    );
    assert_eq!(
        g.explain(&Identifier::user_id("u1"), &Identifier::user_id("u1")),
        Some(vec![])
    );
    assert_eq!(
        g.explain(&Identifier::user_id("nobody"), &Identifier::user_id("u1")),
        None
    );
}
