//! The control socket of a running daemon serves root only, and `hna-routectl` prints shell
//! completions without a daemon.

mod daemon_support;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Output};

use daemon_support::{Daemon, FabricOptions, ROUTECTL, router_config};
use hna_testkit::{Netns, require_root, scratch_dir};

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
