//! The tokio layer of a BGP instance and its public handle, [`Bgp`].
//!
//! ```text
//!   Bgp (handle) ──Command──►┐                                   ┌──► BgpEvent receiver (owner)
//!   accept loop(s) ─IoEvent─►│  instance task: owns the Instance ├──► connect tasks (one per attempt)
//!   connect tasks ──IoEvent─►│  and every connection's handle    ├──► writer task per connection
//!   reader tasks ───IoEvent─►┘                                   └──► TCP-MD5 keys on the listeners
//! ```
//!
//! One task owns the sans-IO [`Instance`]; sockets live in child tasks that report through one
//! channel. Sockets are opened in the network namespace of the thread that runs the runtime.

mod connection;
mod socket;

pub use socket::set_md5_key;

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;
use tracing::{debug, info, warn};

use crate::config::{BgpConfig, ConfigError};
use crate::instance::{BgpEvent, ClearKind, Input, Instance, Output, StartOptions};
use crate::message::PathAttributes;
use crate::rib::{Route, TableSnapshot};
use crate::session::ConnId;
use crate::show::{NeighborDetail, Summary};
use crate::types::AfiSafi;
use crate::wire::DecodeError;

use connection::{ConnectionHandle, WriterCommand};

/// How long a shutdown waits for queued messages (a final NOTIFICATION) to be written.
const SHUTDOWN_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// Start-up options of an instance.
#[derive(Debug, Clone)]
pub struct SpawnOptions {
    /// TCP port to listen on.
    pub port: u16,
    /// Addresses to listen on; an IPv6 address that cannot be bound (IPv6 disabled) is skipped
    /// with a warning. Empty: no listener, outgoing connections only.
    pub listen: Vec<IpAddr>,
    pub start: StartOptions,
}

impl Default for SpawnOptions {
    fn default() -> SpawnOptions {
        SpawnOptions {
            port: 179,
            listen: vec![
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            ],
            start: StartOptions::default(),
        }
    }
}

/// An error that prevents an instance from starting.
#[derive(Debug, Error)]
pub enum SpawnError {
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: io::Error,
    },
}

/// An error of a request to the instance.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum BgpError {
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("the BGP instance has stopped")]
    Stopped,
}

/// A request from a handle to the instance task.
enum Command {
    Input(Box<Input>),
    Reconfigure(Box<BgpConfig>, oneshot::Sender<Result<(), ConfigError>>),
    Summary(oneshot::Sender<Summary>),
    Neighbors(Option<IpAddr>, oneshot::Sender<Vec<NeighborDetail>>),
    Table(AfiSafi, oneshot::Sender<TableSnapshot>),
    Shutdown {
        graceful: bool,
        done: oneshot::Sender<()>,
    },
}

/// A report from a socket task to the instance task.
#[derive(Debug)]
pub(crate) enum IoEvent {
    Accepted {
        stream: TcpStream,
        local: SocketAddr,
        remote: SocketAddr,
    },
    Connected {
        conn: ConnId,
        stream: TcpStream,
    },
    ConnectFailed {
        conn: ConnId,
        error: String,
    },
    Frames {
        conn: ConnId,
        frames: Vec<Vec<u8>>,
    },
    ReadError {
        conn: ConnId,
        error: DecodeError,
    },
    Closed {
        conn: ConnId,
    },
}

/// A handle to a running BGP instance. Clones share the instance. When the last handle is
/// dropped the instance stops as [`Bgp::shutdown`] with `graceful` would: connections close
/// without a NOTIFICATION.
#[derive(Debug, Clone)]
pub struct Bgp {
    commands: mpsc::UnboundedSender<Command>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::Input(_) => "Input",
            Command::Reconfigure(..) => "Reconfigure",
            Command::Summary(_) => "Summary",
            Command::Neighbors(..) => "Neighbors",
            Command::Table(..) => "Table",
            Command::Shutdown { .. } => "Shutdown",
        })
    }
}

impl Bgp {
    /// Starts an instance on the current tokio runtime and returns its handle and the stream
    /// of its events (best paths, next hops to track, BFD registrations, session states).
    ///
    /// Must be called inside a tokio runtime, on a thread in the network namespace whose
    /// sockets the instance should use: the listeners are bound before this returns. Outgoing
    /// connections are opened by tasks of that runtime, so its worker threads must be in the
    /// same namespace; they are when the runtime is built on a thread inside it, since new
    /// threads inherit their creator's namespace.
    pub fn spawn(
        config: BgpConfig,
        mut options: SpawnOptions,
    ) -> Result<(Bgp, mpsc::UnboundedReceiver<BgpEvent>), SpawnError> {
        config.validate()?;
        let mut listeners = Vec::new();
        for address in &options.listen {
            let address = SocketAddr::new(*address, options.port);
            match socket::listen(address) {
                Ok(listener) => listeners.push(Arc::new(listener)),
                Err(error) if address.is_ipv6() => {
                    warn!(%address, %error, "IPv6 listener not opened");
                }
                Err(source) => return Err(SpawnError::Listen { address, source }),
            }
        }
        if options.start.seed == 0 {
            let mut hasher = RandomState::new().build_hasher();
            hasher.write_u64(0);
            options.start.seed = hasher.finish();
        }

        let (io_tx, io_rx) = mpsc::unbounded_channel();
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (commands_tx, commands_rx) = mpsc::unbounded_channel();
        let now = Instant::now();
        let (instance, outputs) = Instance::new(now, config, options.start)?;
        let mut listener_tasks = Vec::new();
        for listener in &listeners {
            if let Ok(address) = listener.local_addr() {
                info!(%address, "BGP listening");
            }
            listener_tasks
                .push(tokio::spawn(accept_loop(listener.clone(), io_tx.clone())).abort_handle());
        }
        let mut task = InstanceTask {
            instance,
            commands: commands_rx,
            io_rx,
            io_tx,
            events: events_tx,
            listeners,
            listener_tasks,
            connections: HashMap::new(),
            connecting: HashMap::new(),
            accepted: HashMap::new(),
        };
        task.process(outputs);
        tokio::spawn(task.run());
        Ok((
            Bgp {
                commands: commands_tx,
            },
            events_rx,
        ))
    }

    fn input(&self, input: Input) {
        let _ = self.commands.send(Command::Input(Box::new(input)));
    }

    /// Applies a new configuration; sessions it does not affect are untouched.
    pub async fn reconfigure(&self, config: BgpConfig) -> Result<(), BgpError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Reconfigure(Box::new(config), reply))
            .map_err(|_| BgpError::Stopped)?;
        Ok(answer.await.map_err(|_| BgpError::Stopped)??)
    }

    /// Originates or replaces a local route.
    pub fn originate(&self, afi_safi: AfiSafi, route: Route, attributes: PathAttributes) {
        self.input(Input::Originate {
            afi_safi,
            route,
            attributes: Box::new(attributes),
        });
    }

    /// Withdraws a local route.
    pub fn withdraw(&self, afi_safi: AfiSafi, route: Route) {
        self.input(Input::Withdraw { afi_safi, route });
    }

    /// Reports the reachability of a tracked next hop: its IGP cost, `None` when unreachable.
    pub fn nexthop_update(&self, nexthop: IpAddr, igp_metric: Option<u32>) {
        self.input(Input::NexthopUpdate {
            nexthop,
            igp_metric,
        });
    }

    /// Reports that the BFD session of `peer` went from Up to Down.
    pub fn bfd_down(&self, peer: IpAddr) {
        self.input(Input::BfdDown { peer });
    }

    /// Reports that the address of `peer` became reachable, so that a connection attempt that
    /// failed for lack of a route is retried at once instead of after the ConnectRetryTimer.
    pub fn peer_reachable(&self, peer: IpAddr) {
        self.input(Input::PeerReachable { peer });
    }

    /// Clears one neighbor, or all when `peer` is `None`.
    pub fn clear(&self, peer: Option<IpAddr>, kind: ClearKind) {
        self.input(Input::Clear { peer, kind });
    }

    /// Tells a restarted instance that every local route is originated again.
    pub fn local_routes_ready(&self) {
        self.input(Input::LocalRoutesReady);
    }

    /// Returns `show bgp summary`.
    pub async fn summary(&self) -> Result<Summary, BgpError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Summary(reply))
            .map_err(|_| BgpError::Stopped)?;
        answer.await.map_err(|_| BgpError::Stopped)
    }

    /// Returns `show bgp neighbors`, for every neighbor or for `peer` only.
    pub async fn neighbors(&self, peer: Option<IpAddr>) -> Result<Vec<NeighborDetail>, BgpError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Neighbors(peer, reply))
            .map_err(|_| BgpError::Stopped)?;
        answer.await.map_err(|_| BgpError::Stopped)
    }

    /// Returns the Loc-RIB of a family (`show bgp ipv4 unicast`, `show bgp l2vpn evpn`).
    pub async fn table(&self, afi_safi: AfiSafi) -> Result<TableSnapshot, BgpError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Table(afi_safi, reply))
            .map_err(|_| BgpError::Stopped)?;
        answer.await.map_err(|_| BgpError::Stopped)
    }

    /// Stops the instance and waits until its last messages are written. With `graceful`
    /// (graceful restart follows) connections close without a NOTIFICATION; otherwise every
    /// peer gets a Cease, Administrative Shutdown (a Hard Reset under RFC 8538).
    pub async fn shutdown(&self, graceful: bool) {
        let (done, finished) = oneshot::channel();
        if self
            .commands
            .send(Command::Shutdown { graceful, done })
            .is_ok()
        {
            let _ = finished.await;
        }
    }
}

async fn accept_loop(listener: Arc<TcpListener>, io: mpsc::UnboundedSender<IoEvent>) {
    loop {
        match listener.accept().await {
            Ok((stream, remote)) => {
                let local = match stream.local_addr() {
                    Ok(local) => local,
                    Err(error) => {
                        debug!(%remote, %error, "accepted connection has no local address");
                        continue;
                    }
                };
                if io
                    .send(IoEvent::Accepted {
                        stream,
                        local,
                        remote,
                    })
                    .is_err()
                {
                    return;
                }
            }
            Err(error) => {
                // Running out of descriptors must not spin the loop.
                warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// The task that owns the instance.
struct InstanceTask {
    instance: Instance,
    commands: mpsc::UnboundedReceiver<Command>,
    io_rx: mpsc::UnboundedReceiver<IoEvent>,
    io_tx: mpsc::UnboundedSender<IoEvent>,
    events: mpsc::UnboundedSender<BgpEvent>,
    listeners: Vec<Arc<TcpListener>>,
    listener_tasks: Vec<AbortHandle>,
    connections: HashMap<ConnId, ConnectionHandle>,
    connecting: HashMap<ConnId, AbortHandle>,
    /// Accepted connections waiting for the instance to take or reject them.
    accepted: HashMap<ConnId, TcpStream>,
}

impl InstanceTask {
    async fn run(mut self) {
        loop {
            let deadline = self.instance.next_deadline();
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown { graceful, done }) => {
                        self.shutdown(graceful).await;
                        let _ = done.send(());
                        return;
                    }
                    Some(command) => self.command(command),
                    None => {
                        self.shutdown(true).await;
                        return;
                    }
                },
                Some(event) = self.io_rx.recv() => self.io(event),
                () = sleep => {
                    let outputs = self.instance.poll_timers(Instant::now());
                    self.process(outputs);
                }
            }
        }
    }

    fn command(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::Input(input) => {
                let outputs = self.instance.handle(now, *input);
                self.process(outputs);
            }
            Command::Reconfigure(config, reply) => {
                let result = self
                    .instance
                    .reconfigure(now, *config)
                    .map(|outputs| self.process(outputs));
                if let Err(error) = &result {
                    warn!(%error, "configuration rejected");
                }
                let _ = reply.send(result);
            }
            Command::Summary(reply) => {
                let _ = reply.send(self.instance.summary(now));
            }
            Command::Neighbors(peer, reply) => {
                let _ = reply.send(self.instance.neighbors(now, peer));
            }
            Command::Table(afi_safi, reply) => {
                let _ = reply.send(self.instance.table(afi_safi));
            }
            Command::Shutdown { .. } => {}
        }
    }

    fn io(&mut self, event: IoEvent) {
        let now = Instant::now();
        match event {
            IoEvent::Accepted {
                stream,
                local,
                remote,
            } => {
                let conn = self.instance.allocate_conn();
                debug!(%conn, %remote, "connection accepted");
                self.accepted.insert(conn, stream);
                let outputs = self.instance.handle(
                    now,
                    Input::Accepted {
                        conn,
                        local,
                        remote,
                    },
                );
                self.process(outputs);
                // Neither taken nor rejected: nothing will use it.
                self.accepted.remove(&conn);
            }
            IoEvent::Connected { conn, stream } => {
                if self.connecting.remove(&conn).is_none() {
                    return;
                }
                let (local, remote) = match (stream.local_addr(), stream.peer_addr()) {
                    (Ok(local), Ok(remote)) => (local, remote),
                    _ => {
                        let input = Input::ConnectFailed {
                            conn,
                            error: "connection reset".into(),
                        };
                        let outputs = self.instance.handle(now, input);
                        self.process(outputs);
                        return;
                    }
                };
                let handle = connection::start(conn, stream, self.io_tx.clone());
                self.connections.insert(conn, handle);
                let outputs = self.instance.handle(
                    now,
                    Input::Connected {
                        conn,
                        local,
                        remote,
                    },
                );
                self.process(outputs);
            }
            IoEvent::ConnectFailed { conn, error } => {
                if self.connecting.remove(&conn).is_none() {
                    return;
                }
                let outputs = self
                    .instance
                    .handle(now, Input::ConnectFailed { conn, error });
                self.process(outputs);
            }
            IoEvent::Frames { conn, frames } => {
                if !self.connections.contains_key(&conn) {
                    return;
                }
                let outputs = self
                    .instance
                    .handle(now, Input::ReceivedMany { conn, frames });
                self.process(outputs);
            }
            IoEvent::ReadError { conn, error } => {
                if !self.connections.contains_key(&conn) {
                    return;
                }
                let outputs = self.instance.handle(now, Input::ReadError { conn, error });
                self.process(outputs);
            }
            IoEvent::Closed { conn } => {
                if self.connections.remove(&conn).is_none() {
                    return;
                }
                let outputs = self.instance.handle(now, Input::Closed { conn });
                self.process(outputs);
            }
        }
    }

    fn process(&mut self, outputs: Vec<Output>) {
        for output in outputs {
            match output {
                Output::Connect {
                    conn,
                    remote,
                    local,
                    settings,
                } => {
                    let io = self.io_tx.clone();
                    let task = tokio::spawn(async move {
                        let event = match socket::connect(remote, local, &settings).await {
                            Ok(stream) => IoEvent::Connected { conn, stream },
                            Err(error) => IoEvent::ConnectFailed {
                                conn,
                                error: error.to_string(),
                            },
                        };
                        let _ = io.send(event);
                    });
                    self.connecting.insert(conn, task.abort_handle());
                }
                Output::Accept { conn, settings } => {
                    let Some(stream) = self.accepted.remove(&conn) else {
                        continue;
                    };
                    if let Err(error) = socket::configure_accepted(&stream, &settings) {
                        // Without its TTL or GTSM settings the connection must not be used.
                        warn!(%conn, %error, "cannot configure accepted connection");
                        let outputs = self.instance.handle(Instant::now(), Input::Closed { conn });
                        self.process(outputs);
                        continue;
                    }
                    let handle = connection::start(conn, stream, self.io_tx.clone());
                    self.connections.insert(conn, handle);
                }
                Output::Send { conn, data } => {
                    if let Some(handle) = self.connections.get(&conn) {
                        let _ = handle.writer.send(WriterCommand::Data(data));
                    }
                }
                Output::Close { conn } => {
                    // The writer flushes what is queued, then closes; nothing waits for it.
                    if let Some(handle) = self.connections.remove(&conn) {
                        let _ = handle.writer.send(WriterCommand::Close);
                    }
                    if let Some(task) = self.connecting.remove(&conn) {
                        task.abort();
                    }
                    self.accepted.remove(&conn);
                }
                Output::ListenerKey { prefix, key } => {
                    for listener in &self.listeners {
                        let ipv6 = listener.local_addr().is_ok_and(|a| a.is_ipv6());
                        if ipv6 != prefix.addr().is_ipv6() {
                            continue;
                        }
                        match socket::set_md5_key(listener.as_raw_fd(), prefix, key.as_deref()) {
                            Ok(()) => {
                                debug!(%prefix, installed = key.is_some(), "listener TCP-MD5 key")
                            }
                            Err(error) => {
                                warn!(%prefix, %error, "cannot set TCP-MD5 key on the listener")
                            }
                        }
                    }
                }
                Output::Event(event) => {
                    let _ = self.events.send(event);
                }
            }
        }
    }

    async fn shutdown(&mut self, graceful: bool) {
        for task in &self.listener_tasks {
            task.abort();
        }
        let outputs = self.instance.shutdown(Instant::now(), graceful);
        let mut writers = Vec::new();
        for output in outputs {
            match output {
                Output::Close { conn } => {
                    if let Some(handle) = self.connections.remove(&conn) {
                        let _ = handle.writer.send(WriterCommand::Close);
                        writers.push(handle.writer_task);
                    }
                }
                other => self.process(vec![other]),
            }
        }
        for (_, handle) in self.connections.drain() {
            let _ = handle.writer.send(WriterCommand::Close);
            writers.push(handle.writer_task);
        }
        for (_, task) in self.connecting.drain() {
            task.abort();
        }
        let _ = tokio::time::timeout(SHUTDOWN_FLUSH_TIMEOUT, async {
            for writer in writers {
                let _ = writer.await;
            }
        })
        .await;
        info!(graceful, "BGP instance stopped");
    }
}
