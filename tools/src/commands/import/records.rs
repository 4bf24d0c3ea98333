//! CSV records (RFC 4180) with the line they start on and their text as read, so that a
//! rejected row can be reported and written out verbatim.

use std::io::{self, BufRead};

/// One CSV record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    /// 1-based line of the input where the record starts.
    pub line: u64,
    /// The record's text, without its line break (several lines for quoted line breaks).
    pub text: String,
    /// The parsed fields, or why the text is not a valid record.
    pub fields: Result<Vec<String>, String>,
}

/// Reads records from a CSV text; blank lines are skipped.
pub(crate) struct RecordReader<R> {
    input: R,
    next_line: u64,
    buffer: Vec<u8>,
}

impl<R: BufRead> RecordReader<R> {
    pub(crate) fn new(input: R) -> Self {
        RecordReader {
            input,
            next_line: 1,
            buffer: Vec::new(),
        }
    }

    /// The next record, `None` at the end of the input.
    ///
    /// # Errors
    /// I/O errors of the input (a damaged gzip stream included).
    pub(crate) fn next_record(&mut self) -> io::Result<Option<Record>> {
        loop {
            let line = self.next_line;
            self.buffer.clear();
            let mut lines = 0;
            loop {
                let read = self.input.read_until(b'\n', &mut self.buffer)?;
                if read == 0 {
                    break;
                }
                lines += 1;
                // A record goes on while a quoted field is open (an odd number of quotes).
                if bytecount_quotes(&self.buffer).is_multiple_of(2) {
                    break;
                }
            }
            if lines == 0 {
                return Ok(None);
            }
            self.next_line += lines;
            let text = decode(&self.buffer, line == 1);
            let Ok(text) = text else {
                let lossy = String::from_utf8_lossy(&self.buffer);
                return Ok(Some(Record {
                    line,
                    text: trim_newline(&lossy).to_owned(),
                    fields: Err("the row is not valid UTF-8".to_owned()),
                }));
            };
            let text = trim_newline(&text);
            if text.trim().is_empty() {
                continue;
            }
            return Ok(Some(Record {
                line,
                text: text.to_owned(),
                fields: parse_fields(text),
            }));
        }
    }
}

fn bytecount_quotes(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'"').count()
}

/// UTF-8 text of a record; the first line loses a byte-order mark.
fn decode(bytes: &[u8], first: bool) -> Result<String, std::str::Utf8Error> {
    let bytes = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) if first => rest,
        _ => bytes,
    };
    std::str::from_utf8(bytes).map(str::to_owned)
}

fn trim_newline(text: &str) -> &str {
    let text = text.strip_suffix('\n').unwrap_or(text);
    text.strip_suffix('\r').unwrap_or(text)
}

/// Splits one record into fields: `,` separates, `"…"` quotes (with `""` for a quote).
pub(crate) fn parse_fields(text: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("a quoted field is not closed".to_owned()),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(c) => {
                    return Err(format!(
                        "unexpected `{c}` after the closing quote of field {}",
                        fields.len() + 1
                    ))
                }
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_quotes_and_empties() {
        assert_eq!(
            parse_fields("a,,\"b,c\",\"d\"\"e\"").unwrap(),
            ["a", "", "b,c", "d\"e"]
        );
        assert_eq!(parse_fields("").unwrap(), [""]);
        assert_eq!(parse_fields("x,").unwrap(), ["x", ""]);
        assert!(parse_fields("\"a\"b").is_err());
    }

    #[test]
    fn records_span_quoted_line_breaks_and_keep_line_numbers() {
        let text = "\u{feff}h1,h2\r\n1,\"two\nlines\"\n\n3,4\n\"open\n";
        let mut reader = RecordReader::new(text.as_bytes());
        let mut got = Vec::new();
        while let Some(record) = reader.next_record().unwrap() {
            got.push((record.line, record.text, record.fields.is_ok()));
        }
        assert_eq!(
            got,
            [
                (1, "h1,h2".to_owned(), true),
                (2, "1,\"two\nlines\"".to_owned(), true),
                (5, "3,4".to_owned(), true),
                (6, "\"open".to_owned(), false),
            ]
        );
    }
}
