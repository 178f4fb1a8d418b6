//! One BGP session per peer: the finite state machine of RFC 4271 section 8 with connection
//! collision detection (section 6.8), its timers as deadlines, and the capability negotiation
//! of the OPEN exchange. The session owns no socket and reads no clock: the instance feeds it
//! events with the current time and carries out the [`Action`]s it returns.

mod capabilities;
mod counters;
mod fsm;
mod jitter;
#[cfg(test)]
mod tests;

pub use capabilities::{Negotiated, OpenError, PeerGracefulRestart, build_open, negotiate};
pub use counters::SessionCounters;
pub(crate) use fsm::cease;
pub use fsm::{GracefulRestartAdvert, Session, SessionSettings};
pub use jitter::Jitter;

use std::fmt;
use std::net::SocketAddr;
use std::time::Instant;

use serde::Serialize;

use crate::message::{Notification, Open, RouteRefresh};
use crate::wire::{DecodedUpdate, cease_subcode, error_code};

/// FSM Error subcodes (RFC 6608 section 3).
pub mod fsm_subcode {
    pub const UNSPECIFIED: u8 = 0;
    pub const UNEXPECTED_IN_OPEN_SENT: u8 = 1;
    pub const UNEXPECTED_IN_OPEN_CONFIRM: u8 = 2;
    pub const UNEXPECTED_IN_ESTABLISHED: u8 = 3;
}

/// The session states of RFC 4271 section 8.2.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum State {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Idle => "Idle",
            State::Connect => "Connect",
            State::Active => "Active",
            State::OpenSent => "OpenSent",
            State::OpenConfirm => "OpenConfirm",
            State::Established => "Established",
        })
    }
}

/// Identifies one TCP connection for the life of the instance. The instance allocates them
/// for outgoing and accepted connections alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn-{}", self.0)
    }
}

/// Which side opened a connection; collision detection keeps one of each (RFC 4271 section 6.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Outgoing,
    Incoming,
}

/// The RFC 4271 section 8.1 events the session handles, with the RFC's names and numbers.
/// Timer events are raised by [`Session::poll`]; message events by [`Session::receive`]; the
/// others by the instance through the methods of [`Session`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Event 1.
    ManualStart,
    /// Event 2, with the Cease NOTIFICATION to send on open connections.
    ManualStop(Notification),
    /// Event 3.
    AutomaticStart,
    /// Event 9.
    ConnectRetryTimerExpires,
    /// Event 10.
    HoldTimerExpires(ConnId),
    /// Event 11.
    KeepaliveTimerExpires(ConnId),
    /// Event 16: our connection attempt succeeded.
    TcpCrAcked(ConnId, Endpoints),
    /// Event 17: the peer's connection was accepted.
    TcpConnectionConfirmed(ConnId, Endpoints),
    /// Event 18: a connection attempt failed or an open connection closed.
    TcpConnectionFails(ConnId),
    /// Event 19.
    BgpOpen(ConnId, Box<Open>),
    /// Event 21, with the NOTIFICATION the error calls for.
    BgpHeaderErr(ConnId, Notification),
    /// Event 22, with the NOTIFICATION the error calls for.
    BgpOpenMsgErr(ConnId, Notification),
    /// Event 23: raised by collision detection on the connection it closes.
    OpenCollisionDump(ConnId),
    /// Event 24: a NOTIFICATION with an OPEN version error.
    NotifMsgVerErr(ConnId, Notification),
    /// Event 25.
    NotifMsg(ConnId, Notification),
    /// Event 26.
    KeepAliveMsg(ConnId),
    /// Event 27.
    UpdateMsg(ConnId, Box<DecodedUpdate>),
    /// Event 28, with the NOTIFICATION the error calls for.
    UpdateMsgErr(ConnId, Notification),
    /// A ROUTE-REFRESH message (RFC 2918 section 3; not an RFC 4271 event).
    RouteRefreshMsg(ConnId, RouteRefresh),
    /// A ROUTE-REFRESH that failed to decode (RFC 7313 section 5).
    RouteRefreshMsgErr(ConnId, Notification),
}

/// What the instance must do after an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open a TCP connection to the peer (socket settings come from the peer's configuration).
    Connect(ConnId),
    /// Write these octets (one or more whole messages) to the connection.
    Send { conn: ConnId, data: Vec<u8> },
    /// Close the connection once what was sent before is written.
    Close(ConnId),
    /// The session state changed (already logged).
    StateChanged { from: State, to: State },
    /// The session reached Established; [`Session::negotiated`] describes it.
    Established,
    /// The session left Established.
    Down(DownReason),
    /// An UPDATE received in Established, with its RFC 7606 outcome.
    Update(Box<DecodedUpdate>),
    /// A ROUTE-REFRESH for a negotiated family, received in Established.
    RouteRefresh(RouteRefresh),
}

/// Why a session left Established. It decides whether a graceful restart helper keeps the
/// peer's routes (RFC 4724 section 4.2, RFC 8538 section 3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum DownReason {
    /// The TCP connection failed or the peer closed it without a NOTIFICATION.
    ConnectionFailed,
    /// The peer sent a valid OPEN on a new connection while the old one was Established and
    /// graceful restart was negotiated: it restarted (RFC 4724 section 4.2).
    PeerRestarted,
    /// The hold timer expired; a NOTIFICATION was sent.
    HoldTimerExpired,
    /// We sent this NOTIFICATION (error, administrative reset or shutdown).
    NotificationSent(NotificationSummary),
    /// The peer sent this NOTIFICATION.
    NotificationReceived(NotificationSummary),
    /// BFD declared the path down; the connection was closed without a NOTIFICATION.
    BfdDown,
    /// The instance is shutting down for a graceful restart and closed without a NOTIFICATION.
    LocalRestart,
}

impl DownReason {
    /// Whether a graceful restart helper keeps the peer's routes after this loss. `n_bit` is
    /// whether both sides advertised the Graceful Notification flag (RFC 8538): then every
    /// NOTIFICATION but Hard Reset is handled like a TCP failure. BFD down is not: the
    /// forwarding path is known dead, so keeping its routes would only blackhole traffic.
    pub fn keeps_routes(&self, n_bit: bool) -> bool {
        match self {
            DownReason::ConnectionFailed | DownReason::PeerRestarted | DownReason::LocalRestart => {
                true
            }
            DownReason::HoldTimerExpired => true,
            DownReason::NotificationSent(n) | DownReason::NotificationReceived(n) => {
                n_bit && !(n.code == error_code::CEASE && n.subcode == cease_subcode::HARD_RESET)
            }
            DownReason::BfdDown => false,
        }
    }
}

/// A NOTIFICATION as shown to operators: code, subcode and the RFC 9003 shutdown communication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotificationSummary {
    pub code: u8,
    pub subcode: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl From<&Notification> for NotificationSummary {
    fn from(n: &Notification) -> NotificationSummary {
        NotificationSummary {
            code: n.code,
            subcode: n.subcode,
            message: n.shutdown_communication().map(str::to_string),
        }
    }
}

/// The last error of a session, for `show bgp neighbors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastError {
    pub reason: DownReason,
    /// When it happened; the show layer turns it into an age.
    #[serde(skip)]
    pub at: Instant,
}

/// Addresses of a connection once TCP is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoints {
    pub local: SocketAddr,
    pub remote: SocketAddr,
}
