//! The control socket: requests reach the daemon's core, and only root gets a response.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use hna_routed::control::{self, Request, Response};

/// The uid of `nobody` on Debian.
const NOBODY: u32 = 65534;

/// A test's socket directory, removed when the test ends, passed or failed.
struct SocketDir(PathBuf);

impl SocketDir {
    fn new(tag: &str) -> SocketDir {
        SocketDir(std::env::temp_dir().join(format!("hna-control-{tag}-{}", std::process::id())))
    }

    fn socket(&self) -> PathBuf {
        self.0.join("control.sock")
    }
}

impl Drop for SocketDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts a control server whose core returns the words of each request as its output.
fn start_echo_server(path: PathBuf) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let (core, mut requests) = tokio::sync::mpsc::channel::<control::ControlRequest>(8);
            tokio::spawn(async move {
                while let Some((request, reply)) = requests.recv().await {
                    let _ = reply.send(Response::text(request.command.join(" ")));
                }
            });
            control::serve(&path, core).await.expect("control socket");
        });
    })
}

fn wait_for_socket(path: &PathBuf) {
    for _ in 0..250 {
        if path.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("control socket {} never appeared", path.display());
}

fn routectl(path: &PathBuf, uid: Option<u32>) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hna-routectl"));
    command.args(["--socket", path.to_str().unwrap(), "show", "bgp", "summary"]);
    if let Some(uid) = uid {
        command.uid(uid);
    }
    command.output().expect("run hna-routectl")
}

#[test]
fn control_request_reaches_core_and_returns_output() {
    hna_testkit::require_root();
    let dir = SocketDir::new("echo");
    let path = dir.socket();
    let _server = start_echo_server(path.clone());
    wait_for_socket(&path);

    let request = Request {
        command: vec!["show".into(), "bfd".into(), "peers".into()],
        json: false,
    };
    let response = control::request(&path, &request, Duration::from_secs(5)).expect("response");
    assert!(response.ok);
    assert_eq!(response.output, "show bfd peers");

    let output = routectl(&path, None);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "show bgp summary\n"
    );

    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "socket mode");
}

#[test]
fn control_socket_rejects_non_root_user() {
    hna_testkit::require_root();
    let dir = SocketDir::new("nonroot");
    let path = dir.socket();
    let _server = start_echo_server(path.clone());
    wait_for_socket(&path);

    // The file permissions stop a non-root user first.
    let output = routectl(&path, Some(NOBODY));
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Permission denied"), "{stderr}");

    // With the permissions opened by mistake, the credential check still rejects the user.
    std::fs::set_permissions(
        path.parent().unwrap(),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let output = routectl(&path, Some(NOBODY));
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("permission denied: the control socket accepts only root, not uid 65534"),
        "{stderr}"
    );
    assert!(
        output.stdout.is_empty(),
        "a rejected user must get no output"
    );
}
