//! Backslash commands of the SQL shell.

use super::driver::Flow;
use super::runner::{Origin, Runner};
use crate::error::ToolError;
use std::io::Write;

/// What `\help` prints.
pub(crate) const HELP: &str = "\
Statements end with `;` and may span lines. Commands:
  \\d [TABLE]     tables and columns with their types
  \\segments      the segments defined in this session (SHOW SEGMENTS)
  \\timing        toggle printing the time each statement takes
  \\help          this text
  \\q             quit
SQL examples:
  SELECT COUNT(*) FROM profiles;
  SELECT event, COUNT(*) FROM events GROUP BY event ORDER BY 2 DESC LIMIT 10;
  CREATE SEGMENT vip AS SELECT profile_id FROM profiles WHERE ltv > 500;
  SET now = '2026-06-01T00:00:00Z';";

/// Runs the backslash command `line` (trimmed).
pub(crate) fn run(
    line: &str,
    runner: &mut Runner<'_>,
    out: &mut dyn Write,
) -> Result<Flow, ToolError> {
    let mut words = line.split_whitespace();
    let command = words.next().unwrap_or_default();
    let argument = words.next();
    let io = ToolError::io("write to stdout");
    match command {
        "\\q" | "\\quit" => return Ok(Flow::Quit),
        "\\help" | "\\?" | "\\h" => writeln!(out, "{HELP}").map_err(io)?,
        "\\timing" => {
            runner.timing = match argument {
                Some("on") => true,
                Some("off") => false,
                _ => !runner.timing,
            };
            let state = if runner.timing { "on" } else { "off" };
            runner
                .status(out, &format!("Timing is {state}."))
                .map_err(io)?;
        }
        "\\d" => {
            let result = runner.describe(argument);
            runner.write_rows(&result, out).map_err(io)?;
        }
        "\\segments" => runner.run("SHOW SEGMENTS", Origin::WHOLE, out)?,
        other => {
            return Err(ToolError::BadInput {
                context: other.to_owned(),
                message: "unknown command (\\help lists the commands)".to_owned(),
            })
        }
    }
    out.flush().map_err(ToolError::io("write to stdout"))?;
    Ok(Flow::Continue)
}
