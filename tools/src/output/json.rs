//! JSON output: one object per row and line (NDJSON), keys in column order.

use super::value::to_json;
use profiledb::query::QueryResult;
use serde_json::Value as Json;
use std::io::{self, Write};

/// Writes each row of `result` as a JSON object on its own line.
pub(crate) fn write_json(out: &mut dyn Write, result: &QueryResult) -> io::Result<()> {
    for row in &result.rows {
        // Written by hand so keys keep the column order (serde_json's map would sort them).
        out.write_all(b"{")?;
        for (index, ((name, _), value)) in result.columns.iter().zip(row).enumerate() {
            if index > 0 {
                out.write_all(b",")?;
            }
            serde_json::to_writer(&mut *out, &Json::String(name.clone()))?;
            out.write_all(b":")?;
            serde_json::to_writer(&mut *out, &to_json(value))?;
        }
        out.write_all(b"}\n")?;
    }
    Ok(())
}
