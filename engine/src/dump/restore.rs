//! Restores a dump into a new database directory through the [`BulkLoader`].
//!
//! Rows go straight from the dump stream into column chunks of one segment per table: no WAL,
//! no memory layers, no compaction. Profile ids are kept; events get dense ids from 0 in dump
//! order (a dump never carries event ids; `profile_id` carries the link). The schemas are
//! taken from the dump as they are, so columns keep their order even where no restored row
//! sets them.

use super::error::DumpError;
use super::reader::{DumpReader, Item, RowSink};
use super::DumpSummary;
use crate::db::{BulkLoadError, BulkLoader};
use crate::schema::TableKind;
use crate::value::Value;
use std::io::Read;
use std::path::Path;

/// Restores the dump read from `input` into `dir`, which must be empty or absent.
///
/// Everything the reader checks is checked before the restored database is completed: a dump
/// damaged anywhere, even in its last byte, leaves `dir` without a database (the files written
/// so far are removed). The database is complete, synced and ready to open once this returns.
///
/// # Errors
/// [`DumpError::NotEmpty`] before anything is written; otherwise any error of
/// [`super::verify_dump`], or an I/O error while writing.
pub fn restore_dump(input: &mut dyn Read, dir: &Path) -> Result<DumpSummary, DumpError> {
    let mut reader = DumpReader::open(input)?;
    let mut sink = LoaderSink { loader: None };
    loop {
        match reader.next_item(&mut sink)? {
            Item::Schema(schema) if schema.table == TableKind::Events => {
                let loader = BulkLoader::create(
                    dir,
                    reader.schema(TableKind::Profiles),
                    reader.schema(TableKind::Events),
                )
                .map_err(not_empty)?;
                sink.loader = Some(loader);
            }
            Item::End(summary) => {
                if let Some(loader) = sink.loader.take() {
                    loader.finish()?;
                }
                return Ok(summary);
            }
            Item::Meta | Item::Schema(_) | Item::Profiles | Item::Events => {}
        }
    }
}

/// Reports a non-empty target as [`DumpError::NotEmpty`], as callers of restore expect.
fn not_empty(error: BulkLoadError) -> DumpError {
    match error {
        BulkLoadError::NotEmpty { dir, entry } => DumpError::NotEmpty {
            reason: format!("{} holds `{entry}`", dir.display()),
        },
        other => other.into(),
    }
}

/// Hands validated rows to the bulk loader.
struct LoaderSink {
    loader: Option<BulkLoader>,
}

impl LoaderSink {
    fn loader(&mut self) -> Result<&mut BulkLoader, DumpError> {
        // The reader hands out rows only after both SCHEMA blocks, which create the loader.
        self.loader
            .as_mut()
            .ok_or_else(|| DumpError::corrupt(0, "rows before the schemas"))
    }
}

impl RowSink for LoaderSink {
    fn profile(&mut self, id: u32, values: &[Value]) -> Result<(), DumpError> {
        self.loader()?.push_profile(id, values)?;
        Ok(())
    }

    fn event(&mut self, values: &[Value]) -> Result<(), DumpError> {
        self.loader()?.push_event(values)?;
        Ok(())
    }
}
