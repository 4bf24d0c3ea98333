//! Where the demo database goes: a new or empty directory, or an earlier demo database
//! (recognised by its content, since a database directory holds only the engine's files).

use crate::error::ToolError;
use std::fs;
use std::path::Path;

/// What the --data directory holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// Missing or empty: build there.
    Free,
    /// An earlier demo database: replace it.
    EarlierDemo,
}

/// Checks `data`; `is_demo` tells whether a non-empty directory holds an earlier demo.
pub(crate) fn inspect(
    data: &Path,
    is_demo: impl FnOnce(&Path) -> bool,
) -> Result<Target, ToolError> {
    match fs::read_dir(data).map(|mut entries| entries.next().is_none()) {
        Ok(true) => Ok(Target::Free),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Target::Free),
        Err(e) => Err(ToolError::io(format!("reading {}", data.display()))(e)),
        Ok(false) if is_demo(data) => Ok(Target::EarlierDemo),
        Ok(false) => Err(ToolError::DemoTargetInUse {
            dir: data.to_path_buf(),
        }),
    }
}

/// Removes an earlier demo database so the new one starts empty.
pub(crate) fn clear(data: &Path) -> Result<(), ToolError> {
    fs::remove_dir_all(data).map_err(ToolError::io(format!(
        "removing the earlier demo database in {}",
        data.display()
    )))
}
