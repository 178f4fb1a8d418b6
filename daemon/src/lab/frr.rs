//! The FRR 8.4 backend: one FRR instance per lab router, with zebra and then ospfd, bfdd and bgpd
//! as the configuration needs. Each daemon starts inside the router's namespace with its own path
//! space (`-N`) and no TCP vty (`-P 0`), and reads the configuration translated from ours.
//!
//! Tenants: this kernel has no VRF devices, so a router with L3VRFs runs zebra with `-n`
//! (network-namespace VRFs: the VRF named `vrf100` is the namespace `/run/netns/vrf100`). Every
//! FRR daemon of such a router starts in a private mount namespace whose `/run/netns` holds
//! only that router's tenant namespaces, under their L3VRF names. Without it every zebra would
//! take every namespace on the machine (other routers, pods) for one of its VRFs.
//!
//! FRR 8.4 with namespace VRFs, as tried on this lab: L2VNIs (type-2 and type-3), and L3VNIs with
//! type-5 routes and symmetric IRB host routes, work. The tenant's bridges and VXLAN devices
//! must live in the tenant namespace; the VXLAN devices are created in the router namespace and
//! then moved.
//! Route leaking between two such VRFs (`import vrf`) does not: zebra installs the leaked
//! routes with an interface index of the source namespace, which names another device (or
//! none) in the target namespace, so the leaked rows of a matrix fail and are left out.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::backend::{BackendKind, Dataplane, Query, RouterBackend, RouterContext, record_process};
use super::dataplane;
use super::error::LabError;
use super::frr_config::{self, FrrConfig, FrrOptions, VrfBackend};
use super::process::{self, ProcessRecord};
use super::shell;
use super::state::Session;

pub const FRR_RUN_DIR: &str = "/var/run/frr";

/// Written by every FRR 8.4 ospfd, whatever its `-N`.
pub const OSPFD_GR_FILE: &str = "/var/run/frr/ospfd-gr.json";

/// How long a daemon may take to create its vty socket after starting.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a daemon may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

pub struct FrrBackend;

impl FrrBackend {
    fn instance(context: &RouterContext) -> String {
        context.namespace()
    }

    fn config_path(context: &RouterContext) -> PathBuf {
        context
            .dir
            .configs()
            .join(format!("{}.frr.conf", context.router.name))
    }

    fn log_path(context: &RouterContext) -> PathBuf {
        context
            .dir
            .logs()
            .join(format!("{}.frr.log", context.router.name))
    }

    /// Returns whether the router has tenants, which FRR then runs as network-namespace VRFs.
    fn uses_netns_vrfs(context: &RouterContext) -> bool {
        !context.router.config.l3vrfs.is_empty()
    }

    fn translate(context: &RouterContext) -> FrrConfig {
        let options = FrrOptions {
            hostname: context.router.name.clone(),
            log_file: Self::log_path(context),
            vrf_backend: VrfBackend::NetnsVrf,
            debug: context.settings.frr_debug,
        };
        frr_config::translate(&context.router.config, &options)
    }

    fn run_dir(context: &RouterContext) -> PathBuf {
        Path::new(FRR_RUN_DIR).join(Self::instance(context))
    }

    fn pid_file(context: &RouterContext, daemon: &str) -> PathBuf {
        Self::run_dir(context).join(format!("{daemon}.pid"))
    }

    /// Starts one daemon and waits for its vty socket.
    fn start_daemon(
        &self,
        context: &RouterContext,
        daemon: &str,
        session: &mut Session,
    ) -> Result<ProcessRecord, LabError> {
        let instance = Self::instance(context);
        let binary = context.settings.frr_daemons.join(daemon);
        let config = Self::config_path(context);
        let pid_file = Self::pid_file(context, daemon);
        let _ = std::fs::remove_file(&pid_file);

        let mut daemon_args: Vec<String> = vec![binary.display().to_string()];
        if daemon == "zebra" && Self::uses_netns_vrfs(context) {
            daemon_args.push("-n".into());
        }
        daemon_args.extend(
            [
                "-N",
                &instance,
                "-d",
                "-P",
                "0",
                "-f",
                &config.display().to_string(),
                "-i",
                &pid_file.display().to_string(),
            ]
            .map(String::from),
        );

        let namespace = context.namespace();
        let mut args: Vec<String> = vec!["netns".into(), "exec".into(), namespace.clone()];
        if Self::uses_netns_vrfs(context) {
            let script = netns_view_script(context, &daemon_args)?;
            args.extend(
                ["unshare", "--mount", "--propagation", "private", "sh", "-c"].map(String::from),
            );
            args.push(script);
        } else {
            args.extend(daemon_args);
        }
        // The daemon keeps the standard streams it was started with: a file, not a pipe that
        // closes when `ip` exits.
        let stderr_path = context
            .dir
            .logs()
            .join(format!("{}.frr.stderr", context.router.name));
        let stderr = std::fs::File::options()
            .create(true)
            .append(true)
            .open(&stderr_path)?;
        let status = std::process::Command::new("ip")
            .args(&args)
            .stdin(std::process::Stdio::null())
            .stdout(stderr.try_clone()?)
            .stderr(stderr)
            .status()
            .map_err(|error| LabError::command("ip netns exec", error.to_string()))?;
        if !status.success() {
            let text = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(3).collect();
            return Err(LabError::Start {
                router: context.router.name.clone(),
                backend: "frr",
                message: format!(
                    "{daemon} ({status}): {}",
                    tail.into_iter().rev().collect::<Vec<_>>().join(" ")
                ),
            });
        }

        let pid = shell::poll_until(START_TIMEOUT, || {
            std::fs::read_to_string(&pid_file)
                .ok()?
                .trim()
                .parse::<i32>()
                .ok()
        })
        .ok_or_else(|| {
            self.start_error(
                context,
                daemon,
                format!("no pid file {}", pid_file.display()),
            )
        })?;
        let record = record_process(session, &context.router.name, daemon, pid)?;
        let socket = Self::run_dir(context).join(format!("{daemon}.vty"));
        shell::poll_until(START_TIMEOUT, || {
            (socket.exists() || !record.is_alive()).then_some(())
        });
        if !record.is_alive() {
            return Err(self.start_error(context, daemon, "exited after starting".into()));
        }
        if !socket.exists() {
            return Err(self.start_error(
                context,
                daemon,
                format!("no vty socket {} after {START_TIMEOUT:?}", socket.display()),
            ));
        }
        Ok(record)
    }

    fn start_error(&self, context: &RouterContext, daemon: &str, problem: String) -> LabError {
        let log = std::fs::read_to_string(Self::log_path(context)).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(5).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        LabError::Start {
            router: context.router.name.clone(),
            backend: "frr",
            message: format!(
                "{daemon} {problem}; last lines of {}:\n{}",
                Self::log_path(context).display(),
                tail.join("\n")
            ),
        }
    }

    /// Runs a vtysh command that ends in `json` on the router's instance; an empty output is
    /// `null`.
    fn vtysh_json(context: &RouterContext, command: &str) -> Result<Value, LabError> {
        let instance = Self::instance(context);
        let failed = |message: String| LabError::Query {
            router: context.router.name.clone(),
            query: command.to_string(),
            message,
        };
        let output = shell::output("vtysh", &["-N", &instance, "-c", command])?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let reason = stderr
                .lines()
                .filter(|line| !line.contains("vtysh.conf"))
                .collect::<Vec<_>>()
                .join(" ");
            return Err(failed(format!("vtysh {} {}", output.status, reason.trim())));
        }
        // FRR prints nothing at all for `show evpn vni json` on a router without EVPN.
        if stdout.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&stdout).map_err(|error| failed(format!("invalid JSON: {error}")))
    }

    fn daemons(context: &RouterContext) -> Vec<&'static str> {
        let mut daemons = vec!["zebra"];
        daemons.extend(Self::translate(context).daemons);
        daemons
    }
}

impl RouterBackend for FrrBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Frr
    }

    fn dataplane(&self) -> Dataplane {
        Dataplane::Lab
    }

    fn supports_route_leaking(&self) -> bool {
        false
    }

    fn prepare(&self, context: &RouterContext) -> Result<Vec<String>, LabError> {
        use std::os::unix::fs::PermissionsExt;

        let frr = Self::translate(context);
        let path = Self::config_path(context);
        std::fs::write(&path, &frr.text)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
        Ok(frr.notes)
    }

    fn start(&self, context: &RouterContext, session: &mut Session) -> Result<(), LabError> {
        let run_dir = Self::run_dir(context);
        std::fs::create_dir_all(&run_dir)?;
        chown_to_frr(&run_dir)?;
        let instance = Self::instance(context);
        if !session.state.frr_instances.contains(&instance) {
            session.update(|state| state.frr_instances.push(instance.clone()))?;
        }
        chown_to_frr(&context.dir.logs())?;

        for daemon in Self::daemons(context) {
            let gr_file_existed = Path::new(OSPFD_GR_FILE).exists();
            self.start_daemon(context, daemon, session)?;
            if daemon == "ospfd" && !gr_file_existed && Path::new(OSPFD_GR_FILE).exists() {
                session.update(|state| state.created_ospfd_gr_file = true)?;
            }
        }
        Ok(())
    }

    fn query(&self, context: &RouterContext, query: Query) -> Result<Value, LabError> {
        Self::vtysh_json(context, &format!("{} json", query.words().join(" ")))
    }

    /// Finds symmetric-IRB routes whose router MAC zebra has dropped.
    ///
    /// FRR 8.4's zebra counts the users of a remote VTEP's router MAC by host prefix. bgpd may
    /// replace an installed EVPN route with another copy of it, when the second route reflector's
    /// copy becomes best. zebra then adds the new route before it removes the old one, so the
    /// count reaches zero and zebra deletes the router MAC and neighbor entry that the route still
    /// uses. This lab saw it in about one bring-up of the seed fabric in three, and after
    /// session flaps.
    fn diagnose(&self, context: &RouterContext) -> Vec<String> {
        let mut found = Vec::new();
        let next_hops =
            Self::vtysh_json(context, "show evpn next-hops vni all json").unwrap_or(Value::Null);
        for (name, vrf) in &context.router.config.l3vrfs {
            let Some(l3vni) = vrf.l3vni else { continue };
            let Ok(routes) = Self::vtysh_json(context, &format!("show ip route vrf {name} json"))
            else {
                continue;
            };
            let known = &next_hops[l3vni.to_string()];
            let mut missing = std::collections::BTreeSet::new();
            for entry in routes
                .as_object()
                .into_iter()
                .flat_map(|routes| routes.values())
                .flat_map(|entries| entries.as_array().into_iter().flatten())
            {
                if entry["protocol"] != "bgp" || entry["installed"] != true {
                    continue;
                }
                for next_hop in entry["nexthops"].as_array().into_iter().flatten() {
                    let (Some(vtep), Some(interface)) =
                        (next_hop["ip"].as_str(), next_hop["interfaceName"].as_str())
                    else {
                        continue;
                    };
                    if interface.starts_with(dataplane::L3VNI_BRIDGE_PREFIX)
                        && known.get(vtep).is_none()
                    {
                        missing.insert(vtep.to_string());
                    }
                }
            }
            for vtep in missing {
                found.push(format!(
                    "FRR defect: {name} has BGP routes via VTEP {vtep}, but zebra has no router MAC for it on L3VNI {l3vni}, \
                     so the kernel has no neighbor entry and drops the traffic (zebra deleted it when a reflected copy \
                     replaced an installed route)"
                ));
            }
        }
        found
    }

    /// Restarts bgpd alone. zebra, ospfd and bfdd keep running, so OSPF adjacencies and BFD
    /// sessions stay up. With `bgp graceful-restart preserve-fw-state`, zebra is meant to keep
    /// bgpd's routes in the kernel until the new bgpd has learned them again.
    fn restart(&self, context: &RouterContext, session: &mut Session) -> Result<(), LabError> {
        let router = context.router.name.clone();
        let old = session
            .state
            .processes
            .iter()
            .find(|process| process.router == router && process.program == "bgpd")
            .cloned()
            .ok_or_else(|| LabError::Usage(format!("{router} runs no bgpd to restart")))?;
        old.terminate();
        if !process::wait_exit(&old, STOP_TIMEOUT) {
            process::stop_all(std::slice::from_ref(&old), Duration::ZERO);
        }
        session.update(|state| state.processes.retain(|process| process != &old))?;
        self.start_daemon(context, "bgpd", session)?;
        Ok(())
    }

    fn clean_up(&self, context: &RouterContext, session: &mut Session) {
        let instance = Self::instance(context);
        if session.state.frr_instances.contains(&instance) {
            let _ = std::fs::remove_dir_all(Self::run_dir(context));
            let _ = session.update(|state| state.frr_instances.retain(|known| known != &instance));
        }
        let _ = std::fs::remove_dir_all(context.dir.netns_view(&context.router.name));
    }
}

/// Returns the shell script that gives a daemon a `/run/netns` with only the router's tenant
/// namespaces, named as its L3VRFs, and then runs the daemon.
fn netns_view_script(context: &RouterContext, daemon_args: &[String]) -> Result<String, LabError> {
    let view = context.dir.netns_view(&context.router.name);
    std::fs::create_dir_all(&view)?;
    let view = quote(&view.display().to_string());
    let mut script = format!("set -e\nmount -t tmpfs hna-lab-netns {view}\n");
    for l3vrf in context.router.config.l3vrfs.keys() {
        let tenant = shell::netns_path(&context.names.tenant(&context.router.name, l3vrf));
        let target = format!("{view}/{}", quote(l3vrf));
        script.push_str(&format!(
            "touch {target}\nmount --bind {} {target}\n",
            quote(&tenant.display().to_string())
        ));
    }
    script.push_str(&format!("mount --rbind {view} {}\n", shell::NETNS_DIR));
    let command: Vec<String> = daemon_args.iter().map(|arg| quote(arg)).collect();
    script.push_str(&format!("exec {}\n", command.join(" ")));
    Ok(script)
}

/// Quotes a word for `sh`.
fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

fn chown_to_frr(path: &Path) -> Result<(), LabError> {
    let user = nix::unistd::User::from_name("frr")
        .ok()
        .flatten()
        .ok_or_else(|| {
            LabError::Usage("user `frr` not found: install the Debian package `frr`".into())
        })?;
    nix::unistd::chown(path, Some(user.uid), Some(user.gid)).map_err(|error| {
        LabError::command(format!("chown frr {}", path.display()), error.to_string())
    })
}

/// Returns whether an ospfd that the lab did not start runs on this machine.
pub fn foreign_ospfd_runs(own: &[ProcessRecord]) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return true;
    };
    entries.flatten().any(|entry| {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<i32>().ok())
        else {
            return false;
        };
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        comm.trim() == "ospfd" && !own.iter().any(|process| process.pid == pid)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_escapes_single_quotes() {
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
