//! `profiledb profile IDENTIFIER`: one whole profile as JSON.

mod by_identifier;
mod by_row;

use super::{close, open_existing};
use crate::error::ToolError;
use crate::output::Out;
use crate::Outcome;
use profiledb::engine::profiles::{Profiles, ProfilesOptions};
use profiledb::Database;
use std::path::Path;

/// An identifier as given on the command line: `type:value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Identifier {
    /// `profile_id:N`: the profile row itself.
    ProfileId(u32),
    /// Any other `type:value` (`email:alice@example.com`, `user_id:42`).
    Typed { kind: String, value: String },
}

impl Identifier {
    pub(crate) fn parse(text: &str) -> Result<Identifier, ToolError> {
        let (kind, value) = text.split_once(':').ok_or_else(|| {
            ToolError::usage(format!(
                "`{text}` is not TYPE:VALUE (e.g. email:alice@example.com or profile_id:7)"
            ))
        })?;
        if kind.is_empty() || value.is_empty() {
            return Err(ToolError::usage(format!(
                "`{text}` has an empty type or value"
            )));
        }
        if kind == "profile_id" {
            let id = value.parse().map_err(|_| {
                ToolError::usage(format!("`{value}` is not a profile id (0 to 4294967295)"))
            })?;
            return Ok(Identifier::ProfileId(id));
        }
        Ok(Identifier::Typed {
            kind: kind.to_owned(),
            value: value.to_owned(),
        })
    }
}

pub(crate) fn run(data: &Path, identifier: &str, events: usize) -> Result<Outcome, ToolError> {
    let identifier = Identifier::parse(identifier)?;
    let db = open_existing(data)?;
    if by_identifier::is_ingested(&db.snapshot()) {
        return with_profiles_layer(db, &identifier, events);
    }
    let json = match &identifier {
        Identifier::ProfileId(id) => by_row::profile_json(&db.snapshot(), *id, events),
        Identifier::Typed { kind, value } => Err(ToolError::ProfileNotFound {
            identifier: format!("{kind}:{value} (this database was not built by ingestion, so it has no identifiers; use profile_id:N)"),
        }),
    };
    close(db)?;
    print(&json?)
}

/// Looks the profile up through the profiles layer: `profile_id:N` is resolved through one
/// of the row's identifiers, so it shows the same view.
fn with_profiles_layer(
    db: Database,
    identifier: &Identifier,
    events: usize,
) -> Result<Outcome, ToolError> {
    let profiles = Profiles::from_database(db, ProfilesOptions::default())
        .map_err(ToolError::profiles("opening the profiles layer"))?;
    let result = lookup(&profiles, identifier, events);
    profiles
        .close()
        .map_err(ToolError::profiles("closing the database"))?;
    print(&result?)
}

fn lookup(
    profiles: &Profiles,
    identifier: &Identifier,
    events: usize,
) -> Result<String, ToolError> {
    let text = match identifier {
        Identifier::Typed { kind, value } => format!("{kind}:{value}"),
        Identifier::ProfileId(id) => {
            let snapshot = profiles.snapshot();
            match by_identifier::identifier_of_row(&snapshot, *id)? {
                Some(text) => text,
                None => return by_row::profile_json(&snapshot, *id, events),
            }
        }
    };
    match by_identifier::view_json(profiles, &text, events)? {
        Some((_, json)) => Ok(json),
        None => Err(ToolError::ProfileNotFound { identifier: text }),
    }
}

fn print(json: &str) -> Result<Outcome, ToolError> {
    let mut out = Out::new();
    out.line(json)?;
    out.finish()?;
    Ok(Outcome::Clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_parse() {
        assert_eq!(
            Identifier::parse("profile_id:7").unwrap(),
            Identifier::ProfileId(7)
        );
        assert_eq!(
            Identifier::parse("email:a:b@x").unwrap(),
            Identifier::Typed {
                kind: "email".into(),
                value: "a:b@x".into()
            }
        );
        assert_eq!(Identifier::parse("nothing").unwrap_err().exit_code(), 2);
        assert_eq!(
            Identifier::parse("profile_id:-1").unwrap_err().exit_code(),
            2
        );
    }
}
