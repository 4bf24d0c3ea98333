//! Splitting SQL text into statements at `;`, skipping quotes and comments.

/// One statement and where it starts in the text it was cut from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Piece {
    /// The statement's text, without the `;`.
    pub text: String,
    /// 1-based line of its first character (relative to the text split).
    pub line: u64,
    /// 1-based column of its first character.
    pub column: u64,
}

/// The statements of a text: those ended by `;`, and what follows the last `;`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Split {
    /// Statements terminated by `;` (empty ones dropped).
    pub complete: Vec<Piece>,
    /// Trailing text with content that no `;` has ended yet.
    pub rest: Option<Piece>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Normal,
    SingleQuote,
    DoubleQuote,
    LineComment,
    BlockComment,
}

/// Scanner position and the statement being collected.
struct Scanner<'t> {
    text: &'t str,
    state: State,
    line: u64,
    column: u64,
    start: usize,
    start_at: (u64, u64),
    has_content: bool,
}

impl<'t> Scanner<'t> {
    fn piece(&self, end: usize) -> Piece {
        Piece {
            text: self.text[self.start..end].to_owned(),
            line: self.start_at.0,
            column: self.start_at.1,
        }
    }

    fn advance(&mut self, c: char) {
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
    }
}

/// Splits `text` into statements (`;` inside quotes or comments does not count).
pub(crate) fn split(text: &str) -> Split {
    let mut s = Scanner {
        text,
        state: State::Normal,
        line: 1,
        column: 1,
        start: 0,
        start_at: (1, 1),
        has_content: false,
    };
    let mut out = Split::default();
    let mut chars = text.char_indices().peekable();
    while let Some((index, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        let mut consume_next = false;
        match (s.state, c) {
            (State::Normal, ';') => {
                if s.has_content {
                    out.complete.push(s.piece(index));
                }
                s.start = index + 1;
                s.start_at = (s.line, s.column + 1);
                s.has_content = false;
            }
            (State::Normal, '\'') => (s.state, s.has_content) = (State::SingleQuote, true),
            (State::Normal, '"') => (s.state, s.has_content) = (State::DoubleQuote, true),
            (State::Normal, '-') if next == Some('-') => {
                (s.state, consume_next) = (State::LineComment, true);
            }
            (State::Normal, '/') if next == Some('*') => {
                (s.state, consume_next) = (State::BlockComment, true);
            }
            (State::Normal, c) if !c.is_whitespace() => s.has_content = true,
            (State::SingleQuote, '\'') | (State::DoubleQuote, '"') | (State::LineComment, '\n') => {
                s.state = State::Normal;
            }
            (State::BlockComment, '*') if next == Some('/') => {
                (s.state, consume_next) = (State::Normal, true);
            }
            _ => {}
        }
        s.advance(c);
        if consume_next {
            if let Some((_, n)) = chars.next() {
                s.advance(n);
            }
        }
    }
    if s.has_content {
        out.rest = Some(s.piece(text.len()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(split: &Split) -> Vec<&str> {
        split.complete.iter().map(|p| p.text.trim()).collect()
    }

    #[test]
    fn splits_at_semicolons_outside_quotes_and_comments() {
        let s = split("SELECT ';'; -- a;b\nSELECT \"x;y\" /* ; */ FROM t;\n;  SELECT 3");
        assert_eq!(
            texts(&s),
            ["SELECT ';'", "-- a;b\nSELECT \"x;y\" /* ; */ FROM t"]
        );
        let rest = s.rest.unwrap();
        assert_eq!(rest.text.trim(), "SELECT 3");
        assert_eq!((rest.line, rest.column), (3, 2));
    }

    #[test]
    fn positions_of_statements() {
        let s = split("SELECT 1; SELECT 2;\nSELECT 3;");
        let at: Vec<_> = s.complete.iter().map(|p| (p.line, p.column)).collect();
        assert_eq!(at, [(1, 1), (1, 10), (1, 20)]);
        assert!(s.rest.is_none());
    }

    #[test]
    fn comments_alone_are_no_statement() {
        let s = split("-- nothing here\n/* nor ; here */");
        assert!(s.complete.is_empty() && s.rest.is_none());
        assert!(split("'unterminated;").rest.is_some());
    }
}
