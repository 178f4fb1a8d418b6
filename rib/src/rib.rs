//! The routing information base: one table per VRF, route selection by administrative
//! distance and metric, ECMP, recursive resolution of next hops through IGP routes, next-hop
//! tracking and redistribution.
//!
//! The RIB owns no socket and runs no task. Each method applies one input and returns a
//! [`RibOutput`]: the southbound changes to apply to a forwarding plane, in order, and the
//! notifications to send to clients.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;
use tracing::debug;

use crate::model::{NextHop, RouteSource, VrfId};
use crate::southbound::{Change, Entry, EntryKey, RouteEntry};

/// A route as a protocol offers it to the RIB.
///
/// A VRF contains at most one route per prefix and source, so the protocol puts all its ECMP
/// next hops in that route.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Route {
    pub prefix: IpNet,
    pub source: RouteSource,
    /// Administrative distance: lower wins between sources.
    pub distance: u8,
    /// Metric within the source (OSPF cost, BGP MED); lower wins at equal distance.
    pub metric: u32,
    pub next_hops: Vec<NextHop>,
}

impl Route {
    /// Builds a route with the source's default distance and metric 0.
    pub fn new(prefix: IpNet, source: RouteSource, next_hops: Vec<NextHop>) -> Route {
        Route {
            prefix: prefix.trunc(),
            source,
            distance: source.default_distance(),
            metric: 0,
            next_hops,
        }
    }

    /// Returns the route with `metric` set.
    pub fn with_metric(mut self, metric: u32) -> Route {
        self.metric = metric;
        self
    }

    /// Returns the route with `distance` set.
    pub fn with_distance(mut self, distance: u8) -> Route {
        self.distance = distance;
        self
    }
}

/// A client of next-hop tracking or redistribution (a BGP instance, an OSPF instance, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ClientId(pub u32);

/// The reachability of a tracked address through the IGP routes of its VRF.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Reachability {
    pub reachable: bool,
    /// Metric of the resolving route (the IGP cost to the address); 0 when unreachable.
    pub metric: u32,
    /// The resolving route's prefix.
    pub prefix: Option<IpNet>,
    /// The next hops through which the address is reached.
    pub next_hops: Vec<NextHop>,
}

/// A message for a client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Notification {
    /// The reachability or the IGP cost of a tracked address changed (and once when tracking
    /// starts, with the current state).
    NextHop {
        client: ClientId,
        vrf: VrfId,
        address: IpAddr,
        reachability: Reachability,
    },
    /// A route of a redistributed source became the selected route of its prefix (`route` is
    /// set) or stopped being it (`route` is `None`).
    Redistribute {
        client: ClientId,
        vrf: VrfId,
        prefix: IpNet,
        source: RouteSource,
        route: Option<Route>,
    },
}

/// The output of one RIB input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RibOutput {
    /// Changes for the forwarding plane, to apply in this order.
    pub southbound: Vec<Change>,
    /// Messages for clients.
    pub notifications: Vec<Notification>,
}

impl RibOutput {
    fn merge(&mut self, other: RibOutput) {
        self.southbound.extend(other.southbound);
        self.notifications.extend(other.notifications);
    }
}

/// Errors of RIB inputs; none of them changes the RIB.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RibError {
    #[error("VRF {0} does not exist")]
    UnknownVrf(VrfId),
    #[error("VRF name {0:?} is already used by another table")]
    DuplicateVrfName(String),
    #[error("VRF {0} already exists")]
    DuplicateVrf(VrfId),
    #[error("the default VRF cannot be removed")]
    DefaultVrf,
    #[error("route {0} has no next hop")]
    NoNextHop(IpNet),
    #[error(
        "route {prefix} from {protocol:?} has a next hop without gateway, interface, encapsulation or VRF"
    )]
    EmptyNextHop {
        prefix: IpNet,
        protocol: RouteSource,
    },
    #[error("route {prefix} in VRF {vrf} has a next hop into its own VRF")]
    VrfNextHopLoop { vrf: VrfId, prefix: IpNet },
}

/// The route the RIB selected for a prefix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SelectedRoute {
    pub prefix: IpNet,
    pub source: RouteSource,
    pub distance: u8,
    pub metric: u32,
    /// The next hops after recursive resolution, sorted.
    pub next_hops: Vec<NextHop>,
}

#[derive(Debug)]
struct Vrf {
    name: String,
    prefixes: BTreeMap<IpNet, PrefixState>,
}

#[derive(Debug, Default)]
struct PrefixState {
    /// At most one route per source.
    candidates: Vec<Route>,
    selected: Option<SelectedRoute>,
}

/// A recursive next-hop address, with its resolution and who depends on it.
#[derive(Debug, Default)]
struct TrackedAddress {
    resolution: Reachability,
    /// Prefixes with a candidate route whose next hop needs this address resolved.
    dependents: BTreeSet<(VrfId, IpNet)>,
    /// Clients of next-hop tracking.
    clients: BTreeSet<ClientId>,
}

/// The RIB. See the module documentation.
#[derive(Debug)]
pub struct Rib {
    vrfs: BTreeMap<VrfId, Vrf>,
    names: HashMap<String, VrfId>,
    addresses: HashMap<(VrfId, IpAddr), TrackedAddress>,
    /// For each VRF, the prefixes with a candidate route that has a next hop into it; they are
    /// reselected when that VRF is added or removed.
    vrf_dependents: HashMap<VrfId, BTreeSet<(VrfId, IpNet)>>,
    redistribution: HashMap<(VrfId, RouteSource), BTreeSet<ClientId>>,
    install_connected: bool,
}

impl Default for Rib {
    fn default() -> Rib {
        Rib::new()
    }
}

impl Rib {
    /// Name of the default VRF.
    pub const DEFAULT_VRF_NAME: &'static str = "main";

    /// Creates a RIB holding only the default VRF ([`VrfId::DEFAULT`], named `main`).
    ///
    /// Selected connected routes are not sent southbound, because the kernel already has a
    /// route for every subnet of its interface addresses; see
    /// [`Rib::set_install_connected`] for a plane that does not.
    pub fn new() -> Rib {
        let mut rib = Rib {
            vrfs: BTreeMap::new(),
            names: HashMap::new(),
            addresses: HashMap::new(),
            vrf_dependents: HashMap::new(),
            redistribution: HashMap::new(),
            install_connected: false,
        };
        rib.vrfs.insert(
            VrfId::DEFAULT,
            Vrf {
                name: Self::DEFAULT_VRF_NAME.to_string(),
                prefixes: BTreeMap::new(),
            },
        );
        rib.names
            .insert(Self::DEFAULT_VRF_NAME.to_string(), VrfId::DEFAULT);
        rib
    }

    /// Sets whether selected connected routes are sent southbound. It takes effect for routes
    /// selected from now on.
    pub fn set_install_connected(&mut self, install: bool) {
        self.install_connected = install;
    }

    /// Adds a VRF with its name and table id. The output selects the routes of other VRFs
    /// whose next hop into this VRF was unusable until now.
    pub fn add_vrf(&mut self, name: &str, vrf: VrfId) -> Result<RibOutput, RibError> {
        if self.vrfs.contains_key(&vrf) {
            return Err(RibError::DuplicateVrf(vrf));
        }
        if self.names.contains_key(name) {
            return Err(RibError::DuplicateVrfName(name.to_string()));
        }
        self.vrfs.insert(
            vrf,
            Vrf {
                name: name.to_string(),
                prefixes: BTreeMap::new(),
            },
        );
        self.names.insert(name.to_string(), vrf);
        Ok(self.reselect_vrf_dependents(vrf))
    }

    /// Removes a VRF with all its routes; its installed routes are removed southbound.
    pub fn remove_vrf(&mut self, vrf: VrfId) -> Result<RibOutput, RibError> {
        if vrf == VrfId::DEFAULT {
            return Err(RibError::DefaultVrf);
        }
        let prefixes: Vec<(IpNet, Vec<RouteSource>)> = self
            .vrfs
            .get(&vrf)
            .ok_or(RibError::UnknownVrf(vrf))?
            .prefixes
            .iter()
            .map(|(prefix, state)| {
                (
                    *prefix,
                    state.candidates.iter().map(|route| route.source).collect(),
                )
            })
            .collect();
        let mut output = RibOutput::default();
        for (prefix, sources) in prefixes {
            for source in sources {
                output.merge(self.withdraw(vrf, prefix, source)?);
            }
        }
        let removed = self.vrfs.remove(&vrf).expect("VRF checked above");
        self.names.remove(&removed.name);
        self.addresses
            .retain(|(address_vrf, _), _| *address_vrf != vrf);
        self.redistribution
            .retain(|(redistributed_vrf, _), _| *redistributed_vrf != vrf);
        // Routes of other VRFs into this one lose that next hop but stay candidates, so that
        // they come back when the VRF does.
        output.merge(self.reselect_vrf_dependents(vrf));
        Ok(output)
    }

    /// Reselects the prefixes whose candidates have a next hop into `target`.
    fn reselect_vrf_dependents(&mut self, target: VrfId) -> RibOutput {
        let mut output = RibOutput::default();
        let dependents: Vec<(VrfId, IpNet)> = self
            .vrf_dependents
            .get(&target)
            .into_iter()
            .flatten()
            .copied()
            .collect();
        for (vrf, prefix) in dependents {
            output.merge(self.reselect(vrf, prefix));
        }
        output
    }

    /// Returns the id of the VRF named `name`.
    pub fn vrf_id(&self, name: &str) -> Option<VrfId> {
        self.names.get(name).copied()
    }

    /// Returns the name of VRF `vrf`.
    pub fn vrf_name(&self, vrf: VrfId) -> Option<&str> {
        self.vrfs.get(&vrf).map(|state| state.name.as_str())
    }

    /// Returns the VRFs with their names, in table id order.
    pub fn vrfs(&self) -> impl Iterator<Item = (VrfId, &str)> {
        self.vrfs
            .iter()
            .map(|(id, state)| (*id, state.name.as_str()))
    }

    /// Adds the route of `route.source` for `route.prefix` in `vrf`, or replaces it.
    pub fn update(&mut self, vrf: VrfId, route: Route) -> Result<RibOutput, RibError> {
        let mut route = route;
        route.prefix = route.prefix.trunc();
        validate(&route)?;
        if route
            .next_hops
            .iter()
            .any(|next_hop| next_hop.vrf == Some(vrf))
        {
            return Err(RibError::VrfNextHopLoop {
                vrf,
                prefix: route.prefix,
            });
        }
        let state = self
            .vrfs
            .get_mut(&vrf)
            .ok_or(RibError::UnknownVrf(vrf))?
            .prefixes
            .entry(route.prefix)
            .or_default();

        let previous = match state
            .candidates
            .iter_mut()
            .find(|candidate| candidate.source == route.source)
        {
            Some(candidate) => Some(std::mem::replace(candidate, route.clone())),
            None => {
                state.candidates.push(route.clone());
                None
            }
        };
        if previous.as_ref() == Some(&route) {
            return Ok(RibOutput::default());
        }
        debug!(%vrf, prefix = %route.prefix, source = ?route.source, "route updated");

        if let Some(previous) = &previous {
            self.unlink_dependencies(vrf, previous);
        }
        self.link_dependencies(vrf, &route);
        Ok(self.after_change(vrf, route.prefix, route.source))
    }

    /// Removes the route of `source` for `prefix` in `vrf`. Removing a route that is not there
    /// changes nothing.
    pub fn withdraw(
        &mut self,
        vrf: VrfId,
        prefix: IpNet,
        source: RouteSource,
    ) -> Result<RibOutput, RibError> {
        let prefix = prefix.trunc();
        let table = self.vrfs.get_mut(&vrf).ok_or(RibError::UnknownVrf(vrf))?;
        let Some(state) = table.prefixes.get_mut(&prefix) else {
            return Ok(RibOutput::default());
        };
        let Some(position) = state
            .candidates
            .iter()
            .position(|candidate| candidate.source == source)
        else {
            return Ok(RibOutput::default());
        };
        let removed = state.candidates.remove(position);
        debug!(%vrf, %prefix, ?source, "route withdrawn");

        self.unlink_dependencies(vrf, &removed);
        let output = self.after_change(vrf, prefix, source);
        let table = self.vrfs.get_mut(&vrf).expect("VRF checked above");
        if table
            .prefixes
            .get(&prefix)
            .is_some_and(|state| state.candidates.is_empty() && state.selected.is_none())
        {
            table.prefixes.remove(&prefix);
        }
        Ok(output)
    }

    /// Starts tracking `address` in `vrf` for `client`. The output contains one notification
    /// with the current reachability; later changes are notified as they happen.
    pub fn track_next_hop(
        &mut self,
        client: ClientId,
        vrf: VrfId,
        address: IpAddr,
    ) -> Result<RibOutput, RibError> {
        if !self.vrfs.contains_key(&vrf) {
            return Err(RibError::UnknownVrf(vrf));
        }
        let resolution = self.resolve(vrf, address);
        let tracked = self
            .addresses
            .entry((vrf, address))
            .or_insert_with(|| TrackedAddress {
                resolution,
                ..TrackedAddress::default()
            });
        tracked.clients.insert(client);
        let notification = Notification::NextHop {
            client,
            vrf,
            address,
            reachability: tracked.resolution.clone(),
        };
        Ok(RibOutput {
            southbound: Vec::new(),
            notifications: vec![notification],
        })
    }

    /// Stops tracking `address` in `vrf` for `client`.
    pub fn untrack_next_hop(&mut self, client: ClientId, vrf: VrfId, address: IpAddr) {
        if let Some(tracked) = self.addresses.get_mut(&(vrf, address)) {
            tracked.clients.remove(&client);
            if tracked.clients.is_empty() && tracked.dependents.is_empty() {
                self.addresses.remove(&(vrf, address));
            }
        }
    }

    /// Returns the current reachability of `address` in `vrf`, tracked or not.
    pub fn reachability(&self, vrf: VrfId, address: IpAddr) -> Reachability {
        match self.addresses.get(&(vrf, address)) {
            Some(tracked) => tracked.resolution.clone(),
            None => self.resolve(vrf, address),
        }
    }

    /// Starts redistributing the selected routes of `source` in `vrf` to `client` (for example
    /// connected routes to BGP for `redistribute connected`). The output announces every
    /// route selected now.
    pub fn redistribute(
        &mut self,
        client: ClientId,
        vrf: VrfId,
        source: RouteSource,
    ) -> Result<RibOutput, RibError> {
        let table = self.vrfs.get(&vrf).ok_or(RibError::UnknownVrf(vrf))?;
        self.redistribution
            .entry((vrf, source))
            .or_default()
            .insert(client);
        let notifications = table
            .prefixes
            .iter()
            .filter_map(|(prefix, state)| {
                let selected = state
                    .selected
                    .as_ref()
                    .filter(|selected| selected.source == source)?;
                let route = state
                    .candidates
                    .iter()
                    .find(|candidate| candidate.source == selected.source)?;
                Some(Notification::Redistribute {
                    client,
                    vrf,
                    prefix: *prefix,
                    source,
                    route: Some(route.clone()),
                })
            })
            .collect();
        Ok(RibOutput {
            southbound: Vec::new(),
            notifications,
        })
    }

    /// Stops redistributing `source` in `vrf` to `client`.
    pub fn stop_redistribute(&mut self, client: ClientId, vrf: VrfId, source: RouteSource) {
        if let Some(clients) = self.redistribution.get_mut(&(vrf, source)) {
            clients.remove(&client);
        }
    }

    /// Returns the selected route for exactly `prefix` in `vrf`.
    pub fn selected(&self, vrf: VrfId, prefix: IpNet) -> Option<&SelectedRoute> {
        self.vrfs
            .get(&vrf)?
            .prefixes
            .get(&prefix.trunc())?
            .selected
            .as_ref()
    }

    /// Returns the candidate routes for `prefix` in `vrf`, selected or not.
    pub fn candidates(&self, vrf: VrfId, prefix: IpNet) -> &[Route] {
        self.vrfs
            .get(&vrf)
            .and_then(|table| table.prefixes.get(&prefix.trunc()))
            .map(|state| state.candidates.as_slice())
            .unwrap_or(&[])
    }

    /// Returns the selected route with the longest prefix containing `address` in `vrf`.
    pub fn lookup(&self, vrf: VrfId, address: IpAddr) -> Option<&SelectedRoute> {
        let table = self.vrfs.get(&vrf)?;
        covering_prefixes(address).find_map(|prefix| table.prefixes.get(&prefix)?.selected.as_ref())
    }

    /// Returns the selected routes of `vrf`, in prefix order.
    pub fn selected_routes(&self, vrf: VrfId) -> impl Iterator<Item = &SelectedRoute> {
        self.vrfs.get(&vrf).into_iter().flat_map(|table| {
            table
                .prefixes
                .values()
                .filter_map(|state| state.selected.as_ref())
        })
    }

    /// Returns every route entry the forwarding plane should hold, for
    /// [`crate::Southbound::resync`] after a restart.
    pub fn southbound_entries(&self) -> Vec<Entry> {
        self.vrfs
            .keys()
            .flat_map(|vrf| {
                self.selected_routes(*vrf)
                    .filter_map(|selected| self.southbound_entry(*vrf, selected))
            })
            .map(Entry::Route)
            .collect()
    }

    fn southbound_entry(&self, vrf: VrfId, selected: &SelectedRoute) -> Option<RouteEntry> {
        if selected.source == RouteSource::Connected && !self.install_connected {
            return None;
        }
        Some(RouteEntry::new(
            vrf,
            selected.prefix,
            selected.next_hops.clone(),
        ))
    }

    /// Registers `route`'s recursive next hops and next hops into other VRFs, so that changes
    /// to their resolution or to those VRFs reach it.
    fn link_dependencies(&mut self, vrf: VrfId, route: &Route) {
        for target in route.next_hops.iter().filter_map(|next_hop| next_hop.vrf) {
            self.vrf_dependents
                .entry(target)
                .or_default()
                .insert((vrf, route.prefix));
        }
        for key in dependency_keys(vrf, route) {
            if !self.addresses.contains_key(&key) {
                let resolution = self.resolve(key.0, key.1);
                self.addresses.insert(
                    key,
                    TrackedAddress {
                        resolution,
                        ..TrackedAddress::default()
                    },
                );
            }
            let tracked = self.addresses.get_mut(&key).expect("inserted above");
            tracked.dependents.insert((vrf, route.prefix));
        }
    }

    fn unlink_dependencies(&mut self, vrf: VrfId, route: &Route) {
        for target in route.next_hops.iter().filter_map(|next_hop| next_hop.vrf) {
            let still_used = self
                .vrfs
                .get(&vrf)
                .and_then(|table| table.prefixes.get(&route.prefix))
                .is_some_and(|state| {
                    state
                        .candidates
                        .iter()
                        .filter(|candidate| candidate.source != route.source)
                        .any(|candidate| {
                            candidate
                                .next_hops
                                .iter()
                                .any(|next_hop| next_hop.vrf == Some(target))
                        })
                });
            if still_used {
                continue;
            }
            if let Some(dependents) = self.vrf_dependents.get_mut(&target) {
                dependents.remove(&(vrf, route.prefix));
                if dependents.is_empty() {
                    self.vrf_dependents.remove(&target);
                }
            }
        }
        for key in dependency_keys(vrf, route) {
            if let Some(tracked) = self.addresses.get_mut(&key) {
                // Another source's route for the same prefix may still use the address.
                let still_used = self
                    .vrfs
                    .get(&vrf)
                    .and_then(|table| table.prefixes.get(&route.prefix))
                    .is_some_and(|state| {
                        state
                            .candidates
                            .iter()
                            .filter(|candidate| candidate.source != route.source)
                            .any(|candidate| dependency_keys(vrf, candidate).contains(&key))
                    });
                if !still_used {
                    tracked.dependents.remove(&(vrf, route.prefix));
                }
                if tracked.dependents.is_empty() && tracked.clients.is_empty() {
                    self.addresses.remove(&key);
                }
            }
        }
    }

    /// Reselects `prefix`, and when a route of an IGP source changed, re-resolves the tracked
    /// addresses it covers and reselects their dependents.
    fn after_change(&mut self, vrf: VrfId, prefix: IpNet, source: RouteSource) -> RibOutput {
        let mut output = self.reselect(vrf, prefix);
        if !source.is_igp() {
            return output;
        }

        let affected: Vec<(VrfId, IpAddr)> = self
            .addresses
            .keys()
            .filter(|(address_vrf, address)| *address_vrf == vrf && prefix.contains(address))
            .copied()
            .collect();
        let mut dependents = BTreeSet::new();
        for key in affected {
            let resolution = self.resolve(key.0, key.1);
            let tracked = self.addresses.get_mut(&key).expect("key listed above");
            if tracked.resolution == resolution {
                continue;
            }
            debug!(vrf = %key.0, address = %key.1, reachable = resolution.reachable, metric = resolution.metric, "next hop changed");
            tracked.resolution = resolution;
            dependents.extend(tracked.dependents.iter().copied());
            for client in &tracked.clients {
                output.notifications.push(Notification::NextHop {
                    client: *client,
                    vrf: key.0,
                    address: key.1,
                    reachability: tracked.resolution.clone(),
                });
            }
        }
        for (dependent_vrf, dependent_prefix) in dependents {
            output.merge(self.reselect(dependent_vrf, dependent_prefix));
        }
        output
    }

    /// Selects the best usable candidate of `prefix` and returns the southbound change and the
    /// redistribution notifications when the selection changed.
    fn reselect(&mut self, vrf: VrfId, prefix: IpNet) -> RibOutput {
        let Some(state) = self
            .vrfs
            .get(&vrf)
            .and_then(|table| table.prefixes.get(&prefix))
        else {
            return RibOutput::default();
        };
        let mut best: Option<SelectedRoute> = None;
        for candidate in &state.candidates {
            let next_hops = self.resolve_next_hops(vrf, candidate);
            if next_hops.is_empty() {
                continue;
            }
            let better = match &best {
                None => true,
                Some(current) => {
                    (candidate.distance, candidate.metric, candidate.source)
                        < (current.distance, current.metric, current.source)
                }
            };
            if better {
                best = Some(SelectedRoute {
                    prefix,
                    source: candidate.source,
                    distance: candidate.distance,
                    metric: candidate.metric,
                    next_hops,
                });
            }
        }

        let old = state.selected.clone();
        if old == best {
            return RibOutput::default();
        }
        let old_route = old
            .as_ref()
            .and_then(|old| state.candidates.iter().find(|c| c.source == old.source))
            .cloned();
        let new_route = best
            .as_ref()
            .and_then(|new| state.candidates.iter().find(|c| c.source == new.source))
            .cloned();
        let old_entry = old.as_ref().and_then(|old| self.southbound_entry(vrf, old));
        let new_entry = best
            .as_ref()
            .and_then(|new| self.southbound_entry(vrf, new));
        debug!(%vrf, %prefix, source = ?best.as_ref().map(|best| best.source), "selection changed");

        let mut output = RibOutput::default();
        match (&old_entry, new_entry) {
            (Some(old_entry), Some(new_entry)) if *old_entry == new_entry => {}
            (_, Some(new_entry)) => output
                .southbound
                .push(Change::Install(Entry::Route(new_entry))),
            (Some(_), None) => output
                .southbound
                .push(Change::Remove(EntryKey::Route { vrf, prefix })),
            (None, None) => {}
        }
        self.notify_redistribution(
            vrf,
            prefix,
            old.as_ref(),
            best.as_ref(),
            old_route,
            new_route,
            &mut output,
        );

        let state = self
            .vrfs
            .get_mut(&vrf)
            .and_then(|table| table.prefixes.get_mut(&prefix))
            .expect("state read above");
        state.selected = best;
        output
    }

    #[allow(clippy::too_many_arguments)]
    fn notify_redistribution(
        &self,
        vrf: VrfId,
        prefix: IpNet,
        old: Option<&SelectedRoute>,
        new: Option<&SelectedRoute>,
        old_route: Option<Route>,
        new_route: Option<Route>,
        output: &mut RibOutput,
    ) {
        let old_source = old.map(|old| old.source);
        let new_source = new.map(|new| new.source);
        if let Some(source) = old_source.filter(|source| Some(*source) != new_source) {
            for client in self
                .redistribution
                .get(&(vrf, source))
                .into_iter()
                .flatten()
            {
                output.notifications.push(Notification::Redistribute {
                    client: *client,
                    vrf,
                    prefix,
                    source,
                    route: None,
                });
            }
        }
        if let Some(source) = new_source {
            if old_source == new_source && old_route == new_route {
                return;
            }
            for client in self
                .redistribution
                .get(&(vrf, source))
                .into_iter()
                .flatten()
            {
                output.notifications.push(Notification::Redistribute {
                    client: *client,
                    vrf,
                    prefix,
                    source,
                    route: new_route.clone(),
                });
            }
        }
    }

    /// Returns the forwarding next hops of `route`: direct ones as they are, recursive ones
    /// through their resolution, VXLAN ones when their VTEP is reachable in the default VRF,
    /// and next hops into another VRF while that VRF exists.
    fn resolve_next_hops(&self, vrf: VrfId, route: &Route) -> Vec<NextHop> {
        let mut resolved = Vec::new();
        for next_hop in &route.next_hops {
            if let Some(target) = next_hop.vrf {
                if self.vrfs.contains_key(&target) {
                    resolved.push(next_hop.clone());
                }
            } else if let Some(encap) = &next_hop.encap {
                if self
                    .cached_reachability(VrfId::DEFAULT, encap.vtep)
                    .reachable
                {
                    resolved.push(next_hop.clone());
                }
            } else if next_hop.is_recursive() {
                let gateway = next_hop
                    .gateway
                    .expect("recursive next hops have a gateway");
                resolved.extend(self.cached_reachability(vrf, gateway).next_hops);
            } else {
                resolved.push(next_hop.clone());
            }
        }
        resolved.sort();
        resolved.dedup();
        resolved
    }

    fn cached_reachability(&self, vrf: VrfId, address: IpAddr) -> Reachability {
        match self.addresses.get(&(vrf, address)) {
            Some(tracked) => tracked.resolution.clone(),
            None => self.resolve(vrf, address),
        }
    }

    /// Resolves `address` in `vrf` through the most specific prefix that has a usable IGP
    /// route: the best connected, static or OSPF candidate whose next hops are all direct.
    ///
    /// Only IGP routes resolve, so BGP routes never resolve through BGP routes, and the default
    /// route is not used (as FRR does without `ip nht resolve-via-default`).
    fn resolve(&self, vrf: VrfId, address: IpAddr) -> Reachability {
        let Some(table) = self.vrfs.get(&vrf) else {
            return Reachability::default();
        };
        for prefix in covering_prefixes(address).filter(|prefix| prefix.prefix_len() > 0) {
            let Some(state) = table.prefixes.get(&prefix) else {
                continue;
            };
            let resolving = state
                .candidates
                .iter()
                .filter(|candidate| candidate.source.is_igp())
                .filter(|candidate| {
                    candidate
                        .next_hops
                        .iter()
                        .all(|next_hop| next_hop.interface.is_some())
                })
                .min_by_key(|candidate| (candidate.distance, candidate.metric, candidate.source));
            let Some(resolving) = resolving else {
                continue;
            };
            let mut next_hops: Vec<NextHop> = resolving
                .next_hops
                .iter()
                .map(|next_hop| match next_hop.gateway {
                    // The address is on the connected subnet: it is its own gateway.
                    None => NextHop {
                        gateway: Some(address),
                        ..next_hop.clone()
                    },
                    Some(_) => next_hop.clone(),
                })
                .collect();
            next_hops.sort();
            next_hops.dedup();
            return Reachability {
                reachable: true,
                metric: resolving.metric,
                prefix: Some(prefix),
                next_hops,
            };
        }
        Reachability::default()
    }
}

fn validate(route: &Route) -> Result<(), RibError> {
    if route.next_hops.is_empty() {
        return Err(RibError::NoNextHop(route.prefix));
    }
    let empty = |next_hop: &NextHop| {
        next_hop.gateway.is_none()
            && next_hop.interface.is_none()
            && next_hop.encap.is_none()
            && next_hop.vrf.is_none()
    };
    if route.next_hops.iter().any(empty) {
        return Err(RibError::EmptyNextHop {
            prefix: route.prefix,
            protocol: route.source,
        });
    }
    Ok(())
}

/// Returns the addresses whose resolution `route` (in `vrf`) depends on.
fn dependency_keys(vrf: VrfId, route: &Route) -> Vec<(VrfId, IpAddr)> {
    let mut keys: Vec<(VrfId, IpAddr)> = route
        .next_hops
        .iter()
        .filter_map(|next_hop| match (&next_hop.encap, next_hop.gateway) {
            (Some(encap), _) => Some((VrfId::DEFAULT, encap.vtep)),
            (None, Some(gateway)) if next_hop.is_recursive() => Some((vrf, gateway)),
            _ => None,
        })
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Returns the prefixes that contain `address`, longest first.
fn covering_prefixes(address: IpAddr) -> impl Iterator<Item = IpNet> {
    let max = match address {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    (0..=max).rev().map(move |len| {
        IpNet::new(address, len)
            .expect("length within the family's range")
            .trunc()
    })
}
