//! Checks one segment file: header, footer, every chunk, row counts and chunk placement.

use super::CheckReport;
use crate::io::Storage;
use crate::manifest::{Manifest, SegmentEntry};
use crate::segment::layout::{
    HEADER_LEN, HEADER_SEGMENT_ID_OFFSET, ROWS_PER_CHUNK, TRAILER_FOOTER_OFFSET_OFFSET, TRAILER_LEN,
};
use crate::segment::{ChunkLocation, Segment, SegmentColumn};
use std::path::Path;

/// Checks the segment at `path`; `listed` is its manifest entry (and the manifest, for the
/// schema) when a manifest could be read.
pub(super) fn check_segment(
    storage: &dyn Storage,
    path: &Path,
    listed: Option<(&SegmentEntry, &Manifest)>,
    report: &mut CheckReport,
) {
    let len = match storage.len(path) {
        Ok(len) => len,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            report.problem(path, None, "segment listed in the manifest is missing");
            return;
        }
        Err(e) => {
            report.problem(path, None, format!("cannot read: {e}"));
            return;
        }
    };
    report.read(len);
    let segment = match Segment::open(storage, path) {
        Ok(segment) => segment,
        Err(e) => return report.engine_error(path, e),
    };
    if let Some((entry, manifest)) = listed {
        check_identity(&segment, entry, manifest, report);
    }
    let mut chunks = Vec::new();
    for column in segment.columns() {
        check_column(&segment, column, report);
        chunks.extend(column.chunks.iter().copied());
    }
    check_placement(storage, &segment, chunks, report);
}

/// The header must agree with the manifest entry, and column types with the manifest schema.
fn check_identity(
    segment: &Segment,
    entry: &SegmentEntry,
    manifest: &Manifest,
    report: &mut CheckReport,
) {
    let path = segment.path();
    if segment.id() != entry.id || segment.table() != entry.table {
        report.problem(
            path,
            Some(HEADER_SEGMENT_ID_OFFSET as u64),
            format!(
                "header says segment {} of {}, the manifest lists segment {} of {}",
                segment.id(),
                segment.table(),
                entry.id,
                entry.table
            ),
        );
    }
    let schema = manifest.schema(segment.table());
    for column in segment.columns() {
        match schema.column_type(&column.name) {
            Some(t) if t == column.column_type => {}
            Some(t) => report.problem(
                path,
                None,
                format!(
                    "column `{}` is {} here but {t} in the manifest",
                    column.name, column.column_type
                ),
            ),
            None => report.problem(
                path,
                None,
                format!("column `{}` is not in the manifest's schema", column.name),
            ),
        }
    }
}

/// Opens and fully verifies every chunk of `column`; checks row counts and `present ⊆ rows`.
fn check_column(segment: &Segment, column: &SegmentColumn, report: &mut CheckReport) {
    let path = segment.path();
    if !column.present.is_subset(segment.rows()) {
        report.problem(
            path,
            None,
            format!(
                "column `{}` marks rows the segment does not hold",
                column.name
            ),
        );
    }
    let total = segment.rows().len();
    let mut counted: u64 = 0;
    for (index, location) in column.chunks.iter().enumerate() {
        let chunk = match segment.chunk(column, index) {
            Ok(chunk) => chunk,
            Err(e) => {
                report.engine_error(path, e);
                continue;
            }
        };
        if let Err(e) = chunk.verify() {
            report.engine_error(path, segment.chunk_error(location, &column.name, &e));
            continue;
        }
        let expected = (total - counted).min(ROWS_PER_CHUNK as u64);
        if chunk.rows() as u64 != expected {
            report.problem(
                path,
                Some(location.offset),
                format!(
                    "chunk {index} of column `{}` holds {} rows, expected {expected}",
                    column.name,
                    chunk.rows()
                ),
            );
        }
        counted += chunk.rows() as u64;
    }
    if counted != total {
        report.problem(
            path,
            None,
            format!(
                "the chunks of column `{}` hold {counted} rows, the segment {total}",
                column.name
            ),
        );
    }
}

/// Chunks must tile the data area exactly: a byte between chunks would be covered by no
/// checksum, and overlapping chunks mean a damaged directory.
fn check_placement(
    storage: &dyn Storage,
    segment: &Segment,
    mut chunks: Vec<ChunkLocation>,
    report: &mut CheckReport,
) {
    let path = segment.path();
    let Some(footer) = footer_offset(storage, path) else {
        report.problem(path, None, "cannot re-read the trailer");
        return;
    };
    chunks.sort_by_key(|c| c.offset);
    let mut cursor = HEADER_LEN as u64;
    for chunk in chunks {
        if chunk.offset != cursor {
            let what = if chunk.offset > cursor {
                "bytes before this offset belong to no chunk"
            } else {
                "chunks overlap"
            };
            report.problem(path, Some(chunk.offset.min(cursor)), what);
            return;
        }
        cursor = chunk.offset + u64::from(chunk.len);
    }
    if cursor != footer {
        report.problem(
            path,
            Some(cursor),
            "bytes between the last chunk and the footer belong to no chunk",
        );
    }
}

/// The footer offset recorded in the trailer (already validated by `Segment::open`).
fn footer_offset(storage: &dyn Storage, path: &Path) -> Option<u64> {
    let bytes = storage.map(path).ok()?;
    let at = bytes.len().checked_sub(TRAILER_LEN)? + TRAILER_FOOTER_OFFSET_OFFSET;
    let raw: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(raw))
}
