//! Snapshot encoding (stub).

/// Snapshot magic.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"PDBIDGR\0";
/// Snapshot version.
pub const SNAPSHOT_VERSION: u16 = 1;

/// Decodes a snapshot.
///
/// # Errors
/// Always for now.
pub fn decode_snapshot(_bytes: &[u8]) -> Result<super::IdentityGraph, super::IdentityError> {
    todo!()
}
