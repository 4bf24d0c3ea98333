//! Aligned text tables: header, separator, rows, `(N rows)`.

use super::value::table_cell;
use profiledb::query::QueryResult;
use profiledb::ColumnType;
use std::io::{self, Write};

/// Writes `result` as an aligned table; numbers are right-aligned, everything else left.
pub(crate) fn write_table(out: &mut dyn Write, result: &QueryResult) -> io::Result<()> {
    let cells: Vec<Vec<String>> = result
        .rows
        .iter()
        .map(|row| row.iter().map(table_cell).collect())
        .collect();
    let widths = column_widths(result, &cells);
    let right: Vec<bool> = result
        .columns
        .iter()
        .map(|(_, t)| matches!(t, ColumnType::Int64 | ColumnType::Float64))
        .collect();
    let header: Vec<String> = result.columns.iter().map(|(n, _)| n.clone()).collect();
    write_line(out, &header, &widths, &vec![false; widths.len()])?;
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    writeln!(out, "{}", rule.join("-+-"))?;
    for row in &cells {
        write_line(out, row, &widths, &right)?;
    }
    let n = cells.len();
    writeln!(out, "({n} row{})", if n == 1 { "" } else { "s" })
}

/// Display width of each column: the widest of its header and cells, in characters.
fn column_widths(result: &QueryResult, cells: &[Vec<String>]) -> Vec<usize> {
    result
        .columns
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            cells
                .iter()
                .filter_map(|row| row.get(i))
                .map(|c| width(c))
                .chain(std::iter::once(width(name)))
                .max()
                .unwrap_or(0)
        })
        .collect()
}

fn width(text: &str) -> usize {
    text.chars().count()
}

fn write_line(
    out: &mut dyn Write,
    cells: &[String],
    widths: &[usize],
    right: &[bool],
) -> io::Result<()> {
    let padded: Vec<String> = cells
        .iter()
        .zip(widths)
        .zip(right)
        .map(|((cell, &w), &r)| {
            // Newlines and tabs would break the alignment of every later column.
            let cell = cell.replace(['\n', '\r', '\t'], " ");
            if r {
                format!("{cell:>w$}")
            } else {
                format!("{cell:<w$}")
            }
        })
        .collect();
    writeln!(out, "{}", padded.join(" | ").trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;
    use profiledb::Value;

    #[test]
    fn aligns_and_counts() {
        let result = QueryResult {
            columns: vec![
                ("name".into(), ColumnType::String),
                ("n".into(), ColumnType::Int64),
            ],
            rows: vec![
                vec![Value::String("alice".into()), Value::Int64(7)],
                vec![Value::Null, Value::Int64(1234)],
            ],
        };
        let mut out = Vec::new();
        write_table(&mut out, &result).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "name  | n\n------+-----\nalice |    7\nNULL  | 1234\n(2 rows)\n"
        );
    }
}
