//! What the crash tests share: running this same executable as a child that acknowledges
//! numbered writes on its standard output, killing it, a seeded random delay, and the
//! options the child writes under.

use profiledb::{Options, RecoveryMode, SyncMode};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Set in the child's environment: the executable runs as the child.
pub const CHILD_ENV: &str = "PROFILEDB_CRASH_CHILD";
/// The database directory, for the child.
pub const DIR_ENV: &str = "PROFILEDB_CRASH_DIR";
/// The first number the child writes.
pub const START_ENV: &str = "PROFILEDB_CRASH_START";

/// Runs `exe` as a child, kills it after `delay`, and returns the numbers it acknowledged
/// (its `ack N` lines). The delay starts once the child printed `ready` (it finished opening
/// and recovering), or at once with `before_ready`.
///
/// # Errors
/// When the child cannot be started or killed, or exited on its own before the kill.
pub fn run_child(
    exe: &Path,
    dir: &Path,
    start: u32,
    delay: Duration,
    before_ready: bool,
) -> Result<Vec<u32>, String> {
    let mut child = Command::new(exe)
        .env(CHILD_ENV, "1")
        .env(DIR_ENV, dir)
        .env(START_ENV, start.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("spawn: {e}"))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut acked = Vec::new();
        let mut reader = BufReader::new(stdout);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            // A line cut short by the kill has no newline: it acknowledges nothing.
            if line.last() != Some(&b'\n') {
                break;
            }
            let text = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
            if text == "ready" {
                let _ = ready_tx.send(());
            } else if let Some(n) = text.strip_prefix("ack ") {
                acked.push(n.parse::<u32>().expect("ack number"));
            }
        }
        acked
    });
    if !before_ready {
        // Wait for the child to finish opening (recovery) before starting the clock.
        let _ = ready_rx.recv_timeout(Duration::from_secs(20));
    }
    std::thread::sleep(delay);
    let status_before = child.try_wait().map_err(|e| e.to_string())?;
    child.kill().map_err(|e| format!("kill: {e}"))?;
    child.wait().map_err(|e| e.to_string())?;
    let acked = reader.join().map_err(|_| "reader panicked".to_owned())?;
    if let Some(status) = status_before {
        return Err(format!("child exited on its own before the kill: {status}"));
    }
    Ok(acked)
}

/// A seeded generator of numbers below `n`: each run of a test binary repeats its delays.
pub fn seeded_random(mut seed: u64) -> impl FnMut(u64) -> u64 {
    move |n| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    }
}

/// Options of a crash child: every write synced before it is acknowledged, damage refused
/// at reopen rather than salvaged, and flushes and compactions small enough to happen
/// during the rounds (`flush_threshold_bytes`, `compaction_trigger_segments`).
pub fn crash_options(flush_threshold_bytes: usize, compaction_trigger_segments: usize) -> Options {
    Options {
        sync_mode: SyncMode::EveryCommit,
        recovery_mode: RecoveryMode::Strict,
        create_if_missing: true,
        flush_threshold_bytes,
        compaction_trigger_segments,
        low_priority_maintenance: true,
    }
}

/// Keeps the database of a failed round for inspection, under `<temp>/<test>-failed-<pid>-<round>`,
/// and says where.
pub fn keep_failed_database(dir: &Path, test: &str, round: u32) {
    let keep = std::env::temp_dir().join(format!("{test}-failed-{}-{round}", std::process::id()));
    let _ = std::fs::rename(dir, &keep);
    println!("  (database kept in {})", keep.display());
}
