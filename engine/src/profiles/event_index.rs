//! The per-profile event index: which event rows belong to a profile row, without scanning
//! the events table's `profile_id` column.
//!
//! Segments never change, so each event segment's owners are inverted once — on the first
//! lookup that needs the segment — and kept until the segment leaves the database (after a
//! compaction). Memory layers are small and short-lived, so they are scanned directly. A
//! lookup then applies the snapshot's resolution rule row by row: a row found in a layer
//! belongs to the profile only if no newer layer rewrites its `profile_id` (merges move events
//! by rewriting it) and no layer deletes it (erasures and splits), so the answer always equals
//! a scan of the column.

use crate::db::EVENT_PROFILE_COLUMN;
use crate::error::Result;
use crate::schema::TableKind;
use crate::segment::Segment;
use crate::snapshot::{Layer, Snapshot};
use crate::value::Value;
use parking_lot::Mutex;
use roaring::RoaringBitmap;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The event rows of each profile that one segment's `profile_id` values name.
///
/// The `(owner, row)` pairs are sorted by owner, then row, and split into buckets of owners
/// (`owner - first_profile >> shift`) with about one pair per bucket: a lookup reads one
/// bucket bound pair, then a few owners. About 12 bytes per event, where a slot per profile
/// in the segment's owner range would cost 4 bytes per profile of the whole database in each
/// segment (segments of random events span almost every profile).
#[derive(Debug, Default)]
struct SegmentOwners {
    first_profile: u32,
    shift: u32,
    /// Bucket `b` holds pairs `starts[b] .. starts[b + 1]`.
    starts: Vec<u32>,
    owners: Vec<u32>,
    rows: Vec<u32>,
}

impl SegmentOwners {
    /// Inverts the segment's `profile_id` column.
    fn build(segment: &Segment) -> Result<SegmentOwners> {
        let Some(column) = segment.column(EVENT_PROFILE_COLUMN) else {
            return Ok(SegmentOwners::default());
        };
        // Owner in the high half, row in the low half: sorting orders by owner, then row.
        let mut pairs: Vec<u64> = Vec::new();
        for_each_owner(segment, column, |owner, row| {
            pairs.push(u64::from(owner) << 32 | u64::from(row));
        })?;
        pairs.sort_unstable();
        let owner_of = |pair: u64| (pair >> 32) as u32;
        let (Some(&low), Some(&high)) = (pairs.first(), pairs.last()) else {
            return Ok(SegmentOwners::default());
        };
        let first_profile = owner_of(low);
        let span = u64::from(owner_of(high) - first_profile) + 1;
        let mut shift = 0;
        while span >> shift > pairs.len() as u64 {
            shift += 1;
        }
        let buckets = ((span - 1) >> shift) as usize + 1;
        let mut starts = vec![0u32; buckets + 1];
        for &pair in &pairs {
            starts[((owner_of(pair) - first_profile) >> shift) as usize + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        Ok(SegmentOwners {
            first_profile,
            shift,
            starts,
            owners: pairs.iter().map(|&pair| owner_of(pair)).collect(),
            rows: pairs.iter().map(|&pair| pair as u32).collect(),
        })
    }

    /// The rows whose `profile_id` in this segment is `profile`, ascending.
    fn rows_of(&self, profile: u32) -> &[u32] {
        let Some(offset) = profile.checked_sub(self.first_profile) else {
            return &[];
        };
        let bucket = (offset >> self.shift) as usize;
        let (Some(&start), Some(&end)) = (self.starts.get(bucket), self.starts.get(bucket + 1))
        else {
            return &[];
        };
        let (start, end) = (start as usize, end as usize);
        let owners = self.owners.get(start..end).unwrap_or(&[]);
        let from = start + owners.partition_point(|&o| o < profile);
        let to = start + owners.partition_point(|&o| o <= profile);
        self.rows.get(from..to).unwrap_or(&[])
    }
}

/// Calls `visit(owner, row)` for every event row of the segment with a non-NULL owner that
/// fits a profile row id, in row order.
fn for_each_owner(
    segment: &Segment,
    column: &crate::segment::SegmentColumn,
    mut visit: impl FnMut(u32, u32),
) -> Result<()> {
    let mut rows = segment.rows().iter();
    for index in 0..segment.chunk_count() {
        let chunk = segment.chunk(column, index)?;
        let location = &column.chunks[index];
        let fail = |e: crate::codec::CodecError| segment.chunk_error(location, &column.name, &e);
        let values = chunk.decode().map_err(fail)?;
        let nulls = chunk.null_rows().map_err(fail)?;
        let crate::codec::ChunkValues::Int64(owners) = values else {
            return Err(crate::error::Error::corrupt(
                segment.path(),
                location.offset,
                format!("column `{}` is not Int64", column.name),
            ));
        };
        for (position, owner) in owners.into_iter().enumerate() {
            let Some(row) = rows.next() else { break };
            let is_null = u32::try_from(position).map_or(true, |p| nulls.contains(p));
            if let (false, Ok(owner)) = (is_null, u32::try_from(owner)) {
                visit(owner, row);
            }
        }
    }
    Ok(())
}

/// The owner index of one segment, built by the first caller; others wait for it (the lock)
/// rather than build it again.
type OwnersSlot = Arc<Mutex<Option<Arc<SegmentOwners>>>>;

/// Built owner indexes of the event segments, by segment id.
#[derive(Debug, Default)]
pub(crate) struct EventIndex {
    segments: Mutex<HashMap<u64, OwnersSlot>>,
}

impl EventIndex {
    /// The live event rows whose owner is `profile` in `snapshot`, ascending.
    ///
    /// # Errors
    /// Corruption found while building a segment's index.
    pub(crate) fn events_of(&self, snapshot: &Snapshot, profile: u32) -> Result<Vec<u32>> {
        Ok(self
            .events_of_many(snapshot, &[profile])?
            .remove(&profile)
            .unwrap_or_default())
    }

    /// The live event rows of each of `profiles` that has any, ascending. One pass over each
    /// memory layer serves all of them, which matters to calls that merge many profiles.
    ///
    /// # Errors
    /// Corruption found while building a segment's index.
    pub(crate) fn events_of_many(
        &self,
        snapshot: &Snapshot,
        profiles: &[u32],
    ) -> Result<HashMap<u32, Vec<u32>>> {
        let mut out: HashMap<u32, Vec<u32>> = HashMap::new();
        if profiles.is_empty()
            || snapshot
                .schema(TableKind::Events)
                .column(EVENT_PROFILE_COLUMN)
                .is_none()
        {
            return Ok(out);
        }
        let wanted: RoaringBitmap = profiles.iter().copied().collect();
        let wanted_bits = RowBits::new(profiles);
        let layers = snapshot.layers(TableKind::Events);
        for (age, layer) in layers.iter().enumerate() {
            let found: Vec<(u32, u32)> = match layer {
                Layer::Segment(segment) => {
                    let owners = self.owners(snapshot, segment)?;
                    wanted
                        .iter()
                        .flat_map(|p| owners.rows_of(p).iter().map(move |&row| (p, row)))
                        .collect()
                }
                Layer::Memory(table) => table
                    .column(EVENT_PROFILE_COLUMN)
                    .map(|c| {
                        c.iter()
                            .filter_map(|(row, v)| match v {
                                Value::Int64(owner) => u32::try_from(*owner)
                                    .ok()
                                    .filter(|o| wanted_bits.contains(*o))
                                    .map(|o| (o, row)),
                                _ => None,
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            };
            let newer = layers.get(age + 1..).unwrap_or(&[]);
            for (owner, row) in found {
                if !newer.iter().any(|l| rewrites_owner(l, row))
                    && !layers.iter().any(|l| l.deleted().contains(row))
                {
                    out.entry(owner).or_default().push(row);
                }
            }
        }
        for rows in out.values_mut() {
            rows.sort_unstable();
        }
        Ok(out)
    }

    /// The owner index of `segment`, built on first use; forgets segments `snapshot` no
    /// longer holds (compaction replaced them).
    fn owners(&self, snapshot: &Snapshot, segment: &Segment) -> Result<Arc<SegmentOwners>> {
        let slot = {
            let mut segments = self.segments.lock();
            if !segments.contains_key(&segment.id()) {
                segments.retain(|id, _| snapshot.segments().iter().any(|s| s.id() == *id));
            }
            Arc::clone(segments.entry(segment.id()).or_default())
        };
        let mut slot = slot.lock();
        if let Some(built) = slot.as_ref() {
            return Ok(Arc::clone(built));
        }
        let built = Arc::new(SegmentOwners::build(segment)?);
        *slot = Some(Arc::clone(&built));
        Ok(built)
    }

    /// Builds the index of every event segment of `snapshot` not built yet, oldest first,
    /// until `stop` is set: run in the background after opening, so that the first views do
    /// not pay for it. A view needing a segment being built waits for it; errors are left
    /// for the views to report.
    pub(crate) fn build_all(&self, snapshot: &Snapshot, stop: &AtomicBool) {
        for segment in snapshot.segments() {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            if segment.table() == TableKind::Events {
                let _ = self.owners(snapshot, segment);
            }
        }
    }
}

/// Whether `layer` writes a `profile_id` for `row` (so older layers' owner is superseded).
fn rewrites_owner(layer: &Layer<'_>, row: u32) -> bool {
    match layer {
        Layer::Segment(segment) => segment
            .column(EVENT_PROFILE_COLUMN)
            .is_some_and(|c| c.present.contains(row)),
        Layer::Memory(table) => table
            .column(EVENT_PROFILE_COLUMN)
            .is_some_and(|c| c.present().contains(row)),
    }
}

/// Profile rows as a dense bit set. Every event cell of the memory layers is tested against a
/// call's absorbed profiles, and testing a bit costs a fraction of a bitmap lookup; a million
/// profile rows take 125 KB.
struct RowBits {
    words: Vec<u64>,
}

impl RowBits {
    fn new(rows: &[u32]) -> RowBits {
        let len = rows.iter().max().map_or(0, |&max| max as usize / 64 + 1);
        let mut words = vec![0u64; len];
        for &row in rows {
            words[row as usize / 64] |= 1 << (row % 64);
        }
        RowBits { words }
    }

    fn contains(&self, row: u32) -> bool {
        self.words
            .get(row as usize / 64)
            .is_some_and(|word| (word >> (row % 64)) & 1 == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::super::ingest::events_of_rows;
    use super::super::test_support::{at, identify, ingest_ok, open, track, TempDir};
    use super::super::Profiles;
    use crate::schema::TableKind;
    use serde_json::json;

    /// Checks the index against a scan of the `profile_id` column for every profile row ever
    /// allocated (live or not), and point reads against column reads for every live row.
    fn assert_exact(p: &Profiles) {
        let snapshot = p.snapshot();
        let rows = snapshot.live_rows(TableKind::Profiles).max().unwrap_or(0) + 2;
        for row in 0..rows {
            let mut expected = events_of_rows(&snapshot, &[row])
                .unwrap()
                .remove(&row)
                .unwrap_or_default();
            expected.sort_unstable();
            assert_eq!(
                p.events.events_of(&snapshot, row).unwrap(),
                expected,
                "row {row}"
            );
        }
        for table in [TableKind::Profiles, TableKind::Events] {
            for row in 0..=snapshot.live_rows(table).max().unwrap_or(0) + 1 {
                assert_eq!(
                    snapshot.read_row(table, row).unwrap(),
                    snapshot.row(table, row).unwrap(),
                    "{table:?} row {row}"
                );
            }
        }
    }

    /// Anonymous browsing, then logins that merge devices into users: every merge moves events.
    fn round(round: usize, users: usize) -> Vec<String> {
        let mut lines = Vec::new();
        for user in 0..users {
            let device = format!("d{}-{user}", round % 2);
            let ts = at(round as i64, user as i64);
            lines.push(track(
                &format!("v{round}-{user}"),
                ("anonymousId", &device),
                "Viewed",
                &ts,
                json!({"sku": format!("s{}", user % 3), "price": user}),
            ));
            if (user + round).is_multiple_of(3) {
                lines.push(identify(
                    &format!("i{round}-{user}"),
                    &[("userId", &format!("u{user}")), ("anonymousId", &device)],
                    &ts,
                    json!({"plan": format!("p{round}")}),
                ));
            }
        }
        lines
    }

    #[test]
    fn index_equals_a_column_scan_through_merges_flushes_compactions_and_erasures() {
        let dir = TempDir::new("event-index");
        let p = open(&dir);
        for step in 0..8 {
            for chunk in round(step, 12).chunks(5) {
                ingest_ok(&p, chunk);
            }
            assert_exact(&p);
            match step % 4 {
                0 => p.database().flush().unwrap(),
                1 => p.database().compact().unwrap(),
                2 => {
                    let victim = p.snapshot().live_rows(TableKind::Profiles).min().unwrap();
                    p.database().delete_profile(victim).unwrap();
                }
                _ => {}
            }
            assert_exact(&p);
        }
    }

    #[test]
    fn index_follows_a_split() {
        let dir = TempDir::new("event-index-split");
        let p = open(&dir);
        ingest_ok(
            &p,
            &[
                track("e1", ("anonymousId", "dev"), "Viewed", &at(0, 1), json!({})),
                track("e2", ("userId", "ann"), "Bought", &at(0, 2), json!({})),
            ],
        );
        p.database().flush().unwrap();
        ingest_ok(
            &p,
            &[identify(
                "link",
                &[("userId", "ann"), ("anonymousId", "dev")],
                &at(0, 3),
                json!({}),
            )],
        );
        p.database().flush().unwrap();
        assert_exact(&p);
        let merged = p.profile("user_id:ann", 10).unwrap().unwrap();
        assert_eq!(merged.events.len(), 3, "both histories and the link");
        p.remove_link("link").unwrap();
        assert_exact(&p);
        let ann = p.profile("user_id:ann", 10).unwrap().unwrap();
        let dev = p.profile("anonymous_id:dev", 10).unwrap().unwrap();
        assert_ne!(ann.profile_id, dev.profile_id);
        assert_eq!(
            ann.events.len() + dev.events.len(),
            2,
            "the link's event is gone"
        );
    }
}
