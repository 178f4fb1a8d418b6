//! The instance task: the one owner of an [`Instance`], binding it to the shared sockets, one
//! timer and the clients' channels.
//!
//! ```text
//!   receive sockets (UDP 3784, 4784; IPv4, IPv6) --(recvmsg)--+
//!                                                             v
//!   Bfd / Subscription --(Command)--------------------> instance task --(sendmsg)--> transmit socket
//!                                                             |                      (per family)
//!   Subscription <--(StateChange: mpsc + watch)---------------+
//! ```
//!
//! The task sleeps until the earliest session deadline or a readable socket. On every wake-up
//! it first reads all waiting datagrams, then runs the due timers: a task delayed by the
//! scheduler thus never declares a session down while its packets wait in the socket. A
//! detection time that expires is reported to the clients in the same wake-up.

use std::collections::HashMap;
use std::io;
use std::task::Poll;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use socket2::Socket;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, error, info, warn};

use crate::api::{BfdConfig, SessionSnapshot};
use crate::counters::{DropCounters, DropReason};
use crate::instance::{Instance, Received, SessionKey};
use crate::io::{
    Interfaces, Receiver, open_receive_socket, open_transmit_socket, peer_address, send,
};
use crate::session::{Output, SessionParams, StateChange};
use crate::{MULTIHOP_PORT, SINGLE_HOP_PORT};

/// Interval between attempts to open sockets that could not be opened.
const SOCKET_RETRY: Duration = Duration::from_secs(5);
/// Interval between two debug logs of dropped packets for the same reason.
const DROP_LOG_INTERVAL: Duration = Duration::from_secs(1);
/// Most datagrams read from one socket before the task turns to timers and commands; about
/// 200 ms of traffic of 1,000 sessions at 50 ms.
const DRAIN_LIMIT: usize = 4096;

/// Requests from the handles to the task.
#[derive(Debug)]
pub(crate) enum Command {
    Register {
        subscriber: u64,
        key: SessionKey,
        params: SessionParams,
        events: mpsc::UnboundedSender<StateChange>,
        latest: watch::Sender<StateChange>,
    },
    Unregister {
        subscriber: u64,
    },
    SetAdminDown {
        key: SessionKey,
        admin_down: bool,
    },
    Sessions {
        reply: oneshot::Sender<Vec<SessionSnapshot>>,
    },
    UnmatchedDrops {
        reply: oneshot::Sender<DropCounters>,
    },
}

#[derive(Debug)]
struct Subscriber {
    discriminator: u32,
    params: SessionParams,
    events: mpsc::UnboundedSender<StateChange>,
    latest: watch::Sender<StateChange>,
}

/// Sockets of one address family.
#[derive(Debug, Default)]
struct FamilySockets {
    transmit: Option<Socket>,
    receivers: Vec<Receiver>,
    failed: bool,
}

pub(crate) struct InstanceTask {
    instance: Instance,
    random: SmallRng,
    commands: mpsc::UnboundedReceiver<Command>,
    subscribers: HashMap<u64, Subscriber>,
    /// Subscribers of each session, oldest first.
    by_session: HashMap<u32, Vec<u64>>,
    ipv4: FamilySockets,
    ipv6: FamilySockets,
    interfaces: Interfaces,
    outputs: Vec<Output>,
    last_drop_log: HashMap<DropReason, Instant>,
    /// Socket errors of the first opening attempt, per family (IPv4 first).
    open_errors: Vec<io::Error>,
}

impl InstanceTask {
    /// Creates the task and opens its sockets from the calling thread, so that they belong to
    /// that thread's network namespace.
    pub(crate) fn new(
        config: BfdConfig,
        commands: mpsc::UnboundedReceiver<Command>,
    ) -> InstanceTask {
        let random = match config.seed {
            Some(seed) => SmallRng::seed_from_u64(seed),
            None => rand::make_rng(),
        };
        let mut task = InstanceTask {
            instance: Instance::new(),
            random,
            commands,
            subscribers: HashMap::new(),
            by_session: HashMap::new(),
            ipv4: FamilySockets::default(),
            ipv6: FamilySockets::default(),
            interfaces: Interfaces::default(),
            outputs: Vec::new(),
            last_drop_log: HashMap::new(),
            open_errors: Vec::new(),
        };
        task.open_sockets(false);
        task.open_sockets(true);
        task
    }

    /// Returns the error that kept the IPv4 sockets from opening, if any.
    pub(crate) fn ipv4_ready(&self) -> io::Result<()> {
        if self.ipv4.transmit.is_some() {
            return Ok(());
        }
        let message = self
            .open_errors
            .first()
            .map_or_else(|| "unknown error".to_string(), ToString::to_string);
        Err(io::Error::other(format!(
            "cannot open the BFD IPv4 sockets: {message}"
        )))
    }

    /// Opens the sockets of one family if they are not open yet. All three sockets (receive on
    /// 3784 and 4784, transmit) open together or not at all.
    fn open_sockets(&mut self, ipv6: bool) {
        let family = if ipv6 { &self.ipv6 } else { &self.ipv4 };
        if family.transmit.is_some() {
            return;
        }
        let port_choice = self.random.next_u32();
        let opened = open_receive_socket(ipv6, SINGLE_HOP_PORT).and_then(|single_hop| {
            let multihop = open_receive_socket(ipv6, MULTIHOP_PORT)?;
            let transmit = open_transmit_socket(ipv6, port_choice)?;
            Ok((single_hop, multihop, transmit))
        });
        let name = if ipv6 { "IPv6" } else { "IPv4" };
        let family = if ipv6 { &mut self.ipv6 } else { &mut self.ipv4 };
        match opened {
            Ok((single_hop, multihop, transmit)) => {
                let source_port = transmit
                    .local_addr()
                    .ok()
                    .and_then(|address| address.as_socket())
                    .map(|address| address.port());
                info!(family = name, source_port, "BFD sockets open");
                family.receivers = vec![
                    Receiver::new(single_hop, false),
                    Receiver::new(multihop, true),
                ];
                family.transmit = Some(transmit);
                family.failed = false;
            }
            Err(error) => {
                if !family.failed {
                    if ipv6 {
                        warn!(family = name, %error, "cannot open BFD sockets; retrying every 5 s");
                    } else {
                        error!(family = name, %error, "cannot open BFD sockets; retrying every 5 s");
                    }
                    self.open_errors.push(error);
                }
                family.failed = true;
            }
        }
    }

    pub(crate) async fn run(mut self) {
        let far_future = || tokio::time::Instant::now() + Duration::from_secs(3600);
        let sleep = tokio::time::sleep_until(far_future());
        tokio::pin!(sleep);
        let mut retry = tokio::time::interval(SOCKET_RETRY);
        retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

        loop {
            self.drain_sockets();
            let now = Instant::now();
            self.instance
                .handle_timers(now, &mut self.random, &mut self.outputs);
            self.flush_outputs(now);
            let wake = self
                .instance
                .next_deadline()
                .map_or_else(far_future, tokio::time::Instant::from_std);
            sleep.as_mut().reset(wake);

            let receivers = self.ipv4.receivers.iter().chain(&self.ipv6.receivers);
            let readable = std::future::poll_fn(|context| {
                let mut ready = false;
                for receiver in receivers.clone() {
                    ready |= receiver.poll_readable(context).is_ready();
                }
                if ready {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            });
            tokio::select! {
                biased;
                command = self.commands.recv() => match command {
                    Some(command) => self.handle_command(command),
                    None => break,
                },
                () = readable => {}
                () = &mut sleep => {}
                _ = retry.tick(), if self.ipv4.failed || self.ipv6.failed => {
                    self.open_sockets(false);
                    self.open_sockets(true);
                }
            }
        }

        // Every handle is gone: tell the peers, then stop reading.
        let discriminators: Vec<u32> = self
            .instance
            .sessions()
            .map(|(_, session)| session.local_discriminator())
            .collect();
        let now = Instant::now();
        for discriminator in discriminators {
            if let Some((key, packet)) = self.instance.remove_session(discriminator) {
                let _ = self.send_for_key(&key, packet.as_bytes(), now);
            }
        }
        info!("BFD instance stopped");
    }

    fn handle_command(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::Register {
                subscriber,
                key,
                params,
                events,
                latest,
            } => {
                self.register(subscriber, key, params, events, latest, now);
            }
            Command::Unregister { subscriber } => self.unregister(subscriber, now),
            Command::SetAdminDown { key, admin_down } => {
                if let Some(discriminator) = self.instance.discriminator(&key) {
                    self.instance.set_admin_down(
                        discriminator,
                        admin_down,
                        now,
                        &mut self.random,
                        &mut self.outputs,
                    );
                }
            }
            Command::Sessions { reply } => {
                let _ = reply.send(self.snapshots(now));
            }
            Command::UnmatchedDrops { reply } => {
                let _ = reply.send(self.instance.unmatched_drops().clone());
            }
        }
        self.flush_outputs(now);
    }

    fn register(
        &mut self,
        id: u64,
        key: SessionKey,
        params: SessionParams,
        events: mpsc::UnboundedSender<StateChange>,
        latest: watch::Sender<StateChange>,
        now: Instant,
    ) {
        let existing = self.instance.discriminator(&key);
        let discriminator = match existing {
            Some(discriminator) => discriminator,
            None => {
                let discriminator =
                    self.instance
                        .add_session(key.clone(), params.clone(), now, &mut self.random);
                info!(session = %key, local_discriminator = discriminator, "BFD session created");
                discriminator
            }
        };
        if let (Some(first), Some(_)) = (
            self.by_session
                .get(&discriminator)
                .and_then(|ids| ids.first()),
            existing,
        ) {
            let first_auth = self
                .subscribers
                .get(first)
                .and_then(|subscriber| subscriber.params.authentication());
            if first_auth != params.authentication() {
                warn!(session = %key, "BFD client requested other authentication than the session uses; keeping the session's");
            }
        }

        if let Some((_, session)) = self.instance.session(discriminator) {
            let state = session.state();
            let current = StateChange {
                previous: state,
                state,
                diagnostic: session.local_diagnostic(),
                remote_state: session.remote_state(),
                at: now,
            };
            let _ = events.send(current);
            latest.send_replace(current);
        }
        self.subscribers.insert(
            id,
            Subscriber {
                discriminator,
                params,
                events,
                latest,
            },
        );
        self.by_session.entry(discriminator).or_default().push(id);
        if existing.is_some() {
            self.apply_merged_params(discriminator, now);
        }
    }

    fn unregister(&mut self, id: u64, now: Instant) {
        let Some(subscriber) = self.subscribers.remove(&id) else {
            return;
        };
        let discriminator = subscriber.discriminator;
        let remaining = self.by_session.get_mut(&discriminator).map(|ids| {
            ids.retain(|&other| other != id);
            ids.len()
        });
        if remaining == Some(0) {
            self.by_session.remove(&discriminator);
            if let Some((key, packet)) = self.instance.remove_session(discriminator) {
                info!(session = %key, local_discriminator = discriminator, "BFD session deleted: no client left");
                if let Err(error) = self.send_for_key(&key, packet.as_bytes(), now) {
                    debug!(session = %key, %error, "sending the AdminDown packet failed");
                }
            }
        } else {
            self.apply_merged_params(discriminator, now);
        }
    }

    /// Gives a shared session the fastest timers its clients request and the authentication of
    /// the oldest client.
    fn apply_merged_params(&mut self, discriminator: u32, now: Instant) {
        let Some(ids) = self.by_session.get(&discriminator) else {
            return;
        };
        let mut all = ids
            .iter()
            .filter_map(|id| self.subscribers.get(id))
            .map(|subscriber| &subscriber.params);
        let Some(first) = all.next() else {
            return;
        };
        let mut merged = first.clone();
        for params in all {
            let faster = SessionParams::new(
                merged.desired_min_tx().min(params.desired_min_tx()),
                merged.required_min_rx().min(params.required_min_rx()),
                merged.detect_multiplier().min(params.detect_multiplier()),
            );
            if let Ok(faster) = faster {
                merged = match first.authentication() {
                    Some(auth) => faster.with_authentication(auth.clone()),
                    None => faster,
                };
            }
        }
        let unchanged = self
            .instance
            .session(discriminator)
            .is_some_and(|(_, session)| *session.params() == merged);
        if !unchanged {
            self.instance
                .set_params(discriminator, merged, now, &mut self.random);
        }
    }

    /// Reads and processes every datagram waiting in the receive sockets.
    fn drain_sockets(&mut self) {
        let now = Instant::now();
        let InstanceTask {
            instance,
            random,
            interfaces,
            outputs,
            last_drop_log,
            ipv4,
            ipv6,
            ..
        } = self;
        for receiver in ipv4.receivers.iter_mut().chain(ipv6.receivers.iter_mut()) {
            let multihop = receiver.multihop;
            receiver.drain(DRAIN_LIMIT, |payload, metadata| {
                let received = Received {
                    payload,
                    source: metadata.source,
                    destination: metadata.destination,
                    interface: interfaces.name(metadata.ifindex, now),
                    ttl: metadata.ttl,
                    multihop,
                    arrival: metadata.arrival,
                };
                if let Err(reason) = instance.receive(&received, now, random, outputs) {
                    let due = last_drop_log.get(&reason).is_none_or(|at| now.duration_since(*at) >= DROP_LOG_INTERVAL);
                    if due {
                        last_drop_log.insert(reason, now);
                        debug!(source = %metadata.source, destination = %metadata.destination, ttl = metadata.ttl, %reason, "dropped BFD packet");
                    }
                }
            });
        }
        self.flush_outputs(now);
    }

    /// Sends the queued packets and delivers the queued state changes.
    fn flush_outputs(&mut self, now: Instant) {
        let mut outputs = std::mem::take(&mut self.outputs);
        for output in outputs.drain(..) {
            match output {
                Output::Transmit {
                    discriminator,
                    packet,
                } => self.transmit(discriminator, packet.as_bytes(), now),
                Output::StateChange {
                    discriminator,
                    change,
                } => self.notify(discriminator, change),
            }
        }
        self.outputs = outputs;
    }

    fn transmit(&mut self, discriminator: u32, payload: &[u8], now: Instant) {
        let Some((key, _)) = self.instance.session(discriminator) else {
            return;
        };
        if let Err(error) = send_for_key(
            &self.ipv4,
            &self.ipv6,
            &mut self.interfaces,
            key,
            payload,
            now,
        ) {
            debug!(session = %key, %error, "sending BFD packet failed");
            self.instance.count_send_error(discriminator);
        }
    }

    fn send_for_key(&mut self, key: &SessionKey, payload: &[u8], now: Instant) -> io::Result<()> {
        send_for_key(
            &self.ipv4,
            &self.ipv6,
            &mut self.interfaces,
            key,
            payload,
            now,
        )
    }

    fn notify(&mut self, discriminator: u32, change: StateChange) {
        let Some(ids) = self.by_session.get(&discriminator) else {
            return;
        };
        for id in ids {
            if let Some(subscriber) = self.subscribers.get(id) {
                let _ = subscriber.events.send(change);
                subscriber.latest.send_replace(change);
            }
        }
    }

    fn snapshots(&self, now: Instant) -> Vec<SessionSnapshot> {
        let mut snapshots: Vec<SessionSnapshot> = self
            .instance
            .sessions()
            .map(|(key, session)| {
                let params = session.params();
                SessionSnapshot {
                    peer: key.peer,
                    local: key.local,
                    interface: key.interface.clone(),
                    multihop: key.multihop,
                    state: session.state(),
                    remote_state: session.remote_state(),
                    local_diagnostic: session.local_diagnostic(),
                    remote_diagnostic: session.remote_diagnostic(),
                    local_discriminator: session.local_discriminator(),
                    remote_discriminator: session.remote_discriminator(),
                    detect_multiplier: params.detect_multiplier(),
                    remote_detect_multiplier: session.remote_detect_multiplier(),
                    desired_min_tx_us: params.desired_min_tx().as_micros() as u64,
                    required_min_rx_us: params.required_min_rx().as_micros() as u64,
                    remote_desired_min_tx_us: session.remote_desired_min_tx().as_micros() as u64,
                    remote_required_min_rx_us: session.remote_required_min_rx().as_micros() as u64,
                    timers: session.timers(),
                    poll_pending: session.poll_pending(),
                    uptime_ms: session
                        .up_since()
                        .map(|since| now.duration_since(since).as_millis() as u64),
                    clients: self
                        .by_session
                        .get(&session.local_discriminator())
                        .map_or(0, Vec::len),
                    counters: session.counters().clone(),
                }
            })
            .collect();
        snapshots.sort_by(|a, b| {
            (a.peer, a.local, &a.interface, a.multihop).cmp(&(
                b.peer,
                b.local,
                &b.interface,
                b.multihop,
            ))
        });
        snapshots
    }
}

/// Sends one packet on the path of the session for `key`.
fn send_for_key(
    ipv4: &FamilySockets,
    ipv6: &FamilySockets,
    interfaces: &mut Interfaces,
    key: &SessionKey,
    payload: &[u8],
    now: Instant,
) -> io::Result<()> {
    let family = if key.peer.is_ipv6() { ipv6 } else { ipv4 };
    let Some(socket) = &family.transmit else {
        return Err(io::Error::new(
            io::ErrorKind::NotConnected,
            "transmit socket not open",
        ));
    };
    let ifindex = match (&key.interface, key.multihop) {
        (Some(name), false) => interfaces.index(name, now),
        _ => 0,
    };
    send(
        socket,
        payload,
        peer_address(key.peer, key.port()),
        key.local,
        ifindex,
    )
}
