//! OSPFv2 (RFC 2328) for area 0.
//!
//! The core is sans-IO: codecs ([`packet`], [`lsa`]) and an [`Instance`] that takes received
//! packets, interface changes, BFD events and timer expiry with the current time, and returns
//! [`Action`]s (packets to send, routing tables to publish, BFD sessions to register). The
//! [`io`] module binds an instance to raw sockets and tokio timers.
//!
//! # Running an instance
//! ```no_run
//! use hna_ospf::io::{self, Event};
//! use hna_ospf::{Config, InterfaceConfig, NetworkType};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! // `/ vrf main routing ospf router-id 10.0.0.1`, `network 10.0.0.0/16 area 0`,
//! // `interface eth1 ip ospf track bfd`.
//! let mut eth1 = InterfaceConfig { network_type: NetworkType::PointToPoint, ..Default::default() };
//! eth1.track_bfd = true;
//! let config = Config::new("10.0.0.1".parse()?).network("10.0.0.0/16".parse()?).interface("eth1", eth1);
//!
//! // Inside a tokio runtime, on a thread in the namespace whose interfaces OSPF runs on.
//! let (handle, mut events, _task) = io::spawn(config, io::read_interfaces()?)?;
//! while let Some(event) = events.recv().await {
//!     match event {
//!         // The whole table and its diff; install with distance hna_ospf::DISTANCE (110).
//!         Event::Routes(update) => println!("{} routes", update.table.routes.len()),
//!         // Create a single-hop BFD session; call handle.bfd_down(ifindex, neighbor) when it
//!         // leaves Up.
//!         Event::BfdRegister(session) => println!("BFD to {} on {}", session.neighbor, session.interface),
//!         Event::BfdUnregister(_) => {}
//!     }
//! }
//! let neighbors = handle.neighbors().await; // `show ip ospf neighbor`
//! # Ok(())
//! # }
//! ```
//!
//! # Graceful restart (RFC 3623)
//! To restart without disturbing forwarding, stop with [`io::Handle::graceful_shutdown`] instead
//! of [`io::Handle::shutdown`], keep the OSPF routes in the kernel, and start the next instance
//! with [`GracefulRestart::restarting`] set and the grace period left in
//! [`GracefulRestart::grace_period`]. That instance publishes its first [`RouteUpdate`] only when
//! the restart is over; install it and delete the kernel's OSPF routes that it does not contain.
//! Helping restarting neighbors is on by default ([`GracefulRestart::helper_enabled`]); while
//! this router helps a neighbor, [`io::Handle::bfd_down`] for that neighbor is ignored.

pub mod lsa;
pub mod packet;
mod wire;

pub mod config;
mod exchange;
mod flood;
pub mod graceful;
pub mod instance;
pub mod interface;
pub mod io;
pub mod lsdb;
pub mod neighbor;
mod origin;
pub mod show;
pub mod spf;

pub use config::{
    Authentication, Config, GracefulRestart, InterfaceConfig, LsaThrottle, NetworkStatement,
    NetworkType, SpfThrottle,
};
pub use graceful::{HelperExitReason, HelperRejectReason, RestartExitReason};
pub use instance::{Action, BfdSession, Input, Instance};
pub use interface::{InterfaceInfo, InterfaceState};
pub use neighbor::NeighborState;
pub use show::{Counters, DropReason, LsaDropReason, LsaSnapshot, NeighborSnapshot};
pub use spf::{DISTANCE, NextHop, Route, RouteType, RouteUpdate, RoutingTable};
