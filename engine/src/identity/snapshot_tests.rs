//! Snapshot round trips and damage.

use super::test_support::partition;
use super::*;

fn sample() -> IdentityGraph {
    let config = IdentityConfig::default().with_custom_type("crm_id", "crm");
    let mut g = IdentityGraph::new(config).unwrap();
    let crm = IdentifierType::Custom("crm_id".into());
    g.resolve(
        &[Identifier::anonymous_id("a1"), Identifier::device_id("d")],
        "m1",
        1,
    );
    g.resolve(
        &[Identifier::user_id("u1"), Identifier::anonymous_id("a1")],
        "m2",
        2,
    );
    g.resolve(
        &[
            Identifier::user_id("u2"),
            Identifier::new(crm.clone(), "c1"),
        ],
        "m3",
        3,
    );
    g.resolve(
        &[Identifier::user_id("u2"), Identifier::device_id("d")],
        "m4",
        4,
    );
    g.resolve(&[Identifier::anonymous_id("a9")], "m5", 5);
    g.resolve(
        &[Identifier::anonymous_id("a9"), Identifier::email("x@y.z")],
        "m6",
        6,
    );
    g.resolve(
        &[Identifier::new(
            IdentifierType::Custom("unconfigured".into()),
            "q",
        )],
        "m7",
        7,
    );
    g.remove_link("m6");
    g
}

#[test]
fn snapshot_round_trips() {
    let g = sample();
    let bytes = g.encode_snapshot();
    assert_eq!(bytes[..8], SNAPSHOT_MAGIC);
    let mut restored = decode_snapshot(&bytes).unwrap();
    assert_eq!(restored.encode_snapshot(), bytes);
    assert_eq!(partition(&restored), partition(&g));
    assert_eq!(restored.merge_history(), g.merge_history());
    assert_eq!(restored.refused_links(), g.refused_links());
    assert_eq!(restored.profile_count(), g.profile_count());
    assert_eq!(restored.config(), g.config());
    let mut original = g.clone();
    let ids = [Identifier::user_id("u3"), Identifier::anonymous_id("a9")];
    assert_eq!(
        restored.resolve(&ids, "m8", 8),
        original.resolve(&ids, "m8", 8)
    );
    assert_eq!(restored.encode_snapshot(), original.encode_snapshot());
}

#[test]
fn empty_graph_round_trips() {
    let g = IdentityGraph::default();
    let restored = decode_snapshot(&g.encode_snapshot()).unwrap();
    assert_eq!(restored.profile_count(), 0);
}

#[test]
fn flipped_bytes_and_truncation_are_errors() {
    let bytes = sample().encode_snapshot();
    for i in 0..bytes.len() {
        for mask in [0x01, 0x80, 0xFF] {
            let mut bad = bytes.clone();
            bad[i] ^= mask;
            assert!(decode_snapshot(&bad).is_err(), "flip {mask:#x} at {i}");
        }
    }
    for len in 0..bytes.len() {
        assert!(
            decode_snapshot(&bytes[..len]).is_err(),
            "truncated to {len}"
        );
    }
}

#[test]
fn unknown_version_is_rejected() {
    let mut bytes = sample().encode_snapshot();
    bytes[8] = 2;
    let body_end = bytes.len() - 4;
    let crc = crc32fast::hash(&bytes[..body_end]);
    bytes[body_end..].copy_from_slice(&crc.to_le_bytes());
    assert!(matches!(
        decode_snapshot(&bytes),
        Err(IdentityError::Version {
            found: 2,
            supported: 1,
            ..
        })
    ));
}

/// Re-seals `bytes` with a valid CRC so the structural checks are exercised.
fn reseal(mut bytes: Vec<u8>) -> Vec<u8> {
    let end = bytes.len() - 4;
    let crc = crc32fast::hash(&bytes[..end]);
    bytes[end..].copy_from_slice(&crc.to_le_bytes());
    bytes
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
    /// Damage behind a valid checksum (a buggy writer) must still never panic or hang.
    #[test]
    fn damage_with_a_valid_crc_never_panics(edits in proptest::collection::vec((0usize..10_000, proptest::prelude::any::<u8>()), 1..4)) {
        let mut bytes = sample().encode_snapshot();
        let body = 20..bytes.len() - 4;
        for (at, value) in edits {
            let i = body.start + at % body.len();
            bytes[i] = value;
        }
        if let Ok(g) = decode_snapshot(&reseal(bytes)) {
            // Whatever decodes must be usable.
            let _ = partition(&g);
            let _ = g.encode_snapshot();
        }
    }
}
