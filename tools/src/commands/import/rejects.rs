//! The reject file: for every bad row, `line N: reason`, then the row as it was read.

use crate::error::ToolError;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Collects rejected rows; the file is created with the first one.
pub(crate) struct Rejects {
    path: PathBuf,
    file: Option<BufWriter<File>>,
    count: u64,
    /// The first few, for the summary on the terminal.
    shown: Vec<String>,
}

/// How many rejects the summary repeats on the terminal.
const SHOWN: usize = 5;

impl Rejects {
    pub(crate) fn new(path: PathBuf) -> Self {
        Rejects {
            path,
            file: None,
            count: 0,
            shown: Vec::new(),
        }
    }

    /// The reject file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Rows rejected so far.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// The first rejects as `line N: reason`.
    pub(crate) fn shown(&self) -> &[String] {
        &self.shown
    }

    /// Records that the row starting at `line` with text `original` was rejected for `reason`.
    pub(crate) fn reject(
        &mut self,
        line: u64,
        original: &str,
        reason: &str,
    ) -> Result<(), ToolError> {
        self.count += 1;
        let entry = format!("line {line}: {}", reason.replace(['\n', '\r'], " "));
        if self.shown.len() < SHOWN {
            self.shown.push(entry.clone());
        }
        let context = format!("writing {}", self.path.display());
        if self.file.is_none() {
            let file = File::create(&self.path).map_err(ToolError::io(context.clone()))?;
            self.file = Some(BufWriter::new(file));
        }
        if let Some(file) = &mut self.file {
            writeln!(file, "{entry}")
                .and_then(|()| writeln!(file, "{original}"))
                .map_err(ToolError::io(context))?;
        }
        Ok(())
    }

    /// Flushes the file, if one was written.
    pub(crate) fn finish(&mut self) -> Result<(), ToolError> {
        match &mut self.file {
            Some(file) => file
                .flush()
                .map_err(ToolError::io(format!("writing {}", self.path.display()))),
            None => Ok(()),
        }
    }
}
