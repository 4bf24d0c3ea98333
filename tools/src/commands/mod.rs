//! One module per subcommand.

pub(crate) mod check;
pub(crate) mod compact;
pub(crate) mod demo;
pub(crate) mod dump;
pub(crate) mod import;
pub(crate) mod profile;
pub(crate) mod restore;
pub(crate) mod sql;
pub(crate) mod stats;

use crate::error::ToolError;
use profiledb::{Database, Options};
use std::path::Path;

/// Opens the existing database in `data` (never creates one).
pub(crate) fn open_existing(data: &Path) -> Result<Database, ToolError> {
    let options = Options {
        create_if_missing: false,
        ..Options::default()
    };
    Database::open(data, options).map_err(ToolError::engine(format!(
        "cannot open the database in {}",
        data.display()
    )))
}

/// Closes `db`, reporting a background error the close surfaces.
pub(crate) fn close(db: Database) -> Result<(), ToolError> {
    db.close()
        .map_err(ToolError::engine("closing the database"))
}
