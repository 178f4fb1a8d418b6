//! The Linux forwarding plane: the southbound entries as kernel routes, neighbor entries and
//! VXLAN forwarding database entries, over rtnetlink.
//!
//! Tenants are isolated without kernel VRF devices. Every VRF but the default one lives in a
//! network namespace of its own, with its bridges, its pods' ports and its VXLAN devices. The
//! VXLAN devices are created in the underlay namespace, so that their UDP sockets stay there,
//! and then moved in.
//! The plane keeps one netlink socket per namespace, opened by a thread that entered it.
//!
//! Symmetric IRB inside a VRF namespace follows what FRR programs with kernel VRFs. A route
//! with VXLAN next hops becomes `PREFIX via VTEP dev SVI onlink` on the L3VNI bridge (SVI),
//! and for each remote VTEP the plane adds the neighbor entry `VTEP lladdr RMAC dev SVI` and
//! the FDB entry `RMAC dev L3VXLAN dst VTEP`, counted by the routes that use them.
//!
//! A route leaked into another VRF (a [`NextHop::vrf`] next hop) goes over a veth pair between
//! the two VRF namespaces, which the plane creates when the first route needs it and deletes
//! when the last route using it goes. VRFs 100 and 101 share `lk100-101` (in 100's namespace)
//! and `lk101-100`, numbered 169.254.0.2/31 and 169.254.0.3/31, and the route in VRF 100 is
//! `PREFIX via 169.254.0.3 dev lk100-101`. The /31 is derived from the table ids, which must
//! be at most [`MAX_LEAK_TABLE`].
//!
//! Everything the plane installs carries its mark ([`ROUTE_PROTOCOL`] on routes,
//! `extern_learn` on neighbor and FDB entries), and [`Southbound::dump`] reads back only
//! marked entries, so a resynchronisation never removes entries of others. The exception is
//! the flood list: the kernel keeps one set of flags for all the remotes of the all-zero-MAC
//! entry of a VXLAN device, so the plane owns every flood remote of the devices bound to its
//! L2VNIs (see [`LinuxPlane::bind_l2vni`]) and leaves those of other devices alone.

mod events;
mod kernel;
mod leak;
pub mod links;
mod messages;
mod netns;
mod socket;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use ipnet::IpNet;
use netlink_packet_route::neighbour::NeighbourFlags;
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use tokio::sync::mpsc::UnboundedSender;
use tracing::{debug, info, warn};

pub use leak::{LEAK_LINK_ALIAS, MAX_LEAK_TABLE, leak_link_name, parse_leak_link_name};
pub use netns::{NETNS_RUN_DIR, Namespace, NamespaceHandle, create_namespace, delete_namespace};

use self::events::MonitorControl;
use self::kernel::{Link, LinkTable, parse_neighbour, parse_route};
use self::messages::{KernelNextHop, RouteMark};
use self::socket::{Reply, Request, RouteSocket};
use crate::model::{MacAddr, NextHop, Vni, VrfId, VxlanEncap};
use crate::southbound::{
    BatchResults, Change, Entry, EntryKey, EventReceiver, FloodEntry, MacEntry, NeighborEntry,
    PlaneError, PlaneEvent, ResyncReport, RouteEntry, Southbound, diff, report,
};

/// Route protocol number marking the routes of this plane (`proto 201` in `ip route`); not
/// among the numbers iproute2 reserves in `rt_protos`.
pub const ROUTE_PROTOCOL: u8 = 201;

/// Metric (`RTA_PRIORITY`) of this plane's routes, as FRR's zebra uses 20 for its own: a
/// replace then only ever matches a route of this plane's slot, never the kernel's metric-0
/// route of a connected subnet.
pub const ROUTE_METRIC: u32 = 20;

/// Routing table of a VRF inside its namespace: `main`.
const MAIN_TABLE: u32 = 254;

const ENOENT: i32 = libc::ENOENT;
const ESRCH: i32 = libc::ESRCH;

/// The L3VNI devices of a VRF namespace, for symmetric IRB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct L3VniDevices {
    pub vni: Vni,
    /// The L3VNI VXLAN device, a port of `svi`.
    pub vxlan: String,
    /// The L3VNI bridge, which carries the local router MAC.
    pub svi: String,
}

/// The Linux plane. See the module documentation.
#[derive(Debug)]
pub struct LinuxPlane {
    vrfs: BTreeMap<VrfId, VrfSpace>,
    l2vnis: BTreeMap<Vni, (VrfId, String)>,
    /// The number of installed routes (of either VRF) using each leak link, keyed by the pair
    /// of VRFs with the lower table id first.
    leaks: BTreeMap<(VrfId, VrfId), usize>,
    /// Leak links created or released during the current batch: deleted after it when no
    /// route uses them.
    leak_checks: BTreeSet<(VrfId, VrfId)>,
    /// The channel of the last [`Southbound::subscribe`], which VRFs added later report to.
    events: Option<UnboundedSender<PlaneEvent>>,
}

#[derive(Debug)]
struct VrfSpace {
    namespace: Namespace,
    handle: NamespaceHandle,
    socket: RouteSocket,
    links: LinkTable,
    l3vni: Option<L3VniDevices>,
    /// Remote router MACs in use: (VTEP, router MAC) and the number of routes using the pair.
    router_macs: BTreeMap<(IpAddr, MacAddr), usize>,
    /// The (VTEP, router MAC) pairs of each installed route with VXLAN next hops.
    encap_routes: HashMap<IpNet, Vec<(IpAddr, MacAddr)>>,
    /// The target VRFs of each installed route with next hops into other VRFs.
    leak_routes: HashMap<IpNet, Vec<VrfId>>,
    /// The controls of the event monitors of this namespace. Dropping the space sets their
    /// stop flags.
    monitors: Vec<Arc<MonitorControl>>,
}

impl VrfSpace {
    /// Starts an event monitor of this namespace that reports `vrf`'s events to `sender`.
    fn watch(
        &mut self,
        vrf: VrfId,
        sender: &tokio::sync::mpsc::UnboundedSender<PlaneEvent>,
    ) -> Result<(), PlaneError> {
        let control = Arc::new(MonitorControl::default());
        events::spawn_monitor(
            vrf,
            self.handle.clone(),
            sender.clone(),
            Arc::clone(&control),
        )?;
        self.monitors.push(control);
        Ok(())
    }
}

impl Drop for VrfSpace {
    fn drop(&mut self) {
        for monitor in &self.monitors {
            monitor.stop.store(true, Ordering::Relaxed);
        }
    }
}

impl VrfSpace {
    fn open(namespace: Namespace) -> Result<VrfSpace, PlaneError> {
        let io_error = |error: std::io::Error| PlaneError::Io(error.to_string());
        let handle = namespace.open().map_err(io_error)?;
        let socket = handle
            .run(RouteSocket::open)
            .and_then(|socket| socket)
            .map_err(io_error)?;
        Ok(VrfSpace {
            namespace,
            handle,
            socket,
            links: LinkTable::default(),
            l3vni: None,
            router_macs: BTreeMap::new(),
            encap_routes: HashMap::new(),
            leak_routes: HashMap::new(),
            monitors: Vec::new(),
        })
    }

    fn link(&self, vrf: VrfId, name: &str) -> Result<&Link, PlaneError> {
        self.links
            .get(name)
            .ok_or_else(|| PlaneError::MissingDevice {
                vrf,
                name: name.to_string(),
            })
    }

    fn mark() -> RouteMark {
        RouteMark {
            protocol: ROUTE_PROTOCOL,
            metric: ROUTE_METRIC,
            table: MAIN_TABLE,
        }
    }
}

/// One netlink request of a batch, with the change it belongs to.
struct Step {
    change: usize,
    request: Request,
    /// Errors that mean the request's work is already done (an absent entry for a delete).
    tolerated: &'static [i32],
    /// A request to send instead when this one fails with ENOENT.
    fallback: Option<Request>,
}

impl Step {
    fn new(change: usize, request: Request) -> Step {
        Step {
            change,
            request,
            tolerated: &[],
            fallback: None,
        }
    }

    fn delete(change: usize, request: Request) -> Step {
        Step {
            change,
            request,
            tolerated: &[ENOENT, ESRCH],
            fallback: None,
        }
    }
}

impl LinuxPlane {
    /// Creates a plane whose default VRF is the network namespace of the calling thread.
    pub fn new() -> Result<LinuxPlane, PlaneError> {
        let default = VrfSpace::open(Namespace::Current)?;
        let mut plane = LinuxPlane {
            vrfs: BTreeMap::new(),
            l2vnis: BTreeMap::new(),
            leaks: BTreeMap::new(),
            leak_checks: BTreeSet::new(),
            events: None,
        };
        plane.vrfs.insert(VrfId::DEFAULT, default);
        Ok(plane)
    }

    /// Places VRF `vrf` in `namespace` (for example [`Namespace::named`]`("vrf100")`), opening
    /// a netlink socket there. Entries of `vrf` go to that namespace's `main` table. After
    /// [`Southbound::subscribe`], the namespace's events go to the subscribed channel too.
    pub fn add_vrf(&mut self, vrf: VrfId, namespace: Namespace) -> Result<(), PlaneError> {
        let mut space = VrfSpace::open(namespace.clone())?;
        if let Some(sender) = self.events.as_ref().filter(|sender| !sender.is_closed()) {
            space.watch(vrf, sender)?;
        }
        info!(%vrf, ?namespace, "VRF namespace added to the Linux plane");
        self.vrfs.insert(vrf, space);
        Ok(())
    }

    /// Forgets VRF `vrf` and its VNI bindings; its entries stay in its namespace. The leak
    /// links between `vrf` and other VRFs are deleted, and with them the routes of other VRFs
    /// into `vrf`.
    pub fn remove_vrf(&mut self, vrf: VrfId) {
        self.vrfs.remove(&vrf);
        self.l2vnis.retain(|_, (bound_vrf, _)| *bound_vrf != vrf);

        let pairs: Vec<(VrfId, VrfId)> = self
            .leaks
            .keys()
            .filter(|(a, b)| *a == vrf || *b == vrf)
            .copied()
            .collect();
        for pair in pairs {
            self.leaks.remove(&pair);
            let other = if pair.0 == vrf { pair.1 } else { pair.0 };
            let Some(space) = self.vrfs.get_mut(&other) else {
                continue;
            };
            if let Some(name) = leak_link_name(other, vrf)
                && let Err(error) = leak::delete(&mut space.socket, &name)
            {
                warn!(%vrf, %other, %error, "leak link not deleted");
            }
        }
        for space in self.vrfs.values_mut() {
            space.leak_routes.retain(|_, targets| {
                targets.retain(|target| *target != vrf);
                !targets.is_empty()
            });
        }
    }

    /// Returns the namespace of VRF `vrf`, as given to [`LinuxPlane::add_vrf`].
    pub fn namespace(&self, vrf: VrfId) -> Option<&Namespace> {
        self.vrfs.get(&vrf).map(|space| &space.namespace)
    }

    /// Returns an open handle on the namespace of VRF `vrf` (for the default VRF, the
    /// namespace the plane was created in).
    pub fn namespace_handle(&self, vrf: VrfId) -> Option<&NamespaceHandle> {
        self.vrfs.get(&vrf).map(|space| &space.handle)
    }

    /// Binds L2VNI `vni` to the VXLAN device `vxlan` in the namespace of `vrf`: remote MAC and
    /// flood entries of `vni` go to that device's forwarding database. The plane then owns the
    /// device's whole flood list: a resynchronisation removes flood remotes it does not want,
    /// whoever added them.
    pub fn bind_l2vni(&mut self, vni: Vni, vrf: VrfId, vxlan: &str) -> Result<(), PlaneError> {
        if !self.vrfs.contains_key(&vrf) {
            return Err(PlaneError::UnknownVrf(vrf));
        }
        self.l2vnis.insert(vni, (vrf, vxlan.to_string()));
        Ok(())
    }

    /// Removes the binding of L2VNI `vni`.
    pub fn unbind_l2vni(&mut self, vni: Vni) {
        self.l2vnis.remove(&vni);
    }

    /// Sets the L3VNI devices of `vrf`, which routes with VXLAN next hops in `vrf` use.
    pub fn bind_l3vni(&mut self, vrf: VrfId, devices: L3VniDevices) -> Result<(), PlaneError> {
        let space = self.vrfs.get_mut(&vrf).ok_or(PlaneError::UnknownVrf(vrf))?;
        space.l3vni = Some(devices);
        Ok(())
    }

    /// Removes the L3VNI devices of `vrf`: routes with VXLAN next hops in `vrf` fail from now on.
    pub fn unbind_l3vni(&mut self, vrf: VrfId) {
        if let Some(space) = self.vrfs.get_mut(&vrf) {
            space.l3vni = None;
        }
    }

    fn refresh_links(&mut self, vrfs: &BTreeSet<VrfId>) -> Result<(), PlaneError> {
        for vrf in vrfs {
            if let Some(space) = self.vrfs.get_mut(vrf) {
                space.links = LinkTable::load(&mut space.socket)?;
            }
        }
        Ok(())
    }

    /// Returns the VRF whose namespace a change goes to.
    fn vrf_of(&self, key: &EntryKey) -> Result<VrfId, PlaneError> {
        match key {
            EntryKey::Route { vrf, .. } | EntryKey::Neighbor { vrf, .. } => Ok(*vrf),
            EntryKey::Mac { vni, .. } | EntryKey::Flood { vni, .. } => self
                .l2vnis
                .get(vni)
                .map(|(vrf, _)| *vrf)
                .ok_or(PlaneError::UnboundVni(*vni)),
        }
    }

    /// Translates one change into netlink requests of its VRF's namespace.
    fn plan(
        &mut self,
        index: usize,
        change: &Change,
        steps: &mut Vec<Step>,
    ) -> Result<(), PlaneError> {
        let vrf = self.vrf_of(&change.key())?;
        match change {
            Change::Install(Entry::Route(route)) => {
                let targets = leak_targets(&route.next_hops);
                for target in &targets {
                    self.ensure_leak(vrf, *target)?;
                }
                let space = self.vrfs.get_mut(&vrf).ok_or(PlaneError::UnknownVrf(vrf))?;
                plan_route_install(space, vrf, index, route, steps)?;
                self.track_leaks(vrf, route.prefix, targets);
                return Ok(());
            }
            Change::Remove(EntryKey::Route { prefix, .. }) => {
                let space = self.vrfs.get_mut(&vrf).ok_or(PlaneError::UnknownVrf(vrf))?;
                steps.push(Step::delete(
                    index,
                    messages::route_delete(*prefix, VrfSpace::mark()),
                ));
                release_router_macs(space, index, *prefix, &[], steps)?;
                self.track_leaks(vrf, *prefix, Vec::new());
                return Ok(());
            }
            _ => {}
        }
        let l2vni_device = match &change.key() {
            EntryKey::Mac { vni, .. } | EntryKey::Flood { vni, .. } => {
                Some(self.l2vnis[vni].1.clone())
            }
            _ => None,
        };
        let space = self.vrfs.get_mut(&vrf).ok_or(PlaneError::UnknownVrf(vrf))?;
        match change {
            Change::Install(Entry::Route(_)) | Change::Remove(EntryKey::Route { .. }) => {
                unreachable!("planned above")
            }
            Change::Install(Entry::Neighbor(neighbor)) => {
                let link = space.link(vrf, &neighbor.interface)?;
                steps.push(Step::new(
                    index,
                    messages::neighbor_replace(link.index, neighbor.ip, neighbor.mac),
                ));
                Ok(())
            }
            Change::Remove(EntryKey::Neighbor { interface, ip, .. }) => {
                // NOTE: the kernel deletes a neighbor by interface and address whatever its
                // flags, so removing a key the plane never installed can delete another's
                // entry; a resynchronisation only removes entries marked `extern_learn`.
                // A device that no longer exists took its neighbor entries with it.
                if let Some(link) = space.links.get(interface) {
                    steps.push(Step::delete(
                        index,
                        messages::neighbor_delete(link.index, *ip),
                    ));
                }
                Ok(())
            }
            Change::Install(Entry::Mac(mac)) => {
                let device =
                    space.link(vrf, l2vni_device.as_deref().expect("MAC keys have a VNI"))?;
                steps.push(Step::new(
                    index,
                    messages::fdb_replace(device.index, mac.mac, mac.vtep, device.master.is_some()),
                ));
                Ok(())
            }
            Change::Remove(EntryKey::Mac { mac, .. }) => {
                let Some(device) = space
                    .links
                    .get(l2vni_device.as_deref().expect("MAC keys have a VNI"))
                else {
                    return Ok(());
                };
                steps.push(fdb_delete_step(index, device, *mac));
                Ok(())
            }
            Change::Install(Entry::Flood(flood)) => {
                let device =
                    space.link(vrf, l2vni_device.as_deref().expect("flood keys have a VNI"))?;
                steps.push(Step::new(
                    index,
                    messages::flood_append(device.index, flood.vtep),
                ));
                Ok(())
            }
            Change::Remove(EntryKey::Flood { vtep, .. }) => {
                if let Some(device) = space
                    .links
                    .get(l2vni_device.as_deref().expect("flood keys have a VNI"))
                {
                    steps.push(Step::delete(
                        index,
                        messages::flood_delete(device.index, *vtep),
                    ));
                }
                Ok(())
            }
        }
    }

    /// Makes sure the leak link between `vrf` and `target` exists with both ends configured,
    /// creating it when it is missing, and records both ends in their link tables.
    fn ensure_leak(&mut self, vrf: VrfId, target: VrfId) -> Result<(), PlaneError> {
        let end = leak::leak_end(vrf, target)?;
        let peer_end = leak::leak_end(target, vrf)?;
        let target_handle = self
            .vrfs
            .get(&target)
            .ok_or(PlaneError::UnknownVrf(target))?
            .handle
            .clone();
        let in_use = self
            .leaks
            .get(&leak_pair(vrf, target))
            .is_some_and(|count| *count > 0);
        let space = self.vrfs.get_mut(&vrf).ok_or(PlaneError::UnknownVrf(vrf))?;
        if in_use && space.links.get(&end.name).is_some_and(leak::is_leak_link) {
            return Ok(());
        }

        // Read both ends from the kernel: the link tables may predate another batch.
        let own = kernel::get_link(&mut space.socket, &end.name)?;
        let target_space = self.vrfs.get_mut(&target).expect("checked above");
        let peer = kernel::get_link(&mut target_space.socket, &peer_end.name)?;
        let (own, peer) = match (own, peer) {
            (Some(own), Some(peer)) if leak::is_leak_link(&own) && leak::is_leak_link(&peer) => {
                (own, peer)
            }
            (own, peer) => {
                // A half or a foreign link of that name: replace it with a new pair.
                if let Some(peer) = peer {
                    leak::delete(&mut target_space.socket, &peer.name)?;
                }
                let space = self.vrfs.get_mut(&vrf).expect("checked above");
                if let Some(own) = own {
                    leak::delete(&mut space.socket, &own.name)?;
                }
                self.leak_checks.insert(leak_pair(vrf, target));
                let own = leak::create(&mut space.socket, &end, &target_handle)?;
                leak::disable_rp_filter(&space.handle, &end.name)?;
                let target_space = self.vrfs.get_mut(&target).expect("checked above");
                let peer =
                    leak::configure(&mut target_space.socket, &peer_end.name, peer_end.address)?;
                leak::disable_rp_filter(&target_space.handle, &peer_end.name)?;
                (own, peer)
            }
        };
        self.vrfs
            .get_mut(&target)
            .expect("checked above")
            .links
            .insert(peer);
        self.vrfs
            .get_mut(&vrf)
            .expect("checked above")
            .links
            .insert(own);
        Ok(())
    }

    /// Records that the route for `prefix` in `vrf` now uses the leak links towards `targets`,
    /// and schedules the check of the links it no longer uses.
    fn track_leaks(&mut self, vrf: VrfId, prefix: IpNet, targets: Vec<VrfId>) {
        let Some(space) = self.vrfs.get_mut(&vrf) else {
            return;
        };
        let previous = if targets.is_empty() {
            space.leak_routes.remove(&prefix)
        } else {
            space.leak_routes.insert(prefix, targets.clone())
        }
        .unwrap_or_default();
        for target in targets.iter().filter(|target| !previous.contains(target)) {
            *self.leaks.entry(leak_pair(vrf, *target)).or_default() += 1;
        }
        for target in previous.iter().filter(|target| !targets.contains(target)) {
            let pair = leak_pair(vrf, *target);
            if let Some(count) = self.leaks.get_mut(&pair) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    self.leaks.remove(&pair);
                }
            }
            self.leak_checks.insert(pair);
        }
    }

    /// Deletes the leak links checked during the batch that no route uses.
    fn remove_unused_leaks(&mut self) {
        for pair in std::mem::take(&mut self.leak_checks) {
            if self.leaks.contains_key(&pair) {
                continue;
            }
            for (own, other) in [pair, (pair.1, pair.0)] {
                let (Some(space), Some(name)) =
                    (self.vrfs.get_mut(&own), leak_link_name(own, other))
                else {
                    continue;
                };
                match leak::delete(&mut space.socket, &name) {
                    // Deleting one end deletes the pair.
                    Ok(()) => break,
                    Err(error) => {
                        warn!(vrf = %own, target = %other, %error, "unused leak link not deleted")
                    }
                }
            }
        }
    }

    /// Runs the steps of each namespace as one pipelined batch and folds the replies into one
    /// result per change.
    fn execute(&mut self, steps: Vec<(VrfId, Step)>, results: &mut [Result<(), PlaneError>]) {
        let mut by_vrf: BTreeMap<VrfId, Vec<Step>> = BTreeMap::new();
        for (vrf, step) in steps {
            by_vrf.entry(vrf).or_default().push(step);
        }
        for (vrf, steps) in by_vrf {
            let Some(space) = self.vrfs.get_mut(&vrf) else {
                continue;
            };
            let requests: Vec<Request> = steps.iter().map(|step| step.request.clone()).collect();
            let replies = space.socket.execute(&requests);

            let mut fallbacks = Vec::new();
            for (step, reply) in steps.into_iter().zip(replies) {
                match reply.errno() {
                    None => {}
                    Some(ENOENT) if step.fallback.is_some() => fallbacks.push(Step {
                        change: step.change,
                        request: step.fallback.expect("checked above"),
                        tolerated: step.tolerated,
                        fallback: None,
                    }),
                    Some(errno) if step.tolerated.contains(&errno) => {}
                    Some(_) => record_failure(results, step.change, reply),
                }
            }
            if !fallbacks.is_empty() {
                let requests: Vec<Request> =
                    fallbacks.iter().map(|step| step.request.clone()).collect();
                let replies = space.socket.execute(&requests);
                for (step, reply) in fallbacks.into_iter().zip(replies) {
                    if !reply
                        .errno()
                        .is_some_and(|errno| step.tolerated.contains(&errno))
                        && reply != Reply::Ok
                    {
                        record_failure(results, step.change, reply);
                    }
                }
            }
        }
    }

    /// Reads the entries of every namespace that carry this plane's mark, with the derived
    /// router-MAC entries of symmetric IRB apart.
    fn read_held(&mut self) -> Result<(Vec<Entry>, Vec<DerivedEntry>), PlaneError> {
        let vrfs: BTreeSet<VrfId> = self.vrfs.keys().copied().collect();
        self.refresh_links(&vrfs)?;
        let mut entries = Vec::new();
        let mut derived = Vec::new();
        let l2vnis = self.l2vnis.clone();
        for (vrf, space) in &mut self.vrfs {
            read_space(*vrf, space, &l2vnis, &mut entries, &mut derived)?;
        }
        Ok((entries, derived))
    }

    /// Makes the derived router-MAC entries of each VRF match the routes installed now:
    /// removes unused ones and installs missing ones.
    fn reconcile_router_macs(&mut self, held: Vec<DerivedEntry>) -> Vec<(Change, PlaneError)> {
        let mut failures = Vec::new();
        for (vrf, space) in &mut self.vrfs {
            let Some(l3vni) = space.l3vni.clone() else {
                continue;
            };
            let (Some(svi), Some(vxlan)) = (
                space.links.get(&l3vni.svi).cloned(),
                space.links.get(&l3vni.vxlan).cloned(),
            ) else {
                continue;
            };
            let wanted_neighbors: BTreeMap<IpAddr, MacAddr> = space
                .router_macs
                .keys()
                .map(|(vtep, mac)| (*vtep, *mac))
                .collect();
            let wanted_fdb: BTreeMap<MacAddr, IpAddr> = space
                .router_macs
                .keys()
                .map(|(vtep, mac)| (*mac, *vtep))
                .collect();
            let mut held_neighbors = BTreeMap::new();
            let mut held_fdb = BTreeMap::new();
            for entry in held.iter().filter(|entry| entry.vrf == *vrf) {
                if entry.fdb {
                    held_fdb.insert(entry.mac, entry.address);
                } else {
                    held_neighbors.insert(entry.address, entry.mac);
                }
            }

            // Failures are reported under the key of a neighbor or FDB entry of the SVI or the
            // L3VNI device, although these entries are not southbound entries of their own.
            let neighbor = |vtep: IpAddr| {
                Change::Remove(EntryKey::Neighbor {
                    vrf: *vrf,
                    interface: l3vni.svi.clone(),
                    ip: vtep,
                })
            };
            let fdb = |mac: MacAddr| {
                Change::Remove(EntryKey::Mac {
                    vni: l3vni.vni,
                    mac,
                })
            };
            let mut requests = Vec::new();
            for (vtep, mac) in &held_neighbors {
                if !wanted_neighbors.contains_key(vtep) {
                    requests.push((
                        messages::neighbor_delete(svi.index, *vtep),
                        true,
                        neighbor(*vtep),
                    ));
                } else if wanted_neighbors[vtep] != *mac {
                    requests.push((
                        messages::neighbor_replace(svi.index, *vtep, wanted_neighbors[vtep]),
                        false,
                        neighbor(*vtep),
                    ));
                }
            }
            for (vtep, mac) in &wanted_neighbors {
                if !held_neighbors.contains_key(vtep) {
                    requests.push((
                        messages::neighbor_replace(svi.index, *vtep, *mac),
                        false,
                        neighbor(*vtep),
                    ));
                }
            }
            for mac in held_fdb.keys() {
                if !wanted_fdb.contains_key(mac) {
                    let bridged = vxlan.master.is_some();
                    requests.push((
                        messages::fdb_delete(vxlan.index, *mac, bridged),
                        true,
                        fdb(*mac),
                    ));
                }
            }
            for (mac, vtep) in &wanted_fdb {
                if held_fdb.get(mac) != Some(vtep) {
                    requests.push((
                        messages::fdb_replace(vxlan.index, *mac, *vtep, vxlan.master.is_some()),
                        false,
                        fdb(*mac),
                    ));
                }
            }
            if requests.is_empty() {
                continue;
            }
            debug!(%vrf, count = requests.len(), "reconciling router MAC entries");
            let batch: Vec<Request> = requests
                .iter()
                .map(|(request, _, _)| request.clone())
                .collect();
            for ((_, is_delete, change), reply) in
                requests.into_iter().zip(space.socket.execute(&batch))
            {
                let tolerated = is_delete && matches!(reply.errno(), Some(ENOENT));
                if let (false, Err(error)) = (tolerated, reply.into_result()) {
                    warn!(%vrf, %error, ?change, "router MAC entry not reconciled");
                    failures.push((change, error));
                }
            }
        }
        failures
    }
}

impl Southbound for LinuxPlane {
    fn apply(&mut self, changes: &[Change]) -> BatchResults {
        let mut results: BatchResults = vec![Ok(()); changes.len()];
        let mut vrfs: BTreeSet<VrfId> = changes
            .iter()
            .filter_map(|change| self.vrf_of(&change.key()).ok())
            .collect();
        for change in changes {
            if let Change::Install(Entry::Route(route)) = change {
                vrfs.extend(leak_targets(&route.next_hops));
            }
        }
        if let Err(error) = self.refresh_links(&vrfs) {
            return vec![Err(error); changes.len()];
        }

        let mut steps = Vec::new();
        for (index, change) in changes.iter().enumerate() {
            let mut planned = Vec::new();
            match self.plan(index, change, &mut planned) {
                Ok(()) => {
                    let vrf = self
                        .vrf_of(&change.key())
                        .expect("planned changes have a VRF");
                    steps.extend(planned.into_iter().map(|step| (vrf, step)));
                }
                Err(error) => {
                    debug!(?change, %error, "change not applied");
                    results[index] = Err(error);
                }
            }
        }
        self.execute(steps, &mut results);
        self.remove_unused_leaks();
        results
    }

    fn dump(&mut self) -> Result<Vec<Entry>, PlaneError> {
        Ok(self.read_held()?.0)
    }

    /// Diffs the marked entries of every namespace against `wanted` and applies the
    /// difference, then brings the router-MAC entries of symmetric IRB in line with the routes.
    fn resync(&mut self, wanted: &[Entry]) -> Result<ResyncReport, PlaneError> {
        let (held, _) = self.read_held()?;

        // Start from the router MACs that the held routes use, so that applying the
        // difference counts them right.
        for space in self.vrfs.values_mut() {
            space.router_macs.clear();
            space.encap_routes.clear();
            space.leak_routes.clear();
        }
        self.leaks.clear();
        for entry in &held {
            let Entry::Route(route) = entry else { continue };
            self.track_leaks(route.vrf, route.prefix, leak_targets(&route.next_hops));
            let Some(space) = self.vrfs.get_mut(&route.vrf) else {
                continue;
            };
            let pairs = router_mac_pairs(&route.next_hops);
            if pairs.is_empty() {
                continue;
            }
            for pair in &pairs {
                *space.router_macs.entry(*pair).or_default() += 1;
            }
            space.encap_routes.insert(route.prefix, pairs);
        }

        let (changes, unchanged) = diff(&held, wanted);
        let results = self.apply(&changes);
        let mut report = report(changes, results, unchanged);

        let (_, derived) = self.read_held()?;
        report.failed.extend(self.reconcile_router_macs(derived));
        // Leak links of an earlier run that no held or wanted route uses.
        for (vrf, space) in &self.vrfs {
            for link in space.links.iter().filter(|link| leak::is_leak_link(link)) {
                if let Some((own, target)) = parse_leak_link_name(&link.name)
                    && own == *vrf
                    && !self.leaks.contains_key(&leak_pair(own, target))
                {
                    self.leak_checks.insert(leak_pair(own, target));
                }
            }
        }
        self.remove_unused_leaks();
        info!(
            removed = report.removed,
            installed = report.installed,
            unchanged = report.unchanged,
            failed = report.failed.len(),
            "Linux plane resynchronised"
        );
        Ok(report)
    }

    fn subscribe(&mut self) -> Result<EventReceiver, PlaneError> {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        for (vrf, space) in &mut self.vrfs {
            space.watch(*vrf, &sender)?;
        }
        self.events = Some(sender);
        Ok(receiver)
    }

    fn report_learned_entries(&mut self) {
        for space in self.vrfs.values() {
            for monitor in &space.monitors {
                monitor.report_learned.store(true, Ordering::Relaxed);
            }
        }
    }
}

fn record_failure(results: &mut [Result<(), PlaneError>], change: usize, reply: Reply) {
    if results[change].is_ok() {
        results[change] = reply.into_result();
    }
}

/// Removes a remote MAC from the VXLAN device and, when the device is bridged, from the bridge
/// in the same request. When the bridge has no such entry, the kernel stops before the VXLAN
/// device, so the fallback removes it there alone.
fn fdb_delete_step(change: usize, device: &Link, mac: MacAddr) -> Step {
    let bridged = device.master.is_some();
    let mut step = Step::delete(change, messages::fdb_delete(device.index, mac, bridged));
    if bridged {
        step.fallback = Some(messages::fdb_delete(device.index, mac, false));
    }
    step
}

/// Returns the VRFs that `next_hops` leak into, sorted and without duplicates.
fn leak_targets(next_hops: &[NextHop]) -> Vec<VrfId> {
    let mut targets: Vec<VrfId> = next_hops
        .iter()
        .filter_map(|next_hop| next_hop.vrf)
        .collect();
    targets.sort();
    targets.dedup();
    targets
}

/// Returns the key of the leak link between `a` and `b`: the lower table id first.
fn leak_pair(a: VrfId, b: VrfId) -> (VrfId, VrfId) {
    if a <= b { (a, b) } else { (b, a) }
}

fn router_mac_pairs(next_hops: &[NextHop]) -> Vec<(IpAddr, MacAddr)> {
    let mut pairs: Vec<(IpAddr, MacAddr)> = next_hops
        .iter()
        .filter_map(|next_hop| next_hop.encap.as_ref())
        .map(|encap| (encap.vtep, encap.router_mac))
        .collect();
    pairs.sort();
    pairs.dedup();
    pairs
}

fn plan_route_install(
    space: &mut VrfSpace,
    vrf: VrfId,
    index: usize,
    route: &RouteEntry,
    steps: &mut Vec<Step>,
) -> Result<(), PlaneError> {
    let mut kernel_next_hops = Vec::with_capacity(route.next_hops.len());
    for next_hop in &route.next_hops {
        kernel_next_hops.push(kernel_next_hop(space, vrf, route.prefix, next_hop)?);
    }
    kernel_next_hops.sort();
    kernel_next_hops.dedup();

    // NOTE: the router-MAC counts change when the route is planned; if the kernel then rejects
    // the route, they stay off until the next resynchronisation.
    let pairs = router_mac_pairs(&route.next_hops);
    let previous = space
        .encap_routes
        .get(&route.prefix)
        .cloned()
        .unwrap_or_default();
    if !pairs.is_empty() {
        let l3vni = space
            .l3vni
            .clone()
            .expect("kernel_next_hop checked the L3VNI");
        let svi = space.link(vrf, &l3vni.svi)?.clone();
        let vxlan = space.link(vrf, &l3vni.vxlan)?.clone();
        for pair in pairs.iter().filter(|pair| !previous.contains(pair)) {
            let count = space.router_macs.entry(*pair).or_default();
            *count += 1;
            if *count == 1 {
                steps.push(Step::new(
                    index,
                    messages::neighbor_replace(svi.index, pair.0, pair.1),
                ));
                steps.push(Step::new(
                    index,
                    messages::fdb_replace(vxlan.index, pair.1, pair.0, vxlan.master.is_some()),
                ));
            }
        }
    }
    steps.push(Step::new(
        index,
        messages::route_replace(route.prefix, &kernel_next_hops, VrfSpace::mark()),
    ));
    release_router_macs(space, index, route.prefix, &pairs, steps)?;
    if pairs.is_empty() {
        space.encap_routes.remove(&route.prefix);
    } else {
        space.encap_routes.insert(route.prefix, pairs);
    }
    Ok(())
}

/// Drops the router-MAC pairs that `prefix` used and no longer uses (`kept`), removing the
/// derived entries no route needs any more.
fn release_router_macs(
    space: &mut VrfSpace,
    index: usize,
    prefix: IpNet,
    kept: &[(IpAddr, MacAddr)],
    steps: &mut Vec<Step>,
) -> Result<(), PlaneError> {
    let previous = if kept.is_empty() {
        space.encap_routes.remove(&prefix).unwrap_or_default()
    } else {
        space.encap_routes.get(&prefix).cloned().unwrap_or_default()
    };
    for pair in previous.iter().filter(|pair| !kept.contains(pair)) {
        let Some(count) = space.router_macs.get_mut(pair) else {
            continue;
        };
        *count -= 1;
        if *count > 0 {
            continue;
        }
        space.router_macs.remove(pair);
        let Some(l3vni) = space.l3vni.clone() else {
            continue;
        };
        let (Some(svi), Some(vxlan)) = (
            space.links.get(&l3vni.svi).cloned(),
            space.links.get(&l3vni.vxlan).cloned(),
        ) else {
            continue;
        };
        // Another pair may still use the VTEP (with a new router MAC) or the MAC.
        match space.router_macs.keys().find(|(vtep, _)| *vtep == pair.0) {
            Some((vtep, mac)) => steps.push(Step::new(
                index,
                messages::neighbor_replace(svi.index, *vtep, *mac),
            )),
            None => steps.push(Step::delete(
                index,
                messages::neighbor_delete(svi.index, pair.0),
            )),
        }
        if !space.router_macs.keys().any(|(_, mac)| *mac == pair.1) {
            steps.push(fdb_delete_step(index, &vxlan, pair.1));
        }
    }
    Ok(())
}

fn kernel_next_hop(
    space: &VrfSpace,
    vrf: VrfId,
    prefix: IpNet,
    next_hop: &NextHop,
) -> Result<KernelNextHop, PlaneError> {
    if let Some(target) = next_hop.vrf {
        if !prefix.addr().is_ipv4() {
            // NOTE: IPv6 routes into another VRF need IPv6 (or RTA_VIA) on the leak link, not built yet.
            return Err(PlaneError::Unsupported(format!(
                "IPv6 route {prefix} into VRF {target}"
            )));
        }
        let end = leak::leak_end(vrf, target)?;
        let link = space.link(vrf, &end.name)?;
        return Ok(KernelNextHop {
            gateway: Some(leak::gateway(&end)),
            interface: link.index,
            onlink: false,
        });
    }
    if let Some(encap) = &next_hop.encap {
        let Some(l3vni) = &space.l3vni else {
            return Err(PlaneError::Unsupported(format!(
                "route {prefix} has a VXLAN next hop but VRF {vrf} has no L3VNI devices bound"
            )));
        };
        if encap.vtep.is_ipv4() != prefix.addr().is_ipv4() {
            // NOTE: a route of one family via a VTEP of the other needs RTA_VIA, not built yet.
            return Err(PlaneError::Unsupported(format!(
                "route {prefix} via VTEP {} of another address family",
                encap.vtep
            )));
        }
        let svi = space.link(vrf, &l3vni.svi)?;
        return Ok(KernelNextHop {
            gateway: Some(encap.vtep),
            interface: svi.index,
            onlink: true,
        });
    }
    let Some(interface) = &next_hop.interface else {
        return Err(PlaneError::Unsupported(format!(
            "route {prefix} has an unresolved next hop {next_hop}"
        )));
    };
    let link = space.link(vrf, interface)?;
    Ok(KernelNextHop {
        gateway: next_hop.gateway,
        interface: link.index,
        onlink: next_hop.onlink,
    })
}

/// A neighbor or FDB entry the plane derived from the VXLAN next hops of routes.
#[derive(Clone, Debug)]
struct DerivedEntry {
    vrf: VrfId,
    /// An FDB entry on the L3VNI VXLAN device (`true`) or a neighbor entry on the SVI.
    fdb: bool,
    address: IpAddr,
    mac: MacAddr,
}

fn read_space(
    vrf: VrfId,
    space: &mut VrfSpace,
    l2vnis: &BTreeMap<Vni, (VrfId, String)>,
    entries: &mut Vec<Entry>,
    derived: &mut Vec<DerivedEntry>,
) -> Result<(), PlaneError> {
    let svi = space
        .l3vni
        .as_ref()
        .and_then(|l3vni| space.links.get(&l3vni.svi))
        .map(|link| link.index);
    let l3_vxlan = space
        .l3vni
        .as_ref()
        .and_then(|l3vni| space.links.get(&l3vni.vxlan))
        .map(|link| link.index);
    let vni_devices: HashMap<u32, Vni> = l2vnis
        .iter()
        .filter(|(_, (bound_vrf, _))| *bound_vrf == vrf)
        .filter_map(|(vni, (_, name))| Some((space.links.get(name)?.index, *vni)))
        .collect();

    let mut router_macs: HashMap<IpAddr, MacAddr> = HashMap::new();
    for message in space
        .socket
        .dump(messages::neighbour_dump(AddressFamily::Unspec))?
    {
        let RouteNetlinkMessage::NewNeighbour(message) = message else {
            continue;
        };
        let neighbour = parse_neighbour(&message);
        let (Some(ip), Some(mac)) = (neighbour.destination, neighbour.mac) else {
            continue;
        };
        if !neighbour.flags.contains(NeighbourFlags::ExtLearned) {
            continue;
        }
        if Some(neighbour.interface) == svi {
            router_macs.insert(ip, mac);
            derived.push(DerivedEntry {
                vrf,
                fdb: false,
                address: ip,
                mac,
            });
        } else if let Some(interface) = space.links.name(neighbour.interface) {
            entries.push(Entry::Neighbor(NeighborEntry {
                vrf,
                interface: interface.to_string(),
                ip,
                mac,
            }));
        }
    }

    for message in space
        .socket
        .dump(messages::neighbour_dump(AddressFamily::Bridge))?
    {
        let RouteNetlinkMessage::NewNeighbour(message) = message else {
            continue;
        };
        let neighbour = parse_neighbour(&message);
        let vxlan_entry = neighbour.flags.contains(NeighbourFlags::Own);
        let (true, Some(mac), Some(vtep)) = (vxlan_entry, neighbour.mac, neighbour.destination)
        else {
            continue;
        };
        let marked = neighbour.flags.contains(NeighbourFlags::ExtLearned);
        if Some(neighbour.interface) == l3_vxlan && marked {
            derived.push(DerivedEntry {
                vrf,
                fdb: true,
                address: vtep,
                mac,
            });
        } else if let Some(vni) = vni_devices.get(&neighbour.interface) {
            // The kernel keeps one set of flags per MAC, shared by all the remotes of the
            // all-zero-MAC entry, so a flood remote cannot carry a mark of its own. The plane
            // therefore owns the whole flood list of the VXLAN devices bound to its L2VNIs.
            if mac.is_zero() {
                entries.push(Entry::Flood(FloodEntry { vni: *vni, vtep }));
            } else if marked {
                entries.push(Entry::Mac(MacEntry {
                    vni: *vni,
                    mac,
                    vtep,
                }));
            }
        }
    }

    for message in space.socket.dump(messages::route_dump())? {
        let RouteNetlinkMessage::NewRoute(message) = message else {
            continue;
        };
        let Some(route) = parse_route(&message) else {
            continue;
        };
        if route.protocol != ROUTE_PROTOCOL || route.table != MAIN_TABLE {
            continue;
        }
        let mut next_hops = Vec::with_capacity(route.next_hops.len());
        for hop in &route.next_hops {
            let encap = match (&space.l3vni, hop.gateway) {
                (Some(l3vni), Some(vtep)) if Some(hop.interface) == svi && hop.onlink => {
                    router_macs.get(&vtep).map(|mac| VxlanEncap {
                        vtep,
                        vni: l3vni.vni,
                        router_mac: *mac,
                    })
                }
                _ => None,
            };
            let leak_target = space
                .links
                .by_index(hop.interface)
                .filter(|link| leak::is_leak_link(link))
                .and_then(|link| parse_leak_link_name(&link.name))
                .filter(|(own, _)| *own == vrf)
                .map(|(_, target)| target);
            next_hops.push(match (encap, leak_target) {
                (Some(encap), _) => NextHop::vxlan(encap),
                (None, Some(target)) => NextHop::vrf(target),
                (None, None) => NextHop {
                    gateway: hop.gateway,
                    interface: Some(
                        space
                            .links
                            .name(hop.interface)
                            .map(str::to_string)
                            .unwrap_or_else(|| format!("if{}", hop.interface)),
                    ),
                    onlink: hop.onlink,
                    encap: None,
                    vrf: None,
                },
            });
        }
        entries.push(Entry::Route(RouteEntry::new(vrf, route.prefix, next_hops)));
    }
    Ok(())
}
