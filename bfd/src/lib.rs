//! BFD, Bidirectional Forwarding Detection (RFC 5880), over IPv4 and IPv6 for single-hop
//! (RFC 5881, UDP 3784) and multihop (RFC 5883, UDP 4784) paths, with a client API for BGP,
//! OSPF and the daemon.
//!
//! # Layers
//! - [`packet`]: Control packet codec; `decode` applies the stateless reception checks of RFC
//!   5880 section 6.8.6 and returns a typed [`DecodeError`].
//! - [`auth`]: simple password, keyed and meticulous keyed MD5 and SHA1 (section 6.7).
//! - [`session`]: one session as a sans-IO state machine: it takes packets, timer expiries and
//!   the current time, and returns [`session::Output`]s (packets to send, state changes).
//!   Randomness (discriminators, jitter) comes through [`RandomSource`], so tests are
//!   deterministic.
//! - [`instance`]: all sessions of an instance, without I/O: demultiplexing by Your
//!   Discriminator (and by addresses and interface while it is zero), the TTL check, drop
//!   counters, and one ordered timer set for every session.
//! - [`Bfd`]: the tokio layer. One task owns the [`Instance`]. All sessions share one receive
//!   socket per port and address family and one transmit socket per family (source port in
//!   49152-65535, TTL 255), and one timer wakes the task at the earliest session deadline.
//!
//! # Client API
//! ```no_run
//! use std::time::Duration;
//! use hna_bfd::{Bfd, BfdConfig, SessionKey, SessionParams, State};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! // Inside a tokio runtime, on a thread in the network namespace the sockets belong to.
//! let bfd = Bfd::spawn(BfdConfig::default());
//!
//! // A single-hop session to 10.0.11.1 on eth0 from 10.0.11.2, 50 ms x 3.
//! let key = SessionKey::single_hop("10.0.11.1".parse()?)
//!     .with_local("10.0.11.2".parse()?)
//!     .with_interface("eth0");
//! let params = SessionParams::new(Duration::from_millis(50), Duration::from_millis(50), 3)?;
//! let mut subscription = bfd.register(key, params);
//!
//! // The first change is the state at registration; then every transition, in order.
//! while let Some(change) = subscription.recv().await {
//!     if change.state != State::Up && change.previous == State::Up && change.remote_state != State::AdminDown {
//!         // Tear down the adjacency: change.diagnostic gives the reason
//!         // (ControlDetectionTimeExpired, NeighborSignaledSessionDown, ...). A peer in
//!         // AdminDown shut BFD down on purpose, which RFC 5882 section 3.2 does not count as
//!         // a path failure.
//!     }
//! }
//!
//! // For `show bfd peers` and metrics: serde-serialisable snapshots.
//! let sessions = bfd.sessions().await;
//! println!("{}", serde_json::to_string_pretty(&sessions)?);
//! # Ok(())
//! # }
//! ```
//!
//! - [`Bfd::spawn`]`(config) -> Bfd`: a cloneable handle, with the instance task on the
//!   caller's runtime. [`Bfd::try_spawn`] returns the socket error instead of retrying in the
//!   background. [`Bfd::spawn_on_thread`] runs the instance on a thread of its own, optionally
//!   with SCHED_FIFO ([`BfdConfig::realtime_priority`]), which timers of 50 ms on a busy host
//!   need: a peer declares the session down when our transmissions are delayed past its
//!   detection time.
//! - [`Bfd::register`]`(key, params) -> Subscription`: clients registering the same
//!   [`SessionKey`] (peer, optional local address, optional interface, single-hop or multihop)
//!   share one session, reference counted, which runs with the fastest timers any client
//!   requests. Dropping the last [`Subscription`] (or [`Subscription::unregister`]) deletes the
//!   session after an AdminDown packet.
//! - [`Subscription::recv`] yields every [`StateChange`] (Down, Init, Up, AdminDown with the
//!   [`Diagnostic`], the peer's last reported state and the time of the change) in order; [`Subscription::latest`] and
//!   [`Subscription::watch`] give the current state. A Down is delivered in the same wake-up in
//!   which the detection time expires. A client never waits on BFD, because registering returns
//!   at once and a session that never comes Up simply stays Down.
//! - [`Bfd::sessions`] returns a [`SessionSnapshot`] per session: addresses, states,
//!   discriminators, negotiated intervals, multipliers, uptime, packets in and out, and drops
//!   by [`DropReason`]. [`Bfd::unmatched_drops`] counts packets that matched no session.
//! - [`Bfd::set_admin_down`] puts a session in AdminDown (section 6.8.16).
//!
//! # Not implemented
//! The Echo function and Demand mode are not implemented: we send Required Min Echo RX
//! Interval 0 and never set the D bit, but honour a peer's Demand mode by stopping periodic
//! transmission. Sessions are only created by clients (no passive sessions created by an
//! incoming packet).
pub mod api;
pub mod auth;
pub mod counters;
pub mod instance;
mod io;
pub mod packet;
pub mod session;
mod task;

pub use api::{Bfd, BfdConfig, SessionSnapshot, Subscription};
pub use auth::{AuthConfigError, Authentication};
pub use counters::{DropCounters, DropReason, SessionCounters};
pub use instance::{Instance, Received, SessionKey};
pub use packet::{AuthType, ControlPacket, DecodeError, Diagnostic, State};
pub use session::{ParamsError, RandomSource, Session, SessionParams, StateChange, Timers};

/// UDP destination port of single-hop Control packets (RFC 5881 section 4).
pub const SINGLE_HOP_PORT: u16 = 3784;
/// UDP destination port of multihop Control packets (RFC 5883 section 5).
pub const MULTIHOP_PORT: u16 = 4784;
