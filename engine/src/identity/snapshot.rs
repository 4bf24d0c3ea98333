//! Snapshot: the whole graph (rules, identifiers, profile ids, log, history) as bytes.
//!
//! Layout in `storage-format.md`, "Graph snapshots". The per-profile counts and identifier lists are
//! not stored: they are recomputed from the node origins, which both shrinks the snapshot and
//! removes a way for it to be inconsistent. Decoding checks the CRC first, then every index
//! and the shape of the profile forest, so damaged bytes give an error, never a panic or a
//! graph that loops.

use super::config::{CustomIdType, IdentityConfig};
use super::error::IdentityError;
use super::graph::IdentityGraph;
use super::interner::{Interner, BUILTIN_CODES};
use super::log::{LinkLog, ATTACHED, NONE};
use super::resolve::Scratch;
use super::rules::{Rules, NO_SLOT};
use super::state::State;
use super::types::{Identifier, IdentifierType, MergeEvent, ProfileId, RefusedLink};
use super::union_find::RETIRED;
use super::wire::{Put, Reader};

/// First eight bytes of every snapshot.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"PDBIDGR\0";
/// Version of the layout written by `encode_snapshot`.
pub const SNAPSHOT_VERSION: u16 = 1;
/// Magic, version, flags, body length.
const HEADER_LEN: usize = 20;
/// Trailing CRC-32.
const CRC_LEN: usize = 4;
/// Name of the format in errors.
const WHAT: &str = "snapshot";

impl IdentityGraph {
    /// Encodes the whole graph.
    #[must_use]
    pub fn encode_snapshot(&self) -> Vec<u8> {
        // One buffer, sized up front: the snapshot is as large as the graph, and growing or
        // copying a buffer that size costs more than writing it.
        let mut out = Vec::with_capacity(HEADER_LEN + self.encoded_size_hint() + CRC_LEN);
        out.extend_from_slice(&SNAPSHOT_MAGIC);
        out.put_u16(SNAPSHOT_VERSION);
        out.put_u16(0);
        let body_len_at = out.len();
        out.put_u64(0);
        put_config(&mut out, &self.config);
        self.put_nodes(&mut out);
        out.put_len(self.state.uf.parent.len());
        for &p in &self.state.uf.parent {
            out.put_u32(p);
        }
        self.put_log(&mut out);
        self.put_history(&mut out);
        let body_len = (out.len() - HEADER_LEN) as u64;
        out[body_len_at..body_len_at + 8].copy_from_slice(&body_len.to_le_bytes());
        let crc = crc32fast::hash(&out);
        out.put_u32(crc);
        out
    }

    /// About how many bytes the snapshot body takes: exact for nodes, parents and the log,
    /// which are nearly all of it.
    fn encoded_size_hint(&self) -> usize {
        const NODE_FIXED: usize = 2 + 4 + 4 + 8 + 8;
        const ENTRY_FIXED: usize = 4 + 8 + 4 + 1 + 4;
        const HISTORY_ITEM: usize = 64;
        let nodes = self.interner.len() * NODE_FIXED + self.interner.text_len();
        let parents = 4 + 4 * self.state.uf.parent.len();
        let log = self.log.len() * ENTRY_FIXED + self.log.text_len() + 4 * self.log.refs_len();
        let history = (self.state.merges.len() + self.state.refused.len()) * HISTORY_ITEM;
        nodes + parents + log + history + 1024
    }

    /// Type names, then per node: code, value, origin, first and last seen.
    fn put_nodes(&self, out: &mut Vec<u8>) {
        out.put_len(self.interner.type_count());
        for code in 0..self.interner.type_count() {
            out.put_str(self.interner.type_of_code(code as u16).name());
        }
        out.put_len(self.interner.len());
        for n in 0..self.interner.len() {
            let node = n as u32;
            out.put_u16(self.interner.code(node));
            out.put_str(self.interner.value(node));
            out.put_u32(self.state.origin[n]);
            out.put_i64(self.state.first_seen[n]);
            out.put_i64(self.state.last_seen[n]);
        }
    }

    /// Per log entry: message id, timestamp, profile, flags, node references.
    fn put_log(&self, out: &mut Vec<u8>) {
        out.put_len(self.log.len());
        for k in 0..self.log.len() {
            let entry = self.log.entry(k);
            out.put_str(self.log.message_id(k));
            out.put_i64(entry.ts);
            out.put_u32(entry.profile);
            out.put_u8(u8::from(entry.ignored));
            let refs = self.log.refs(k);
            out.put_len(refs.len());
            refs.iter().for_each(|&r| out.put_u32(r));
        }
    }

    /// Merge history and refused links.
    fn put_history(&self, out: &mut Vec<u8>) {
        out.put_len(self.state.merges.len());
        for m in &self.state.merges {
            out.put_u32(m.survivor.0);
            out.put_u32(m.absorbed.0);
            out.put_str(&m.message_id);
            out.put_i64(m.timestamp_micros);
        }
        out.put_len(self.state.refused.len());
        for r in &self.state.refused {
            out.put_str(&r.message_id);
            out.put_i64(r.timestamp_micros);
            out.put_str(r.identifier.kind.name());
            out.put_str(&r.identifier.value);
            out.put_u32(r.owner.map_or(NONE, |p| p.0));
            out.put_u32(r.profile.0);
            out.put_str(r.limit_type.name());
            out.put_u32(r.limit);
        }
    }
}

/// Writes the configuration.
fn put_config(out: &mut Vec<u8>, c: &IdentityConfig) {
    out.put_str(&c.default_country_code);
    out.put_len(c.limits.len());
    for (t, n) in &c.limits {
        out.put_str(t.name());
        out.put_u32(*n);
    }
    out.put_len(c.priority.len());
    c.priority.iter().for_each(|t| out.put_str(t.name()));
    out.put_len(c.blocked_values.len());
    c.blocked_values.iter().for_each(|v| out.put_str(v));
    out.put_len(c.blocked_email_local_parts.len());
    c.blocked_email_local_parts
        .iter()
        .for_each(|v| out.put_str(v));
    out.put_len(c.blocked_identifiers.len());
    for id in &c.blocked_identifiers {
        out.put_str(id.kind.name());
        out.put_str(&id.value);
    }
    out.put_len(c.custom_types.len());
    for t in &c.custom_types {
        out.put_str(&t.name);
        out.put_str(&t.trait_key);
    }
}

/// Decodes a snapshot written by `IdentityGraph::encode_snapshot`.
///
/// # Errors
/// [`IdentityError::Version`] for an unknown version, [`IdentityError::Corrupt`] for any
/// damage (bad magic, CRC mismatch, truncation, out-of-range ids, a looping profile forest).
pub fn decode_snapshot(bytes: &[u8]) -> Result<IdentityGraph, IdentityError> {
    let body = check_frame(bytes)?;
    let mut r = Reader::new(body, WHAT);
    let config = read_config(&mut r)?;
    config
        .validate()
        .map_err(|e| r.corrupt(format!("stored configuration: {e}")))?;
    let (interner, nodes) = read_nodes(&mut r)?;
    let parent = read_parents(&mut r)?;
    let rules = Rules::new(&config, &interner);
    let mut state = State::new(rules.stride());
    state.uf.parent = parent;
    check_forest(&r, &state)?;
    restore_nodes(&r, &mut state, &interner, &rules, nodes)?;
    let log = read_log(&mut r, interner.len(), state.uf.len())?;
    read_history(&mut r, &mut state)?;
    r.finish()?;
    Ok(IdentityGraph {
        config,
        interner,
        rules,
        log,
        state,
        scratch: Scratch::default(),
        changes: 0,
    })
}

/// Checks magic, version, length and CRC; returns the body.
fn check_frame(bytes: &[u8]) -> Result<&[u8], IdentityError> {
    let corrupt = |reason: &str| IdentityError::Corrupt {
        what: WHAT,
        reason: reason.to_owned(),
    };
    if bytes.len() < HEADER_LEN + CRC_LEN {
        return Err(corrupt("shorter than header and checksum"));
    }
    if bytes[..8] != SNAPSHOT_MAGIC {
        return Err(corrupt("bad magic"));
    }
    let (framed, crc) = bytes.split_at(bytes.len() - CRC_LEN);
    let mut r = Reader::new(&framed[8..HEADER_LEN], WHAT);
    let (version, flags, body_len) = (r.u16()?, r.u16()?, r.u64()?);
    if crc32fast::hash(framed) != u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]) {
        return Err(corrupt("checksum mismatch"));
    }
    if version != SNAPSHOT_VERSION {
        return Err(IdentityError::Version {
            what: WHAT,
            found: version,
            supported: SNAPSHOT_VERSION,
        });
    }
    if flags != 0 {
        return Err(corrupt("unknown flags"));
    }
    if body_len != (framed.len() - HEADER_LEN) as u64 {
        return Err(corrupt("body length does not match the file length"));
    }
    Ok(&framed[HEADER_LEN..])
}

/// Reads an identifier type name.
fn read_type(r: &mut Reader<'_>) -> Result<IdentifierType, IdentityError> {
    let name = r.str()?;
    if name.is_empty() {
        return Err(r.corrupt("empty identifier type name"));
    }
    Ok(IdentifierType::from_name(name))
}

/// Reads a list of strings.
fn read_strings(r: &mut Reader<'_>) -> Result<Vec<String>, IdentityError> {
    let n = r.count(4)?;
    (0..n).map(|_| r.str().map(str::to_owned)).collect()
}

/// Reads the configuration.
fn read_config(r: &mut Reader<'_>) -> Result<IdentityConfig, IdentityError> {
    let default_country_code = r.str()?.to_owned();
    let n = r.count(8)?;
    let limits = (0..n)
        .map(|_| Ok((read_type(r)?, r.u32()?)))
        .collect::<Result<_, IdentityError>>()?;
    let n = r.count(4)?;
    let priority = (0..n).map(|_| read_type(r)).collect::<Result<_, _>>()?;
    let blocked_values = read_strings(r)?;
    let blocked_email_local_parts = read_strings(r)?;
    let n = r.count(8)?;
    let blocked_identifiers = (0..n)
        .map(|_| Ok(Identifier::new(read_type(r)?, r.str()?)))
        .collect::<Result<_, IdentityError>>()?;
    let n = r.count(8)?;
    let custom_types = (0..n)
        .map(|_| {
            let name = r.str()?.to_owned();
            let trait_key = r.str()?.to_owned();
            Ok(CustomIdType { name, trait_key })
        })
        .collect::<Result<_, IdentityError>>()?;
    Ok(IdentityConfig {
        limits,
        priority,
        blocked_values,
        blocked_email_local_parts,
        blocked_identifiers,
        default_country_code,
        custom_types,
    })
}

/// Per-node data read before the profile forest is known: (origin, first, last seen).
type NodeData = Vec<(u32, i64, i64)>;

/// Reads the type table and the nodes, re-interning them in order.
fn read_nodes(r: &mut Reader<'_>) -> Result<(Interner, NodeData), IdentityError> {
    let mut interner = Interner::new();
    let types = r.count(4)?;
    if types < usize::from(BUILTIN_CODES) || types > usize::from(u16::MAX) {
        return Err(r.corrupt("type table size out of range"));
    }
    for code in 0..types {
        let kind = read_type(r)?;
        let expected = u16::try_from(code).map_err(|_| r.corrupt("too many types"))?;
        if interner.code_or_insert(&kind) != Some(expected) {
            return Err(r.corrupt(format!("type table entry {code} `{kind}` is out of order")));
        }
    }
    let n = r.count(26)?;
    if n > ATTACHED as usize {
        return Err(r.corrupt("too many identifiers"));
    }
    let mut data = Vec::with_capacity(n);
    for i in 0..n {
        let code = r.u16()?;
        if usize::from(code) >= types {
            return Err(r.corrupt(format!("identifier {i} has unknown type code {code}")));
        }
        let value = r.str()?;
        let (node, is_new) = interner.intern(code, value);
        if !is_new || node as usize != i {
            return Err(r.corrupt(format!("identifier {i} is a duplicate")));
        }
        data.push((r.u32()?, r.i64()?, r.i64()?));
    }
    Ok((interner, data))
}

/// Reads the profile forest's parent table.
fn read_parents(r: &mut Reader<'_>) -> Result<Vec<u32>, IdentityError> {
    let n = r.count(4)?;
    if n >= RETIRED as usize {
        return Err(r.corrupt("too many profiles"));
    }
    let parent: Vec<u32> = (0..n).map(|_| r.u32()).collect::<Result<_, _>>()?;
    if let Some(p) = parent.iter().find(|&&p| p != RETIRED && p as usize >= n) {
        return Err(r.corrupt(format!("profile parent {p} out of range")));
    }
    Ok(parent)
}

/// Every non-retired id must lead to a live root without looping.
fn check_forest(r: &Reader<'_>, state: &State) -> Result<(), IdentityError> {
    let parent = &state.uf.parent;
    // 0 = unvisited, 1 = on the current path, 2 = known to reach a live root.
    let mut mark = vec![0_u8; parent.len()];
    let mut path = Vec::new();
    for start in 0..parent.len() {
        if parent[start] == RETIRED {
            continue;
        }
        let mut p = start;
        while mark[p] == 0 {
            mark[p] = 1;
            path.push(p);
            let q = parent[p];
            if q as usize == p {
                break;
            }
            if q == RETIRED {
                return Err(r.corrupt(format!("profile {p} resolves to a retired id")));
            }
            p = q as usize;
        }
        if mark[p] == 1 && parent[p] as usize != p {
            return Err(r.corrupt(format!("profile {p} is on a cycle")));
        }
        path.drain(..).for_each(|q| mark[q] = 2);
    }
    Ok(())
}

/// Sets node origins and timestamps and recomputes per-profile counts and lists.
fn restore_nodes(
    r: &Reader<'_>,
    state: &mut State,
    interner: &Interner,
    rules: &Rules,
    nodes: NodeData,
) -> Result<(), IdentityError> {
    let len = state.uf.len();
    state.counts = vec![0; len * state.stride];
    state.head = vec![super::log::NONE; len];
    state.tail = vec![super::log::NONE; len];
    state.live = (0..len)
        .filter(|&p| state.uf.is_live_root(p as u32))
        .count();
    state.ensure_nodes(nodes.len());
    for (n, (origin, first, last)) in nodes.into_iter().enumerate() {
        let node = n as u32;
        state.first_seen[n] = first;
        state.last_seen[n] = last;
        if origin == NONE {
            continue;
        }
        if origin as usize >= len || state.uf.parent[origin as usize] == RETIRED {
            return Err(r.corrupt(format!("identifier {n} is attached to a missing profile")));
        }
        let slot = rules.slot(interner.code(node));
        if slot == NO_SLOT {
            return Err(r.corrupt(format!(
                "identifier {n} is attached but not an identifier type"
            )));
        }
        let root = state.uf.find(origin);
        state.attach(node, root, usize::from(slot), first);
        state.origin[n] = origin;
        state.first_seen[n] = first;
        state.last_seen[n] = last;
    }
    Ok(())
}

/// Reads the log, checking node and profile references.
fn read_log(r: &mut Reader<'_>, nodes: usize, profiles: usize) -> Result<LinkLog, IdentityError> {
    let n = r.count(21)?;
    let mut log = LinkLog::default();
    for k in 0..n {
        let message_id = r.str()?;
        let ts = r.i64()?;
        let profile = r.u32()?;
        let ignored = match r.u8()? {
            0 => false,
            1 => true,
            f => return Err(r.corrupt(format!("log entry {k} has unknown flags {f:#x}"))),
        };
        let count = r.count(4)?;
        let refs: Vec<u32> = (0..count).map(|_| r.u32()).collect::<Result<_, _>>()?;
        if refs.iter().any(|&x| (x & !ATTACHED) as usize >= nodes) {
            return Err(r.corrupt(format!("log entry {k} names an unknown identifier")));
        }
        if profile != NONE && profile as usize >= profiles {
            return Err(r.corrupt(format!("log entry {k} names an unknown profile")));
        }
        let idx = log.push(message_id, ts, refs);
        let entry = log.entry_mut(idx);
        entry.profile = profile;
        entry.ignored = ignored;
    }
    Ok(log)
}

/// Reads the merge history and refused links, checking profile references.
fn read_history(r: &mut Reader<'_>, state: &mut State) -> Result<(), IdentityError> {
    let len = state.uf.len();
    let profile = |r: &Reader<'_>, p: u32| {
        if (p as usize) < len {
            Ok(ProfileId(p))
        } else {
            Err(r.corrupt(format!("history names unknown profile {p}")))
        }
    };
    let read_profile = |r: &mut Reader<'_>| {
        let p = r.u32()?;
        profile(r, p)
    };
    let n = r.count(20)?;
    for _ in 0..n {
        let survivor = read_profile(r)?;
        let absorbed = read_profile(r)?;
        let message_id = r.str()?.to_owned();
        let timestamp_micros = r.i64()?;
        state.merges.push(MergeEvent {
            survivor,
            absorbed,
            message_id,
            timestamp_micros,
        });
    }
    let n = r.count(36)?;
    for _ in 0..n {
        let message_id = r.str()?.to_owned();
        let timestamp_micros = r.i64()?;
        let identifier = Identifier::new(read_type(r)?, r.str()?);
        let owner = match r.u32()? {
            NONE => None,
            p => Some(profile(r, p)?),
        };
        let target = read_profile(r)?;
        let limit_type = read_type(r)?;
        let limit = r.u32()?;
        state.refused.push(RefusedLink {
            message_id,
            timestamp_micros,
            identifier,
            owner,
            profile: target,
            limit_type,
            limit,
        });
    }
    Ok(())
}
