//! Errors of the identity graph.

/// Why an identity operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The configuration is inconsistent.
    #[error("invalid identity configuration: {0}")]
    Config(String),
    /// Bytes that do not decode (truncated, flipped, inconsistent).
    #[error("corrupt {what}: {reason}")]
    Corrupt {
        /// `snapshot` or `link record`.
        what: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A format version this build does not read.
    #[error("unsupported {what} version {found} (this build reads version {supported})")]
    Version {
        /// `snapshot` or `link record`.
        what: &'static str,
        /// The version found.
        found: u16,
        /// The version this build reads.
        supported: u16,
    },
    /// Replaying a logged record produced a different outcome than the one logged.
    #[error("replay diverged at message `{message_id}`: logged {logged}, computed {computed}")]
    Divergence {
        /// The record's message id.
        message_id: String,
        /// The outcome in the log.
        logged: String,
        /// The outcome the graph computed.
        computed: String,
    },
}
