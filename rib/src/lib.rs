//! The RIB of hna-routing and its southbound interface.
//!
//! - [`Rib`]: per-VRF tables, selection by administrative distance, ECMP, recursive resolution,
//!   next-hop tracking and redistribution, sans-IO: each input returns the southbound changes
//!   and client notifications it causes.
//! - [`Southbound`]: the batched, idempotent interface to a forwarding plane, with
//!   resynchronisation and events, implemented by [`InMemoryPlane`] (tests) and
//!   [`linux::LinuxPlane`] (the kernel over netlink).

mod memory;
mod model;
mod rib;
mod southbound;

pub mod linux;

pub use memory::InMemoryPlane;
pub use model::{
    InvalidMacAddr, InvalidVni, MacAddr, NextHop, RouteSource, Vni, VrfId, VxlanEncap,
};
pub use rib::{
    ClientId, Notification, Reachability, Rib, RibError, RibOutput, Route, SelectedRoute,
};
pub use southbound::{
    BatchResults, Change, Entry, EntryKey, EventReceiver, FloodEntry, MacEntry, NeighborEntry,
    PlaneError, PlaneEvent, ResyncReport, RouteEntry, Southbound, diff, report,
};
