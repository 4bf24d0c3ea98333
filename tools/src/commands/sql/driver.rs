//! Feeds input lines to the runner: backslash commands, and statements once `;` ends them.

use super::meta;
use super::runner::{Origin, Runner};
use super::split::{split, Piece};
use crate::error::ToolError;
use std::io::Write;

/// Whether to go on reading input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Read the next line.
    Continue,
    /// `\q` was given.
    Quit,
}

/// Collects lines until statements are complete and runs them.
pub(crate) struct Driver<'d> {
    pub(crate) runner: Runner<'d>,
    buffer: String,
    /// Input position of the buffer's first character.
    buffer_at: (u64, u64),
    lines_read: u64,
    /// Typed at a prompt: positions count from each statement's first line, not the session's.
    interactive: bool,
}

impl<'d> Driver<'d> {
    /// A driver for a script: error positions are lines of the whole input.
    pub(crate) fn new(runner: Runner<'d>) -> Self {
        Driver {
            runner,
            buffer: String::new(),
            buffer_at: (1, 1),
            lines_read: 0,
            interactive: false,
        }
    }

    /// A driver for the shell: error positions are relative to the statement.
    pub(crate) fn interactive(runner: Runner<'d>) -> Self {
        Driver {
            interactive: true,
            ..Driver::new(runner)
        }
    }

    /// Whether part of a statement is waiting for its `;`.
    pub(crate) fn is_pending(&self) -> bool {
        !self.buffer.trim().is_empty()
    }

    /// Forgets a partly typed statement (Ctrl-C in the shell).
    pub(crate) fn discard(&mut self) {
        self.buffer.clear();
    }

    /// Takes one line of input (without its line break).
    pub(crate) fn feed(&mut self, line: &str, out: &mut dyn Write) -> Result<Flow, ToolError> {
        if self.interactive && !self.is_pending() {
            self.lines_read = 0;
        }
        self.lines_read += 1;
        if !self.is_pending() && line.trim_start().starts_with('\\') {
            self.buffer.clear();
            return meta::run(line.trim(), &mut self.runner, out);
        }
        if !self.is_pending() {
            self.buffer.clear();
            self.buffer_at = (self.lines_read, 1);
        }
        self.buffer.push_str(line);
        self.buffer.push('\n');
        let parts = split(&self.buffer);
        let base = self.buffer_at;
        let rest = parts.rest.clone();
        match rest {
            Some(piece) => {
                self.buffer_at = self.origin(&piece, base);
                self.buffer = piece.text;
            }
            None => self.buffer.clear(),
        }
        for piece in &parts.complete {
            let (line, column) = self.origin(piece, base);
            let origin = Origin {
                line,
                column,
                in_script: !self.interactive,
            };
            if let Err(error) = self.runner.run(&piece.text, origin, out) {
                self.buffer.clear();
                return Err(error);
            }
        }
        Ok(Flow::Continue)
    }

    /// Runs a last statement that ended without `;` (end of input).
    pub(crate) fn finish(&mut self, out: &mut dyn Write) -> Result<(), ToolError> {
        if !self.is_pending() {
            return Ok(());
        }
        let text = std::mem::take(&mut self.buffer);
        let (line, column) = self.buffer_at;
        let origin = Origin {
            line,
            column,
            in_script: true,
        };
        self.runner.run(&text, origin, out)
    }

    /// The input position of a piece cut from the buffer starting at `base`.
    fn origin(&self, piece: &Piece, base: (u64, u64)) -> (u64, u64) {
        if piece.line == 1 {
            (base.0, base.1 + piece.column - 1)
        } else {
            (base.0 + piece.line - 1, piece.column)
        }
    }
}
