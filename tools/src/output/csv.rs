//! CSV output: a header row, then one RFC 4180 record per row.

use super::value::csv_field;
use profiledb::query::QueryResult;
use std::io::{self, Write};

/// Writes `result` as CSV (NULL is an empty field).
pub(crate) fn write_csv(out: &mut dyn Write, result: &QueryResult) -> io::Result<()> {
    let mut writer = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::Any(b'\n'))
        .from_writer(out);
    writer
        .write_record(result.columns.iter().map(|(name, _)| name.as_str()))
        .map_err(into_io)?;
    for row in &result.rows {
        writer
            .write_record(row.iter().map(csv_field))
            .map_err(into_io)?;
    }
    writer.flush()
}

fn into_io(error: ::csv::Error) -> io::Error {
    match error.into_kind() {
        ::csv::ErrorKind::Io(e) => e,
        other => io::Error::other(format!("{other:?}")),
    }
}
