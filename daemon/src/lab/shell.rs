//! Running `ip`, `bridge`, `sysctl` and friends, and code inside a named network namespace.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use nix::sched::{CloneFlags, setns};

use super::error::LabError;

/// Directory of the namespaces that `ip netns` names.
pub const NETNS_DIR: &str = "/run/netns";

/// Runs `program args` and returns its output whatever its status; an error only when it cannot
/// start.
pub fn output(program: &str, args: &[&str]) -> Result<Output, LabError> {
    Command::new(program).args(args).output().map_err(|error| {
        LabError::command(
            describe(program, args),
            format!("cannot start {program}: {error}"),
        )
    })
}

/// Runs `program args` and returns its stdout, or an error with its stderr.
pub fn run(program: &str, args: &[&str]) -> Result<String, LabError> {
    let result = output(program, args)?;
    if !result.status.success() {
        let stderr = String::from_utf8_lossy(&result.stderr);
        return Err(LabError::command(
            describe(program, args),
            format!("{} ({})", stderr.trim(), result.status),
        ));
    }
    Ok(String::from_utf8_lossy(&result.stdout).into_owned())
}

pub fn describe(program: &str, args: &[&str]) -> String {
    let mut text = program.to_string();
    for arg in args {
        text.push(' ');
        text.push_str(arg);
    }
    text
}

/// `ip -n NAMESPACE args...`
pub fn ip(namespace: &str, args: &[&str]) -> Result<String, LabError> {
    let mut full = vec!["-n", namespace];
    full.extend_from_slice(args);
    run("ip", &full)
}

/// `ip -j -n NAMESPACE args...`, parsed; an empty output is an empty array.
pub fn ip_json(namespace: &str, args: &[&str]) -> Result<serde_json::Value, LabError> {
    let mut full = vec!["-j", "-n", namespace];
    full.extend_from_slice(args);
    let text = run("ip", &full)?;
    if text.trim().is_empty() {
        return Ok(serde_json::Value::Array(Vec::new()));
    }
    serde_json::from_str(&text)
        .map_err(|error| LabError::command(describe("ip", &full), format!("invalid JSON: {error}")))
}

/// `bridge -n NAMESPACE args...`
pub fn bridge(namespace: &str, args: &[&str]) -> Result<String, LabError> {
    let mut full = vec!["-n", namespace];
    full.extend_from_slice(args);
    run("bridge", &full)
}

/// `ip netns exec NAMESPACE program args...`
pub fn netns_exec(namespace: &str, program: &str, args: &[&str]) -> Result<String, LabError> {
    let mut full = vec!["netns", "exec", namespace, program];
    full.extend_from_slice(args);
    run("ip", &full)
}

/// Sets sysctls (`key=value`) inside a namespace.
pub fn sysctl(namespace: &str, settings: &[&str]) -> Result<(), LabError> {
    let mut args = vec!["-qw"];
    args.extend_from_slice(settings);
    netns_exec(namespace, "sysctl", &args).map(|_| ())
}

pub fn netns_path(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

pub fn netns_exists(name: &str) -> bool {
    netns_path(name).exists()
}

/// Runs `work` on a thread that has entered the namespace `name`, and returns its result.
///
/// Files under `/proc/thread-self/net` read on that thread describe the namespace.
pub fn in_netns<T: Send>(name: &str, work: impl FnOnce() -> T + Send) -> Result<T, LabError> {
    let file = File::open(netns_path(name)).map_err(|error| {
        LabError::command(
            format!("open {}", netns_path(name).display()),
            error.to_string(),
        )
    })?;
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                setns(&file, CloneFlags::CLONE_NEWNET).map_err(|error| {
                    LabError::command(format!("setns {name}"), error.to_string())
                })?;
                Ok(work())
            })
            .join()
            .map_err(|_| LabError::command(format!("thread in namespace {name}"), "panicked"))?
    })
}

/// Finds `program` next to the running executable (a cargo build puts every binary of the
/// workspace in one directory), then on the PATH.
pub fn find_program(program: &str) -> Option<PathBuf> {
    let sibling = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(program)));
    if let Some(path) = sibling.filter(|path| path.is_file()) {
        return Some(path);
    }
    // Test binaries live one level down, in target/<profile>/deps.
    let parent = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(|dir| dir.join(program)));
    if let Some(path) = parent.filter(|path| path.is_file()) {
        return Some(path);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|path| path.is_file())
    })
}

/// Interval between two probes of [`poll_until`].
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Calls `probe` until it returns `Some`, or returns `None` once `timeout` has passed.
pub fn poll_until<T>(timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}
