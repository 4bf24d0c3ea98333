//! SQL `LIKE` matching: `%` is any sequence, `_` any one character, `\` escapes the next one.

/// Whether `text` matches the LIKE `pattern` (`\` escape), optionally case-insensitively.
#[must_use]
pub fn like_match(pattern: &str, text: &str, case_insensitive: bool) -> bool {
    let (pattern, text) = if case_insensitive {
        (pattern.to_lowercase(), text.to_lowercase())
    } else {
        (pattern.to_owned(), text.to_owned())
    };
    let tokens = tokenize(&pattern);
    let chars: Vec<char> = text.chars().collect();
    matches_from(&tokens, &chars)
}

/// Whether a LIKE pattern is well formed (does not end with a lone escape character).
#[must_use]
pub fn like_pattern_is_valid(pattern: &str) -> bool {
    let mut escaped = false;
    for c in pattern.chars() {
        escaped = !escaped && c == '\\';
    }
    !escaped
}

/// Rewrites a pattern written with a custom `ESCAPE` character into the `\` convention.
#[must_use]
pub fn normalize_escape(pattern: &str, escape: Option<char>) -> String {
    let Some(esc) = escape else {
        return pattern.to_owned();
    };
    if esc == '\\' {
        return pattern.to_owned();
    }
    let mut out = String::with_capacity(pattern.len());
    let mut escaping = false;
    for c in pattern.chars() {
        if escaping {
            out.push('\\');
            out.push(c);
            escaping = false;
        } else if c == esc {
            escaping = true;
        } else if c == '\\' {
            // A backslash is literal under a custom escape character.
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
    }
    if escaping {
        out.push('\\');
    }
    out
}

/// One element of a compiled pattern.
#[derive(Debug, PartialEq)]
enum Token {
    /// `%`
    AnySeq,
    /// `_`
    AnyOne,
    /// A literal character.
    Lit(char),
}

fn tokenize(pattern: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        out.push(match c {
            '%' => Token::AnySeq,
            '_' => Token::AnyOne,
            '\\' => Token::Lit(chars.next().unwrap_or('\\')),
            other => Token::Lit(other),
        });
    }
    out
}

/// Iterative wildcard matching with single backtrack point (linear-ish, no recursion blow-up).
fn matches_from(tokens: &[Token], text: &[char]) -> bool {
    let (mut t, mut s) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while s < text.len() {
        match tokens.get(t) {
            Some(Token::AnySeq) => {
                star = Some((t, s));
                t += 1;
            }
            Some(Token::AnyOne) => {
                t += 1;
                s += 1;
            }
            Some(Token::Lit(c)) if *c == text[s] => {
                t += 1;
                s += 1;
            }
            _ => match star {
                Some((st, ss)) => {
                    t = st + 1;
                    s = ss + 1;
                    star = Some((st, ss + 1));
                }
                None => return false,
            },
        }
    }
    tokens[t.min(tokens.len())..]
        .iter()
        .all(|tok| *tok == Token::AnySeq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_and_escapes() {
        assert!(like_match("a%", "abc", false));
        assert!(like_match("%b%", "abc", false));
        assert!(like_match("a_c", "abc", false));
        assert!(!like_match("a_c", "abbc", false));
        assert!(like_match("100\\%", "100%", false));
        assert!(!like_match("100\\%", "1000", false));
        assert!(like_match("%", "", false));
        assert!(!like_match("_", "", false));
        assert!(like_match("É%", "élan", true));
        assert!(like_match("%a%b%c", "xxaxxbxxc", false));
        assert!(!like_match("%a%b%c", "xxaxxbxxcd", false));
    }

    #[test]
    fn custom_escape_is_normalized() {
        assert_eq!(normalize_escape("a!%b", Some('!')), "a\\%b");
        assert_eq!(normalize_escape("a\\b", Some('!')), "a\\\\b");
        assert!(!like_pattern_is_valid("abc\\"));
        assert!(like_pattern_is_valid("abc\\\\"));
    }
}
