//! The interactive SQL shell: line editing, history, multi-line statements.

use super::driver::{Driver, Flow};
use crate::error::ToolError;
use rustyline::error::ReadlineError;
use rustyline::DefaultEditor;
use std::io::{self, Write};
use std::path::PathBuf;

const PROMPT: &str = "profiledb=> ";
const CONTINUATION: &str = "profiledb-> ";

/// Reads lines from the terminal until `\q` or end of input; errors are shown, not fatal.
pub(crate) fn run(driver: &mut Driver<'_>) -> Result<(), ToolError> {
    let mut editor = DefaultEditor::new().map_err(|e| ToolError::Io {
        context: "starting the line editor".to_owned(),
        source: io::Error::other(e.to_string()),
    })?;
    let history = history_file();
    if let Some(path) = &history {
        // A missing history file is normal on first use.
        let _ = editor.load_history(path);
    }
    println!("profiledb SQL shell. End statements with `;`. \\help for help, \\q to quit.");
    let mut stdout = io::stdout();
    loop {
        let prompt = if driver.is_pending() {
            CONTINUATION
        } else {
            PROMPT
        };
        match editor.readline(prompt) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                match driver.feed(&line, &mut stdout) {
                    Ok(Flow::Quit) => break,
                    Ok(Flow::Continue) => {}
                    Err(error) => report(&error),
                }
            }
            Err(ReadlineError::Interrupted) => driver.discard(),
            Err(ReadlineError::Eof) => break,
            Err(error) => {
                return Err(ToolError::Io {
                    context: "reading the terminal".to_owned(),
                    source: io::Error::other(error.to_string()),
                })
            }
        }
    }
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
    Ok(())
}

fn report(error: &ToolError) {
    let mut stderr = io::stderr().lock();
    let _ = writeln!(stderr, "error: {error}");
    if let Some(hint) = error.hint() {
        let _ = writeln!(stderr, "hint: {hint}");
    }
}

/// `$HOME/.profiledb_history`, when there is a home directory.
fn history_file() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|home| PathBuf::from(home).join(".profiledb_history"))
}
