//! Computed-trait statements on a [`LiveDatabase`] opened on profiles: the definitions live in
//! the engine's [`Profiles`], and segments that read a trait's column are brought up to date
//! once the column changed.

use profiledb_engine::profiles::{ComputedTrait, DAY_MICROS};
use profiledb_engine::{ColumnType, Profiles, TableKind, Value};

use super::database::{lock, LiveDatabase, Store};
use super::error::LiveError;
use crate::error::QueryError;
use crate::result::{QueryResult, StatementOutcome};
use crate::traits::{definition_sql, TraitStatement};

impl LiveDatabase {
    /// Runs `CREATE TRAIT`, `DROP TRAIT` or `SHOW TRAITS`.
    pub(super) fn run_trait_statement(
        &self,
        statement: &TraitStatement,
    ) -> Result<StatementOutcome, QueryError> {
        let Store::Profiles(profiles) = &*self.db else {
            return Err(QueryError::unsupported(
                format!(
                    "{}: computed traits need a database opened on profiles",
                    statement.keyword()
                ),
                None,
            ));
        };
        match statement {
            TraitStatement::Show => Ok(StatementOutcome::Rows(self.show_traits(profiles))),
            TraitStatement::Drop { name, if_exists } => {
                let existed = exists(profiles, name);
                if !existed && !if_exists {
                    return Err(QueryError::plan(
                        format!("computed trait \"{name}\" does not exist"),
                        None,
                    ));
                }
                if existed {
                    profiles.drop_trait(name).map_err(LiveError::from)?;
                    self.refresh_segments()?;
                }
                Ok(StatementOutcome::TraitDropped {
                    name: name.clone(),
                    existed,
                })
            }
            TraitStatement::Create {
                definition,
                or_replace,
            } => self.create_trait(profiles, definition, *or_replace),
        }
    }

    fn create_trait(
        &self,
        profiles: &Profiles,
        definition: &ComputedTrait,
        or_replace: bool,
    ) -> Result<StatementOutcome, QueryError> {
        let name = &definition.name;
        let replaced = exists(profiles, name);
        if replaced && !or_replace {
            return Err(QueryError::plan(
                format!("computed trait \"{name}\" already exists (use CREATE OR REPLACE TRAIT)"),
                None,
            ));
        }
        // Windowed traits count days up to the trait clock: bring it to the live clock first.
        let now = lock(&self.live).clock();
        if day_of(now) > day_of(profiles.clock()) {
            profiles.advance_clock(now).map_err(LiveError::from)?;
        }
        let result = if replaced {
            profiles.replace_trait(definition.clone())
        } else {
            profiles.create_trait(definition.clone())
        };
        result.map_err(LiveError::from)?;
        self.refresh_segments()?;
        Ok(StatementOutcome::TraitCreated {
            name: name.clone(),
            replaced,
        })
    }

    /// Re-evaluates every segment for every profile: a trait column changed for any of them.
    fn refresh_segments(&self) -> Result<(), QueryError> {
        let snapshot = self.db.snapshot();
        let everyone = snapshot.live_rows(TableKind::Profiles).clone();
        let now = lock(&self.live).clock();
        lock(&self.live).on_write(&snapshot, &everyone, now)?;
        Ok(())
    }

    /// One row per computed trait, in creation order: its name, the statement that defines it,
    /// and the type of its `profiles` column (NULL until some profile has a value).
    fn show_traits(&self, profiles: &Profiles) -> QueryResult {
        let snapshot = self.db.snapshot();
        let schema = snapshot.schema(TableKind::Profiles);
        let text = ColumnType::String;
        QueryResult {
            columns: vec![
                ("name".into(), text),
                ("definition".into(), text),
                ("type".into(), text),
            ],
            rows: profiles
                .computed_traits()
                .iter()
                .map(|t| {
                    let column_type = schema
                        .column_type(&t.name)
                        .map_or(Value::Null, |c| Value::String(c.name().to_owned()));
                    vec![
                        Value::String(t.name.clone()),
                        Value::String(definition_sql(t)),
                        column_type,
                    ]
                })
                .collect(),
        }
    }
}

fn exists(profiles: &Profiles, name: &str) -> bool {
    profiles.computed_traits().iter().any(|t| t.name == name)
}

/// The UTC day (since the epoch) of a µs timestamp: windowed traits move by whole days.
fn day_of(micros: i64) -> i64 {
    micros.div_euclid(DAY_MICROS)
}
