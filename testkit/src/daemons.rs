//! Guards for the reference daemons our implementation is tested against: FRR, BIRD and GoBGP,
//! each running inside one test namespace and stopped when the guard is dropped.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::cmd::{run, run_ok};
use crate::netns::Netns;
use crate::{require_program, scratch_dir, wait_until};

const FRR_DAEMON_DIR: &str = "/usr/lib/frr";
const FRR_RUN_DIR: &str = "/var/run/frr";

/// An FRR instance (zebra plus the requested daemons) running inside one namespace.
///
/// Each instance gets its own path space (`-N`, named after the namespace) so that `vtysh -N`
/// reaches it and several instances can run at once. TCP vty ports are off (`-P 0`).
#[derive(Debug)]
pub struct Frr {
    instance: String,
    dir: PathBuf,
    daemons: Vec<String>,
}

impl Frr {
    /// Writes `config` as the integrated configuration and starts zebra then `daemons`
    /// (for example `["bgpd", "bfdd"]`) inside `netns`.
    ///
    /// A log file at debugging level is added to the configuration; [`Frr::log`] reads it.
    pub fn start(netns: &Netns, daemons: &[&str], config: &str) -> Frr {
        require_program(&format!("{FRR_DAEMON_DIR}/zebra"), "frr");
        let instance = netns.name().to_string();
        let dir = scratch_dir(&format!("frr-{}", netns.name()));
        let log = dir.join("frr.log");
        let config_path = dir.join("frr.conf");
        let full_config = format!(
            "frr defaults traditional\nlog file {} debugging\nlog timestamp precision 3\n{config}\n",
            log.display()
        );
        fs::write(&config_path, full_config).expect("write FRR configuration");

        let run_dir = format!("{FRR_RUN_DIR}/{instance}");
        run_ok(
            "install",
            &["-d", "-o", "frr", "-g", "frr", "-m", "755", &run_dir],
        );

        let mut frr = Frr {
            instance,
            dir,
            daemons: Vec::new(),
        };
        for daemon in std::iter::once("zebra").chain(daemons.iter().copied()) {
            frr.start_daemon(netns, daemon, &config_path);
        }
        frr
    }

    fn start_daemon(&mut self, netns: &Netns, daemon: &str, config_path: &Path) {
        let binary = format!("{FRR_DAEMON_DIR}/{daemon}");
        let pid_file = self.pid_file(daemon);
        let config = config_path.to_string_lossy();
        let output = netns.exec(
            &binary,
            &[
                "-N",
                &self.instance,
                "-d",
                "-P",
                "0",
                "-f",
                &config,
                "-i",
                &pid_file,
            ],
        );
        assert!(
            output.status.success(),
            "cannot start FRR {daemon} in {}: {}",
            netns.name(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
        self.daemons.push(daemon.to_string());
        let socket = format!("{FRR_RUN_DIR}/{}/{daemon}.vty", self.instance);
        wait_until(
            Duration::from_secs(10),
            &format!("FRR {daemon} vty socket"),
            || Path::new(&socket).exists().then_some(()),
        );
    }

    fn pid_file(&self, daemon: &str) -> String {
        format!("{FRR_RUN_DIR}/{}/{daemon}.pid", self.instance)
    }

    /// Runs one vtysh command against this instance and returns its output.
    pub fn vtysh(&self, command: &str) -> String {
        run_ok("vtysh", &["-N", &self.instance, "-c", command])
    }

    /// Runs a vtysh command ending in `json` and returns the parsed value.
    pub fn json(&self, command: &str) -> serde_json::Value {
        let text = self.vtysh(command);
        serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("`{command}` did not return JSON ({error}): {text}"))
    }

    /// Applies configuration lines in `configure terminal` mode.
    pub fn configure(&self, lines: &[&str]) {
        let mut args = vec!["-N", self.instance.as_str(), "-c", "configure terminal"];
        for line in lines {
            args.push("-c");
            args.push(line);
        }
        run_ok("vtysh", &args);
    }

    /// Returns the instance's log so far (every daemon writes to the same file).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("frr.log")).unwrap_or_default()
    }

    /// Stops one daemon with SIGKILL, as a crash would (used by restart tests).
    pub fn kill_daemon(&mut self, daemon: &str) {
        if let Some(pid) = read_pid(&self.pid_file(daemon)) {
            // SAFETY: sending a signal has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        self.daemons.retain(|name| name != daemon);
    }

    /// Starts a daemon stopped by [`Frr::kill_daemon`] again, with the same configuration.
    pub fn restart_daemon(&mut self, netns: &Netns, daemon: &str) {
        // The killed daemon left its vty socket, which would end the wait for the new one early.
        let _ = fs::remove_file(format!("{FRR_RUN_DIR}/{}/{daemon}.vty", self.instance));
        let config_path = self.dir.join("frr.conf");
        self.start_daemon(netns, daemon, &config_path);
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        let pids: Vec<i32> = self
            .daemons
            .iter()
            .filter_map(|d| read_pid(&self.pid_file(d)))
            .collect();
        stop_processes(&pids);
        let _ = fs::remove_dir_all(format!("{FRR_RUN_DIR}/{}", self.instance));
    }
}

/// A BIRD 2 instance running inside one namespace, controlled through its own socket.
#[derive(Debug)]
pub struct Bird {
    dir: PathBuf,
    child: Child,
}

impl Bird {
    /// Writes `config` and starts `bird` in the foreground inside `netns`.
    pub fn start(netns: &Netns, config: &str) -> Bird {
        require_program("bird", "bird2");
        let dir = scratch_dir(&format!("bird-{}", netns.name()));
        let config_path = dir.join("bird.conf");
        fs::write(&config_path, config).expect("write BIRD configuration");
        let socket = dir.join("bird.ctl");
        let log = fs::File::create(dir.join("bird.stderr")).expect("create BIRD log");
        let child = Command::new("ip")
            .args(["netns", "exec", netns.name(), "bird", "-f", "-c"])
            .arg(&config_path)
            .arg("-s")
            .arg(&socket)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start bird");
        let bird = Bird { dir, child };
        wait_until(Duration::from_secs(10), "BIRD control socket", || {
            socket.exists().then_some(())
        });
        bird
    }

    /// Runs one `birdc` command and returns its output.
    pub fn birdc(&self, command: &str) -> String {
        let socket = self.dir.join("bird.ctl");
        let mut args = vec!["-s", socket.to_str().expect("UTF-8 path")];
        args.extend(command.split_whitespace());
        run_ok("birdc", &args)
    }

    /// Returns what BIRD wrote to stderr (configuration errors appear there).
    pub fn stderr(&self) -> String {
        fs::read_to_string(self.dir.join("bird.stderr")).unwrap_or_default()
    }
}

impl Drop for Bird {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A GoBGP daemon running inside one namespace; its gRPC API listens on the namespace's
/// loopback, so the `gobgp` client is run inside the same namespace.
#[derive(Debug)]
pub struct Gobgp {
    netns: String,
    dir: PathBuf,
    child: Child,
}

impl Gobgp {
    const API: &'static str = "127.0.0.1:50051";

    /// Writes `config` (TOML) and starts `gobgpd` inside `netns`.
    pub fn start(netns: &Netns, config: &str) -> Gobgp {
        require_program("gobgpd", "gobgpd");
        let dir = scratch_dir(&format!("gobgp-{}", netns.name()));
        let config_path = dir.join("gobgpd.toml");
        fs::write(&config_path, config).expect("write GoBGP configuration");
        let log = fs::File::create(dir.join("gobgpd.log")).expect("create GoBGP log");
        let child = Command::new("ip")
            .args(["netns", "exec", netns.name(), "gobgpd", "-t", "toml", "-f"])
            .arg(&config_path)
            .args(["--api-hosts", Self::API, "--log-level", "debug"])
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .spawn()
            .expect("start gobgpd");
        let gobgp = Gobgp {
            netns: netns.name().to_string(),
            dir,
            child,
        };
        wait_until(Duration::from_secs(10), "GoBGP API", || {
            gobgp.try_client(&["global"]).then_some(())
        });
        gobgp
    }

    fn try_client(&self, args: &[&str]) -> bool {
        let mut full = vec![
            "netns",
            "exec",
            self.netns.as_str(),
            "gobgp",
            "-u",
            "127.0.0.1",
            "-p",
            "50051",
        ];
        full.extend_from_slice(args);
        run("ip", &full).status.success()
    }

    /// Runs the `gobgp` client with `args` and returns its output.
    pub fn client(&self, args: &[&str]) -> String {
        let mut full = vec![
            "netns",
            "exec",
            self.netns.as_str(),
            "gobgp",
            "-u",
            "127.0.0.1",
            "-p",
            "50051",
        ];
        full.extend_from_slice(args);
        run_ok("ip", &full)
    }

    /// Runs the `gobgp` client with `-j` and returns the parsed JSON.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut full = vec!["-j"];
        full.extend_from_slice(args);
        let text = self.client(&full);
        serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("gobgp {args:?}: invalid JSON ({error}): {text}"))
    }

    /// Returns the daemon's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("gobgpd.log")).unwrap_or_default()
    }
}

impl Drop for Gobgp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_pid(path: &str) -> Option<i32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Sends SIGTERM, waits up to two seconds for the processes to exit, then sends SIGKILL.
fn stop_processes(pids: &[i32]) {
    let alive = |pid: i32| Path::new(&format!("/proc/{pid}")).exists();
    for &pid in pids {
        // SAFETY: sending a signal has no memory-safety preconditions.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    for _ in 0..100 {
        if !pids.iter().any(|&pid| alive(pid)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for &pid in pids {
        // SAFETY: as above.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}
