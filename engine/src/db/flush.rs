//! Flush: write the in-memory head to segment files, then drop the WAL files it covers.
//!
//! Steps and what a crash at each leaves (see `storage-format.md`, "Commit protocol"):
//! 1. freeze the sealed memory layers and rotate the WAL (under the writer lock, so every
//!    record up to the frozen LSN is in older WAL files);
//! 2. write one segment per table, each under a temporary name, synced, then renamed, and
//!    the identity graph as of the frozen LSN to `identity-<lsn>.snap` the same way;
//! 3. store a new manifest listing them with `flushed_lsn` = the frozen LSN (the previous
//!    graph snapshot file is deleted after that);
//! 4. publish a version with the segments in place of the frozen layers;
//! 5. delete WAL files whose records are all at or below the frozen LSN.
//!
//! A crash before 3 leaves orphan segments (removed at open) and a WAL that still holds
//! everything; after 3, replay skips the flushed records and step 5 is redone by a later flush.

use super::Inner;
use crate::error::{Error, Result};
use crate::identity::IdentityGraph;
use crate::manifest::identity_snapshot_file;
use crate::memtable::{MemLayer, MergedTable};
use crate::schema::{TableKind, TableSchema};
use crate::segment::{Segment, SegmentWriter};
use crate::value::Value;
use std::sync::Arc;

/// The value of positions a column does not set.
static NULL: Value = Value::Null;

pub(super) fn flush(inner: &Inner) -> Result<()> {
    let mut manifest = inner.maintenance.lock();
    let Some(frozen) = freeze(inner)? else {
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
    if let Some(graph) = &frozen.graph {
        write_identity_snapshot(inner, frozen.lsn, &graph.encode_snapshot())?;
        next_manifest.identity_snapshot = frozen.lsn;
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
        let _writer = inner.writer.lock();
        inner.swap_version(|version| {
            version.flushing.clear();
            version.segments.extend(written);
        });
    }
    inner.wal.remove_through(frozen.lsn)?;
    Ok(())
}

struct Frozen {
    layers: Vec<Arc<MemLayer>>,
    lsn: u64,
    next_event_row: u32,
    profiles_schema: TableSchema,
    events_schema: TableSchema,
    /// A copy of the identity graph as of `lsn`, encoded after the writer lock is released;
    /// `None` while the graph is empty.
    graph: Option<Box<IdentityGraph>>,
}

/// Moves every sealed memory layer into the version's `flushing` list and rotates the WAL.
fn freeze(inner: &Inner) -> Result<Option<Frozen>> {
    let mut writer = inner.writer.lock();
    inner.check_no_failed_write()?;
    inner.publish_locked(&mut writer);
    let mut layers = Vec::new();
    inner.swap_version(|version| {
        let sealed = std::mem::take(&mut version.mem_layers);
        version.flushing.extend(sealed);
        layers.clone_from(&version.flushing);
    });
    if layers.is_empty() {
        return Ok(None);
    }
    inner.wal.rotate()?;
    Ok(Some(Frozen {
        layers,
        lsn: writer.last_applied_lsn,
        next_event_row: writer.next_event_row,
        profiles_schema: writer.profiles_schema.clone(),
        events_schema: writer.events_schema.clone(),
        // Copying the graph's flat arrays under the lock is several times cheaper than
        // encoding them, and the writer waits for whatever happens here.
        graph: (writer.graph.log_len() > 0
            || *writer.graph.config() != crate::identity::IdentityConfig::default())
        .then(|| Box::new(writer.graph.clone())),
    }))
}

/// Writes the graph snapshot of `lsn` under a temporary name, syncs it, renames it in place.
fn write_identity_snapshot(inner: &Inner, lsn: u64, bytes: &[u8]) -> Result<()> {
    let path = inner.dir.join(identity_snapshot_file(lsn));
    let temp = inner
        .dir
        .join(format!("{}.tmp", identity_snapshot_file(lsn)));
    let mut file = inner
        .storage
        .create(&temp)
        .map_err(Error::io("create identity snapshot", &temp))?;
    file.append(bytes)
        .map_err(Error::io("write identity snapshot", &temp))?;
    file.sync_data()
        .map_err(Error::io("sync identity snapshot", &temp))?;
    drop(file);
    inner
        .storage
        .rename(&temp, &path)
        .map_err(Error::io("rename identity snapshot", &temp))?;
    inner
        .storage
        .sync_dir(&inner.dir)
        .map_err(Error::io("sync directory", &inner.dir))
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
