//! Configuration errors that name the file, line and column, the problem and the expected form.

use std::fmt;
use std::path::PathBuf;

/// A 1-based line and column (in characters) in a configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// One problem in a configuration: where, what, and the form that was expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub position: Position,
    pub problem: String,
    pub expected: String,
}

impl ConfigError {
    pub fn new(
        position: Position,
        problem: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        ConfigError {
            position,
            problem: problem.into(),
            expected: expected.into(),
        }
    }
}

/// Every problem found in one file; a configuration with any of them is not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    pub file: PathBuf,
    pub errors: Vec<ConfigError>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.errors.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            // Line 0 marks an error about the whole file (missing, unreadable), which has no
            // position to point at.
            if error.position.line == 0 {
                write!(f, "{}: ", self.file.display())?;
            } else {
                write!(
                    f,
                    "{}:{}:{}: ",
                    self.file.display(),
                    error.position.line,
                    error.position.column
                )?;
            }
            write!(f, "{}; expected {}", error.problem, error.expected)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}
