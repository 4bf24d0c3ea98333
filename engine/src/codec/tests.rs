//! Cross-module tests: round trips through builder and reader, encoding choice, corruption.

use proptest::prelude::*;
use roaring::RoaringBitmap;

use super::layout::{
    CRC_LEN, HEADER_CHUNK_LEN_OFFSET, HEADER_VERSION_OFFSET, MAX_BITMAP_DICTIONARY,
};
use super::*;
use crate::value::{ColumnType, Value};

fn build(column_type: ColumnType, values: &[Value]) -> Vec<u8> {
    let mut builder = ChunkBuilder::new(column_type);
    for v in values {
        builder.push(v).unwrap();
    }
    assert_eq!(builder.len(), values.len());
    builder.finish()
}

/// Equality that compares floats by bit pattern, so NaN and -0.0 round trips are checked exactly.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float64(x), Value::Float64(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

/// Naive per-value bitmaps computed from the input rows.
fn naive_bitmaps(
    column_type: ColumnType,
    values: &[Value],
    dictionary: &[String],
) -> Vec<RoaringBitmap> {
    let codes = if column_type == ColumnType::Bool {
        2
    } else {
        dictionary.len()
    };
    (0..codes)
        .map(|code| {
            values
                .iter()
                .enumerate()
                .filter(|(_, v)| match v {
                    Value::Bool(b) => usize::from(*b) == code,
                    Value::String(s) => dictionary[code] == *s,
                    Value::StringList(items) => items.contains(&dictionary[code]),
                    _ => false,
                })
                .map(|(row, _)| row as u32)
                .collect()
        })
        .collect()
}

/// Builds, reads back and checks everything a reader exposes; returns the encoding chosen.
fn round_trip(column_type: ColumnType, values: &[Value]) -> Encoding {
    let bytes = build(column_type, values);
    assert_eq!(
        build(column_type, values),
        bytes,
        "encoding must be deterministic"
    );
    let reader = ChunkReader::open(&bytes).unwrap();
    assert_eq!(reader.column_type(), column_type);
    assert_eq!(reader.rows(), values.len());
    assert_eq!(reader.encoded_len(), bytes.len());
    reader.verify().unwrap();
    let nulls = reader.null_rows().unwrap();
    let expected_nulls: RoaringBitmap = values
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_null())
        .map(|(r, _)| r as u32)
        .collect();
    assert_eq!(nulls, expected_nulls);
    let decoded = reader.decode().unwrap();
    assert_eq!(decoded.len(), values.len());
    assert_eq!(decoded.column_type(), column_type);
    for (row, expected) in values.iter().enumerate() {
        let got = decoded.value(row, &nulls);
        assert!(same(&got, expected), "row {row}: {got:?} != {expected:?}");
    }
    check_placeholders(&decoded, &nulls);
    check_zone_map(&reader, values);
    let dictionary = reader.dictionary().unwrap();
    if matches!(column_type, ColumnType::String | ColumnType::StringList) {
        assert!(dictionary.windows(2).all(|w| w[0] < w[1]));
    } else {
        assert!(dictionary.is_empty());
    }
    let expects_bitmaps = column_type == ColumnType::Bool
        || (matches!(column_type, ColumnType::String | ColumnType::StringList)
            && dictionary.len() <= MAX_BITMAP_DICTIONARY);
    assert_eq!(reader.has_value_bitmaps(), expects_bitmaps);
    if expects_bitmaps {
        for (code, expected) in naive_bitmaps(column_type, values, &dictionary)
            .iter()
            .enumerate()
        {
            assert_eq!(
                reader.value_bitmap(code as u32).unwrap().as_ref(),
                Some(expected),
                "code {code}"
            );
        }
    } else {
        assert_eq!(reader.value_bitmap(0).unwrap(), None);
    }
    if matches!(column_type, ColumnType::Int64 | ColumnType::Timestamp) {
        check_compare_int(&reader, &decoded, &nulls, values);
    }
    reader.encoding()
}

fn check_placeholders(decoded: &ChunkValues, nulls: &RoaringBitmap) {
    for row in nulls {
        let row = row as usize;
        match decoded {
            ChunkValues::Bool(v) => assert!(!v[row]),
            ChunkValues::Int64(v) | ChunkValues::Timestamp(v) => assert_eq!(v[row], 0),
            ChunkValues::Float64(v) => assert_eq!(v[row].to_bits(), 0),
            ChunkValues::String { dictionary, codes } => {
                assert_eq!(dictionary[codes[row] as usize], "")
            }
            ChunkValues::StringList { offsets, .. } => assert_eq!(offsets[row], offsets[row + 1]),
        }
    }
}

fn check_zone_map(reader: &ChunkReader<'_>, values: &[Value]) {
    let ints: Vec<i64> = values
        .iter()
        .filter_map(|v| match v {
            Value::Int64(i) | Value::Timestamp(i) => Some(*i),
            _ => None,
        })
        .collect();
    let floats: Vec<f64> = values
        .iter()
        .filter_map(|v| {
            if let Value::Float64(f) = v {
                Some(*f)
            } else {
                None
            }
        })
        .collect();
    match reader.zone_map() {
        None => assert!(ints.is_empty() && floats.is_empty()),
        Some(ZoneMap::Int { min, max }) => {
            assert_eq!(Some(&min), ints.iter().min());
            assert_eq!(Some(&max), ints.iter().max());
        }
        Some(ZoneMap::Float { min, max }) => {
            for f in floats {
                assert!(f.is_nan() || (min <= f && (max.is_nan() || f <= max)));
                if f.is_nan() {
                    assert!(max.is_nan());
                }
            }
        }
    }
}

fn check_compare_int(
    reader: &ChunkReader<'_>,
    decoded: &ChunkValues,
    nulls: &RoaringBitmap,
    values: &[Value],
) {
    let (ChunkValues::Int64(ints) | ChunkValues::Timestamp(ints)) = decoded else {
        panic!("not ints")
    };
    let mut probes = vec![i64::MIN, i64::MAX, 0, -1, 1];
    probes.extend(
        ints.iter()
            .take(3)
            .flat_map(|&v| [v.wrapping_sub(1), v, v.wrapping_add(1)]),
    );
    for rhs in probes {
        for op in OPS {
            let fast = reader.compare_int(op, rhs).unwrap();
            let naive = bitset_to_bitmap(&compare_i64(ints, op, rhs), values.len(), 0) - nulls;
            assert_eq!(
                bitset_to_bitmap(&fast, values.len(), 0),
                naive,
                "{op:?} {rhs}"
            );
            assert!(fast.len() == values.len().div_ceil(64));
        }
    }
    // One-pass BETWEEN on the encoded lanes, bounds inside, across and outside the lane range.
    let mut bounds: Vec<i64> = vec![i64::MIN, i64::MAX, 0, -1, 1];
    bounds.extend(
        ints.iter()
            .take(4)
            .flat_map(|&v| [v.wrapping_sub(1), v, v.wrapping_add(2)]),
    );
    for &low in &bounds {
        for &high in &bounds {
            let fast = reader.between_int(low, high).unwrap();
            let naive = bitset_to_bitmap(&between_i64(ints, low, high), values.len(), 0) - nulls;
            assert_eq!(
                bitset_to_bitmap(&fast, values.len(), 0),
                naive,
                "between {low} and {high}"
            );
            assert!(fast.len() == values.len().div_ceil(64));
        }
    }
}

const OPS: [CompareOp; 6] = [
    CompareOp::Eq,
    CompareOp::NotEq,
    CompareOp::Less,
    CompareOp::LessOrEqual,
    CompareOp::Greater,
    CompareOp::GreaterOrEqual,
];

fn ints(values: impl IntoIterator<Item = i64>) -> Vec<Value> {
    values.into_iter().map(Value::Int64).collect()
}

fn strings<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Value> {
    values
        .into_iter()
        .map(|s| Value::String(s.to_owned()))
        .collect()
}

/// Deterministic pseudo-random numbers without a dependency.
fn noise(seed: u64) -> impl Iterator<Item = u64> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    std::iter::from_fn(move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        Some(x)
    })
}

#[test]
fn empty_and_all_null_chunks_of_every_type() {
    for t in ColumnType::ALL {
        round_trip(t, &[]);
        round_trip(t, &[Value::Null]);
        round_trip(t, &vec![Value::Null; 1000]);
        let reader_bytes = build(t, &vec![Value::Null; 10]);
        let reader = ChunkReader::open(&reader_bytes).unwrap();
        assert_eq!(reader.zone_map(), None);
        assert_eq!(reader.null_count(), 10);
    }
}

#[test]
fn one_row_of_every_type() {
    let samples = [
        (ColumnType::Bool, Value::Bool(true)),
        (ColumnType::Int64, Value::Int64(-5)),
        (ColumnType::Float64, Value::Float64(2.5)),
        (
            ColumnType::Timestamp,
            Value::Timestamp(1_700_000_000_000_000),
        ),
        (ColumnType::String, Value::String("x".into())),
        (
            ColumnType::StringList,
            Value::StringList(vec!["a".into(), "b".into()]),
        ),
    ];
    for (t, v) in samples {
        round_trip(t, std::slice::from_ref(&v));
        round_trip(t, &[Value::Null, v]);
    }
}

#[test]
fn int_encodings_are_chosen_by_range_and_runs() {
    assert_eq!(
        round_trip(ColumnType::Int64, &ints([7; 1000])),
        Encoding::For0
    );
    let random: Vec<u64> = noise(1).take(5000).collect();
    assert_eq!(
        round_trip(
            ColumnType::Int64,
            &ints(random.iter().map(|&x| 1000 + (x % 200) as i64))
        ),
        Encoding::For8
    );
    assert_eq!(
        round_trip(
            ColumnType::Int64,
            &ints(random.iter().map(|&x| -((x % 60_000) as i64)))
        ),
        Encoding::For16
    );
    assert_eq!(
        round_trip(
            ColumnType::Int64,
            &ints(random.iter().map(|&x| (x % 4_000_000_000) as i64))
        ),
        Encoding::For32
    );
    assert_eq!(
        round_trip(ColumnType::Int64, &ints(random.iter().map(|&x| x as i64))),
        Encoding::For64
    );
    assert_eq!(
        round_trip(ColumnType::Int64, &ints([i64::MIN, i64::MAX, 0, -1])),
        Encoding::For64
    );
    // Long runs of wide values: RLE is far smaller than 8 bytes a row.
    let runs = (0..5000).map(|i| (i / 1000) * 1_000_000_000_000);
    assert_eq!(round_trip(ColumnType::Int64, &ints(runs)), Encoding::Rle);
    let ts: Vec<Value> = (0..3000)
        .map(|i| Value::Timestamp(1_700_000_000_000_000 + (i / 500) * 86_400_000_000))
        .collect();
    assert_eq!(round_trip(ColumnType::Timestamp, &ts), Encoding::Rle);
    let ts: Vec<Value> = random
        .iter()
        .map(|&x| Value::Timestamp(1_700_000_000_000_000 + (x % 1_000_000) as i64))
        .collect();
    assert_eq!(round_trip(ColumnType::Timestamp, &ts), Encoding::For32);
}

#[test]
fn nulls_do_not_widen_int_encodings() {
    let mut values = ints((0..1000).map(|i| 1_000_000 + i % 100));
    for i in (0..1000).step_by(7) {
        values[i] = Value::Null;
    }
    values[0] = Value::Null;
    assert_eq!(round_trip(ColumnType::Int64, &values), Encoding::For8);
    let mut runs = ints((0..1000).map(|i| (i / 250) * (i64::MAX / 4)));
    runs[10] = Value::Null;
    runs[999] = Value::Null;
    assert_eq!(round_trip(ColumnType::Int64, &runs), Encoding::Rle);
}

#[test]
fn float_specials_round_trip() {
    let specials = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        0.0,
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::MIN,
        1.5,
    ];
    let values: Vec<Value> = specials
        .iter()
        .map(|&f| Value::Float64(f))
        .chain([Value::Null])
        .collect();
    assert_eq!(round_trip(ColumnType::Float64, &values), Encoding::Plain);
    let bytes = build(ColumnType::Float64, &values);
    let Some(ZoneMap::Float { min, max }) = ChunkReader::open(&bytes).unwrap().zone_map() else {
        panic!()
    };
    assert_eq!(min, f64::NEG_INFINITY);
    assert!(max.is_nan());
    let no_nan: Vec<Value> = [-0.0, 0.0, 2.0]
        .iter()
        .map(|&f| Value::Float64(f))
        .collect();
    let bytes = build(ColumnType::Float64, &no_nan);
    let zone = ChunkReader::open(&bytes).unwrap().zone_map();
    assert!(
        matches!(zone, Some(ZoneMap::Float { min, max }) if min.to_bits() == (-0.0f64).to_bits() && max == 2.0)
    );
    let runs: Vec<Value> = (0..4000)
        .map(|i| Value::Float64(f64::from(i / 1000) * 0.1))
        .collect();
    assert_eq!(round_trip(ColumnType::Float64, &runs), Encoding::Rle);
    let random: Vec<Value> = noise(2)
        .take(3000)
        .map(|x| Value::Float64(f64::from_bits(x)))
        .collect();
    assert_eq!(round_trip(ColumnType::Float64, &random), Encoding::Plain);
}

#[test]
fn strings_round_trip_with_every_code_encoding() {
    let values = strings(["", "b", "", "ünïcödé 🎉", "a", "b", "日本語"]);
    assert_eq!(round_trip(ColumnType::String, &values), Encoding::DictU8);
    let mut with_nulls = values.clone();
    with_nulls.insert(2, Value::Null);
    with_nulls.push(Value::Null);
    round_trip(ColumnType::String, &with_nulls);
    // Nulls without "" as a value: "" joins the dictionary as code 0 and matches no row.
    let nulls_only = vec![Value::String("x".into()), Value::Null];
    let bytes = build(ColumnType::String, &nulls_only);
    let reader = ChunkReader::open(&bytes).unwrap();
    assert_eq!(
        reader.dictionary().unwrap(),
        vec!["".to_owned(), "x".to_owned()]
    );
    assert!(reader.value_bitmap(0).unwrap().unwrap().is_empty());
    round_trip(ColumnType::String, &nulls_only);

    let many: Vec<String> = noise(3)
        .take(5000)
        .map(|x| format!("user-{}", x % 3000))
        .collect();
    let many_values = strings(many.iter().map(String::as_str));
    assert_eq!(
        round_trip(ColumnType::String, &many_values),
        Encoding::DictU16
    );
    let runs: Vec<String> = (0..5000).map(|i| format!("country-{}", i / 700)).collect();
    assert_eq!(
        round_trip(
            ColumnType::String,
            &strings(runs.iter().map(String::as_str))
        ),
        Encoding::DictRle
    );
    assert_eq!(
        round_trip(ColumnType::String, &strings(["constant"; 100])),
        Encoding::DictRle
    );
    // 257 distinct values: no per-value bitmaps.
    let wide: Vec<String> = (0..257).map(|i| format!("{i:03}")).collect();
    let wide_values = strings(wide.iter().map(String::as_str));
    round_trip(ColumnType::String, &wide_values);
    assert!(!ChunkReader::open(&build(ColumnType::String, &wide_values))
        .unwrap()
        .has_value_bitmaps());
}

#[test]
fn string_lists_round_trip_with_every_code_width() {
    let list = |items: &[&str]| Value::StringList(items.iter().map(|s| (*s).to_owned()).collect());
    let values = vec![
        list(&["vip", "newsletter"]),
        list(&[]),
        Value::Null,
        list(&["", "ünï", "vip", "vip"]),
        list(&["newsletter"]),
        list(&[]),
    ];
    assert_eq!(
        round_trip(ColumnType::StringList, &values),
        Encoding::ListU8
    );
    let all_empty = vec![list(&[]); 100];
    assert_eq!(
        round_trip(ColumnType::StringList, &all_empty),
        Encoding::ListU8
    );
    let medium: Vec<Value> = (0..300)
        .map(|i| Value::StringList(vec![format!("t{i}"), format!("t{}", i / 2)]))
        .collect();
    assert_eq!(
        round_trip(ColumnType::StringList, &medium),
        Encoding::ListU16
    );
    let huge: Vec<Value> = (0..10)
        .map(|r| Value::StringList((0..7000).map(|i| format!("{r}-{i}")).collect()))
        .collect();
    assert_eq!(round_trip(ColumnType::StringList, &huge), Encoding::ListU32);
}

#[test]
fn bools_use_bitmaps() {
    let values: Vec<Value> = (0..1000)
        .map(|i| match i % 3 {
            0 => Value::Bool(true),
            1 => Value::Bool(false),
            _ => Value::Null,
        })
        .collect();
    assert_eq!(round_trip(ColumnType::Bool, &values), Encoding::Bitmap);
    let bytes = build(ColumnType::Bool, &values);
    let reader = ChunkReader::open(&bytes).unwrap();
    assert_eq!(reader.value_bitmap(2).unwrap(), Some(RoaringBitmap::new()));
}

#[test]
fn full_chunks_round_trip() {
    let n = MAX_CHUNK_ROWS;
    let random: Vec<u64> = noise(4).take(n).collect();
    round_trip(
        ColumnType::Int64,
        &ints(random.iter().map(|&x| (x % 1000) as i64)),
    );
    round_trip(
        ColumnType::Float64,
        &random
            .iter()
            .map(|&x| Value::Float64(x as f64))
            .collect::<Vec<_>>(),
    );
    round_trip(
        ColumnType::Bool,
        &random
            .iter()
            .map(|&x| {
                if x % 5 == 0 {
                    Value::Null
                } else {
                    Value::Bool(x % 2 == 0)
                }
            })
            .collect::<Vec<_>>(),
    );
    let s: Vec<String> = random.iter().map(|x| format!("s{}", x % 100)).collect();
    round_trip(ColumnType::String, &strings(s.iter().map(String::as_str)));
    // Every row distinct: 65,536 dictionary entries, u16 codes.
    let distinct: Vec<String> = (0..n).map(|i| format!("{i:05}")).collect();
    assert_eq!(
        round_trip(
            ColumnType::String,
            &strings(distinct.iter().map(String::as_str))
        ),
        Encoding::DictU16
    );
    let lists: Vec<Value> = random
        .iter()
        .map(|&x| {
            Value::StringList(
                (0..x % 3)
                    .map(|i| format!("tag{}", (x >> 8) % 40 + i))
                    .collect(),
            )
        })
        .collect();
    round_trip(ColumnType::StringList, &lists);
}

#[test]
fn builder_rejects_wrong_types_and_too_many_rows() {
    let mut builder = ChunkBuilder::new(ColumnType::Int64);
    assert!(matches!(
        builder.push(&Value::Float64(1.0)),
        Err(CodecError::WrongType {
            expected: ColumnType::Int64,
            found: ColumnType::Float64
        })
    ));
    assert!(builder.push(&Value::Timestamp(1)).is_err());
    assert!(builder.is_empty());
    let mut builder = ChunkBuilder::new(ColumnType::Timestamp);
    assert!(builder.push(&Value::Int64(1)).is_err());
    let mut builder = ChunkBuilder::new(ColumnType::StringList);
    assert!(builder.push(&Value::String("a".into())).is_err());
    let mut builder = ChunkBuilder::new(ColumnType::Bool);
    for _ in 0..MAX_CHUNK_ROWS {
        builder.push(&Value::Bool(true)).unwrap();
    }
    assert!(matches!(
        builder.push(&Value::Null),
        Err(CodecError::TooManyRows)
    ));
    assert_eq!(builder.len(), MAX_CHUNK_ROWS);
}

/// Small chunks of every type and encoding, for the corruption tests.
fn sample_chunks() -> Vec<Vec<u8>> {
    let list = |items: &[&str]| Value::StringList(items.iter().map(|s| (*s).to_owned()).collect());
    vec![
        build(
            ColumnType::Bool,
            &[Value::Bool(true), Value::Null, Value::Bool(false)],
        ),
        build(
            ColumnType::Int64,
            &[Value::Int64(5), Value::Null, Value::Int64(300)],
        ),
        build(
            ColumnType::Int64,
            &ints([1, 1, 1, 1, 1, 1, 9, 9, 9, 9, 9, 9].map(|x| x << 40)),
        ),
        build(ColumnType::Int64, &ints([i64::MIN, i64::MAX])),
        build(ColumnType::Timestamp, &[Value::Timestamp(7)]),
        build(
            ColumnType::Float64,
            &[Value::Float64(f64::NAN), Value::Null, Value::Float64(-0.0)],
        ),
        build(ColumnType::Float64, &vec![Value::Float64(1.0); 8]),
        build(
            ColumnType::String,
            &[
                Value::String("é".into()),
                Value::Null,
                Value::String("".into()),
            ],
        ),
        build(ColumnType::String, &strings(["aaaa"; 40])),
        build(
            ColumnType::StringList,
            &[list(&["a", "b"]), Value::Null, list(&[])],
        ),
        build(ColumnType::String, &vec![Value::Null; 3]),
    ]
}

/// Exercises every reader entry point; returns whether any of them reported an error.
fn read_everything(bytes: &[u8]) -> bool {
    let Ok(reader) = ChunkReader::open(bytes) else {
        return true;
    };
    let mut failed = reader.null_rows().is_err();
    let _ = reader.zone_map();
    failed |= reader.dictionary().is_err();
    for code in 0..4 {
        failed |= reader.value_bitmap(code).is_err();
    }
    failed |= reader.decode().is_err();
    failed |= reader.verify().is_err();
    if matches!(
        reader.column_type(),
        ColumnType::Int64 | ColumnType::Timestamp
    ) {
        failed |= reader.compare_int(CompareOp::Less, 10).is_err();
    }
    failed
}

#[test]
fn every_flipped_byte_is_detected() {
    for chunk in sample_chunks() {
        assert!(!read_everything(&chunk));
        for i in 0..chunk.len() {
            for flip in [0x01u8, 0x80, 0xFF] {
                let mut bad = chunk.clone();
                bad[i] ^= flip;
                assert!(
                    ChunkReader::open(&bad).is_err(),
                    "flip {flip:#x} at byte {i} went unnoticed"
                );
            }
        }
    }
}

#[test]
fn every_truncation_is_detected() {
    for chunk in sample_chunks() {
        for len in 0..chunk.len() {
            assert!(
                ChunkReader::open(&chunk[..len]).is_err(),
                "truncation to {len} went unnoticed"
            );
        }
        let mut longer = chunk.clone();
        longer.push(0);
        assert!(ChunkReader::open(&longer).is_err());
    }
}

/// Decodes a `for8` chunk with nothing but the offsets of `storage-format.md` ("Column chunks"), as an outside reader would.
#[test]
fn chunk_decodes_from_the_spec_alone() {
    use super::layout::*;
    let bytes = build(
        ColumnType::Int64,
        &[Value::Int64(100), Value::Null, Value::Int64(103)],
    );
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    assert_eq!(
        bytes[HEADER_MAGIC_OFFSET..HEADER_MAGIC_OFFSET + 4],
        *b"PDBC"
    );
    assert_eq!(
        u16::from_le_bytes([
            bytes[HEADER_VERSION_OFFSET],
            bytes[HEADER_VERSION_OFFSET + 1]
        ]),
        FORMAT_VERSION
    );
    assert_eq!(bytes[HEADER_COLUMN_TYPE_OFFSET], 2);
    assert_eq!(bytes[HEADER_ENCODING_OFFSET], 3, "for8");
    assert_eq!(u32_at(HEADER_ROWS_OFFSET), 3);
    assert_eq!(u32_at(HEADER_NULL_COUNT_OFFSET), 1);
    assert_eq!(u32_at(HEADER_CHUNK_LEN_OFFSET), bytes.len());
    let crc_at = bytes.len() - CRC_LEN;
    assert_eq!(
        crc32fast::hash(&bytes[..crc_at]),
        u32::from_le_bytes(bytes[crc_at..].try_into().unwrap())
    );
    let section = |i: usize| {
        let entry = HEADER_SECTIONS_OFFSET + i * SECTION_ENTRY_LEN;
        let (offset, len) = (u32_at(entry), u32_at(entry + 4));
        &bytes[offset..offset + len]
    };
    let nulls = RoaringBitmap::deserialize_from(section(SECTION_NULLS)).unwrap();
    assert_eq!(nulls.iter().collect::<Vec<_>>(), vec![1]);
    let zone = section(SECTION_ZONE_MAP);
    assert_eq!(
        i64::from_le_bytes(
            zone[ZONE_MIN_OFFSET..ZONE_MIN_OFFSET + 8]
                .try_into()
                .unwrap()
        ),
        100
    );
    assert_eq!(
        i64::from_le_bytes(
            zone[ZONE_MAX_OFFSET..ZONE_MAX_OFFSET + 8]
                .try_into()
                .unwrap()
        ),
        103
    );
    assert!(section(SECTION_DICTIONARY).is_empty() && section(SECTION_VALUE_BITMAPS).is_empty());
    let payload = section(SECTION_PAYLOAD);
    let reference = i64::from_le_bytes(
        payload[FOR_REFERENCE_OFFSET..FOR_REFERENCE_OFFSET + 8]
            .try_into()
            .unwrap(),
    );
    let values: Vec<i64> = payload[FOR_DELTAS_OFFSET..]
        .iter()
        .map(|&d| reference + i64::from(d))
        .collect();
    // The null row stores its predecessor's value (fill rule), which readers ignore.
    assert_eq!(values, vec![100, 100, 103]);
}

#[test]
fn damage_to_full_chunks_is_detected() {
    let random: Vec<u64> = noise(6).take(MAX_CHUNK_ROWS).collect();
    let s: Vec<String> = random.iter().map(|x| format!("s{}", x % 300)).collect();
    let chunks = [
        build(
            ColumnType::Int64,
            &ints(random.iter().map(|&x| (x % 50_000) as i64)),
        ),
        build(ColumnType::String, &strings(s.iter().map(String::as_str))),
    ];
    for chunk in chunks {
        for i in (0..chunk.len()).step_by(97).chain([chunk.len() - 1]) {
            let mut bad = chunk.clone();
            bad[i] ^= 0x10;
            assert!(
                ChunkReader::open(&bad).is_err(),
                "flip at byte {i} went unnoticed"
            );
        }
        for len in (0..chunk.len()).step_by(1013) {
            assert!(ChunkReader::open(&chunk[..len]).is_err());
        }
    }
}

#[test]
fn unknown_version_is_reported() {
    let mut chunk = build(ColumnType::Int64, &ints([1, 2]));
    let next = layout::FORMAT_VERSION + 1;
    chunk[HEADER_VERSION_OFFSET..HEADER_VERSION_OFFSET + 2].copy_from_slice(&next.to_le_bytes());
    assert!(matches!(
        ChunkReader::open(&chunk),
        Err(CodecError::UnsupportedVersion { found }) if found == next
    ));
    chunk[HEADER_VERSION_OFFSET..HEADER_VERSION_OFFSET + 2].copy_from_slice(&0u16.to_le_bytes());
    assert!(matches!(
        ChunkReader::open(&chunk),
        Err(CodecError::UnsupportedVersion { found: 0 })
    ));
}

/// Rewrites the trailing crc so that structural validation, not the checksum, must catch damage.
fn reseal(chunk: &mut [u8]) {
    let at = chunk.len() - CRC_LEN;
    let crc = crc32fast::hash(&chunk[..at]);
    chunk[at..].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn resealed_damage_never_panics() {
    for chunk in sample_chunks() {
        for i in 0..chunk.len() - CRC_LEN {
            for value in [
                0x00u8,
                0x01,
                0x7F,
                0x80,
                0xFF,
                chunk[i] ^ 1,
                chunk[i].wrapping_add(1),
            ] {
                let mut bad = chunk.clone();
                bad[i] = value;
                reseal(&mut bad);
                let _ = read_everything(&bad);
            }
        }
    }
}

#[test]
fn resealed_length_field_damage_is_an_error() {
    let mut chunk = build(ColumnType::Int64, &ints([1, 2]));
    chunk[HEADER_CHUNK_LEN_OFFSET] ^= 4;
    reseal(&mut chunk);
    assert!(ChunkReader::open(&chunk).is_err());
}

fn value_strategy(column_type: ColumnType) -> BoxedStrategy<Value> {
    let small_string = prop_oneof![Just(String::new()), "[a-c]{1,2}", "\\PC{0,4}"];
    let inner = match column_type {
        ColumnType::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        ColumnType::Int64 => prop_oneof![any::<i64>(), -3i64..3, Just(i64::MIN), Just(i64::MAX)]
            .prop_map(Value::Int64)
            .boxed(),
        ColumnType::Timestamp => prop_oneof![any::<i64>(), 0i64..1000]
            .prop_map(Value::Timestamp)
            .boxed(),
        ColumnType::Float64 => prop_oneof![
            any::<f64>(),
            Just(f64::NAN),
            Just(-0.0),
            Just(f64::INFINITY),
            (-2i32..2).prop_map(f64::from)
        ]
        .prop_map(Value::Float64)
        .boxed(),
        ColumnType::String => small_string.prop_map(Value::String).boxed(),
        ColumnType::StringList => prop::collection::vec(small_string, 0..4)
            .prop_map(Value::StringList)
            .boxed(),
    };
    prop_oneof![1 => Just(Value::Null), 4 => inner].boxed()
}

/// Rows with a tendency to repeat, so that both RLE and packed encodings get exercised.
fn rows_strategy(column_type: ColumnType) -> impl Strategy<Value = Vec<Value>> {
    prop::collection::vec((value_strategy(column_type), 1usize..20), 0..40).prop_map(|runs| {
        runs.into_iter()
            .flat_map(|(v, n)| std::iter::repeat_n(v, n))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn bool_round_trip(rows in rows_strategy(ColumnType::Bool)) { round_trip(ColumnType::Bool, &rows); }

    #[test]
    fn int_round_trip(rows in rows_strategy(ColumnType::Int64)) { round_trip(ColumnType::Int64, &rows); }

    #[test]
    fn timestamp_round_trip(rows in rows_strategy(ColumnType::Timestamp)) { round_trip(ColumnType::Timestamp, &rows); }

    #[test]
    fn float_round_trip(rows in rows_strategy(ColumnType::Float64)) { round_trip(ColumnType::Float64, &rows); }

    #[test]
    fn string_round_trip(rows in rows_strategy(ColumnType::String)) { round_trip(ColumnType::String, &rows); }

    #[test]
    fn string_list_round_trip(rows in rows_strategy(ColumnType::StringList)) { round_trip(ColumnType::StringList, &rows); }

    #[test]
    fn random_resealed_damage_never_panics(index in 0usize..11, edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
        let mut chunk = sample_chunks().swap_remove(index);
        let body = chunk.len() - CRC_LEN;
        for (at, value) in edits {
            chunk[at.index(body)] = value;
        }
        reseal(&mut chunk);
        let _ = read_everything(&chunk);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut bytes = bytes;
        if bytes.len() >= 4 { bytes[..4].copy_from_slice(b"PDBC"); }
        let _ = read_everything(&bytes);
    }
}
