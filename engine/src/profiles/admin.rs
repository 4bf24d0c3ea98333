//! Creating and dropping computed traits, and advancing their clock.

use super::columns::{is_hidden_profile_column, Fitter};
use super::computed::{Aggregate, ComputedTrait, TraitState};
use super::error::{ProfilesError, ProfilesResult};
use super::ingest::identifier_columns;
use super::maintain::write_computed;
use super::state::State;
use super::Profiles;
use crate::db::{BuiltBatch, EVENT_PROFILE_COLUMN, MAX_COLUMN_NAME_BYTES};
use crate::schema::TableKind;
use crate::value::ColumnType;
use crate::value::Value;
use crate::WriteBatch;

impl Profiles {
    /// Defines a computed trait, computes it for every profile from the stored events, and
    /// maintains it at every ingest from now on. The definition is durable on return.
    ///
    /// # Errors
    /// [`ProfilesError::InvalidTrait`] (bad or taken name, empty property, non-positive
    /// window, or a name whose column, left by a dropped trait, holds another type), or I/O
    /// errors.
    pub fn create_trait(&self, definition: ComputedTrait) -> ProfilesResult<()> {
        let mut state = self.state.lock();
        self.check_definition(&definition, &state.definitions.traits)?;
        // The name's column may be left from a dropped trait.
        self.check_column_type(&definition)?;
        let mut definitions = state.definitions.clone();
        definitions.traits.push(definition.clone());
        definitions.store(self.db.storage().as_ref(), self.db.dir())?;
        state.definitions = definitions;
        let index = state.definitions.traits.len() - 1;
        self.recompute_trait(&mut state, index, &definition)
    }

    /// Redefines the computed trait called `definition.name` (or creates it when there is
    /// none): every profile's value is recomputed from the stored events into the same
    /// column, so the new aggregate must produce that column's type.
    ///
    /// # Errors
    /// As [`Profiles::create_trait`], and [`ProfilesError::InvalidTrait`] when the new
    /// aggregate's type differs from the column's.
    pub fn replace_trait(&self, definition: ComputedTrait) -> ProfilesResult<()> {
        let mut state = self.state.lock();
        let name = definition.name.clone();
        let Some(index) = state.definitions.traits.iter().position(|t| t.name == name) else {
            drop(state);
            return self.create_trait(definition);
        };
        let mut others = state.definitions.traits.clone();
        others.remove(index);
        self.check_definition_for(&definition, &others, true)?;
        self.check_column_type(&definition)?;
        let mut definitions = state.definitions.clone();
        definitions.traits[index] = definition.clone();
        definitions.store(self.db.storage().as_ref(), self.db.dir())?;
        state.definitions = definitions;
        for slots in state.computed.iter_mut().map(|(_, slots)| slots) {
            if let Some(slot) = slots.get_mut(index) {
                slot.state = TraitState::new(&definition);
            }
        }
        self.recompute_trait(&mut state, index, &definition)
    }

    /// Computes trait `index` of every profile from the stored events and writes the values,
    /// in one database write.
    fn recompute_trait(
        &self,
        state: &mut State,
        index: usize,
        definition: &ComputedTrait,
    ) -> ProfilesResult<()> {
        let now = state.definitions.clock;
        self.db.write_with(|ctx| {
            state.load_trait(ctx.snapshot, index, definition, now)?;
            let mut batch = WriteBatch::new();
            let mut fitter = Fitter::new(ctx.profiles_schema, ctx.events_schema);
            let rows: Vec<u32> = state.computed.ids();
            write_computed(state, rows, &mut batch, &mut fitter);
            Ok(plain(batch))
        })?;
        Ok(())
    }

    /// Refuses a definition whose values would not fit the column already named after it: a
    /// replaced trait's, or a dropped trait's (whose column stays, all NULL).
    fn check_column_type(&self, definition: &ComputedTrait) -> ProfilesResult<()> {
        let snapshot = self.db.snapshot();
        let Some(column_type) = snapshot
            .schema(TableKind::Profiles)
            .column_type(&definition.name)
        else {
            return Ok(());
        };
        let produced = match &definition.aggregate {
            Aggregate::Count | Aggregate::CountDistinct(_) => Some(ColumnType::Int64),
            Aggregate::Sum(_) | Aggregate::Avg(_) => Some(ColumnType::Float64),
            other => other
                .property()
                .and_then(|p| snapshot.schema(TableKind::Events).column_type(p)),
        };
        match produced {
            Some(produced) if produced != column_type => Err(ProfilesError::InvalidTrait {
                name: definition.name.clone(),
                reason: format!(
                    "its column holds {} values and the new aggregate gives {}",
                    column_type.name(),
                    produced.name()
                ),
            }),
            _ => Ok(()),
        }
    }

    fn check_definition(
        &self,
        definition: &ComputedTrait,
        existing: &[ComputedTrait],
    ) -> ProfilesResult<()> {
        self.check_definition_for(definition, existing, false)
    }

    /// Checks a definition against the other traits; `own_column` allows the name's column
    /// to exist already (it is the column of the trait being replaced).
    fn check_definition_for(
        &self,
        definition: &ComputedTrait,
        existing: &[ComputedTrait],
        own_column: bool,
    ) -> ProfilesResult<()> {
        let name = &definition.name;
        let taken_by_data = !own_column && self.column_holds_values(name)?;
        let identifiers = self.db.with_graph(|g| identifier_columns(g.config()));
        let reason = if name.is_empty() || name.len() > MAX_COLUMN_NAME_BYTES {
            "names must have 1 to 1024 bytes"
        } else if is_hidden_profile_column(name) || name == EVENT_PROFILE_COLUMN {
            "the name is reserved"
        } else if identifiers.contains(name) {
            "the name is an identifier column"
        } else if existing.iter().any(|t| &t.name == name) || taken_by_data {
            "a trait or profile column with this name exists"
        } else if definition.aggregate.property().is_some_and(str::is_empty) {
            "the aggregated property is empty"
        } else if definition.window.is_some_and(|w| w <= 0) {
            "the window must be positive"
        } else {
            return Ok(());
        };
        Err(ProfilesError::InvalidTrait {
            name: name.clone(),
            reason: reason.to_owned(),
        })
    }

    /// Whether profiles column `name` exists and a live profile holds a value in it. A column
    /// that holds none (a dropped trait's, which stays all NULL) may be taken by a new trait;
    /// finding out reads the column over every profile, once per `CREATE TRAIT`.
    fn column_holds_values(&self, name: &str) -> ProfilesResult<bool> {
        let snapshot = self.db.snapshot();
        if snapshot.schema(TableKind::Profiles).column(name).is_none() {
            return Ok(false);
        }
        Ok(!super::state::column_values(&snapshot, name)?.is_empty())
    }

    /// Forgets a computed trait and clears its column.
    ///
    /// # Errors
    /// [`ProfilesError::InvalidTrait`] for an unknown name, or I/O errors.
    pub fn drop_trait(&self, name: &str) -> ProfilesResult<()> {
        let mut state = self.state.lock();
        let Some(index) = state.definitions.traits.iter().position(|t| t.name == name) else {
            return Err(ProfilesError::InvalidTrait {
                name: name.to_owned(),
                reason: "no such computed trait".to_owned(),
            });
        };
        let mut definitions = state.definitions.clone();
        definitions.traits.remove(index);
        definitions.store(self.db.storage().as_ref(), self.db.dir())?;
        state.definitions = definitions;
        self.db.write_with(|_| {
            let mut batch = WriteBatch::new();
            for (row, slots) in state.computed.iter_mut() {
                if index < slots.len() {
                    let slot = slots.remove(index);
                    if !slot.written.is_null() {
                        batch.upsert_profile(row, vec![(name.to_owned(), Value::Null)]);
                    }
                }
            }
            Ok(plain(batch))
        })?;
        Ok(())
    }

    /// Moves the trait clock forward to `now` (µs): windowed traits drop the days that left
    /// their window and their columns are rewritten. A clock that would go back is ignored.
    ///
    /// # Errors
    /// I/O errors.
    pub fn advance_clock(&self, now: i64) -> ProfilesResult<()> {
        let mut state = self.state.lock();
        if now <= state.definitions.clock {
            return Ok(());
        }
        let mut definitions = state.definitions.clone();
        definitions.clock = now;
        definitions.store(self.db.storage().as_ref(), self.db.dir())?;
        state.definitions = definitions;
        let traits = state.definitions.traits.clone();
        if !traits.iter().any(|t| t.window.is_some()) {
            return Ok(());
        }
        self.db.write_with(|ctx| {
            for slots in state.computed.iter_mut().map(|(_, slots)| slots) {
                for (slot, definition) in slots.iter_mut().zip(&traits) {
                    slot.state.age(definition, now);
                }
            }
            let mut batch = WriteBatch::new();
            let mut fitter = Fitter::new(ctx.profiles_schema, ctx.events_schema);
            let rows: Vec<u32> = state.computed.ids();
            write_computed(&mut state, rows, &mut batch, &mut fitter);
            Ok(plain(batch))
        })?;
        Ok(())
    }
}

/// A batch without identity changes or erased events.
pub(crate) fn plain(batch: WriteBatch) -> BuiltBatch<()> {
    BuiltBatch {
        batch,
        identity: Vec::new(),
        deleted_events: Vec::new(),
        value: (),
    }
}
