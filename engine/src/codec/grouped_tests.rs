//! Grouped dictionaries (format 2) and whole-block dictionaries (format 1): round trips, point
//! reads, and damage.

use super::layout::{
    BLOCK_BODY_OFFSET, BLOCK_COMPRESSION_OFFSET, COMPRESSION_LZ4, COMPRESSION_LZ4_GROUPS, CRC_LEN,
    DICTIONARY_GROUP_ENTRIES, FORMAT_VERSION, GROUPS_TABLE_OFFSET, HEADER_SECTIONS_OFFSET,
    HEADER_VERSION_OFFSET, SECTION_DICTIONARY, SECTION_ENTRY_LEN,
};
use super::{ChunkBuilder, ChunkReader, CodecError, MAX_CHUNK_ROWS};
use crate::value::{ColumnType, Value};

/// A full chunk of near-unique message ids (every 11th row NULL), whose dictionary is large.
fn message_ids() -> Vec<Value> {
    (0..MAX_CHUNK_ROWS)
        .map(|i| {
            if i % 11 == 5 {
                Value::Null
            } else {
                Value::String(format!("message-{:08}", i * 7_919 % 100_003))
            }
        })
        .collect()
}

fn build(values: &[Value], version: u16) -> Vec<u8> {
    let mut builder = ChunkBuilder::new(ColumnType::String);
    for value in values {
        builder.push(value).unwrap();
    }
    builder.finish_as(version)
}

/// `(offset, length)` of the dictionary section, read from the section table.
fn dictionary_section(chunk: &[u8]) -> (usize, usize) {
    let entry = HEADER_SECTIONS_OFFSET + SECTION_DICTIONARY * SECTION_ENTRY_LEN;
    let u32_at = |at: usize| u32::from_le_bytes(chunk[at..at + 4].try_into().unwrap()) as usize;
    (u32_at(entry), u32_at(entry + 4))
}

fn reseal(chunk: &mut [u8]) {
    let at = chunk.len() - CRC_LEN;
    let crc = crc32fast::hash(&chunk[..at]);
    chunk[at..].copy_from_slice(&crc.to_le_bytes());
}

/// Decodes the chunk whole and reads every position alone; both must give `values`.
fn check_reads(chunk: &[u8], values: &[Value]) {
    let reader = ChunkReader::open(chunk).unwrap();
    reader.verify().unwrap();
    let nulls = reader.null_rows().unwrap();
    let decoded = reader.decode().unwrap();
    let points = reader.point_reader().unwrap();
    for (position, expected) in values.iter().enumerate() {
        assert_eq!(
            &decoded.value(position, &nulls),
            expected,
            "decode {position}"
        );
        assert_eq!(
            &points.value_at(chunk, position).unwrap(),
            expected,
            "point read {position}"
        );
    }
    let dictionary = reader.dictionary().unwrap();
    assert!(dictionary.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn format_2_groups_large_dictionaries_and_reads_them_by_entry() {
    let values = message_ids();
    let chunk = build(&values, FORMAT_VERSION);
    assert_eq!(chunk[HEADER_VERSION_OFFSET], 2);
    let (dictionary, _) = dictionary_section(&chunk);
    assert_eq!(
        chunk[dictionary + BLOCK_COMPRESSION_OFFSET],
        COMPRESSION_LZ4_GROUPS
    );
    check_reads(&chunk, &values);
    assert_eq!(
        build(&values, FORMAT_VERSION),
        chunk,
        "encoding must be deterministic"
    );
}

#[test]
fn format_1_chunks_are_still_read() {
    let values = message_ids();
    let chunk = build(&values, 1);
    assert_eq!(chunk[HEADER_VERSION_OFFSET], 1);
    let (dictionary, _) = dictionary_section(&chunk);
    assert_eq!(
        chunk[dictionary + BLOCK_COMPRESSION_OFFSET],
        COMPRESSION_LZ4
    );
    check_reads(&chunk, &values);
    // Both formats decode to the same values.
    let new = build(&values, FORMAT_VERSION);
    let old = ChunkReader::open(&chunk).unwrap();
    let current = ChunkReader::open(&new).unwrap();
    assert_eq!(old.dictionary().unwrap(), current.dictionary().unwrap());
}

#[test]
fn small_dictionaries_stay_one_block_in_both_formats() {
    let values: Vec<Value> = (0..3_000)
        .map(|i| Value::String(format!("plan-{}", i % 300)))
        .collect();
    for version in [1, FORMAT_VERSION] {
        let chunk = build(&values, version);
        let (dictionary, _) = dictionary_section(&chunk);
        assert_ne!(
            chunk[dictionary + BLOCK_COMPRESSION_OFFSET],
            COMPRESSION_LZ4_GROUPS
        );
        check_reads(&chunk, &values);
    }
}

#[test]
fn damaged_groups_fail_the_checksum_at_its_offset() {
    let chunk = build(&message_ids(), FORMAT_VERSION);
    let (dictionary, len) = dictionary_section(&chunk);
    for at in [
        dictionary + BLOCK_BODY_OFFSET + GROUPS_TABLE_OFFSET + 3,
        dictionary + len / 2,
        dictionary + len - 1,
    ] {
        let mut bad = chunk.clone();
        bad[at] ^= 0x20;
        match ChunkReader::open(&bad) {
            Err(CodecError::Corrupt { offset, .. }) => assert_eq!(offset, chunk.len() - CRC_LEN),
            other => panic!("flip at {at}: {other:?}"),
        }
    }
}

#[test]
fn resealed_damage_to_groups_is_an_error_or_never_a_panic() {
    let values = message_ids();
    let chunk = build(&values, FORMAT_VERSION);
    let (dictionary, len) = dictionary_section(&chunk);
    // The group table: every damaged end offset must be caught by the structure checks.
    let table = dictionary + BLOCK_BODY_OFFSET + GROUPS_TABLE_OFFSET;
    for at in (table..table + 64).chain([dictionary, dictionary + 4, dictionary + 9]) {
        let mut bad = chunk.clone();
        bad[at] = bad[at].wrapping_add(0x41);
        reseal(&mut bad);
        let failed = match ChunkReader::open(&bad) {
            Err(_) => true,
            Ok(reader) => {
                let whole = reader.decode().is_err() || reader.dictionary().is_err();
                let points = match reader.point_reader() {
                    Err(_) => true,
                    Ok(points) => (0..values.len())
                        .step_by(DICTIONARY_GROUP_ENTRIES / 2)
                        .any(|p| points.value_at(&bad, p).as_ref().ok() != Some(&values[p])),
                };
                whole && points
            }
        };
        assert!(failed, "resealed damage at byte {at} went unnoticed");
    }
    // Lz4 bytes: damage may decode to other text, but must never panic.
    for at in (dictionary + len / 2..dictionary + len / 2 + 200).step_by(3) {
        let mut bad = chunk.clone();
        bad[at] ^= 0xFF;
        reseal(&mut bad);
        if let Ok(reader) = ChunkReader::open(&bad) {
            let _ = reader.decode();
            if let Ok(points) = reader.point_reader() {
                for p in (0..values.len()).step_by(97) {
                    let _ = points.value_at(&bad, p);
                }
            }
        }
    }
}

#[test]
fn format_1_chunk_with_a_grouped_dictionary_is_rejected() {
    let mut chunk = build(&message_ids(), FORMAT_VERSION);
    chunk[HEADER_VERSION_OFFSET..HEADER_VERSION_OFFSET + 2].copy_from_slice(&1u16.to_le_bytes());
    reseal(&mut chunk);
    let (dictionary, _) = dictionary_section(&chunk);
    match ChunkReader::open(&chunk) {
        Err(CodecError::Corrupt { offset, .. }) => {
            assert_eq!(offset, dictionary + BLOCK_COMPRESSION_OFFSET);
        }
        other => panic!("{other:?}"),
    }
}
