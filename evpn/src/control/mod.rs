//! The EVPN control plane of one VTEP (RFC 7432, RFC 8365, RFC 9135, RFC 9136), sans-IO.
//!
//! It turns local dataplane events (MACs learned on bridge ports, neighbors learned on the
//! subnet bridges, a tenant's connected subnets) into EVPN routes to advertise. It turns the
//! best remote EVPN paths that BGP selected into southbound entries: flood lists from type-3
//! routes, remote MACs and neighbors from type-2 routes, and IP-VRF routes from type-2 host
//! routes, type-5 prefixes and routes leaked between IP-VRFs. Every method takes the current time where
//! time matters and queues [`Output`]s, which the owner drains with [`EvpnControl::take_outputs`].

mod attributes;
mod config;
mod ipvrf;
mod macvrf;
mod show;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use hna_rib::{Change, VrfId};
use ipnet::IpNet;
use tracing::{debug, info};

pub use attributes::{EvpnAttributes, LocalRoute, PmsiTunnel, RemoteRoute, pmsi_tunnel_type};
pub use config::{
    AutoRouteTarget, DuplicateDetection, EvpnConfig, IpVrfConfig, MacVrfConfig, auto_import_targets,
};
pub use show::{MacSnapshot, VniSnapshot};

use crate::{EvpnRoute, EvpnRouteKey, MacAddress, RouteDistinguisher, RouteTarget};
use ipvrf::IpVrf;
use macvrf::MacVrf;

/// A next hop of an IP-VRF route produced by the control plane.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VrfNextHop {
    /// A remote VTEP reached through the L3VNI: symmetric IRB (RFC 9135 section 4.1).
    Vxlan {
        vtep: IpAddr,
        vni: u32,
        router_mac: MacAddress,
    },
    /// The destination is looked up in another IP-VRF: a route leaked from it.
    Vrf(String),
}

/// An action the control plane requests from its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Originate or replace this route in BGP (l2vpn-evpn).
    Advertise(LocalRoute),
    /// Withdraw a route originated earlier.
    Withdraw(EvpnRoute),
    /// Install or remove a layer-2 entry: a remote MAC, a neighbor on a subnet bridge, or a
    /// flood-list member.
    Plane(Change),
    /// Set the IP-VRF route for `prefix` (an empty list removes it).
    VrfRoute {
        vrf: String,
        prefix: IpNet,
        next_hops: Vec<VrfNextHop>,
    },
}

/// Route-map evaluation, provided by the owner (the policy engine lives in the BGP crate).
pub trait RoutePolicy {
    /// Returns whether route-map `map` permits `prefix`; `source_vrf` names the IP-VRF a leaked route
    /// comes from. A route-map that does not exist denies.
    fn permits(&self, map: &str, prefix: IpNet, source_vrf: Option<&str>) -> bool;
}

/// A policy that permits everything, for tests and configurations without route-maps.
#[derive(Debug, Default, Clone, Copy)]
pub struct PermitAll;

impl RoutePolicy for PermitAll {
    fn permits(&self, _map: &str, _prefix: IpNet, _source_vrf: Option<&str>) -> bool {
        true
    }
}

/// Counters of routes the control plane ignored, by reason, for `show` and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    /// Remote routes whose route targets match no local MAC-VRF or IP-VRF.
    pub unmatched_route_targets: u64,
    /// Type-5 routes ignored per RFC 9136 (zero or multicast router MAC, invalid prefix).
    pub invalid_type5: u64,
    /// Type-2 routes with both labels whose router MAC is missing or invalid.
    pub invalid_router_mac: u64,
    /// Type-3 routes with a tunnel type other than ingress replication.
    pub unsupported_tunnel: u64,
    /// Routes that ask for an encapsulation other than VXLAN.
    pub unsupported_encapsulation: u64,
    /// MAC moves (RFC 7432 section 15).
    pub mac_moves: u64,
    /// MACs frozen by duplicate detection.
    pub duplicates_frozen: u64,
    /// Local MACs not advertised because a remote VTEP advertises them as sticky.
    pub sticky_conflicts: u64,
}

/// The control plane of one VTEP.
pub struct EvpnControl {
    config: EvpnConfig,
    mac_vrfs: BTreeMap<u32, MacVrf>,
    ip_vrfs: BTreeMap<String, IpVrf>,
    policy: Box<dyn RoutePolicy + Send>,
    /// Remote routes by key, so that a replacement or withdrawal finds what the previous best
    /// path was imported as.
    remote: BTreeMap<EvpnRouteKey, RemoteRoute>,
    counters: Counters,
    outputs: Vec<Output>,
}

impl EvpnControl {
    /// Builds the control plane and queues the routes it originates from configuration alone
    /// (one type-3 route per L2VNI).
    pub fn new(
        now: Instant,
        config: EvpnConfig,
        vrf_ids: &BTreeMap<String, VrfId>,
        policy: Box<dyn RoutePolicy + Send>,
    ) -> EvpnControl {
        let mut control = EvpnControl {
            config: config.clone(),
            mac_vrfs: BTreeMap::new(),
            ip_vrfs: BTreeMap::new(),
            policy,
            remote: BTreeMap::new(),
            counters: Counters::default(),
            outputs: Vec::new(),
        };
        control.apply_config(now, config, vrf_ids);
        control
    }

    /// Applies a new configuration: VNIs and VRFs that were removed withdraw their routes and
    /// entries, new ones originate theirs, and unchanged ones keep their state.
    pub fn apply_config(
        &mut self,
        now: Instant,
        config: EvpnConfig,
        vrf_ids: &BTreeMap<String, VrfId>,
    ) {
        let identity_changed = config.vtep != self.config.vtep
            || config.router_id != self.config.router_id
            || config.asn != self.config.asn;
        self.config = config;

        let wanted: BTreeMap<u32, MacVrfConfig> = self
            .config
            .mac_vrfs
            .iter()
            .map(|c| (c.vni, c.clone()))
            .collect();
        let removed: Vec<u32> = self
            .mac_vrfs
            .iter()
            .filter(|(vni, vrf)| identity_changed || wanted.get(vni) != Some(vrf.config()))
            .map(|(vni, _)| *vni)
            .collect();
        for vni in removed {
            if let Some(mut vrf) = self.mac_vrfs.remove(&vni) {
                vrf.shutdown(&mut self.outputs);
                info!(vni, "MAC-VRF removed");
            }
        }

        let wanted_ip: BTreeMap<String, IpVrfConfig> = self
            .config
            .ip_vrfs
            .iter()
            .map(|c| (c.name.clone(), c.clone()))
            .collect();
        let removed: Vec<String> = self
            .ip_vrfs
            .iter()
            .filter(|(name, vrf)| {
                identity_changed
                    || wanted_ip.get(*name) != Some(vrf.config())
                    || vrf_ids.get(*name) != Some(&vrf.vrf_id())
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in removed {
            if let Some(mut vrf) = self.ip_vrfs.remove(&name) {
                vrf.shutdown(&mut self.outputs);
                info!(vrf = %name, "IP-VRF removed");
            }
        }

        for (index, (vni, mac_config)) in wanted.iter().enumerate() {
            if self.mac_vrfs.contains_key(vni) {
                continue;
            }
            let rd = mac_config.rd.unwrap_or_else(|| self.auto_rd(index));
            let tenant = mac_config.ip_vrf.as_ref().and_then(|name| {
                let ip_config = wanted_ip.get(name)?;
                Some(macvrf::Tenant {
                    vrf_id: *vrf_ids.get(name)?,
                    l3vni: ip_config.l3vni,
                    router_mac: ip_config.router_mac,
                    export_route_targets: self.export_targets(
                        &ip_config.export_route_targets,
                        ip_config.auto_route_target,
                        ip_config.l3vni,
                    ),
                })
            });
            let mut vrf = MacVrf::new(
                mac_config.clone(),
                rd,
                self.export_targets(
                    &mac_config.export_route_targets,
                    mac_config.auto_route_target,
                    *vni,
                ),
                self.import_targets(&mac_config.import_route_targets, *vni),
                tenant,
                self.config.vtep,
            );
            vrf.start(&mut self.outputs);
            info!(vni, %rd, "MAC-VRF started");
            self.mac_vrfs.insert(*vni, vrf);
        }

        let mac_vrf_count = wanted.len();
        for (index, (name, ip_config)) in wanted_ip.iter().enumerate() {
            if self.ip_vrfs.contains_key(name) {
                continue;
            }
            let Some(vrf_id) = vrf_ids.get(name).copied() else {
                debug!(vrf = %name, "IP-VRF has no table id yet");
                continue;
            };
            let rd = ip_config
                .rd
                .unwrap_or_else(|| self.auto_rd(mac_vrf_count + index));
            let vrf = IpVrf::new(
                ip_config.clone(),
                vrf_id,
                rd,
                self.export_targets(
                    &ip_config.export_route_targets,
                    ip_config.auto_route_target,
                    ip_config.l3vni,
                ),
                self.import_targets(&ip_config.import_route_targets, ip_config.l3vni),
                self.config.vtep,
            );
            info!(vrf = %name, l3vni = ip_config.l3vni, %rd, "IP-VRF started");
            self.ip_vrfs.insert(name.clone(), vrf);
        }

        // Remote routes may now match a new VRF's route targets, or no longer match.
        let remote: Vec<RemoteRoute> = self.remote.values().cloned().collect();
        for route in remote {
            self.import_remote(now, &route);
        }
        self.refresh_ip_vrfs();
    }

    fn auto_rd(&self, index: usize) -> RouteDistinguisher {
        // RFC 7432 section 7.9: the router id and a number unique to the EVI on this PE.
        RouteDistinguisher::Ipv4 {
            address: self.config.router_id,
            number: u16::try_from(index + 1).unwrap_or(u16::MAX),
        }
    }

    fn export_targets(
        &self,
        configured: &[RouteTarget],
        auto: AutoRouteTarget,
        vni: u32,
    ) -> Vec<RouteTarget> {
        if configured.is_empty() {
            vec![auto.derive(self.config.asn, vni)]
        } else {
            configured.to_vec()
        }
    }

    fn import_targets(&self, configured: &[RouteTarget], vni: u32) -> Vec<RouteTarget> {
        if configured.is_empty() {
            auto_import_targets(self.config.asn, vni)
        } else {
            configured.to_vec()
        }
    }

    /// Withdraws every route and removes every entry, as before the daemon stops for good or
    /// when EVPN is removed from the configuration.
    pub fn shutdown(&mut self) {
        for (_, mut vrf) in std::mem::take(&mut self.mac_vrfs) {
            vrf.shutdown(&mut self.outputs);
        }
        for (_, mut vrf) in std::mem::take(&mut self.ip_vrfs) {
            vrf.shutdown(&mut self.outputs);
        }
        self.config.mac_vrfs.clear();
        self.config.ip_vrfs.clear();
    }

    /// Returns the bridge's VNI, if the bridge belongs to a MAC-VRF.
    pub fn vni_of_bridge(&self, bridge: &str) -> Option<u32> {
        self.mac_vrfs
            .values()
            .find(|vrf| vrf.config().bridge == bridge)
            .map(|vrf| vrf.config().vni)
    }

    /// Handles a MAC learned (`learned`) or aged out on a port of the bridge of `vni`.
    pub fn local_mac(&mut self, now: Instant, vni: u32, mac: MacAddress, learned: bool) {
        let Some(vrf) = self.mac_vrfs.get_mut(&vni) else {
            return;
        };
        vrf.local_mac(
            now,
            mac,
            learned,
            &self.config.duplicate_detection,
            &mut self.counters,
            &mut self.outputs,
        );
        self.refresh_ip_vrfs();
    }

    /// Handles a neighbor (IP to MAC) learned or removed on the bridge of `vni`.
    pub fn local_neighbor(&mut self, vni: u32, ip: IpAddr, mac: Option<MacAddress>, learned: bool) {
        let Some(vrf) = self.mac_vrfs.get_mut(&vni) else {
            return;
        };
        vrf.local_neighbor(ip, mac, learned, &mut self.outputs);
    }

    /// Handles a connected subnet of an IP-VRF that appeared or went away (an address on one of
    /// its bridges).
    pub fn vrf_connected(&mut self, vrf: &str, prefix: IpNet, present: bool) {
        let Some(ip_vrf) = self.ip_vrfs.get_mut(vrf) else {
            return;
        };
        ip_vrf.set_connected(prefix.trunc(), present);
        self.refresh_ip_vrfs();
    }

    /// BGP's best path for a remote EVPN route changed: `best` is the new best path, or `None`
    /// when the route is gone. Routes this VTEP originated are ignored.
    pub fn remote_route(&mut self, now: Instant, key: EvpnRouteKey, best: Option<RemoteRoute>) {
        // A new best path with the same route and attributes, such as the copy of a route
        // through a second route reflector when the first fails, imports as the previous one
        // did. Replacing it would remove and reinstall its entries in the plane.
        if best.is_some() && self.remote.get(&key) == best.as_ref() {
            return;
        }
        // NOTE: a best path whose attributes changed is still unimported before its successor
        // is imported, so a MAC-VRF removes and reinstalls the entries both paths share.
        if let Some(previous) = self.remote.remove(&key) {
            self.unimport_remote(now, &previous);
        }
        if let Some(route) = best {
            if route.attributes.next_hop == IpAddr::V4(self.config.vtep) {
                return;
            }
            self.remote.insert(key, route.clone());
            self.import_remote_at(now, &route);
        }
        self.refresh_ip_vrfs();
    }

    /// Releases MACs whose duplicate-detection freeze has expired.
    pub fn poll(&mut self, now: Instant) {
        for vrf in self.mac_vrfs.values_mut() {
            vrf.poll(now, &mut self.outputs);
        }
    }

    /// Returns and clears the queued outputs.
    pub fn take_outputs(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.outputs)
    }

    /// Returns whether outputs are queued for [`EvpnControl::take_outputs`].
    pub fn has_outputs(&self) -> bool {
        !self.outputs.is_empty()
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Snapshot of every VNI for `show evpn vni`.
    pub fn vnis(&self) -> Vec<VniSnapshot> {
        let mut vnis: Vec<VniSnapshot> = self.mac_vrfs.values().map(MacVrf::snapshot).collect();
        vnis.extend(self.ip_vrfs.values().map(IpVrf::snapshot));
        vnis
    }

    /// Snapshot of the MACs of one VNI, or of all, for `show evpn mac`.
    pub fn macs(&self, vni: Option<u32>) -> Vec<MacSnapshot> {
        self.mac_vrfs
            .values()
            .filter(|vrf| vni.is_none_or(|vni| vrf.config().vni == vni))
            .flat_map(MacVrf::mac_snapshots)
            .collect()
    }

    fn import_remote_at(&mut self, now: Instant, route: &RemoteRoute) {
        if !route.attributes.allows_vxlan() {
            self.counters.unsupported_encapsulation += 1;
            debug!(route = ?route.route, "EVPN route ignored: encapsulation is not VXLAN");
            return;
        }
        let mut matched = false;
        for vrf in self.mac_vrfs.values_mut() {
            if vrf.imports(route) {
                matched = true;
                vrf.remote_route(
                    now,
                    route,
                    true,
                    &self.config.duplicate_detection,
                    &mut self.counters,
                    &mut self.outputs,
                );
            }
        }
        for vrf in self.ip_vrfs.values_mut() {
            if vrf.imports(route) {
                matched = true;
                vrf.remote_route(route, true, &mut self.counters);
            }
        }
        if !matched
            && !matches!(
                route.route,
                EvpnRoute::EthernetAd(_) | EvpnRoute::EthernetSegment(_)
            )
        {
            self.counters.unmatched_route_targets += 1;
            debug!(route = ?route.route, "EVPN route matches no local route target");
        }
    }

    /// Imports a stored remote route into the VRFs created by a configuration change. VRFs
    /// that already hold it are left alone, so each route is counted once per VRF.
    fn import_remote(&mut self, now: Instant, route: &RemoteRoute) {
        for vrf in self.mac_vrfs.values_mut() {
            if vrf.imports(route) && !vrf.holds(route) {
                vrf.remote_route(
                    now,
                    route,
                    true,
                    &self.config.duplicate_detection,
                    &mut self.counters,
                    &mut self.outputs,
                );
            }
        }
        for vrf in self.ip_vrfs.values_mut() {
            if vrf.imports(route) && !vrf.holds(route) {
                vrf.remote_route(route, true, &mut self.counters);
            }
        }
    }

    fn unimport_remote(&mut self, now: Instant, route: &RemoteRoute) {
        for vrf in self.mac_vrfs.values_mut() {
            if vrf.imports(route) {
                vrf.remote_route(
                    now,
                    route,
                    false,
                    &self.config.duplicate_detection,
                    &mut self.counters,
                    &mut self.outputs,
                );
            }
        }
        for vrf in self.ip_vrfs.values_mut() {
            if vrf.imports(route) {
                vrf.remote_route(route, false, &mut self.counters);
            }
        }
    }

    /// Recomputes every IP-VRF's routes, type-5 originations and leaks, and queues the
    /// differences. Leaks read other VRFs' tables, so all are computed before any is applied.
    fn refresh_ip_vrfs(&mut self) {
        let tables: BTreeMap<String, Vec<IpNet>> = self
            .ip_vrfs
            .iter()
            .map(|(name, vrf)| (name.clone(), vrf.bgp_prefixes()))
            .collect();
        for vrf in self.ip_vrfs.values_mut() {
            vrf.refresh(&tables, self.policy.as_ref(), &mut self.outputs);
        }
    }

    /// Returns the local VTEP address.
    pub fn vtep(&self) -> Ipv4Addr {
        self.config.vtep
    }
}
