//! Running external commands (`ip`, `bridge`, `vtysh`, ...) with errors that show what failed.

use std::process::{Command, Output};

/// Runs `program` with `args` and returns its output, whatever its exit status.
///
/// Panics only when the program cannot be started at all (not installed).
pub fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("cannot start `{program}`: {error}"))
}

/// Runs `program` with `args`, panics with its stderr unless it exits with 0, and returns stdout.
pub fn run_ok(program: &str, args: &[&str]) -> String {
    let output = run(program, args);
    assert!(
        output.status.success(),
        "`{program} {}` failed ({}): {}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs a bash script, panics with its stderr unless it exits with 0, and returns stdout.
pub fn sh(script: &str) -> String {
    run_ok("bash", &["-euo", "pipefail", "-c", script])
}
