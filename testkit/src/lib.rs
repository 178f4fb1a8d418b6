//! Test support for labs built in Linux network namespaces.
//!
//! Every namespace a test creates is named after the test and the process id, so tests can run in
//! parallel, and is removed by a guard's `Drop` even when the test panics. Peers (FRR, BIRD, GoBGP)
//! run inside those namespaces under guards that stop them the same way. Conditions are awaited
//! with a deadline ([`wait_until`]), never with fixed sleeps.
//!
//! These helpers need root. [`require_root`] fails the test with a clear message when run
//! without it, rather than letting the test pass without having checked anything.

mod cmd;
mod daemons;
mod netns;
mod wait;

pub use cmd::{run, run_ok, sh};
pub use daemons::{Bird, Frr, Gobgp};
pub use netns::{Netns, veth};
pub use wait::{wait_until, wait_until_ok};

/// Fails the calling test unless it runs as root, which network namespaces need.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test builds network namespaces and needs root; run it as root, or run the \
         unprivileged tests alone with `cargo test --workspace --exclude hna-tests`"
    );
}

/// Fails the calling test unless `program` is on the PATH, naming the Debian package to install.
pub fn require_program(program: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
        || std::path::Path::new(program).is_file();
    assert!(
        found,
        "`{program}` not found: install the Debian package `{package}` (the CI script does)"
    );
}

/// Returns a name unique to this test process: `tag` followed by the process id.
///
/// Interface names are limited to 15 bytes by the kernel, so callers that name interfaces should
/// use short tags; namespace names have no such limit.
pub fn unique_name(tag: &str) -> String {
    format!("{tag}-{}", std::process::id())
}

/// Returns a directory for this test's files (configurations, logs, sockets), created empty,
/// world-readable so that daemons running as other users (FRR runs as `frr`) can read it.
pub fn scratch_dir(tag: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;

    let dir = std::env::temp_dir()
        .join("hna-tests")
        .join(unique_name(tag));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch directory");
    for path in [dir.parent().unwrap(), dir.as_path()] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777))
            .expect("make scratch directory writable for daemons");
    }
    dir
}
