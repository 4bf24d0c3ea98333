//! Every identifier of every profile, as rows: what SQL's `identities` table shows.

use super::Profiles;
use crate::identity::ProfileId;

/// One identifier attached to one profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityRow {
    /// The profile's id (its row in `profiles`).
    pub profile_id: u32,
    /// Identifier type (`user_id`, `email`, … or a custom type).
    pub kind: String,
    /// Normalized value.
    pub value: String,
    /// Earliest timestamp (µs) of a message that carried it.
    pub first_seen: i64,
    /// Latest timestamp (µs) of a message that carried it.
    pub last_seen: i64,
}

impl Profiles {
    /// Every identifier of every live profile, ordered by profile then first appearance.
    #[must_use]
    pub fn identities(&self) -> Vec<IdentityRow> {
        let state = self.state.lock();
        self.with_graph(|graph| {
            let mut rows = Vec::new();
            for id in 0..graph.profile_id_bound() {
                let profile = ProfileId(id);
                if graph.canonical(profile) != profile {
                    continue;
                }
                let Some(row) = state.row(id) else {
                    continue;
                };
                rows.extend(
                    graph
                        .identifiers_of_profile(profile)
                        .into_iter()
                        .map(|record| IdentityRow {
                            profile_id: row,
                            kind: record.identifier.kind.name().to_owned(),
                            value: record.identifier.value,
                            first_seen: record.first_seen,
                            last_seen: record.last_seen,
                        }),
                );
            }
            rows.sort_by_key(|r| r.profile_id);
            rows
        })
    }
}
