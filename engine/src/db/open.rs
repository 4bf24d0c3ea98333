//! Opening a database: lock, manifest, segments, orphan clean-up, WAL replay.

use super::flush::write_identity_snapshot;
use super::identity_checkpoint::IdentityCheckpoint;
use super::writer::WriterState;
use super::Inner;
use crate::error::{Error, Result};
use crate::identity::{decode_snapshot, IdentityGraph};
use crate::io::Storage;
use crate::manifest::{
    identity_snapshot_file, parse_identity_snapshot_file, Manifest, MANIFEST_FILE,
};
use crate::mutation::Batch;
use crate::options::Options;
use crate::schema::TableKind;
use crate::segment::{layout, Segment};
use crate::snapshot::Version;
use crate::wal::{Wal, WalOptions};
use parking_lot::{Mutex, RwLock};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Name of the lock file that keeps a second process out.
pub const LOCK_FILE: &str = "LOCK";
/// Directory (inside the database directory) holding the WAL files.
pub const WAL_DIR: &str = "wal";

pub(super) fn open(storage: Arc<dyn Storage>, dir: &Path, options: Options) -> Result<Inner> {
    prepare_directory(storage.as_ref(), dir, &options)?;
    let lock_path = dir.join(LOCK_FILE);
    let lock = storage.lock(&lock_path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::WouldBlock {
            Error::Locked {
                path: lock_path.clone(),
            }
        } else {
            Error::io("lock", &lock_path)(e)
        }
    })?;
    let manifest = match Manifest::load(storage.as_ref(), dir)? {
        Some(manifest) => manifest,
        None => {
            let fresh = Manifest::default();
            fresh.store(storage.as_ref(), dir)?;
            fresh
        }
    };
    remove_orphans(storage.as_ref(), dir, &manifest)?;
    let segments = open_segments(storage.as_ref(), dir, &manifest)?;
    let mut writer = writer_from_segments(&manifest, &segments);
    let (graph, snapshot_len) = load_identity_snapshot(storage.as_ref(), dir, &manifest)?;
    writer.graph = graph;
    writer.identity_checkpoint = IdentityCheckpoint::new(snapshot_len);
    let wal_dir = dir.join(WAL_DIR);
    storage
        .create_dir_all(&wal_dir)
        .map_err(Error::io("create directory", &wal_dir))?;
    let wal_options = WalOptions {
        sync_mode: options.sync_mode,
        recovery_mode: options.recovery_mode,
        ..WalOptions::default()
    };
    // Records up to `flushed_lsn` are in segments; those past the graph's anchor still
    // carry graph changes the snapshot lacks.
    let mut replayed_through = manifest.identity_lsn;
    let (wal, recovery) = Wal::open(
        Arc::clone(&storage),
        &wal_dir,
        wal_options,
        manifest.identity_lsn,
        manifest.flushed_lsn,
        |lsn, payload| {
            replayed_through = lsn;
            let rows_in_segments = lsn <= manifest.flushed_lsn;
            let batch = if rows_in_segments {
                Batch {
                    identity: Batch::decode_identity(payload).map_err(ReplayError::Wire)?,
                    mutations: Vec::new(),
                }
            } else {
                Batch::decode(payload).map_err(ReplayError::Wire)?
            };
            writer
                .identity_checkpoint
                .note_record(payload.len(), !batch.identity.is_empty());
            if rows_in_segments {
                writer.replay_identity(&batch.identity)
            } else {
                writer.replay(lsn, batch)
            }
            .map_err(ReplayError::Identity)
        },
    )?;
    writer.last_applied_lsn = writer.last_applied_lsn.max(manifest.flushed_lsn);
    let manifest = anchor_graph_past_a_lost_log(
        storage.as_ref(),
        dir,
        manifest,
        replayed_through,
        &mut writer,
    )?;
    // A crash between a manifest update and the WAL clean-up leaves covered files behind.
    wal.remove_through(manifest.identity_lsn)?;
    let version = Version {
        segments,
        profiles_schema: Arc::new(writer.profiles_schema.clone()),
        events_schema: Arc::new(writer.events_schema.clone()),
        last_lsn: manifest.flushed_lsn,
        ..Version::default()
    };
    let inner = Inner {
        storage,
        dir: dir.to_path_buf(),
        options,
        wal,
        writer: Mutex::new(writer),
        current: RwLock::new(Arc::new(version)),
        unpublished: AtomicBool::new(true),
        maintenance: Mutex::new(manifest),
        background_error: Mutex::new(None),
        write_failure: Mutex::new(None),
        doorbell: Arc::default(),
        recovery,
        _lock: lock,
    };
    Ok(inner)
}

/// Why a WAL record could not be re-applied at open.
#[derive(Debug, thiserror::Error)]
enum ReplayError {
    #[error(transparent)]
    Wire(crate::wire::WireError),
    #[error(transparent)]
    Identity(crate::identity::IdentityError),
}

fn prepare_directory(storage: &dyn Storage, dir: &Path, options: &Options) -> Result<()> {
    let has_manifest = storage.len(&dir.join(MANIFEST_FILE)).is_ok();
    if has_manifest {
        return Ok(());
    }
    if !options.create_if_missing {
        return Err(Error::NotFound {
            path: dir.to_path_buf(),
        });
    }
    storage
        .create_dir_all(dir)
        .map_err(Error::io("create directory", dir))
}

/// Deletes files a crash left behind: temporary files and segments no manifest lists.
fn remove_orphans(storage: &dyn Storage, dir: &Path, manifest: &Manifest) -> Result<()> {
    let names = storage
        .list(dir)
        .map_err(Error::io("list directory", dir))?;
    let mut removed = false;
    for name in names {
        let orphan_segment = layout::parse_file_name(&name)
            .is_some_and(|id| !manifest.segments.iter().any(|s| s.id == id));
        let orphan_snapshot =
            parse_identity_snapshot_file(&name).is_some_and(|n| n != manifest.identity_snapshot);
        if name.ends_with(".tmp") || orphan_segment || orphan_snapshot {
            let path = dir.join(&name);
            storage
                .remove(&path)
                .map_err(Error::io("remove orphan file", &path))?;
            removed = true;
        }
    }
    if removed {
        storage
            .sync_dir(dir)
            .map_err(Error::io("sync directory", dir))?;
    }
    Ok(())
}

/// The identity graph as of `identity_lsn`: the manifest's snapshot, or empty; and the
/// snapshot file's size (0 without one).
fn load_identity_snapshot(
    storage: &dyn Storage,
    dir: &Path,
    manifest: &Manifest,
) -> Result<(IdentityGraph, u64)> {
    if manifest.identity_snapshot == 0 {
        return Ok((IdentityGraph::default(), 0));
    }
    let path = dir.join(identity_snapshot_file(manifest.identity_snapshot));
    let bytes = storage
        .read(&path)
        .map_err(Error::io("read identity snapshot", &path))?;
    let graph = decode_snapshot(&bytes).map_err(|e| Error::corrupt(&path, 0, e.to_string()))?;
    Ok((graph, bytes.len() as u64))
}

/// Writes a snapshot at `flushed_lsn` when the log ended before it while the graph was
/// anchored below it: only salvage (or lost WAL files) does that. The WAL would otherwise
/// resume numbering past a gap that the next open reports as missing records; the graph,
/// having replayed all that survives, is as of `flushed_lsn` in every sense left.
fn anchor_graph_past_a_lost_log(
    storage: &dyn Storage,
    dir: &Path,
    manifest: Manifest,
    replayed_through: u64,
    writer: &mut WriterState,
) -> Result<Manifest> {
    if replayed_through >= manifest.flushed_lsn {
        return Ok(manifest);
    }
    let bytes = writer.graph.encode_snapshot();
    write_identity_snapshot(storage, dir, manifest.flushed_lsn, &bytes)?;
    let previous = manifest.identity_snapshot;
    let mut anchored = manifest;
    anchored.identity_snapshot = anchored.flushed_lsn;
    anchored.identity_lsn = anchored.flushed_lsn;
    anchored.store(storage, dir)?;
    if previous != 0 {
        // Best effort: an old snapshot left behind is removed as an orphan at the next open.
        let _ = storage.remove(&dir.join(identity_snapshot_file(previous)));
    }
    writer.identity_checkpoint = IdentityCheckpoint::new(bytes.len() as u64);
    Ok(anchored)
}

fn open_segments(
    storage: &dyn Storage,
    dir: &Path,
    manifest: &Manifest,
) -> Result<Vec<Arc<Segment>>> {
    manifest
        .segments
        .iter()
        .map(|entry| {
            let path = dir.join(layout::file_name(entry.id));
            let segment = Segment::open(storage, &path)?;
            if segment.id() != entry.id || segment.table() != entry.table {
                return Err(Error::corrupt(
                    &path,
                    0,
                    "segment header disagrees with the manifest",
                ));
            }
            Ok(Arc::new(segment))
        })
        .collect()
}

fn writer_from_segments(manifest: &Manifest, segments: &[Arc<Segment>]) -> WriterState {
    let mut writer = WriterState {
        profiles_schema: manifest.profiles_schema.clone(),
        events_schema: manifest.events_schema.clone(),
        next_event_row: manifest.next_event_row,
        ..WriterState::default()
    };
    for segment in segments {
        let highest = segment
            .rows()
            .max()
            .into_iter()
            .chain(segment.deleted().max())
            .max();
        let next = highest.map_or(0, |row| row.saturating_add(1));
        match segment.table() {
            TableKind::Profiles => {
                writer.next_profile_row = writer.next_profile_row.max(next);
                writer.deleted_profiles |= segment.deleted();
            }
            TableKind::Events => writer.next_event_row = writer.next_event_row.max(next),
        }
    }
    writer
}
