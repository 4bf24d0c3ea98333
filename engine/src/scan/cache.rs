//! Per-chunk summaries kept in the segment's cache: what predicate evaluation needs of a chunk
//! before (and often instead of) its values.

use super::rows::ChunkRows;
use crate::codec::ZoneMap;
use crate::error::Result;
use crate::segment::{Segment, SegmentColumn};
use crate::value::ColumnType;
use roaring::RoaringBitmap;
use std::sync::Arc;

/// Zone map, nulls, dictionary and per-value bitmaps of one chunk, with row ids already global:
/// answering an equality from it is a bitmap clone, with no checksum, decoding or re-keying.
#[derive(Debug)]
pub(crate) struct ChunkSummary {
    /// Rows in the chunk, NULLs included.
    pub(crate) rows: usize,
    /// Chunk-local positions of the NULLs.
    pub(crate) nulls: RoaringBitmap,
    /// Global row ids of the NULLs.
    pub(crate) null_rows: RoaringBitmap,
    /// Min/max of numeric chunks.
    pub(crate) zone: Option<ZoneMap>,
    /// Dictionary of string and string-list chunks (empty otherwise).
    pub(crate) dictionary: Vec<String>,
    /// Global rows of each dictionary code (false/true for bools), when the chunk stores them.
    pub(crate) value_bitmaps: Option<Vec<RoaringBitmap>>,
    /// Position → row mapping.
    pub(crate) map: ChunkRows,
}

impl ChunkSummary {
    /// Global rows of every non-NULL value.
    pub(crate) fn non_null_rows(&self) -> RoaringBitmap {
        let all = match &self.map {
            ChunkRows::Dense { start } => {
                let mut all = RoaringBitmap::new();
                let end = u64::from(*start) + self.rows as u64;
                match u32::try_from(end) {
                    Ok(end) => all.insert_range(*start..end),
                    Err(_) => all.insert_range(*start..),
                };
                all
            }
            ChunkRows::Listed(rows) => {
                RoaringBitmap::from_sorted_iter(rows.iter().copied()).unwrap_or_default()
            }
        };
        all - &self.null_rows
    }
}

/// The summary of chunk `index` of `column`, built on first use and cached in the segment.
pub(crate) fn summary(
    segment: &Segment,
    column: &SegmentColumn,
    index: usize,
) -> Result<Arc<ChunkSummary>> {
    let slot = segment.chunk_cache(column, index);
    if let Some(summary) = slot.and_then(|c| c.summary.get()) {
        return Ok(Arc::clone(summary));
    }
    let chunk = segment.chunk(column, index)?;
    let fail =
        |e: crate::codec::CodecError| segment.chunk_error(&column.chunks[index], &column.name, &e);
    let map = super::chunk::chunk_rows(segment, index);
    let nulls = chunk.null_rows().map_err(fail)?;
    let dictionary = match column.column_type {
        ColumnType::String | ColumnType::StringList => chunk.dictionary().map_err(fail)?,
        _ => Vec::new(),
    };
    let value_bitmaps = if chunk.has_value_bitmaps() {
        let codes = if column.column_type == ColumnType::Bool {
            2
        } else {
            dictionary.len()
        };
        let mut bitmaps = Vec::with_capacity(codes);
        for code in 0..codes {
            let code = u32::try_from(code).unwrap_or(u32::MAX);
            let positions = chunk.value_bitmap(code).map_err(fail)?.unwrap_or_default();
            bitmaps.push(map.positions_to_rows(&positions));
        }
        Some(bitmaps)
    } else {
        None
    };
    let summary = Arc::new(ChunkSummary {
        rows: chunk.rows(),
        null_rows: map.positions_to_rows(&nulls),
        nulls,
        zone: chunk.zone_map(),
        dictionary,
        value_bitmaps,
        map,
    });
    if let Some(slot) = slot {
        // A concurrent reader may have built it too; either copy is the same.
        let _ = slot.summary.set(Arc::clone(&summary));
    }
    Ok(summary)
}
