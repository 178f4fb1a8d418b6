//! Errors of the lab: what failed, on which router, namespace or file, and what to do next.

use std::path::PathBuf;

use crate::config::ConfigErrors;

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("cannot read the cluster file {path}: {source}")]
    ClusterRead {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("invalid cluster file {path}: {message}")]
    ClusterSyntax { path: PathBuf, message: String },

    #[error("invalid cluster {path}: {message}")]
    Cluster { path: PathBuf, message: String },

    #[error(
        "invalid configuration of router {router} (lines after {original_lines} come from the cluster file's `extra`):\n{errors}"
    )]
    RouterConfig {
        router: String,
        original_lines: usize,
        errors: ConfigErrors,
    },

    #[error("`{command}` failed: {message}")]
    Command { command: String, message: String },

    #[error("{0}")]
    Io(#[from] std::io::Error),

    #[error(
        "namespace {name} already exists and is not part of this lab; delete it or choose another --prefix"
    )]
    ForeignNamespace { name: String },

    #[error(
        "a lab is already up in {state_dir}; run `hna-lab down` with the same --cluster and --prefix first"
    )]
    AlreadyUp { state_dir: PathBuf },

    #[error("no lab is up for this cluster and prefix (no state file {path})")]
    NotUp { path: PathBuf },

    #[error("invalid state file {path}: {message}")]
    State { path: PathBuf, message: String },

    #[error("{backend} on {router} failed to start: {message}")]
    Start {
        router: String,
        backend: &'static str,
        message: String,
    },

    #[error("querying `{query}` on {router} failed: {message}")]
    Query {
        router: String,
        query: String,
        message: String,
    },

    #[error("timed out after {seconds:.1} s waiting for {what}")]
    Timeout { what: String, seconds: f64 },

    #[error("{0}")]
    Usage(String),
}

impl LabError {
    pub(crate) fn command(command: impl Into<String>, message: impl Into<String>) -> LabError {
        LabError::Command {
            command: command.into(),
            message: message.into(),
        }
    }
}
