//! Read-only check of the WAL files.
//!
//! The wal module exposes no read-only scanner (its recovery truncates and deletes), so the
//! framing constants below mirror `engine/src/wal/format.rs` and `spec/wal.md`. Keep them in
//! step; the check tests fail when they drift, since they read logs the real writer wrote.

use super::CheckReport;
use crate::io::Storage;
use crate::mutation::Batch;
use crate::wal::MAX_PAYLOAD_LEN;
use std::path::{Path, PathBuf};

/// WAL file header: magic.
const FILE_MAGIC: [u8; 8] = *b"PRFDBWAL";
/// WAL file header: the format version this check understands.
const FORMAT_VERSION: u16 = 1;
/// WAL file header: offset of the format version (u16).
const FILE_VERSION_OFFSET: usize = 8;
/// WAL file header: offset of the first LSN (u64).
const FILE_FIRST_LSN_OFFSET: usize = 10;
/// WAL file header: offset of the crc32 of the bytes before it (u32).
const FILE_HEADER_CRC_OFFSET: usize = 18;
/// WAL file header length.
const FILE_HEADER_LEN: usize = 22;
/// Record header: offset of the payload length (u32).
const REC_LEN_OFFSET: usize = 0;
/// Record header: offset of the LSN (u64).
const REC_LSN_OFFSET: usize = 4;
/// Record header: offset of the crc32 of bytes `0..REC_HEADER_CRC_OFFSET` (u32).
const REC_HEADER_CRC_OFFSET: usize = 12;
/// Record header: offset of the crc32 of the header fields and the payload (u32).
const REC_CRC_OFFSET: usize = 16;
/// Record header length.
const RECORD_HEADER_LEN: usize = 20;

/// A WAL file found in the directory.
struct WalFile {
    first_lsn: u64,
    path: PathBuf,
}

/// Checks every WAL file in `dir`; `flushed_lsn` (from the manifest) bounds where the log
/// may start.
pub(super) fn check_wal(
    storage: &dyn Storage,
    dir: &Path,
    flushed_lsn: Option<u64>,
    report: &mut CheckReport,
) {
    let names = match storage.list(dir) {
        Ok(names) => names,
        Err(e) => return report.problem(dir, None, format!("cannot list: {e}")),
    };
    let mut files = Vec::new();
    for name in names {
        match parse_file_name(&name) {
            Some(first_lsn) => files.push(WalFile {
                first_lsn,
                path: dir.join(&name),
            }),
            None => report.problem(
                dir.join(&name),
                None,
                "unexpected file in the WAL directory",
            ),
        }
    }
    files.sort_by_key(|f| f.first_lsn);
    let mut expected = None;
    for (index, file) in files.iter().enumerate() {
        let is_last = index + 1 == files.len();
        if let (None, Some(flushed)) = (expected, flushed_lsn) {
            if file.first_lsn > flushed + 1 {
                report.problem(
                    &file.path,
                    Some(0),
                    format!(
                        "records {}..{} are missing before this file",
                        flushed + 1,
                        file.first_lsn - 1
                    ),
                );
            }
        }
        if let Some(next) = expected {
            if file.first_lsn != next {
                report.problem(
                    &file.path,
                    Some(0),
                    format!("file starts at LSN {}, expected {next}", file.first_lsn),
                );
            }
        }
        expected = check_file(storage, file, is_last, report);
    }
}

/// `wal-{20 digits}.log` → first LSN.
fn parse_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("wal-")?.strip_suffix(".log")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn u16_at(buf: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(buf.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(buf.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(buf: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(buf.get(at..at + 8)?.try_into().ok()?))
}

/// Checks one file; returns the LSN the next file should start at when this one is clean.
fn check_file(
    storage: &dyn Storage,
    file: &WalFile,
    is_last: bool,
    report: &mut CheckReport,
) -> Option<u64> {
    let data = match storage.read(&file.path) {
        Ok(data) => data,
        Err(e) => {
            report.problem(&file.path, None, format!("cannot read: {e}"));
            return None;
        }
    };
    report.read(data.len() as u64);
    if let Err((offset, message)) = check_header(&data, file.first_lsn) {
        let message = torn_note(message, is_last && data.len() < FILE_HEADER_LEN);
        report.problem(&file.path, Some(offset), message);
        return None;
    }
    let mut pos = FILE_HEADER_LEN;
    let mut next_lsn = file.first_lsn;
    while pos < data.len() {
        let rest = &data[pos..];
        let record = match decode_record(rest) {
            Ok(record) => record,
            Err((message, reaches_end)) => {
                report.problem(
                    &file.path,
                    Some(pos as u64),
                    torn_note(message, is_last && reaches_end),
                );
                return None;
            }
        };
        if record.lsn != next_lsn {
            let message = format!("record has LSN {}, expected {next_lsn}", record.lsn);
            report.problem(&file.path, Some(pos as u64), message);
            return None;
        }
        if let Err(e) = Batch::decode(record.payload) {
            let offset = (pos + RECORD_HEADER_LEN + e.offset) as u64;
            report.problem(
                &file.path,
                Some(offset),
                format!("record payload is not a valid batch: {}", e.reason),
            );
        }
        next_lsn += 1;
        pos += record.encoded_len;
    }
    Some(next_lsn)
}

/// A damaged end of the last file is what a crash mid-write leaves; say what opening does.
fn torn_note(message: String, torn: bool) -> String {
    if torn {
        format!("{message} (a torn write at the end of the log: the next open truncates it)")
    } else {
        message
    }
}

fn check_header(data: &[u8], name_lsn: u64) -> Result<(), (u64, String)> {
    let header = data
        .get(..FILE_HEADER_LEN)
        .ok_or_else(|| (0, format!("incomplete file header ({} bytes)", data.len())))?;
    if header[..FILE_VERSION_OFFSET] != FILE_MAGIC {
        return Err((0, "not a WAL file (bad magic)".to_owned()));
    }
    let version = u16_at(header, FILE_VERSION_OFFSET).unwrap_or(0);
    if version != FORMAT_VERSION {
        return Err((
            FILE_VERSION_OFFSET as u64,
            format!("unsupported WAL format version {version}"),
        ));
    }
    let stored = u32_at(header, FILE_HEADER_CRC_OFFSET).unwrap_or(0);
    if crc32fast::hash(&header[..FILE_HEADER_CRC_OFFSET]) != stored {
        return Err((
            FILE_HEADER_CRC_OFFSET as u64,
            "file header checksum mismatch".to_owned(),
        ));
    }
    let first_lsn = u64_at(header, FILE_FIRST_LSN_OFFSET).unwrap_or(0);
    if first_lsn != name_lsn || first_lsn == 0 {
        return Err((
            FILE_FIRST_LSN_OFFSET as u64,
            format!("header first LSN {first_lsn} does not match the file name"),
        ));
    }
    Ok(())
}

/// A framed record.
struct Record<'a> {
    lsn: u64,
    payload: &'a [u8],
    encoded_len: usize,
}

/// Decodes the record at the start of `buf`; on failure, why and whether the bad record runs
/// to the end of the buffer (the shape of a torn write).
fn decode_record(buf: &[u8]) -> Result<Record<'_>, (String, bool)> {
    let header = buf.get(..RECORD_HEADER_LEN).ok_or_else(|| {
        (
            format!("incomplete record header ({} bytes)", buf.len()),
            true,
        )
    })?;
    let fields = &header[..REC_HEADER_CRC_OFFSET];
    if u32_at(header, REC_HEADER_CRC_OFFSET) != Some(crc32fast::hash(fields)) {
        let zero_tail = buf.iter().all(|&b| b == 0);
        return Err(("record header checksum mismatch".to_owned(), zero_tail));
    }
    let len = u32_at(header, REC_LEN_OFFSET).unwrap_or(0) as usize;
    let lsn = u64_at(header, REC_LSN_OFFSET).unwrap_or(0);
    if len > MAX_PAYLOAD_LEN {
        return Err((
            format!("record payload length {len} exceeds the limit"),
            false,
        ));
    }
    let encoded_len = RECORD_HEADER_LEN + len;
    let payload = buf.get(RECORD_HEADER_LEN..encoded_len).ok_or_else(|| {
        (
            format!("incomplete record ({} of {encoded_len} bytes)", buf.len()),
            true,
        )
    })?;
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(fields);
    hasher.update(payload);
    if u32_at(header, REC_CRC_OFFSET) != Some(hasher.finalize()) {
        return Err((
            "record checksum mismatch".to_owned(),
            encoded_len == buf.len(),
        ));
    }
    Ok(Record {
        lsn,
        payload,
        encoded_len,
    })
}
