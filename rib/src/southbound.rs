//! The southbound interface: the entries a forwarding plane holds, batched changes with one
//! result per change, resynchronisation after a restart, and the events a plane reports back.
//!
//! Every entry has a key ([`EntryKey`]). Installing an entry replaces the one with the same key,
//! and removing a key that the plane does not have succeeds. Applying the same batch twice
//! therefore leaves the plane as applying it once does.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

use crate::model::{MacAddr, NextHop, Vni, VrfId};

/// A route of one VRF: the prefix and its next hops (several for ECMP).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct RouteEntry {
    pub vrf: VrfId,
    pub prefix: IpNet,
    /// Next hops, sorted and without duplicates (see [`RouteEntry::new`]).
    pub next_hops: Vec<NextHop>,
}

impl RouteEntry {
    /// Builds a route entry with its prefix truncated to the network address and its next hops
    /// sorted and deduplicated, so that two entries for the same forwarding compare equal.
    pub fn new(vrf: VrfId, prefix: IpNet, mut next_hops: Vec<NextHop>) -> RouteEntry {
        next_hops.sort();
        next_hops.dedup();
        RouteEntry {
            vrf,
            prefix: prefix.trunc(),
            next_hops,
        }
    }
}

/// A remote MAC address in a MAC-VRF: frames to `mac` in `vni` are sent to `vtep`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct MacEntry {
    pub vni: Vni,
    pub mac: MacAddr,
    pub vtep: IpAddr,
}

/// A neighbor (ARP or NDP) entry: `ip` has the link-layer address `mac` on `interface`, which
/// is usually the bridge of a subnet.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct NeighborEntry {
    pub vrf: VrfId,
    pub interface: String,
    pub ip: IpAddr,
    pub mac: MacAddr,
}

/// One member of the flood list of a VNI: broadcast, unknown unicast and multicast frames of
/// `vni` are replicated to `vtep` (ingress replication, from EVPN type-3 routes).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct FloodEntry {
    pub vni: Vni,
    pub vtep: IpAddr,
}

/// Any entry a plane holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Entry {
    Route(RouteEntry),
    Mac(MacEntry),
    Neighbor(NeighborEntry),
    Flood(FloodEntry),
}

impl Entry {
    /// Returns the key that identifies this entry in its plane.
    pub fn key(&self) -> EntryKey {
        match self {
            Entry::Route(route) => EntryKey::Route {
                vrf: route.vrf,
                prefix: route.prefix.trunc(),
            },
            Entry::Mac(mac) => EntryKey::Mac {
                vni: mac.vni,
                mac: mac.mac,
            },
            Entry::Neighbor(neighbor) => EntryKey::Neighbor {
                vrf: neighbor.vrf,
                interface: neighbor.interface.clone(),
                ip: neighbor.ip,
            },
            Entry::Flood(flood) => EntryKey::Flood {
                vni: flood.vni,
                vtep: flood.vtep,
            },
        }
    }
}

/// The identity of an entry: at most one entry per key exists in a plane.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum EntryKey {
    Route {
        vrf: VrfId,
        prefix: IpNet,
    },
    Mac {
        vni: Vni,
        mac: MacAddr,
    },
    Neighbor {
        vrf: VrfId,
        interface: String,
        ip: IpAddr,
    },
    Flood {
        vni: Vni,
        vtep: IpAddr,
    },
}

/// One change in a batch.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Change {
    /// Adds the entry, or replaces the entry with the same key.
    Install(Entry),
    /// Removes the entry with this key; succeeds when there is none.
    Remove(EntryKey),
}

impl Change {
    /// Returns the key of the entry this change touches.
    pub fn key(&self) -> EntryKey {
        match self {
            Change::Install(entry) => entry.key(),
            Change::Remove(key) => key.clone(),
        }
    }
}

/// The reason a plane did not apply one change.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlaneError {
    #[error("device {name} not found in VRF {vrf}")]
    MissingDevice { vrf: VrfId, name: String },
    #[error("link {0} not found in this namespace")]
    LinkNotFound(String),
    #[error("VRF {0} is not known to this plane")]
    UnknownVrf(VrfId),
    #[error("VNI {0} is not bound to a VXLAN device in this plane")]
    UnboundVni(Vni),
    #[error("the plane cannot install this entry: {0}")]
    Unsupported(String),
    #[error("the kernel rejected the request: {message} (errno {errno})")]
    Kernel { errno: i32, message: String },
    #[error("netlink I/O failed: {0}")]
    Io(String),
}

/// The result of applying one batch: one result per change, in the order of the changes.
pub type BatchResults = Vec<Result<(), PlaneError>>;

/// The changes a resynchronisation made.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResyncReport {
    /// Entries the plane held that are not wanted, now removed.
    pub removed: usize,
    /// Entries that were missing or different, now installed.
    pub installed: usize,
    /// Entries that were already as wanted.
    pub unchanged: usize,
    /// Changes that failed, with the reason.
    pub failed: Vec<(Change, PlaneError)>,
}

/// A forwarding plane.
///
/// Calls are synchronous: a plane applies a batch and returns one result per change. The Linux
/// plane talks to the kernel over netlink, which returns within microseconds per entry, so a
/// daemon runs a plane on a thread of its own (or with `tokio::task::spawn_blocking`).
pub trait Southbound {
    /// Applies `changes` in order and returns one result per change. A failed change does not
    /// stop the ones after it.
    fn apply(&mut self, changes: &[Change]) -> BatchResults;

    /// Returns every entry in this plane that was installed through it (by this process or an
    /// earlier one), and none that others installed.
    fn dump(&mut self) -> Result<Vec<Entry>, PlaneError>;

    /// Makes the plane hold exactly `wanted` among its own entries: removes the stale ones and
    /// installs the missing or different ones, leaving entries of others untouched. A restarted
    /// daemon calls this with its full wanted state.
    fn resync(&mut self, wanted: &[Entry]) -> Result<ResyncReport, PlaneError> {
        let held = self.dump()?;
        let (changes, unchanged) = diff(&held, wanted);
        let results = self.apply(&changes);
        Ok(report(changes, results, unchanged))
    }

    /// Returns a channel on which the plane sends its events from now on.
    fn subscribe(&mut self) -> Result<EventReceiver, PlaneError>;

    /// Requests that the plane report again, on the subscribed channel, every MAC and neighbor
    /// its kernel learned by itself ([`PlaneEvent::LocalMac`], [`PlaneEvent::LocalNeighbor`]),
    /// as it does at subscription. A subscriber that had nothing to file them under when they
    /// were first reported (an EVPN MAC-VRF created later) learns them this way. The events
    /// follow asynchronously. The default reports nothing, for planes without a kernel that
    /// learns entries (the in-memory plane, whose events tests emit).
    fn report_learned_entries(&mut self) {}
}

/// Builds a [`ResyncReport`] from the changes of a resynchronisation and their results.
pub fn report(changes: Vec<Change>, results: BatchResults, unchanged: usize) -> ResyncReport {
    let mut report = ResyncReport {
        unchanged,
        ..ResyncReport::default()
    };
    for (change, result) in changes.into_iter().zip(results) {
        match (result, &change) {
            (Ok(()), Change::Install(_)) => report.installed += 1,
            (Ok(()), Change::Remove(_)) => report.removed += 1,
            (Err(error), _) => report.failed.push((change, error)),
        }
    }
    report
}

/// Computes the changes that turn `held` into `wanted`, removals first, and the number of
/// wanted entries already held as they are.
///
/// Removals come first so that an entry that changes key cannot collide with its old self
/// (for example a neighbor moving between interfaces of one plane).
pub fn diff(held: &[Entry], wanted: &[Entry]) -> (Vec<Change>, usize) {
    let held: BTreeMap<EntryKey, Entry> = held
        .iter()
        .map(|entry| (entry.key(), normalize(entry)))
        .collect();
    let wanted: BTreeMap<EntryKey, Entry> = wanted
        .iter()
        .map(|entry| (entry.key(), normalize(entry)))
        .collect();

    let mut changes: Vec<Change> = held
        .keys()
        .filter(|key| !wanted.contains_key(key))
        .map(|key| Change::Remove(key.clone()))
        .collect();
    let mut unchanged = 0;
    for (key, entry) in wanted {
        if held.get(&key) == Some(&entry) {
            unchanged += 1;
        } else {
            changes.push(Change::Install(entry));
        }
    }
    (changes, unchanged)
}

fn normalize(entry: &Entry) -> Entry {
    match entry {
        Entry::Route(route) => Entry::Route(RouteEntry::new(
            route.vrf,
            route.prefix,
            route.next_hops.clone(),
        )),
        other => other.clone(),
    }
}

/// The receiving end of a plane's events.
pub type EventReceiver = tokio::sync::mpsc::UnboundedReceiver<PlaneEvent>;

/// An event a plane reports about its own state: links, addresses, and the entries the local
/// bridges and neighbor tables learned by themselves.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum PlaneEvent {
    /// A link appeared or changed; `up` is its operational state.
    Link {
        vrf: VrfId,
        name: String,
        index: u32,
        up: bool,
        mac: Option<MacAddr>,
        master: Option<String>,
    },
    /// A link disappeared.
    LinkRemoved {
        vrf: VrfId,
        name: String,
        index: u32,
    },
    /// An address was added to, or removed from, an interface.
    Address {
        vrf: VrfId,
        interface: String,
        address: IpNet,
        added: bool,
    },
    /// A bridge learned, or aged out, a MAC address on one of its ports. `vni` is set when the
    /// bridge has a VXLAN member with a known VNI.
    LocalMac {
        vrf: VrfId,
        bridge: String,
        port: String,
        mac: MacAddr,
        vni: Option<Vni>,
        learned: bool,
    },
    /// The neighbor table resolved, or lost, an address on an interface.
    LocalNeighbor {
        vrf: VrfId,
        interface: String,
        ip: IpAddr,
        mac: Option<MacAddr>,
        learned: bool,
    },
    /// The events before this one carried the whole state of `vrf` (links, addresses, MACs,
    /// neighbors) as it was when the plane started watching it. Later events are changes.
    InitialStateComplete { vrf: VrfId },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(prefix: &str, next_hops: Vec<NextHop>) -> Entry {
        Entry::Route(RouteEntry::new(
            VrfId::DEFAULT,
            prefix.parse().unwrap(),
            next_hops,
        ))
    }

    fn flood(vtep: &str) -> Entry {
        Entry::Flood(FloodEntry {
            vni: Vni::new(100).unwrap(),
            vtep: vtep.parse().unwrap(),
        })
    }

    #[test]
    fn diff_removes_stale_and_installs_changed() {
        let a = NextHop::via("192.0.2.1".parse().unwrap(), "eth0");
        let b = NextHop::via("192.0.2.2".parse().unwrap(), "eth1");
        let held = vec![
            route("10.0.0.0/24", vec![a.clone()]),
            route("10.0.1.0/24", vec![a.clone()]),
            flood("192.0.2.9"),
        ];
        let wanted = vec![
            route("10.0.0.0/24", vec![a.clone()]),
            route("10.0.1.0/24", vec![b.clone()]),
            flood("192.0.2.10"),
        ];

        let (changes, unchanged) = diff(&held, &wanted);

        assert_eq!(unchanged, 1);
        assert_eq!(changes.len(), 3);
        assert_eq!(changes[0], Change::Remove(flood("192.0.2.9").key()));
        assert!(changes.contains(&Change::Install(route("10.0.1.0/24", vec![b]))));
        assert!(changes.contains(&Change::Install(flood("192.0.2.10"))));
    }

    #[test]
    fn diff_ignores_next_hop_order() {
        let a = NextHop::via("192.0.2.1".parse().unwrap(), "eth0");
        let b = NextHop::via("192.0.2.2".parse().unwrap(), "eth1");
        let held = vec![Entry::Route(RouteEntry {
            vrf: VrfId::DEFAULT,
            prefix: "10.0.0.0/24".parse().unwrap(),
            next_hops: vec![b.clone(), a.clone()],
        })];
        let wanted = vec![route("10.0.0.0/24", vec![a, b])];

        let (changes, unchanged) = diff(&held, &wanted);

        assert!(changes.is_empty(), "{changes:?}");
        assert_eq!(unchanged, 1);
    }
}
