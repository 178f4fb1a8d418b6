//! Processes the lab started, recorded so that `down` stops exactly those and nothing else.
//!
//! A process is named by its pid and its start time (field 22 of `/proc/PID/stat`, clock ticks
//! since boot), so a pid that the kernel has since given to another program is never signalled.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// How often a stop polls whether the processes are gone.
const STOP_POLL: Duration = Duration::from_millis(20);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRecord {
    pub router: String,
    /// The program, such as `zebra` or `hna-routed`.
    pub program: String,
    pub pid: i32,
    pub start_time: u64,
}

impl ProcessRecord {
    /// Records a running process; `None` when it is already gone.
    pub fn new(router: &str, program: &str, pid: i32) -> Option<ProcessRecord> {
        let (_, start_time) = stat(pid)?;
        Some(ProcessRecord {
            router: router.to_string(),
            program: program.to_string(),
            pid,
            start_time,
        })
    }

    /// Returns whether the recorded process still runs (a zombie does not).
    pub fn is_alive(&self) -> bool {
        matches!(stat(self.pid), Some((state, start_time)) if start_time == self.start_time && state != 'Z')
    }

    fn signal(&self, signal: i32) {
        if self.is_alive() {
            // SAFETY: kill has no memory-safety preconditions; the start time check above makes
            // sure the pid still names the recorded process.
            unsafe { libc::kill(self.pid, signal) };
        }
    }

    pub fn terminate(&self) {
        self.signal(libc::SIGTERM);
    }
}

/// Reads the state letter and start time of `pid` from `/proc/PID/stat`.
fn stat(pid: i32) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain blanks; fields after it do not.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state); the start time is field 22.
    let state = fields.first()?.chars().next()?;
    let start_time = fields.get(19)?.parse().ok()?;
    Some((state, start_time))
}

/// Sends SIGTERM to every process, waits up to `grace` for them to exit, then sends SIGKILL to
/// those left. Returns the records that needed SIGKILL.
pub fn stop_all(processes: &[ProcessRecord], grace: Duration) -> Vec<ProcessRecord> {
    for process in processes {
        process.terminate();
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && processes.iter().any(ProcessRecord::is_alive) {
        std::thread::sleep(STOP_POLL);
    }
    let mut killed = Vec::new();
    for process in processes.iter().filter(|process| process.is_alive()) {
        process.signal(libc::SIGKILL);
        killed.push(process.clone());
    }
    // The kernel frees a killed process quickly, but not synchronously.
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline && killed.iter().any(ProcessRecord::is_alive) {
        std::thread::sleep(STOP_POLL);
    }
    killed
}

/// Waits until the process exits; returns false when it still runs at the deadline.
pub fn wait_exit(process: &ProcessRecord, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while process.is_alive() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(STOP_POLL);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_of_own_process_is_alive() {
        let record =
            ProcessRecord::new("test", "self", std::process::id() as i32).expect("own process");
        assert!(record.is_alive());
        let other = ProcessRecord {
            start_time: record.start_time + 1,
            ..record
        };
        assert!(
            !other.is_alive(),
            "a different start time is another process"
        );
    }

    #[test]
    fn stop_all_terminates_child() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep");
        let record = ProcessRecord::new("test", "sleep", child.id() as i32).expect("child runs");
        let killed = stop_all(std::slice::from_ref(&record), Duration::from_secs(5));
        let _ = child.wait();
        assert!(killed.is_empty(), "sleep exits on SIGTERM");
        assert!(!record.is_alive());
    }
}
