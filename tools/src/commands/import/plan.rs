//! What to do with each CSV column: the profile id (or the event's profile), or an attribute
//! with its type (from `--schema`, the existing database, or inferred from the data).

use super::types::{parse_as, Inference};
use crate::error::ToolError;
use profiledb::{ColumnType, Value};
use std::collections::{HashMap, HashSet};

/// The column every table reserves for the link to the profile.
pub(crate) const PROFILE_ID: &str = "profile_id";

/// Which table the rows go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowKind {
    /// One upsert per row.
    Profiles,
    /// One appended event per row.
    Events,
}

/// One attribute column.
#[derive(Debug, Clone)]
pub(crate) struct Attribute {
    /// Position in the record.
    pub index: usize,
    /// Column name (the header's text).
    pub name: String,
    /// Its type; `None` until inferred.
    pub column_type: Option<ColumnType>,
}

/// A row converted to what the database takes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    /// The profile id from the id (or profile) column; `None` for ids to be assigned.
    pub key: Option<u32>,
    /// Non-NULL attributes.
    pub attributes: Vec<(String, Value)>,
}

/// The column plan of one CSV file.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub kind: RowKind,
    /// Index and name of the id column (profiles) or profile column (events).
    pub key: Option<(usize, String)>,
    /// Number of fields every record must have.
    pub width: usize,
    pub attributes: Vec<Attribute>,
}

/// What the command line says about the columns.
#[derive(Debug, Clone, Default)]
pub(crate) struct ColumnOptions {
    /// `--id` (profiles) or `--profile-column` (events).
    pub key_column: Option<String>,
    /// `--schema` overrides.
    pub schema: Vec<(String, ColumnType)>,
}

impl Plan {
    /// Plans the columns of `header`; `existing` holds the types the database already has.
    pub(crate) fn build(
        kind: RowKind,
        header: &[String],
        options: &ColumnOptions,
        existing: &HashMap<String, ColumnType>,
    ) -> Result<Plan, ToolError> {
        check_header(header)?;
        let key = key_column(kind, header, options)?;
        let overrides: HashMap<&str, ColumnType> = options
            .schema
            .iter()
            .map(|(n, t)| (n.as_str(), *t))
            .collect();
        for name in overrides.keys() {
            if !header.iter().any(|h| h == name) {
                return Err(bad(format!(
                    "--schema names `{name}`, which is not a column of the file"
                )));
            }
        }
        let mut attributes = Vec::new();
        for (index, name) in header.iter().enumerate() {
            if key.as_ref().is_some_and(|(k, _)| *k == index) {
                continue;
            }
            if name == PROFILE_ID {
                return Err(bad(format!(
                    "column `{PROFILE_ID}` is reserved; name it with {} to use it as the profile",
                    if kind == RowKind::Profiles {
                        "--id"
                    } else {
                        "--profile-column"
                    }
                )));
            }
            let column_type = resolve_type(name, overrides.get(name.as_str()).copied(), existing)?;
            attributes.push(Attribute {
                index,
                name: name.clone(),
                column_type,
            });
        }
        Ok(Plan {
            kind,
            key,
            width: header.len(),
            attributes,
        })
    }

    /// Whether some attribute's type must be inferred from the data.
    pub(crate) fn needs_inference(&self) -> bool {
        self.attributes.iter().any(|a| a.column_type.is_none())
    }

    /// Fills in inferred types (`inferences` is indexed by field position).
    pub(crate) fn apply_inference(&mut self, inferences: &[Inference]) {
        for attribute in &mut self.attributes {
            if attribute.column_type.is_none() {
                let inferred = inferences
                    .get(attribute.index)
                    .map_or(ColumnType::String, Inference::column_type);
                attribute.column_type = Some(inferred);
            }
        }
    }

    /// Every attribute with its (final) type.
    pub(crate) fn columns(&self) -> impl Iterator<Item = (&str, ColumnType)> {
        self.attributes
            .iter()
            .map(|a| (a.name.as_str(), a.column_type.unwrap_or(ColumnType::String)))
    }

    /// Converts one record's fields.
    ///
    /// # Errors
    /// Why the row cannot be imported (field count, id, a value that does not fit its type).
    pub(crate) fn convert(&self, fields: &[String]) -> Result<Row, String> {
        if fields.len() != self.width {
            return Err(format!(
                "expected {} fields, found {}",
                self.width,
                fields.len()
            ));
        }
        let key = match &self.key {
            Some((index, name)) => Some(parse_key(&fields[*index], name)?),
            None => None,
        };
        let mut attributes = Vec::with_capacity(self.attributes.len());
        for attribute in &self.attributes {
            let column_type = attribute.column_type.unwrap_or(ColumnType::String);
            let value = parse_as(&fields[attribute.index], column_type)
                .map_err(|e| format!("column `{}`: {e}", attribute.name))?;
            if !value.is_null() {
                attributes.push((attribute.name.clone(), value));
            }
        }
        Ok(Row { key, attributes })
    }
}

fn bad(message: String) -> ToolError {
    ToolError::BadInput {
        context: "the CSV header".to_owned(),
        message,
    }
}

fn check_header(header: &[String]) -> Result<(), ToolError> {
    let mut seen = HashSet::new();
    for (index, name) in header.iter().enumerate() {
        if name.is_empty() {
            return Err(bad(format!("column {} has no name", index + 1)));
        }
        if name.len() > profiledb::engine::MAX_COLUMN_NAME_BYTES {
            return Err(bad(format!(
                "column {} has a name over 1024 bytes",
                index + 1
            )));
        }
        if !seen.insert(name.as_str()) {
            return Err(bad(format!("column `{name}` appears twice")));
        }
    }
    Ok(())
}

/// The id/profile column: the one named on the command line, else a `profile_id` column.
fn key_column(
    kind: RowKind,
    header: &[String],
    options: &ColumnOptions,
) -> Result<Option<(usize, String)>, ToolError> {
    let wanted = options.key_column.clone().or_else(|| {
        header
            .iter()
            .any(|h| h == PROFILE_ID)
            .then(|| PROFILE_ID.to_owned())
    });
    let Some(name) = wanted else {
        return match kind {
            RowKind::Profiles => Ok(None),
            RowKind::Events => Err(ToolError::usage(
                "events need --profile-column COLUMN naming the column that holds each event's profile id",
            )),
        };
    };
    match header.iter().position(|h| *h == name) {
        Some(index) => Ok(Some((index, name))),
        None => Err(bad(format!(
            "there is no column `{name}` (columns: {})",
            header.join(", ")
        ))),
    }
}

/// `--schema` wins; it must agree with the database's type if the column exists.
fn resolve_type(
    name: &str,
    requested: Option<ColumnType>,
    existing: &HashMap<String, ColumnType>,
) -> Result<Option<ColumnType>, ToolError> {
    match (requested, existing.get(name).copied()) {
        (Some(wanted), Some(stored)) if wanted != stored => Err(bad(format!(
            "--schema says `{name}` is {}, but the database stores it as {}",
            wanted.name(),
            stored.name()
        ))),
        (Some(t), _) | (None, Some(t)) => Ok(Some(t)),
        (None, None) => Ok(None),
    }
}

fn parse_key(text: &str, column: &str) -> Result<u32, String> {
    if text.is_empty() {
        return Err(format!("column `{column}`: the profile id is empty"));
    }
    text.trim()
        .parse()
        .map_err(|_| format!("column `{column}`: `{text}` is not a profile id (0 to 4294967295)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn profile_id_column_is_the_id_unless_another_is_named() {
        let plan = Plan::build(
            RowKind::Profiles,
            &header(&["profile_id", "email"]),
            &ColumnOptions::default(),
            &HashMap::new(),
        )
        .unwrap();
        assert_eq!(plan.key, Some((0, "profile_id".to_owned())));
        assert_eq!(plan.attributes.len(), 1);
        let row = plan.convert(&header(&["7", ""])).unwrap();
        assert_eq!(
            row,
            Row {
                key: Some(7),
                attributes: vec![]
            }
        );
        assert!(plan
            .convert(&header(&["-1", "x"]))
            .unwrap_err()
            .contains("not a profile id"));
        assert!(plan
            .convert(&header(&["1"]))
            .unwrap_err()
            .contains("expected 2 fields"));
    }

    #[test]
    fn events_need_a_profile_column_and_schema_conflicts_are_refused() {
        let error = Plan::build(
            RowKind::Events,
            &header(&["who", "event"]),
            &ColumnOptions::default(),
            &HashMap::new(),
        )
        .unwrap_err();
        assert_eq!(error.exit_code(), 2);
        let options = ColumnOptions {
            key_column: None,
            schema: vec![("age".into(), ColumnType::String)],
        };
        let existing = HashMap::from([("age".to_owned(), ColumnType::Int64)]);
        assert!(Plan::build(RowKind::Profiles, &header(&["age"]), &options, &existing).is_err());
    }
}
