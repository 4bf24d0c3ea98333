//! Writer-side tests: round trips, rotation, group commit, sync modes, file removal.

use super::test_support::{
    fs, open_collect, options, payload, wal_files, CountingStorage, TempDir,
};
use super::{SyncMode, Wal, WalError, MAX_PAYLOAD_LEN};
use crate::io::{FaultPlan, FaultyStorage, FsStorage, Storage};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Commits `payload(lsn)` for every lsn in `range`, checking the LSNs handed out.
fn commit_range(wal: &Wal, range: std::ops::RangeInclusive<u64>) {
    for lsn in range {
        assert_eq!(wal.commit(&payload(lsn)).unwrap(), lsn);
    }
}

/// Asserts `seen` is exactly `payload(lsn)` for every lsn in `range`, in order.
fn assert_replayed(seen: &[(u64, Vec<u8>)], range: std::ops::RangeInclusive<u64>) {
    let expected: Vec<(u64, Vec<u8>)> = range.map(|lsn| (lsn, payload(lsn))).collect();
    assert_eq!(seen.len(), expected.len());
    for (got, want) in seen.iter().zip(&expected) {
        assert_eq!(got, want, "record {}", want.0);
    }
}

#[test]
fn round_trip_across_rotations_and_reopen() {
    let dir = TempDir::new("roundtrip");
    let opts = options(SyncMode::EveryCommit, 64 << 10);
    let (wal, report, seen) = open_collect(fs(), dir.path(), opts, 0).unwrap();
    assert!(seen.is_empty());
    assert_eq!((report.last_lsn, report.records_replayed), (0, 0));
    assert_eq!(wal.last_lsn(), 0);
    commit_range(&wal, 1..=100);
    wal.rotate().unwrap();
    let big = vec![0xA5u8; 1 << 20];
    assert_eq!(wal.commit(&big).unwrap(), 101);
    commit_range(&wal, 102..=300);
    wal.rotate().unwrap();
    wal.rotate().unwrap(); // rotating an empty file is a no-op
    assert_eq!(wal.durable_lsn(), 300);
    wal.close().unwrap();
    assert!(
        wal_files(dir.path()).len() > 3,
        "auto + manual rotation made several files"
    );

    let (wal, report, seen) = open_collect(fs(), dir.path(), opts, 0).unwrap();
    assert_eq!((report.last_lsn, report.records_replayed), (300, 300));
    assert!(report.torn_tail.is_none() && report.salvaged.is_empty());
    assert_eq!(seen[100], (101, big.clone()));
    let without_big: Vec<_> = seen
        .iter()
        .filter(|(lsn, _)| *lsn != 101)
        .cloned()
        .collect();
    let expected: Vec<_> = (1..=300)
        .filter(|&l| l != 101)
        .map(|l| (l, payload(l)))
        .collect();
    assert_eq!(without_big, expected);
    assert_eq!(wal.commit(b"continued").unwrap(), 301);
    drop(wal);

    let (wal, report, seen) = open_collect(fs(), dir.path(), opts, 250).unwrap();
    assert_eq!(report.records_replayed, 51);
    assert_eq!(seen.first().map(|r| r.0), Some(251));
    assert_eq!(seen.last(), Some(&(301, b"continued".to_vec())));
    assert_eq!(wal.last_lsn(), 301);
    wal.close().unwrap();
}

#[test]
fn group_commit_shares_fsyncs() {
    const THREADS: u64 = 8;
    const PER_THREAD: u64 = 250;
    let dir = TempDir::new("group");
    let counting = CountingStorage::default();
    let storage: Arc<dyn Storage> = Arc::new(counting.clone());
    let opts = options(SyncMode::EveryCommit, 64 << 20);
    let (wal, _, _) = open_collect(storage, dir.path(), opts, 0).unwrap();
    let before = counting.syncs();
    let mut lsns: Vec<(u64, u64, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let wal = &wal;
                s.spawn(move || {
                    (0..PER_THREAD)
                        .map(|i| {
                            let lsn = wal.commit(format!("{t}:{i}").as_bytes()).unwrap();
                            assert!(wal.durable_lsn() >= lsn, "acknowledged before durable");
                            (lsn, t, i)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let syncs = counting.syncs() - before;
    let commits = THREADS * PER_THREAD;
    lsns.sort_unstable();
    let only_lsns: Vec<u64> = lsns.iter().map(|r| r.0).collect();
    assert_eq!(only_lsns, (1..=commits).collect::<Vec<_>>());
    println!("group commit: {commits} commits from {THREADS} threads took {syncs} fsyncs");
    assert!(syncs * 2 < commits, "{syncs} fsyncs for {commits} commits");
    wal.close().unwrap();

    let (_wal, _, seen) = open_collect(fs(), dir.path(), opts, 0).unwrap();
    assert_eq!(seen.len() as u64, commits);
    for ((lsn, data), (want_lsn, t, i)) in seen.iter().zip(&lsns) {
        assert_eq!(
            (lsn, data.as_slice()),
            (want_lsn, format!("{t}:{i}").as_bytes())
        );
    }
}

#[test]
fn every_millis_makes_records_durable_in_the_background() {
    let dir = TempDir::new("millis");
    let (wal, _, _) = open_collect(
        fs(),
        dir.path(),
        options(SyncMode::EveryMillis(20), 64 << 20),
        0,
    )
    .unwrap();
    for round in 0..3u64 {
        let start = Instant::now();
        let mut last = 0;
        for i in 0..10 {
            last = wal.commit(&payload(round * 10 + i)).unwrap();
        }
        while wal.durable_lsn() < last {
            assert!(
                start.elapsed() < Duration::from_secs(2),
                "durable_lsn stuck at {}",
                wal.durable_lsn()
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        // 20 ms interval plus scheduling slack on a busy test machine.
        assert!(
            start.elapsed() < Duration::from_millis(500),
            "took {:?}",
            start.elapsed()
        );
    }
    drop(wal); // must stop the flusher without hanging
    let (_wal, report, _) =
        open_collect(fs(), dir.path(), options(SyncMode::Never, 64 << 20), 0).unwrap();
    assert_eq!(report.last_lsn, 30);
}

#[test]
fn never_mode_syncs_only_when_asked() {
    let dir = TempDir::new("never");
    let opts = options(SyncMode::Never, 64 << 20);
    let (wal, _, _) = open_collect(fs(), dir.path(), opts, 0).unwrap();
    commit_range(&wal, 1..=20);
    assert_eq!(wal.durable_lsn(), 0);
    wal.sync().unwrap();
    assert_eq!(wal.durable_lsn(), 20);
    commit_range(&wal, 21..=30);
    wal.close().unwrap();
    let (_wal, _, seen) = open_collect(fs(), dir.path(), opts, 0).unwrap();
    assert_replayed(&seen, 1..=30);
}

#[test]
fn remove_through_deletes_only_fully_covered_files() {
    let dir = TempDir::new("remove");
    let opts = options(SyncMode::EveryCommit, 64 << 20);
    let (wal, _, _) = open_collect(fs(), dir.path(), opts, 0).unwrap();
    commit_range(&wal, 1..=10);
    wal.rotate().unwrap();
    commit_range(&wal, 11..=20);
    wal.rotate().unwrap();
    commit_range(&wal, 21..=25);
    let names = |dir: &std::path::Path| -> Vec<String> {
        wal_files(dir)
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect()
    };
    let all = names(dir.path());
    assert_eq!(all.len(), 3);
    let on_disk: u64 = wal_files(dir.path())
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert_eq!(wal.size_on_disk().unwrap(), on_disk);

    wal.remove_through(9).unwrap();
    assert_eq!(names(dir.path()), all, "file 1..=10 still holds lsn 10");
    wal.remove_through(15).unwrap();
    assert_eq!(names(dir.path()), all[1..]);
    wal.remove_through(20).unwrap();
    assert_eq!(names(dir.path()), all[2..]);
    wal.remove_through(1_000).unwrap();
    assert_eq!(
        names(dir.path()),
        all[2..],
        "the file being written is never deleted"
    );
    assert!(wal.size_on_disk().unwrap() < on_disk);
    wal.close().unwrap();

    let (_wal, report, seen) = open_collect(fs(), dir.path(), opts, 20).unwrap();
    assert_eq!(report.last_lsn, 25);
    assert_replayed(&seen, 21..=25);
}

#[test]
fn replay_after_beyond_the_log_continues_numbering() {
    let dir = TempDir::new("beyond");
    let opts = options(SyncMode::EveryCommit, 64 << 20);
    let (wal, _, _) = open_collect(fs(), dir.path(), opts, 0).unwrap();
    commit_range(&wal, 1..=10);
    drop(wal);
    // Segments already hold everything through 50 (e.g. the log was flushed elsewhere).
    let (wal, report, seen) = open_collect(fs(), dir.path(), opts, 50).unwrap();
    assert!(seen.is_empty());
    assert_eq!(report.last_lsn, 50);
    assert_eq!(wal.commit(b"x").unwrap(), 51);
    drop(wal);
    let (wal, _, seen) = open_collect(fs(), dir.path(), opts, 50).unwrap();
    assert_eq!(seen, vec![(51, b"x".to_vec())]);
    wal.remove_through(50).unwrap();
    drop(wal);
    assert_eq!(wal_files(dir.path()).len(), 1);
    // Without the covering segments the gap 11..=50 is corruption.
    let err = open_collect(fs(), dir.path(), opts, 0).unwrap_err();
    assert!(matches!(err, WalError::Corrupt { offset: 0, .. }), "{err}");
}

#[test]
fn replaying_below_the_held_point_never_numbers_a_held_record_again() {
    let dir = TempDir::new("held");
    let opts = options(SyncMode::EveryCommit, 64 << 20);
    let (wal, _, _) = open_collect(fs(), dir.path(), opts, 0).unwrap();
    commit_range(&wal, 1..=10);
    drop(wal);
    // Records 6..=10 are replayed (for the identity graph), and segments hold through 30.
    let mut seen = Vec::new();
    let (wal, report) = Wal::open(fs(), dir.path(), opts, 5, 30, |lsn, _| {
        seen.push(lsn);
        Ok::<(), std::convert::Infallible>(())
    })
    .unwrap();
    assert_eq!(seen, (6..=10).collect::<Vec<_>>());
    assert_eq!(report.records_replayed, 5);
    assert_eq!(wal.commit(b"x").unwrap(), 31);
}

#[test]
fn apply_error_fails_open() {
    let dir = TempDir::new("apply");
    let opts = options(SyncMode::EveryCommit, 64 << 20);
    let (wal, _, _) = open_collect(fs(), dir.path(), opts, 0).unwrap();
    commit_range(&wal, 1..=3);
    drop(wal);
    let result = Wal::open(fs(), dir.path(), opts, 0, 0, |lsn, _| {
        if lsn == 2 {
            Err(std::io::Error::other("boom"))
        } else {
            Ok(())
        }
    });
    assert!(matches!(result, Err(WalError::Apply(e)) if e.to_string() == "boom"));
}

#[test]
fn bad_arguments_are_rejected_without_harm() {
    let dir = TempDir::new("args");
    let (wal, _, _) = open_collect(
        fs(),
        dir.path(),
        options(SyncMode::EveryCommit, 64 << 20),
        0,
    )
    .unwrap();
    let huge = vec![0u8; MAX_PAYLOAD_LEN + 1];
    assert!(matches!(
        wal.append(&huge),
        Err(WalError::PayloadTooLarge { .. })
    ));
    assert!(matches!(
        wal.wait_durable(5),
        Err(WalError::LsnNotAppended {
            lsn: 5,
            last_lsn: 0
        })
    ));
    wal.wait_durable(0).unwrap();
    assert_eq!(wal.commit(b"ok").unwrap(), 1);
}

#[test]
fn io_error_poisons_the_writer() {
    let dir = TempDir::new("poison");
    // Enough steps for open (create_dir_all, create, header append, header sync, dir sync) + one commit.
    let storage: Arc<dyn Storage> =
        Arc::new(FaultyStorage::new(FsStorage, FaultPlan::FailAfter(7)));
    let (wal, _, _) = open_collect(
        storage,
        dir.path(),
        options(SyncMode::EveryCommit, 64 << 20),
        0,
    )
    .unwrap();
    assert_eq!(wal.commit(b"one").unwrap(), 1);
    assert!(matches!(wal.commit(b"two"), Err(WalError::Io { .. })));
    assert!(matches!(wal.append(b"three"), Err(WalError::Closed)));
    assert!(matches!(wal.sync(), Err(WalError::Closed)));
    assert!(matches!(wal.rotate(), Err(WalError::Closed)));
    assert!(matches!(wal.close(), Err(WalError::Closed)));
}

#[test]
fn wal_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Wal>();
}
