//! The identity graph: resolves the identifiers a message carries (user id, anonymous id,
//! email, phone, device id, custom types) to a profile, merging profiles that turn out to be
//! the same person within per-type limits, and explaining, splitting and persisting the result.
//!
//! Rules and byte layouts: `docs/profiles.md` and `storage-format.md`.

mod config;
mod error;
mod explain;
mod extract;
mod graph;
mod interner;
mod log;
mod normalize;
mod resolve;
mod rules;
mod snapshot;
mod split;
mod state;
mod types;
mod union_find;
mod wire;

#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod scale_tests;
#[cfg(test)]
mod snapshot_tests;
#[cfg(test)]
mod split_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

pub use config::{
    CustomIdType, IdentityConfig, DEFAULT_BLOCKED_LOCAL_PARTS, DEFAULT_BLOCKED_VALUES,
    DEFAULT_CUSTOM_LIMIT,
};
pub use error::IdentityError;
pub use graph::IdentityGraph;
pub(crate) use graph::ShownNode;
pub use log::{
    decode_record, encode_record, encode_record_into, LinkOutcome, LinkRecord, RECORD_VERSION,
};
pub use normalize::{normalize_phone, RejectReason, Rejected};
pub(crate) use resolve::Located;
pub use snapshot::{decode_snapshot, SNAPSHOT_MAGIC, SNAPSHOT_VERSION};
pub use types::{
    Identifier, IdentifierRecord, IdentifierType, LinkStep, Merge, MergeEvent, ProfileId,
    RefusedLink, Resolution, SplitReport,
};
