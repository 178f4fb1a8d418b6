//! The daemon process: the core, the forwarding plane's thread, the control socket, the
//! metrics endpoint and the signals, wired together.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::config::Config;
use crate::plane::PlaneThread;
use crate::router::{CoreMessage, Router, RouterOptions};

/// Settings of the daemon process that do not come from the configuration file.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    pub config_path: PathBuf,
    pub control_socket: PathBuf,
    pub metrics_listen: Option<SocketAddr>,
    pub netns_prefix: String,
}

/// Runs the daemon until SIGTERM or SIGINT. With graceful restart configured, a stop keeps the
/// forwarding state in the kernel for the next start to take over.
pub async fn run(config: Config, options: DaemonOptions) -> Result<(), String> {
    // Held until the process exits; a second daemon in this namespace stops here, before it
    // reads or changes anything in the kernel.
    let _instance_lock = lock_network_namespace()?;
    warn_if_mounts_are_private();
    let (plane, _plane_thread) = PlaneThread::spawn(hna_rib::linux::LinuxPlane::new)
        .map_err(|error| format!("cannot open the Linux forwarding plane: {error}"))?;
    let plane_events = plane
        .subscribe()
        .await
        .map_err(|error| format!("cannot subscribe to kernel events: {error}"))?;

    let since_graceful_stop = take_restart_marker(&options.control_socket);
    let graceful_restart = graceful_restart_configured(&config);
    let router_options = RouterOptions {
        netns_prefix: options.netns_prefix.clone(),
        config_path: Some(options.config_path.clone()),
        set_up_interfaces: true,
        since_graceful_stop,
        bgp_listen: None,
    };
    let router = Router::start(config, router_options, plane).await?;

    let (core, messages) = mpsc::channel::<CoreMessage>(64);

    let (control_tx, mut control_rx) = mpsc::channel(16);
    let socket = options.control_socket.clone();
    tokio::spawn(async move {
        if let Err(error) = crate::control::serve(&socket, control_tx).await {
            error!(socket = %socket.display(), %error, "control socket failed");
        }
    });
    let forward = core.clone();
    tokio::spawn(async move {
        while let Some(request) = control_rx.recv().await {
            if forward.send(CoreMessage::Control(request)).await.is_err() {
                break;
            }
        }
    });

    if let Some(address) = options.metrics_listen {
        let (metrics_tx, mut metrics_rx) = mpsc::channel(4);
        tokio::spawn(async move {
            if let Err(error) = crate::metrics::serve(address, metrics_tx).await {
                error!(%address, %error, "metrics endpoint failed");
            }
        });
        let forward = core.clone();
        tokio::spawn(async move {
            while let Some(request) = metrics_rx.recv().await {
                if forward.send(CoreMessage::Metrics(request)).await.is_err() {
                    break;
                }
            }
        });
    }

    let signals = core.clone();
    tokio::spawn(async move {
        let (Ok(mut hangup), Ok(mut terminate), Ok(mut interrupt)) = (
            signal(SignalKind::hangup()),
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            warn!("cannot install signal handlers");
            return;
        };
        loop {
            tokio::select! {
                _ = hangup.recv() => {
                    info!("SIGHUP: reloading the configuration");
                    let _ = signals.send(CoreMessage::Reload(None)).await;
                }
                _ = terminate.recv() => {
                    let _ = signals.send(CoreMessage::Shutdown { graceful: graceful_restart }).await;
                }
                _ = interrupt.recv() => {
                    let _ = signals.send(CoreMessage::Shutdown { graceful: graceful_restart }).await;
                }
            }
        }
    });

    info!(config = %options.config_path.display(), control = %options.control_socket.display(), "hna-routed running");
    let graceful = router.run(plane_events, messages).await;
    let _ = std::fs::remove_file(&options.control_socket);
    if graceful {
        write_restart_marker(&options.control_socket);
    }
    info!(graceful, "hna-routed stopped");
    Ok(())
}

/// Returns the path of the file that records for the next start that this daemon stopped gracefully: next to the
/// control socket, which is unique per daemon on a machine.
fn restart_marker(control_socket: &Path) -> PathBuf {
    let mut name = control_socket.as_os_str().to_owned();
    name.push(".restart");
    PathBuf::from(name)
}

fn write_restart_marker(control_socket: &Path) {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let marker = restart_marker(control_socket);
    if let Err(error) = std::fs::write(&marker, seconds.to_string()) {
        warn!(file = %marker.display(), %error, "cannot record the graceful stop; the next start will be a cold one");
    }
}

/// Returns the time since the previous run stopped gracefully, if it did; each protocol then
/// compares it with its own restart time. The marker is consumed either way.
fn take_restart_marker(control_socket: &Path) -> Option<Duration> {
    let marker = restart_marker(control_socket);
    let text = std::fs::read_to_string(&marker).ok()?;
    let _ = std::fs::remove_file(&marker);
    let stopped = UNIX_EPOCH + Duration::from_secs(text.trim().parse().ok()?);
    let elapsed = SystemTime::now()
        .duration_since(stopped)
        .unwrap_or_default();
    info!(
        seconds_since_stop = elapsed.as_secs(),
        "previous run stopped gracefully"
    );
    Some(elapsed)
}

/// Returns whether a stop should keep the forwarding state: graceful restart is enabled for
/// BGP or OSPF.
fn graceful_restart_configured(config: &Config) -> bool {
    let bgp = config
        .bgp
        .as_ref()
        .and_then(|bgp| bgp.graceful_restart.enabled);
    let ospf = config
        .ospf
        .as_ref()
        .and_then(|ospf| ospf.graceful_restart.enabled);
    bgp == Some(true) || ospf == Some(true)
}

/// Warns when mounts made under /run/netns do not reach the rest of the machine, as under
/// `ip netns exec`, which runs its command in a private mount namespace. The tenant namespaces
/// would then be invisible to `ip netns` and disappear with this process, so a graceful restart
/// would lose every tenant interface. Running the daemon with `nsenter --net=...`, or directly
/// in the host's namespaces, avoids it.
fn warn_if_mounts_are_private() {
    let Ok(mountinfo) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    // Fields: id, parent, major:minor, root, mount point, options, optional fields..., "-", ...
    // The deepest mount that contains /run/netns decides its propagation.
    let governing = mountinfo
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let point = *fields.get(4)?;
            let covers = hna_rib::linux::NETNS_RUN_DIR.starts_with(point)
                && (point == "/"
                    || hna_rib::linux::NETNS_RUN_DIR[point.len()..].starts_with('/')
                    || point.len() == hna_rib::linux::NETNS_RUN_DIR.len());
            covers.then_some((point.len(), fields))
        })
        .max_by_key(|(length, _)| *length);
    let Some((_, fields)) = governing else { return };
    let optional: Vec<&str> = fields
        .iter()
        .skip(6)
        .take_while(|field| **field != "-")
        .copied()
        .collect();
    // A slave ("master:N" without "shared:M") receives the machine's mounts but sends none back.
    let slave = optional.iter().any(|field| field.starts_with("master:"));
    let shared = optional.iter().any(|field| field.starts_with("shared:"));
    if slave && !shared {
        warn!(
            mount_point = fields[4],
            "mounts under /run/netns are private to this process (started with `ip netns exec`?): \
             tenant namespaces will vanish when it stops; start it with `nsenter --net=...` instead"
        );
    }
}

/// The abstract Unix socket name that marks a network namespace as having a running daemon.
const INSTANCE_SOCKET: &[u8] = b"hna-routed";

/// Binds the abstract Unix socket [`INSTANCE_SOCKET`]. Abstract sockets belong to the network
/// namespace and vanish with the process, so exactly one daemon per namespace can hold it, and
/// a crash leaves nothing to clean up. A second daemon would otherwise remove the first one's
/// routes as stale entries of an earlier run.
fn lock_network_namespace() -> Result<std::os::unix::net::UnixListener, String> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixListener};

    let address = SocketAddr::from_abstract_name(INSTANCE_SOCKET)
        .map_err(|error| format!("cannot name the instance socket: {error}"))?;
    UnixListener::bind_addr(&address).map_err(|error| match error.kind() {
        std::io::ErrorKind::AddrInUse => "another hna-routed is running in this network \
             namespace (it holds the abstract socket @hna-routed); stop it before starting \
             a new one"
            .to_string(),
        _ => format!("cannot bind the instance socket @hna-routed: {error}"),
    })
}
