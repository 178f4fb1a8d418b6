//! OSPFv2 (RFC 2328) for area 0.
//!
//! The core is sans-IO: codecs ([`packet`], [`lsa`]) and an [`Instance`] that takes received
//! packets, interface changes, BFD events and timer expiry with the current time, and returns
//! [`Action`]s (packets to send, routing tables to publish, BFD sessions to register). The
//! [`io`] module binds an instance to raw sockets and tokio timers.

pub mod lsa;
pub mod packet;
mod wire;

pub mod config;
mod exchange;
mod flood;
pub mod instance;
pub mod interface;
pub mod io;
pub mod lsdb;
pub mod neighbor;
mod origin;
pub mod show;
pub mod spf;

pub use config::{Authentication, Config, InterfaceConfig, LsaThrottle, NetworkStatement, NetworkType, SpfThrottle};
pub use instance::{Action, BfdSession, Input, Instance};
pub use interface::{InterfaceInfo, InterfaceState};
pub use neighbor::NeighborState;
pub use show::{Counters, DropReason, LsaDropReason, LsaSnapshot, NeighborSnapshot};
pub use spf::{DISTANCE, NextHop, Route, RouteType, RouteUpdate, RoutingTable};
