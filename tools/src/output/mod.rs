//! Output: query results as tables, CSV or JSON, and small formatting helpers.

mod csv;
mod json;
mod table;
pub(crate) mod value;

use crate::error::ToolError;
use std::io::{self, BufWriter, StdoutLock, Write};

/// Buffered standard output; errors (a closed pipe included) surface as [`ToolError::Io`].
pub(crate) struct Out(BufWriter<StdoutLock<'static>>);

impl Out {
    pub(crate) fn new() -> Self {
        Out(BufWriter::new(io::stdout().lock()))
    }

    /// Writes one line.
    pub(crate) fn line(&mut self, text: impl std::fmt::Display) -> Result<(), ToolError> {
        writeln!(self.0, "{text}").map_err(ToolError::io("write to stdout"))
    }

    /// Flushes what is buffered.
    pub(crate) fn finish(mut self) -> Result<(), ToolError> {
        self.0.flush().map_err(ToolError::io("write to stdout"))
    }
}

/// `bytes` with a binary unit, e.g. `12.5 KiB`.
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// How query results are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ResultFormat {
    /// Aligned columns with a header and a row count.
    #[default]
    Table,
    /// A header row, then one RFC 4180 record per row.
    Csv,
    /// One JSON object per row and line.
    Json,
}

/// Writes `result` in `format`.
pub(crate) fn write_result(
    out: &mut dyn Write,
    format: ResultFormat,
    result: &profiledb::query::QueryResult,
) -> io::Result<()> {
    match format {
        ResultFormat::Table => table::write_table(out, result),
        ResultFormat::Csv => self::csv::write_csv(out, result),
        ResultFormat::Json => json::write_json(out, result),
    }
}
