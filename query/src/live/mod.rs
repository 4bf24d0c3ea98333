//! Live segments: stored segment definitions whose membership is materialized and kept
//! current as writes arrive and as time passes, with a durable change feed and per-profile
//! explanations. See `docs/live-segments.md` (design) and `storage-format.md` ("Live segment log") for the design and the log format.

mod analysis;
mod database;
mod error;
mod explain;
mod feed;
mod hash;
mod manager;
mod record;
mod restrict;
mod schedule;
mod split;
mod traits;

pub use database::{LiveBatch, LiveDatabase, LiveSegmentStore};
pub use error::LiveError;
pub use explain::{ConditionResult, Explanation};
pub use feed::Change;
pub use manager::{LiveSegments, UpkeepReport, SEGMENT_LOG_DIR};
