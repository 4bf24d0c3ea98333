//! A progress line on stderr (rows and rows/s), shown only when stderr is a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// Rows acknowledged so far, drawn at most a few times a second.
pub(crate) struct Progress(ProgressBar);

impl Progress {
    /// A spinner with `label`, hidden unless stderr is a terminal.
    pub(crate) fn new(label: &str) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress(ProgressBar::hidden());
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(4));
        let style =
            ProgressStyle::with_template("{spinner} {msg}: {human_pos} rows ({per_sec}) {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.set_message(label.to_owned());
        bar.enable_steady_tick(Duration::from_millis(250));
        Progress(bar)
    }

    /// Sets the count of rows done.
    pub(crate) fn set(&self, rows: u64) {
        self.0.set_position(rows);
    }

    /// Removes the line.
    pub(crate) fn finish(&self) {
        self.0.finish_and_clear();
    }
}
