//! The `hna-routed` backend: this suite's daemon on a lab router.
//!
//! The lab relies on this contract with the daemon and its control tool:
//!
//! - Start: `nsenter --net=/run/netns/ROUTER hna-routed run --config FILE --control-socket PATH
//!   --netns-prefix ROUTER- [--log-level LEVEL]`, in the foreground, logging to stdout or
//!   stderr. The lab creates the cabled interfaces, the loopbacks and the pod ports, all up and
//!   without addresses. The daemon builds the rest of its Linux plane from the configuration:
//!   their addresses and MTUs, VXLAN devices, bridges and bridge members, and one namespace per
//!   L3VRF named `ROUTER-L3VRF`, with `net.ipv4.ip_forward` set there. It creates the control socket once
//!   it accepts requests. SIGTERM stops it; with graceful restart configured it leaves its
//!   dataplane entries in place, and a new `run` with the same arguments takes them over.
//! - Queries: `hna-routectl --socket PATH --json show ip ospf neighbor | bfd peers | bgp summary
//!   | evpn vni`. The lab reads the fields that the parsers in [`super::backend`] name, in
//!   hna-routed's own shape (arrays of snapshots) or in FRR 8.4's.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::backend::{BackendKind, Dataplane, Query, RouterBackend, RouterContext, record_process};
use super::error::LabError;
use super::process;
use super::shell;
use super::state::Session;

/// How long the daemon may take to create its control socket.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// How long the daemon may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

pub struct HnaRoutedBackend;

impl HnaRoutedBackend {
    fn socket(context: &RouterContext) -> PathBuf {
        context.dir.run(&context.router.name).join("control.sock")
    }

    fn log_path(context: &RouterContext) -> PathBuf {
        context
            .dir
            .logs()
            .join(format!("{}.hna-routed.log", context.router.name))
    }

    fn start_error(context: &RouterContext, message: String) -> LabError {
        LabError::Start {
            router: context.router.name.clone(),
            backend: "hna-routed",
            message,
        }
    }

    fn spawn(&self, context: &RouterContext, session: &mut Session) -> Result<(), LabError> {
        use std::os::unix::fs::PermissionsExt;

        let binary = &context.settings.hna_routed;
        if !binary.is_file() {
            return Err(Self::start_error(
                context,
                format!(
                    "{} not found; build it (`cargo build -p hna-routed`) or pass --hna-routed",
                    binary.display()
                ),
            ));
        }
        let run_dir = context.dir.run(&context.router.name);
        std::fs::create_dir_all(&run_dir)?;
        std::fs::set_permissions(&run_dir, std::fs::Permissions::from_mode(0o700))?;
        let socket = Self::socket(context);
        let _ = std::fs::remove_file(&socket);
        let log = File::options()
            .create(true)
            .append(true)
            .open(Self::log_path(context))?;

        let namespace = context.namespace();
        // nsenter switches only the network namespace. `ip netns exec` would also give the
        // daemon a private mount namespace, where the tenant namespaces it binds under
        // /run/netns would be invisible to the rest of the machine and vanish with the process,
        // which a graceful restart must survive.
        let mut command = Command::new("nsenter");
        command
            .arg(format!("--net=/run/netns/{namespace}"))
            .arg("--")
            .arg(binary)
            .arg("run")
            .arg("--config")
            .arg(context.config_file())
            .arg("--control-socket")
            .arg(&socket)
            .arg("--netns-prefix")
            .arg(context.names.tenant_prefix(&context.router.name));
        if let Some(level) = &context.settings.log_level {
            command.args(["--log-level", level]);
        }
        command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // SAFETY: setsid is async-signal-safe; the new session keeps the daemon alive when the
        // terminal that ran `hna-lab up` closes.
        unsafe {
            command.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let child = command
            .spawn()
            .map_err(|error| Self::start_error(context, format!("cannot start: {error}")))?;
        // nsenter replaces itself with the daemon, so the pid stays the daemon's.
        let record = record_process(
            session,
            &context.router.name,
            "hna-routed",
            child.id() as i32,
        )?;

        shell::poll_until(START_TIMEOUT, || {
            (socket.exists() || !record.is_alive()).then_some(())
        });
        if !record.is_alive() {
            return Err(Self::start_error(context, self.exit_reason(context)));
        }
        if !socket.exists() {
            return Err(Self::start_error(
                context,
                format!(
                    "no control socket {} after {START_TIMEOUT:?}",
                    socket.display()
                ),
            ));
        }
        Ok(())
    }

    /// Explains an early exit from the end of the daemon's log.
    fn exit_reason(&self, context: &RouterContext) -> String {
        let log = std::fs::read_to_string(Self::log_path(context)).unwrap_or_default();
        let tail: Vec<&str> = log
            .lines()
            .rev()
            .take(8)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let hint = if log.contains("unrecognized subcommand") {
            "; this hna-routed has no `run` command yet, so only FRR can route the lab (`--all-frr`)"
        } else {
            ""
        };
        format!(
            "exited right after starting{hint}; last lines of {}:\n{}",
            Self::log_path(context).display(),
            tail.join("\n")
        )
    }
}

impl RouterBackend for HnaRoutedBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::HnaRouted
    }

    fn dataplane(&self) -> Dataplane {
        Dataplane::Daemon
    }

    fn supports_route_leaking(&self) -> bool {
        true
    }

    fn prepare(&self, _context: &RouterContext) -> Result<Vec<String>, LabError> {
        Ok(Vec::new())
    }

    fn start(&self, context: &RouterContext, session: &mut Session) -> Result<(), LabError> {
        self.spawn(context, session)
    }

    fn query(&self, context: &RouterContext, query: Query) -> Result<Value, LabError> {
        let socket = Self::socket(context);
        let binary = context.settings.hna_routectl.display().to_string();
        let socket_text = socket.display().to_string();
        let mut args = vec!["--socket", socket_text.as_str(), "--json"];
        args.extend_from_slice(query.words());
        let failed = |message: String| LabError::Query {
            router: context.router.name.clone(),
            query: query.words().join(" "),
            message,
        };
        let output = shell::output(&binary, &args)?;
        if !output.status.success() {
            return Err(failed(
                String::from_utf8_lossy(&output.stderr).trim().to_string(),
            ));
        }
        serde_json::from_slice(&output.stdout)
            .map_err(|error| failed(format!("invalid JSON: {error}")))
    }

    fn restart(&self, context: &RouterContext, session: &mut Session) -> Result<(), LabError> {
        let router = context.router.name.clone();
        let old = session
            .state
            .processes
            .iter()
            .find(|process| process.router == router && process.program == "hna-routed")
            .cloned()
            .ok_or_else(|| LabError::Usage(format!("{router} runs no hna-routed to restart")))?;
        old.terminate();
        if !process::wait_exit(&old, STOP_TIMEOUT) {
            process::stop_all(std::slice::from_ref(&old), Duration::ZERO);
        }
        session.update(|state| state.processes.retain(|process| process != &old))?;
        self.spawn(context, session)
    }

    fn clean_up(&self, context: &RouterContext, _session: &mut Session) {
        let _ = std::fs::remove_dir_all(context.dir.run(&context.router.name));
    }
}
