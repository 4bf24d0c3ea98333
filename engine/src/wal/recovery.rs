//! Opening an existing log: validate every file, replay records, cut torn tails and (in Salvage
//! mode) corruption. The rules are stated in `storage-format.md` ("Write-ahead log"), "Recovery".

use super::error::{io_err, WalError};
use super::format::{decode_file_header, decode_record, HeaderError, RecordError, FILE_HEADER_LEN};
use super::log_file::{list_wal_files, WalFile};
use super::{Corruption, Lsn, RecoveryMode, RecoveryReport, TornTail};
use crate::io::Storage;
use std::error::Error;
use std::path::{Path, PathBuf};

/// The last surviving WAL file, which the writer may continue.
#[derive(Debug, Clone)]
pub(crate) struct Tail {
    /// Its path.
    pub path: PathBuf,
    /// Its first LSN.
    pub first_lsn: Lsn,
    /// Valid bytes (after any truncation).
    pub len: u64,
    /// LSN its next record would carry.
    pub next_lsn: Lsn,
}

/// What recovery found.
pub(crate) struct Recovered {
    /// The report handed to the caller (its `last_lsn` is the highest valid record, or 0).
    pub report: RecoveryReport,
    /// The last file still on disk, if any.
    pub tail: Option<Tail>,
}

/// How a file's scan ended.
enum FileEnd {
    /// Every byte was a valid record; the next record would carry this LSN.
    Clean { next_lsn: Lsn },
    /// The file ends in a torn write starting at `offset`; records before it are valid.
    Torn {
        offset: u64,
        reason: String,
        next_lsn: Lsn,
    },
    /// A bad byte range starts at `offset`; records before it are valid.
    Corrupt {
        offset: u64,
        reason: String,
        next_lsn: Lsn,
    },
}

/// Replay progress carried across files.
struct Replay<'a, F> {
    /// Records with LSN at most this are validated but not applied.
    replay_after: Lsn,
    /// The callback.
    apply: &'a mut F,
    /// LSN the next record must carry, once the first file fixed it.
    expected: Option<Lsn>,
    /// Records applied.
    replayed: u64,
}

/// Validates and replays the log in `dir`, repairing what the recovery mode allows.
pub(crate) fn recover<E, F>(
    storage: &dyn Storage,
    dir: &Path,
    mode: RecoveryMode,
    replay_after: Lsn,
    apply: &mut F,
) -> Result<Recovered, WalError>
where
    E: Error + Send + Sync + 'static,
    F: FnMut(Lsn, &[u8]) -> Result<(), E>,
{
    storage
        .create_dir_all(dir)
        .map_err(io_err("create_dir_all", dir))?;
    let files = list_wal_files(storage, dir)?;
    let mut replay = Replay {
        replay_after,
        apply,
        expected: None,
        replayed: 0,
    };
    let mut report = RecoveryReport::default();
    let mut tail = None;
    for (index, file) in files.iter().enumerate() {
        let is_last = index + 1 == files.len();
        let data = storage
            .read(&file.path)
            .map_err(io_err("read", &file.path))?;
        let end = scan_file(file, &data, is_last, &mut replay)?;
        let file_len = data.len() as u64;
        match end {
            FileEnd::Clean { next_lsn } => tail = Some(tail_of(file, file_len, next_lsn)),
            FileEnd::Torn {
                offset,
                reason,
                next_lsn,
            } => {
                tail = cut(storage, dir, file, offset, next_lsn)?;
                report.torn_tail = Some(TornTail {
                    file: file.path.clone(),
                    offset,
                    bytes_dropped: file_len - offset,
                    reason,
                });
            }
            FileEnd::Corrupt {
                offset,
                reason,
                next_lsn,
            } => {
                if mode == RecoveryMode::Strict {
                    return Err(WalError::Corrupt {
                        file: file.path.clone(),
                        offset,
                        reason,
                    });
                }
                tail = cut(storage, dir, file, offset, next_lsn)?;
                report.salvaged.push(Corruption {
                    file: file.path.clone(),
                    offset,
                    reason,
                    bytes_dropped: file_len - offset,
                });
                drop_later_files(storage, dir, &files[index + 1..], &mut report)?;
                break;
            }
        }
    }
    report.records_replayed = replay.replayed;
    report.last_lsn = replay.expected.map_or(0, |next| next - 1);
    Ok(Recovered { report, tail })
}

/// The tail descriptor of `file` with `len` valid bytes.
fn tail_of(file: &WalFile, len: u64, next_lsn: Lsn) -> Tail {
    Tail {
        path: file.path.clone(),
        first_lsn: file.first_lsn,
        len,
        next_lsn,
    }
}

/// Cuts `file` at `offset`: truncates it, or deletes it when not even its header survives.
fn cut(
    storage: &dyn Storage,
    dir: &Path,
    file: &WalFile,
    offset: u64,
    next_lsn: Lsn,
) -> Result<Option<Tail>, WalError> {
    if offset < FILE_HEADER_LEN as u64 {
        storage
            .remove(&file.path)
            .map_err(io_err("remove", &file.path))?;
        storage.sync_dir(dir).map_err(io_err("sync_dir", dir))?;
        return Ok(None);
    }
    storage
        .truncate(&file.path, offset)
        .map_err(io_err("truncate", &file.path))?;
    Ok(Some(tail_of(file, offset, next_lsn)))
}

/// Salvage: deletes every file after a corrupt one, reporting each as dropped.
fn drop_later_files(
    storage: &dyn Storage,
    dir: &Path,
    later: &[WalFile],
    report: &mut RecoveryReport,
) -> Result<(), WalError> {
    for file in later {
        let len = storage.len(&file.path).map_err(io_err("len", &file.path))?;
        storage
            .remove(&file.path)
            .map_err(io_err("remove", &file.path))?;
        report.salvaged.push(Corruption {
            file: file.path.clone(),
            offset: 0,
            reason: "follows a corrupt file".to_string(),
            bytes_dropped: len,
        });
    }
    if !later.is_empty() {
        storage.sync_dir(dir).map_err(io_err("sync_dir", dir))?;
    }
    Ok(())
}

/// Validates the header and every record of one file, applying records past `replay_after`.
fn scan_file<E, F>(
    file: &WalFile,
    data: &[u8],
    is_last: bool,
    replay: &mut Replay<'_, F>,
) -> Result<FileEnd, WalError>
where
    E: Error + Send + Sync + 'static,
    F: FnMut(Lsn, &[u8]) -> Result<(), E>,
{
    let first_lsn = match check_header(file, data, is_last, replay)? {
        Ok(first_lsn) => first_lsn,
        Err(end) => return Ok(end),
    };
    replay.expected = Some(first_lsn);
    let mut pos = FILE_HEADER_LEN;
    let mut next_lsn = first_lsn;
    while let Some(rest) = data.get(pos..).filter(|rest| !rest.is_empty()) {
        let offset = pos as u64;
        let record = match decode_record(rest) {
            Ok(record) => record,
            Err(err) => return Ok(classify_bad_record(&err, rest, offset, is_last, next_lsn)),
        };
        // The last representable LSN cannot be followed by anything, so it is never valid.
        let in_sequence = record.lsn == next_lsn && next_lsn < Lsn::MAX;
        if !in_sequence {
            let reason = format!("record has LSN {}, expected {next_lsn}", record.lsn);
            return Ok(FileEnd::Corrupt {
                offset,
                reason,
                next_lsn,
            });
        }
        if record.lsn > replay.replay_after {
            (replay.apply)(record.lsn, record.payload).map_err(|e| WalError::Apply(Box::new(e)))?;
            replay.replayed += 1;
        }
        next_lsn += 1;
        replay.expected = Some(next_lsn);
        pos += record.encoded_len;
    }
    Ok(FileEnd::Clean { next_lsn })
}

/// Checks a file header and its place in the LSN sequence. The inner `Err` is the file's end
/// when the header itself is the problem.
fn check_header<F>(
    file: &WalFile,
    data: &[u8],
    is_last: bool,
    replay: &Replay<'_, F>,
) -> Result<Result<Lsn, FileEnd>, WalError> {
    let next_lsn = replay.expected.unwrap_or(file.first_lsn);
    let bad = |reason: String| FileEnd::Corrupt {
        offset: 0,
        reason,
        next_lsn,
    };
    let first_lsn = match decode_file_header(data) {
        Ok(first_lsn) => first_lsn,
        Err(HeaderError::UnsupportedVersion(found)) => {
            return Err(WalError::UnsupportedVersion {
                file: file.path.clone(),
                found,
            })
        }
        Err(err) if is_last && (err == HeaderError::Short || all_zero(data)) => {
            // Crash between creating the file and its header reaching the disk.
            let reason = format!("incomplete file header ({} bytes)", data.len());
            return Ok(Err(FileEnd::Torn {
                offset: 0,
                reason,
                next_lsn,
            }));
        }
        Err(err) => return Ok(Err(bad(format!("bad file header: {err:?}")))),
    };
    if first_lsn != file.first_lsn || first_lsn == 0 || first_lsn == Lsn::MAX {
        return Ok(Err(bad(format!(
            "header first LSN {first_lsn} does not match the file name"
        ))));
    }
    let covered_through = match replay.expected {
        Some(expected) if first_lsn < expected => {
            return Ok(Err(bad(format!(
                "first LSN {first_lsn} overlaps earlier records (expected {expected})"
            ))));
        }
        Some(_) => replay.replay_after.max(next_lsn - 1),
        None => replay.replay_after,
    };
    if first_lsn - 1 > covered_through {
        // LSNs between the previous record and this file are missing and not in any segment.
        let reason = format!(
            "records {}..{} are missing before this file",
            covered_through + 1,
            first_lsn - 1
        );
        return Ok(Err(bad(reason)));
    }
    Ok(Ok(first_lsn))
}

/// Torn tail or corruption, per the rules in `storage-format.md` ("Write-ahead log").
fn classify_bad_record(
    err: &RecordError,
    rest: &[u8],
    offset: u64,
    is_last: bool,
    next_lsn: Lsn,
) -> FileEnd {
    let reason = err.reason(rest.len());
    let reaches_eof = match err {
        RecordError::ShortHeader | RecordError::ShortPayload { .. } => true,
        RecordError::BadChecksum { encoded_len } => *encoded_len == rest.len(),
        RecordError::BadHeaderChecksum | RecordError::LengthTooLarge(_) => false,
    };
    if is_last && (reaches_eof || all_zero(rest)) {
        FileEnd::Torn {
            offset,
            reason,
            next_lsn,
        }
    } else {
        FileEnd::Corrupt {
            offset,
            reason,
            next_lsn,
        }
    }
}

/// Whether every byte is zero (blocks allocated but never written before a crash).
fn all_zero(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0)
}
