//! The only module with `unsafe` code: memory-mapping immutable files.
//!
//! Contract, relied on by the SAFETY note below:
//! - ProfileDB maps only sealed segment files. A segment is written to a temporary name, synced,
//!   then renamed into place and never modified again; it is deleted only after no snapshot
//!   references it (snapshots hold the mapping, and unlinking a mapped file keeps its pages).
//! - Another process truncating a mapped file would make reads fault (SIGBUS). ProfileDB takes
//!   an exclusive lock on the database directory, so only a process outside ProfileDB's control
//!   could do that, which is outside what any mmap-based database can defend against.
//! - Empty files are not mapped (a zero-length mapping is an error on some platforms); they read
//!   as an empty buffer.

use bytes::Bytes;
use memmap2::Mmap;
use std::fs::File;
use std::io;
use std::path::Path;

/// Maps `path` read-only and hands it out as cheaply-sliceable [`Bytes`].
pub(super) fn map_read_only(path: &Path) -> io::Result<Bytes> {
    let file = File::open(path)?;
    if file.metadata()?.len() == 0 {
        return Ok(Bytes::new());
    }
    // SAFETY: the mapped file is an immutable, sealed segment (see the module contract): nothing
    // in this process writes to or truncates it while the mapping lives, so the bytes behind the
    // returned slice stay valid and unchanged for the lifetime of the `Bytes` that owns the map.
    #[expect(
        unsafe_code,
        reason = "memory-mapping sealed segment files; see module contract"
    )]
    let map = unsafe { Mmap::map(&file)? };
    Ok(Bytes::from_owner(map))
}
