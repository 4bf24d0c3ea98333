//! Recovery tests: torn tails, corruption in every byte, salvage, gaps, versions, injected faults.

use super::format::{
    FILE_FIRST_LSN_OFFSET, FILE_HEADER_CRC_OFFSET, FILE_HEADER_LEN, FILE_VERSION_OFFSET,
    RECORD_HEADER_LEN,
};
use super::test_support::{fs, open_collect, options, payload, wal_files, TempDir};
use super::{RecoveryMode, SyncMode, WalError, WalOptions};
use crate::io::{FaultPlan, FaultyStorage, FsStorage, Storage};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A file written by `build_log`: path, bytes, and `(lsn, start, end)` of every record.
type BuiltFile = (PathBuf, Vec<u8>, Vec<(u64, usize, usize)>);

fn strict() -> WalOptions {
    options(SyncMode::EveryCommit, 64 << 20)
}

fn salvage() -> WalOptions {
    WalOptions {
        recovery_mode: RecoveryMode::Salvage,
        ..strict()
    }
}

/// Writes `payload(lsn)` for each file's LSN range, rotating between files; returns each file's
/// bytes and the byte range of every record in it.
fn build_log(dir: &Path, files: &[std::ops::RangeInclusive<u64>]) -> Vec<BuiltFile> {
    let (wal, _, _) = open_collect(fs(), dir, strict(), 0).unwrap();
    for (i, range) in files.iter().enumerate() {
        if i > 0 {
            wal.rotate().unwrap();
        }
        for lsn in range.clone() {
            assert_eq!(wal.commit(&payload(lsn)).unwrap(), lsn);
        }
    }
    wal.close().unwrap();
    let paths = wal_files(dir);
    assert_eq!(paths.len(), files.len());
    paths
        .into_iter()
        .zip(files)
        .map(|(path, range)| {
            let bytes = std::fs::read(&path).unwrap();
            let mut pos = FILE_HEADER_LEN;
            let spans = range
                .clone()
                .map(|lsn| {
                    let end = pos + RECORD_HEADER_LEN + payload(lsn).len();
                    let span = (lsn, pos, end);
                    pos = end;
                    span
                })
                .collect();
            assert_eq!(pos, bytes.len());
            (path, bytes, spans)
        })
        .collect()
}

/// Replaces the directory's contents with exactly `files`.
fn restore(dir: &Path, files: &[(PathBuf, Vec<u8>)]) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    for (path, bytes) in files {
        std::fs::write(path, bytes).unwrap();
    }
}

/// Every delivered record must be the original payload, in LSN order from 1.
fn assert_correct_prefix(seen: &[(u64, Vec<u8>)]) {
    for (i, (lsn, data)) in seen.iter().enumerate() {
        assert_eq!(*lsn, i as u64 + 1);
        assert_eq!(*data, payload(*lsn), "wrong payload delivered for {lsn}");
    }
}

#[test]
fn torn_tail_at_every_length_is_truncated_and_appending_continues() {
    let dir = TempDir::new("torn");
    let log = build_log(dir.path(), &[1..=3, 4..=10]);
    let (last_path, last_bytes, spans) = &log[1];
    let &(last_lsn, start, end) = spans.last().unwrap();
    assert!(
        end - start > RECORD_HEADER_LEN + 100,
        "last record has a real payload"
    );
    for cut in start + 1..end {
        let mut files: Vec<_> = log.iter().map(|(p, b, _)| (p.clone(), b.clone())).collect();
        files[1].1.truncate(cut);
        restore(dir.path(), &files);
        let (wal, report, seen) = open_collect(fs(), dir.path(), strict(), 0).unwrap();
        let torn = report.torn_tail.clone().expect("torn tail reported");
        assert_eq!(
            (&torn.file, torn.offset, torn.bytes_dropped),
            (last_path, start as u64, (cut - start) as u64)
        );
        assert_eq!(report.last_lsn, last_lsn - 1);
        assert_correct_prefix(&seen);
        assert_eq!(seen.len() as u64, last_lsn - 1);
        assert_eq!(std::fs::metadata(last_path).unwrap().len(), start as u64);
        assert_eq!(wal.commit(b"after").unwrap(), last_lsn);
        drop(wal);
        let (_wal, report, seen) = open_collect(fs(), dir.path(), strict(), 0).unwrap();
        assert!(report.torn_tail.is_none());
        assert_eq!(seen.last(), Some(&(last_lsn, b"after".to_vec())));
    }
    assert_eq!(last_bytes.len(), end);
}

#[test]
fn torn_or_empty_last_file_header_is_dropped() {
    let dir = TempDir::new("tornheader");
    let log = build_log(dir.path(), &[1..=3]);
    let new_file = dir.path().join(super::format::file_name(4));
    for len in 0..=FILE_HEADER_LEN {
        let mut files: Vec<_> = log.iter().map(|(p, b, _)| (p.clone(), b.clone())).collect();
        let header = super::format::encode_file_header(4);
        files.push((new_file.clone(), header[..len].to_vec()));
        restore(dir.path(), &files);
        let (wal, report, seen) = open_collect(fs(), dir.path(), strict(), 0).unwrap();
        assert_eq!(seen.len(), 3);
        assert_eq!(
            report.torn_tail.is_some(),
            len < FILE_HEADER_LEN,
            "len {len}"
        );
        assert_eq!(wal.commit(b"next").unwrap(), 4);
        drop(wal);
        let (_wal, _, seen) = open_collect(fs(), dir.path(), strict(), 0).unwrap();
        assert_eq!(seen.len(), 4);
    }
}

#[test]
fn zero_filled_tail_is_torn_but_garbage_tail_is_corrupt() {
    let dir = TempDir::new("zerotail");
    let log = build_log(dir.path(), &[1..=5]);
    let (path, bytes, _) = &log[0];
    let mut zeroed = bytes.clone();
    zeroed.extend_from_slice(&[0u8; 4096]);
    restore(dir.path(), &[(path.clone(), zeroed)]);
    let (_wal, report, seen) = open_collect(fs(), dir.path(), strict(), 0).unwrap();
    assert_eq!(seen.len(), 5);
    assert_eq!(report.torn_tail.map(|t| t.bytes_dropped), Some(4096));

    let mut garbage = bytes.clone();
    garbage.extend_from_slice(&[0xABu8; 100]);
    restore(dir.path(), &[(path.clone(), garbage)]);
    let err = open_collect(fs(), dir.path(), strict(), 0).unwrap_err();
    assert!(
        matches!(&err, WalError::Corrupt { file, offset, .. } if file == path && *offset == bytes.len() as u64),
        "{err}"
    );
}

/// Records (in LSN order) that survive a damaged byte at `pos` of file `index`: all of earlier
/// files and those of this file that end before `pos`.
fn intact_before(log: &[BuiltFile], index: usize, pos: usize) -> usize {
    let earlier: usize = log[..index].iter().map(|f| f.2.len()).sum();
    let here = if pos < FILE_HEADER_LEN {
        0
    } else {
        log[index].2.iter().filter(|s| s.2 <= pos).count()
    };
    earlier + here
}

#[test]
fn every_flipped_byte_is_detected_never_misdelivered() {
    let dir = TempDir::new("flip");
    let log = build_log(dir.path(), &[1..=3, 4..=5]);
    let originals: Vec<_> = log.iter().map(|(p, b, _)| (p.clone(), b.clone())).collect();
    let (mut corrupt, mut torn, mut version) = (0, 0, 0);
    for (index, (path, bytes, spans)) in log.iter().enumerate() {
        for pos in 0..bytes.len() {
            let mut files = originals.clone();
            files[index].1[pos] ^= 0x5A;
            let intact = intact_before(&log, index, pos);
            restore(dir.path(), &files);
            match open_collect(fs(), dir.path(), strict(), 0) {
                Ok((_wal, report, seen)) => {
                    let t = report
                        .torn_tail
                        .expect("a flipped byte must never go unnoticed");
                    assert_eq!(index, log.len() - 1, "torn tail only in the last file");
                    let last = spans.last().unwrap();
                    assert_eq!((&t.file, t.offset), (path, last.1 as u64));
                    assert_correct_prefix(&seen);
                    assert_eq!(seen.len(), intact);
                    torn += 1;
                }
                Err(WalError::Corrupt { file, offset, .. }) => {
                    assert_eq!(&file, path);
                    assert!(
                        offset as usize <= pos,
                        "offset {offset} after flipped byte {pos}"
                    );
                    corrupt += 1;
                }
                Err(WalError::UnsupportedVersion { file, .. }) => {
                    assert_eq!(&file, path);
                    assert!((FILE_VERSION_OFFSET..FILE_FIRST_LSN_OFFSET).contains(&pos));
                    version += 1;
                    continue;
                }
                Err(other) => panic!("unexpected error {other}"),
            }
            restore(dir.path(), &files);
            let (wal, report, seen) = open_collect(fs(), dir.path(), salvage(), 0).unwrap();
            assert_correct_prefix(&seen);
            assert_eq!(
                seen.len(),
                intact,
                "salvage keeps the prefix (file {index}, byte {pos})"
            );
            assert_eq!(report.last_lsn, intact as u64);
            assert_eq!(wal.commit(b"more").unwrap(), intact as u64 + 1);
            drop(wal);
            let (_wal, _, seen) = open_collect(fs(), dir.path(), strict(), 0).unwrap();
            assert_eq!(
                seen.len(),
                intact + 1,
                "salvaged log reopens cleanly in Strict mode"
            );
        }
    }
    assert!(
        corrupt > 0 && torn > 0 && version > 0,
        "{corrupt} {torn} {version}"
    );
}

#[test]
fn salvage_drops_everything_after_mid_log_corruption() {
    let dir = TempDir::new("salvage");
    let log = build_log(dir.path(), &[1..=10, 11..=20, 21..=30]);
    let mut files: Vec<_> = log.iter().map(|(p, b, _)| (p.clone(), b.clone())).collect();
    let (_, start, _) = log[1].2[4]; // record 15
    files[1].1[start + RECORD_HEADER_LEN] ^= 1;
    restore(dir.path(), &files);
    let err = open_collect(fs(), dir.path(), strict(), 0).unwrap_err();
    assert!(
        matches!(&err, WalError::Corrupt { file, offset, .. } if *file == log[1].0 && *offset == start as u64),
        "{err}"
    );

    let (wal, report, seen) = open_collect(fs(), dir.path(), salvage(), 0).unwrap();
    assert_correct_prefix(&seen);
    assert_eq!(seen.len(), 14);
    assert_eq!(report.salvaged.len(), 2);
    assert_eq!(
        (&report.salvaged[0].file, report.salvaged[0].offset),
        (&log[1].0, start as u64)
    );
    assert_eq!(
        report.salvaged[0].bytes_dropped,
        (log[1].1.len() - start) as u64
    );
    assert_eq!(
        (&report.salvaged[1].file, report.salvaged[1].bytes_dropped),
        (&log[2].0, log[2].1.len() as u64)
    );
    assert!(!log[2].0.exists());
    assert_eq!(wal.commit(b"15 again").unwrap(), 15);
}

#[test]
fn missing_middle_file_is_a_gap() {
    let dir = TempDir::new("gap");
    let log = build_log(dir.path(), &[1..=10, 11..=20, 21..=30]);
    std::fs::remove_file(&log[1].0).unwrap();
    let err = open_collect(fs(), dir.path(), strict(), 0).unwrap_err();
    assert!(
        matches!(&err, WalError::Corrupt { file, offset: 0, .. } if *file == log[2].0),
        "{err}"
    );
    // Covered by segments: not a loss.
    let (_wal, _, seen) = open_collect(fs(), dir.path(), strict(), 20).unwrap();
    assert_eq!(seen.first().map(|r| r.0), Some(21));
}

#[test]
fn unknown_version_is_refused() {
    let dir = TempDir::new("version");
    let log = build_log(dir.path(), &[1..=2]);
    let mut bytes = log[0].1.clone();
    bytes[FILE_VERSION_OFFSET..FILE_FIRST_LSN_OFFSET].copy_from_slice(&2u16.to_le_bytes());
    let crc = crc32fast::hash(&bytes[..FILE_HEADER_CRC_OFFSET]);
    bytes[FILE_HEADER_CRC_OFFSET..FILE_HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
    restore(dir.path(), &[(log[0].0.clone(), bytes)]);
    for opts in [strict(), salvage()] {
        let err = open_collect(fs(), dir.path(), opts, 0).unwrap_err();
        assert!(
            matches!(&err, WalError::UnsupportedVersion { found: 2, .. }),
            "{err}"
        );
    }
}

/// Commits until the first error, rotating now and then; returns the acknowledged LSNs.
fn commit_until_failure(storage: Arc<dyn Storage>, dir: &Path, opts: WalOptions) -> Vec<u64> {
    let Ok((wal, _, _)) = open_collect(storage, dir, opts, 0) else {
        return Vec::new();
    };
    let mut acked = Vec::new();
    for i in 1..=40u64 {
        let result = if i % 9 == 0 {
            wal.rotate().map(|()| None)
        } else {
            wal.commit(&payload(i)).map(Some)
        };
        match result {
            Ok(Some(lsn)) => {
                assert_eq!(lsn, i - i / 9, "LSNs stay consecutive");
                acked.push(lsn);
            }
            Ok(None) => {}
            Err(_) => {
                assert!(
                    matches!(wal.commit(b"late"), Err(WalError::Closed)),
                    "poisoned after an error"
                );
                break;
            }
        }
    }
    acked
}

#[test]
fn injected_faults_never_lose_acknowledged_records() {
    let opts = options(SyncMode::EveryCommit, 4 << 10);
    for n in 0..120 {
        let dir = TempDir::new("fault");
        let storage = Arc::new(FaultyStorage::new(FsStorage, FaultPlan::FailAfter(n)));
        let acked = commit_until_failure(storage, dir.path(), opts);
        let (wal, _, seen) =
            open_collect(fs(), dir.path(), strict(), 0).unwrap_or_else(|e| panic!("n={n}: {e}"));
        let payloads: Vec<u64> = (1..=40u64).filter(|i| i % 9 != 0).collect();
        for (lsn, data) in &seen {
            let i = payloads[(*lsn - 1) as usize];
            assert_eq!(*data, payload(i), "n={n}: record {lsn} damaged");
        }
        assert!(
            seen.len() >= acked.len(),
            "n={n}: {} acknowledged, {} recovered",
            acked.len(),
            seen.len()
        );
        assert_eq!(wal.commit(b"after").unwrap(), seen.len() as u64 + 1);
    }
}

#[test]
fn injected_faults_during_remove_and_open_are_recoverable() {
    for n in 0..30 {
        let dir = TempDir::new("faultremove");
        let log = build_log(dir.path(), &[1..=3, 4..=6, 7..=9, 10..=12]);
        let storage = Arc::new(FaultyStorage::new(FsStorage, FaultPlan::FailAfter(n)));
        if let Ok((wal, _, _)) = open_collect(storage, dir.path(), strict(), 0) {
            let _ = wal.remove_through(9);
            let _ = wal.commit(b"13");
        }
        let (_wal, _, seen) =
            open_collect(fs(), dir.path(), strict(), 9).unwrap_or_else(|e| panic!("n={n}: {e}"));
        assert!(seen.len() >= 3, "n={n}");
        assert_eq!(
            seen[..3].iter().map(|r| r.0).collect::<Vec<_>>(),
            vec![10, 11, 12]
        );
        assert!(log.len() == 4);
    }
}

#[test]
fn injected_faults_with_concurrent_committers() {
    let opts = options(SyncMode::EveryCommit, 8 << 10);
    for n in (5..200).step_by(7) {
        let dir = TempDir::new("faultthreads");
        let storage = Arc::new(FaultyStorage::new(FsStorage, FaultPlan::FailAfter(n)));
        let mut acked: Vec<(u64, Vec<u8>)> = Vec::new();
        if let Ok((wal, _, _)) = open_collect(storage, dir.path(), opts, 0) {
            acked = std::thread::scope(|s| {
                let handles: Vec<_> = (0..4u8)
                    .map(|t| {
                        let wal = &wal;
                        s.spawn(move || {
                            let mut mine = Vec::new();
                            for i in 0..30u8 {
                                let data = vec![t; 100 + usize::from(i) * 10];
                                match wal.commit(&data) {
                                    Ok(lsn) => mine.push((lsn, data)),
                                    Err(_) => break,
                                }
                            }
                            mine
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().unwrap())
                    .collect()
            });
        }
        let (_wal, _, seen) =
            open_collect(fs(), dir.path(), strict(), 0).unwrap_or_else(|e| panic!("n={n}: {e}"));
        for (i, (lsn, data)) in seen.iter().enumerate() {
            assert_eq!(*lsn, i as u64 + 1);
            let t = data.first().copied().unwrap_or(0);
            assert!(
                data.len() >= 100 && data.iter().all(|&b| b == t),
                "n={n}: record {lsn} damaged"
            );
        }
        for (lsn, data) in &acked {
            assert_eq!(
                seen.get((*lsn - 1) as usize).map(|r| &r.1),
                Some(data),
                "n={n}: acknowledged {lsn} lost"
            );
        }
    }
}

#[test]
fn background_flush_failure_poisons_the_writer() {
    let dir = TempDir::new("millisfault");
    // open: create_dir_all, create, header append, header sync, dir sync; the first flush fails.
    let storage = Arc::new(FaultyStorage::new(FsStorage, FaultPlan::FailAfter(5)));
    let (wal, _, _) = open_collect(
        storage,
        dir.path(),
        options(SyncMode::EveryMillis(5), 64 << 20),
        0,
    )
    .unwrap();
    assert_eq!(wal.commit(b"lost").unwrap(), 1);
    let start = std::time::Instant::now();
    while wal.append(b"more").is_ok() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(2),
            "never poisoned"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert!(matches!(wal.append(b"x"), Err(WalError::Closed)));
    assert_eq!(wal.durable_lsn(), 0);
    drop(wal);
}
