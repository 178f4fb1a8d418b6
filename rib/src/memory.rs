//! A forwarding plane in memory that records every change, for tests of the RIB's clients: a
//! test applies its control plane's output here and compares the tables with the expected ones.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::IpAddr;

use ipnet::IpNet;

use crate::model::{MacAddr, Vni, VrfId};
use crate::southbound::{
    BatchResults, Change, Entry, EntryKey, EventReceiver, FloodEntry, MacEntry, NeighborEntry,
    PlaneError, PlaneEvent, RouteEntry, Southbound,
};

/// The in-memory plane. Installing replaces by key and removing an absent key succeeds, as the
/// [`Southbound`] contract requires.
#[derive(Debug, Default)]
pub struct InMemoryPlane {
    routes: BTreeMap<(VrfId, IpNet), RouteEntry>,
    macs: BTreeMap<(Vni, MacAddr), MacEntry>,
    neighbors: BTreeMap<(VrfId, String, IpAddr), NeighborEntry>,
    floods: BTreeSet<(Vni, IpAddr)>,
    missing_interfaces: HashSet<String>,
    log: Vec<Change>,
    subscribers: Vec<tokio::sync::mpsc::UnboundedSender<PlaneEvent>>,
}

impl InMemoryPlane {
    /// Creates an empty plane.
    pub fn new() -> InMemoryPlane {
        InMemoryPlane::default()
    }

    /// Makes changes that name interface `name` fail with [`PlaneError::MissingDevice`], as a
    /// real plane does for a device that does not exist.
    pub fn set_interface_missing(&mut self, name: &str, missing: bool) {
        if missing {
            self.missing_interfaces.insert(name.to_string());
        } else {
            self.missing_interfaces.remove(name);
        }
    }

    /// Sends `event` to every subscriber, as a real plane does when its kernel reports one.
    pub fn emit(&mut self, event: PlaneEvent) {
        self.subscribers
            .retain(|subscriber| subscriber.send(event.clone()).is_ok());
    }

    /// Returns every change applied successfully so far, in order.
    pub fn log(&self) -> &[Change] {
        &self.log
    }

    /// Forgets the recorded changes (the entries stay).
    pub fn clear_log(&mut self) {
        self.log.clear();
    }

    /// Returns the route for `prefix` in `vrf`.
    pub fn route(&self, vrf: VrfId, prefix: IpNet) -> Option<&RouteEntry> {
        self.routes.get(&(vrf, prefix.trunc()))
    }

    /// Returns the routes of `vrf`, in prefix order.
    pub fn routes(&self, vrf: VrfId) -> Vec<&RouteEntry> {
        self.routes
            .iter()
            .filter(|((route_vrf, _), _)| *route_vrf == vrf)
            .map(|(_, route)| route)
            .collect()
    }

    /// Returns the remote MAC entries of `vni`, in MAC order.
    pub fn macs(&self, vni: Vni) -> Vec<&MacEntry> {
        self.macs
            .iter()
            .filter(|((mac_vni, _), _)| *mac_vni == vni)
            .map(|(_, mac)| mac)
            .collect()
    }

    /// Returns the neighbor entries of `vrf`, ordered by interface and address.
    pub fn neighbors(&self, vrf: VrfId) -> Vec<&NeighborEntry> {
        self.neighbors
            .iter()
            .filter(|((neighbor_vrf, _, _), _)| *neighbor_vrf == vrf)
            .map(|(_, n)| n)
            .collect()
    }

    /// Returns the flood list of `vni`: the remote VTEPs, in address order.
    pub fn flood_list(&self, vni: Vni) -> Vec<IpAddr> {
        self.floods
            .iter()
            .filter(|(flood_vni, _)| *flood_vni == vni)
            .map(|(_, vtep)| *vtep)
            .collect()
    }

    /// Returns every entry, routes first, then MACs, neighbors and flood entries.
    pub fn entries(&self) -> Vec<Entry> {
        let routes = self.routes.values().cloned().map(Entry::Route);
        let macs = self.macs.values().cloned().map(Entry::Mac);
        let neighbors = self.neighbors.values().cloned().map(Entry::Neighbor);
        let floods = self.floods.iter().map(|(vni, vtep)| {
            Entry::Flood(FloodEntry {
                vni: *vni,
                vtep: *vtep,
            })
        });
        routes.chain(macs).chain(neighbors).chain(floods).collect()
    }

    fn check_interfaces(&self, change: &Change) -> Result<(), PlaneError> {
        let (vrf, names): (VrfId, Vec<&str>) = match change {
            Change::Install(Entry::Route(route)) => (
                route.vrf,
                route
                    .next_hops
                    .iter()
                    .filter_map(|next_hop| next_hop.interface.as_deref())
                    .collect(),
            ),
            Change::Install(Entry::Neighbor(neighbor)) => {
                (neighbor.vrf, vec![neighbor.interface.as_str()])
            }
            _ => return Ok(()),
        };
        match names
            .into_iter()
            .find(|name| self.missing_interfaces.contains(*name))
        {
            Some(name) => Err(PlaneError::MissingDevice {
                vrf,
                name: name.to_string(),
            }),
            None => Ok(()),
        }
    }

    fn apply_one(&mut self, change: &Change) -> Result<(), PlaneError> {
        self.check_interfaces(change)?;
        match change {
            Change::Install(Entry::Route(route)) => {
                let route = RouteEntry::new(route.vrf, route.prefix, route.next_hops.clone());
                self.routes.insert((route.vrf, route.prefix), route);
            }
            Change::Install(Entry::Mac(mac)) => {
                self.macs.insert((mac.vni, mac.mac), mac.clone());
            }
            Change::Install(Entry::Neighbor(neighbor)) => {
                let key = (neighbor.vrf, neighbor.interface.clone(), neighbor.ip);
                self.neighbors.insert(key, neighbor.clone());
            }
            Change::Install(Entry::Flood(flood)) => {
                self.floods.insert((flood.vni, flood.vtep));
            }
            Change::Remove(EntryKey::Route { vrf, prefix }) => {
                self.routes.remove(&(*vrf, prefix.trunc()));
            }
            Change::Remove(EntryKey::Mac { vni, mac }) => {
                self.macs.remove(&(*vni, *mac));
            }
            Change::Remove(EntryKey::Neighbor { vrf, interface, ip }) => {
                self.neighbors.remove(&(*vrf, interface.clone(), *ip));
            }
            Change::Remove(EntryKey::Flood { vni, vtep }) => {
                self.floods.remove(&(*vni, *vtep));
            }
        }
        self.log.push(change.clone());
        Ok(())
    }
}

impl Southbound for InMemoryPlane {
    fn apply(&mut self, changes: &[Change]) -> BatchResults {
        changes
            .iter()
            .map(|change| self.apply_one(change))
            .collect()
    }

    fn dump(&mut self) -> Result<Vec<Entry>, PlaneError> {
        Ok(self.entries())
    }

    fn subscribe(&mut self) -> Result<EventReceiver, PlaneError> {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        self.subscribers.push(sender);
        Ok(receiver)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NextHop;

    fn neighbor(interface: &str, ip: &str) -> NeighborEntry {
        NeighborEntry {
            vrf: VrfId(100),
            interface: interface.to_string(),
            ip: ip.parse().unwrap(),
            mac: "02:00:00:00:00:01".parse().unwrap(),
        }
    }

    #[test]
    fn memory_plane_missing_interface_fails_one_change() {
        let mut plane = InMemoryPlane::new();
        plane.set_interface_missing("br9", true);
        let changes = vec![
            Change::Install(Entry::Neighbor(neighbor("br9", "10.0.0.1"))),
            Change::Install(Entry::Neighbor(neighbor("br1", "10.0.0.2"))),
        ];

        let results = plane.apply(&changes);

        assert_eq!(
            results[0],
            Err(PlaneError::MissingDevice {
                vrf: VrfId(100),
                name: "br9".to_string()
            })
        );
        assert_eq!(results[1], Ok(()));
        assert_eq!(
            plane.neighbors(VrfId(100)),
            vec![&neighbor("br1", "10.0.0.2")]
        );
    }

    #[test]
    fn memory_plane_apply_is_idempotent() {
        let mut plane = InMemoryPlane::new();
        let route = RouteEntry::new(
            VrfId::DEFAULT,
            "10.1.0.0/16".parse().unwrap(),
            vec![NextHop::connected("eth0")],
        );
        let flood = FloodEntry {
            vni: Vni::new(10).unwrap(),
            vtep: "192.0.2.1".parse().unwrap(),
        };
        let batch = vec![
            Change::Install(Entry::Route(route.clone())),
            Change::Install(Entry::Flood(flood.clone())),
            Change::Remove(EntryKey::Mac {
                vni: flood.vni,
                mac: MacAddr::ZERO,
            }),
        ];

        assert!(plane.apply(&batch).iter().all(Result::is_ok));
        let once = plane.entries();
        assert!(plane.apply(&batch).iter().all(Result::is_ok));

        assert_eq!(plane.entries(), once);
        assert_eq!(once, vec![Entry::Route(route), Entry::Flood(flood)]);
    }

    #[test]
    fn memory_plane_resync_keeps_only_wanted() {
        let mut plane = InMemoryPlane::new();
        let vni = Vni::new(10).unwrap();
        let flood = |vtep: &str| {
            Entry::Flood(FloodEntry {
                vni,
                vtep: vtep.parse().unwrap(),
            })
        };
        plane.apply(&[
            Change::Install(flood("192.0.2.1")),
            Change::Install(flood("192.0.2.2")),
        ]);

        let report = plane
            .resync(&[flood("192.0.2.2"), flood("192.0.2.3")])
            .unwrap();

        assert_eq!(report.removed, 1);
        assert_eq!(report.installed, 1);
        assert_eq!(report.unchanged, 1);
        assert_eq!(
            plane.flood_list(vni),
            vec![
                "192.0.2.2".parse::<IpAddr>().unwrap(),
                "192.0.2.3".parse().unwrap()
            ]
        );
    }

    #[test]
    fn memory_plane_sends_events_to_subscribers() {
        let mut plane = InMemoryPlane::new();
        let mut events = plane.subscribe().unwrap();
        let event = PlaneEvent::LinkRemoved {
            vrf: VrfId::DEFAULT,
            name: "eth0".to_string(),
            index: 2,
        };

        plane.emit(event.clone());

        assert_eq!(events.try_recv().unwrap(), event);
    }
}
