//! The append-only link log: one entry per resolved message.
//!
//! Two forms. [`LinkRecord`] is the self-contained public form the database writes as a WAL
//! payload ([`encode_record`] / [`decode_record`]). Inside the graph the log is kept compact —
//! message ids in one string arena, identifiers as node ids — because it is replayed on every
//! split and must fit tens of millions of messages in memory.

use super::error::IdentityError;
use super::types::{Identifier, IdentifierType, Merge, ProfileId, Resolution};
use super::wire::{Put, Reader};

/// Bit set on a node reference when the message attached that identifier to its profile.
pub(crate) const ATTACHED: u32 = 1 << 31;
/// "No profile" / "no node".
pub(crate) const NONE: u32 = u32::MAX;

/// Version of the record layout written by [`encode_record`].
pub const RECORD_VERSION: u16 = 1;
/// Type code meaning "custom type, name follows".
const CUSTOM_TYPE_CODE: u16 = u16::MAX;

/// One resolved message: what it carried and what the graph did with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRecord {
    /// The message's id.
    pub message_id: String,
    /// The message's timestamp (µs).
    pub timestamp_micros: i64,
    /// The normalized identifiers passed to `resolve`, in order.
    pub identifiers: Vec<Identifier>,
    /// What resolving them did.
    pub outcome: LinkOutcome,
}

/// The logged outcome of a record; replay checks it to detect divergence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkOutcome {
    /// The message's profile.
    pub profile: ProfileId,
    /// Whether the message created it.
    pub created: bool,
    /// Merges the message caused.
    pub merged: Vec<Merge>,
}

impl LinkRecord {
    /// The record of a message resolved into `resolution`.
    #[must_use]
    pub fn new(
        message_id: &str,
        timestamp_micros: i64,
        identifiers: &[Identifier],
        resolution: &Resolution,
    ) -> LinkRecord {
        LinkRecord {
            message_id: message_id.to_owned(),
            timestamp_micros,
            identifiers: identifiers.to_vec(),
            outcome: LinkOutcome::of(resolution),
        }
    }
}

impl LinkOutcome {
    /// The loggable part of a resolution.
    #[must_use]
    pub fn of(resolution: &Resolution) -> LinkOutcome {
        LinkOutcome {
            profile: resolution.profile,
            created: resolution.created,
            merged: resolution.merged.clone(),
        }
    }
}

/// Encodes a record (layout in `storage-format.md`, "Link records").
#[must_use]
pub fn encode_record(record: &LinkRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + record.message_id.len() + 24 * record.identifiers.len());
    encode_record_into(record, &mut out);
    out
}

/// Appends the bytes [`encode_record`] gives to `out` (WAL batches hold one per message, so
/// they are written in place rather than through a vector of their own).
pub fn encode_record_into(record: &LinkRecord, out: &mut Vec<u8>) {
    out.put_u16(RECORD_VERSION);
    out.put_i64(record.timestamp_micros);
    out.put_u32(record.outcome.profile.0);
    out.put_u8(u8::from(record.outcome.created));
    out.put_str(&record.message_id);
    out.put_len(record.identifiers.len());
    for id in &record.identifiers {
        match id.kind.builtin_code() {
            Some(code) => out.put_u16(code),
            None => {
                out.put_u16(CUSTOM_TYPE_CODE);
                out.put_str(id.kind.name());
            }
        }
        out.put_str(&id.value);
    }
    out.put_len(record.outcome.merged.len());
    for m in &record.outcome.merged {
        out.put_u32(m.survivor.0);
        out.put_u32(m.absorbed.0);
    }
}

/// Decodes a record written by [`encode_record`].
///
/// # Errors
/// [`IdentityError::Version`] for an unknown version, [`IdentityError::Corrupt`] for bytes
/// that do not decode; never panics.
pub fn decode_record(bytes: &[u8]) -> Result<LinkRecord, IdentityError> {
    let mut r = Reader::new(bytes, "link record");
    let version = r.u16()?;
    if version != RECORD_VERSION {
        return Err(IdentityError::Version {
            what: "link record",
            found: version,
            supported: RECORD_VERSION,
        });
    }
    let timestamp_micros = r.i64()?;
    let profile = ProfileId(r.u32()?);
    let created = match r.u8()? {
        0 => false,
        1 => true,
        f => return Err(r.corrupt(format!("unknown flags {f:#x}"))),
    };
    let message_id = r.str()?.to_owned();
    let n = r.count(6)?;
    let mut identifiers = Vec::with_capacity(n);
    for _ in 0..n {
        let kind = read_type(&mut r)?;
        identifiers.push(Identifier::new(kind, r.str()?));
    }
    let n = r.count(8)?;
    let mut merged = Vec::with_capacity(n);
    for _ in 0..n {
        let survivor = ProfileId(r.u32()?);
        merged.push(Merge {
            survivor,
            absorbed: ProfileId(r.u32()?),
        });
    }
    r.finish()?;
    Ok(LinkRecord {
        message_id,
        timestamp_micros,
        identifiers,
        outcome: LinkOutcome {
            profile,
            created,
            merged,
        },
    })
}

/// Reads an identifier type: a built-in code, or the custom marker and a name.
fn read_type(r: &mut Reader<'_>) -> Result<IdentifierType, IdentityError> {
    let code = r.u16()?;
    if code == CUSTOM_TYPE_CODE {
        let name = r.str()?;
        return match IdentifierType::from_name(name) {
            t @ IdentifierType::Custom(_) if !name.is_empty() => Ok(t),
            _ => Err(r.corrupt(format!("custom type name `{name}` is empty or built-in"))),
        };
    }
    IdentifierType::BUILTIN
        .get(usize::from(code))
        .cloned()
        .ok_or_else(|| r.corrupt(format!("unknown identifier type code {code}")))
}

/// One entry of the in-memory log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// End of the message id in the arena.
    pub(crate) msg_end: usize,
    /// End of the node references in `refs`.
    pub(crate) refs_end: usize,
    /// Message timestamp (µs).
    pub(crate) ts: i64,
    /// The message's profile at resolution time (raw id; `NONE` when it has none).
    pub(crate) profile: u32,
    /// Set by an operator: the message's links are not applied.
    pub(crate) ignored: bool,
}

/// The compact in-memory log.
#[derive(Debug, Clone, Default)]
pub(crate) struct LinkLog {
    msg_ids: String,
    refs: Vec<u32>,
    entries: Vec<Entry>,
}

impl LinkLog {
    /// Appends an entry with node references `nodes` (attachment bits cleared).
    pub(crate) fn push(
        &mut self,
        message_id: &str,
        ts: i64,
        nodes: impl IntoIterator<Item = u32>,
    ) -> usize {
        self.msg_ids.push_str(message_id);
        self.refs.extend(nodes);
        self.entries.push(Entry {
            msg_end: self.msg_ids.len(),
            refs_end: self.refs.len(),
            ts,
            profile: NONE,
            ignored: false,
        });
        self.entries.len() - 1
    }

    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Bytes of all message ids together.
    pub(crate) fn text_len(&self) -> usize {
        self.msg_ids.len()
    }

    /// Node references of all entries together.
    pub(crate) fn refs_len(&self) -> usize {
        self.refs.len()
    }

    /// Entry `k`.
    pub(crate) fn entry(&self, k: usize) -> &Entry {
        &self.entries[k]
    }

    /// Entry `k`, mutably.
    pub(crate) fn entry_mut(&mut self, k: usize) -> &mut Entry {
        &mut self.entries[k]
    }

    /// The message id of entry `k`.
    pub(crate) fn message_id(&self, k: usize) -> &str {
        let start = if k == 0 {
            0
        } else {
            self.entries[k - 1].msg_end
        };
        &self.msg_ids[start..self.entries[k].msg_end]
    }

    /// The range of entry `k` in `refs`.
    fn refs_range(&self, k: usize) -> std::ops::Range<usize> {
        let start = if k == 0 {
            0
        } else {
            self.entries[k - 1].refs_end
        };
        start..self.entries[k].refs_end
    }

    /// The node references of entry `k` (node id | `ATTACHED`).
    pub(crate) fn refs(&self, k: usize) -> &[u32] {
        &self.refs[self.refs_range(k)]
    }

    /// The node references of entry `k`, mutably, and the entry.
    pub(crate) fn refs_and_entry_mut(&mut self, k: usize) -> (&mut [u32], &mut Entry) {
        let range = self.refs_range(k);
        (&mut self.refs[range], &mut self.entries[k])
    }

    /// Indices of entries with message id `message_id`.
    pub(crate) fn find(&self, message_id: &str) -> Vec<usize> {
        (0..self.len())
            .filter(|&k| self.message_id(k) == message_id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> LinkRecord {
        LinkRecord {
            message_id: "m-1".into(),
            timestamp_micros: -5,
            identifiers: vec![
                Identifier::user_id("u"),
                Identifier::new(IdentifierType::Custom("crm".into()), "c9"),
            ],
            outcome: LinkOutcome {
                profile: ProfileId(3),
                created: true,
                merged: vec![Merge {
                    survivor: ProfileId(3),
                    absorbed: ProfileId(7),
                }],
            },
        }
    }

    #[test]
    fn record_round_trips() {
        let r = sample();
        assert_eq!(decode_record(&encode_record(&r)), Ok(r));
    }

    #[test]
    fn damaged_records_are_errors() {
        let bytes = encode_record(&sample());
        for len in 0..bytes.len() {
            assert!(decode_record(&bytes[..len]).is_err(), "truncated at {len}");
        }
        let mut bad = bytes.clone();
        bad[0] = 9;
        assert!(matches!(
            decode_record(&bad),
            Err(IdentityError::Version { found: 9, .. })
        ));
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(decode_record(&extra).is_err());
        for i in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[i] ^= 0xFF;
            let _ = decode_record(&flipped); // must not panic
        }
    }
}
