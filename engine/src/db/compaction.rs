//! Compaction: rewrite a table's segments into one holding only live rows.
//!
//! This is what makes erasure physical: the new segment is built from the live rows alone,
//! so a deleted profile's values (and dictionary entries) appear in no file once the old
//! segments are unlinked. The deleted-row ids are carried forward so deletions stay final.

use super::flush::GraphSnapshot;
use super::Inner;
use crate::error::{Error, Result};
use crate::manifest::SegmentEntry;
use crate::schema::TableKind;
use crate::segment::{layout, Segment, SegmentWriter};
use crate::snapshot::{Snapshot, Version};
use std::sync::Arc;

pub(super) fn compact(inner: &Inner) -> Result<()> {
    super::flush::flush(inner, GraphSnapshot::Now)?;
    for table in TableKind::ALL {
        compact_table(inner, table, Inputs::All)?;
    }
    Ok(())
}

/// Which of a table's segments a compaction rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Inputs {
    /// Every segment, into one that holds only live rows: what erasure needs.
    All,
    /// The newest run of segments of about equal total size (see [`newest_run`]): what the
    /// background does to bound the segment count.
    NewestRun,
}

/// How many of the newest segments (sizes given oldest first) to merge so that each byte
/// is rewritten only a few times over the life of a table: the two newest, then each older
/// one no larger than those taken so far. Merging every segment whenever there are too many
/// would instead rewrite the whole table every few flushes, a cost growing with its size.
/// The sizes taken grow at least geometrically, so each byte is rewritten about log2(table
/// size / segment size) times, and the count stays near the trigger.
pub(super) fn newest_run(sizes: &[u64]) -> usize {
    if sizes.len() < 2 {
        return sizes.len();
    }
    let mut taken = 2;
    let mut total = sizes[sizes.len() - 1] + sizes[sizes.len() - 2];
    for &older in sizes[..sizes.len() - 2].iter().rev() {
        if older > total {
            break;
        }
        taken += 1;
        total += older;
    }
    taken
}

/// Number of segments `table` has in the published version.
pub(super) fn segment_count(inner: &Inner, table: TableKind) -> usize {
    inner
        .current
        .read()
        .segments
        .iter()
        .filter(|s| s.table() == table)
        .count()
}

pub(super) fn compact_table(inner: &Inner, table: TableKind, which: Inputs) -> Result<()> {
    let mut manifest = inner.maintenance.lock();
    let version = inner.current.read().clone();
    let mut inputs: Vec<Arc<Segment>> = version
        .segments
        .iter()
        .filter(|s| s.table() == table)
        .cloned()
        .collect();
    if which == Inputs::NewestRun {
        let sizes: Vec<u64> = inputs.iter().map(|s| s.file_len()).collect();
        inputs.drain(..inputs.len() - newest_run(&sizes));
    }
    if inputs.len() < 2 && inputs.iter().all(|s| s.deleted().is_empty()) {
        return Ok(());
    }
    let id = manifest.next_segment_id;
    manifest.next_segment_id += 1;
    let merged = Snapshot::new(Arc::new(Version {
        segments: inputs.clone(),
        profiles_schema: Arc::clone(&version.profiles_schema),
        events_schema: Arc::clone(&version.events_schema),
        ..Version::default()
    }));
    let output = write_compacted(inner, &merged, table, id, &inputs)?;
    let input_ids: Vec<u64> = inputs.iter().map(|s| s.id()).collect();
    let mut next_manifest = manifest.clone();
    // The output takes the place of its oldest input: the inputs are consecutive among the
    // table's segments, so it is then older than every later segment and newer than every
    // earlier one, as they were.
    let at = replace_run(&mut next_manifest.segments, &input_ids, |s| s.id);
    next_manifest
        .segments
        .insert(at, SegmentEntry { id, table });
    next_manifest.store(inner.storage.as_ref(), &inner.dir)?;
    *manifest = next_manifest;
    {
        let _writer = inner.writer.lock();
        inner.swap_version(|version| {
            let at = replace_run(&mut version.segments, &input_ids, |s| s.id());
            version.segments.insert(at, output);
        });
    }
    for input in &inputs {
        // Snapshots still reading an input keep its mapping; unlinking does not disturb them.
        inner
            .storage
            .remove(input.path())
            .map_err(Error::io("remove segment", input.path()))?;
    }
    inner
        .storage
        .sync_dir(&inner.dir)
        .map_err(Error::io("sync directory", &inner.dir))?;
    Ok(())
}

/// Removes the items whose id is in `ids` and returns the index the first of them had.
fn replace_run<T>(items: &mut Vec<T>, ids: &[u64], id_of: impl Fn(&T) -> u64) -> usize {
    let at = items
        .iter()
        .position(|item| ids.contains(&id_of(item)))
        .unwrap_or(0);
    items.retain(|item| !ids.contains(&id_of(item)));
    at
}

fn write_compacted(
    inner: &Inner,
    merged: &Snapshot,
    table: TableKind,
    id: u64,
    inputs: &[Arc<Segment>],
) -> Result<Arc<Segment>> {
    let deleted = merged.deleted_rows(table).clone();
    // Deleted rows keep their positions (with no value in any column) so that rows stay
    // consecutive and chunk-aligned: scans then map chunk positions to rows by an offset.
    let positions = merged.live_rows(table) | &deleted;
    let mut writer = SegmentWriter::create(
        inner.storage.as_ref(),
        &inner.dir,
        id,
        table,
        positions.clone(),
        deleted,
    )?;
    for definition in merged.schema(table).columns() {
        let parts = merged.column_parts(table, &definition.name)?;
        if parts.is_empty() {
            continue;
        }
        let present = parts
            .iter()
            .fold(roaring::RoaringBitmap::new(), |acc, p| acc | &p.visible);
        let values = merged.fetch(table, &definition.name, &positions)?;
        writer.write_column(&definition.name, definition.column_type, present, values)?;
    }
    let max_lsn = inputs.iter().map(|s| s.max_lsn()).max().unwrap_or(0);
    let (path, _) = writer.finish(max_lsn)?;
    debug_assert_eq!(
        path.file_name().and_then(|n| n.to_str()),
        Some(layout::file_name(id).as_str())
    );
    Ok(Arc::new(Segment::open(inner.storage.as_ref(), &path)?))
}
