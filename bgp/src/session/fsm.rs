//! The per-peer state machine of RFC 4271 section 8.2.2.
//!
//! A session tracks at most two connections, one we opened and one the peer opened, each with
//! its own OpenSent / OpenConfirm / Established phase; collision detection (section 6.8) keeps
//! one of them. A connection the peer opens while the session is Established loses to it
//! (RFC 4271 section 6.8) and is closed with a Cease at once, unless graceful restart was
//! negotiated on the session. Then the connection is held apart until its OPEN decides it. A
//! valid OPEN means the peer restarted (RFC 4724 section 4.2), and the new connection replaces
//! the old one. An invalid OPEN gets its NOTIFICATION on the new connection alone. The
//! mere arrival of a connection never touches the Established one, so a stray or forged
//! connection from the peer's address cannot tear the session down.
//!
//! The RFC state of the session is that of its most advanced connection, else
//! Connect while our attempt is pending, Active while waiting for the ConnectRetryTimer or an
//! incoming connection, and Idle when stopped.
//!
//! Optional session attributes of section 8.1.1 in use: passive TCP establishment per neighbor,
//! and an IdleHoldTimer that doubles after each failure short of Established (the intent of
//! DampPeerOscillations). DelayOpen is not used.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use super::capabilities::{Negotiated, build_open, local_wins_collision, negotiate};
use super::counters::SessionCounters;
use super::jitter::Jitter;
use super::{
    Action, ConnId, Direction, DownReason, Endpoints, Event, LastError, State, fsm_subcode,
};
use crate::config::PeerConfig;
use crate::message::{Message, Notification, Open, RouteRefresh};
use crate::types::AfiSafi;
use crate::wire::{
    DecodedMessage, SessionContext, cease_subcode, decode_message, error_code, message_type,
    open_subcode,
};

/// The hold timer before the peer's OPEN arrives (RFC 4271 section 8.2.2 suggests 4 minutes).
const LARGE_HOLD_TIME: Duration = Duration::from_secs(240);
/// First IdleHoldTimer interval after a session failure.
const IDLE_HOLD_BASE: Duration = Duration::from_secs(1);
/// The maximum random delay of a connection attempt brought forward by reachability.
const EXPEDITED_CONNECT_SPREAD: Duration = Duration::from_millis(100);
/// Upper bound of the doubling IdleHoldTimer.
const IDLE_HOLD_MAX: Duration = Duration::from_secs(60);

/// What a session needs from the instance and the neighbor's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSettings {
    pub local_as: u32,
    pub router_id: Ipv4Addr,
    pub peer: PeerConfig,
    /// Advertise graceful restart (RFC 4724) with these values; `None` when disabled.
    pub graceful_restart: Option<GracefulRestartAdvert>,
}

/// The graceful restart capability this speaker advertises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GracefulRestartAdvert {
    /// Seconds.
    pub restart_time: u16,
    /// Set Restart State and Forwarding State: the instance restarted with forwarding preserved.
    pub restarting: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Connecting,
    OpenSent,
    OpenConfirm,
    Established,
}

#[derive(Debug)]
struct Connection {
    id: ConnId,
    direction: Direction,
    phase: Phase,
    endpoints: Option<Endpoints>,
    local_open: Option<Open>,
    negotiated: Option<Negotiated>,
    hold_deadline: Option<Instant>,
    keepalive_deadline: Option<Instant>,
}

impl Connection {
    fn new(id: ConnId, direction: Direction) -> Connection {
        Connection {
            id,
            direction,
            phase: Phase::Connecting,
            endpoints: None,
            local_open: None,
            negotiated: None,
            hold_deadline: None,
            keepalive_deadline: None,
        }
    }
}

/// One peer's session.
#[derive(Debug)]
pub struct Session {
    settings: SessionSettings,
    state: State,
    outgoing: Option<Connection>,
    incoming: Option<Connection>,
    /// A connection the peer opened while the session is Established, waiting for its OPEN.
    /// It never reaches OpenConfirm here: its OPEN either moves it to `incoming` (the peer
    /// restarted) or closes it.
    pending: Option<Connection>,
    /// Started and not Idle.
    running: bool,
    /// ManualStop: no AutomaticStart until the next ManualStart.
    stopped: bool,
    connect_retry_deadline: Option<Instant>,
    connect_retry_counter: u32,
    idle_hold_deadline: Option<Instant>,
    idle_hold: Duration,
    established_at: Option<Instant>,
    ids: Arc<AtomicU64>,
    jitter: Jitter,
    counters: SessionCounters,
    last_error: Option<LastError>,
    actions: Vec<Action>,
}

impl Session {
    /// Builds an Idle session. `ids` allocates connection ids (shared by the instance's
    /// sessions and its listener); `seed` seeds the timer jitter.
    pub fn new(settings: SessionSettings, ids: Arc<AtomicU64>, seed: u64) -> Session {
        Session {
            settings,
            state: State::Idle,
            outgoing: None,
            incoming: None,
            pending: None,
            running: false,
            stopped: false,
            connect_retry_deadline: None,
            connect_retry_counter: 0,
            idle_hold_deadline: None,
            idle_hold: IDLE_HOLD_BASE,
            established_at: None,
            ids,
            jitter: Jitter::new(seed),
            counters: SessionCounters::default(),
            last_error: None,
            actions: Vec::new(),
        }
    }

    fn peer(&self) -> std::net::IpAddr {
        self.settings.peer.address
    }

    pub fn settings(&self) -> &SessionSettings {
        &self.settings
    }

    /// Replaces the settings. Changes that alter the OPEN apply from the next connection; the
    /// instance resets the session when they must apply now.
    pub fn set_settings(&mut self, settings: SessionSettings) {
        self.settings = settings;
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn counters(&self) -> &SessionCounters {
        &self.counters
    }

    pub fn last_error(&self) -> Option<&LastError> {
        self.last_error.as_ref()
    }

    pub fn connect_retry_counter(&self) -> u32 {
        self.connect_retry_counter
    }

    /// When the session last reached Established, while it is.
    pub fn established_at(&self) -> Option<Instant> {
        self.established_at
    }

    /// Whether a ManualStop holds the session Idle.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    fn established(&self) -> Option<&Connection> {
        [&self.outgoing, &self.incoming]
            .into_iter()
            .flatten()
            .find(|c| c.phase == Phase::Established)
    }

    /// What the OPEN exchange of the Established connection settled.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.established().and_then(|c| c.negotiated.as_ref())
    }

    /// The addresses of the Established connection.
    pub fn endpoints(&self) -> Option<Endpoints> {
        self.established().and_then(|c| c.endpoints)
    }

    /// The Established connection's id.
    pub fn established_conn(&self) -> Option<ConnId> {
        self.established().map(|c| c.id)
    }

    /// Whether `conn` belongs to this session.
    pub fn owns(&self, conn: ConnId) -> bool {
        self.conn(conn).is_some()
    }

    /// Whether an incoming connection would be taken: not while administratively stopped.
    /// While Established a new connection is taken too, and then refused with a Cease or, with
    /// graceful restart, held apart until its OPEN shows whether the peer restarted.
    pub fn accepts_connection(&self) -> bool {
        !self.stopped
    }

    /// Returns the earliest timer deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        let conns = [&self.outgoing, &self.incoming, &self.pending]
            .into_iter()
            .flatten();
        conns
            .flat_map(|c| [c.hold_deadline, c.keepalive_deadline])
            .chain([self.connect_retry_deadline, self.idle_hold_deadline])
            .flatten()
            .min()
    }

    /// Raises the timer events that are due.
    pub fn poll(&mut self, now: Instant) -> Vec<Action> {
        // Each expiry clears or moves its deadline, so the loop ends; the bound is a guard.
        for _ in 0..16 {
            let event = if self.idle_hold_deadline.is_some_and(|d| d <= now) {
                self.idle_hold_deadline = None;
                Event::AutomaticStart
            } else if self.connect_retry_deadline.is_some_and(|d| d <= now) {
                self.connect_retry_deadline = None;
                Event::ConnectRetryTimerExpires
            } else if let Some(conn) = self.expired(now, |c| c.hold_deadline) {
                Event::HoldTimerExpires(conn)
            } else if let Some(conn) = self.expired(now, |c| c.keepalive_deadline) {
                Event::KeepaliveTimerExpires(conn)
            } else {
                break;
            };
            self.dispatch(now, event);
        }
        self.finish()
    }

    /// Brings the ConnectRetryTimer forward to at most 100 ms after `now` when the session waits
    /// in Active for it with no connection of its own under way, so that [`Session::poll`]
    /// attempts a connection almost at once. The owner calls it when the peer's address has just become reachable: the
    /// attempt that failed for lack of a route need not wait out the whole interval.
    pub fn expedite_connect_retry(&mut self, now: Instant) -> bool {
        if self.running
            && self.outgoing.is_none()
            && self.connect_retry_deadline.is_some_and(|d| d > now)
        {
            // Both ends of a session usually learn at the same instant that the other became
            // reachable, from the same IGP convergence. A short random delay keeps their
            // connections from crossing and colliding (RFC 4271 section 6.8).
            self.connect_retry_deadline = Some(now + self.jitter.spread(EXPEDITED_CONNECT_SPREAD));
            return true;
        }
        false
    }

    fn expired(
        &self,
        now: Instant,
        deadline: fn(&Connection) -> Option<Instant>,
    ) -> Option<ConnId> {
        [&self.outgoing, &self.incoming, &self.pending]
            .into_iter()
            .flatten()
            .find(|c| deadline(c).is_some_and(|d| d <= now))
            .map(|c| c.id)
    }

    /// Handles one event.
    pub fn handle(&mut self, now: Instant, event: Event) -> Vec<Action> {
        self.dispatch(now, event);
        self.finish()
    }

    /// Decodes one framed message received on `conn` and handles it.
    pub fn receive(&mut self, now: Instant, conn: ConnId, frame: &[u8]) -> Vec<Action> {
        let Some(c) = self.conn(conn) else {
            return Vec::new();
        };
        let default = SessionContext::default();
        let ctx = c.negotiated.as_ref().map_or(&default, |n| &n.receive);
        let decoded = decode_message(frame, ctx);
        let kind = frame.get(18).copied().unwrap_or(0);
        self.counters.count_in(kind);
        let event = match decoded {
            Ok(DecodedMessage::Open(open)) => Event::BgpOpen(conn, Box::new(open)),
            Ok(DecodedMessage::Update(update)) => Event::UpdateMsg(conn, Box::new(update)),
            Ok(DecodedMessage::Notification(n)) => {
                if n.code == error_code::OPEN_MESSAGE
                    && n.subcode == open_subcode::UNSUPPORTED_VERSION_NUMBER
                {
                    Event::NotifMsgVerErr(conn, n)
                } else {
                    Event::NotifMsg(conn, n)
                }
            }
            Ok(DecodedMessage::Keepalive) => Event::KeepAliveMsg(conn),
            Ok(DecodedMessage::RouteRefresh(r)) => Event::RouteRefreshMsg(conn, r),
            Err(error) => {
                debug!(peer = %self.peer(), %conn, %error, "message rejected");
                let n = error.notification;
                match n.code {
                    error_code::OPEN_MESSAGE => Event::BgpOpenMsgErr(conn, n),
                    error_code::UPDATE_MESSAGE => Event::UpdateMsgErr(conn, n),
                    error_code::ROUTE_REFRESH_MESSAGE => Event::RouteRefreshMsgErr(conn, n),
                    _ => Event::BgpHeaderErr(conn, n),
                }
            }
        };
        self.handle(now, event)
    }

    /// Sends whole encoded messages (UPDATEs, End-of-RIB, ROUTE-REFRESH) on the Established
    /// connection. Nothing is sent when the session is not Established.
    pub fn send_messages(&mut self, now: Instant, messages: Vec<Vec<u8>>) -> Vec<Action> {
        let Some(conn) = self.established_conn() else {
            return Vec::new();
        };
        if messages.is_empty() {
            return Vec::new();
        }
        let mut data = Vec::with_capacity(messages.iter().map(Vec::len).sum());
        let mut update_sent = false;
        for message in &messages {
            let kind = message.get(18).copied().unwrap_or(0);
            update_sent |= kind == message_type::UPDATE;
            self.counters.count_out_kind(kind);
            data.extend_from_slice(message);
        }
        self.actions.push(Action::Send { conn, data });
        // RFC 4271 section 10: an UPDATE counts as a keepalive.
        if update_sent {
            self.restart_keepalive(now, conn);
        }
        self.finish()
    }

    /// Sends a ROUTE-REFRESH for `afi_safi` when the peer supports it (RFC 2918).
    pub fn send_route_refresh(&mut self, afi_safi: AfiSafi) -> Vec<Action> {
        let supported = self
            .negotiated()
            .is_some_and(|n| n.route_refresh && n.families.contains(&afi_safi));
        if let (true, Some(conn)) = (supported, self.established_conn()) {
            self.send(
                conn,
                &Message::RouteRefresh(RouteRefresh {
                    afi_safi,
                    subtype: RouteRefresh::NORMAL,
                }),
            );
        }
        self.finish()
    }

    /// Ends every connection with `notification` and goes Idle, to start again after the
    /// IdleHoldTimer: an administrative reset, or an error found outside the session (maximum
    /// prefixes with `restart`, RFC 7606 session reset).
    pub fn reset(&mut self, now: Instant, notification: Notification) -> Vec<Action> {
        let reason = DownReason::NotificationSent((&notification).into());
        self.close_all(now, Some(&notification), reason);
        self.go_idle(now, true);
        self.finish()
    }

    /// Closes every connection without a NOTIFICATION: BFD found the path dead (the session
    /// starts again after the IdleHoldTimer), or the instance stops for a graceful restart
    /// (`LocalRestart`, no restart).
    pub fn drop_connections(&mut self, now: Instant, reason: DownReason) -> Vec<Action> {
        let restart = reason != DownReason::LocalRestart;
        self.close_all(now, None, reason);
        self.go_idle(now, restart);
        self.finish()
    }

    fn finish(&mut self) -> Vec<Action> {
        self.update_state();
        std::mem::take(&mut self.actions)
    }

    fn update_state(&mut self) {
        let phase = [&self.outgoing, &self.incoming]
            .into_iter()
            .flatten()
            .map(|c| c.phase)
            .max();
        let state = match phase {
            Some(Phase::Established) => State::Established,
            Some(Phase::OpenConfirm) => State::OpenConfirm,
            Some(Phase::OpenSent) => State::OpenSent,
            Some(Phase::Connecting) => State::Connect,
            None if self.running => State::Active,
            None => State::Idle,
        };
        if state != self.state {
            let from = self.state;
            self.state = state;
            info!(peer = %self.peer(), %from, to = %state, "session state changed");
            self.actions.push(Action::StateChanged { from, to: state });
        }
    }

    fn conn(&self, id: ConnId) -> Option<&Connection> {
        [&self.outgoing, &self.incoming, &self.pending]
            .into_iter()
            .flatten()
            .find(|c| c.id == id)
    }

    fn conn_mut(&mut self, id: ConnId) -> Option<&mut Connection> {
        [&mut self.outgoing, &mut self.incoming, &mut self.pending]
            .into_iter()
            .flatten()
            .find(|c| c.id == id)
    }

    fn take_conn(&mut self, id: ConnId) -> Option<Connection> {
        if self.outgoing.as_ref().is_some_and(|c| c.id == id) {
            return self.outgoing.take();
        }
        if self.incoming.as_ref().is_some_and(|c| c.id == id) {
            return self.incoming.take();
        }
        if self.pending.as_ref().is_some_and(|c| c.id == id) {
            return self.pending.take();
        }
        None
    }

    fn is_pending(&self, id: ConnId) -> bool {
        self.pending.as_ref().is_some_and(|c| c.id == id)
    }

    /// The other of the outgoing and incoming connections; a pending connection is never one.
    fn other(&self, id: ConnId) -> Option<&Connection> {
        [&self.outgoing, &self.incoming]
            .into_iter()
            .flatten()
            .find(|c| c.id != id)
    }

    fn dispatch(&mut self, now: Instant, event: Event) {
        match event {
            Event::ManualStart => {
                self.stopped = false;
                self.connect_retry_counter = 0;
                self.idle_hold = IDLE_HOLD_BASE;
                self.start(now);
            }
            Event::AutomaticStart => {
                if !self.stopped {
                    self.start(now);
                }
            }
            Event::ManualStop(notification) => {
                let reason = DownReason::NotificationSent((&notification).into());
                self.close_all(now, Some(&notification), reason);
                self.stopped = true;
                self.connect_retry_counter = 0;
                self.go_idle(now, false);
            }
            Event::ConnectRetryTimerExpires => self.connect_retry_expired(now),
            Event::HoldTimerExpires(conn) => {
                let n = Notification {
                    code: error_code::HOLD_TIMER_EXPIRED,
                    subcode: 0,
                    data: Vec::new(),
                };
                self.fail(now, conn, Some(n), DownReason::HoldTimerExpired);
            }
            Event::KeepaliveTimerExpires(conn) => {
                self.send(conn, &Message::Keepalive);
                self.restart_keepalive(now, conn);
            }
            Event::TcpCrAcked(conn, endpoints) => self.tcp_cr_acked(now, conn, endpoints),
            Event::TcpConnectionConfirmed(conn, endpoints) => {
                self.tcp_connection_confirmed(now, conn, endpoints)
            }
            Event::TcpConnectionFails(conn) => self.tcp_connection_fails(now, conn),
            Event::BgpOpen(conn, open) => self.bgp_open(now, conn, *open),
            Event::BgpHeaderErr(conn, n)
            | Event::BgpOpenMsgErr(conn, n)
            | Event::RouteRefreshMsgErr(conn, n) => {
                let reason = DownReason::NotificationSent((&n).into());
                self.fail(now, conn, Some(n), reason);
            }
            Event::OpenCollisionDump(conn) => {
                let n = cease(cease_subcode::CONNECTION_COLLISION_RESOLUTION);
                let reason = DownReason::NotificationSent((&n).into());
                self.fail(now, conn, Some(n), reason);
            }
            Event::NotifMsgVerErr(conn, n) | Event::NotifMsg(conn, n) => {
                warn!(peer = %self.peer(), code = n.code, subcode = n.subcode,
                    message = n.shutdown_communication(), "received NOTIFICATION");
                let reason = DownReason::NotificationReceived((&n).into());
                self.fail(now, conn, None, reason);
            }
            Event::KeepAliveMsg(conn) => self.keepalive_msg(now, conn),
            Event::UpdateMsg(conn, update) => {
                if self.expect_established(now, conn) {
                    self.restart_hold(now, conn);
                    self.actions.push(Action::Update(update));
                }
            }
            Event::UpdateMsgErr(conn, n) => {
                if self.expect_established(now, conn) {
                    let reason = DownReason::NotificationSent((&n).into());
                    self.fail(now, conn, Some(n), reason);
                }
            }
            Event::RouteRefreshMsg(conn, refresh) => self.route_refresh_msg(now, conn, refresh),
        }
    }

    fn start(&mut self, now: Instant) {
        if self.running {
            return;
        }
        self.running = true;
        self.idle_hold_deadline = None;
        if self.settings.peer.passive {
            // Passive: wait in Active for the peer's connection.
            return;
        }
        self.restart_connect_retry(now);
        self.initiate_connect();
    }

    fn restart_connect_retry(&mut self, now: Instant) {
        let interval = Duration::from_secs(u64::from(self.settings.peer.connect_retry));
        self.connect_retry_deadline = Some(now + self.jitter.apply(interval));
    }

    fn initiate_connect(&mut self) {
        let id = ConnId(self.ids.fetch_add(1, Ordering::Relaxed) + 1);
        self.outgoing = Some(Connection::new(id, Direction::Outgoing));
        self.actions.push(Action::Connect(id));
    }

    fn connect_retry_expired(&mut self, now: Instant) {
        if !self.running || self.settings.peer.passive {
            return;
        }
        let beyond_connect = [&self.outgoing, &self.incoming]
            .into_iter()
            .flatten()
            .any(|c| c.phase > Phase::Connecting);
        if beyond_connect {
            return;
        }
        if let Some(pending) = self.outgoing.take() {
            self.actions.push(Action::Close(pending.id));
        }
        self.restart_connect_retry(now);
        self.initiate_connect();
    }

    fn tcp_cr_acked(&mut self, now: Instant, conn: ConnId, endpoints: Endpoints) {
        let matches = self
            .outgoing
            .as_ref()
            .is_some_and(|c| c.id == conn && c.phase == Phase::Connecting);
        if !matches {
            // An attempt abandoned when its timer expired or an incoming connection won.
            self.actions.push(Action::Close(conn));
            return;
        }
        self.connect_retry_deadline = None;
        self.open_connection(now, conn, endpoints);
    }

    fn tcp_connection_confirmed(&mut self, now: Instant, conn: ConnId, endpoints: Endpoints) {
        if !self.accepts_connection() {
            self.actions.push(Action::Close(conn));
            return;
        }
        if self.established().is_some() {
            let restartable = self
                .negotiated()
                .is_some_and(|n| n.graceful_restart.is_some());
            if !restartable {
                // RFC 4271 section 6.8: without graceful restart the new connection loses to
                // the Established one. It gets no OPEN from us, because a peer that still has
                // both connections in OpenConfirm would resolve the collision by BGP
                // Identifier and might close the Established connection instead.
                info!(peer = %self.peer(), kept = ?self.established_conn(), closed = %conn,
                    "connection collision with the Established session resolved");
                self.counters.collisions += 1;
                self.send_notification(
                    conn,
                    &cease(cease_subcode::CONNECTION_COLLISION_RESOLUTION),
                );
                self.actions.push(Action::Close(conn));
                return;
            }
            // With graceful restart, only the OPEN distinguishes a restart from a collision or a
            // forgery, so the Established connection carries on meanwhile.
            if let Some(old) = self.pending.take() {
                debug!(peer = %self.peer(), %conn, replaced = %old.id,
                    "pending connection replaced");
                self.actions.push(Action::Close(old.id));
            }
            info!(peer = %self.peer(), %conn,
                "new connection while Established: waiting for its OPEN");
            self.pending = Some(Connection::new(conn, Direction::Incoming));
            self.open_connection(now, conn, endpoints);
            return;
        }
        if !self.running {
            self.running = true;
            self.idle_hold_deadline = None;
        }
        if let Some(old) = self.incoming.take() {
            debug!(peer = %self.peer(), %conn, replaced = %old.id, "incoming connection replaced");
            self.actions.push(Action::Close(old.id));
        }
        if let Some(pending) = self.outgoing.take_if(|c| c.phase == Phase::Connecting) {
            self.actions.push(Action::Close(pending.id));
        }
        self.connect_retry_deadline = None;
        self.incoming = Some(Connection::new(conn, Direction::Incoming));
        self.open_connection(now, conn, endpoints);
    }

    /// Sends our OPEN on a connection that just came up: OpenSent with the large hold timer.
    fn open_connection(&mut self, now: Instant, conn: ConnId, endpoints: Endpoints) {
        let open = build_open(&self.settings);
        self.send(conn, &Message::Open(open.clone()));
        if let Some(c) = self.conn_mut(conn) {
            c.endpoints = Some(endpoints);
            c.local_open = Some(open);
            c.phase = Phase::OpenSent;
            c.hold_deadline = Some(now + LARGE_HOLD_TIME);
        }
    }

    fn tcp_connection_fails(&mut self, now: Instant, conn: ConnId) {
        let pending = self.is_pending(conn);
        let Some(c) = self.take_conn(conn) else {
            return;
        };
        if pending {
            debug!(peer = %self.peer(), %conn, "pending connection closed");
            return;
        }
        debug!(peer = %self.peer(), %conn, phase = ?c.phase, "connection closed");
        match c.phase {
            Phase::Established => {
                self.session_down(DownReason::ConnectionFailed, now);
                self.go_idle(now, true);
            }
            Phase::Connecting => {
                // Our attempt failed: wait in Active for the ConnectRetryTimer.
                if self.running && self.connect_retry_deadline.is_none() {
                    self.restart_connect_retry(now);
                }
            }
            Phase::OpenSent | Phase::OpenConfirm => {
                self.last_error = Some(LastError {
                    reason: DownReason::ConnectionFailed,
                    at: now,
                });
                if self.other(conn).is_none() {
                    if c.phase == Phase::OpenSent {
                        // RFC 4271 section 8.2.2, OpenSent, Event 18: back to Active.
                        self.restart_connect_retry(now);
                    } else {
                        self.go_idle(now, true);
                    }
                }
            }
        }
    }

    fn bgp_open(&mut self, now: Instant, conn: ConnId, open: Open) {
        let Some(c) = self.conn(conn) else {
            return;
        };
        if c.phase != Phase::OpenSent {
            self.fsm_error(now, conn);
            return;
        }
        let pending = self.is_pending(conn);
        let local = c
            .local_open
            .clone()
            .unwrap_or_else(|| build_open(&self.settings));
        let negotiated = match negotiate(&self.settings, &local, &open) {
            Ok(n) => n,
            Err(error) => {
                warn!(peer = %self.peer(), %conn, pending, %error, "OPEN rejected");
                let n = error.notification();
                let reason = DownReason::NotificationSent((&n).into());
                self.fail(now, conn, Some(n), reason);
                return;
            }
        };
        if pending {
            self.pending_open(now, conn, negotiated);
            return;
        }

        // Collision detection (RFC 4271 section 6.8) against a connection in OpenConfirm.
        let direction = self.conn(conn).map(|c| c.direction);
        let rival = self
            .other(conn)
            .filter(|o| o.phase >= Phase::OpenConfirm)
            .map(|o| (o.id, o.phase));
        if let (Some((rival, rival_phase)), Some(direction)) = (rival, direction) {
            let keep_ours = local_wins_collision(
                self.settings.router_id,
                self.settings.local_as,
                negotiated.remote_id,
                negotiated.remote_as,
            );
            let loser = if rival_phase == Phase::Established
                || (direction == Direction::Outgoing) != keep_ours
            {
                conn
            } else {
                rival
            };
            info!(peer = %self.peer(), kept = %if loser == conn { rival } else { conn },
                closed = %loser, "connection collision resolved");
            self.counters.collisions += 1;
            self.dispatch(now, Event::OpenCollisionDump(loser));
            if loser == conn {
                return;
            }
        }
        self.confirm_open(now, conn, negotiated);
    }

    /// Handles a valid OPEN on a connection opened while the session is Established. With
    /// graceful restart negotiated on the session the peer restarted, so the old connection is
    /// closed as a restart (the owner keeps the peer's routes stale) and the new one carries on
    /// (RFC 4724 section 4.2). Without it the new connection loses the collision with the
    /// Established one (RFC 4271 section 6.8).
    fn pending_open(&mut self, now: Instant, conn: ConnId, negotiated: Negotiated) {
        let restart = self
            .negotiated()
            .is_some_and(|n| n.graceful_restart.is_some());
        if !restart {
            info!(peer = %self.peer(), kept = ?self.established_conn(), closed = %conn,
                "connection collision with the Established session resolved");
            self.counters.collisions += 1;
            self.dispatch(now, Event::OpenCollisionDump(conn));
            return;
        }
        info!(peer = %self.peer(), %conn,
            "OPEN on a new connection while Established: peer restarted");
        for old in [self.outgoing.take(), self.incoming.take()]
            .into_iter()
            .flatten()
        {
            self.actions.push(Action::Close(old.id));
        }
        self.session_down(DownReason::PeerRestarted, now);
        self.incoming = self.pending.take();
        self.confirm_open(now, conn, negotiated);
    }

    /// Accepts the peer's OPEN on `conn`: KEEPALIVE sent, OpenConfirm with the negotiated
    /// hold time.
    fn confirm_open(&mut self, now: Instant, conn: ConnId, negotiated: Negotiated) {
        let hold = negotiated.hold_time;
        let keepalive = negotiated.keepalive;
        self.send(conn, &Message::Keepalive);
        if let Some(c) = self.conn_mut(conn) {
            c.negotiated = Some(negotiated);
            c.phase = Phase::OpenConfirm;
            c.hold_deadline = (hold > 0).then(|| now + Duration::from_secs(u64::from(hold)));
        }
        if keepalive > 0 {
            self.restart_keepalive(now, conn);
        }
    }

    fn keepalive_msg(&mut self, now: Instant, conn: ConnId) {
        let Some(phase) = self.conn(conn).map(|c| c.phase) else {
            return;
        };
        match phase {
            Phase::OpenConfirm => {
                self.restart_hold(now, conn);
                if let Some(c) = self.conn_mut(conn) {
                    c.phase = Phase::Established;
                }
                if let Some(other) = self.other(conn).map(|o| o.id) {
                    // The other connection can no longer win (RFC 4271 section 6.8).
                    self.counters.collisions += 1;
                    self.dispatch(now, Event::OpenCollisionDump(other));
                }
                self.connect_retry_deadline = None;
                self.connect_retry_counter = 0;
                self.idle_hold = IDLE_HOLD_BASE;
                self.established_at = Some(now);
                self.counters.established_transitions += 1;
                self.actions.push(Action::Established);
            }
            Phase::Established => self.restart_hold(now, conn),
            _ => self.fsm_error(now, conn),
        }
    }

    fn route_refresh_msg(&mut self, now: Instant, conn: ConnId, refresh: RouteRefresh) {
        if !self.expect_established(now, conn) {
            return;
        }
        self.restart_hold(now, conn);
        let negotiated = self.negotiated();
        let accepted =
            negotiated.is_some_and(|n| n.route_refresh && n.families.contains(&refresh.afi_safi));
        if !accepted {
            // RFC 2918 section 4: a request for a family not advertised is ignored.
            debug!(peer = %self.peer(), afi_safi = %refresh.afi_safi, "ROUTE-REFRESH ignored");
            return;
        }
        self.actions.push(Action::RouteRefresh(refresh));
    }

    /// Checks that `conn` is Established; any other phase is an FSM error (RFC 6608).
    fn expect_established(&mut self, now: Instant, conn: ConnId) -> bool {
        match self.conn(conn).map(|c| c.phase) {
            Some(Phase::Established) => true,
            Some(_) => {
                self.fsm_error(now, conn);
                false
            }
            None => false,
        }
    }

    fn fsm_error(&mut self, now: Instant, conn: ConnId) {
        let subcode = match self.conn(conn).map(|c| c.phase) {
            Some(Phase::OpenSent) => fsm_subcode::UNEXPECTED_IN_OPEN_SENT,
            Some(Phase::OpenConfirm) => fsm_subcode::UNEXPECTED_IN_OPEN_CONFIRM,
            Some(Phase::Established) => fsm_subcode::UNEXPECTED_IN_ESTABLISHED,
            _ => fsm_subcode::UNSPECIFIED,
        };
        let n = Notification {
            code: error_code::FSM,
            subcode,
            data: Vec::new(),
        };
        let reason = DownReason::NotificationSent((&n).into());
        self.fail(now, conn, Some(n), reason);
    }

    /// Ends one connection after an error: sends `notification` if given, closes it, and goes
    /// Idle unless the other connection carries on.
    fn fail(
        &mut self,
        now: Instant,
        conn: ConnId,
        notification: Option<Notification>,
        reason: DownReason,
    ) {
        let phase = self.conn(conn).map(|c| c.phase);
        if let (Some(n), Some(phase)) = (&notification, phase)
            && phase >= Phase::OpenSent
        {
            self.send_notification(conn, n);
        }
        if self.is_pending(conn) {
            // Closing a pending connection changes neither the Established session nor its
            // last error.
            self.pending = None;
            debug!(peer = %self.peer(), %conn, ?reason, "pending connection closed");
            self.actions.push(Action::Close(conn));
            return;
        }
        let Some(c) = self.take_conn(conn) else {
            return;
        };
        self.actions.push(Action::Close(conn));
        let collision = matches!(&reason, DownReason::NotificationSent(n)
            if n.code == error_code::CEASE && n.subcode == cease_subcode::CONNECTION_COLLISION_RESOLUTION);
        if collision {
            return;
        }
        if c.phase == Phase::Established {
            self.session_down(reason, now);
            self.go_idle(now, true);
            return;
        }
        self.last_error = Some(LastError { reason, at: now });
        if self.other(conn).is_none() {
            self.go_idle(now, true);
        }
    }

    /// Closes every connection, sending `notification` on those past Connecting.
    fn close_all(&mut self, now: Instant, notification: Option<&Notification>, reason: DownReason) {
        let was_established = self.established().is_some();
        let open: Vec<(ConnId, Phase)> = [&self.outgoing, &self.incoming, &self.pending]
            .into_iter()
            .flatten()
            .map(|c| (c.id, c.phase))
            .collect();
        for (id, phase) in open {
            if let Some(n) = notification
                && phase >= Phase::OpenSent
            {
                self.send_notification(id, n);
            }
            self.take_conn(id);
            self.actions.push(Action::Close(id));
        }
        if was_established {
            self.session_down(reason, now);
        }
    }

    fn session_down(&mut self, reason: DownReason, now: Instant) {
        info!(peer = %self.peer(), ?reason, "session left Established");
        self.counters.drops += 1;
        self.established_at = None;
        self.last_error = Some(LastError {
            reason: reason.clone(),
            at: now,
        });
        self.actions.push(Action::Down(reason));
    }

    /// Goes Idle; with `restart` an AutomaticStart follows after the IdleHoldTimer.
    fn go_idle(&mut self, now: Instant, restart: bool) {
        for c in [
            self.outgoing.take(),
            self.incoming.take(),
            self.pending.take(),
        ]
        .into_iter()
        .flatten()
        {
            self.actions.push(Action::Close(c.id));
        }
        self.running = false;
        self.connect_retry_deadline = None;
        self.idle_hold_deadline = None;
        if restart && !self.stopped {
            self.connect_retry_counter += 1;
            // Jittered like the ConnectRetryTimer (RFC 4271 section 10): two peers that saw the
            // session go down at the same instant then reconnect at different ones, and their
            // connections do not collide.
            self.idle_hold_deadline = Some(now + self.jitter.apply(self.idle_hold));
            self.idle_hold = (self.idle_hold * 2).min(IDLE_HOLD_MAX);
        }
    }

    fn restart_hold(&mut self, now: Instant, conn: ConnId) {
        if let Some(c) = self.conn_mut(conn) {
            let hold = c.negotiated.as_ref().map_or(0, |n| n.hold_time);
            c.hold_deadline = (hold > 0).then(|| now + Duration::from_secs(u64::from(hold)));
        }
    }

    fn restart_keepalive(&mut self, now: Instant, conn: ConnId) {
        let keepalive = self
            .conn(conn)
            .and_then(|c| c.negotiated.as_ref())
            .map_or(0, |n| n.keepalive);
        let deadline = (keepalive > 0)
            .then(|| now + self.jitter.apply(Duration::from_secs(u64::from(keepalive))));
        if let Some(c) = self.conn_mut(conn) {
            c.keepalive_deadline = deadline;
        }
    }

    fn send(&mut self, conn: ConnId, message: &Message) {
        let default = SessionContext::default();
        let ctx = self
            .conn(conn)
            .and_then(|c| c.negotiated.as_ref())
            .map_or(&default, |n| &n.send);
        match message.to_bytes(ctx) {
            Ok(data) => {
                self.counters.count_out(message);
                self.actions.push(Action::Send { conn, data });
            }
            Err(error) => warn!(peer = %self.peer(), %conn, %error, "message not sent"),
        }
    }

    /// Sends a NOTIFICATION, as a Hard Reset (RFC 8538 section 3) when both sides set the
    /// Graceful Notification flag and the error must flush the peer's routes.
    fn send_notification(&mut self, conn: ConnId, n: &Notification) {
        let graceful = self
            .conn(conn)
            .and_then(|c| c.negotiated.as_ref())
            .is_some_and(|n| n.graceful_notification);
        let n = if graceful && needs_hard_reset(n) {
            let mut data = vec![n.code, n.subcode];
            data.extend_from_slice(&n.data);
            Notification {
                code: error_code::CEASE,
                subcode: cease_subcode::HARD_RESET,
                data,
            }
        } else {
            n.clone()
        };
        warn!(peer = %self.peer(), code = n.code, subcode = n.subcode,
            message = n.shutdown_communication(), "sent NOTIFICATION");
        self.send(conn, &Message::Notification(n));
    }
}

/// Builds a Cease NOTIFICATION without data.
pub(crate) fn cease(subcode: u8) -> Notification {
    Notification {
        code: error_code::CEASE,
        subcode,
        data: Vec::new(),
    }
}

/// The Cease subcodes that RFC 8538 section 5 sends as a Hard Reset: the peer must flush our
/// routes rather than keep them stale. Administrative Reset is hard here because this speaker
/// sends it only for a hard `clear`.
fn needs_hard_reset(n: &Notification) -> bool {
    n.code == error_code::CEASE
        && matches!(
            n.subcode,
            cease_subcode::MAXIMUM_PREFIXES_REACHED
                | cease_subcode::ADMINISTRATIVE_SHUTDOWN
                | cease_subcode::PEER_DECONFIGURED
                | cease_subcode::ADMINISTRATIVE_RESET
        )
}
