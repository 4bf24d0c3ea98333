//! Flush: write the in-memory head to segment files, then drop the WAL files it covers.
//!
//! Steps and what a crash at each leaves (see `storage-format.md`, "Commit protocol"):
//! 1. freeze the sealed memory layers and rotate the WAL (under the writer lock, so every
//!    record up to the frozen LSN is in older WAL files);
//! 2. write one segment per table, each under a temporary name, synced, then renamed, and,
//!    when one is due (see `identity_checkpoint`), the identity graph as of the frozen LSN to
//!    `identity-<lsn>.snap` the same way;
//! 3. store a new manifest listing them with `flushed_lsn` = the frozen LSN and the graph's
//!    anchor (the previous graph snapshot file is deleted after that);
//! 4. publish a version with the segments in place of the frozen layers;
//! 5. delete WAL files whose records are all at or below the graph's anchor.
//!
//! A crash before 3 leaves orphan segments (removed at open) and a WAL that still holds
//! everything; after 3, replay applies only the graph changes of the flushed records past the
//! anchor, and step 5 is redone by a later flush.

use super::identity_checkpoint::{CheckpointMark, SnapshotPlan};
use super::Inner;
use crate::error::{Error, Result};
use crate::identity::IdentityGraph;
use crate::io::Storage;
use crate::manifest::identity_snapshot_file;
use crate::memtable::{MemLayer, MergedTable};
use crate::schema::{TableKind, TableSchema};
use crate::segment::{Segment, SegmentWriter};
use crate::value::Value;
use std::path::Path;
use std::sync::Arc;

/// The value of positions a column does not set.
static NULL: Value = Value::Null;

/// When a flush writes the identity graph's snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum GraphSnapshot {
    /// Once the WAL kept for the graph outweighs its snapshot (see `identity_checkpoint`).
    WhenDue,
    /// Now, if anything is kept for it, so that no WAL file outlives the flush: what erasure
    /// needs, since kept WAL files hold rows as well as graph changes.
    Now,
}

pub(super) fn flush(inner: &Inner, graph_snapshot: GraphSnapshot) -> Result<()> {
    let mut manifest = inner.maintenance.lock();
    let Some(frozen) = freeze(inner, graph_snapshot, manifest.identity_lsn)? else {
        return Ok(());
    };
    let mut written = Vec::new();
    for table in TableKind::ALL {
        // Read through the layers as one, rather than merge them into a layer first: each
        // cell goes straight from its layer to the segment, uncopied.
        let data = MergedTable::new(&frozen.layers, table);
        if data.rows().is_empty() && data.deleted().is_empty() {
            continue;
        }
        let id = manifest.next_segment_id;
        manifest.next_segment_id += 1;
        let schema = match table {
            TableKind::Profiles => &frozen.profiles_schema,
            TableKind::Events => &frozen.events_schema,
        };
        let path = write_memory_segment(inner, id, table, &data, schema, frozen.lsn)?;
        written.push(Arc::new(Segment::open(inner.storage.as_ref(), &path)?));
    }
    let mut next_manifest = manifest.clone();
    let mut snapshot_len = None;
    match (frozen.identity_plan, &frozen.graph) {
        (SnapshotPlan::Write, Some(graph)) => {
            let bytes = graph.encode_snapshot();
            write_identity_snapshot(inner.storage.as_ref(), &inner.dir, frozen.lsn, &bytes)?;
            snapshot_len = Some(bytes.len() as u64);
            next_manifest.identity_snapshot = frozen.lsn;
            next_manifest.identity_lsn = frozen.lsn;
        }
        (SnapshotPlan::Unchanged, _) => next_manifest.identity_lsn = frozen.lsn,
        (SnapshotPlan::Keep | SnapshotPlan::Write, _) => {}
    }
    let previous_snapshot = manifest.identity_snapshot;
    next_manifest.flushed_lsn = frozen.lsn;
    next_manifest.next_event_row = frozen.next_event_row;
    next_manifest.profiles_schema = frozen.profiles_schema.clone();
    next_manifest.events_schema = frozen.events_schema.clone();
    next_manifest
        .segments
        .extend(written.iter().map(|s| crate::manifest::SegmentEntry {
            id: s.id(),
            table: s.table(),
        }));
    next_manifest.store(inner.storage.as_ref(), &inner.dir)?;
    *manifest = next_manifest;
    if previous_snapshot != 0 && previous_snapshot != manifest.identity_snapshot {
        let old = inner.dir.join(identity_snapshot_file(previous_snapshot));
        // Best effort: an old snapshot left behind is removed as an orphan at the next open.
        let _ = inner.storage.remove(&old);
    }
    {
        let mut writer = inner.writer.lock();
        inner.swap_version(|version| {
            version.flushing.clear();
            version.segments.extend(written);
        });
        if frozen.identity_plan != SnapshotPlan::Keep {
            writer
                .identity_checkpoint
                .anchored(frozen.identity_mark, snapshot_len);
        }
    }
    // Records past the graph's anchor stay: opening replays their identity changes.
    inner.wal.remove_through(manifest.identity_lsn)?;
    Ok(())
}

struct Frozen {
    layers: Vec<Arc<MemLayer>>,
    lsn: u64,
    next_event_row: u32,
    profiles_schema: TableSchema,
    events_schema: TableSchema,
    /// What to do about the identity graph's snapshot.
    identity_plan: SnapshotPlan,
    /// The writer's identity counters as of `lsn`.
    identity_mark: CheckpointMark,
    /// A copy of the identity graph as of `lsn` when a snapshot is to be written, encoded
    /// after the writer lock is released.
    graph: Option<Box<IdentityGraph>>,
}

/// Moves every sealed memory layer into the version's `flushing` list and rotates the WAL;
/// `None` when there is nothing to write (no layer, and no graph snapshot wanted now).
fn freeze(
    inner: &Inner,
    graph_snapshot: GraphSnapshot,
    identity_lsn: u64,
) -> Result<Option<Frozen>> {
    let mut writer = inner.writer.lock();
    inner.check_no_failed_write()?;
    inner.publish_locked(&mut writer);
    let mut layers = Vec::new();
    inner.swap_version(|version| {
        let sealed = std::mem::take(&mut version.mem_layers);
        version.flushing.extend(sealed);
        layers.clone_from(&version.flushing);
    });
    let identity_plan = match graph_snapshot {
        GraphSnapshot::WhenDue => writer.identity_checkpoint.plan(),
        GraphSnapshot::Now => writer.identity_checkpoint.plan_now(),
    };
    let graph_waits = identity_lsn < writer.last_applied_lsn;
    if layers.is_empty() && !(graph_snapshot == GraphSnapshot::Now && graph_waits) {
        return Ok(None);
    }
    inner.wal.rotate()?;
    Ok(Some(Frozen {
        layers,
        lsn: writer.last_applied_lsn,
        next_event_row: writer.next_event_row,
        profiles_schema: writer.profiles_schema.clone(),
        events_schema: writer.events_schema.clone(),
        identity_plan,
        identity_mark: writer.identity_checkpoint.mark(),
        // Copying the graph's flat arrays under the lock is several times cheaper than
        // encoding them, and the writer waits for whatever happens here.
        graph: (identity_plan == SnapshotPlan::Write).then(|| Box::new(writer.graph.clone())),
    }))
}

/// Writes the graph snapshot of `lsn` under a temporary name, syncs it, renames it in place.
pub(super) fn write_identity_snapshot(
    storage: &dyn Storage,
    dir: &Path,
    lsn: u64,
    bytes: &[u8],
) -> Result<()> {
    let path = dir.join(identity_snapshot_file(lsn));
    let temp = dir.join(format!("{}.tmp", identity_snapshot_file(lsn)));
    let mut file = storage
        .create(&temp)
        .map_err(Error::io("create identity snapshot", &temp))?;
    file.append(bytes)
        .map_err(Error::io("write identity snapshot", &temp))?;
    file.sync_data()
        .map_err(Error::io("sync identity snapshot", &temp))?;
    drop(file);
    storage
        .rename(&temp, &path)
        .map_err(Error::io("rename identity snapshot", &temp))?;
    storage
        .sync_dir(dir)
        .map_err(Error::io("sync directory", dir))
}

fn write_memory_segment(
    inner: &Inner,
    id: u64,
    table: TableKind,
    data: &MergedTable<'_>,
    schema: &TableSchema,
    lsn: u64,
) -> Result<std::path::PathBuf> {
    let mut writer = SegmentWriter::create(
        inner.storage.as_ref(),
        &inner.dir,
        id,
        table,
        data.rows().clone(),
        data.deleted().clone(),
    )?;
    let rows = data.rows().clone();
    for definition in schema.columns() {
        // A column whose every cell was deleted is left out, as if never written.
        let Some(column) = data
            .column(&definition.name)
            .filter(|column| !column.present().is_empty())
        else {
            continue;
        };
        let mut cells = column.cells().peekable();
        let values = rows.iter().map(|row| match cells.peek() {
            Some((r, _)) if *r == row => cells.next().map_or(&NULL, |(_, v)| v),
            _ => &NULL,
        });
        writer.write_column(
            &definition.name,
            definition.column_type,
            column.present().clone(),
            values,
        )?;
    }
    Ok(writer.finish(lsn)?.0)
}
