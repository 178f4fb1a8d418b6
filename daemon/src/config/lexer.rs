//! Splits a path-style configuration file into statements of words with their positions.
//!
//! A statement is one line that starts with `/` (the root of the tree) followed by words
//! separated by blanks; a word with blanks is written in double quotes, in which `\"` and `\\`
//! stand for a quote and a backslash. Lines starting with `#` are comments. Any other non-empty
//! line is a command to the configuration shell (such as `load startup`) and is kept as a
//! statement whose first word is not `/`.

use super::error::{ConfigError, Position};

/// One word of a statement and where it starts (1-based line and column, in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub position: Position,
}

/// One non-comment line, split into words. For a tree statement, `words` excludes the `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub line: usize,
    pub rooted: bool,
    pub words: Vec<Word>,
    /// The line as written, for out-of-scope listings and error context.
    pub text: String,
}

/// Splits `text` into statements. Errors (an unterminated quote) are returned together, one
/// per line, so the caller can report them all at once.
pub fn split_statements(text: &str) -> (Vec<Statement>, Vec<ConfigError>) {
    let mut statements = Vec::new();
    let mut errors = Vec::new();

    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match split_words(line, line_number) {
            Ok(mut words) => {
                let rooted = words.first().is_some_and(|word| word.text == "/");
                if rooted {
                    words.remove(0);
                }
                statements.push(Statement {
                    line: line_number,
                    rooted,
                    words,
                    text: trimmed.to_string(),
                });
            }
            Err(error) => errors.push(error),
        }
    }
    (statements, errors)
}

fn split_words(line: &str, line_number: usize) -> Result<Vec<Word>, ConfigError> {
    let mut words = Vec::new();
    let mut chars = line.chars().enumerate().peekable();

    while let Some(&(start, first)) = chars.peek() {
        if first.is_whitespace() {
            chars.next();
            continue;
        }
        let position = Position {
            line: line_number,
            column: start + 1,
        };
        let mut text = String::new();
        if first == '"' {
            chars.next();
            let mut closed = false;
            while let Some((_, c)) = chars.next() {
                match c {
                    '"' => {
                        closed = true;
                        break;
                    }
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            text.push(escaped);
                        }
                    }
                    _ => text.push(c),
                }
            }
            if !closed {
                return Err(ConfigError::new(
                    position,
                    "unterminated quoted string",
                    "a closing `\"`",
                ));
            }
        } else {
            while let Some(&(_, c)) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                text.push(c);
                chars.next();
            }
        }
        words.push(Word { text, position });
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_words_have_columns() {
        let (statements, errors) = split_statements("# c\n/ vrf main  mtu 1600\n");
        assert!(errors.is_empty());
        assert_eq!(statements.len(), 1);
        let statement = &statements[0];
        assert!(statement.rooted);
        assert_eq!(statement.line, 2);
        let texts: Vec<_> = statement.words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["vrf", "main", "mtu", "1600"]);
        assert_eq!(statement.words[2].position.column, 13);
    }

    #[test]
    fn quoted_word_keeps_blanks_and_escapes() {
        let (statements, errors) = split_statements(r#"/ x description "a \"b\" c""#);
        assert!(errors.is_empty());
        assert_eq!(statements[0].words[2].text, r#"a "b" c"#);
    }

    #[test]
    fn unterminated_quote_is_an_error_with_position() {
        let (_, errors) = split_statements("/ x description \"open");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].position.column, 17);
    }

    #[test]
    fn shell_command_is_not_rooted() {
        let (statements, _) = split_statements("load startup\n");
        assert!(!statements[0].rooted);
        assert_eq!(statements[0].words[0].text, "load");
    }
}
