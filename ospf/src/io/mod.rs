//! The tokio layer: one task owns the [`Instance`], one reader task per interface socket feeds
//! it packets, and a timer wakes it for the instance's next deadline.
//!
//! ```text
//!  Handle ──commands──▶ instance task ──Event (routes, BFD requests)──▶ caller
//!                          ▲      │
//!   reader task per ──packets     └──sends on the interface sockets
//!   interface socket
//! ```

mod ifaddrs;
mod socket;

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{info, warn};

pub use ifaddrs::read_interfaces;
use socket::OspfSocket;

use crate::config::{Config, ConfigError};
use crate::instance::{Action, BfdSession, Input, Instance};
use crate::interface::InterfaceInfo;
use crate::show::{Counters, InterfaceSnapshot, LsaSnapshot, NeighborSnapshot};
use crate::spf::{RouteUpdate, RoutingTable};

/// An event the instance reports to its owner.
#[derive(Debug, Clone)]
pub enum Event {
    /// A new routing table (install with distance [`crate::DISTANCE`]).
    Routes(RouteUpdate),
    /// Create a single-hop BFD session; report its failures with [`Handle::bfd_down`].
    BfdRegister(BfdSession),
    /// Delete that session.
    BfdUnregister(BfdSession),
}

type Query = Box<dyn FnOnce(&Instance, Instant) + Send>;

enum Command {
    Input(Input),
    Query(Query),
    Shutdown,
    GracefulShutdown {
        grace_period: Duration,
        done: oneshot::Sender<GracefulShutdown>,
    },
}

/// The result of [`Handle::graceful_shutdown`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GracefulShutdown {
    /// Router ids of the neighbors that acknowledged no grace-LSA within the wait; they may
    /// drop the adjacency while we are away.
    pub unacknowledged: Vec<Ipv4Addr>,
    /// How long the instance waited for the acknowledgments.
    pub waited: Duration,
}

/// Controls a running instance; [`Handle::shutdown`] or dropping every handle stops it.
#[derive(Clone)]
pub struct Handle {
    commands: mpsc::UnboundedSender<Command>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

/// Starts an instance on the current tokio runtime with the given interfaces. Sockets are
/// opened in the network namespace of the thread that runs the runtime.
pub fn spawn(
    config: Config,
    interfaces: Vec<InterfaceInfo>,
) -> Result<(Handle, mpsc::UnboundedReceiver<Event>, JoinHandle<()>), ConfigError> {
    let now = Instant::now();
    // Cryptographic sequence numbers start at the Unix time so that they keep growing across
    // restarts, as neighbors drop packets whose number went backwards.
    let base = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as u32);
    let instance = Instance::new(config, now, base)?;
    let (commands_tx, commands_rx) = mpsc::unbounded_channel();
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    for info in interfaces {
        let _ = commands_tx.send(Command::Input(Input::InterfaceUpdate(info)));
    }
    let task = tokio::spawn(run(instance, commands_rx, events_tx));
    Ok((
        Handle {
            commands: commands_tx,
        },
        events_rx,
        task,
    ))
}

impl Handle {
    /// Reports that an interface appeared or changed.
    pub fn update_interface(&self, info: InterfaceInfo) {
        let _ = self
            .commands
            .send(Command::Input(Input::InterfaceUpdate(info)));
    }

    pub fn remove_interface(&self, ifindex: u32) {
        let _ = self
            .commands
            .send(Command::Input(Input::InterfaceRemoved { ifindex }));
    }

    /// Reports that the BFD session of `neighbor` (its interface address) on `ifindex` went down.
    pub fn bfd_down(&self, ifindex: u32, neighbor: Ipv4Addr) {
        let _ = self
            .commands
            .send(Command::Input(Input::BfdDown { ifindex, neighbor }));
    }

    /// Flushes our LSAs from the neighbors' databases, stops the instance and closes its
    /// sockets; the event channel closes after it.
    pub fn shutdown(&self) {
        let _ = self.commands.send(Command::Shutdown);
    }

    /// Stops the instance for a graceful restart (RFC 3623 section 2): floods a grace-LSA
    /// announcing `grace_period` to every Full neighbor, waits for their acknowledgments (at
    /// most [`Instance::grace_acknowledgment_wait`]), then stops without flushing our LSAs. The
    /// owner keeps the routes installed in the kernel and starts the next instance with
    /// [`crate::GracefulRestart::restarting`] set and the grace period left.
    ///
    /// Returns `None` when the instance had already stopped.
    pub async fn graceful_shutdown(&self, grace_period: Duration) -> Option<GracefulShutdown> {
        let (done, result) = oneshot::channel();
        self.commands
            .send(Command::GracefulShutdown { grace_period, done })
            .ok()?;
        result.await.ok()
    }

    /// Returns the graceful restart state, for `show ip ospf graceful-restart`.
    pub async fn graceful_restart(&self) -> Option<crate::show::GracefulRestartSnapshot> {
        self.query(|instance, now| instance.graceful_restart(now))
            .await
    }

    /// Runs `read` on the instance and returns its result; `None` once the instance stopped.
    pub async fn query<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Instance, Instant) -> T + Send + 'static,
    ) -> Option<T> {
        let (reply_tx, reply_rx) = oneshot::channel();
        let query: Query = Box::new(move |instance, now| {
            let _ = reply_tx.send(read(instance, now));
        });
        self.commands.send(Command::Query(query)).ok()?;
        reply_rx.await.ok()
    }

    pub async fn neighbors(&self) -> Vec<NeighborSnapshot> {
        self.query(|instance, now| instance.neighbors(now))
            .await
            .unwrap_or_default()
    }

    pub async fn database(&self) -> Vec<LsaSnapshot> {
        self.query(|instance, now| instance.database(now))
            .await
            .unwrap_or_default()
    }

    pub async fn interfaces(&self) -> Vec<InterfaceSnapshot> {
        self.query(|instance, _| instance.interfaces())
            .await
            .unwrap_or_default()
    }

    pub async fn counters(&self) -> Counters {
        self.query(|instance, _| instance.counters().clone())
            .await
            .unwrap_or_default()
    }

    pub async fn routes(&self) -> RoutingTable {
        self.query(|instance, _| instance.routes().clone())
            .await
            .unwrap_or_default()
    }
}

/// Interval between attempts to open a socket that failed to open (for example on an interface
/// that the kernel has not finished setting up).
const SOCKET_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// Polls the interfaces of the current network namespace every `period` and reports each
/// change to the instance behind `handle`, until the instance stops.
///
/// A simple stand-in for netlink link and address events: run it on the same runtime (and so in
/// the same namespace) as the instance.
pub async fn watch_interfaces(handle: Handle, period: std::time::Duration) {
    let mut known: HashMap<u32, InterfaceInfo> = HashMap::new();
    let mut ticker = tokio::time::interval(period);
    loop {
        ticker.tick().await;
        let current = match read_interfaces() {
            Ok(current) => current,
            Err(error) => {
                warn!(error = %error, "cannot read the interfaces");
                continue;
            }
        };
        let mut seen = HashMap::new();
        for info in current {
            if known.get(&info.ifindex) != Some(&info) {
                handle.update_interface(info.clone());
            }
            seen.insert(info.ifindex, info);
        }
        for ifindex in known.keys().filter(|ifindex| !seen.contains_key(ifindex)) {
            handle.remove_interface(*ifindex);
        }
        known = seen;
        if handle.query(|_, _| ()).await.is_none() {
            return;
        }
    }
}

struct Interfaces {
    sockets: HashMap<u32, (Arc<OspfSocket>, JoinHandle<()>)>,
    /// Interfaces whose socket failed to open, by ifindex, retried every [`SOCKET_RETRY`].
    pending: HashMap<u32, String>,
    packets: mpsc::UnboundedSender<(u32, socket::Received)>,
}

impl Interfaces {
    fn enable(&mut self, ifindex: u32, name: &str) {
        if self.sockets.contains_key(&ifindex) {
            return;
        }
        self.pending.remove(&ifindex);
        match OspfSocket::open(name, ifindex) {
            Ok(socket) => {
                let socket = Arc::new(socket);
                let reader = socket.clone();
                let packets = self.packets.clone();
                let task = tokio::spawn(async move {
                    loop {
                        match reader.receive().await {
                            Ok(received) => {
                                if packets.send((ifindex, received)).is_err() {
                                    return;
                                }
                            }
                            Err(error) => {
                                warn!(ifindex, error = %error, "OSPF socket receive failed");
                                return;
                            }
                        }
                    }
                });
                info!(
                    interface = name,
                    ifindex,
                    fd = socket.raw_fd(),
                    "OSPF socket opened"
                );
                self.sockets.insert(ifindex, (socket, task));
            }
            Err(error) => {
                warn!(interface = name, ifindex, error = %error, "cannot open the OSPF socket; retrying");
                self.pending.insert(ifindex, name.to_string());
            }
        }
    }

    fn retry_pending(&mut self) {
        let pending: Vec<(u32, String)> = self.pending.drain().collect();
        for (ifindex, name) in pending {
            self.enable(ifindex, &name);
        }
    }

    fn disable(&mut self, ifindex: u32) {
        self.pending.remove(&ifindex);
        if let Some((_, task)) = self.sockets.remove(&ifindex) {
            task.abort();
        }
    }
}

/// A graceful shutdown waiting for the acknowledgments of its grace-LSAs.
struct Stopping {
    started: Instant,
    deadline: Instant,
    done: oneshot::Sender<GracefulShutdown>,
}

async fn run(
    mut instance: Instance,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<Event>,
) {
    let (packets_tx, mut packets_rx) = mpsc::unbounded_channel();
    let mut interfaces = Interfaces {
        sockets: HashMap::new(),
        pending: HashMap::new(),
        packets: packets_tx,
    };
    let mut retry = tokio::time::interval(SOCKET_RETRY);
    let mut stopping: Option<Stopping> = None;
    info!(router_id = %instance.router_id(), "OSPF instance started");
    loop {
        if let Some(stop) = stopping.take() {
            let now = Instant::now();
            if instance.grace_acknowledged() || now >= stop.deadline {
                let unacknowledged = instance.unacknowledged_grace_neighbors();
                let waited = now.saturating_duration_since(stop.started);
                if unacknowledged.is_empty() {
                    info!(
                        waited_ms = waited.as_millis() as u64,
                        "grace-LSAs acknowledged; stopping for a graceful restart"
                    );
                } else {
                    warn!(neighbors = ?unacknowledged, "grace-LSAs not acknowledged; stopping for a graceful restart anyway");
                }
                let _ = stop.done.send(GracefulShutdown {
                    unacknowledged,
                    waited,
                });
                break;
            }
            stopping = Some(stop);
        }
        let mut deadline = instance.next_timer();
        if let Some(stop) = &stopping {
            deadline = Some(deadline.map_or(stop.deadline, |at| at.min(stop.deadline)));
        }
        let deadline = deadline.map(tokio::time::Instant::from_std);
        let input = tokio::select! {
            command = commands.recv() => match command {
                None => break,
                Some(Command::Shutdown) => {
                    let actions = instance.shutdown(Instant::now());
                    apply(actions, &mut interfaces, &events).await;
                    break;
                }
                Some(Command::GracefulShutdown { grace_period, done }) => {
                    let now = Instant::now();
                    let actions = instance.graceful_shutdown(grace_period, now);
                    apply(actions, &mut interfaces, &events).await;
                    let deadline = now + instance.grace_acknowledgment_wait();
                    stopping = Some(Stopping { started: now, deadline, done });
                    continue;
                }
                Some(Command::Input(input)) => input,
                Some(Command::Query(query)) => {
                    query(&instance, Instant::now());
                    continue;
                }
            },
            Some((ifindex, received)) = packets_rx.recv() => Input::Packet {
                ifindex,
                source: received.source,
                destination: received.destination,
                data: received.payload,
            },
            _ = sleep_until(deadline) => Input::Timer,
            _ = retry.tick(), if !interfaces.pending.is_empty() => {
                interfaces.retry_pending();
                continue;
            }
        };
        let actions = instance.handle(input, Instant::now());
        apply(actions, &mut interfaces, &events).await;
    }
    for ifindex in interfaces.sockets.keys().copied().collect::<Vec<_>>() {
        interfaces.disable(ifindex);
    }
    info!(router_id = %instance.router_id(), "OSPF instance stopped");
}

/// Carries out the instance's actions: sends packets, opens and closes sockets, and reports
/// events to the owner.
async fn apply(
    actions: Vec<Action>,
    interfaces: &mut Interfaces,
    events: &mpsc::UnboundedSender<Event>,
) {
    for action in actions {
        match action {
            Action::Send {
                ifindex,
                destination,
                data,
            } => {
                if let Some((socket, _)) = interfaces.sockets.get(&ifindex)
                    && let Err(error) = socket.send(destination, &data).await
                {
                    warn!(ifindex, destination = %destination, error = %error, "OSPF send failed");
                }
            }
            Action::EnableInterface { ifindex, name } => interfaces.enable(ifindex, &name),
            Action::DisableInterface { ifindex } => interfaces.disable(ifindex),
            Action::Routes(update) => {
                let _ = events.send(Event::Routes(update));
            }
            Action::BfdRegister(session) => {
                let _ = events.send(Event::BfdRegister(session));
            }
            Action::BfdUnregister(session) => {
                let _ = events.send(Event::BfdUnregister(session));
            }
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
