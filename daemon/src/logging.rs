//! Log output: tracing to stderr, as text or JSON, filtered by `--log-level` or `RUST_LOG`.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `RUST_LOG`, when set, overrides `level` (for example
/// `RUST_LOG=hna_bgp=debug,info`).
pub fn init(level: &str, json: bool) -> Result<(), String> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => EnvFilter::try_new(&directives)
            .map_err(|error| format!("invalid RUST_LOG `{directives}`: {error}"))?,
        _ => EnvFilter::try_new(level)
            .map_err(|error| format!("invalid log level `{level}`: {error}"))?,
    };
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let result = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    result.map_err(|error| format!("cannot install the logger: {error}"))
}

/// Restores the default action of SIGPIPE, which the Rust runtime ignores. A command whose
/// output goes to a reader that exits early (`| head`) then ends quietly, as other command-line
/// tools do, instead of panicking in `println!`. Only commands that print call it. The daemon
/// keeps SIGPIPE ignored so that a peer closing a socket cannot kill it.
pub fn restore_sigpipe() {
    // SAFETY: setting a signal's disposition to SIG_DFL installs no handler and touches no memory.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
