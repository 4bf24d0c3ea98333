//! Small formatting helpers shared by the commands.

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
