//! The control socket of a running daemon serves root only, a second daemon in the same
//! namespace refuses to start, and `hna-routectl` prints shell completions without a daemon.

mod daemon_support;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Output};
use std::time::Duration;

use daemon_support::{Daemon, Fabric, FabricOptions, ROUTECTL, router_config};
use hna_testkit::{Netns, require_root, run_ok, scratch_dir};

/// The uid and gid of `nobody` on Debian.
const NOBODY: u32 = 65534;

fn routectl_as_nobody(daemon: &Daemon, args: &[&str]) -> Output {
    Command::new(ROUTECTL)
        .arg("--socket")
        .arg(&daemon.socket)
        .args(args)
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .expect("run hna-routectl as nobody")
}

#[test]
fn running_daemon_rejects_non_root_user() {
    require_root();
    let netns = Netns::new("dcu");
    let dir = scratch_dir("dcu");
    let daemon = Daemon::start(
        &netns,
        &dir,
        "r1",
        &router_config(1, &FabricOptions::default()),
        false,
    );

    // The socket's directory (mode 0700) rejects the user before the daemon gets a connection.
    let socket_dir = daemon.socket.parent().unwrap();
    let mode = std::fs::metadata(socket_dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "socket directory mode");
    let mode = std::fs::metadata(&daemon.socket)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "socket mode");
    let output = routectl_as_nobody(&daemon, &["show", "running-config"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Permission denied"), "{stderr}");
    assert!(output.stdout.is_empty());

    // With the permissions opened by mistake, the daemon checks the peer's credentials and
    // rejects every command, reload and clear included.
    std::fs::set_permissions(socket_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&daemon.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    for command in [
        &["show", "running-config"][..],
        &["--json", "show", "bgp", "summary"],
        &["reload"],
        &["clear", "bgp", "*"],
    ] {
        let output = routectl_as_nobody(&daemon, command);
        assert!(!output.status.success(), "{command:?} succeeded as nobody");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr
                .contains("permission denied: the control socket accepts only root, not uid 65534"),
            "{command:?}: {stderr}"
        );
        assert!(output.stdout.is_empty(), "{command:?} printed output");
    }
    let log = daemon.log_text();
    assert!(
        log.contains("control request from a non-root user rejected uid=65534"),
        "{log}"
    );
    assert!(
        !log.contains("configuration reloaded"),
        "nobody's reload ran"
    );

    // Root still gets responses.
    let output = daemon.ctl(&["show", "running-config"]);
    assert!(output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stdout)
            .contains("/ vrf main routing bgp router-id 10.0.0.1")
    );
}

#[test]
fn routectl_prints_bash_completions() {
    let output = Command::new(ROUTECTL)
        .args(["completions", "bash"])
        .output()
        .expect("run hna-routectl completions bash");
    assert!(output.status.success());
    let script = String::from_utf8_lossy(&output.stdout);
    assert!(
        script.contains("complete -F _hna__routectl") && script.contains("hna-routectl"),
        "{script}"
    );
    for word in [
        "show",
        "clear",
        "reload",
        "running-config",
        "summary",
        "--json",
    ] {
        assert!(
            script.contains(word),
            "`{word}` missing from the completions"
        );
    }
    // The script is valid bash.
    let check = Command::new("bash")
        .args(["-n", "-c", &script])
        .output()
        .expect("run bash -n");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn routectl_into_closed_pipe_ends_without_panic() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;

    // The read end closes before hna-routectl writes, as when `| head` has exited.
    let mut child = Command::new(ROUTECTL)
        .args(["completions", "bash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hna-routectl completions bash");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("wait for hna-routectl");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        output.status.signal(),
        Some(libc::SIGPIPE),
        "{:?}",
        output.status
    );
}

/// Returns the routes the daemons install (protocol 201) in namespace `name`.
fn daemon_routes(name: &str) -> String {
    run_ok("ip", &["-n", name, "route", "show", "proto", "201"])
}

#[test]
fn second_daemon_in_namespace_refuses_to_start() {
    require_root();
    let fabric = Fabric::start("d2i", FabricOptions::default());
    let underlay = fabric.ns[0].name().to_string();
    let tenant = fabric.r1.tenant("vrf100");
    let underlay_before = daemon_routes(&underlay);
    let tenant_before = daemon_routes(&tenant);
    assert!(!underlay_before.is_empty(), "r1 installed no route");
    let session_before = fabric.r1.neighbor("10.0.0.2");

    let config = std::fs::read_to_string(&fabric.r1.config).expect("read r1's configuration");
    let mut second = Daemon::spawn(&fabric.ns[0], &fabric.dir, "r1-second", &config, false);
    let status = second.wait_exit(Duration::from_secs(20));
    let log = second.log_text();
    // The second process shares r1's tenant prefix, so its Drop would delete r1's tenant
    // namespaces; it has exited, so there is nothing else to clean up.
    std::mem::forget(second);

    assert_eq!(status.code(), Some(1), "{log}");
    assert!(
        log.contains("another hna-routed is running in this network namespace"),
        "{log}"
    );
    assert_eq!(
        daemon_routes(&underlay),
        underlay_before,
        "r1's routes changed"
    );
    assert_eq!(
        daemon_routes(&tenant),
        tenant_before,
        "r1's tenant routes changed"
    );
    let session_after = fabric.r1.neighbor("10.0.0.2");
    assert_eq!(session_after["state"], "Established");
    assert_eq!(
        session_after["counters"]["established_transitions"],
        session_before["counters"]["established_transitions"],
        "r1's session with r2 was reset"
    );
}
