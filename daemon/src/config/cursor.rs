//! A cursor over the words of one statement, whose errors name the position and the expected
//! form.

use std::str::FromStr;

use super::error::{ConfigError, Position};
use super::lexer::Word;

pub struct Cursor<'a> {
    words: &'a [Word],
    index: usize,
    /// Where a missing word would have been: just after the last word.
    end: Position,
}

impl<'a> Cursor<'a> {
    pub fn new(words: &'a [Word], line: usize, line_length: usize) -> Self {
        let end = match words.last() {
            Some(word) => Position {
                line,
                column: word.position.column + word.text.chars().count() + 1,
            },
            None => Position {
                line,
                column: line_length + 1,
            },
        };
        Cursor {
            words,
            index: 0,
            end,
        }
    }

    pub fn is_done(&self) -> bool {
        self.index >= self.words.len()
    }

    pub fn peek(&self) -> Option<&'a Word> {
        self.words.get(self.index)
    }

    /// The position of the next word, or of the end of the line.
    pub fn position(&self) -> Position {
        self.peek().map_or(self.end, |word| word.position)
    }

    /// Takes the next word, whatever it is; `expected` describes it for the error at the end of
    /// the line.
    pub fn word(&mut self, expected: &str) -> Result<&'a Word, ConfigError> {
        match self.words.get(self.index) {
            Some(word) => {
                self.index += 1;
                Ok(word)
            }
            None => Err(ConfigError::new(
                self.end,
                "incomplete statement",
                expected.to_string(),
            )),
        }
    }

    /// Takes the next word, which must be one of `choices`, and returns it.
    pub fn keyword(&mut self, choices: &[&'static str]) -> Result<&'static str, ConfigError> {
        let expected = one_of(choices);
        let word = self.word(&expected)?;
        choices
            .iter()
            .copied()
            .find(|choice| *choice == word.text)
            .ok_or_else(|| {
                ConfigError::new(
                    word.position,
                    format!("unknown word `{}`", word.text),
                    expected,
                )
            })
    }

    /// Takes the next word if it equals `keyword`.
    pub fn accept(&mut self, keyword: &str) -> bool {
        if self.peek().is_some_and(|word| word.text == keyword) {
            self.index += 1;
            true
        } else {
            false
        }
    }

    /// Takes the next word and parses it as `T`; `what` names the value and `form` its syntax.
    pub fn value<T: FromStr>(&mut self, what: &str, form: &str) -> Result<T, ConfigError> {
        let word = self.word(&format!("{what} ({form})"))?;
        word.text.parse().map_err(|_| {
            ConfigError::new(
                word.position,
                format!("invalid {what} `{}`", word.text),
                form.to_string(),
            )
        })
    }

    /// Takes an integer in `min..=max`.
    pub fn number<T>(&mut self, what: &str, min: T, max: T) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + Copy + std::fmt::Display,
    {
        let position = self.position();
        let form = format!("an integer from {min} to {max}");
        let value: T = self.value(what, &form)?;
        if value < min || value > max {
            return Err(ConfigError::new(
                position,
                format!("{what} {value} is out of range"),
                form,
            ));
        }
        Ok(value)
    }

    /// Takes `true` or `false`.
    pub fn boolean(&mut self, what: &str) -> Result<bool, ConfigError> {
        self.value(what, "`true` or `false`")
    }

    /// Takes a name (an interface, a list, a group): any word.
    pub fn name(&mut self, what: &str) -> Result<String, ConfigError> {
        Ok(self.word(what)?.text.clone())
    }

    /// Fails if words remain.
    pub fn finish(&self) -> Result<(), ConfigError> {
        match self.peek() {
            None => Ok(()),
            Some(word) => Err(ConfigError::new(
                word.position,
                format!("unexpected word `{}`", word.text),
                "the end of the statement",
            )),
        }
    }
}

/// Formats a list of keywords as "`a`, `b` or `c`".
pub fn one_of(choices: &[&str]) -> String {
    match choices {
        [] => String::from("nothing"),
        [only] => format!("`{only}`"),
        [rest @ .., last] => {
            let rest: Vec<String> = rest.iter().map(|choice| format!("`{choice}`")).collect();
            format!("one of {} or `{last}`", rest.join(", "))
        }
    }
}
