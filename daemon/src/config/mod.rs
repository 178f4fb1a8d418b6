//! The configuration: the path-style CLI format of the fabric (`/ vrf main routing bgp ...`),
//! read as a tree into the typed [`Config`], validated as a whole, summarised, and written back.

mod cursor;
mod error;
mod lexer;
mod model;
mod parser;
mod render;
mod summary;
mod validate;

use std::path::Path;

pub use error::{ConfigError, ConfigErrors, Position};
pub use model::*;
pub use render::render;
pub use summary::Summary;

/// Parses a whole configuration file's text. `file` only names the file in errors.
///
/// Every problem is reported, each with its line and column; a configuration with any problem
/// is rejected as a whole.
pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigErrors> {
    let (statements, mut errors) = lexer::split_statements(text);
    let mut config = Config::default();
    let mut parser = parser::Parser::new(&mut config);
    for statement in &statements {
        if let Err(error) = parser.apply(statement) {
            errors.push(error);
        }
    }
    let references = std::mem::take(&mut parser.references);
    let origins = std::mem::take(&mut parser.origins);
    if errors.is_empty() {
        errors.extend(validate::validate(&config, &references, &origins));
    }
    if errors.is_empty() {
        return Ok(config);
    }
    errors.sort_by_key(|error| error.position);
    Err(ConfigErrors {
        file: file.to_path_buf(),
        errors,
    })
}

/// Reads and parses a configuration file.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigErrors {
        file: path.to_path_buf(),
        errors: vec![ConfigError::new(
            Position::default(),
            format!("cannot read the file: {error}"),
            "a readable text file",
        )],
    })?;
    parse(&text, path)
}
