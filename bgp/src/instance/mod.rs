//! The sans-IO BGP instance: the configuration, the peers (explicit and dynamic) with their
//! sessions, and the [`Rib`]. It takes [`Input`]s and the current time and returns
//! [`Output`]s: socket work for the tokio layer and [`BgpEvent`]s for the owner.
//!
//! ```text
//!  tokio layer ──Input (accepted, connected, bytes, closed)──►┐
//!  owner ──Input (originate, next hop, BFD down, clear)──────►│ Instance ──Output::Connect/Send/Close──► tokio layer
//!  owner ──reconfigure / shutdown / show─────────────────────►│          ──Output::Event(BgpEvent)───► owner
//!                                                             └─ peers: Session per neighbor, one Rib
//! ```
//!
//! Graceful restart (RFC 4724) lives here because it spans sessions and the RIB. As helper the
//! instance keeps a restarting peer's routes stale and runs its restart and stale-path timers.
//! As restarting speaker it defers best-path selection and its own End-of-RIB (section 4.1).

mod peer;
mod reconfigure;
mod restart;

pub use peer::MalformedCounters;

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use ipnet::IpNet;
use tracing::{debug, info, warn};

use crate::config::{BgpConfig, ConfigError, PeerConfig};
use crate::message::{Notification, PathAttributes};
use crate::rib::{LocalInfo, PeerId, Rib, RibEvent, Route, TableSnapshot};
use crate::session::{
    Action, ConnId, DownReason, Endpoints, Event, GracefulRestartAdvert, Jitter, Session,
    SessionSettings, State,
};
use crate::types::AfiSafi;
use crate::wire::{DecodeError, cease_subcode, error_code};

use peer::Peer;
use restart::Deferral;

/// Settings of an instance that come from how it was started rather than from configuration.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// The owner restarted with its forwarding state preserved: the instance advertises
    /// Restart State and Forwarding State and defers best-path selection and its End-of-RIB
    /// (RFC 4724 section 4.1). Only meaningful with graceful restart enabled.
    pub restarted: bool,
    /// Seed of the timer jitter; a fixed seed makes runs comparable.
    pub seed: u64,
}

/// An event from the sockets or the owner.
#[derive(Debug, Clone)]
pub enum Input {
    /// Our connection attempt `conn` succeeded.
    Connected {
        conn: ConnId,
        local: SocketAddr,
        remote: SocketAddr,
    },
    /// Our connection attempt `conn` failed.
    ConnectFailed { conn: ConnId, error: String },
    /// The listener accepted a connection; `conn` comes from [`Instance::allocate_conn`].
    Accepted {
        conn: ConnId,
        local: SocketAddr,
        remote: SocketAddr,
    },
    /// One whole message (header included) read from `conn`.
    Received { conn: ConnId, frame: Vec<u8> },
    /// Several whole messages read from `conn` at once. The RIB's changes are encoded once for
    /// the batch, so that routes from many UPDATEs share the UPDATEs sent on.
    ReceivedMany { conn: ConnId, frames: Vec<Vec<u8>> },
    /// The byte stream of `conn` cannot be split into messages (bad marker or length).
    ReadError { conn: ConnId, error: DecodeError },
    /// `conn` was closed by the peer or failed.
    Closed { conn: ConnId },
    /// The reachability of a tracked next hop: its IGP cost, `None` when unreachable.
    NexthopUpdate {
        nexthop: IpAddr,
        igp_metric: Option<u32>,
    },
    /// The BFD session of a `track bfd` neighbor went from Up to Down.
    BfdDown { peer: IpAddr },
    /// The neighbor's address became reachable: a connection attempt waiting for the
    /// ConnectRetryTimer is made at once.
    PeerReachable { peer: IpAddr },
    /// Originate or replace a local route.
    Originate {
        afi_safi: AfiSafi,
        route: Route,
        attributes: Box<PathAttributes>,
    },
    /// Withdraw a local route.
    Withdraw { afi_safi: AfiSafi, route: Route },
    /// Clear one neighbor, or every neighbor when `peer` is `None`.
    Clear {
        peer: Option<IpAddr>,
        kind: ClearKind,
    },
    /// After a restart: the owner has originated every local route it had, so End-of-RIB may
    /// be sent once the peers' End-of-RIB markers are in (RFC 4724 section 4.1).
    LocalRoutesReady,
}

/// The kind of `clear` applied to a neighbor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClearKind {
    /// Reset the session (Cease, Administrative Reset) and start it again.
    Hard,
    /// Re-apply inbound policy (kept pre-policy paths or ROUTE-REFRESH).
    SoftIn,
    /// Send the Adj-RIB-Out again.
    SoftOut,
}

/// Socket settings of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketSettings {
    /// TTL of outgoing packets.
    pub ttl: u8,
    /// GTSM minimum TTL of received packets (RFC 5082).
    pub min_ttl: Option<u8>,
    /// TCP-MD5 key (RFC 2385).
    pub md5_key: Option<String>,
}

/// Work for the tokio layer, or an event for the owner.
#[derive(Debug, Clone)]
pub enum Output {
    /// Open a connection to `remote`, from `local` when given, with `settings`.
    Connect {
        conn: ConnId,
        remote: SocketAddr,
        local: Option<IpAddr>,
        settings: SocketSettings,
    },
    /// Start reading and writing an accepted connection after applying `settings`.
    Accept {
        conn: ConnId,
        settings: SocketSettings,
    },
    /// Write `data` to `conn`.
    Send { conn: ConnId, data: Vec<u8> },
    /// Close `conn` once what was queued before is written (or drop it if never started).
    Close { conn: ConnId },
    /// Install (`Some`) or remove (`None`) a TCP-MD5 key for connections from `prefix` on
    /// the listening sockets.
    ListenerKey { prefix: IpNet, key: Option<String> },
    /// Something for the owner.
    Event(BgpEvent),
}

/// An event for the instance's owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BgpEvent {
    /// A best path changed, or a next hop must be tracked or no longer.
    Rib(RibEvent),
    /// Register a BFD session for a `track bfd` neighbor.
    BfdRegister {
        peer: IpAddr,
        local: IpAddr,
        multihop: bool,
    },
    /// The BFD session of `peer` is no longer needed.
    BfdUnregister { peer: IpAddr },
    /// A session changed state.
    SessionState {
        peer: IpAddr,
        from: State,
        to: State,
        dynamic: bool,
    },
}

/// A BGP instance.
#[derive(Debug)]
pub struct Instance {
    pub(crate) config: BgpConfig,
    pub(crate) rib: Rib,
    pub(crate) peers: BTreeMap<IpAddr, Peer>,
    /// The peer of each open or pending connection.
    conns: HashMap<ConnId, IpAddr>,
    ids: Arc<AtomicU64>,
    next_peer_id: u32,
    seeds: Jitter,
    /// TCP-MD5 keys installed on the listening sockets.
    listener_keys: BTreeMap<IpNet, String>,
    deferral: Option<Deferral>,
    started_at: Instant,
    shutting_down: bool,
    /// Connections from addresses that are neither neighbors nor in a listen range.
    pub(crate) rejected_connections: u64,
    outputs: Vec<Output>,
}

impl Instance {
    /// Builds an instance and starts every neighbor that is not shut down. The returned
    /// outputs install the listener keys and open the first connections.
    pub fn new(
        now: Instant,
        config: BgpConfig,
        options: StartOptions,
    ) -> Result<(Instance, Vec<Output>), ConfigError> {
        config.validate()?;
        let rib = Rib::new(local_info(&config), config.policy.clone());
        let restarted = options.restarted && config.graceful_restart.enabled;
        let deferral = restarted.then(|| Deferral::new(now, &config.graceful_restart));
        let mut instance = Instance {
            config,
            rib,
            peers: BTreeMap::new(),
            conns: HashMap::new(),
            ids: Arc::new(AtomicU64::new(0)),
            next_peer_id: 1,
            seeds: Jitter::new(options.seed),
            listener_keys: BTreeMap::new(),
            deferral,
            started_at: now,
            shutting_down: false,
            rejected_connections: 0,
            outputs: Vec::new(),
        };
        if restarted {
            info!("started after a graceful restart: deferring best-path selection");
        }
        let addresses: Vec<IpAddr> = instance.config.neighbors.keys().copied().collect();
        for address in addresses {
            let config = instance.config.neighbor_config(address)?;
            instance.add_peer(now, config);
        }
        instance.sync_listener_keys();
        let outputs = std::mem::take(&mut instance.outputs);
        Ok((instance, outputs))
    }

    pub fn config(&self) -> &BgpConfig {
        &self.config
    }

    pub fn rib(&self) -> &Rib {
        &self.rib
    }

    /// Returns the Loc-RIB of a family.
    pub fn table(&self, afi_safi: AfiSafi) -> TableSnapshot {
        self.rib.table(afi_safi)
    }

    /// Returns a fresh connection id for an accepted connection.
    pub fn allocate_conn(&self) -> ConnId {
        ConnId(self.ids.fetch_add(1, Ordering::Relaxed) + 1)
    }

    /// Returns whether [`Instance::shutdown`] ran.
    pub fn is_shut_down(&self) -> bool {
        self.shutting_down
    }

    /// Handles one input.
    pub fn handle(&mut self, now: Instant, input: Input) -> Vec<Output> {
        match input {
            Input::Connected {
                conn,
                local,
                remote,
            } => {
                let event = Event::TcpCrAcked(conn, Endpoints { local, remote });
                self.session_event(now, conn, event);
            }
            Input::ConnectFailed { conn, error } => {
                if let Some(address) = self.conns.get(&conn) {
                    debug!(peer = %address, %conn, %error, "connection attempt failed");
                }
                self.session_event(now, conn, Event::TcpConnectionFails(conn));
            }
            Input::Accepted {
                conn,
                local,
                remote,
            } => self.accepted(now, conn, local, remote),
            Input::Received { conn, frame } => self.received(now, conn, &frame),
            Input::ReceivedMany { conn, frames } => {
                for frame in frames {
                    if !self.conns.contains_key(&conn) {
                        break;
                    }
                    self.received(now, conn, &frame);
                }
            }
            Input::ReadError { conn, error } => {
                let event = Event::BgpHeaderErr(conn, error.notification);
                self.session_event(now, conn, event);
            }
            Input::Closed { conn } => {
                self.session_event(now, conn, Event::TcpConnectionFails(conn))
            }
            Input::NexthopUpdate {
                nexthop,
                igp_metric,
            } => self.rib.nexthop_update(nexthop, igp_metric),
            Input::BfdDown { peer } => self.bfd_down(now, peer),
            Input::PeerReachable { peer } => {
                if let Some(state) = self.peers.get_mut(&peer) {
                    if state.session.expedite_connect_retry(now) {
                        debug!(%peer, "neighbor reachable: connecting within 100 ms");
                        let actions = state.session.poll(now);
                        self.apply(now, peer, actions);
                    }
                }
            }
            Input::Originate {
                afi_safi,
                route,
                attributes,
            } => self.rib.originate(afi_safi, route, *attributes),
            Input::Withdraw { afi_safi, route } => self.rib.withdraw_local(afi_safi, &route),
            Input::Clear { peer, kind } => self.clear(now, peer, kind),
            Input::LocalRoutesReady => {
                if let Some(deferral) = &mut self.deferral {
                    info!("local routes ready after restart");
                    deferral.local_ready = true;
                }
            }
        }
        self.check_deferral(now);
        self.drain_rib(now);
        std::mem::take(&mut self.outputs)
    }

    /// Raises the timers that are due.
    pub fn poll_timers(&mut self, now: Instant) -> Vec<Output> {
        let addresses: Vec<IpAddr> = self.peers.keys().copied().collect();
        for address in addresses {
            let Some(peer) = self.peers.get_mut(&address) else {
                continue;
            };
            if peer.session.next_deadline().is_some_and(|d| d <= now) {
                let actions = peer.session.poll(now);
                self.apply(now, address, actions);
            }
            self.poll_helper(now, address);
        }
        if self.deferral.as_ref().is_some_and(|d| d.deadline <= now) {
            warn!("graceful restart selection deferral timer expired");
            self.finish_deferral(now);
        }
        self.check_deferral(now);
        self.drain_rib(now);
        std::mem::take(&mut self.outputs)
    }

    /// Returns the earliest deadline of any timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.peers
            .values()
            .flat_map(|p| [p.session.next_deadline(), p.helper_deadline()])
            .chain([self.deferral.as_ref().map(|d| d.deadline)])
            .flatten()
            .min()
    }

    /// Stops every session. With `graceful` (a graceful restart follows), connections are
    /// closed without a NOTIFICATION and nothing is withdrawn, so that helpers keep our routes
    /// (RFC 4724 section 4.1). Otherwise each session gets a Cease, Administrative Shutdown
    /// (as Hard Reset under RFC 8538), and the routes are withdrawn.
    pub fn shutdown(&mut self, now: Instant, graceful: bool) -> Vec<Output> {
        info!(graceful, "BGP instance shutting down");
        let addresses: Vec<IpAddr> = self.peers.keys().copied().collect();
        for address in addresses {
            let Some(peer) = self.peers.get_mut(&address) else {
                continue;
            };
            let actions = if graceful {
                peer.session.drop_connections(now, DownReason::LocalRestart)
            } else {
                let n = Notification::with_shutdown_communication(
                    cease_subcode::ADMINISTRATIVE_SHUTDOWN,
                    "BGP instance shutting down",
                );
                peer.session.handle(now, Event::ManualStop(n))
            };
            self.apply(now, address, actions);
        }
        if !graceful {
            // Every session is down, so this only passes the withdrawals on to the owner.
            self.drain_rib(now);
        }
        self.shutting_down = true;
        std::mem::take(&mut self.outputs)
    }

    fn session_event(&mut self, now: Instant, conn: ConnId, event: Event) {
        let Some(address) = self.conns.get(&conn).copied() else {
            // A connection already closed on our side, or rejected.
            self.outputs.push(Output::Close { conn });
            return;
        };
        let Some(peer) = self.peers.get_mut(&address) else {
            self.conns.remove(&conn);
            self.outputs.push(Output::Close { conn });
            return;
        };
        let actions = peer.session.handle(now, event);
        self.apply(now, address, actions);
    }

    fn received(&mut self, now: Instant, conn: ConnId, frame: &[u8]) {
        let Some(address) = self.conns.get(&conn).copied() else {
            return;
        };
        let Some(peer) = self.peers.get_mut(&address) else {
            return;
        };
        let actions = peer.session.receive(now, conn, frame);
        self.apply(now, address, actions);
    }

    fn accepted(&mut self, now: Instant, conn: ConnId, local: SocketAddr, remote: SocketAddr) {
        let address = canonical(remote.ip());
        if self.shutting_down {
            self.outputs.push(Output::Close { conn });
            return;
        }
        if !self.peers.contains_key(&address) {
            let Some(range) = self.config.listen_range_for(address).cloned() else {
                self.rejected_connections += 1;
                debug!(peer = %address, "connection from an unknown address rejected");
                self.outputs.push(Output::Close { conn });
                return;
            };
            match self.config.dynamic_config(address, &range.group) {
                Ok(config) => {
                    info!(peer = %address, range = %range.prefix, group = %range.group,
                        "dynamic neighbor accepted");
                    self.add_peer(now, config);
                }
                Err(error) => {
                    warn!(peer = %address, %error, "dynamic neighbor rejected");
                    self.outputs.push(Output::Close { conn });
                    return;
                }
            }
        }
        let Some(peer) = self.peers.get_mut(&address) else {
            return;
        };
        if !peer.session.accepts_connection() {
            debug!(peer = %address, state = %peer.session.state(), "incoming connection rejected");
            self.outputs.push(Output::Close { conn });
            return;
        }
        self.conns.insert(conn, address);
        let settings = socket_settings(&peer.config, self.config.asn);
        self.outputs.push(Output::Accept { conn, settings });
        let endpoints = Endpoints { local, remote };
        let actions = peer
            .session
            .handle(now, Event::TcpConnectionConfirmed(conn, endpoints));
        self.apply(now, address, actions);
    }

    fn bfd_down(&mut self, now: Instant, address: IpAddr) {
        let Some(peer) = self.peers.get_mut(&address) else {
            return;
        };
        if !peer.config.track_bfd || peer.session.state() < State::OpenSent {
            return;
        }
        info!(peer = %address, "BFD down: closing the session");
        let actions = peer.session.drop_connections(now, DownReason::BfdDown);
        self.apply(now, address, actions);
    }

    fn clear(&mut self, now: Instant, target: Option<IpAddr>, kind: ClearKind) {
        let addresses: Vec<IpAddr> = match target {
            Some(address) => vec![address],
            None => self.peers.keys().copied().collect(),
        };
        for address in addresses {
            let Some(peer) = self.peers.get_mut(&address) else {
                continue;
            };
            let id = peer.id;
            let families = peer.negotiated_families();
            match kind {
                ClearKind::Hard => {
                    info!(peer = %address, "hard clear");
                    let actions = if peer.config.shutdown {
                        Vec::new()
                    } else if peer.session.is_stopped() || peer.session.state() == State::Idle {
                        peer.session.handle(now, Event::ManualStart)
                    } else {
                        let n = Notification {
                            code: error_code::CEASE,
                            subcode: cease_subcode::ADMINISTRATIVE_RESET,
                            data: Vec::new(),
                        };
                        peer.session.reset(now, n)
                    };
                    self.apply(now, address, actions);
                }
                ClearKind::SoftIn if peer.rib_up => {
                    for afi_safi in families {
                        self.rib.soft_reset_in(id, afi_safi);
                    }
                }
                ClearKind::SoftOut if peer.rib_up => {
                    for afi_safi in families {
                        self.rib.route_refresh(id, afi_safi);
                    }
                }
                _ => {}
            }
        }
    }

    /// Creates a peer and starts it unless it is shut down.
    fn add_peer(&mut self, now: Instant, config: PeerConfig) {
        let address = config.address;
        let id = PeerId(self.next_peer_id);
        self.next_peer_id += 1;
        let settings = self.session_settings(config.clone());
        let session = Session::new(settings, self.ids.clone(), self.seeds.next_u64());
        let start = !config.shutdown;
        self.peers.insert(address, Peer::new(id, config, session));
        if start {
            let actions = self
                .peers
                .get_mut(&address)
                .map(|p| p.session.handle(now, Event::ManualStart))
                .unwrap_or_default();
            self.apply(now, address, actions);
        }
    }

    /// Removes a peer: stops its session with `notification`, withdraws its routes, and
    /// releases its BFD session.
    fn remove_peer(&mut self, now: Instant, address: IpAddr, notification: Option<Notification>) {
        if let Some(n) = notification
            && let Some(peer) = self.peers.get_mut(&address)
        {
            let actions = peer.session.handle(now, Event::ManualStop(n));
            self.apply(now, address, actions);
        }
        let Some(peer) = self.peers.remove(&address) else {
            return;
        };
        if peer.rib_up || peer.helper.is_some() {
            self.rib.peer_down(peer.id, &[]);
        }
        self.conns.retain(|_, a| *a != address);
        if peer.bfd.is_some() {
            self.outputs
                .push(Output::Event(BgpEvent::BfdUnregister { peer: address }));
        }
        info!(peer = %address, dynamic = peer.config.dynamic, "neighbor removed");
    }

    fn session_settings(&self, peer: PeerConfig) -> SessionSettings {
        let gr = &self.config.graceful_restart;
        SessionSettings {
            local_as: self.config.asn,
            router_id: self.config.router_id,
            peer,
            graceful_restart: gr.enabled.then_some(GracefulRestartAdvert {
                restart_time: gr.restart_time,
                restarting: self.deferral.is_some(),
            }),
        }
    }

    /// Carries out a session's actions for the peer at `address`.
    fn apply(&mut self, now: Instant, address: IpAddr, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Connect(conn) => {
                    let Some(peer) = self.peers.get(&address) else {
                        continue;
                    };
                    self.conns.insert(conn, address);
                    self.outputs.push(Output::Connect {
                        conn,
                        remote: SocketAddr::new(address, peer.config.port),
                        local: peer.config.update_source,
                        settings: socket_settings(&peer.config, self.config.asn),
                    });
                }
                Action::Send { conn, data } => self.outputs.push(Output::Send { conn, data }),
                Action::Close(conn) => {
                    self.conns.remove(&conn);
                    self.outputs.push(Output::Close { conn });
                }
                Action::StateChanged { from, to } => {
                    let dynamic = self.peers.get(&address).is_some_and(|p| p.config.dynamic);
                    self.outputs.push(Output::Event(BgpEvent::SessionState {
                        peer: address,
                        from,
                        to,
                        dynamic,
                    }));
                }
                Action::Established => self.peer_established(now, address),
                Action::Down(reason) => self.peer_down(now, address, reason),
                Action::Update(update) => self.peer_update(now, address, *update),
                Action::RouteRefresh(refresh) => self.peer_route_refresh(address, refresh),
            }
        }
        // A dynamic neighbor whose session went down and keeps no stale routes goes away.
        let remove = self.peers.get(&address).is_some_and(|p| {
            p.config.dynamic && p.session.state() == State::Idle && p.helper.is_none()
        });
        if remove {
            self.remove_peer(now, address, None);
        }
    }

    /// Sends what the RIB queued for each peer and passes its events on.
    fn drain_rib(&mut self, now: Instant) {
        if self.shutting_down {
            return;
        }
        let ready: Vec<(IpAddr, PeerId)> = self
            .peers
            .iter()
            .filter(|(_, p)| p.rib_up)
            .map(|(a, p)| (*a, p.id))
            .collect();
        for (address, id) in ready {
            let messages = self.rib.take_updates(id);
            if messages.is_empty() {
                continue;
            }
            if let Some(peer) = self.peers.get_mut(&address) {
                let actions = peer.session.send_messages(now, messages);
                self.apply(now, address, actions);
            }
        }
        for event in self.rib.take_events() {
            match event {
                RibEvent::SendRouteRefresh { peer, afi_safi } => {
                    let Some((address, p)) = self.peers.iter_mut().find(|(_, p)| p.id == peer)
                    else {
                        continue;
                    };
                    let address = *address;
                    let actions = p.session.send_route_refresh(afi_safi);
                    self.apply(now, address, actions);
                }
                event => self.outputs.push(Output::Event(BgpEvent::Rib(event))),
            }
        }
    }

    /// Makes the listener keys match the configuration: one per neighbor with a password, one
    /// per listen range whose group has one.
    fn sync_listener_keys(&mut self) {
        let mut wanted: BTreeMap<IpNet, String> = BTreeMap::new();
        for peer in self.peers.values().filter(|p| !p.config.dynamic) {
            if let Some(key) = &peer.config.password {
                wanted.insert(IpNet::from(peer.config.address), key.clone());
            }
        }
        for range in &self.config.listen_ranges {
            if let Some(key) = self
                .config
                .groups
                .get(&range.group)
                .and_then(|g| g.password.clone())
            {
                wanted.entry(range.prefix).or_insert(key);
            }
        }
        let removed: Vec<IpNet> = self
            .listener_keys
            .keys()
            .filter(|prefix| !wanted.contains_key(prefix))
            .copied()
            .collect();
        for prefix in removed {
            self.listener_keys.remove(&prefix);
            self.outputs.push(Output::ListenerKey { prefix, key: None });
        }
        for (prefix, key) in wanted {
            if self.listener_keys.get(&prefix) != Some(&key) {
                self.listener_keys.insert(prefix, key.clone());
                self.outputs.push(Output::ListenerKey {
                    prefix,
                    key: Some(key),
                });
            }
        }
    }

    /// Returns the time since the instance started.
    pub fn uptime(&self, now: Instant) -> std::time::Duration {
        now.saturating_duration_since(self.started_at)
    }
}

/// Returns the RIB's view of the instance identity.
fn local_info(config: &BgpConfig) -> LocalInfo {
    LocalInfo {
        asn: config.asn,
        router_id: config.router_id,
        cluster_id: config.cluster_id(),
        ebgp_requires_policy: config.ebgp_requires_policy,
    }
}

fn socket_settings(config: &PeerConfig, local_as: u32) -> SocketSettings {
    SocketSettings {
        ttl: config.ttl(local_as),
        min_ttl: config.min_ttl(),
        md5_key: config.password.clone(),
    }
}

/// Maps an IPv4-mapped IPv6 address (from a dual-stack listener) to IPv4.
pub(crate) fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests;
