//! Read-only check of the WAL files, with the WAL's own decoders (recovery would truncate
//! and delete; a check must not change anything).

use super::CheckReport;
use crate::io::Storage;
use crate::mutation::Batch;
use crate::wal::format::{
    decode_file_header, decode_record, parse_file_name, HeaderError, RecordError,
    FILE_FIRST_LSN_OFFSET, FILE_HEADER_CRC_OFFSET, FILE_HEADER_LEN, FILE_VERSION_OFFSET,
    RECORD_HEADER_LEN,
};
use std::path::{Path, PathBuf};

/// A WAL file found in the directory.
struct WalFile {
    first_lsn: u64,
    path: PathBuf,
}

/// Checks every WAL file in `dir`; `kept_from` (the manifest's `identity_lsn`: opening
/// replays every record after it) bounds where the log may start.
pub(super) fn check_wal(
    storage: &dyn Storage,
    dir: &Path,
    kept_from: Option<u64>,
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
        if let (None, Some(kept)) = (expected, kept_from) {
            if file.first_lsn > kept + 1 {
                report.problem(
                    &file.path,
                    Some(0),
                    format!(
                        "records {}..{} are missing before this file",
                        kept + 1,
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
            Err(error) => {
                let (message, reaches_end) = describe(&error, rest);
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
    let first_lsn = decode_file_header(data).map_err(|e| match e {
        HeaderError::Short => (0, format!("incomplete file header ({} bytes)", data.len())),
        HeaderError::BadMagic => (0, "not a WAL file (bad magic)".to_owned()),
        HeaderError::UnsupportedVersion(version) => (
            FILE_VERSION_OFFSET as u64,
            format!("unsupported WAL format version {version}"),
        ),
        HeaderError::BadChecksum => (
            FILE_HEADER_CRC_OFFSET as u64,
            "file header checksum mismatch".to_owned(),
        ),
    })?;
    if first_lsn != name_lsn || first_lsn == 0 {
        return Err((
            FILE_FIRST_LSN_OFFSET as u64,
            format!("header first LSN {first_lsn} does not match the file name"),
        ));
    }
    Ok(())
}

/// Why the record at the start of `rest` is bad, and whether it has the shape of a torn
/// write (it runs to the end of the file, or the rest of the file is zeros).
fn describe(error: &RecordError, rest: &[u8]) -> (String, bool) {
    let reaches_end = match error {
        RecordError::ShortHeader | RecordError::ShortPayload { .. } => true,
        RecordError::BadHeaderChecksum => rest.iter().all(|&b| b == 0),
        RecordError::LengthTooLarge(_) => false,
        RecordError::BadChecksum { encoded_len } => *encoded_len == rest.len(),
    };
    (error.reason(rest.len()), reaches_end)
}
