//! Network namespaces with a cleanup guard, and veth links between them.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::Output;
use std::thread::JoinHandle;

use crate::cmd::{run, run_ok};
use crate::{require_root, unique_name};

/// A network namespace that exists as long as this value does.
///
/// `Drop` kills every process still running inside the namespace (daemons a test forgot, or left
/// behind by a panic) and deletes the namespace, which also deletes its interfaces and the far
/// ends of its veth pairs.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates the namespace `TAG-PID` with its loopback up.
    pub fn new(tag: &str) -> Netns {
        require_root();
        let name = unique_name(tag);
        // A namespace of this name can only be left over by a killed run with the same pid.
        let _ = run("ip", &["netns", "del", &name]);
        run_ok("ip", &["netns", "add", &name]);
        let netns = Netns { name };
        netns.ip(&["link", "set", "lo", "up"]);
        netns
    }

    /// The namespace's name, as `ip netns` shows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NAME ARGS...`, panics on failure, and returns stdout.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        run_ok("ip", &full)
    }

    /// Runs `ip -j -n NAME ARGS...` and returns the parsed JSON (an empty array for no output).
    pub fn ip_json(&self, args: &[&str]) -> serde_json::Value {
        let mut full = vec!["-j", "-n", self.name.as_str()];
        full.extend_from_slice(args);
        parse_json_output(&run_ok("ip", &full))
    }

    /// Runs `bridge -j -n NAME ARGS...` and returns the parsed JSON.
    pub fn bridge_json(&self, args: &[&str]) -> serde_json::Value {
        let mut full = vec!["-j", "-n", self.name.as_str()];
        full.extend_from_slice(args);
        parse_json_output(&run_ok("bridge", &full))
    }

    /// Runs `program ARGS...` inside the namespace and returns its output, whatever its status.
    pub fn exec(&self, program: &str, args: &[&str]) -> Output {
        let mut full = vec!["netns", "exec", self.name.as_str(), program];
        full.extend_from_slice(args);
        run("ip", &full)
    }

    /// Runs `program ARGS...` inside the namespace, panics on failure, and returns stdout.
    pub fn exec_ok(&self, program: &str, args: &[&str]) -> String {
        let mut full = vec!["netns", "exec", self.name.as_str(), program];
        full.extend_from_slice(args);
        run_ok("ip", &full)
    }

    /// Runs a bash script inside the namespace, panics on failure, and returns stdout.
    pub fn sh(&self, script: &str) -> String {
        self.exec_ok("bash", &["-euo", "pipefail", "-c", script])
    }

    /// Sets a sysctl inside the namespace, for example `net.ipv4.ip_forward=1`.
    pub fn sysctl(&self, setting: &str) {
        self.exec_ok("sysctl", &["-qw", setting]);
    }

    /// Returns true when `ping -c 1 -W timeout_s destination` succeeds from this namespace.
    pub fn ping(&self, destination: &str, timeout_s: u32) -> bool {
        let timeout = timeout_s.to_string();
        self.exec(
            "ping",
            &["-n", "-q", "-c", "1", "-W", &timeout, destination],
        )
        .status
        .success()
    }

    /// Moves the calling thread into this namespace.
    ///
    /// Sockets (including netlink sockets) the thread opens afterwards belong to the namespace.
    /// Only this thread moves; the rest of the process stays where it was.
    pub fn enter_current_thread(&self) -> std::io::Result<()> {
        let file = File::open(format!("/run/netns/{}", self.name))?;
        // SAFETY: the descriptor is valid for the duration of the call, and CLONE_NEWNET only
        // changes the calling thread's network namespace.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }

    /// Runs `work` on a new thread inside this namespace and returns its handle.
    ///
    /// Typical use is to build a tokio runtime in `work` and run one of our protocol instances
    /// there, so that it binds its sockets inside the namespace.
    pub fn spawn<F, T>(&self, work: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let name = self.name.clone();
        let netns = Netns {
            name: self.name.clone(),
        };
        std::thread::Builder::new()
            .name(format!("netns-{name}"))
            .spawn(move || {
                netns
                    .enter_current_thread()
                    .unwrap_or_else(|error| panic!("cannot enter namespace {name}: {error}"));
                // This copy must not delete the namespace when the thread ends.
                std::mem::forget(netns);
                work()
            })
            .expect("spawn thread")
    }

    /// Returns the ids of the processes running inside the namespace.
    pub fn pids(&self) -> Vec<i32> {
        let output = run("ip", &["netns", "pids", &self.name]);
        String::from_utf8_lossy(&output.stdout)
            .split_whitespace()
            .filter_map(|pid| pid.parse().ok())
            .collect()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let own_pid = std::process::id() as i32;
        for pid in self.pids() {
            if pid != own_pid {
                // SAFETY: sending a signal has no memory-safety preconditions.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        let output = run("ip", &["netns", "del", &self.name]);
        if !output.status.success() && !std::thread::panicking() {
            eprintln!(
                "warning: cannot delete namespace {}: {}",
                self.name,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
    }
}

/// Creates a veth pair `a_if` in `a` and `b_if` in `b`, both up, with the given MTU.
pub fn veth(a: &Netns, a_if: &str, b: &Netns, b_if: &str, mtu: u32) {
    let mtu = mtu.to_string();
    a.ip(&[
        "link",
        "add",
        a_if,
        "mtu",
        &mtu,
        "type",
        "veth",
        "peer",
        "name",
        b_if,
        "mtu",
        &mtu,
        "netns",
        b.name(),
    ]);
    a.ip(&["link", "set", a_if, "up"]);
    b.ip(&["link", "set", b_if, "up"]);
}

fn parse_json_output(text: &str) -> serde_json::Value {
    if text.trim().is_empty() {
        return serde_json::Value::Array(Vec::new());
    }
    serde_json::from_str(text).unwrap_or_else(|error| panic!("invalid JSON ({error}): {text}"))
}
